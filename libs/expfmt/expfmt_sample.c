/* expfmt_sample.c - one sample line: name, label set, value, timestamp and
 * (OpenMetrics) exemplar; labels are resolved, checked and handed over
 * without allocating per sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt_int.h"
#include "osp_mem.h"

static bool
metric_char(char c, bool first)
{
    return xf_is(c, first ? XF_C_MFIRST : XF_C_MREST);
}

static bool
label_char(char c, bool first)
{
    return xf_is(c, first ? XF_C_LFIRST : XF_C_LREST);
}

static const char *
skip_blanks(const char *s, const char *end)
{
    while (s < end && xf_blank(*s))
        s++;
    return s;
}

static const char *
token_end(const char *s, const char *end)
{
    while (s < end && !xf_blank(*s))
        s++;
    return s;
}

static void
push_label(xf_parser *p, xf_piece name, xf_piece value)
{
    if (p->ln == p->lcap) {
        p->lcap = p->lcap ? p->lcap * 2 : 16;
        p->lv = osp_reallocarray(p->lv, p->lcap, sizeof(*p->lv));
    }
    p->lv[p->ln++] = (xf_label){name, value};
}

/* parse_labels: the label set at *sp ('{'). When name is not NULL, a quoted
 * first item without '=' is the metric name (text 1.0.0). Labels are stored
 * only when store is set (exemplar labels are checked, then dropped). */
static int
parse_labels(xf_parser *p, const char **sp, xf_piece *name, bool *has_name, bool store)
{
    const char *end = p->line + p->len;
    const char *s = *sp + 1;
    char got[64];
    for (bool first = true;; first = false) {
        s = skip_blanks(s, end);
        if (s < end && *s == '}')
            break;
        if (s >= end)
            return xf_fail(p, s, "expected label name or '}', got end of line");
        const char *at = s;
        xf_piece ln;
        bool quoted = *s == '"';
        if (quoted) {
            if (xf_quoted(p, &s, &ln) != 0)
                return XF_BAD;
            if (ln.n == 0)
                return xf_fail(p, at, "empty label name");
        } else {
            while (s < end && label_char(*s, s == at))
                s++;
            if (s == at)
                return xf_fail(p, at, "expected label name, got %s",
                               xf_got(p, at, got, sizeof(got)));
            ln = (xf_piece){at, 0, (size_t)(s - at)};
        }
        s = skip_blanks(s, end);
        if (quoted && first && name != NULL && (s >= end || *s == ',' || *s == '}')) {
            if (*has_name)
                return xf_fail(p, at, "metric name given twice");
            *name = ln;
            *has_name = true;
        } else {
            if (s >= end || *s != '=')
                return xf_fail(p, s, "expected '=' after label name, got %s",
                               xf_got(p, s, got, sizeof(got)));
            s = skip_blanks(s + 1, end);
            if (s >= end || *s != '"')
                return xf_fail(p, s, "expected label value, got %s",
                               xf_got(p, s, got, sizeof(got)));
            xf_piece lv;
            if (xf_quoted(p, &s, &lv) != 0)
                return XF_BAD;
            if (store)
                push_label(p, ln, lv);
            s = skip_blanks(s, end);
        }
        if (s < end && *s == ',') {
            s++;
            continue;
        }
        if (s < end && *s == '}')
            break;
        return xf_fail(p, s, "expected ',' or '}' after label, got %s",
                       xf_got(p, s, got, sizeof(got)));
    }
    *sp = s + 1;
    return 0;
}

