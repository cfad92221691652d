/* promql_agg.c - aggregation operators (sum, avg, count, min, max, group, stddev, stdvar,
 * topk, bottomk, count_values, quantile) with Prometheus' grouping rules. */
#include "promql_funcs.h"
#include "osp_mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct group {
    osp_label *l;
    size_t nl;
    double value, mean;
    size_t count;
    sample *members; /* topk/bottomk/quantile */
    size_t nmem, capmem;
} group;

static void
add_member(group *g, osp_arena *a, sample s)
{
    if (g->nmem == g->capmem) {
        size_t cap = g->capmem ? g->capmem * 2 : 4;
        sample *nv = osp_arena_alloc(a, cap * sizeof(*nv));
        if (g->nmem)
            memcpy(nv, g->members, g->nmem * sizeof(*nv));
        g->members = nv;
        g->capmem = cap;
    }
    g->members[g->nmem++] = s;
}

static int
top_cmp(const void *a, const void *b)
{
    double x = ((const sample *)a)->v, y = ((const sample *)b)->v;
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x > y ? -1 : x < y;
}

static int
bottom_cmp(const void *a, const void *b)
{
    double x = ((const sample *)a)->v, y = ((const sample *)b)->v;
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x < y ? -1 : x > y;
}

/* topk/bottomk keep a heap of at most k members exactly like Prometheus 2.42 (Go's
 * container/heap over vectorByValueHeap / vectorByReverseValueHeap), so that among equal
 * values the same series are chosen. heap[0] is the member to evict next. */
static bool
heap_less(const sample *h, size_t i, size_t j, bool top)
{
    if (isnan(h[i].v))
        return true;
    return top ? h[i].v < h[j].v : h[i].v > h[j].v;
}

static void
heap_swap(sample *h, size_t i, size_t j)
{
    sample t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void
heap_up(sample *h, size_t j, bool top)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!heap_less(h, j, i, top))
            break;
        heap_swap(h, i, j);
        j = i;
    }
}

static bool
heap_down(sample *h, size_t i0, size_t n, bool top)
{
    size_t i = i0;
    for (;;) {
        size_t j1 = 2 * i + 1;
        if (j1 >= n)
            break;
        size_t j = j1;
        if (j1 + 1 < n && heap_less(h, j1 + 1, j1, top))
            j = j1 + 1;
        if (!heap_less(h, j, i, top))
            break;
        heap_swap(h, i, j);
        i = j;
    }
    return i > i0;
}

/* heap_offer: Prometheus' step for one sample: when the heap is not full, or its top
 * is smaller (topk; larger for bottomk) or NaN, pop the top (if full) and push s. */
static void
heap_offer(group *g, osp_arena *a, sample s, int64_t k, bool top)
{
    double h0 = g->nmem ? g->members[0].v : 0;
    if ((int64_t)g->nmem >= k && !(top ? h0 < s.v : h0 > s.v) && !isnan(h0))
        return;
    if ((int64_t)g->nmem == k) {
        size_t n = g->nmem - 1;
        heap_swap(g->members, 0, n);
        heap_down(g->members, 0, n, top);
        g->nmem = n;
    }
    add_member(g, a, s);
    heap_up(g->members, g->nmem - 1, top);
}

static void
accumulate(agg_op op, group *g, osp_arena *a, sample s, int64_t k)
{
    switch (op) {
    case AGG_SUM: g->value += s.v; break;
    case AGG_AVG:
        g->count++;
        if (isinf(g->mean)) {
            if (isinf(s.v) && (g->mean > 0) == (s.v > 0))
                break;
            if (!isinf(s.v) && !isnan(s.v))
                break;
        }
        g->mean += s.v / (double)g->count - g->mean / (double)g->count;
        break;
    case AGG_GROUP: break;
    case AGG_MAX:
        if (g->value < s.v || isnan(g->value))
            g->value = s.v;
        break;
    case AGG_MIN:
        if (g->value > s.v || isnan(g->value))
            g->value = s.v;
        break;
    case AGG_COUNT:
    case AGG_COUNT_VALUES: g->count++; break;
    case AGG_STDDEV:
    case AGG_STDVAR: {
        g->count++;
        double d = s.v - g->mean;
        g->mean += d / (double)g->count;
        g->value += d * (s.v - g->mean);
        break;
    }
    case AGG_TOPK: heap_offer(g, a, s, k, true); break;
    case AGG_BOTTOMK: heap_offer(g, a, s, k, false); break;
    case AGG_QUANTILE: add_member(g, a, s); break;
    }
}

