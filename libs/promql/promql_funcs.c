/* promql_funcs.c - PromQL functions over range vectors (rate and friends, *_over_time)
 * and the function table; instant-vector functions are in promql_funcs_inst.c. */
#include "promql_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql_funcs.h"
#include "osp_mem.h"

double
promql_kahan_inc(double inc, double sum, double *c)
{
    double t = sum + inc;
    if (fabs(sum) >= fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

/* The window (ref, range) the matrix argument a of a call covers at time t. */
static void
matrix_window(evctx *c, const expr *a, int64_t t, int64_t *start, int64_t *end, int64_t *range)
{
    while (a->kind == N_PAREN)
        a = a->arg;
    const expr *x = a->kind == N_MSEL ? a->arg : a;
    int64_t ref = t;
    switch (x->at) {
    case AT_TS: ref = x->at_ms; break;
    case AT_START: ref = c->start; break;
    case AT_END: ref = c->end; break;
    case AT_NONE: break;
    }
    ref -= x->offset_ms;
    *end = ref;
    *range = a->range_ms;
    *start = ref - a->range_ms;
}

static bool
extrapolated_rate(const mser *s, int64_t rs, int64_t re, int64_t range, bool counter, bool rate,
                  double *out)
{
    if (s->n < 2)
        return false;
    const osp_promql_point *p = s->p;
    size_t n = s->n;
    double result = p[n - 1].v - p[0].v;
    if (counter) {
        double last = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i].v < last)
                result += last;
            last = p[i].v;
        }
    }
    double to_start = (double)(p[0].t - rs) / 1000;
    double to_end = (double)(re - p[n - 1].t) / 1000;
    double sampled = (double)(p[n - 1].t - p[0].t) / 1000;
    double avg = sampled / (double)(n - 1);
    if (counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double thr = avg * 1.1;
    double interval = sampled;
    interval += to_start < thr ? to_start : avg / 2;
    interval += to_end < thr ? to_end : avg / 2;
    result = result * (interval / sampled);
    if (rate)
        result /= (double)range / 1000;
    *out = result;
    return true;
}

static bool
instant_value(const mser *s, bool rate, double *out)
{
    if (s->n < 2)
        return false;
    osp_promql_point last = s->p[s->n - 1], prev = s->p[s->n - 2];
    double r = rate && last.v < prev.v ? last.v : last.v - prev.v;
    int64_t iv = last.t - prev.t;
    if (iv == 0)
        return false;
    if (rate)
        r /= (double)iv / 1000;
    *out = r;
    return true;
}

static void
linreg(const mser *s, int64_t tbase, double *slope, double *icept)
{
    double n = 0, sx = 0, sy = 0, sxy = 0, sx2 = 0;
    double cx = 0, cy = 0, cxy = 0, cx2 = 0;
    double inity = s->p[0].v;
    bool consty = true;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        if (consty && i > 0 && v != inity)
            consty = false;
        n += 1;
        double x = (double)(s->p[i].t - tbase) / 1e3;
        sx = promql_kahan_inc(x, sx, &cx);
        sy = promql_kahan_inc(v, sy, &cy);
        sxy = promql_kahan_inc(x * v, sxy, &cxy);
        sx2 = promql_kahan_inc(x * x, sx2, &cx2);
    }
    if (consty) {
        if (isinf(inity)) {
            *slope = *icept = NAN;
            return;
        }
        *slope = 0;
        *icept = inity;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *icept = sy / n - *slope * sx / n;
}

static int
vcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x))
        return isnan(y) ? 0 : -1;
    if (isnan(y))
        return 1;
    return x < y ? -1 : x > y;
}

double
promql_quantile(double q, double *v, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    osp_qsort(v, n, sizeof(double), vcmp);
    double rank = q * (double)(n - 1);
    double lo = fmax(0, floor(rank));
    double hi = fmin((double)n - 1, lo + 1);
    double w = rank - floor(rank);
    return v[(size_t)lo] * (1 - w) + v[(size_t)hi] * w;
}

