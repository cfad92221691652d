/* store_head.c - the series catalog (id hash -> ref), per-series head data
 * (open chunk appender, out-of-order buffer, closed chunks) with the append
 * rules (in-order append, out-of-order insert, dup/conflict detection),
 * chunk cutting for the persister, eviction and metadata; the read side is
 * store_select.c. */
#include "store_head_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"

store_head *
store_head_new(void)
{
    store_head *h = osp_calloc(1, sizeof(*h));
    pthread_rwlock_init(&h->lock, NULL);
    pthread_mutex_init(&h->rank_mu, NULL);
    h->ix = store_index_new();
    h->mem_cut = INT64_MIN;
    h->span_ms = STORE_PARTITION_MS;
    return h;
}

void
store_head_set_chunk_span(store_head *h, int64_t span_ms)
{
    if (span_ms > 0 && STORE_PARTITION_MS % span_ms == 0)
        h->span_ms = span_ms;
}

static size_t
hdata_bytes(const store_hdata *hd)
{
    size_t b = osp_chunk_app_mem(&hd->app) + (size_t)hd->ooo_cap * 16;
    for (uint32_t i = 0; i < hd->nch; i++)
        b += hd->ch[i].len;
    return b;
}

static size_t
hdata_samples(const store_hdata *hd)
{
    size_t n = osp_chunk_app_count(&hd->app) + hd->ooo_n;
    for (uint32_t i = 0; i < hd->nch; i++)
        n += hd->ch[i].n;
    return n;
}

static void
hdata_free(store_head *h, store_series *s)
{
    store_hdata *hd = s->hd;
    if (hd == NULL)
        return;
    h->bytes -= hdata_bytes(hd);
    h->nsamples -= hdata_samples(hd);
    h->nchunks -= hd->nch;
    h->nactive--;
    for (uint32_t i = 0; i < hd->nch; i++)
        osp_free(hd->ch[i].data);
    osp_free(hd->ch);
    osp_free(hd->ooo_t);
    osp_free(hd->ooo_v);
    osp_chunk_app_fini(&hd->app);
    osp_free(hd);
    s->hd = NULL;
}

static store_hdata *
hdata_get(store_head *h, store_series *s)
{
    if (s->hd == NULL) {
        s->hd = osp_calloc(1, sizeof(*s->hd));
        s->hd->min_max_t = INT64_MAX;
        osp_chunk_app_init(&s->hd->app);
        h->nactive++;
        h->bytes += osp_chunk_app_mem(&s->hd->app);
    }
    return s->hd;
}

static void
free_all(store_head *h)
{
    for (size_t i = 0; i < h->n; i++) {
        hdata_free(h, h->v[i]);
        osp_labels_fini(&h->v[i]->labels);
        osp_free(h->v[i]);
    }
    osp_free(h->v);
    osp_free(h->slots);
    h->v = NULL;
    h->slots = NULL;
    h->n = h->cap = h->nslots = 0;
    for (size_t i = 0; i < h->nmeta; i++) {
        osp_free(h->meta[i].metric);
        osp_free(h->meta[i].type);
        osp_free(h->meta[i].help);
        osp_free(h->meta[i].unit);
    }
    osp_free(h->meta);
    h->meta = NULL;
    h->nmeta = h->capmeta = 0;
}

void
store_head_free(store_head *h)
{
    if (h == NULL)
        return;
    free_all(h);
    store_index_free(h->ix);
    osp_free(h->rank);
    pthread_mutex_destroy(&h->rank_mu);
    pthread_rwlock_destroy(&h->lock);
    osp_free(h);
}

void
store_head_clear(store_head *h)
{
    free_all(h);
    store_index_clear(h->ix);
    h->nranked = 0;
    h->nactive = h->nsamples = h->nchunks = h->bytes = 0;
    h->mem_cut = INT64_MIN;
    if (h->qc != NULL)
        store_qcache_clear(h->qc);
}

void
store_head_set_qcache(store_head *h, store_qcache *qc)
{
    h->qc = qc;
}

store_qcache *
store_head_qcache(const store_head *h)
{
    return h->qc;
}

void
store_head_rdlock(store_head *h)
{
    pthread_rwlock_rdlock(&h->lock);
}

void
store_head_wrlock(store_head *h)
{
    pthread_rwlock_wrlock(&h->lock);
}

void
store_head_unlock(store_head *h)
{
    pthread_rwlock_unlock(&h->lock);
}

