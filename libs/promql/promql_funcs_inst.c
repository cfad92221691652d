/* promql_funcs_inst.c - PromQL functions over instant vectors and scalars: math, clamp,
 * dates, labels, sort, absent, histogram_quantile. */
#include "promql_funcs.h"
#include "osp_mem.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static double
simple(const char *n, double v, double arg)
{
    switch (n[0]) {
    case 'a':
        if (strcmp(n, "abs") == 0)
            return fabs(v);
        if (strcmp(n, "acos") == 0)
            return acos(v);
        if (strcmp(n, "acosh") == 0)
            return acosh(v);
        if (strcmp(n, "asin") == 0)
            return asin(v);
        if (strcmp(n, "asinh") == 0)
            return asinh(v);
        if (strcmp(n, "atan") == 0)
            return atan(v);
        if (strcmp(n, "atanh") == 0)
            return atanh(v);
        break;
    case 'c':
        if (strcmp(n, "ceil") == 0)
            return ceil(v);
        if (strcmp(n, "cos") == 0)
            return cos(v);
        if (strcmp(n, "cosh") == 0)
            return cosh(v);
        break;
    case 'd': return v * 180 / M_PI;
    case 'e': return exp(v);
    case 'f': return floor(v);
    case 'l':
        if (strcmp(n, "ln") == 0)
            return log(v);
        if (strcmp(n, "log2") == 0)
            return log2(v);
        if (strcmp(n, "log10") == 0)
            return log10(v);
        break;
    case 'r':
        if (strcmp(n, "rad") == 0)
            return v * M_PI / 180;
        if (strcmp(n, "round") == 0) {
            double inv = 1.0 / arg;
            return floor(v * inv + 0.5) / inv;
        }
        break;
    case 's':
        if (strcmp(n, "sgn") == 0)
            return v > 0 ? 1 : v < 0 ? -1 : v;
        if (strcmp(n, "sin") == 0)
            return sin(v);
        if (strcmp(n, "sinh") == 0)
            return sinh(v);
        if (strcmp(n, "sqrt") == 0)
            return sqrt(v);
        break;
    case 't':
        if (strcmp(n, "tan") == 0)
            return tan(v);
        if (strcmp(n, "tanh") == 0)
            return tanh(v);
        break;
    default: break;
    }
    return NAN;
}

int
promql_call_simple(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    double arg = e->nargs > 1 ? args[1].scalar : 1;
    out->type = OSP_PROMQL_VECTOR;
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        s.v = simple(e->fn->name, s.v, arg);
        lset_drop_name(c->reg, c->sa, &s.l, &s.nl);
        vec_push(&out->vec, c->sa, s);
    }
    return 0;
}

/* Go's math.Max/Min: NaN wins */
static double
go_max(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmax(a, b);
}

static double
go_min(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : fmin(a, b);
}

int
promql_call_clamp(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    double lo = -INFINITY, hi = INFINITY;
    if (strcmp(e->fn->name, "clamp") == 0) {
        lo = args[1].scalar;
        hi = args[2].scalar;
    } else if (strcmp(e->fn->name, "clamp_min") == 0) {
        lo = args[1].scalar;
    } else {
        hi = args[1].scalar;
    }
    out->type = OSP_PROMQL_VECTOR;
    if (hi < lo)
        return 0;
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        s.v = go_max(lo, go_min(hi, s.v));
        lset_drop_name(c->reg, c->sa, &s.l, &s.nl);
        vec_push(&out->vec, c->sa, s);
    }
    return 0;
}

