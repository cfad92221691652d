/* promql_eval.c - the evaluator: one select per selector over the whole query range, then
 * the tree is evaluated step by step in a scratch arena reset at every step. Selectors,
 * subqueries and binary operators live here; functions and aggregations elsewhere. */
#include "promql_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_mem.h"
#include "osp_time.h"

#define DEFAULT_LOOKBACK_MS (5 * 60 * 1000)
#define DEFAULT_SUBQUERY_STEP_MS (60 * 1000)
#define DEFAULT_MAX_SAMPLES 50000000

int
promql_eval_fail(evctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return osp_errinfo_set(c->ei, OSP_EINVAL, 0, 0, "%s", msg);
}

/* ---- hash map ------------------------------------------------------------------------ */

void
hmap_init(hmap *m, osp_arena *a, size_t hint)
{
    size_t cap = 16;
    while (cap < hint * 2)
        cap *= 2;
    m->keys = osp_arena_alloc(a, cap * sizeof(uint64_t));
    m->vals = osp_arena_alloc(a, cap * sizeof(int));
    m->used = osp_arena_calloc(a, cap);
    m->cap = cap;
    m->n = 0;
}

int *
hmap_get(const hmap *m, uint64_t key)
{
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
    while (m->used[i]) {
        if (m->keys[i] == key)
            return &m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

int *
hmap_put(hmap *m, osp_arena *a, uint64_t key, bool *found)
{
    if ((m->n + 1) * 2 > m->cap) {
        hmap old = *m;
        hmap_init(m, a, old.cap);
        for (size_t i = 0; i < old.cap; i++)
            if (old.used[i]) {
                bool f;
                *hmap_put(m, a, old.keys[i], &f) = old.vals[i];
            }
    }
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
    while (m->used[i]) {
        if (m->keys[i] == key) {
            *found = true;
            return &m->vals[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->used[i] = 1;
    m->keys[i] = key;
    m->vals[i] = 0;
    m->n++;
    *found = false;
    return &m->vals[i];
}

int
promql_check_unique(evctx *c, const vec *v)
{
    if (v->n < 2)
        return 0;
    hmap m;
    hmap_init(&m, c->sa, v->n);
    for (size_t i = 0; i < v->n; i++) {
        bool found;
        hmap_put(&m, c->sa, lset_hash(c->reg, v->v[i].l, v->v[i].nl), &found);
        if (found)
            return promql_eval_fail(c, "vector cannot contain metrics with the same labelset");
    }
    return 0;
}

/* ---- selectors ----------------------------------------------------------------------- */

static int64_t
ref_time(const evctx *c, const expr *e, int64_t t)
{
    switch (e->at) {
    case AT_TS: t = e->at_ms; break;
    case AT_START: t = c->start; break;
    case AT_END: t = c->end; break;
    case AT_NONE: break;
    }
    return t - e->offset_ms;
}

/* first index with pts[i].t >= t */
static size_t
lower_bound(const osp_promql_point *p, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* lower_bound_hint: lower_bound that first tries a few steps forward from *hint (the answer
 * of the previous evaluation step: range queries move forward by a few samples per step),
 * falling back to the binary search; updates *hint. */
static size_t
lower_bound_hint(const osp_promql_point *p, size_t n, int64_t t, size_t *hint)
{
    size_t i = *hint;
    if (i <= n && (i == 0 || p[i - 1].t < t)) {
        for (int k = 0; k < 8 && i < n && p[i].t < t; k++)
            i++;
        if (i == n || p[i].t >= t) {
            *hint = i;
            return i;
        }
    }
    *hint = lower_bound(p, n, t);
    return *hint;
}

void
promql_series_range(evctx *c, osp_promql_series *s, int64_t lo, int64_t hi, osp_promql_point **out,
                    size_t *n)
{
    size_t a = lower_bound_hint(s->pts, s->npts, lo, &s->hint[0]);
    size_t b = lower_bound_hint(s->pts, s->npts, hi + 1, &s->hint[1]);
    if (b < a)
        b = a;
    size_t stale = 0;
    for (size_t i = a; i < b && !s->no_stale; i++)
        if (osp_promql_is_stale(s->pts[i].v))
            stale++;
    if (stale == 0) {
        *out = s->pts + a;
        *n = b - a;
        return;
    }
    osp_promql_point *p = osp_arena_alloc(c->sa, (b - a) * sizeof(*p) + 1);
    size_t k = 0;
    for (size_t i = a; i < b; i++)
        if (!osp_promql_is_stale(s->pts[i].v))
            p[k++] = s->pts[i];
    *out = p;
    *n = k;
}

/* Each step reads every selected series once at a position far from the other series':
 * with many series that is a cache miss per series, so the points a few series ahead (and
 * the series structs further ahead) are requested early. A macro, not a function: GCC 12
 * drops calls to a function that only prefetches (it finds no side effect). The address
 * is formed as an integer: pts may be NULL (no points), and prefetching never faults. */
#define AHEAD 8
#define PREFETCH_AHEAD(set, i, window)                                                             \
    do {                                                                                           \
        if ((i) + 2 * AHEAD < (set)->n)                                                            \
            __builtin_prefetch((set)->v[(i) + 2 * AHEAD]);                                         \
        if ((i) + AHEAD < (set)->n) {                                                              \
            const osp_promql_series *pf_ = (set)->v[(i) + AHEAD];                                  \
            uintptr_t base_ = (uintptr_t)pf_->pts;                                                 \
            __builtin_prefetch((const void *)(base_ + pf_->hint[1] * sizeof(*pf_->pts)));          \
            if (window)                                                                            \
                __builtin_prefetch((const void *)(base_ + pf_->hint[0] * sizeof(*pf_->pts)));      \
        }                                                                                          \
    } while (0)

static void
eval_vsel(evctx *c, const expr *e, int64_t t, value *out)
{
    const osp_promql_series_set *set = &c->sel[e->sel_idx];
    int64_t ref = ref_time(c, e, t);
    out->type = OSP_PROMQL_VECTOR;
    for (size_t i = 0; i < set->n; i++) {
        PREFETCH_AHEAD(set, i, false);
        osp_promql_series *s = set->v[i];
        size_t k = lower_bound_hint(s->pts, s->npts, ref + 1, &s->hint[1]);
        if (k == 0)
            continue;
        const osp_promql_point *p = &s->pts[k - 1];
        if (p->t < ref - c->lookback || osp_promql_is_stale(p->v))
            continue;
        vec_push(&out->vec, c->sa, (sample){s->labels, s->nlabels, p->t, p->v});
    }
}

static void
eval_msel(evctx *c, const expr *e, int64_t t, value *out)
{
    const expr *vs = e->arg;
    const osp_promql_series_set *set = &c->sel[vs->sel_idx];
    int64_t ref = ref_time(c, vs, t);
    out->type = OSP_PROMQL_MATRIX;
    for (size_t i = 0; i < set->n; i++) {
        PREFETCH_AHEAD(set, i, true);
        osp_promql_series *s = set->v[i];
        mser m = {s->labels, s->nlabels, NULL, 0};
        promql_series_range(c, s, ref - e->range_ms, ref, &m.p, &m.n);
        if (m.n > 0)
            mat_push(&out->mat, c->sa, m);
    }
}

static int
eval_subq(evctx *c, const expr *e, int64_t t, value *out)
{
    int64_t ref = ref_time(c, e, t);
    int64_t step = e->step_ms ? e->step_ms : DEFAULT_SUBQUERY_STEP_MS;
    int64_t lo = ref - e->range_ms;
    int64_t st = step * (lo / step);
    if (st < lo)
        st += step;
    out->type = OSP_PROMQL_MATRIX;
    hmap idx;
    hmap_init(&idx, c->sa, 16);
    size_t *caps = NULL;
    size_t ncap = 0;
    unsigned iter = 0;
    for (int64_t ts = st; ts <= ref; ts += step) {
        if ((++iter & 63) == 0 && c->deadline_ns && osp_mono_ns() > c->deadline_ns)
            return osp_errinfo_set(c->ei, OSP_ETIMEDOUT, 0, 0,
                                   "query timed out in expression evaluation");
        value v = {0};
        int rc = promql_eval_node(c, e->arg, ts, &v);
        if (rc != 0)
            return rc;
        c->nsamples += v.vec.n + 1;
        if (c->nsamples > c->max_samples)
            return osp_errinfo_set(c->ei, OSP_ELIMIT, 0, 0,
                                   "query processing would load too many samples into memory "
                                   "in query execution");
        for (size_t i = 0; i < v.vec.n; i++) {
            const sample *s = &v.vec.v[i];
            bool found;
            int *slot = hmap_put(&idx, c->sa, lset_hash(c->reg, s->l, s->nl), &found);
            if (!found) {
                *slot = (int)out->mat.n;
                mat_push(&out->mat, c->sa, (mser){s->l, s->nl, NULL, 0});
                if (out->mat.n > ncap) {
                    size_t nc = ncap ? ncap * 2 : 16;
                    size_t *ncaps = osp_arena_calloc(c->sa, nc * sizeof(size_t));
                    if (ncap)
                        memcpy(ncaps, caps, ncap * sizeof(size_t));
                    caps = ncaps;
                    ncap = nc;
                }
            }
            mser *m = &out->mat.v[*slot];
            if (m->n == caps[*slot]) {
                size_t nc = caps[*slot] ? caps[*slot] * 2 : 8;
                osp_promql_point *np = osp_arena_alloc(c->sa, nc * sizeof(*np));
                if (m->n)
                    memcpy(np, m->p, m->n * sizeof(*np));
                m->p = np;
                caps[*slot] = nc;
            }
            m->p[m->n++] = (osp_promql_point){ts, s->v};
        }
    }
    return 0;
}

/* ---- binary operators ---------------------------------------------------------------- */

static bool
is_cmp(tok_kind k)
{
    return k >= T_EQLC && k <= T_GTR;
}

static bool
drops_name(tok_kind k)
{
    return k == T_ADD || k == T_SUB || k == T_MUL || k == T_DIV || k == T_MOD || k == T_POW;
}

/* vectorElemBinop: the value and whether a comparison holds */
static double
elem_binop(tok_kind op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case T_ADD: return l + r;
    case T_SUB: return l - r;
    case T_MUL: return l * r;
    case T_DIV: return l / r;
    case T_POW: return pow(l, r);
    case T_MOD: return fmod(l, r);
    case T_ATAN2: return atan2(l, r);
    case T_EQLC: *keep = l == r; return l;
    case T_NEQ: *keep = l != r; return l;
    case T_GTR: *keep = l > r; return l;
    case T_LSS: *keep = l < r; return l;
    case T_GTE: *keep = l >= r; return l;
    case T_LTE: *keep = l <= r; return l;
    default: return NAN;
    }
}

static void
binop_vs(evctx *c, const expr *e, value *vv, double sc, bool swap, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    for (size_t i = 0; i < vv->vec.n; i++) {
        sample s = vv->vec.v[i];
        double l = s.v, r = sc;
        if (swap) {
            l = sc;
            r = s.v;
        }
        bool keep;
        double v = elem_binop(e->op, l, r, &keep);
        if (is_cmp(e->op) && swap)
            v = r;
        if (e->ret_bool) {
            v = keep ? 1 : 0;
            keep = true;
        }
        if (!keep)
            continue;
        if (drops_name(e->op) || e->ret_bool)
            lset_drop_name(c->reg, c->sa, &s.l, &s.nl);
        s.v = v;
        vec_push(&out->vec, c->sa, s);
    }
}

static uint64_t
sig_of(evctx *c, const expr *e, const sample *s)
{
    return lset_sig(c->reg, e, s->l, s->nl, e->mlabels, e->nmlabels, e->matching && e->on);
}

static void
binop_set(evctx *c, const expr *e, value *l, value *r, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    hmap rs;
    hmap_init(&rs, c->sa, r->vec.n + l->vec.n);
    if (e->op == T_LOR) {
        for (size_t i = 0; i < l->vec.n; i++) {
            bool f;
            hmap_put(&rs, c->sa, sig_of(c, e, &l->vec.v[i]), &f);
            vec_push(&out->vec, c->sa, l->vec.v[i]);
        }
        for (size_t i = 0; i < r->vec.n; i++)
            if (hmap_get(&rs, sig_of(c, e, &r->vec.v[i])) == NULL)
                vec_push(&out->vec, c->sa, r->vec.v[i]);
        return;
    }
    for (size_t i = 0; i < r->vec.n; i++) {
        bool f;
        hmap_put(&rs, c->sa, sig_of(c, e, &r->vec.v[i]), &f);
    }
    for (size_t i = 0; i < l->vec.n; i++) {
        bool in = hmap_get(&rs, sig_of(c, e, &l->vec.v[i])) != NULL;
        if (in == (e->op == T_LAND))
            vec_push(&out->vec, c->sa, l->vec.v[i]);
    }
}

static void
result_metric(evctx *c, const expr *e, const sample *ls, const sample *rs, sample *out)
{
    /* one-to-one results do not depend on the other side's labels */
    const osp_label *ol = e->card == CARD_ONE_TO_ONE ? NULL : rs->l;
    size_t on = e->card == CARD_ONE_TO_ONE ? 0 : rs->nl;
    if (lset_memo_get(c->reg, e, ls->l, ls->nl, ol, on, &out->l, &out->nl))
        return;
    osp_label *l = ls->l;
    size_t n = ls->nl;
    if (drops_name(e->op))
        lbl_drop_name(c->sa, &l, &n);
    if (e->card == CARD_ONE_TO_ONE) {
        if (e->matching && e->on)
            lbl_keep(c->sa, l, n, e->mlabels, e->nmlabels, true, &l, &n);
        else if (e->nmlabels > 0) {
            for (size_t i = 0; i < e->nmlabels; i++)
                lbl_set(c->sa, &l, &n, e->mlabels[i], "");
        }
    } else {
        for (size_t i = 0; i < e->ninclude; i++) {
            const char *v = lbl_get(rs->l, rs->nl, e->include[i]);
            lbl_set(c->sa, &l, &n, e->include[i], v ? v : "");
        }
    }
    if (e->ret_bool)
        lbl_drop_name(c->sa, &l, &n);
    lset_memo_put(c->reg, e, ls->l, ls->nl, ol, on, &l, &n);
    out->l = l;
    out->nl = n;
}

static int
binop_vv(evctx *c, const expr *e, value *lv, value *rv, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    vec *lhs = &lv->vec, *rhs = &rv->vec;
    if (e->card == CARD_ONE_TO_MANY) {
        vec *t = lhs;
        lhs = rhs;
        rhs = t;
    }
    hmap rsig;
    hmap_init(&rsig, c->sa, rhs->n);
    for (size_t i = 0; i < rhs->n; i++) {
        bool f;
        int *slot = hmap_put(&rsig, c->sa, sig_of(c, e, &rhs->v[i]), &f);
        if (f)
            return promql_eval_fail(
                c,
                "found duplicate series for the match group on the %s hand-side "
                "of the operation;many-to-many matching not allowed: matching "
                "labels must be unique on one side",
                e->card == CARD_ONE_TO_MANY ? "left" : "right");
        *slot = (int)i;
    }
    /* one-to-one: signatures seen; otherwise: result label sets seen */
    hmap seen;
    hmap_init(&seen, c->sa, lhs->n);
    for (size_t i = 0; i < lhs->n; i++) {
        const sample *ls = &lhs->v[i];
        uint64_t sig = sig_of(c, e, ls);
        int *ri = hmap_get(&rsig, sig);
        if (ri == NULL)
            continue;
        const sample *rs = &rhs->v[*ri];
        double vl = ls->v, vr = rs->v;
        if (e->card == CARD_ONE_TO_MANY) {
            vl = rs->v;
            vr = ls->v;
        }
        bool keep;
        double v = elem_binop(e->op, vl, vr, &keep);
        if (e->ret_bool)
            v = keep ? 1 : 0;
        else if (!keep)
            continue;
        sample o = {0};
        result_metric(c, e, ls, rs, &o);
        bool f;
        if (e->card == CARD_ONE_TO_ONE) {
            hmap_put(&seen, c->sa, sig, &f);
            if (f)
                return promql_eval_fail(c, "multiple matches for labels: many-to-one matching "
                                           "must be explicit (group_left/group_right)");
        } else {
            hmap_put(&seen, c->sa, lset_hash(c->reg, o.l, o.nl) ^ (sig * 31), &f);
            if (f)
                return promql_eval_fail(
                    c, "multiple matches for labels: grouping labels must ensure unique matches");
        }
        o.t = ls->t;
        o.v = v;
        vec_push(&out->vec, c->sa, o);
    }
    return 0;
}

static int
eval_binary(evctx *c, const expr *e, int64_t t, value *out)
{
    value l = {0}, r = {0};
    int rc = promql_eval_node(c, e->lhs, t, &l);
    if (rc == 0)
        rc = promql_eval_node(c, e->rhs, t, &r);
    if (rc != 0)
        return rc;
    if (l.type == OSP_PROMQL_SCALAR && r.type == OSP_PROMQL_SCALAR) {
        bool keep;
        double v = elem_binop(e->op, l.scalar, r.scalar, &keep);
        if (is_cmp(e->op))
            v = keep ? 1 : 0;
        out->type = OSP_PROMQL_SCALAR;
        out->scalar = v;
        return 0;
    }
    if (l.type == OSP_PROMQL_VECTOR && r.type == OSP_PROMQL_SCALAR) {
        binop_vs(c, e, &l, r.scalar, false, out);
        return 0;
    }
    if (l.type == OSP_PROMQL_SCALAR && r.type == OSP_PROMQL_VECTOR) {
        binop_vs(c, e, &r, l.scalar, true, out);
        return 0;
    }
    if (e->card == CARD_MANY_TO_MANY) {
        binop_set(c, e, &l, &r, out);
        return 0;
    }
    return binop_vv(c, e, &l, &r, out);
}

/* ---- dispatch ------------------------------------------------------------------------ */

int
promql_eval_node(evctx *c, const expr *e, int64_t t, value *out)
{
    memset(out, 0, sizeof(*out));
    switch (e->kind) {
    case N_NUM:
        out->type = OSP_PROMQL_SCALAR;
        out->scalar = e->num;
        return 0;
    case N_STR:
        out->type = OSP_PROMQL_STRING;
        out->str = e->str;
        return 0;
    case N_VSEL: eval_vsel(c, e, t, out); return 0;
    case N_MSEL: eval_msel(c, e, t, out); return 0;
    case N_SUBQ: return eval_subq(c, e, t, out);
    case N_PAREN: return promql_eval_node(c, e->arg, t, out);
    case N_UNARY: {
        int rc = promql_eval_node(c, e->arg, t, out);
        if (rc != 0 || e->op != T_SUB)
            return rc;
        if (out->type == OSP_PROMQL_SCALAR) {
            out->scalar = -out->scalar;
            return 0;
        }
        for (size_t i = 0; i < out->vec.n; i++) {
            sample *s = &out->vec.v[i];
            s->v = -s->v;
            lset_drop_name(c->reg, c->sa, &s->l, &s->nl);
        }
        return 0;
    }
    case N_BIN: return eval_binary(c, e, t, out);
    case N_CALL: return promql_eval_call(c, e, t, out);
    case N_AGG: return promql_eval_agg(c, e, t, out);
    }
    return OSP_EINTERNAL;
}

/* ---- selection ----------------------------------------------------------------------- */

typedef struct window {
    int64_t lo, hi;
} window;

static int
series_ptr_cmp(const void *a, const void *b)
{
    const osp_promql_series *x = *(osp_promql_series *const *)a;
    const osp_promql_series *y = *(osp_promql_series *const *)b;
    return lbl_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

/* sort_selection: order a selection by labels, as Prometheus' merged block queriers
 * return series; ties in topk/bottomk and the order of results depend on it. */
static void
sort_selection(osp_promql_series_set *set)
{
    for (size_t i = 1; i < set->n; i++)
        if (series_ptr_cmp(&set->v[i - 1], &set->v[i]) > 0) {
            osp_qsort(set->v, set->n, sizeof(*set->v), series_ptr_cmp);
            return;
        }
}

/* Walk the tree with the range of evaluation times [lo, hi] and select each selector's
 * data once over everything any step can look at. */
static int
prefetch(evctx *c, const expr *e, window w, size_t *nsamples)
{
    int rc = 0;
    switch (e->kind) {
    case N_VSEL:
    case N_MSEL: {
        const expr *vs = e->kind == N_MSEL ? e->arg : e;
        int64_t lo = w.lo, hi = w.hi;
        if (vs->at != AT_NONE)
            lo = hi = ref_time(c, vs, 0) + vs->offset_ms;
        int64_t range = e->kind == N_MSEL ? e->range_ms : c->lookback;
        int64_t mint = lo - vs->offset_ms - range, maxt = hi - vs->offset_ms;
        if (vs->sel_idx < 0)
            return OSP_EINTERNAL;
        osp_promql_series_set *set = &c->sel[vs->sel_idx];
        if (set->n > 0 || set->cap > 0) {
            /* selected already (cannot happen: each node selects once) */
            return 0;
        }
        rc = c->src->select(c->src->ctx, vs->ms, vs->nms, mint, maxt, set, c->qa);
        if (rc != 0)
            return osp_errinfo_set(c->ei, rc, 0, 0, "select failed: %s", osp_err_str(rc));
        sort_selection(set);
        for (size_t i = 0; i < set->n; i++) {
            osp_promql_series *s = set->v[i];
            if (c->reg != NULL) {
                /* functions and operators share the tail as the labels without the name */
                lset_register(c->reg, s->labels, s->nlabels);
                if (s->nlabels > 0 && strcmp(s->labels[0].name, "__name__") == 0)
                    lset_register(c->reg, s->labels + 1, s->nlabels - 1);
            }
            *nsamples += s->npts;
            size_t k = 0;
            while (k < s->npts && !osp_promql_is_stale(s->pts[k].v))
                k++;
            s->no_stale = k == s->npts;
        }
        if (c->max_samples && *nsamples > c->max_samples)
            return osp_errinfo_set(c->ei, OSP_ELIMIT, 0, 0,
                                   "query processing would load too many samples into memory "
                                   "in query execution");
        set->cap = set->cap ? set->cap : 1;
        return 0;
    }
    case N_SUBQ: {
        window iw = w;
        if (e->at != AT_NONE)
            iw.lo = iw.hi = ref_time(c, e, 0) + e->offset_ms;
        iw.lo -= e->offset_ms + e->range_ms;
        iw.hi -= e->offset_ms;
        return prefetch(c, e->arg, iw, nsamples);
    }
    case N_PAREN:
    case N_UNARY: return prefetch(c, e->arg, w, nsamples);
    case N_BIN:
        rc = prefetch(c, e->lhs, w, nsamples);
        return rc ? rc : prefetch(c, e->rhs, w, nsamples);
    case N_AGG:
        if (e->param && (rc = prefetch(c, e->param, w, nsamples)) != 0)
            return rc;
        return prefetch(c, e->arg, w, nsamples);
    case N_CALL:
        for (size_t i = 0; i < e->nargs && rc == 0; i++)
            rc = prefetch(c, e->args[i], w, nsamples);
        return rc;
    case N_NUM:
    case N_STR: return 0;
    }
    return 0;
}

static int
sample_cmp(const void *a, const void *b)
{
    const osp_promql_series *x = a, *y = b;
    return lbl_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

static osp_label *
copy_labels(osp_arena *a, const osp_label *l, size_t n)
{
    osp_label *r = osp_arena_alloc(a, (n ? n : 1) * sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        r[i].name = osp_arena_strndup(a, l[i].name, strlen(l[i].name));
        r[i].value = osp_arena_strndup(a, l[i].value, strlen(l[i].value));
    }
    return r;
}

static int
run(const expr *e, const osp_promql_source *src, int64_t start, int64_t end, int64_t step,
    bool range, const osp_promql_opts *opts, osp_promql_result **out, osp_errinfo *ei)
{
    evctx c = {0};
    c.src = src;
    c.start = start;
    c.end = end;
    c.interval = step;
    c.lookback = opts && opts->lookback_ms > 0 ? opts->lookback_ms : DEFAULT_LOOKBACK_MS;
    c.max_samples = opts && opts->max_samples ? opts->max_samples : DEFAULT_MAX_SAMPLES;
    if (opts && opts->timeout_ms > 0)
        c.deadline_ns = osp_mono_ns() + opts->timeout_ms * 1000000;
    c.ei = ei;
    c.qa = osp_arena_new(0);
    c.sa = osp_arena_new(0);
    c.sel = osp_arena_calloc(c.qa, (size_t)(e->nsel > 0 ? e->nsel : 1) * sizeof(*c.sel));
    if (range && end > start)
        c.reg = lset_reg_new(c.qa);
    osp_promql_result *r = osp_calloc(1, sizeof(*r));
    r->arena = c.qa;
    size_t nsamples = 0;
    hmap idx;
    hmap_init(&idx, c.qa, 16);
    size_t cap = 0;
    void **hints = NULL; /* per position in a step's vector: lset_out's guess */
    size_t nhints = 0;
    int rc = prefetch(&c, e, (window){start, end}, &nsamples);
    for (int64_t t = start; rc == 0 && t <= end; t += step) {
        c.nsamples = nsamples;
        if (c.deadline_ns && osp_mono_ns() > c.deadline_ns) {
            rc = osp_errinfo_set(ei, OSP_ETIMEDOUT, 0, 0,
                                 "query timed out in expression evaluation");
            break;
        }
        osp_arena_reset(c.sa);
        value v;
        if ((rc = promql_eval_node(&c, e, t, &v)) != 0)
            break;
        if (!range && v.type == OSP_PROMQL_VECTOR && (rc = promql_check_unique(&c, &v.vec)) != 0)
            break;
        if (!range) {
            r->type = v.type;
            r->t_ms = t;
            if (v.type == OSP_PROMQL_SCALAR) {
                r->scalar = v.scalar;
            } else if (v.type == OSP_PROMQL_STRING) {
                r->str = osp_arena_strndup(c.qa, v.str, strlen(v.str));
            } else if (v.type == OSP_PROMQL_VECTOR) {
                r->nseries = v.vec.n;
                r->series = osp_arena_calloc(c.qa, (v.vec.n ? v.vec.n : 1) * sizeof(*r->series));
                for (size_t i = 0; i < v.vec.n; i++) {
                    osp_promql_series *s = &r->series[i];
                    s->labels = copy_labels(c.qa, v.vec.v[i].l, v.vec.v[i].nl);
                    s->nlabels = v.vec.v[i].nl;
                    osp_promql_series_push(s, c.qa, t, v.vec.v[i].v);
                }
            } else {
                r->nseries = v.mat.n;
                r->series = osp_arena_calloc(c.qa, (v.mat.n ? v.mat.n : 1) * sizeof(*r->series));
                for (size_t i = 0; i < v.mat.n; i++) {
                    osp_promql_series *s = &r->series[i];
                    s->labels = copy_labels(c.qa, v.mat.v[i].l, v.mat.v[i].nl);
                    s->nlabels = v.mat.v[i].nl;
                    for (size_t j = 0; j < v.mat.v[i].n; j++)
                        osp_promql_series_push(s, c.qa, v.mat.v[i].p[j].t, v.mat.v[i].p[j].v);
                }
                osp_qsort(r->series, r->nseries, sizeof(*r->series), sample_cmp);
            }
            break;
        }
        r->type = OSP_PROMQL_MATRIX;
        size_t nv = v.type == OSP_PROMQL_SCALAR ? 1 : v.vec.n;
        if (nv > nhints) {
            void **nh = osp_arena_calloc(c.qa, nv * sizeof(*nh));
            if (nhints)
                memcpy(nh, hints, nhints * sizeof(*nh));
            hints = nh;
            nhints = nv;
        }
        for (size_t i = 0; i < nv && rc == 0; i++) {
            sample s = v.type == OSP_PROMQL_SCALAR ? (sample){NULL, 0, t, v.scalar} : v.vec.v[i];
            int *known = lset_out(c.reg, s.l, s.nl, &hints[i]);
            int slot;
            if (known != NULL && *known > 0) {
                slot = *known - 1;
            } else {
                bool found;
                int *p = hmap_put(&idx, c.qa, lset_hash(c.reg, s.l, s.nl), &found);
                if (!found) {
                    if (r->nseries == cap) {
                        cap = cap ? cap * 2 : 16;
                        osp_promql_series *ns = osp_arena_calloc(c.qa, cap * sizeof(*ns));
                        if (r->nseries)
                            memcpy(ns, r->series, r->nseries * sizeof(*ns));
                        r->series = ns;
                    }
                    *p = (int)r->nseries;
                    osp_promql_series *os = &r->series[r->nseries++];
                    os->labels = copy_labels(c.qa, s.l, s.nl);
                    os->nlabels = s.nl;
                }
                slot = *p;
                if (known != NULL)
                    *known = slot + 1;
            }
            osp_promql_series *os = &r->series[slot];
            /* two samples of one step in one series: promql_check_unique's verdict */
            if (os->npts > 0 && os->pts[os->npts - 1].t == t)
                rc = promql_eval_fail(&c, "vector cannot contain metrics with the same labelset");
            else
                osp_promql_series_push(os, c.qa, t, s.v);
        }
    }
    osp_arena_free(c.sa);
    if (rc != 0) {
        osp_promql_result_free(r);
        return rc;
    }
    if (range && r->nseries > 1) /* osp_qsort(NULL, 0) is undefined */
        osp_qsort(r->series, r->nseries, sizeof(*r->series), sample_cmp);
    *out = r;
    return 0;
}

int
osp_promql_eval_instant(const osp_promql_expr *e, const osp_promql_source *src, int64_t t_ms,
                        const osp_promql_opts *opts, osp_promql_result **out, osp_errinfo *ei)
{
    return run(e, src, t_ms, t_ms, 1, false, opts, out, ei);
}

int
osp_promql_eval_range(const osp_promql_expr *e, const osp_promql_source *src, int64_t start_ms,
                      int64_t end_ms, int64_t step_ms, const osp_promql_opts *opts,
                      osp_promql_result **out, osp_errinfo *ei)
{
    if (e->type != OSP_PROMQL_SCALAR && e->type != OSP_PROMQL_VECTOR)
        return osp_errinfo_set(ei, OSP_EPARSE, 0, 0,
                               "invalid expression type \"%s\" for range query, must be Scalar "
                               "or instant Vector",
                               e->type == OSP_PROMQL_MATRIX ? "range vector" : "string");
    if (step_ms <= 0)
        return osp_errinfo_set(ei, OSP_EPARSE, 0, 0,
                               "zero or negative query resolution step widths are not accepted. "
                               "Try a positive integer");
    if (end_ms < start_ms)
        return osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "end timestamp must not be before start time");
    return run(e, src, start_ms, end_ms, step_ms, true, opts, out, ei);
}