int
promql_eval_agg(evctx *c, const expr *e, int64_t t, value *out)
{
    value pv = {0}, in;
    int rc;
    if (e->param && (rc = promql_eval_node(c, e->param, t, &pv)) != 0)
        return rc;
    if ((rc = promql_eval_node(c, e->arg, t, &in)) != 0)
        return rc;
    out->type = OSP_PROMQL_VECTOR;
    int64_t k = 0;
    if (e->aop == AGG_TOPK || e->aop == AGG_BOTTOMK) {
        if (!(pv.scalar >= -9.2e18 && pv.scalar <= 9.2e18))
            return promql_eval_fail(c, "Scalar value %g overflows int64", pv.scalar);
        k = (int64_t)pv.scalar;
        if (k < 1)
            return 0;
    }
    const char **grouping = e->grouping;
    size_t ng = e->ngrouping;
    const char *vlabel = NULL;
    if (e->aop == AGG_COUNT_VALUES) {
        vlabel = pv.str;
        if (!osp_label_name_valid(vlabel, strlen(vlabel)))
            return promql_eval_fail(c, "invalid label name \"%s\"", vlabel);
        if (!e->without) {
            const char **g2 = osp_arena_alloc(c->sa, (ng + 1) * sizeof(char *));
            if (ng)
                memcpy(g2, grouping, ng * sizeof(char *));
            g2[ng++] = vlabel;
            grouping = g2;
        }
    }
    hmap idx;
    hmap_init(&idx, c->sa, in.vec.n);
    group *groups = osp_arena_alloc(c->sa, (in.vec.n + 1) * sizeof(group));
    size_t ngroups = 0;
    for (size_t i = 0; i < in.vec.n; i++) {
        sample s = in.vec.v[i];
        if (vlabel) {
            char num[400];
            promql_fmt_float_f(num, sizeof num, s.v);
            lbl_set(c->sa, &s.l, &s.nl, vlabel, osp_arena_strndup(c->sa, num, strlen(num)));
        }
        /* by () (or no grouping): one group, whatever the labels */
        uint64_t key = ng == 0 && !e->without
                           ? lbl_sig(NULL, 0, NULL, 0, true)
                           : lset_sig(c->reg, e, s.l, s.nl, grouping, ng, !e->without);
        bool found;
        int *slot = hmap_put(&idx, c->sa, key, &found);
        if (found) {
            accumulate(e->aop, &groups[*slot], c->sa, s, k);
            continue;
        }
        *slot = (int)ngroups;
        group *g = &groups[ngroups++];
        memset(g, 0, sizeof(*g));
        if (!lset_memo_get(c->reg, e, s.l, s.nl, NULL, 0, &g->l, &g->nl)) {
            lbl_keep(c->sa, s.l, s.nl, grouping, ng, !e->without, &g->l, &g->nl);
            lset_memo_put(c->reg, e, s.l, s.nl, NULL, 0, &g->l, &g->nl);
        }
        g->value = s.v;
        g->mean = s.v;
        g->count = 1;
        if (e->aop == AGG_STDDEV || e->aop == AGG_STDVAR)
            g->value = 0;
        else if (e->aop == AGG_GROUP)
            g->value = 1;
        else if (e->aop == AGG_TOPK || e->aop == AGG_BOTTOMK || e->aop == AGG_QUANTILE)
            add_member(g, c->sa, s);
    }
    for (size_t i = 0; i < ngroups; i++) {
        group *g = &groups[i];
        double v = g->value;
        switch (e->aop) {
        case AGG_AVG: v = g->mean; break;
        case AGG_COUNT:
        case AGG_COUNT_VALUES: v = (double)g->count; break;
        case AGG_STDVAR: v = g->value / (double)g->count; break;
        case AGG_STDDEV: v = sqrt(g->value / (double)g->count); break;
        case AGG_TOPK:
        case AGG_BOTTOMK: {
            osp_qsort(g->members, g->nmem, sizeof(sample),
                      e->aop == AGG_TOPK ? top_cmp : bottom_cmp);
            size_t n = (uint64_t)k < g->nmem ? (size_t)k : g->nmem;
            for (size_t j = 0; j < n; j++)
                vec_push(&out->vec, c->sa, g->members[j]);
            continue;
        }
        case AGG_QUANTILE: {
            double *vals = osp_arena_alloc(c->sa, g->nmem * sizeof(double));
            for (size_t j = 0; j < g->nmem; j++)
                vals[j] = g->members[j].v;
            v = promql_quantile(pv.scalar, vals, g->nmem);
            break;
        }
        default: break;
        }
        vec_push(&out->vec, c->sa, (sample){g->l, g->nl, t, v});
    }
    return 0;
}
