/* store_head.c - series table (id hash -> ref), per-series sample arrays with
 * the append rules (append, in-order insert, dup/conflict detection), time
 * truncation, matching through the index, and the PromQL source. */
#include "store_head.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osp_err.h"
#include "osp_mem.h"

struct store_head {
    pthread_rwlock_t lock;
    store_series **v; /* ref -> series */
    size_t n, cap;
    uint32_t *slots; /* open addressing on id: ref + 1, 0 = empty */
    size_t nslots;   /* power of two */
    size_t nsamples;
    store_index *ix;
    store_meta *meta; /* sorted by metric */
    size_t nmeta, capmeta;
};

store_head *
store_head_new(void)
{
    store_head *h = osp_calloc(1, sizeof(*h));
    pthread_rwlock_init(&h->lock, NULL);
    h->ix = store_index_new();
    return h;
}

static void
series_free(store_series *s)
{
    if (s == NULL)
        return;
    osp_labels_fini(&s->labels);
    osp_free(s->ts);
    osp_free(s->vs);
    osp_free(s);
}

void
store_head_free(store_head *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        series_free(h->v[i]);
    osp_free(h->v);
    osp_free(h->slots);
    store_index_free(h->ix);
    for (size_t i = 0; i < h->nmeta; i++) {
        osp_free(h->meta[i].metric);
        osp_free(h->meta[i].type);
        osp_free(h->meta[i].help);
        osp_free(h->meta[i].unit);
    }
    osp_free(h->meta);
    pthread_rwlock_destroy(&h->lock);
    osp_free(h);
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
store_head_find(const store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref)
{
    if (h->nslots == 0)
        return OSP_ENOTFOUND;
    for (size_t i = slot_of(id, h->nslots);; i = (i + 1) & (h->nslots - 1)) {
        uint32_t s = h->slots[i];
        if (s == 0)
            return OSP_ENOTFOUND;
        const store_series *se = h->v[s - 1];
        if (se->id == id) {
            if (!osp_labels_equal(&se->labels, sorted))
                return OSP_EEXIST;
            *ref = s - 1;
            return 0;
        }
    }
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

store_append_res
store_head_append(store_head *h, uint32_t ref, int64_t t, double v)
{
    store_series *s = h->v[ref];
    size_t pos = s->n;
    if (s->n > 0 && t <= s->ts[s->n - 1]) {
        pos = lower_bound(s->ts, s->n, t);
        if (pos < s->n && s->ts[pos] == t)
            return memcmp(&s->vs[pos], &v, sizeof(v)) == 0 ? STORE_APPEND_DUP
                                                           : STORE_APPEND_CONFLICT;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ts = osp_reallocarray(s->ts, s->cap, sizeof(*s->ts));
        s->vs = osp_reallocarray(s->vs, s->cap, sizeof(*s->vs));
    }
    if (pos < s->n) {
        memmove(s->ts + pos + 1, s->ts + pos, (s->n - pos) * sizeof(*s->ts));
        memmove(s->vs + pos + 1, s->vs + pos, (s->n - pos) * sizeof(*s->vs));
    }
    s->ts[pos] = t;
    s->vs[pos] = v;
    s->n++;
    h->nsamples++;
    return STORE_APPEND_OK;
}

size_t
store_head_truncate(store_head *h, int64_t mint_ms)
{
    size_t dropped = 0, kept = 0;
    for (size_t r = 0; r < h->n; r++) {
        store_series *s = h->v[r];
        size_t k = lower_bound(s->ts, s->n, mint_ms);
        if (k > 0) {
            memmove(s->ts, s->ts + k, (s->n - k) * sizeof(*s->ts));
            memmove(s->vs, s->vs + k, (s->n - k) * sizeof(*s->vs));
            s->n -= k;
            dropped += k;
            if (s->cap > 64 && s->n < s->cap / 4) {
                s->cap = s->n < 16 ? 16 : s->n * 2;
                s->ts = osp_reallocarray(s->ts, s->cap, sizeof(*s->ts));
                s->vs = osp_reallocarray(s->vs, s->cap, sizeof(*s->vs));
            }
        }
        if (s->n == 0 && k > 0)
            series_free(s);
        else
            h->v[kept++] = s;
    }
    h->nsamples -= dropped;
    if (kept != h->n) {
        h->n = kept;
        size_t nslots = 1024;
        while (nslots < h->n * 2)
            nslots *= 2;
        slots_rebuild(h, nslots);
        store_index_clear(h->ix);
        for (size_t r = 0; r < h->n; r++)
            store_index_add(h->ix, (uint32_t)r, &h->v[r]->labels);
    }
    return dropped;
}

size_t
store_head_nseries(const store_head *h)
{
    return __atomic_load_n(&h->n, __ATOMIC_RELAXED);
}

size_t
store_head_nsamples(const store_head *h)
{
    return __atomic_load_n(&h->nsamples, __ATOMIC_RELAXED);
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

static bool
series_matches(const store_series *s, const osp_matcher *ms, size_t nm)
{
    for (size_t i = 0; i < nm; i++) {
        const char *v = osp_labels_get(&s->labels, ms[i].name);
        if (!osp_matcher_matches(&ms[i], v ? v : ""))
            return false;
    }
    return true;
}

static bool
has_sample_in(const store_series *s, int64_t mint, int64_t maxt)
{
    if (mint == INT64_MIN && maxt == INT64_MAX)
        return true;
    size_t k = lower_bound(s->ts, s->n, mint);
    return k < s->n && s->ts[k] <= maxt;
}

void
store_head_match(const store_head *h, const osp_matcher *ms, size_t nm, int64_t mint_ms,
                 int64_t maxt_ms, osp_arena *a, uint32_t **out, size_t *nout)
{
    uint32_t *cand;
    size_t nc, k = 0;
    store_index_candidates(h->ix, ms, nm, (uint32_t)h->n, a, &cand, &nc);
    for (size_t i = 0; i < nc; i++) {
        const store_series *s = h->v[cand[i]];
        if (series_matches(s, ms, nm) && has_sample_in(s, mint_ms, maxt_ms))
            cand[k++] = cand[i];
    }
    *out = cand;
    *nout = k;
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
    for (size_t i = 0; i < n; i++) {
        const store_series *s = h->v[refs[i]];
        size_t lo = lower_bound(s->ts, s->n, mint_ms);
        size_t hi = lo;
        while (hi < s->n && s->ts[hi] <= maxt_ms)
            hi++;
        if (hi == lo)
            continue;
        osp_promql_series *ps = osp_promql_series_set_add(out, a, &s->labels);
        osp_promql_series_push_many(ps, a, s->ts + lo, s->vs + lo, hi - lo);
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
