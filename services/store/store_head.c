/* store_head.c - the series catalog (id hash -> ref), per-series head data
 * (open chunk appender, out-of-order buffer, closed chunks) with the append
 * rules (in-order append, out-of-order insert, dup/conflict detection),
 * chunk cutting for the persister, eviction, matching through the index, and
 * the in-memory PromQL source. */
#include "store_head.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"

struct store_head {
    pthread_rwlock_t lock;
    store_series **v; /* ref -> series */
    size_t n, cap;
    uint32_t *slots; /* open addressing on id: ref + 1, 0 = empty */
    size_t nslots;   /* power of two */
    size_t nactive;  /* series with head data */
    size_t nsamples; /* samples in memory */
    size_t nchunks;  /* closed chunks in memory */
    size_t bytes;    /* chunk bytes + out-of-order buffers + appender buffers */
    uint64_t appended;
    int64_t mem_cut;
    store_index *ix;
    store_qcache *qc; /* told of every chunk persisted (borrowed; NULL: none) */
    /* the label order of the catalog, for sorting selections: rank[ref] for
     * refs below nranked; updated by queries, so under a mutex of its own */
    pthread_mutex_t rank_mu;
    uint32_t *rank;
    size_t nranked, rankcap;
    store_meta *meta; /* sorted by metric */
    size_t nmeta, capmeta;
};

store_head *
store_head_new(void)
{
    store_head *h = osp_calloc(1, sizeof(*h));
    pthread_rwlock_init(&h->lock, NULL);
    pthread_mutex_init(&h->rank_mu, NULL);
    h->ix = store_index_new();
    h->mem_cut = INT64_MIN;
    return h;
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
    osp_labels_copy(&s->labels, sorted);
    uint32_t r = (uint32_t)h->n;
    h->v[h->n++] = s;
    slots_insert(h->slots, h->nslots, id, r);
    store_index_add(h->ix, r, &s->labels);
    *ref = r;
    if (created != NULL)
        *created = true;
    return 0;
}