static double
date_part(const char *n, double v)
{
    time_t tt = (time_t)(int64_t)v;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (strcmp(n, "day_of_month") == 0)
        return tm.tm_mday;
    if (strcmp(n, "day_of_week") == 0)
        return tm.tm_wday;
    if (strcmp(n, "day_of_year") == 0)
        return tm.tm_yday + 1;
    if (strcmp(n, "hour") == 0)
        return tm.tm_hour;
    if (strcmp(n, "minute") == 0)
        return tm.tm_min;
    if (strcmp(n, "month") == 0)
        return tm.tm_mon + 1;
    if (strcmp(n, "year") == 0)
        return tm.tm_year + 1900;
    if (strcmp(n, "days_in_month") == 0) {
        static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int y = tm.tm_year + 1900;
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return dm[tm.tm_mon] + (tm.tm_mon == 1 && leap ? 1 : 0);
    }
    return NAN;
}

int
promql_call_date(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    if (e->nargs == 0) {
        sample s = {NULL, 0, t, date_part(e->fn->name, (double)t / 1000)};
        vec_push(&out->vec, c->sa, s);
        return 0;
    }
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        if (isnan(s.v) || isinf(s.v))
            continue;
        s.v = date_part(e->fn->name, s.v);
        lset_drop_name(c->reg, c->sa, &s.l, &s.nl);
        vec_push(&out->vec, c->sa, s);
    }
    return 0;
}

int
promql_call_scalarfn(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    out->type = OSP_PROMQL_SCALAR;
    if (strcmp(e->fn->name, "pi") == 0)
        out->scalar = M_PI;
    else if (strcmp(e->fn->name, "time") == 0)
        out->scalar = (double)t / 1000;
    else
        out->scalar = args[0].vec.n == 1 ? args[0].vec.v[0].v : NAN;
    return 0;
}

int
promql_call_vector(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    vec_push(&out->vec, c->sa, (sample){NULL, 0, t, args[0].scalar});
    return 0;
}

int
promql_call_timestamp(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    const expr *a = e->args[0];
    while (a->kind == N_PAREN)
        a = a->arg;
    bool sel = a->kind == N_VSEL;
    out->type = OSP_PROMQL_VECTOR;
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        s.v = (double)(sel ? s.t : t) / 1000;
        lset_drop_name(c->reg, c->sa, &s.l, &s.nl);
        vec_push(&out->vec, c->sa, s);
    }
    return 0;
}

static int
cmp_asc(const void *a, const void *b)
{
    double x = ((const sample *)a)->v, y = ((const sample *)b)->v;
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x < y ? -1 : x > y;
}

static int
cmp_desc(const void *a, const void *b)
{
    double x = ((const sample *)a)->v, y = ((const sample *)b)->v;
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x > y ? -1 : x < y;
}

int
promql_call_sort(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    *out = args[0];
    osp_qsort(out->vec.v, out->vec.n, sizeof(sample),
              strcmp(e->fn->name, "sort") == 0 ? cmp_asc : cmp_desc);
    return 0;
}

int
promql_absent(evctx *c, const expr *e, int64_t t, bool instant, value *out)
{
    out->type = OSP_PROMQL_VECTOR;
    if (out->vec.n > 0) {
        out->vec.n = 0;
        return 0;
    }
    const expr *a = e->args[0];
    while (a->kind == N_PAREN)
        a = a->arg;
    if (a->kind == N_MSEL)
        a = a->arg;
    osp_label *l = NULL;
    size_t n = 0;
    if (a->kind == N_VSEL) {
        const char **dup = osp_arena_alloc(c->sa, (a->nms + 1) * sizeof(char *));
        size_t nd = 0;
        for (size_t i = 0; i < a->nms; i++) {
            const osp_matcher *m = &a->ms[i];
            if (strcmp(m->name, "__name__") == 0)
                continue;
            bool seen = false;
            for (size_t j = 0; j < nd; j++)
                if (strcmp(dup[j], m->name) == 0)
                    seen = true;
            dup[nd++] = m->name;
            if (m->type == OSP_MATCH_EQ && !seen)
                lbl_set(c->sa, &l, &n, m->name, m->value);
            else
                lbl_set(c->sa, &l, &n, m->name, "");
        }
    }
    vec_push(&out->vec, c->sa, (sample){l, n, t, 1});
    return 0;
}