static double
over_time(const char *name, const mser *s, double q, osp_arena *a)
{
    const osp_promql_point *p = s->p;
    size_t n = s->n;
    if (strcmp(name, "sum_over_time") == 0) {
        double sum = 0, c = 0;
        for (size_t i = 0; i < n; i++)
            sum = promql_kahan_inc(p[i].v, sum, &c);
        return isinf(sum) ? sum : sum + c;
    }
    if (strcmp(name, "avg_over_time") == 0) {
        double mean = 0, count = 0, c = 0;
        for (size_t i = 0; i < n; i++) {
            double v = p[i].v;
            count++;
            if (isinf(mean)) {
                if (isinf(v) && (mean > 0) == (v > 0))
                    continue;
                if (!isinf(v) && !isnan(v))
                    continue;
            }
            mean = promql_kahan_inc(v / count - mean / count, mean, &c);
        }
        return isinf(mean) ? mean : mean + c;
    }
    if (strcmp(name, "count_over_time") == 0)
        return (double)n;
    if (strcmp(name, "min_over_time") == 0 || strcmp(name, "max_over_time") == 0) {
        bool mn = name[1] == 'i';
        double r = p[0].v;
        for (size_t i = 0; i < n; i++)
            if ((mn ? p[i].v < r : p[i].v > r) || isnan(r))
                r = p[i].v;
        return r;
    }
    if (strcmp(name, "last_over_time") == 0)
        return p[n - 1].v;
    if (strcmp(name, "present_over_time") == 0)
        return 1;
    if (strcmp(name, "quantile_over_time") == 0) {
        double *v = osp_arena_alloc(a, n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            v[i] = p[i].v;
        return promql_quantile(q, v, n);
    }
    if (strncmp(name, "std", 3) == 0) {
        double count = 0, mean = 0, cm = 0, aux = 0, ca = 0;
        for (size_t i = 0; i < n; i++) {
            count++;
            double d = p[i].v - (mean + cm);
            mean = promql_kahan_inc(d / count, mean, &cm);
            aux = promql_kahan_inc(d * (p[i].v - (mean + cm)), aux, &ca);
        }
        double var = (aux + ca) / count;
        return strcmp(name, "stddev_over_time") == 0 ? sqrt(var) : var;
    }
    if (strcmp(name, "changes") == 0 || strcmp(name, "resets") == 0) {
        bool ch = name[0] == 'c';
        double r = 0;
        for (size_t i = 1; i < n; i++) {
            double a0 = p[i - 1].v, b0 = p[i].v;
            if (ch ? (b0 != a0 && !(isnan(a0) && isnan(b0))) : b0 < a0)
                r++;
        }
        return r;
    }
    return NAN;
}

static double
holt_winters(const mser *s, double sf, double tf)
{
    size_t l = s->n;
    double s0 = 0, s1 = s->p[0].v, b = s->p[1].v - s->p[0].v;
    for (size_t i = 1; i < l; i++) {
        double x = sf * s->p[i].v;
        if (i - 1 > 0)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    return s1;
}

int
promql_call_matrix(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    const char *name = e->fn->name;
    int mi = strcmp(name, "quantile_over_time") == 0 ? 1 : 0;
    const mat *m = &args[mi].mat;
    int64_t rs, re, range;
    matrix_window(c, e->args[mi], t, &rs, &re, &range);
    out->type = OSP_PROMQL_VECTOR;
    if (strcmp(name, "holt_winters") == 0) {
        double sf = args[1].scalar, tf = args[2].scalar;
        if (sf <= 0 || sf >= 1)
            return promql_eval_fail(c, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f",
                                    sf);
        if (tf <= 0 || tf >= 1)
            return promql_eval_fail(c, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
    }
    /* the function is resolved once, not per series */
    enum {
        F_RATE,
        F_INCREASE,
        F_DELTA,
        F_IRATE,
        F_IDELTA,
        F_DERIV,
        F_PREDICT,
        F_HW,
        F_ABSENT,
        F_OTHER
    } f = F_OTHER;
    static const char *const fnames[] = {"rate",           "increase",     "delta",
                                         "irate",          "idelta",       "deriv",
                                         "predict_linear", "holt_winters", "absent_over_time"};
    for (int k = 0; k < (int)(sizeof fnames / sizeof fnames[0]); k++)
        if (strcmp(name, fnames[k]) == 0)
            f = k;
    if (f == F_ABSENT) {
        for (size_t i = 0; i < m->n; i++)
            if (m->v[i].n > 0)
                return 0;
        return promql_absent(c, e, t, false, out);
    }
    bool keep_name = strcmp(name, "last_over_time") == 0;
    for (size_t i = 0; i < m->n; i++) {
        const mser *s = &m->v[i];
        double v = 0, sl, ic;
        bool ok = true;
        if (s->n == 0)
            continue;
        switch (f) {
        case F_RATE: ok = extrapolated_rate(s, rs, re, range, true, true, &v); break;
        case F_INCREASE: ok = extrapolated_rate(s, rs, re, range, true, false, &v); break;
        case F_DELTA: ok = extrapolated_rate(s, rs, re, range, false, false, &v); break;
        case F_IRATE: ok = instant_value(s, true, &v); break;
        case F_IDELTA: ok = instant_value(s, false, &v); break;
        case F_DERIV:
            ok = s->n >= 2;
            if (ok)
                linreg(s, s->p[0].t, &v, &ic);
            break;
        case F_PREDICT:
            ok = s->n >= 2;
            if (ok) {
                linreg(s, t, &sl, &ic);
                v = sl * args[1].scalar + ic;
            }
            break;
        case F_HW:
            ok = s->n >= 2;
            if (ok)
                v = holt_winters(s, args[1].scalar, args[2].scalar);
            break;
        default: v = over_time(name, s, mi ? args[0].scalar : 0, c->sa); break;
        }
        if (!ok)
            continue;
        sample o = {s->l, s->nl, t, v};
        if (!keep_name)
            lset_drop_name(c->reg, c->sa, &o.l, &o.nl);
        vec_push(&out->vec, c->sa, o);
    }
    return 0;
}

#define S OSP_PROMQL_SCALAR
#define V OSP_PROMQL_VECTOR
#define M OSP_PROMQL_MATRIX
#define STR OSP_PROMQL_STRING

static const func_def funcs[] = {
    {"abs", {V}, 1, 1, V, promql_call_simple},
    {"absent", {V}, 1, 1, V, promql_call_absent},
    {"absent_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"acos", {V}, 1, 1, V, promql_call_simple},
    {"acosh", {V}, 1, 1, V, promql_call_simple},
    {"asin", {V}, 1, 1, V, promql_call_simple},
    {"asinh", {V}, 1, 1, V, promql_call_simple},
    {"atan", {V}, 1, 1, V, promql_call_simple},
    {"atanh", {V}, 1, 1, V, promql_call_simple},
    {"avg_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"ceil", {V}, 1, 1, V, promql_call_simple},
    {"changes", {M}, 1, 1, V, promql_call_matrix},
    {"clamp", {V, S, S}, 3, 3, V, promql_call_clamp},
    {"clamp_max", {V, S}, 2, 2, V, promql_call_clamp},
    {"clamp_min", {V, S}, 2, 2, V, promql_call_clamp},
    {"cos", {V}, 1, 1, V, promql_call_simple},
    {"cosh", {V}, 1, 1, V, promql_call_simple},
    {"count_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"day_of_month", {V}, 0, 1, V, promql_call_date},
    {"day_of_week", {V}, 0, 1, V, promql_call_date},
    {"day_of_year", {V}, 0, 1, V, promql_call_date},
    {"days_in_month", {V}, 0, 1, V, promql_call_date},
    {"deg", {V}, 1, 1, V, promql_call_simple},
    {"delta", {M}, 1, 1, V, promql_call_matrix},
    {"deriv", {M}, 1, 1, V, promql_call_matrix},
    {"exp", {V}, 1, 1, V, promql_call_simple},
    {"floor", {V}, 1, 1, V, promql_call_simple},
    {"histogram_quantile", {S, V}, 2, 2, V, promql_call_histogram_quantile},
    {"holt_winters", {M, S, S}, 3, 3, V, promql_call_matrix},
    {"hour", {V}, 0, 1, V, promql_call_date},
    {"idelta", {M}, 1, 1, V, promql_call_matrix},
    {"increase", {M}, 1, 1, V, promql_call_matrix},
    {"irate", {M}, 1, 1, V, promql_call_matrix},
    {"label_join", {V, STR, STR, STR}, 3, -1, V, promql_call_label_join},
    {"label_replace", {V, STR, STR, STR}, 5, 5, V, promql_call_label_replace},
    {"last_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"ln", {V}, 1, 1, V, promql_call_simple},
    {"log10", {V}, 1, 1, V, promql_call_simple},
    {"log2", {V}, 1, 1, V, promql_call_simple},
    {"max_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"min_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"minute", {V}, 0, 1, V, promql_call_date},
    {"month", {V}, 0, 1, V, promql_call_date},
    {"pi", {S}, 0, 0, S, promql_call_scalarfn},
    {"predict_linear", {M, S}, 2, 2, V, promql_call_matrix},
    {"present_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"quantile_over_time", {S, M}, 2, 2, V, promql_call_matrix},
    {"rad", {V}, 1, 1, V, promql_call_simple},
    {"rate", {M}, 1, 1, V, promql_call_matrix},
    {"resets", {M}, 1, 1, V, promql_call_matrix},
    {"round", {V, S}, 1, 2, V, promql_call_simple},
    {"scalar", {V}, 1, 1, S, promql_call_scalarfn},
    {"sgn", {V}, 1, 1, V, promql_call_simple},
    {"sin", {V}, 1, 1, V, promql_call_simple},
    {"sinh", {V}, 1, 1, V, promql_call_simple},
    {"sort", {V}, 1, 1, V, promql_call_sort},
    {"sort_desc", {V}, 1, 1, V, promql_call_sort},
    {"sqrt", {V}, 1, 1, V, promql_call_simple},
    {"stddev_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"stdvar_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"sum_over_time", {M}, 1, 1, V, promql_call_matrix},
    {"tan", {V}, 1, 1, V, promql_call_simple},
    {"tanh", {V}, 1, 1, V, promql_call_simple},
    {"time", {S}, 0, 0, S, promql_call_scalarfn},
    {"timestamp", {V}, 1, 1, V, promql_call_timestamp},
    {"vector", {S}, 1, 1, V, promql_call_vector},
    {"year", {V}, 0, 1, V, promql_call_date},
};

const func_def *
promql_func_lookup(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
        if (strlen(funcs[i].name) == n && memcmp(funcs[i].name, name, n) == 0)
            return &funcs[i];
    return NULL;
}

int
promql_eval_call(evctx *c, const expr *e, int64_t t, value *out)
{
    value args[8];
    value *av = e->nargs <= 8 ? args : osp_arena_alloc(c->sa, e->nargs * sizeof(value));
    for (size_t i = 0; i < e->nargs; i++) {
        int rc = promql_eval_node(c, e->args[i], t, &av[i]);
        if (rc != 0)
            return rc;
    }
    memset(out, 0, sizeof(*out));
    return e->fn->call(c, e, t, av, out);
}