/* lower_bound: first index with ts[i] >= t. */
static size_t
lower_bound(const int64_t *ts, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int64_t
store_partition_day(int64_t t)
{
    int64_t q = t / STORE_PARTITION_MS;
    if (t % STORE_PARTITION_MS < 0)
        q--;
    return q;
}

/* add_chunk: a closed chunk (data adopted) into hd->ch, kept sorted by min_t. */
static void
add_chunk(store_head *h, store_hdata *hd, store_chunk c)
{
    if (hd->nch == hd->capch) {
        hd->capch = hd->capch ? hd->capch * 2 : 4;
        hd->ch = osp_reallocarray(hd->ch, hd->capch, sizeof(*hd->ch));
    }
    uint32_t i = hd->nch;
    while (i > 0 && hd->ch[i - 1].min_t > c.min_t) {
        hd->ch[i] = hd->ch[i - 1];
        i--;
    }
    hd->ch[i] = c;
    hd->nch++;
    h->nchunks++;
    h->bytes += c.len;
}

static void
close_app(store_head *h, store_hdata *hd)
{
    size_t n = osp_chunk_app_count(&hd->app), len;
    if (n == 0)
        return;
    const uint8_t *b = osp_chunk_app_bytes(&hd->app, &len);
    store_chunk c = {.min_t = osp_chunk_app_min_t(&hd->app),
                     .max_t = osp_chunk_app_max_t(&hd->app),
                     .since_ms = hd->app_since,
                     .data = osp_malloc(len),
                     .len = (uint32_t)len,
                     .n = (uint32_t)n};
    memcpy(c.data, b, len);
    osp_chunk_app_reset(&hd->app);
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
    size_t k = lower_bound(hd->ooo_t, hd->ooo_n, t);
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
    size_t k = lower_bound(hd->ooo_t, hd->ooo_n, t);
    memmove(hd->ooo_t + k + 1, hd->ooo_t + k, (hd->ooo_n - k) * sizeof(*hd->ooo_t));
    memmove(hd->ooo_v + k + 1, hd->ooo_v + k, (hd->ooo_n - k) * sizeof(*hd->ooo_v));
    hd->ooo_t[k] = t;
    hd->ooo_v[k] = v;
    if (hd->ooo_n++ == 0)
        hd->ooo_since = arrival_ms;
    if (hd->ooo_n >= STORE_CHUNK_SAMPLES)
        close_ooo(h, hd);
}

store_append_res
store_head_append(store_head *h, uint32_t ref, int64_t t, double v, int64_t arrival_ms)
{
    store_series *s = h->v[ref];
    store_hdata *hd = hdata_get(h, s);
    if (t > s->last_t) {
        size_t n = osp_chunk_app_count(&hd->app);
        if (n >= STORE_CHUNK_SAMPLES ||
            (n > 0 &&
             store_partition_day(t) != store_partition_day(osp_chunk_app_min_t(&hd->app)))) {
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
            if (hd->ch[j].data == c[i].data)
                hd->ch[j].persisted = true;
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
    for (uint32_t i = 0; i < hd->nch; i++) {
        store_chunk *c = &hd->ch[i];
        if ((c->persisted && c->max_t < mem_cut) || c->max_t < drop_before) {
            h->bytes -= c->len;
            h->nsamples -= c->n;
            h->nchunks--;
            osp_free(c->data);
            freed++;
        } else {
            hd->ch[k++] = *c;
        }
    }
    hd->nch = k;
    if (hd->ooo_n > 0 && hd->ooo_t[0] < drop_before) {
        size_t d = lower_bound(hd->ooo_t, hd->ooo_n, drop_before);
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

size_t
store_head_tick(store_head *h, const store_tick *tk, store_chunk_ref **out, size_t *cap,
                int64_t *watermark)
{
    size_t k = 0;
    int64_t w = INT64_MAX;
    for (size_t r = 0; r < h->n; r++) {
        store_series *s = h->v[r];
        if (s->hd == NULL)
            continue;
        evict_one(h, s, tk->mem_cut, tk->drop_before);
        if (s->hd == NULL)
            continue;
        cut_one(h, s->hd, tk->arrived_before);
        w = open_since(s->hd, w);
        for (uint32_t i = 0; i < s->hd->nch; i++) {
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

void
store_head_match(const store_head *h, const osp_matcher *ms, size_t nm, int64_t mint_ms,
                 int64_t maxt_ms, osp_arena *a, uint32_t **out, size_t *nout)
{
    uint32_t *cand;
    size_t nc, k = 0;
    bool all_time = mint_ms == INT64_MIN && maxt_ms == INT64_MAX;
    bool *done = osp_arena_alloc(a, nm ? nm : 1);
    store_index_candidates(h->ix, ms, nm, (uint32_t)h->n, a, &cand, &nc, done);
    /* the matchers the index left over (kept in ms order: nm is small) */
    size_t left = 0;
    for (size_t i = 0; i < nm; i++)
        left += !done[i];
    for (size_t i = 0; i < nc; i++) {
        const store_series *s = h->v[cand[i]];
        if (!all_time && (s->min_t > maxt_ms || s->max_t < mint_ms))
            continue;
        bool ok = true;
        for (size_t j = 0; j < nm && left > 0 && ok; j++) {
            if (done[j])
                continue;
            const char *v = osp_labels_get(&s->labels, ms[j].name);
            ok = osp_matcher_matches(&ms[j], v ? v : "");
        }
        if (ok)
            cand[k++] = cand[i];
    }
    *out = cand;
    *nout = k;
}

/* ---- label order of selections ---- */

typedef struct lref {
    const osp_labels *l;
    uint32_t ref;
} lref;

static int
lref_cmp(const void *a, const void *b)
{
    return osp_labels_cmp(((const lref *)a)->l, ((const lref *)b)->l);
}

static int
u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static size_t
log2_ceil(size_t n)
{
    size_t k = 1;
    while (((size_t)1 << k) < n && k < 63)
        k++;
    return k;
}

/* rank_update: rank every series created since the last update: sort the new
 * ones and place each into the old order by binary search, so the cost is
 * the new series' label comparisons plus a pass over the catalog. rank_mu
 * held, and the head's lock. */
static void
rank_update(store_head *h)
{
    size_t n = h->n, old = h->nranked, k = n - old;
    lref *nw = osp_reallocarray(NULL, k, sizeof(*nw));
    for (size_t i = 0; i < k; i++)
        nw[i] = (lref){&h->v[old + i]->labels, (uint32_t)(old + i)};
    osp_qsort(nw, k, sizeof(*nw), lref_cmp);
    uint32_t *ord = osp_reallocarray(NULL, n, sizeof(*ord)); /* refs in label order */
    uint32_t *prev = osp_reallocarray(NULL, old ? old : 1, sizeof(*prev));
    for (size_t r = 0; r < old; r++)
        prev[h->rank[r]] = (uint32_t)r;
    size_t at = 0, from = 0;
    for (size_t j = 0; j < k; j++) {
        size_t lo = from, hi = old; /* the first old series after nw[j] */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (osp_labels_cmp(&h->v[prev[mid]]->labels, nw[j].l) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memcpy(ord + at, prev + from, (lo - from) * sizeof(*ord));
        at += lo - from;
        from = lo;
        ord[at++] = nw[j].ref;
    }
    memcpy(ord + at, prev + from, (old - from) * sizeof(*ord));
    if (n > h->rankcap) {
        h->rankcap = n + n / 4;
        h->rank = osp_reallocarray(h->rank, h->rankcap, sizeof(*h->rank));
    }
    for (size_t i = 0; i < n; i++)
        h->rank[ord[i]] = (uint32_t)i;
    h->nranked = n;
    osp_free(prev);
    osp_free(ord);
    osp_free(nw);
}

void
store_head_sort_refs(store_head *h, uint32_t *refs, size_t n)
{
    if (n < 2)
        return;
    pthread_mutex_lock(&h->rank_mu);
    /* ranking the new series pays when it costs about what sorting this
     * selection by labels would (later selections then sort by number) */
    size_t k = h->n - h->nranked;
    size_t update = k * log2_ceil(h->n) + h->n / 16, direct = n * log2_ceil(n);
    if (k > 0 && update <= 2 * direct)
        rank_update(h);
    if (h->nranked < h->n) {
        pthread_mutex_unlock(&h->rank_mu);
        lref *l = osp_reallocarray(NULL, n, sizeof(*l));
        for (size_t i = 0; i < n; i++)
            l[i] = (lref){&h->v[refs[i]]->labels, refs[i]};
        osp_qsort(l, n, sizeof(*l), lref_cmp);
        for (size_t i = 0; i < n; i++)
            refs[i] = l[i].ref;
        osp_free(l);
        return;
    }
    uint64_t *key = osp_reallocarray(NULL, n, sizeof(*key));
    for (size_t i = 0; i < n; i++)
        key[i] = (uint64_t)h->rank[refs[i]] << 32 | refs[i];
    pthread_mutex_unlock(&h->rank_mu);
    osp_qsort(key, n, sizeof(*key), u64_cmp);
    for (size_t i = 0; i < n; i++)
        refs[i] = (uint32_t)key[i];
    osp_free(key);
}

/* ---- reading samples ---- */

typedef struct merge_ent {
    int64_t t;
    double v;
    size_t i;
} merge_ent;

static int
merge_cmp(const void *a, const void *b)
{
    const merge_ent *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

size_t
store_samples_merge(int64_t *ts, double *vs, size_t n, size_t *dups, size_t *conflicts)
{
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = ts[i] > ts[i - 1];
    if (sorted)
        return n;
    merge_ent *e = osp_reallocarray(NULL, n, sizeof(*e));
    for (size_t i = 0; i < n; i++)
        e[i] = (merge_ent){ts[i], vs[i], i};
    qsort(e, n, sizeof(*e), merge_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && ts[k - 1] == e[i].t) {
            size_t *c = memcmp(&vs[k - 1], &e[i].v, sizeof(double)) == 0 ? dups : conflicts;
            if (c != NULL)
                (*c)++;
            continue;
        }
        ts[k] = e[i].t;
        vs[k] = e[i].v;
        k++;
    }
    osp_free(e);
    return k;
}

static void
decode_into(const uint8_t *data, size_t len, int64_t mint, int64_t maxt, int64_t *ts, double *vs,
            size_t cap, size_t *n)
{
    osp_anychunk_it it;
    osp_anychunk_it_init(&it, data, len);
    int64_t t;
    double v;
    while (*n < cap && osp_anychunk_it_next(&it, &t, &v) == 1) {
        if (t > maxt)
            break;
        if (t >= mint) {
            ts[*n] = t;
            vs[*n] = v;
            (*n)++;
        }
    }
}

void
store_head_samples(const store_head *h, uint32_t ref, int64_t mint, int64_t maxt,
                   bool unpersisted_only, osp_arena *a, int64_t **ts, double **vs, size_t *n)
{
    const store_hdata *hd = h->v[ref]->hd;
    *n = 0;
    *ts = NULL;
    *vs = NULL;
    if (hd == NULL)
        return;
    size_t cap = hd->ooo_n, an = osp_chunk_app_count(&hd->app);
    if (an > 0 && osp_chunk_app_min_t(&hd->app) <= maxt && osp_chunk_app_max_t(&hd->app) >= mint)
        cap += an;
    for (uint32_t i = 0; i < hd->nch; i++) {
        const store_chunk *c = &hd->ch[i];
        if (c->min_t <= maxt && c->max_t >= mint && !(unpersisted_only && c->persisted))
            cap += c->n;
    }
    if (cap == 0)
        return;
    int64_t *t = osp_arena_alloc(a, cap * sizeof(*t));
    double *v = osp_arena_alloc(a, cap * sizeof(*v));
    size_t k = 0, len;
    for (uint32_t i = 0; i < hd->nch; i++) {
        const store_chunk *c = &hd->ch[i];
        if (c->min_t <= maxt && c->max_t >= mint && !(unpersisted_only && c->persisted))
            decode_into(c->data, c->len, mint, maxt, t, v, cap, &k);
    }
    if (an > 0 && osp_chunk_app_min_t(&hd->app) <= maxt && osp_chunk_app_max_t(&hd->app) >= mint) {
        const uint8_t *b = osp_chunk_app_bytes(&hd->app, &len);
        decode_into(b, len, mint, maxt, t, v, cap, &k);
    }
    for (size_t i = lower_bound(hd->ooo_t, hd->ooo_n, mint);
         i < hd->ooo_n && hd->ooo_t[i] <= maxt && k < cap; i++) {
        t[k] = hd->ooo_t[i];
        v[k] = hd->ooo_v[i];
        k++;
    }
    *n = store_samples_merge(t, v, k, NULL, NULL);
    *ts = t;
    *vs = v;
}

static int
head_select(void *ctx, const osp_matcher *ms, size_t nm, int64_t mint_ms, int64_t maxt_ms,
            osp_promql_series_set *out, osp_arena *a)
{
    store_head *h = ctx;
    uint32_t *refs;
    size_t n;
    store_head_rdlock(h);
    store_head_match(h, ms, nm, mint_ms, maxt_ms, a, &refs, &n);
    store_head_sort_refs(h, refs, n);
    for (size_t i = 0; i < n; i++) {
        int64_t *ts;
        double *vs;
        size_t k;
        store_head_samples(h, refs[i], mint_ms, maxt_ms, false, a, &ts, &vs, &k);
        if (k == 0)
            continue;
        osp_promql_series *ps = osp_promql_series_set_add(out, a, &h->v[refs[i]]->labels);
        osp_promql_series_push_many(ps, a, ts, vs, k);
    }
    store_head_unlock(h);
    return 0;
}

osp_promql_source
store_head_source(store_head *h)
{
    return (osp_promql_source){.ctx = h, .select = head_select};
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