int
promql_call_absent(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    out->vec = args[0].vec;
    return promql_absent(c, e, t, true, out);
}

/* ---- labels ------------------------------------------------------------------------- */

static bool
valid_label_name(const char *s)
{
    return osp_label_name_valid(s, strlen(s));
}

int
promql_call_label_join(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    const char *dst = args[1].str, *sep = args[2].str;
    if (!valid_label_name(dst))
        return promql_eval_fail(c, "invalid destination label name in label_join(): %s", dst);
    for (size_t k = 3; k < e->nargs; k++)
        if (!valid_label_name(args[k].str))
            return promql_eval_fail(c, "invalid source label name in label_join(): %s",
                                    args[k].str);
    out->type = OSP_PROMQL_VECTOR;
    osp_buf b;
    osp_buf_init(&b);
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        osp_buf_reset(&b);
        for (size_t k = 3; k < e->nargs; k++) {
            if (k > 3)
                osp_buf_puts(&b, sep);
            const char *v = lbl_get(s.l, s.nl, args[k].str);
            osp_buf_puts(&b, v ? v : "");
        }
        lbl_set(c->sa, &s.l, &s.nl, dst, osp_arena_strndup(c->sa, osp_buf_cstr(&b), b.len));
        vec_push(&out->vec, c->sa, s);
    }
    osp_buf_fini(&b);
    return 0;
}

/* Go's Regexp.ExpandString: $1, ${1}, $name, ${name}, $$. */
static void
expand(osp_buf *b, const char *tmpl, pcre2_code *re, const char *subj, const PCRE2_SIZE *ov,
       int ngroups)
{
    for (const char *p = tmpl; *p;) {
        if (*p != '$') {
            osp_buf_putc(b, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            osp_buf_putc(b, '$');
            p++;
            continue;
        }
        const char *ns = p, *ne;
        bool brace = *p == '{';
        if (brace)
            ns = ++p;
        ne = ns;
        while (isalnum((unsigned char)*ne) || *ne == '_')
            ne++;
        if (ne == ns || (brace && *ne != '}')) {
            osp_buf_putc(b, '$');
            p = brace ? ns - 1 : ns;
            continue;
        }
        p = brace ? ne + 1 : ne;
        char name[64];
        size_t nl = (size_t)(ne - ns);
        if (nl >= sizeof name)
            continue;
        memcpy(name, ns, nl);
        name[nl] = '\0';
        int g = -1;
        bool num = true;
        for (size_t i = 0; i < nl; i++)
            if (!isdigit((unsigned char)name[i]))
                num = false;
        if (num)
            g = nl < 6 ? atoi(name) : -1;
        else
            g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
        if (g < 0 || g >= ngroups || ov[2 * g] == PCRE2_UNSET)
            continue;
        osp_buf_append(b, subj + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
}

static void
free_code(void *p)
{
    pcre2_code_free((pcre2_code *)p);
}

static void
free_md(void *p)
{
    pcre2_match_data_free((pcre2_match_data *)p);
}

int
promql_call_label_replace(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    const char *dst = args[1].str, *repl = args[2].str, *src = args[3].str, *rx = args[4].str;
    size_t rn = strlen(rx);
    char *pat = osp_arena_alloc(c->sa, rn + 8);
    memcpy(pat, "^(?:", 4);
    memcpy(pat + 4, rx, rn);
    memcpy(pat + 4 + rn, ")$", 3);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                   PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
    if (re == NULL)
        return promql_eval_fail(c, "invalid regular expression in label_replace(): %s", rx);
    osp_arena_defer(c->sa, free_code, re);
    if (!valid_label_name(dst))
        return promql_eval_fail(c, "invalid destination label name in label_replace(): %s", dst);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    osp_arena_defer(c->sa, free_md, md);
    out->type = OSP_PROMQL_VECTOR;
    osp_buf b;
    osp_buf_init(&b);
    for (size_t i = 0; i < args[0].vec.n; i++) {
        sample s = args[0].vec.v[i];
        const char *sv = lbl_get(s.l, s.nl, src);
        if (sv == NULL)
            sv = "";
        int rc = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
        if (rc >= 0) {
            osp_buf_reset(&b);
            expand(&b, repl, re, sv, pcre2_get_ovector_pointer(md),
                   (int)pcre2_get_ovector_count(md));
            lbl_set(c->sa, &s.l, &s.nl, dst, osp_arena_strndup(c->sa, osp_buf_cstr(&b), b.len));
        }
        vec_push(&out->vec, c->sa, s);
    }
    osp_buf_fini(&b);
    return 0;
}

/* ---- histogram_quantile -------------------------------------------------------------- */

typedef struct bucket {
    double ub, count;
    const char *le;
} bucket;

static int
bucket_cmp(const void *a, const void *b)
{
    double x = ((const bucket *)a)->ub, y = ((const bucket *)b)->ub;
    return x < y ? -1 : x > y;
}

static double
bucket_quantile(double q, bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    osp_qsort(b, n, sizeof(bucket), bucket_cmp);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0)
        return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && b[k - 1].ub == b[i].ub)
            b[k - 1].count += b[i].count;
        else
            b[k++] = b[i];
    }
    n = k;
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
    if (n < 2)
        return NAN;
    double obs = b[n - 1].count;
    if (obs == 0)
        return NAN;
    double rank = q * obs;
    size_t i = 0;
    while (i < n - 1 && !(b[i].count >= rank))
        i++;
    if (i == n - 1)
        return b[n - 2].ub;
    if (i == 0 && b[0].ub <= 0)
        return b[0].ub;
    double start = 0, end = b[i].ub, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].ub;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