int64_t
store_head_id(const osp_labels *sorted)
{
    return (int64_t)osp_labels_hash(sorted);
}

static size_t
slot_of(uint64_t id, size_t nslots)
{
    /* ids are hashes already; mix once more so low bits are spread */
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (nslots - 1);
}

static void
slots_insert(uint32_t *slots, size_t nslots, uint64_t id, uint32_t ref)
{
    size_t i = slot_of(id, nslots);
    while (slots[i] != 0)
        i = (i + 1) & (nslots - 1);
    slots[i] = ref + 1;
}

static void
slots_rebuild(store_head *h, size_t nslots)
{
    osp_free(h->slots);
    h->slots = osp_calloc(nslots, sizeof(*h->slots));
    h->nslots = nslots;
    for (size_t r = 0; r < h->n; r++)
        slots_insert(h->slots, nslots, h->v[r]->id, (uint32_t)r);
}

int
store_head_find_id(const store_head *h, uint64_t id, uint32_t *ref)
{
    if (h->nslots == 0)
        return OSP_ENOTFOUND;
    for (size_t i = slot_of(id, h->nslots);; i = (i + 1) & (h->nslots - 1)) {
        uint32_t s = h->slots[i];
        if (s == 0)
            return OSP_ENOTFOUND;
        if (h->v[s - 1]->id == id) {
            *ref = s - 1;
            return 0;
        }
    }
}

int
store_head_find(const store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref)
{
    uint32_t r;
    int rc = store_head_find_id(h, id, &r);
    if (rc != 0)
        return rc;
    if (!osp_labels_equal(&h->v[r]->labels, sorted))
        return OSP_EEXIST;
    *ref = r;
    return 0;
}

int
store_head_get_or_create(store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref,
                         bool *created)
{
    int rc = store_head_find(h, id, sorted, ref);
    if (created != NULL)
        *created = false;
    if (rc != OSP_ENOTFOUND)
        return rc;
    if ((h->n + 1) * 2 > h->nslots)
        slots_rebuild(h, h->nslots ? h->nslots * 2 : 1024);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->v = osp_reallocarray(h->v, h->cap, sizeof(*h->v));
    }
    store_series *s = osp_calloc(1, sizeof(*s));
    s->id = id;
    s->min_t = INT64_MAX;
    s->max_t = INT64_MIN;
    s->last_t = INT64_MIN;
    osp_labels_init(&s->labels);
    osp_labels_copy_packed(&s->labels, sorted);
    uint32_t r = (uint32_t)h->n;
    h->v[h->n++] = s;
    slots_insert(h->slots, h->nslots, id, r);
    store_index_add(h->ix, r, &s->labels);
    *ref = r;
    if (created != NULL)
        *created = true;
    return 0;
}

int64_t
store_partition_day(int64_t t)
{
    return store_floor_div(t, STORE_PARTITION_MS);
}

/* add_chunk: a closed chunk (data adopted) into hd->ch, kept sorted by min_t. */
static void
add_chunk(store_head *h, store_hdata *hd, store_chunk c)
{
    if (hd->nch == hd->capch) {
        /* from one: with a short head window most series hold one or two */
        hd->capch = hd->capch ? hd->capch * 2 : 1;
        hd->ch = osp_reallocarray(hd->ch, hd->capch, sizeof(*hd->ch));
    }
    uint32_t i = hd->nch;
    while (i > 0 && hd->ch[i - 1].min_t > c.min_t) {
        hd->ch[i] = hd->ch[i - 1];
        i--;
    }
    hd->ch[i] = c;
    hd->nch++;
    if (c.max_t < hd->min_max_t)
        hd->min_max_t = c.max_t;
    hd->nunpersisted += !c.persisted;
    h->nchunks++;
    h->bytes += c.len;
}

static void
close_app(store_head *h, store_hdata *hd)
{
    size_t n = osp_chunk_app_count(&hd->app), len;
    if (n == 0)
        return;
    store_chunk c = {.min_t = osp_chunk_app_min_t(&hd->app),
                     .max_t = osp_chunk_app_max_t(&hd->app),
                     .since_ms = hd->app_since,
                     .n = (uint32_t)n};
    size_t before = osp_chunk_app_mem(&hd->app);
    c.data = osp_chunk_app_take(&hd->app, &len);
    c.len = (uint32_t)len;
    h->bytes -= before - osp_chunk_app_mem(&hd->app);
    add_chunk(h, hd, c);
}

