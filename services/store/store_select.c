/* store_select.c - the read side of the head: matching selectors through the
 * inverted index, the label order of selections, reading a series' samples
 * (closed chunks, open chunk, out-of-order buffer) and the in-memory PromQL
 * source. */
#include <stdlib.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"
#include "store_head_int.h"

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
    for (size_t i = store_lower_bound(hd->ooo_t, hd->ooo_n, mint);
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