int
promql_call_histogram_quantile(evctx *c, const expr *e, int64_t t, value *args, value *out)
{
    double q = args[0].scalar;
    const vec *in = &args[1].vec;
    out->type = OSP_PROMQL_VECTOR;
    hmap idx;
    hmap_init(&idx, c->sa, in->n);
    bucket **bs = osp_arena_alloc(c->sa, (in->n + 1) * sizeof(*bs));
    size_t *bn = osp_arena_calloc(c->sa, (in->n + 1) * sizeof(size_t));
    size_t ng = 0;
    static const char *const excl[] = {"__name__", "le"};
    for (size_t i = 0; i < in->n; i++) {
        const sample *s = &in->v[i];
        const char *le = lbl_get(s->l, s->nl, "le");
        double ub;
        if (le == NULL || osp_parse_double(osp_str_c(le), &ub) != 0)
            continue;
        bool found;
        uint64_t sig = lset_sig(c->reg, e, s->l, s->nl, (const char **)excl, 2, false);
        int *slot = hmap_put(&idx, c->sa, sig, &found);
        if (!found) {
            *slot = (int)ng;
            sample m = {NULL, 0, t, 0};
            if (!lset_memo_get(c->reg, e, s->l, s->nl, NULL, 0, &m.l, &m.nl)) {
                lbl_keep(c->sa, s->l, s->nl, (const char **)excl, 2, false, &m.l, &m.nl);
                lset_memo_put(c->reg, e, s->l, s->nl, NULL, 0, &m.l, &m.nl);
            }
            vec_push(&out->vec, c->sa, m);
            bs[ng] = osp_arena_alloc(c->sa, in->n * sizeof(bucket));
            ng++;
        }
        for (size_t j = 0; j < bn[*slot]; j++)
            if (strcmp(bs[*slot][j].le, le) == 0)
                return promql_eval_fail(c, "vector cannot contain metrics with the same labelset");
        bs[*slot][bn[*slot]++] = (bucket){ub, s->v, le};
    }
    for (size_t g = 0; g < ng; g++)
        out->vec.v[g].v = bucket_quantile(q, bs[g], bn[g]);
    return 0;
}