/* close_ooo: the out-of-order buffer as chunks, one per partition it spans. */
static void
close_ooo(store_head *h, store_hdata *hd)
{
    uint32_t i = 0;
    while (i < hd->ooo_n) {
        uint32_t j = i + 1;
        int64_t p = store_partition_day(hd->ooo_t[i]);
        while (j < hd->ooo_n && store_partition_day(hd->ooo_t[j]) == p)
            j++;
        store_chunk c = {.min_t = hd->ooo_t[i],
                         .max_t = hd->ooo_t[j - 1],
                         .since_ms = hd->ooo_since,
                         .n = j - i};
        size_t len = 0;
        if (osp_chunk_encode(hd->ooo_t + i, hd->ooo_v + i, j - i, &c.data, &len) == 0) {
            c.len = (uint32_t)len;
            add_chunk(h, hd, c);
        }
        i = j;
    }
    hd->ooo_n = 0;
}

/* chunk_find: whether a chunk holds t; *v gets its value. */
static bool
chunk_find(const uint8_t *data, size_t len, int64_t t, double *v)
{
    osp_anychunk_it it;
    osp_anychunk_it_init(&it, data, len);
    int64_t ct;
    double cv;
    while (osp_anychunk_it_next(&it, &ct, &cv) == 1) {
        if (ct == t) {
            *v = cv;
            return true;
        }
        if (ct > t)
            break;
    }
    return false;
}

/* held: whether series data in memory holds timestamp t; *v gets the value. */
static bool
held(const store_hdata *hd, int64_t t, double *v)
{
    size_t k = store_lower_bound(hd->ooo_t, hd->ooo_n, t);
    if (k < hd->ooo_n && hd->ooo_t[k] == t) {
        *v = hd->ooo_v[k];
        return true;
    }
    size_t len;
    if (osp_chunk_app_count(&hd->app) > 0 && t >= osp_chunk_app_min_t(&hd->app) &&
        t <= osp_chunk_app_max_t(&hd->app)) {
        const uint8_t *b = osp_chunk_app_bytes(&hd->app, &len);
        if (chunk_find(b, len, t, v))
            return true;
    }
    for (uint32_t i = 0; i < hd->nch && hd->ch[i].min_t <= t; i++)
        if (t <= hd->ch[i].max_t && chunk_find(hd->ch[i].data, hd->ch[i].len, t, v))
            return true;
    return false;
}

static void
ooo_insert(store_head *h, store_hdata *hd, int64_t t, double v, int64_t arrival_ms)
{
    if (hd->ooo_n == hd->ooo_cap) {
        h->bytes -= (size_t)hd->ooo_cap * 16;
        hd->ooo_cap = hd->ooo_cap ? hd->ooo_cap * 2 : 8;
        hd->ooo_t = osp_reallocarray(hd->ooo_t, hd->ooo_cap, sizeof(*hd->ooo_t));
        hd->ooo_v = osp_reallocarray(hd->ooo_v, hd->ooo_cap, sizeof(*hd->ooo_v));
        h->bytes += (size_t)hd->ooo_cap * 16;
    }
    size_t k = store_lower_bound(hd->ooo_t, hd->ooo_n, t);
    memmove(hd->ooo_t + k + 1, hd->ooo_t + k, (hd->ooo_n - k) * sizeof(*hd->ooo_t));
    memmove(hd->ooo_v + k + 1, hd->ooo_v + k, (hd->ooo_n - k) * sizeof(*hd->ooo_v));
    hd->ooo_t[k] = t;
    hd->ooo_v[k] = v;
    if (hd->ooo_n++ == 0)
        hd->ooo_since = arrival_ms;
    if (hd->ooo_n >= STORE_CHUNK_SAMPLES)
        close_ooo(h, hd);
}

void
store_head_prefetch(const store_head *h, uint32_t ref, int stage)
{
    if (ref >= h->n)
        return;
    const store_series *s = h->v[ref];
    if (stage == 0) {
        __builtin_prefetch(s, 1);
        return;
    }
    const store_hdata *hd = s->hd;
    if (hd == NULL)
        return;
    if (stage == 1) {
        __builtin_prefetch(hd, 1);
        __builtin_prefetch((const char *)hd + 64, 1);
        return;
    }
    if (hd->app.buf != NULL)
        __builtin_prefetch(hd->app.buf + (hd->app.nbits >> 3), 1);
}

