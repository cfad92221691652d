/* store_query.c - merge of head memory and PostgreSQL chunks (or the query
 * cache's copy of them) for PromQL: the selection comes out sorted by labels,
 * each series' points in one exactly sized arena array. */
#include "store_query.h"

#include <stdlib.h>
#include <string.h>

#include "osp_anychunk.h"
#include "osp_err.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_chunks.h"

/* Above this many series a chunk read filters by time only and drops the
 * rows of other series here (a huge id list costs PostgreSQL more). */
#define FETCH_IDS_MAX 20000

typedef struct sel_series {
    const osp_labels *labels; /* the catalog's (never freed while queries run) */
    int64_t id;
    uint32_t ref;
    bool pg;      /* its persisted chunks are read from PostgreSQL */
    bool hit;     /* ... and were in the query cache */
    int64_t *mts; /* memory samples (arena): only unpersisted ones when pg */
    double *mvs;
    size_t mn;
    osp_promql_point *cached; /* the cache's samples (arena, room for mn more) */
    size_t ncached;
    size_t row0, nrows; /* its rows in the grouped fetch */
} sel_series;

typedef struct id_ix {
    int64_t id;
    size_t i;
} id_ix;

/* What the select knows of one fetched row of its series. */
typedef struct rowinfo {
    const store_chunk_row *row;
    size_t n;              /* samples the chunk holds (its header) */
    bool part;             /* only partly inside [mint, maxt] */
    osp_promql_point *seg; /* part: its samples in range (arena) */
    size_t nseg;
} rowinfo;

/* Growable heap arrays reused across the series of one select. */
typedef struct scratch {
    osp_promql_point *p;
    size_t pcap;
    int64_t *ts;
    double *vs;
    size_t scap;
    rowinfo **ri;
    size_t ricap;
} scratch;

static int
id_ix_cmp(const void *a, const void *b)
{
    int64_t x = ((const id_ix *)a)->id, y = ((const id_ix *)b)->id;
    return (x > y) - (x < y);
}

static void
points_reserve(scratch *sc, size_t n)
{
    if (n > sc->pcap) {
        sc->pcap = n * 2;
        osp_free(sc->p);
        sc->p = osp_reallocarray(NULL, sc->pcap, sizeof(*sc->p));
    }
}

static void
samples_reserve(scratch *sc, size_t n)
{
    if (n > sc->scap) {
        sc->scap = n * 2;
        sc->ts = osp_reallocarray(sc->ts, sc->scap, sizeof(*sc->ts));
        sc->vs = osp_reallocarray(sc->vs, sc->scap, sizeof(*sc->vs));
    }
}

/* The two functions below are all the select knows of the chunk encoding. */

/* chunk_count: the samples chunk c holds (0 when its header is damaged). */
static size_t
chunk_count(const store_chunk_row *c)
{
    size_t n = 0;
    return osp_anychunk_count(c->data, c->len, &n) == 0 ? n : 0;
}

/* decode: the samples of chunk c with mint <= t <= maxt into pts (room for
 * chunk_count); returns their number. A damaged chunk loses the samples from
 * the damage on. */
static size_t
decode(const store_chunk_row *c, int64_t mint, int64_t maxt, osp_promql_point *pts)
{
    osp_anychunk_it it;
    osp_anychunk_it_init(&it, c->data, c->len);
    size_t k = 0;
    int64_t t;
    double v;
    while (osp_anychunk_it_next(&it, &t, &v) == 1) {
        if (t > maxt)
            break;
        if (t >= mint)
            pts[k++] = (osp_promql_point){t, v};
    }
    return k;
}

/* describe: row c's rowinfo. A chunk only partly inside the range (an
 * instant query's usually are) is decoded here, through scratch, into a
 * segment of its samples in range; one inside the range is decoded later,
 * straight into its series' array, once the size of that is known. */