static bool
is_name(osp_str s, const char *lit, size_t n)
{
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* short_int: s[0..n) is 0 or 1-6 digits without a leading zero (Go's
 * shortest 'g' writes 1e+06 and up with an exponent); digits are checked by
 * the caller. */
static bool
short_int(const char *s, size_t n)
{
    return n > 0 && n <= 6 && (n == 1 || s[0] != '0');
}

/* canonical_fast: s[0..n) is surely what osp_expfmt_format_float_label writes
 * for its value, so normalise can leave it without parsing and formatting it:
 * +Inf, -Inf, NaN, or [-]I.F where I is 0 or 1-6 digits without a leading zero
 * (Go's shortest 'g' writes 1e+06 and up with an exponent), F is "0" for an
 * integer or digits ending in a non-zero one, at most 3 zeros lead F when I is
 * 0 (1e-05 and below take an exponent), not -0.0, and at most 15 significant
 * digits (so the digits are the shortest that read back as the same double). */
static bool
canonical_fast(const char *s, size_t n)
{
    if ((n == 4 && (memcmp(s, "+Inf", 4) == 0 || memcmp(s, "-Inf", 4) == 0)) ||
        (n == 3 && memcmp(s, "NaN", 3) == 0))
        return true;
    size_t i = n > 0 && s[0] == '-';
    size_t i0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t ni = i - i0;
    if (!short_int(s + i0, ni) || i >= n || s[i] != '.')
        return false;
    size_t f0 = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t nf = i - f0;
    if (i != n || nf == 0)
        return false;
    bool int_zero = ni == 1 && s[i0] == '0';
    if (nf == 1 && s[f0] == '0') /* an integer: I.0 */
        return !(int_zero && i0 == 1);
    if (s[n - 1] == '0')
        return false;
    size_t sig = nf;
    if (int_zero) {
        size_t z = 0;
        while (s[f0 + z] == '0')
            z++;
        if (z > 3)
            return false;
        sig -= z;
    } else {
        sig += ni;
    }
    return sig <= 15;
}

/* int_label: s[0..n) is [-]I with I 0 or 1-6 digits without a leading zero,
 * not -0: its canonical form is s followed by ".0". */
static bool
int_label(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';
    if (!short_int(s + i, n - i) || (i == 1 && n == 2 && s[1] == '0'))
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* normalise: rewrite float-valued le/quantile labels in canonical form. */
static void
normalise(xf_parser *p)
{
    for (size_t i = 0; i < p->ln; i++) {
        xf_label *l = &p->lv[i];
        osp_str n = {xf_piece_ptr(p, l->name), l->name.n};
        if (!is_name(n, "le", 2) && !is_name(n, "quantile", 8))
            continue;
        double v;
        char canon[32];
        const char *vp = xf_piece_ptr(p, l->value);
        if (canonical_fast(vp, l->value.n))
            continue;
        if (int_label(vp, l->value.n)) { /* "5" is written "5.0" */
            char c[16];                  /* vp may lie in scratch, which the appends move */
            size_t cn = l->value.n;
            memcpy(c, vp, cn);
            memcpy(c + cn, ".0", 2);
            l->value = (xf_piece){NULL, p->scratch.len, cn + 2};
            osp_buf_append(&p->scratch, c, cn + 2);
            continue;
        }
        if (osp_parse_double((osp_str){vp, l->value.n}, &v) != 0)
            continue;
        size_t cn = (size_t)osp_expfmt_format_float_label(canon, v);
        if (cn == l->value.n && memcmp(canon, vp, cn) == 0)
            continue;
        l->value = (xf_piece){NULL, p->scratch.len, cn};
        osp_buf_append(&p->scratch, canon, cn);
    }
}

static int
cmp_label_name(const void *a, const void *b)
{
    const osp_expfmt_label *x = a, *y = b;
    size_t n = x->name.n < y->name.n ? x->name.n : y->name.n;
    int c = memcmp(x->name.p, y->name.p, n);
    return c != 0 ? c : (x->name.n > y->name.n) - (x->name.n < y->name.n);
}

/* resolve: fill p->out from p->lv (pointers final: scratch no longer
 * grows), reject __name__ and duplicates, drop empty values. Returns the
 * count or XF_BAD. */
static int
resolve(xf_parser *p, const char *labels_at)
{
    if (p->outcap < p->ln * 2) {
        p->outcap = p->ln * 2;
        p->out = osp_reallocarray(p->out, p->outcap, sizeof(*p->out));
    }
    for (size_t i = 0; i < p->ln; i++) {
        osp_expfmt_label *o = &p->out[i];
        o->name = (osp_str){xf_piece_ptr(p, p->lv[i].name), p->lv[i].name.n};
        o->value = (osp_str){xf_piece_ptr(p, p->lv[i].value), p->lv[i].value.n};
        if (is_name(o->name, "__name__", 8))
            return xf_fail(p, labels_at, "label name __name__ is not allowed in a label set");
    }
    size_t n = p->ln;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (osp_str_eq(p->out[i].name, p->out[j].name))
                    return xf_fail(p, labels_at, "duplicate label name \"%.*s\"",
                                   (int)(p->out[i].name.n > 64 ? 64 : p->out[i].name.n),
                                   p->out[i].name.p);
    } else {
        /* Many labels: sort a copy (second half of out) to stay O(n log n). */
        osp_expfmt_label *tmp = p->out + n;
        memcpy(tmp, p->out, n * sizeof(*tmp));
        osp_qsort(tmp, n, sizeof(*tmp), cmp_label_name);
        for (size_t i = 1; i < n; i++)
            if (osp_str_eq(tmp[i].name, tmp[i - 1].name))
                return xf_fail(p, labels_at, "duplicate label name \"%.*s\"",
                               (int)(tmp[i].name.n > 64 ? 64 : tmp[i].name.n), tmp[i].name.p);
    }
    /* An empty label value is an absent label. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p->out[i].value.n > 0)
            p->out[k++] = p->out[i];
    return (int)k;
}

/* small_int: the common case of a plain decimal integer of at most 15
 * digits, exact as a double, parsed without osp_parse_double's copy/strtod. */
static bool
small_int(const char *s, size_t n, int64_t *out)
{
    size_t i = s[0] == '-' || s[0] == '+';
    if (n == i || n - i > 15)
        return false;
    int64_t v = 0;
    for (size_t j = i; j < n; j++) {
        if (s[j] < '0' || s[j] > '9')
            return false;
        v = v * 10 + (s[j] - '0');
    }
    *out = s[0] == '-' ? -v : v;
    return true;
}

/* small_decimal: [+-]D.F with 1-15 digits in all, at least one on each side
 * of the point: the integer m of all the digits and the power of ten k of F
 * are exact doubles (m < 2^53, k <= 22), so m / 10^k is the correctly rounded
 * value, as strtod's (Clinger's fast path). */
static bool
small_decimal(const char *s, size_t n, double *out)
{
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = s[0] == '-' || s[0] == '+';
    bool neg = s[0] == '-';
    int64_t m = 0;
    size_t digits = 0, dot = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            m = m * 10 + (s[i] - '0');
            if (++digits > 15)
                return false;
        } else if (s[i] == '.' && dot == 0 && digits > 0) {
            dot = i;
        } else {
            return false;
        }
    }
    if (dot == 0 || dot == n - 1)
        return false;
    double v = (double)m / p10[n - 1 - dot];
    *out = neg ? -v : v;
    return true;
}

