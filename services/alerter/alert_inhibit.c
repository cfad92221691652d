/* alert_inhibit.c - Alertmanager's inhibition check, by scanning the alert
 * store for sources (rules are few; the scan runs only for targets). */
#include "alert_inhibit.h"

#include <string.h>

typedef struct scan {
    const alert_inhibit_rule *r;
    const alert_alert *target;
    bool target_is_source;
    int64_t now;
    uint64_t by;
    bool found;
} scan;

static bool
equal_labels(const alert_inhibit_rule *r, const alert_alert *a, const alert_alert *b)
{
    for (size_t i = 0; i < r->nequal; i++) {
        const char *x = osp_labels_get(&a->labels, r->equal[i]);
        const char *y = osp_labels_get(&b->labels, r->equal[i]);
        if (strcmp(x ? x : "", y ? y : "") != 0)
            return false;
    }
    return true;
}

static void
visit(void *ctx, alert_alert *s)
{
    scan *sc = ctx;
    if (sc->found || s->fp == sc->target->fp || alert_alert_resolved(s, sc->now))
        return;
    if (!alert_matchers_match(&sc->r->source, &s->labels) || !equal_labels(sc->r, s, sc->target))
        return;
    /* an alert matching both sides cannot be inhibited by one that does too */
    if (sc->target_is_source && alert_matchers_match(&sc->r->target, &s->labels))
        return;
    sc->found = true;
    sc->by = s->fp;
}

bool
alert_inhibited(const alert_am_config *c, const alert_store *st, const alert_alert *a,
                int64_t now_ms, uint64_t *by)
{
    for (size_t i = 0; i < c->ninhibits; i++) {
        const alert_inhibit_rule *r = &c->inhibits[i];
        if (!alert_matchers_match(&r->target, &a->labels))
            continue;
        scan sc = {.r = r,
                   .target = a,
                   .target_is_source = alert_matchers_match(&r->source, &a->labels),
                   .now = now_ms};
        alert_store_each(st, visit, &sc);
        if (sc.found) {
            if (by)
                *by = sc.by;
            return true;
        }
    }
    return false;
}