static void
describe(rowinfo *ri, const store_chunk_row *c, int64_t mint, int64_t maxt, scratch *sc,
         osp_arena *a)
{
    *ri = (rowinfo){.row = c, .n = chunk_count(c)};
    ri->part = c->min_t < mint || c->max_t > maxt;
    if (!ri->part || ri->n == 0)
        return;
    points_reserve(sc, ri->n);
    ri->nseg = decode(c, mint, maxt, sc->p);
    ri->seg = osp_arena_alloc(a, (ri->nseg ? ri->nseg : 1) * sizeof(*ri->seg));
    memcpy(ri->seg, sc->p, ri->nseg * sizeof(*ri->seg));
}

/* row_samples: row r's samples in range into pts (room for r->n). */
static size_t
row_samples(const rowinfo *r, int64_t mint, int64_t maxt, osp_promql_point *pts)
{
    if (r->part) {
        if (r->nseg > 0)
            memcpy(pts, r->seg, r->nseg * sizeof(*pts));
        return r->nseg;
    }
    return r->n > 0 ? decode(r->row, mint, maxt, pts) : 0;
}

static size_t
row_in_range(const rowinfo *r)
{
    return r->part ? r->nseg : r->n;
}

static int
ri_seq_cmp(const void *a, const void *b)
{
    const store_chunk_row *x = (*(rowinfo *const *)a)->row, *y = (*(rowinfo *const *)b)->row;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
ri_min_t_cmp(const void *a, const void *b)
{
    const store_chunk_row *x = (*(rowinfo *const *)a)->row, *y = (*(rowinfo *const *)b)->row;
    return (x->min_t > y->min_t) - (x->min_t < y->min_t);
}

/* pg_disjoint: the common case: chunks that do not overlap in time (rows
 * sorted by min_t) hold no timestamp twice, so their samples in time order are
 * the merge, in an array of the exact size (plus room for x's memory
 * samples). Returns false when the result is not in time order after all
 * (min_t/max_t columns that lie): the caller merges. */
static bool
pg_disjoint(const sel_series *x, rowinfo **rows, size_t nr, int64_t mint, int64_t maxt,
            osp_arena *a, osp_promql_point **out, size_t *nout)
{
    size_t total = x->mn;
    for (size_t i = 0; i < nr; i++)
        total += row_in_range(rows[i]);
    osp_promql_point *pts = osp_arena_alloc(a, (total ? total : 1) * sizeof(*pts));
    size_t k = 0;
    for (size_t i = 0; i < nr; i++)
        k += row_samples(rows[i], mint, maxt, pts + k);
    for (size_t i = 1; i < k; i++)
        if (pts[i].t <= pts[i - 1].t)
            return false;
    *out = pts;
    *nout = k;
    return true;
}

/* pg_merge: the general case: the samples of every chunk in write order (rows
 * sorted by seq), merged so the first-written value of a timestamp wins. */
static void
pg_merge(const sel_series *x, rowinfo **rows, size_t nr, int64_t mint, int64_t maxt, scratch *sc,
         osp_arena *a, osp_promql_point **out, size_t *nout)
{
    size_t cap = 0, most = 0;
    for (size_t i = 0; i < nr; i++) {
        cap += row_in_range(rows[i]);
        most = rows[i]->n > most ? rows[i]->n : most;
    }
    samples_reserve(sc, cap);
    points_reserve(sc, most);
    size_t n = 0;
    for (size_t i = 0; i < nr; i++) {
        size_t k = row_samples(rows[i], mint, maxt, sc->p);
        for (size_t j = 0; j < k; j++, n++) {
            sc->ts[n] = sc->p[j].t;
            sc->vs[n] = sc->p[j].v;
        }
    }
    n = store_samples_merge(sc->ts, sc->vs, n, NULL, NULL);
    osp_promql_point *pts = osp_arena_alloc(a, (n + x->mn ? n + x->mn : 1) * sizeof(*pts));
    for (size_t i = 0; i < n; i++)
        pts[i] = (osp_promql_point){sc->ts[i], sc->vs[i]};
    *out = pts;
    *nout = n;
}

/* pg_points: series x's persisted samples in [mint, maxt] from its rows
 * (sorted by seq), in time order, each timestamp once, in an arena array with
 * room for x's memory samples after them. */
static void
pg_points(const sel_series *x, rowinfo **rows, size_t nr, int64_t mint, int64_t maxt, scratch *sc,
          osp_arena *a, osp_promql_point **out, size_t *nout)
{
    if (nr >= sc->ricap) {
        sc->ricap = nr * 2 + 1;
        sc->ri = osp_reallocarray(sc->ri, sc->ricap, sizeof(*sc->ri));
    }
    if (nr > 0)
        memcpy(sc->ri, rows, nr * sizeof(*rows));
    if (nr > 1)
        osp_qsort(sc->ri, nr, sizeof(*sc->ri), ri_min_t_cmp);
    bool disjoint = true;
    for (size_t i = 1; i < nr && disjoint; i++)
        disjoint = sc->ri[i - 1]->row->max_t < sc->ri[i]->row->min_t;
    if (disjoint && pg_disjoint(x, sc->ri, nr, mint, maxt, a, out, nout))
        return;
    pg_merge(x, rows, nr, mint, maxt, sc, a, out, nout);
}

/* add_memory: append x's memory samples to pts[0..n) (which has room for
 * them); where timestamps meet, the persisted value wins (it was written
 * first). Returns the new count. */
static size_t
add_memory(const sel_series *x, osp_promql_point *pts, size_t n, scratch *sc)
{
    if (x->mn == 0)
        return n;
    if (n == 0 || pts[n - 1].t < x->mts[0]) {
        for (size_t i = 0; i < x->mn; i++)
            pts[n + i] = (osp_promql_point){x->mts[i], x->mvs[i]};
        return n + x->mn;
    }
    points_reserve(sc, n);
    memcpy(sc->p, pts, n * sizeof(*pts));
    size_t i = 0, j = 0, k = 0;
    while (i < n || j < x->mn) {
        if (j == x->mn || (i < n && sc->p[i].t <= x->mts[j])) {
            if (j < x->mn && sc->p[i].t == x->mts[j])
                j++;
            pts[k++] = sc->p[i++];
        } else {
            pts[k++] = (osp_promql_point){x->mts[j], x->mvs[j]};
            j++;
        }
    }
    return k;
}

/* group: describe the fetched rows of the series in s (the others are
 * dropped) and order them by series (selection order) and, per series, write
 * order; fills row0/nrows. Returns the order (arena). */
static rowinfo **
group(sel_series *s, size_t n, const store_chunk_set *cs, int64_t mint, int64_t maxt, scratch *sc,
      osp_arena *a)
{
    id_ix *ix = osp_arena_alloc(a, (n ? n : 1) * sizeof(*ix));
    size_t nix = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].pg)
            ix[nix++] = (id_ix){s[i].id, i};
    osp_qsort(ix, nix, sizeof(*ix), id_ix_cmp);
    size_t *owner = osp_arena_alloc(a, (cs->n ? cs->n : 1) * sizeof(*owner));
    for (size_t r = 0; r < cs->n; r++) {
        id_ix key = {.id = cs->rows[r].series_id};
        const id_ix *hit = bsearch(&key, ix, nix, sizeof(*ix), id_ix_cmp);
        owner[r] = hit ? hit->i : SIZE_MAX;
        if (hit)
            s[hit->i].nrows++;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].row0 = at;
        at += s[i].nrows;
        s[i].nrows = 0;
    }
    rowinfo *ri = osp_arena_alloc(a, (at ? at : 1) * sizeof(*ri));
    rowinfo **order = osp_arena_alloc(a, (at ? at : 1) * sizeof(*order));
    for (size_t r = 0, k = 0; r < cs->n; r++)
        if (owner[r] != SIZE_MAX) {
            describe(&ri[k], &cs->rows[r], mint, maxt, sc, a);
            sel_series *x = &s[owner[r]];
            order[x->row0 + x->nrows++] = &ri[k++];
        }
    for (size_t i = 0; i < n; i++)
        if (s[i].nrows > 1)
            osp_qsort(order + s[i].row0, s[i].nrows, sizeof(*order), ri_seq_cmp);
    return order;
}