store_append_res
store_head_append(store_head *h, uint32_t ref, int64_t t, double v, int64_t arrival_ms)
{
    store_series *s = h->v[ref];
    store_hdata *hd = hdata_get(h, s);
    if (t > s->last_t) {
        size_t n = osp_chunk_app_count(&hd->app);
        /* t is after the open chunk's samples: it crosses a span boundary when it
         * reaches the start of the span after the chunk's first one */
        if (n >= STORE_CHUNK_SAMPLES ||
            (n > 0 &&
             t >= (store_floor_div(osp_chunk_app_min_t(&hd->app), h->span_ms) + 1) * h->span_ms)) {
            close_app(h, hd);
            n = 0;
        }
        if (n == 0)
            hd->app_since = arrival_ms;
        size_t before = osp_chunk_app_mem(&hd->app);
        if (osp_chunk_app_add(&hd->app, t, v) != 0)
            return STORE_APPEND_CONFLICT; /* cannot happen: t is after the chunk's last */
        h->bytes += osp_chunk_app_mem(&hd->app) - before;
        s->last_t = t;
    } else {
        double old;
        if (held(hd, t, &old))
            return memcmp(&old, &v, sizeof(v)) == 0 ? STORE_APPEND_DUP : STORE_APPEND_CONFLICT;
        ooo_insert(h, hd, t, v, arrival_ms);
    }
    if (t < s->min_t)
        s->min_t = t;
    if (t > s->max_t)
        s->max_t = t;
    h->nsamples++;
    h->appended++;
    return STORE_APPEND_OK;
}

/* cut_one: close hd's open chunk and out-of-order buffer when their earliest
 * sample arrived before arrived_before; the chunks closed. */
static size_t
cut_one(store_head *h, store_hdata *hd, int64_t arrived_before)
{
    size_t before = hd->nch;
    if (osp_chunk_app_count(&hd->app) > 0 && hd->app_since < arrived_before)
        close_app(h, hd);
    if (hd->ooo_n > 0 && hd->ooo_since < arrived_before)
        close_ooo(h, hd);
    return hd->nch - before;
}

size_t
store_head_cut(store_head *h, int64_t arrived_before)
{
    size_t closed = 0;
    for (size_t r = 0; r < h->n; r++)
        if (h->v[r]->hd != NULL)
            closed += cut_one(h, h->v[r]->hd, arrived_before);
    return closed;
}

static store_chunk_ref
chunk_ref(const store_series *s, uint32_t ref, const store_chunk *c)
{
    return (store_chunk_ref){.series_id = (int64_t)s->id,
                             .ref = ref,
                             .min_t = c->min_t,
                             .max_t = c->max_t,
                             .data = c->data,
                             .len = c->len,
                             .n = c->n};
}

size_t
store_head_unpersisted(const store_head *h, store_chunk_ref *out, size_t max)
{
    size_t k = 0;
    for (size_t r = 0; r < h->n && k < max; r++) {
        const store_series *s = h->v[r];
        if (s->hd == NULL)
            continue;
        for (uint32_t i = 0; i < s->hd->nch && k < max; i++)
            if (!s->hd->ch[i].persisted)
                out[k++] = chunk_ref(s, (uint32_t)r, &s->hd->ch[i]);
    }
    return k;
}

void
store_head_mark_persisted(store_head *h, const store_chunk_ref *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        store_hdata *hd = h->v[c[i].ref]->hd;
        for (uint32_t j = 0; hd != NULL && j < hd->nch; j++)
            if (hd->ch[j].data == c[i].data && !hd->ch[j].persisted) {
                hd->ch[j].persisted = true;
                hd->nunpersisted--;
            }
        if (h->qc != NULL)
            store_qcache_persisted(h->qc, c[i].series_id, c[i].min_t, c[i].max_t);
    }
}

/* open_since: the earliest arrival of a sample of hd not in a closed chunk. */
static int64_t
open_since(const store_hdata *hd, int64_t w)
{
    if (osp_chunk_app_count(&hd->app) > 0 && hd->app_since < w)
        w = hd->app_since;
    if (hd->ooo_n > 0 && hd->ooo_since < w)
        w = hd->ooo_since;
    return w;
}

int64_t
store_head_watermark(const store_head *h)
{
    int64_t w = INT64_MAX;
    for (size_t r = 0; r < h->n; r++) {
        const store_hdata *hd = h->v[r]->hd;
        if (hd == NULL)
            continue;
        w = open_since(hd, w);
        for (uint32_t i = 0; i < hd->nch; i++)
            if (!hd->ch[i].persisted && hd->ch[i].since_ms < w)
                w = hd->ch[i].since_ms;
    }
    return w;
}

