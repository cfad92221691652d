/* alert_dispatch.c - aggregation groups and their timers. A group's alerts
 * are references to immutable alert versions; a flush snapshots them into
 * notification jobs, and when every job of the flush succeeded the resolved
 * alerts that were not updated meanwhile leave the group (Alertmanager's
 * DeleteIfNotModified). */
#include "alert_dispatch.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "alert_inhibit.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define NBUCKETS 4096
#define MAX_ROUTES 64

typedef struct agroup {
    alert_dispatch *d;
    const alert_route *route;
    osp_labels labels;
    char *key;
    uint64_t hash;
    alert_alert **alerts;
    size_t n, cap;
    struct event *timer;
    bool flushed;
    int in_flight; /* jobs not yet completed */
    bool flush_ok;
    alert_alert **sent; /* resolved alerts of the flush in flight (references) */
    size_t nsent;
    struct agroup *next;
} agroup;

struct alert_dispatch {
    struct event_base *base;
    alert_am_config *cfg;
    alert_store *store;
    alert_silences *sil;
    alert_notifier *notifier;
    agroup *buckets[NBUCKETS];
    size_t ngroups;
    uint64_t gen; /* bumps on set_config: completions of older groups are ignored */
};

static void group_free(agroup *g);

alert_dispatch *
alert_dispatch_new(struct event_base *base, alert_am_config *cfg, alert_store *store,
                   alert_silences *silences, alert_notifier *notifier)
{
    alert_dispatch *d = osp_calloc(1, sizeof(*d));
    d->base = base;
    d->cfg = alert_am_config_ref(cfg);
    d->store = store;
    d->sil = silences;
    d->notifier = notifier;
    return d;
}

static void
drop_groups(alert_dispatch *d)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        for (agroup *g = d->buckets[b], *nx; g; g = nx) {
            nx = g->next;
            group_free(g);
        }
        d->buckets[b] = NULL;
    }
    d->ngroups = 0;
}

void
alert_dispatch_free(alert_dispatch *d)
{
    if (d == NULL)
        return;
    drop_groups(d);
    alert_am_config_unref(d->cfg);
    osp_free(d);
}

size_t
alert_dispatch_groups(const alert_dispatch *d)
{
    return d->ngroups;
}

static void
group_free(agroup *g)
{
    if (g->timer)
        event_free(g->timer);
    for (size_t i = 0; i < g->n; i++)
        alert_alert_unref(g->alerts[i]);
    for (size_t i = 0; i < g->nsent; i++)
        alert_alert_unref(g->sent[i]);
    osp_free(g->sent);
    osp_free(g->alerts);
    osp_labels_fini(&g->labels);
    osp_free(g->key);
    /* a job in flight keeps a pointer to g in its done_ctx: mark it orphaned */
    if (g->in_flight) {
        g->d = NULL;
        g->timer = NULL;
        g->alerts = NULL;
        g->sent = NULL;
        g->key = NULL;
        g->n = g->nsent = 0;
        return; /* freed by the last completion */
    }
    osp_free(g);
}

static void
unlink_group(alert_dispatch *d, agroup *g)
{
    agroup **pp = &d->buckets[g->hash & (NBUCKETS - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp)
        *pp = g->next;
    d->ngroups--;
}

static int
cmp_alert(const void *a, const void *b)
{
    const alert_alert *x = *(alert_alert *const *)a, *y = *(alert_alert *const *)b;
    return osp_labels_cmp(&x->labels, &y->labels);
}

bool
alert_dispatch_muted(const alert_dispatch *d, const alert_alert *a, int64_t now_ms,
                     const char **ids, size_t max, size_t *nsil, uint64_t *inhibited_by)
{
    uint64_t by = 0;
    bool inh = alert_inhibited(d->cfg, d->store, a, now_ms, &by);
    size_t ns = alert_silences_muting(d->sil, &a->labels, now_ms, ids, max);
    if (nsil)
        *nsil = ns;
    if (inhibited_by)
        *inhibited_by = inh ? by : 0;
    return inh || ns > 0;
}

static void on_job_done(void *ctx, alert_notify_job *job, bool ok);

static void
arm(agroup *g, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    event_add(g->timer, &tv);
}

static void
submit_jobs(agroup *g, alert_alert **v, size_t n, int64_t now)
{
    alert_dispatch *d = g->d;
    const alert_receiver *r = &d->cfg->receivers[g->route->receiver_idx];
    size_t total = r->nwebhooks + r->nslacks + r->nemails;
    if (total == 0)
        return;
    for (size_t k = 0; k < total; k++) {
        alert_notify_job *j = osp_calloc(1, sizeof(*j));
        j->cfg = alert_am_config_ref(d->cfg);
        j->rcv = r;
        if (k < r->nwebhooks) {
            j->kind = ALERT_INT_WEBHOOK;
            j->idx = k;
        } else if (k < r->nwebhooks + r->nslacks) {
            j->kind = ALERT_INT_SLACK;
            j->idx = k - r->nwebhooks;
        } else {
            j->kind = ALERT_INT_EMAIL;
            j->idx = k - r->nwebhooks - r->nslacks;
        }
        j->group_key = osp_strdup(g->key);
        osp_labels_init(&j->group_labels);
        osp_labels_copy(&j->group_labels, &g->labels);
        j->alerts = osp_calloc(n, sizeof(*j->alerts));
        for (size_t i = 0; i < n; i++)
            j->alerts[i] = alert_alert_ref(v[i]);
        j->nalerts = n;
        j->now_ms = now;
        j->repeat_ms = g->route->repeat_interval_ms;
        j->deadline_ms = now + g->route->group_interval_ms;
        j->done = on_job_done;
        j->done_ctx = g;
        g->in_flight++;
        alert_notifier_submit(d->notifier, j);
    }
}

static void
flush(agroup *g)
{
    alert_dispatch *d = g->d;
    int64_t now = osp_now_ms();
    g->flushed = true;
    arm(g, g->route->group_interval_ms);
    if (g->in_flight)
        return; /* the previous flush is still retrying */
    alert_alert **v = osp_calloc(g->n ? g->n : 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!alert_dispatch_muted(d, g->alerts[i], now, NULL, 0, NULL, NULL))
            v[n++] = g->alerts[i];
    osp_qsort(v, n, sizeof(*v), cmp_alert);
    g->flush_ok = true;
    for (size_t i = 0; i < g->nsent; i++)
        alert_alert_unref(g->sent[i]);
    g->nsent = 0;
    osp_free(g->sent);
    g->sent = osp_calloc(g->n ? g->n : 1, sizeof(*g->sent));
    for (size_t i = 0; i < g->n; i++)
        if (alert_alert_resolved(g->alerts[i], now))
            g->sent[g->nsent++] = alert_alert_ref(g->alerts[i]);
    if (n > 0)
        submit_jobs(g, v, n, now);
    osp_free(v);
    if (g->in_flight == 0)
        on_job_done(g, NULL, true);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
}

/* Completion of one job (or of a flush without jobs when job is NULL). */
static void
on_job_done(void *ctx, alert_notify_job *job, bool ok)
{
    agroup *g = ctx;
    if (job != NULL)
        g->in_flight--;
    if (!ok)
        g->flush_ok = false;
    if (g->d == NULL) { /* the group was dropped meanwhile */
        if (g->in_flight == 0)
            osp_free(g);
        return;
    }
    if (g->in_flight > 0 || !g->flush_ok)
        return;
    /* remove resolved alerts that were sent and not modified since */
    for (size_t k = 0; k < g->nsent; k++) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->alerts[i] == g->sent[k]) {
                alert_alert_unref(g->alerts[i]);
                g->alerts[i] = g->alerts[--g->n];
                break;
            }
        }
        alert_alert_unref(g->sent[k]);
    }
    g->nsent = 0;
    if (g->n == 0) {
        unlink_group(g->d, g);
        group_free(g);
    }
}