/* fetch: read the chunks of the series in s that need PostgreSQL (into cs)
 * and group them (*order). */
static int
fetch(store_reader *r, sel_series *s, size_t n, int64_t mint, int64_t maxt, store_chunk_set *cs,
      rowinfo ***order, scratch *sc, osp_arena *a)
{
    size_t npg = 0;
    for (size_t i = 0; i < n; i++)
        npg += s[i].pg;
    if (npg == 0)
        return 0;
    int64_t *ids = osp_arena_alloc(a, npg * sizeof(*ids));
    for (size_t i = 0, k = 0; i < n; i++)
        if (s[i].pg)
            ids[k++] = s[i].id;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (store_pg_connect(r->pg, &ei) != 0)
        return OSP_EUNAVAIL;
    bool by_id = npg <= FETCH_IDS_MAX;
    int rc = store_chunks_fetch(r->pg, by_id ? ids : NULL, by_id ? npg : 0, mint, maxt, cs, &ei);
    if (rc == 0)
        *order = group(s, n, cs, mint, maxt, sc, a);
    return rc;
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
    int64_t mem_cut = store_head_mem_cut(h);
    bool need_pg = r->pg != NULL && mint_ms < mem_cut;
    store_qcache *qc = need_pg ? store_head_qcache(h) : NULL;
    /* a fill must not be older than the head state it completes */
    uint64_t epoch = qc != NULL ? store_qcache_epoch(qc) : 0;
    store_head_match(h, ms, nm, mint_ms, maxt_ms, a, &refs, &n);
    store_head_sort_refs(h, refs, n);
    sel_series *s = osp_arena_calloc(a, (n ? n : 1) * sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        const store_series *se = store_head_series(h, refs[i]);
        s[i].labels = &se->labels;
        s[i].id = (int64_t)se->id;
        s[i].ref = refs[i];
        /* every chunk with max_t >= the memory cut is in memory: a series
         * whose data starts there has nothing in PostgreSQL to add */
        s[i].pg = need_pg && se->min_t < mem_cut;
    }
    for (size_t i = 0; i < n; i++)
        store_head_samples(h, s[i].ref, mint_ms, maxt_ms, s[i].pg, a, &s[i].mts, &s[i].mvs,
                           &s[i].mn);
    store_head_unlock(h);

    int64_t now = osp_now_ms();
    for (size_t i = 0; i < n && qc != NULL; i++)
        if (s[i].pg && store_qcache_get(qc, s[i].id, mint_ms, maxt_ms, now, s[i].mn, a,
                                        &s[i].cached, &s[i].ncached)) {
            s[i].hit = true;
            s[i].pg = false;
        }
    scratch sc = {0};
    store_chunk_set cs = {0};
    rowinfo **order = NULL;
    int rc = fetch(r, s, n, mint_ms, maxt_ms, &cs, &order, &sc, a);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sel_series *x = &s[i];
        osp_promql_point *pts;
        size_t k = 0;
        if (x->hit) {
            pts = x->cached;
            k = x->ncached;
        } else if (x->pg) {
            pg_points(x, order + x->row0, x->nrows, mint_ms, maxt_ms, &sc, a, &pts, &k);
            if (qc != NULL)
                store_qcache_put(qc, x->id, mint_ms, maxt_ms, now, pts, k, epoch);
        } else if (x->mn > 0) {
            pts = osp_arena_alloc(a, x->mn * sizeof(*pts));
        } else {
            continue;
        }
        k = add_memory(x, pts, k, &sc);
        if (k == 0)
            continue;
        osp_promql_series *ps = osp_promql_series_set_add(out, a, x->labels);
        osp_promql_series_adopt(ps, pts, k);
    }
    osp_free(sc.p);
    osp_free(sc.ts);
    osp_free(sc.vs);
    osp_free(sc.ri);
    store_chunk_set_fini(&cs);
    return rc;
}

osp_promql_source
store_reader_source(store_reader *r)
{
    return (osp_promql_source){.ctx = r, .select = reader_select};
}