/* evict_one: store_head_evict for one series; the chunks freed. */
static size_t
evict_one(store_head *h, store_series *s, int64_t mem_cut, int64_t drop_before)
{
    store_hdata *hd = s->hd;
    size_t freed = 0;
    uint32_t k = 0;
    hd->min_max_t = INT64_MAX;
    for (uint32_t i = 0; i < hd->nch; i++) {
        store_chunk *c = &hd->ch[i];
        if ((c->persisted && c->max_t < mem_cut) || c->max_t < drop_before) {
            h->bytes -= c->len;
            h->nsamples -= c->n;
            h->nchunks--;
            hd->nunpersisted -= !c->persisted;
            osp_free(c->data);
            freed++;
        } else {
            if (c->max_t < hd->min_max_t)
                hd->min_max_t = c->max_t;
            hd->ch[k++] = *c;
        }
    }
    hd->nch = k;
    if (k == 0 && hd->capch > 0) {
        /* the array of an empty series goes too (48 bytes a chunk of capacity) */
        osp_free(hd->ch);
        hd->ch = NULL;
        hd->capch = 0;
    }
    if (hd->ooo_n > 0 && hd->ooo_t[0] < drop_before) {
        size_t d = store_lower_bound(hd->ooo_t, hd->ooo_n, drop_before);
        memmove(hd->ooo_t, hd->ooo_t + d, (hd->ooo_n - d) * sizeof(*hd->ooo_t));
        memmove(hd->ooo_v, hd->ooo_v + d, (hd->ooo_n - d) * sizeof(*hd->ooo_v));
        hd->ooo_n -= (uint32_t)d;
        h->nsamples -= d;
    }
    size_t na = osp_chunk_app_count(&hd->app);
    if (na > 0 && osp_chunk_app_max_t(&hd->app) < drop_before) {
        osp_chunk_app_reset(&hd->app);
        h->nsamples -= na;
    }
    if (hd->nch == 0 && hd->ooo_n == 0 && osp_chunk_app_count(&hd->app) == 0)
        hdata_free(h, s);
    return freed;
}

size_t
store_head_evict(store_head *h, int64_t mem_cut, int64_t drop_before)
{
    size_t freed = 0;
    for (size_t r = 0; r < h->n; r++)
        if (h->v[r]->hd != NULL)
            freed += evict_one(h, h->v[r], mem_cut, drop_before);
    if (mem_cut > h->mem_cut)
        h->mem_cut = mem_cut;
    return freed;
}

/* evict_due: whether evict_one may have work for hd (cheap: no chunk touched). */
static bool
evict_due(const store_hdata *hd, const store_tick *tk)
{
    int64_t drop = tk->drop_before;
    return hd->min_max_t < tk->mem_cut || hd->min_max_t < drop ||
           (hd->ooo_n > 0 && hd->ooo_t[0] < drop) ||
           (osp_chunk_app_count(&hd->app) > 0 && osp_chunk_app_max_t(&hd->app) < drop);
}

/* series between the two prefetch stages of the per-second pass */
#define TICK_AHEAD 8

size_t
store_head_tick(store_head *h, const store_tick *tk, store_chunk_ref **out, size_t *cap,
                int64_t *watermark)
{
    size_t k = 0;
    int64_t w = INT64_MAX;
    for (size_t r = 0; r < h->n; r++) {
        /* every series is a cache miss or two: load them ahead, as the apply
         * loop does (the series TICK_AHEAD * 2 ahead, its head data nearer) */
        if (r + 2 * TICK_AHEAD < h->n)
            store_head_prefetch(h, (uint32_t)(r + 2 * TICK_AHEAD), 0);
        if (r + TICK_AHEAD < h->n)
            store_head_prefetch(h, (uint32_t)(r + TICK_AHEAD), 1);
        store_series *s = h->v[r];
        if (s->hd == NULL)
            continue;
        if (evict_due(s->hd, tk)) {
            evict_one(h, s, tk->mem_cut, tk->drop_before);
            if (s->hd == NULL)
                continue;
        }
        cut_one(h, s->hd, tk->arrived_before);
        w = open_since(s->hd, w);
        for (uint32_t i = 0; i < s->hd->nch && s->hd->nunpersisted > 0; i++) {
            if (s->hd->ch[i].persisted)
                continue;
            if (k == *cap) {
                *cap = *cap ? *cap * 2 : 1024;
                *out = osp_reallocarray(*out, *cap, sizeof(**out));
            }
            (*out)[k++] = chunk_ref(s, (uint32_t)r, &s->hd->ch[i]);
        }
    }
    if (tk->mem_cut > h->mem_cut)
        h->mem_cut = tk->mem_cut;
    *watermark = w;
    return k;
}