static agroup *
get_group(alert_dispatch *d, const alert_route *r, const osp_labels *gl, bool *created)
{
    uint64_t h = osp_labels_hash(gl) * 31 + r->id;
    agroup **pp = &d->buckets[h & (NBUCKETS - 1)];
    for (agroup *g = *pp; g; g = g->next)
        if (g->hash == h && g->route == r && osp_labels_equal(&g->labels, gl))
            return g;
    agroup *g = osp_calloc(1, sizeof(*g));
    g->d = d;
    g->route = r;
    g->hash = h;
    osp_labels_init(&g->labels);
    osp_labels_copy(&g->labels, gl);
    osp_buf k;
    osp_buf_init(&k);
    osp_buf_puts(&k, r->key);
    osp_buf_putc(&k, ':');
    alert_labels_go(gl, &k);
    g->key = osp_buf_steal(&k, NULL);
    g->timer = event_new(d->base, -1, 0, on_timer, g);
    g->next = *pp;
    *pp = g;
    d->ngroups++;
    *created = true;
    return g;
}

static void
group_put(agroup *g, alert_alert *a)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->alerts[i]->fp == a->fp) {
            alert_alert_unref(g->alerts[i]);
            g->alerts[i] = alert_alert_ref(a);
            return;
        }
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4;
        g->alerts = osp_reallocarray(g->alerts, g->cap, sizeof(*g->alerts));
    }
    g->alerts[g->n++] = alert_alert_ref(a);
}

void
alert_dispatch_put(alert_dispatch *d, alert_alert *a)
{
    const alert_route *rs[MAX_ROUTES];
    size_t nr = alert_route_match(&d->cfg->root, &a->labels, rs, MAX_ROUTES);
    osp_labels gl;
    osp_labels_init(&gl);
    int64_t now = osp_now_ms();
    for (size_t i = 0; i < nr; i++) {
        alert_route_group_labels(rs[i], &a->labels, &gl);
        bool created = false;
        agroup *g = get_group(d, rs[i], &gl, &created);
        group_put(g, a);
        if (created) {
            /* an alert older than group_wait is flushed at once (Alertmanager) */
            int64_t wait = rs[i]->group_wait_ms;
            if (a->starts_ms + wait < now)
                wait = 0;
            arm(g, wait);
        }
    }
    osp_labels_fini(&gl);
}

typedef struct rebuild {
    alert_dispatch *d;
    int64_t now;
} rebuild;

static void
reput(void *ctx, alert_alert *a)
{
    rebuild *rb = ctx;
    if (!alert_alert_resolved(a, rb->now))
        alert_dispatch_put(rb->d, a);
}

void
alert_dispatch_set_config(alert_dispatch *d, alert_am_config *cfg)
{
    drop_groups(d);
    alert_am_config_unref(d->cfg);
    d->cfg = alert_am_config_ref(cfg);
    rebuild rb = {d, osp_now_ms()};
    alert_store_each(d->store, reput, &rb);
}

size_t
alert_dispatch_receivers(const alert_dispatch *d, const osp_labels *ls, const char **out,
                         size_t max)
{
    const alert_route *rs[MAX_ROUTES];
    size_t nr = alert_route_match(&d->cfg->root, ls, rs, MAX_ROUTES);
    size_t n = 0;
    for (size_t i = 0; i < nr && n < max; i++) {
        const char *name = d->cfg->receivers[rs[i]->receiver_idx].name;
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup |= strcmp(out[k], name) == 0;
        if (!dup)
            out[n++] = name;
    }
    return n;
}
