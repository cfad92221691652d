/* alert.c - alert objects, fingerprints and the fingerprint-keyed alert store
 * (open addressing, backward-shift deletion). */
#include "alert.h"

#include <stdio.h>
#include <string.h>

#include "osp_mem.h"

alert_alert *
alert_alert_new(void)
{
    alert_alert *a = osp_calloc(1, sizeof(*a));
    osp_labels_init(&a->labels);
    osp_labels_init(&a->annotations);
    a->refs = 1;
    return a;
}

alert_alert *
alert_alert_ref(alert_alert *a)
{
    __atomic_add_fetch(&a->refs, 1, __ATOMIC_RELAXED);
    return a;
}

void
alert_alert_unref(alert_alert *a)
{
    if (a == NULL || __atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    osp_labels_fini(&a->labels);
    osp_labels_fini(&a->annotations);
    osp_free(a->generator_url);
    osp_free(a);
}

uint64_t
alert_fingerprint(const osp_labels *ls)
{
    uint64_t h = 14695981039346656037ULL;
    const uint8_t sep = 0xFF;
    for (size_t i = 0; i < ls->n; i++) {
        const char *parts[2] = {ls->v[i].name, ls->v[i].value};
        for (int k = 0; k < 2; k++) {
            for (const unsigned char *c = (const unsigned char *)parts[k]; *c; c++) {
                h ^= *c;
                h *= 1099511628211ULL;
            }
            h ^= sep;
            h *= 1099511628211ULL;
        }
    }
    return h;
}

void
alert_fp_str(uint64_t fp, char *out)
{
    snprintf(out, 17, "%016llx", (unsigned long long)fp);
}

void
alert_alert_seal(alert_alert *a)
{
    osp_labels_sort(&a->labels);
    osp_labels_sort(&a->annotations);
    a->fp = alert_fingerprint(&a->labels);
}

bool
alert_alert_resolved(const alert_alert *a, int64_t now_ms)
{
    return a->ends_ms != 0 && a->ends_ms <= now_ms;
}

struct alert_store {
    alert_alert **slots;
    size_t cap, n;
};

alert_store *
alert_store_new(void)
{
    alert_store *s = osp_calloc(1, sizeof(*s));
    s->cap = 256;
    s->slots = osp_calloc(s->cap, sizeof(*s->slots));
    return s;
}

void
alert_store_free(alert_store *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++)
        alert_alert_unref(s->slots[i]);
    osp_free(s->slots);
    osp_free(s);
}

static size_t
find_slot(const alert_store *s, uint64_t fp)
{
    size_t i = (size_t)(fp ^ (fp >> 29)) & (s->cap - 1);
    while (s->slots[i] != NULL && s->slots[i]->fp != fp)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static void
grow(alert_store *s)
{
    alert_alert **old = s->slots;
    size_t ocap = s->cap;
    s->cap *= 2;
    s->slots = osp_calloc(s->cap, sizeof(*s->slots));
    for (size_t i = 0; i < ocap; i++)
        if (old[i] != NULL)
            s->slots[find_slot(s, old[i]->fp)] = old[i];
    osp_free(old);
}

alert_alert *
alert_store_get(const alert_store *s, uint64_t fp)
{
    return s->slots[find_slot(s, fp)];
}

size_t
alert_store_count(const alert_store *s)
{
    return s->n;
}

void
alert_store_merge(alert_store *s, alert_alert *in, int64_t now_ms, alert_alert **out)
{
    if ((s->n + 1) * 2 > s->cap)
        grow(s);
    size_t i = find_slot(s, in->fp);
    alert_alert *old = s->slots[i];
    if (old != NULL && !alert_alert_resolved(old, now_ms) && in->starts_ms > old->starts_ms &&
        old->ends_ms != 0 && in->starts_ms > old->ends_ms) {
        old = NULL; /* not overlapping: a new occurrence */
    }
    if (old != NULL && !alert_alert_resolved(old, now_ms)) {
        /* overlapping: keep the earliest start; a non-timeout end wins over a
         * timeout end; the newer update provides the rest (Alertmanager's Merge). */
        if (old->starts_ms < in->starts_ms)
            in->starts_ms = old->starts_ms;
        if (in->timeout && !old->timeout && old->ends_ms > in->ends_ms &&
            old->updated_ms > in->updated_ms) {
            in->ends_ms = old->ends_ms;
            in->timeout = false;
        }
    }
    if (s->slots[i] == NULL)
        s->n++;
    else
        alert_alert_unref(s->slots[i]);
    s->slots[i] = alert_alert_ref(in);
    *out = in;
}

void
alert_store_each(const alert_store *s, void (*fn)(void *ctx, alert_alert *a), void *ctx)
{
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != NULL)
            fn(ctx, s->slots[i]);
}

static void
remove_at(alert_store *s, size_t i)
{
    alert_alert_unref(s->slots[i]);
    s->slots[i] = NULL;
    s->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (s->cap - 1);
        if (s->slots[j] == NULL)
            return;
        size_t home = (size_t)(s->slots[j]->fp ^ (s->slots[j]->fp >> 29)) & (s->cap - 1);
        /* move j back to i when its home is not in (i, j] cyclically */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            s->slots[i] = s->slots[j];
            s->slots[j] = NULL;
            i = j;
        }
    }
}

size_t
alert_store_gc(alert_store *s, int64_t now_ms, int64_t retention_ms)
{
    size_t removed = 0;
    for (size_t i = 0; i < s->cap;) {
        alert_alert *a = s->slots[i];
        if (a != NULL && a->ends_ms != 0 && a->ends_ms + retention_ms <= now_ms) {
            remove_at(s, i);
            removed++;
            continue; /* slot i may hold a moved entry now */
        }
        i++;
    }
    return removed;
}