void
store_head_set_mem_cut(store_head *h, int64_t mem_cut)
{
    h->mem_cut = mem_cut;
}

int64_t
store_head_mem_cut(const store_head *h)
{
    return h->mem_cut;
}

void
store_head_load_chunk(store_head *h, uint32_t ref, int64_t min_t, int64_t max_t,
                      const uint8_t *data, size_t len)
{
    store_series *s = h->v[ref];
    size_t n = 0;
    if (osp_anychunk_count(data, len, &n) != 0 || n == 0)
        return;
    store_hdata *hd = hdata_get(h, s);
    store_chunk c = {.min_t = min_t,
                     .max_t = max_t,
                     .data = osp_malloc(len),
                     .len = (uint32_t)len,
                     .n = (uint32_t)n,
                     .persisted = true};
    memcpy(c.data, data, len);
    add_chunk(h, hd, c);
    h->nsamples += n;
    if (max_t > s->last_t)
        s->last_t = max_t;
    store_head_note_range(h, ref, min_t, max_t);
}

void
store_head_note_range(store_head *h, uint32_t ref, int64_t min_t, int64_t max_t)
{
    store_series *s = h->v[ref];
    if (min_t < s->min_t)
        s->min_t = min_t;
    if (max_t > s->max_t)
        s->max_t = max_t;
}

size_t
store_head_nseries(const store_head *h)
{
    return __atomic_load_n(&h->n, __ATOMIC_RELAXED);
}

size_t
store_head_nactive(const store_head *h)
{
    return __atomic_load_n(&h->nactive, __ATOMIC_RELAXED);
}

size_t
store_head_nsamples(const store_head *h)
{
    return __atomic_load_n(&h->nsamples, __ATOMIC_RELAXED);
}

size_t
store_head_nchunks(const store_head *h)
{
    return __atomic_load_n(&h->nchunks, __ATOMIC_RELAXED);
}

size_t
store_head_bytes(const store_head *h)
{
    return __atomic_load_n(&h->bytes, __ATOMIC_RELAXED);
}

uint64_t
store_head_appended(const store_head *h)
{
    return __atomic_load_n(&h->appended, __ATOMIC_RELAXED);
}

const store_series *
store_head_series(const store_head *h, uint32_t ref)
{
    return h->v[ref];
}

const store_index *
store_head_index(const store_head *h)
{
    return h->ix;
}

/* ---- metadata ---- */

static size_t
meta_lower(const store_head *h, const char *metric)
{
    size_t lo = 0, hi = h->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(h->meta[mid].metric, metric) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const store_meta *
store_head_meta_find(const store_head *h, const char *metric)
{
    size_t i = meta_lower(h, metric);
    return i < h->nmeta && strcmp(h->meta[i].metric, metric) == 0 ? &h->meta[i] : NULL;
}

static bool
set_str(char **dst, const char *src)
{
    src = src ? src : "";
    if (*dst != NULL && strcmp(*dst, src) == 0)
        return false;
    osp_free(*dst);
    *dst = osp_strdup(src);
    return true;
}

bool
store_head_meta_set(store_head *h, const char *metric, const char *type, const char *help,
                    const char *unit)
{
    size_t i = meta_lower(h, metric);
    if (i == h->nmeta || strcmp(h->meta[i].metric, metric) != 0) {
        if (h->nmeta == h->capmeta) {
            h->capmeta = h->capmeta ? h->capmeta * 2 : 64;
            h->meta = osp_reallocarray(h->meta, h->capmeta, sizeof(*h->meta));
        }
        memmove(h->meta + i + 1, h->meta + i, (h->nmeta - i) * sizeof(*h->meta));
        memset(&h->meta[i], 0, sizeof(h->meta[i]));
        h->meta[i].metric = osp_strdup(metric);
        h->nmeta++;
    }
    bool changed = set_str(&h->meta[i].type, type);
    changed |= set_str(&h->meta[i].help, help);
    changed |= set_str(&h->meta[i].unit, unit);
    return changed;
}

const store_meta *
store_head_meta(const store_head *h, size_t *n)
{
    *n = h->nmeta;
    return h->meta;
}