static int
parse_value(const char *s, size_t n, double *out)
{
    int64_t i;
    if (small_int(s, n, &i) && !(i == 0 && s[0] == '-')) {
        *out = (double)i;
        return 0;
    }
    if (small_decimal(s, n, out))
        return 0;
    return osp_parse_double((osp_str){s, n}, out);
}

/* parse_ts: a timestamp token: int64 ms (text) or float seconds (OM). */
static int
parse_ts(xf_parser *p, const char *s, const char *e, int64_t *ts)
{
    char got[64];
    osp_str tok = {s, (size_t)(e - s)};
    if (p->d == OSP_EXPFMT_TEXT) {
        if (!small_int(s, tok.n, ts) && osp_parse_int64(tok, ts) != 0)
            return xf_fail(p, s, "invalid timestamp %s", xf_got(p, s, got, sizeof(got)));
        return 0;
    }
    double f;
    if (osp_parse_double(tok, &f) != 0 || !isfinite(f) || fabs(f * 1000.0) >= 9.2e18)
        return xf_fail(p, s, "invalid timestamp %s", xf_got(p, s, got, sizeof(got)));
    *ts = (int64_t)llround(f * 1000.0);
    return 0;
}

/* exemplar: OpenMetrics ` # {labels} value [timestamp]`, s at '#'; checked
 * and ignored. */
