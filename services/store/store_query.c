/* store_query.c - merge of head memory and PostgreSQL chunks for PromQL. */
#include "store_query.h"

#include <stdlib.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"
#include "store_chunks.h"

/* Above this many series a chunk read filters by time only and drops the
 * rows of other series here (a huge id list costs PostgreSQL more). */
#define FETCH_IDS_MAX 20000

typedef struct sel_series {
    const osp_labels *labels; /* the catalog's (never freed while queries run) */
    int64_t id;
    int64_t *mts; /* memory samples (arena) */
    double *mvs;
    size_t mn;
    int64_t *ts; /* PostgreSQL samples (heap) */
    double *vs;
    size_t n, cap;
} sel_series;

typedef struct id_ix {
    int64_t id;
    size_t i;
} id_ix;

typedef struct fetch_ctx {
    sel_series *s;
    id_ix *ix; /* sorted by id */
    size_t n;
    int64_t mint, maxt;
} fetch_ctx;

static int
id_ix_cmp(const void *a, const void *b)
{
    int64_t x = ((const id_ix *)a)->id, y = ((const id_ix *)b)->id;
    return (x > y) - (x < y);
}

static int
on_chunk(void *ctx, int64_t series_id, const uint8_t *data, size_t len)
{
    fetch_ctx *f = ctx;
    id_ix key = {.id = series_id};
    const id_ix *hit = bsearch(&key, f->ix, f->n, sizeof(*f->ix), id_ix_cmp);
    if (hit == NULL)
        return 0;
    sel_series *s = &f->s[hit->i];
    size_t cnt = 0;
    if (osp_anychunk_count(data, len, &cnt) != 0)
        return 0; /* a damaged chunk loses its own samples only */
    if (s->n + cnt > s->cap) {
        s->cap = (s->n + cnt) * 2;
        s->ts = osp_reallocarray(s->ts, s->cap, sizeof(*s->ts));
        s->vs = osp_reallocarray(s->vs, s->cap, sizeof(*s->vs));
    }
    osp_anychunk_it it;
    osp_anychunk_it_init(&it, data, len);
    int64_t t;
    double v;
    while (osp_anychunk_it_next(&it, &t, &v) == 1) {
        if (t > f->maxt)
            break;
        if (t >= f->mint) {
            s->ts[s->n] = t;
            s->vs[s->n] = v;
            s->n++;
        }
    }
    return 0;
}

static int
reader_select(void *ctx, const osp_matcher *ms, size_t nm, int64_t mint_ms, int64_t maxt_ms,
              osp_promql_series_set *out, osp_arena *a)
{
    store_reader *r = ctx;
    store_head *h = r->head;
    uint32_t *refs;
    size_t n;
    store_head_rdlock(h);
    bool need_pg = r->pg != NULL && mint_ms < store_head_mem_cut(h);
    store_head_match(h, ms, nm, mint_ms, maxt_ms, a, &refs, &n);
    sel_series *s = osp_calloc(n ? n : 1, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        const store_series *se = store_head_series(h, refs[i]);
        s[i].labels = &se->labels;
        s[i].id = (int64_t)se->id;
        store_head_samples(h, refs[i], mint_ms, maxt_ms, need_pg, a, &s[i].mts, &s[i].mvs,
                           &s[i].mn);
    }
    store_head_unlock(h);

    int rc = 0;
    if (need_pg && n > 0) {
        fetch_ctx f = {.s = s, .n = n, .mint = mint_ms, .maxt = maxt_ms};
        f.ix = osp_calloc(n, sizeof(*f.ix));
        int64_t *ids = osp_calloc(n, sizeof(*ids));
        for (size_t i = 0; i < n; i++) {
            f.ix[i] = (id_ix){s[i].id, i};
            ids[i] = s[i].id;
        }
        qsort(f.ix, n, sizeof(*f.ix), id_ix_cmp);
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        if (store_pg_connect(r->pg, &ei) == 0)
            rc =
                store_chunks_fetch(r->pg, n <= FETCH_IDS_MAX ? ids : NULL,
                                   n <= FETCH_IDS_MAX ? n : 0, mint_ms, maxt_ms, on_chunk, &f, &ei);
        else
            rc = OSP_EUNAVAIL;
        osp_free(ids);
        osp_free(f.ix);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        sel_series *x = &s[i];
        int64_t *ts = x->mts;
        double *vs = x->mvs;
        size_t k = x->mn;
        if (x->n > 0) {
            /* persisted first: on a conflict the earlier-written value wins */
            ts = osp_arena_alloc(a, (x->n + x->mn) * sizeof(*ts));
            vs = osp_arena_alloc(a, (x->n + x->mn) * sizeof(*vs));
            memcpy(ts, x->ts, x->n * sizeof(*ts));
            memcpy(vs, x->vs, x->n * sizeof(*vs));
            if (x->mn > 0) {
                memcpy(ts + x->n, x->mts, x->mn * sizeof(*ts));
                memcpy(vs + x->n, x->mvs, x->mn * sizeof(*vs));
            }
            k = store_samples_merge(ts, vs, x->n + x->mn, NULL, NULL);
        }
        if (k == 0)
            continue;
        osp_promql_series *ps = osp_promql_series_set_add(out, a, x->labels);
        osp_promql_series_push_many(ps, a, ts, vs, k);
    }
    for (size_t i = 0; i < n; i++) {
        osp_free(s[i].ts);
        osp_free(s[i].vs);
    }
    osp_free(s);
    return rc;
}

osp_promql_source
store_reader_source(store_reader *r)
{
    return (osp_promql_source){.ctx = r, .select = reader_select};
}