static int
exemplar(xf_parser *p, const char *s)
{
    const char *end = p->line + p->len;
    char got[64];
    if (s + 1 >= end || !xf_blank(s[1]))
        return xf_fail(p, s, "expected exemplar after '# ', got %s",
                       xf_got(p, s, got, sizeof(got)));
    s = skip_blanks(s + 1, end);
    if (s >= end || *s != '{')
        return xf_fail(p, s, "expected exemplar label set, got %s", xf_got(p, s, got, sizeof(got)));
    if (parse_labels(p, &s, NULL, NULL, false) != 0)
        return XF_BAD;
    s = skip_blanks(s, end);
    const char *ve = token_end(s, end);
    double v;
    if (s == ve || osp_parse_double((osp_str){s, (size_t)(ve - s)}, &v) != 0)
        return xf_fail(p, s, "invalid exemplar value, got %s", xf_got(p, s, got, sizeof(got)));
    s = skip_blanks(ve, end);
    if (s < end) {
        int64_t ts;
        const char *te = token_end(s, end);
        if (parse_ts(p, s, te, &ts) != 0)
            return XF_BAD;
        s = skip_blanks(te, end);
        if (s < end)
            return xf_fail(p, s, "expected end of line after exemplar, got %s",
                           xf_got(p, s, got, sizeof(got)));
    }
    return 0;
}

int
xf_sample_line(xf_parser *p, const char *s)
{
    const char *end = p->line + p->len;
    char got[64];
    xf_piece name = {NULL, 0, 0};
    bool has_name = false;
    const char *at = s;
    p->ln = 0;
    if (metric_char(*s, true)) {
        while (s < end && metric_char(*s, false))
            s++;
        name = (xf_piece){at, 0, (size_t)(s - at)};
        has_name = true;
        if (s < end && !xf_blank(*s) && *s != '{')
            return xf_fail(p, s, "invalid character in metric name: got %s",
                           xf_got(p, s, got, sizeof(got)));
    } else if (*s != '{') {
        return xf_fail(p, s, "expected metric name, got %s", xf_got(p, s, got, sizeof(got)));
    }
    s = skip_blanks(s, end);
    const char *labels_at = s;
    if (s < end && *s == '{' && parse_labels(p, &s, &name, &has_name, true) != 0)
        return XF_BAD;
    if (!has_name)
        return xf_fail(p, at, "missing metric name");

    s = skip_blanks(s, end);
    const char *ve = token_end(s, end);
    osp_expfmt_sample smp = {.line = p->lineno};
    if (s == ve)
        return xf_fail(p, s, "expected value, got end of line");
    if (parse_value(s, (size_t)(ve - s), &smp.value) != 0)
        return xf_fail(p, s, "invalid value %s", xf_got(p, s, got, sizeof(got)));
    s = skip_blanks(ve, end);
    if (s < end && *s != '#') {
        const char *te = token_end(s, end);
        if (parse_ts(p, s, te, &smp.ts_ms) != 0)
            return XF_BAD;
        smp.has_ts = true;
        s = skip_blanks(te, end);
    }
    if (s < end) {
        if (p->d == OSP_EXPFMT_OPENMETRICS && *s == '#') {
            if (exemplar(p, s) != 0)
                return XF_BAD;
        } else {
            return xf_fail(p, s, "expected end of line after %s, got %s",
                           smp.has_ts ? "timestamp" : "value", xf_got(p, s, got, sizeof(got)));
        }
    }

    normalise(p);
    int n = resolve(p, labels_at);
    if (n < 0)
        return XF_BAD;
    smp.name = (osp_str){xf_piece_ptr(p, name), name.n};
    smp.labels = p->out;
    smp.nlabels = (size_t)n;
    smp.type = xf_type_of(p, smp.name.p, smp.name.n);
    p->st->samples++;
    if (p->h->sample == NULL)
        return 0;
    return p->h->sample(p->h->ctx, &smp);
}
