/* alert_tmpl_funcs.c - the functions of templates: Go's built-ins, Prometheus'
 * (humanize*, query/first/label/value, graphLink...) and Alertmanager's
 * (toUpper, join, match, reReplaceAll...), with Go's formatting. */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_tmpl_int.h"
#include "osp_time.h"

/* ---------------- formatting ---------------- */

void
alert_fmt_g4(osp_buf *out, double v)
{
    if (isnan(v))
        osp_buf_puts(out, "NaN");
    else if (isinf(v))
        osp_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else
        osp_buf_printf(out, "%.4g", v);
}

void
alert_fmt_go_float(osp_buf *out, double v)
{
    if (isnan(v) || isinf(v)) {
        alert_fmt_g4(out, v);
        return;
    }
    char buf[64];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
    int exp = atoi(strchr(buf, 'e') + 1);
    if (exp < -4 || exp >= 6) { /* Go decides with precision 6 for the shortest form */
        osp_buf_puts(out, buf);
        return;
    }
    int decimals = p - 1 - exp;
    osp_buf_printf(out, "%.*f", decimals > 0 ? decimals : 0, v);
}

void
alert_humanize(osp_buf *out, double v)
{
    if (v == 0 || isnan(v) || isinf(v)) {
        alert_fmt_g4(out, v);
        return;
    }
    static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
    const char *prefix = "";
    if (fabs(v) >= 1) {
        for (size_t i = 0; i < 8 && fabs(v) >= 1000; i++) {
            prefix = big[i];
            v /= 1000;
        }
    } else {
        for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
            prefix = small[i];
            v *= 1000;
        }
    }
    alert_fmt_g4(out, v);
    osp_buf_puts(out, prefix);
}

void
alert_humanize1024(osp_buf *out, double v)
{
    if (fabs(v) <= 1 || isnan(v) || isinf(v)) {
        alert_fmt_g4(out, v);
        return;
    }
    static const char *const p2[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    const char *prefix = "";
    for (size_t i = 0; i < 8 && fabs(v) >= 1024; i++) {
        prefix = p2[i];
        v /= 1024;
    }
    alert_fmt_g4(out, v);
    osp_buf_puts(out, prefix);
}

void
alert_humanize_duration(osp_buf *out, double v)
{
    if (isnan(v) || isinf(v)) {
        alert_fmt_g4(out, v);
        return;
    }
    if (v == 0) {
        osp_buf_puts(out, "0s");
        return;
    }
    if (fabs(v) >= 1) {
        const char *sign = "";
        if (v < 0) {
            sign = "-";
            v = -v;
        }
        long long d = (long long)v;
        long long s = d % 60, m = (d / 60) % 60, h = (d / 3600) % 24, days = d / 86400;
        if (days)
            osp_buf_printf(out, "%s%lldd %lldh %lldm %llds", sign, days, h, m, s);
        else if (h)
            osp_buf_printf(out, "%s%lldh %lldm %llds", sign, h, m, s);
        else if (m)
            osp_buf_printf(out, "%s%lldm %llds", sign, m, s);
        else {
            osp_buf_puts(out, sign);
            alert_fmt_g4(out, v);
            osp_buf_putc(out, 's');
        }
        return;
    }
    static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
    const char *prefix = "";
    for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
        prefix = small[i];
        v *= 1000;
    }
    alert_fmt_g4(out, v);
    osp_buf_printf(out, "%ss", prefix);
}

void
alert_humanize_percentage(osp_buf *out, double v)
{
    alert_fmt_g4(out, v * 100);
    osp_buf_putc(out, '%');
}

void
alert_tmpl_print(osp_buf *out, const alert_tval *v)
{
    switch (v->kind) {
    case ALERT_TV_NIL: osp_buf_puts(out, "<no value>"); return;
    case ALERT_TV_STR: osp_buf_puts(out, v->s); return;
    case ALERT_TV_NUM: alert_fmt_go_float(out, v->num); return;
    case ALERT_TV_INT: osp_buf_printf(out, "%lld", (long long)v->i); return;
    case ALERT_TV_BOOL: osp_buf_puts(out, v->b ? "true" : "false"); return;
    case ALERT_TV_LIST:
        osp_buf_putc(out, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                osp_buf_putc(out, ' ');
            alert_tmpl_print(out, &v->items[i]);
        }
        osp_buf_putc(out, ']');
        return;
    case ALERT_TV_MAP:
        osp_buf_puts(out, (v->flags & ALERT_TV_STRUCT) ? "{" : "map[");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                osp_buf_putc(out, ' ');
            if (!(v->flags & ALERT_TV_STRUCT))
                osp_buf_printf(out, "%s:", v->keys[i]);
            alert_tmpl_print(out, &v->items[i]);
        }
        osp_buf_putc(out, (v->flags & ALERT_TV_STRUCT) ? '}' : ']');
        return;
    }
}

bool
alert_tval_truth(const alert_tval *v)
{
    switch (v->kind) {
    case ALERT_TV_NIL: return false;
    case ALERT_TV_STR: return v->s[0] != 0;
    case ALERT_TV_NUM: return v->num != 0;
    case ALERT_TV_INT: return v->i != 0;
    case ALERT_TV_BOOL: return v->b;
    case ALERT_TV_LIST:
    case ALERT_TV_MAP: return v->n > 0;
    }
    return false;
}

/* ---------------- helpers ---------------- */

static int
ferr(alert_tmpl_call *c, const char *fn, const char *msg)
{
    return osp_errinfo_set(c->ei, OSP_EINVAL, 0, 0, "template: %s: error calling %s: %s", c->name,
                           fn, msg);
}

static int
nargs(alert_tmpl_call *c, const char *fn, size_t argc, size_t want)
{
    if (argc == want)
        return 0;
    char m[96];
    snprintf(m, sizeof(m), "wrong number of args: want %zu got %zu", want, argc);
    return ferr(c, fn, m);
}

/* to_float: Prometheus' convertToFloat (numbers and numeric strings). */
static int
to_float(alert_tmpl_call *c, const char *fn, const alert_tval *v, double *out)
{
    if (v->kind == ALERT_TV_NUM) {
        *out = v->num;
        return 0;
    }
    if (v->kind == ALERT_TV_INT) {
        *out = (double)v->i;
        return 0;
    }
    if (v->kind == ALERT_TV_STR && osp_parse_double(osp_str_c(v->s), out) == 0)
        return 0;
    return ferr(c, fn, "can't convert value to float");
}

static const char *
to_str(alert_tmpl_call *c, const alert_tval *v)
{
    if (v->kind == ALERT_TV_STR)
        return v->s;
    osp_buf b;
    osp_buf_init(&b);
    alert_tmpl_print(&b, v);
    char *s = osp_arena_strndup(c->a, osp_buf_cstr(&b), b.len);
    osp_buf_fini(&b);
    return s;
}

static alert_tval
buf_val(alert_tmpl_call *c, osp_buf *b)
{
    alert_tval v = alert_tval_str(osp_arena_strndup(c->a, osp_buf_cstr(b), b->len));
    osp_buf_fini(b);
    return v;
}

typedef void (*num_fmt)(osp_buf *, double);

static int
humanize_common(alert_tmpl_call *c, const char *fn, num_fmt f, const alert_tval *argv, size_t argc,
                alert_tval *out)
{
    double v;
    int rc = nargs(c, fn, argc, 1);
    if (rc || (rc = to_float(c, fn, &argv[0], &v)))
        return rc;
    osp_buf b;
    osp_buf_init(&b);
    f(&b, v);
    *out = buf_val(c, &b);
    return 0;
}

#define HUMANIZE(cname, fname, impl)                                                               \
    static int cname(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)     \
    {                                                                                              \
        return humanize_common(c, fname, impl, argv, argc, out);                                   \
    }
HUMANIZE(f_humanize, "humanize", alert_humanize)
HUMANIZE(f_humanize1024, "humanize1024", alert_humanize1024)
HUMANIZE(f_humanize_duration, "humanizeDuration", alert_humanize_duration)
HUMANIZE(f_humanize_percentage, "humanizePercentage", alert_humanize_percentage)

static void
fmt_timestamp(osp_buf *out, double v)
{
    if (isnan(v) || isinf(v)) {
        alert_fmt_g4(out, v);
        return;
    }
    time_t s = (time_t)floor(v);
    long ns = (long)llround((v - floor(v)) * 1e9);
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    osp_buf_puts(out, buf);
    if (ns > 0 && ns < 1000000000) {
        char frac[16];
        snprintf(frac, sizeof(frac), ".%09ld", ns);
        size_t n = strlen(frac);
        while (n > 1 && frac[n - 1] == '0')
            frac[--n] = 0;
        osp_buf_puts(out, frac);
    }
    osp_buf_puts(out, " +0000 UTC");
}
HUMANIZE(f_humanize_timestamp, "humanizeTimestamp", fmt_timestamp)

/* printf with Go's verbs mapped onto C's: spec is built from the user's
 * format but holds exactly one conversion whose argument type we choose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int
f_printf(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (argc < 1 || argv[0].kind != ALERT_TV_STR)
        return ferr(c, "printf", "the format must be a string");
    const char *f = argv[0].s;
    size_t ai = 1;
    osp_buf b;
    osp_buf_init(&b);
    while (*f) {
        if (*f != '%') {
            osp_buf_putc(&b, *f++);
            continue;
        }
        const char *start = f++;
        if (*f == '%') {
            osp_buf_putc(&b, '%');
            f++;
            continue;
        }
        while (*f && strchr("+-# 0", *f))
            f++;
        while (isdigit((unsigned char)*f))
            f++;
        if (*f == '.') {
            f++;
            while (isdigit((unsigned char)*f))
                f++;
        }
        char verb = *f ? *f++ : 0;
        char spec[40];
        size_t sl = (size_t)(f - start - 1);
        if (sl > sizeof(spec) - 4 || verb == 0) {
            osp_buf_puts(&b, "%!(NOVERB)");
            break;
        }
        memcpy(spec, start, sl);
        if (ai >= argc) {
            osp_buf_printf(&b, "%%!%c(MISSING)", verb);
            continue;
        }
        const alert_tval *a = &argv[ai++];
        double d = a->kind == ALERT_TV_INT ? (double)a->i : a->num;
        bool numeric = a->kind == ALERT_TV_NUM || a->kind == ALERT_TV_INT;
        switch (verb) {
        case 'd':
            if (!numeric) {
                osp_buf_printf(&b, "%%!d(string=%s)", to_str(c, a));
                break;
            }
            memcpy(spec + sl, "lld", 4);
            osp_buf_printf(&b, spec, (long long)d);
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (!numeric) {
                osp_buf_printf(&b, "%%!%c(string=%s)", verb, to_str(c, a));
                break;
            }
            if ((verb == 'g' || verb == 'G') && !memchr(spec, '.', sl) && a->kind == ALERT_TV_NUM) {
                alert_fmt_go_float(&b, d); /* Go's %g is the shortest form */
                break;
            }
            spec[sl] = verb;
            spec[sl + 1] = 0;
            if (isnan(d) || isinf(d))
                alert_fmt_g4(&b, d);
            else
                osp_buf_printf(&b, spec, d);
            break;
        case 'x':
        case 'X':
            if (numeric) {
                spec[sl] = 'l';
                spec[sl + 1] = 'l';
                spec[sl + 2] = verb;
                spec[sl + 3] = 0;
                osp_buf_printf(&b, spec, (long long)d);
            } else {
                for (const char *s = to_str(c, a); *s; s++)
                    osp_buf_printf(&b, verb == 'x' ? "%02x" : "%02X", (unsigned char)*s);
            }
            break;
        case 'q': {
            osp_buf_json_cstr(&b, to_str(c, a));
            break;
        }
        case 't':
            osp_buf_puts(&b, a->kind == ALERT_TV_BOOL ? (a->b ? "true" : "false") : to_str(c, a));
            break;
        default: { /* s, v */
            spec[sl] = 's';
            spec[sl + 1] = 0;
            osp_buf_printf(&b, spec, to_str(c, a));
            break;
        }
        }
    }
    if (ai < argc)
        osp_buf_puts(&b, "%!(EXTRA)");
    *out = buf_val(c, &b);
    return 0;
}
#pragma GCC diagnostic pop

static int
f_print(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    osp_buf b;
    osp_buf_init(&b);
    for (size_t i = 0; i < argc; i++) {
        /* Sprint: a space between operands when neither is a string */
        if (i && argv[i].kind != ALERT_TV_STR && argv[i - 1].kind != ALERT_TV_STR)
            osp_buf_putc(&b, ' ');
        alert_tmpl_print(&b, &argv[i]);
    }
    *out = buf_val(c, &b);
    return 0;
}

static int
f_println(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    osp_buf b;
    osp_buf_init(&b);
    for (size_t i = 0; i < argc; i++) {
        if (i)
            osp_buf_putc(&b, ' ');
        alert_tmpl_print(&b, &argv[i]);
    }
    osp_buf_putc(&b, '\n');
    *out = buf_val(c, &b);
    return 0;
}

static int
f_len(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "len", argc, 1);
    if (rc)
        return rc;
    int64_t n;
    if (argv[0].kind == ALERT_TV_STR)
        n = (int64_t)strlen(argv[0].s);
    else if (argv[0].kind == ALERT_TV_LIST || argv[0].kind == ALERT_TV_MAP)
        n = (int64_t)argv[0].n;
    else
        return ferr(c, "len", "len of this type");
    *out = (alert_tval){.kind = ALERT_TV_INT, .i = n, .num = (double)n};
    return 0;
}

static int
f_index(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (argc < 1)
        return ferr(c, "index", "wrong number of args");
    alert_tval v = argv[0];
    for (size_t i = 1; i < argc; i++) {
        const alert_tval *k = &argv[i];
        if (v.kind == ALERT_TV_MAP) {
            const char *ks = to_str(c, k);
            alert_tval r = alert_tval_str("");
            if (v.flags & ALERT_TV_STRUCT)
                r = (alert_tval){0};
            for (size_t j = 0; j < v.n; j++)
                if (strcmp(v.keys[j], ks) == 0)
                    r = v.items[j];
            v = r;
        } else if (v.kind == ALERT_TV_LIST) {
            double d;
            if (to_float(c, "index", k, &d))
                return OSP_EINVAL;
            if (d < 0 || d >= (double)v.n)
                return ferr(c, "index", "index out of range");
            v = v.items[(size_t)d];
        } else {
            return ferr(c, "index", "can't index item of this type");
        }
    }
    *out = v;
    return 0;
}

/* cmp: -1/0/1 comparing a and b (numbers, strings, bools), or an error. */
static int
cmp(alert_tmpl_call *c, const char *fn, const alert_tval *a, const alert_tval *b, int *res)
{
    bool an = a->kind == ALERT_TV_NUM || a->kind == ALERT_TV_INT;
    bool bn = b->kind == ALERT_TV_NUM || b->kind == ALERT_TV_INT;
    if (an && bn) {
        double x = a->kind == ALERT_TV_INT ? (double)a->i : a->num;
        double y = b->kind == ALERT_TV_INT ? (double)b->i : b->num;
        *res = x < y ? -1 : x > y ? 1 : 0;
        return 0;
    }
    if (a->kind == ALERT_TV_STR && b->kind == ALERT_TV_STR) {
        int r = strcmp(a->s, b->s);
        *res = r < 0 ? -1 : r > 0;
        return 0;
    }
    if (a->kind == ALERT_TV_BOOL && b->kind == ALERT_TV_BOOL) {
        *res = a->b == b->b ? 0 : 1;
        return 0;
    }
    if (a->kind == ALERT_TV_NIL && b->kind == ALERT_TV_NIL) {
        *res = 0;
        return 0;
    }
    return ferr(c, fn, "incompatible types for comparison");
}

static alert_tval
boolv(bool b)
{
    return (alert_tval){.kind = ALERT_TV_BOOL, .b = b};
}

static int
f_eq(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (argc < 2)
        return ferr(c, "eq", "missing argument for comparison");
    bool any = false;
    for (size_t i = 1; i < argc; i++) {
        int r;
        if (cmp(c, "eq", &argv[0], &argv[i], &r))
            return OSP_EINVAL;
        any = any || r == 0;
    }
    *out = boolv(any);
    return 0;
}

#define CMPFN(cname, fname, test)                                                                  \
    static int cname(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)     \
    {                                                                                              \
        int r, rc = nargs(c, fname, argc, 2);                                                      \
        if (rc || (rc = cmp(c, fname, &argv[0], &argv[1], &r)))                                    \
            return rc;                                                                             \
        *out = boolv(test);                                                                        \
        return 0;                                                                                  \
    }
CMPFN(f_ne, "ne", r != 0)
CMPFN(f_lt, "lt", r < 0)
CMPFN(f_le, "le", r <= 0)
CMPFN(f_gt, "gt", r > 0)
CMPFN(f_ge, "ge", r >= 0)

static int
f_and(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (argc < 1)
        return ferr(c, "and", "wrong number of args");
    for (size_t i = 0; i < argc; i++)
        if (!alert_tval_truth(&argv[i]) || i == argc - 1) {
            *out = argv[i];
            break;
        }
    return 0;
}

static int
f_or(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    if (argc < 1)
        return ferr(c, "or", "wrong number of args");
    for (size_t i = 0; i < argc; i++)
        if (alert_tval_truth(&argv[i]) || i == argc - 1) {
            *out = argv[i];
            break;
        }
    return 0;
}

static int
f_not(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "not", argc, 1);
    if (rc)
        return rc;
    *out = boolv(!alert_tval_truth(&argv[0]));
    return 0;
}

/* string -> string functions */
typedef void (*str_fn)(const char *s, osp_buf *out);

static void
s_upper(const char *s, osp_buf *out)
{
    for (; *s; s++)
        osp_buf_putc(out, (char)toupper((unsigned char)*s));
}

static void
s_lower(const char *s, osp_buf *out)
{
    for (; *s; s++)
        osp_buf_putc(out, (char)tolower((unsigned char)*s));
}

static void
s_title(const char *s, osp_buf *out)
{
    bool start = true;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        osp_buf_putc(out, (char)(start ? toupper(ch) : ch));
        start = isspace(ch) || (ispunct(ch) && ch != '\'' && ch != '_');
    }
}

static void
s_trim(const char *s, osp_buf *out)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    osp_buf_append(out, s, n);
}

static void
s_urlquery(const char *s, osp_buf *out)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-_.~", ch))
            osp_buf_putc(out, (char)ch);
        else if (ch == ' ')
            osp_buf_putc(out, '+');
        else
            osp_buf_printf(out, "%%%02X", ch);
    }
}

static void
s_html(const char *s, osp_buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': osp_buf_puts(out, "&lt;"); break;
        case '>': osp_buf_puts(out, "&gt;"); break;
        case '&': osp_buf_puts(out, "&amp;"); break;
        case '"': osp_buf_puts(out, "&#34;"); break;
        case '\'': osp_buf_puts(out, "&#39;"); break;
        default: osp_buf_putc(out, *s);
        }
    }
}

static void
s_ident(const char *s, osp_buf *out)
{
    osp_buf_puts(out, s);
}

/* stripPort: net.SplitHostPort's host, or s unchanged. */
static void
s_strip_port(const char *s, osp_buf *out)
{
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb && rb[1] == ':') {
            osp_buf_append(out, s + 1, (size_t)(rb - s - 1));
            return;
        }
    } else if (colon && strchr(s, ':') == colon) {
        osp_buf_append(out, s, (size_t)(colon - s));
        return;
    }
    osp_buf_puts(out, s);
}

/* stripDomain: drop everything after the first dot of the host (not IPs). */
static void
s_strip_domain(const char *s, osp_buf *out)
{
    const char *colon = strrchr(s, ':');
    size_t hl = colon && strchr(s, ':') == colon ? (size_t)(colon - s) : strlen(s);
    bool ip = true;
    for (size_t i = 0; i < hl; i++)
        if (!isdigit((unsigned char)s[i]) && s[i] != '.')
            ip = false;
    if (strchr(s, ':') != colon) /* IPv6 */
        ip = true;
    const char *dot = memchr(s, '.', hl);
    if (ip || dot == NULL) {
        osp_buf_puts(out, s);
        return;
    }
    osp_buf_append(out, s, (size_t)(dot - s));
    if (hl < strlen(s))
        osp_buf_puts(out, s + hl);
}

static int
str_common(alert_tmpl_call *c, const char *fn, str_fn f, const alert_tval *argv, size_t argc,
           alert_tval *out)
{
    osp_buf in, b;
    osp_buf_init(&in);
    osp_buf_init(&b);
    (void)fn;
    for (size_t i = 0; i < argc; i++)
        alert_tmpl_print(&in, &argv[i]);
    f(osp_buf_cstr(&in), &b);
    osp_buf_fini(&in);
    *out = buf_val(c, &b);
    return 0;
}

#define STRFN(cname, fname, impl)                                                                  \
    static int cname(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)     \
    {                                                                                              \
        return str_common(c, fname, impl, argv, argc, out);                                        \
    }
STRFN(f_upper, "toUpper", s_upper)
STRFN(f_lower, "toLower", s_lower)
STRFN(f_title, "title", s_title)
STRFN(f_trim, "trimSpace", s_trim)
STRFN(f_urlquery, "urlquery", s_urlquery)
STRFN(f_html, "html", s_html)
STRFN(f_safe, "safeHtml", s_ident)
STRFN(f_safe_url, "safeUrl", s_ident)
STRFN(f_strip_port, "stripPort", s_strip_port)
STRFN(f_strip_domain, "stripDomain", s_strip_domain)

static int
f_join(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "join", argc, 2);
    if (rc)
        return rc;
    if (argv[1].kind != ALERT_TV_LIST)
        return ferr(c, "join", "the second argument must be a list of strings");
    osp_buf b;
    osp_buf_init(&b);
    for (size_t i = 0; i < argv[1].n; i++) {
        if (i)
            osp_buf_puts(&b, to_str(c, &argv[0]));
        alert_tmpl_print(&b, &argv[1].items[i]);
    }
    *out = buf_val(c, &b);
    return 0;
}

/* stringSlice / list (Alertmanager): the arguments as a list. */
static int
f_list(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    alert_tval *items = osp_arena_alloc(c->a, sizeof(*items) * (argc + 1));
    for (size_t i = 0; i < argc; i++)
        items[i] = argv[i];
    *out = (alert_tval){.kind = ALERT_TV_LIST, .n = argc, .items = items};
    return 0;
}

static int
compile(alert_tmpl_call *c, const char *fn, const char *re, regex_t *out)
{
    if (regcomp(out, re, REG_EXTENDED) != 0)
        return ferr(c, fn, "invalid regular expression");
    return 0;
}

static int
f_match(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    regex_t re;
    int rc = nargs(c, "match", argc, 2);
    if (rc || (rc = compile(c, "match", to_str(c, &argv[0]), &re)))
        return rc;
    *out = boolv(regexec(&re, to_str(c, &argv[1]), 0, NULL, 0) == 0);
    regfree(&re);
    return 0;
}

/* reReplaceAll(re, repl, text): Go's ReplaceAllString ($1, ${1} expansion). */
static int
f_re_replace(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    regex_t re;
    int rc = nargs(c, "reReplaceAll", argc, 3);
    if (rc || (rc = compile(c, "reReplaceAll", to_str(c, &argv[0]), &re)))
        return rc;
    const char *repl = to_str(c, &argv[1]);
    const char *s = to_str(c, &argv[2]);
    osp_buf b;
    osp_buf_init(&b);
    regmatch_t m[10];
    int flags = 0;
    while (*s && regexec(&re, s, 10, m, flags) == 0) {
        osp_buf_append(&b, s, (size_t)m[0].rm_so);
        for (const char *r = repl; *r; r++) {
            if (*r == '$' &&
                (isdigit((unsigned char)r[1]) || (r[1] == '{' && isdigit((unsigned char)r[2])))) {
                bool brace = r[1] == '{';
                int g = (brace ? r[2] : r[1]) - '0';
                r += brace ? 3 : 1;
                if (g < 10 && m[g].rm_so >= 0)
                    osp_buf_append(&b, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                continue;
            }
            osp_buf_putc(&b, *r);
        }
        if (m[0].rm_eo == 0) { /* empty match: advance one byte */
            osp_buf_putc(&b, *s);
            s++;
        } else {
            s += m[0].rm_eo;
        }
        flags = REG_NOTBOL;
    }
    osp_buf_puts(&b, s);
    regfree(&re);
    *out = buf_val(c, &b);
    return 0;
}

static int
f_query(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "query", argc, 1);
    if (rc)
        return rc;
    if (c->env->query == NULL)
        return ferr(c, "query", "query is not available here");
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (c->env->query(c->env->query_ctx, to_str(c, &argv[0]), c->a, out, &ei) != 0)
        return ferr(c, "query", ei.msg);
    return 0;
}

static int
f_first(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "first", argc, 1);
    if (rc)
        return rc;
    if (argv[0].kind != ALERT_TV_LIST || argv[0].n == 0)
        return ferr(c, "first", "first() called on vector with no elements");
    *out = argv[0].items[0];
    return 0;
}

static int
f_label(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "label", argc, 2);
    alert_tval ls;
    if (rc)
        return rc;
    alert_tval key = alert_tval_str("Labels");
    if (f_index(c, (alert_tval[]){argv[1], key}, 2, &ls))
        return OSP_EINVAL;
    return f_index(c, (alert_tval[]){ls, argv[0]}, 2, out);
}

static int
f_value(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "value", argc, 1);
    if (rc)
        return rc;
    return f_index(c, (alert_tval[]){argv[0], alert_tval_str("Value")}, 2, out);
}

static int
f_sort_by_label(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "sortByLabel", argc, 2);
    if (rc)
        return rc;
    if (argv[1].kind != ALERT_TV_LIST)
        return ferr(c, "sortByLabel", "the second argument must be a query result");
    size_t n = argv[1].n;
    alert_tval *items = osp_arena_alloc(c->a, sizeof(*items) * (n + 1));
    const char **keys = osp_arena_alloc(c->a, sizeof(*keys) * (n + 1));
    for (size_t i = 0; i < n; i++) {
        alert_tval l;
        items[i] = argv[1].items[i];
        keys[i] = f_label(c, (alert_tval[]){argv[0], items[i]}, 2, &l) == 0 ? to_str(c, &l) : "";
    }
    for (size_t i = 1; i < n; i++) /* stable insertion sort */
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            alert_tval t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
            const char *k = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = k;
        }
    *out = (alert_tval){.kind = ALERT_TV_LIST, .n = n, .items = items};
    return 0;
}

static int
link(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out, int tab)
{
    int rc = nargs(c, tab ? "tableLink" : "graphLink", argc, 1);
    if (rc)
        return rc;
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "/graph?g0.expr=");
    s_urlquery(to_str(c, &argv[0]), &b);
    osp_buf_printf(&b, "&g0.tab=%d", tab);
    *out = buf_val(c, &b);
    return 0;
}

static int
f_graph_link(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    return link(c, argv, argc, out, 0);
}

static int
f_table_link(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    return link(c, argv, argc, out, 1);
}

static int
f_external_url(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    (void)argv;
    int rc = nargs(c, "externalURL", argc, 0);
    if (rc)
        return rc;
    *out = alert_tval_str(c->env->external_url ? c->env->external_url : "");
    return 0;
}

static int
f_path_prefix(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    (void)argv;
    int rc = nargs(c, "pathPrefix", argc, 0);
    if (rc)
        return rc;
    const char *u = c->env->external_url ? c->env->external_url : "";
    const char *p = strstr(u, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    *out = alert_tval_str(p ? p : "");
    return 0;
}

static int
f_parse_duration(alert_tmpl_call *c, const alert_tval *argv, size_t argc, alert_tval *out)
{
    int rc = nargs(c, "parseDuration", argc, 1);
    int64_t ms;
    if (rc)
        return rc;
    if (osp_parse_duration(osp_str_c(to_str(c, &argv[0])), &ms) != 0)
        return ferr(c, "parseDuration", "invalid duration");
    *out = alert_tval_num((double)ms / 1000.0);
    return 0;
}

static const struct {
    const char *name;
    alert_tmpl_fn fn;
} funcs[] = {
    {"humanize", f_humanize},
    {"humanize1024", f_humanize1024},
    {"humanizeDuration", f_humanize_duration},
    {"humanizePercentage", f_humanize_percentage},
    {"humanizeTimestamp", f_humanize_timestamp},
    {"printf", f_printf},
    {"print", f_print},
    {"println", f_println},
    {"len", f_len},
    {"index", f_index},
    {"eq", f_eq},
    {"ne", f_ne},
    {"lt", f_lt},
    {"le", f_le},
    {"gt", f_gt},
    {"ge", f_ge},
    {"and", f_and},
    {"or", f_or},
    {"not", f_not},
    {"toUpper", f_upper},
    {"toLower", f_lower},
    {"title", f_title},
    {"trimSpace", f_trim},
    {"urlquery", f_urlquery},
    {"html", f_html},
    {"safeHtml", f_safe},
    {"safeUrl", f_safe_url},
    {"stringSlice", f_list},
    {"list", f_list},
    {"stripPort", f_strip_port},
    {"stripDomain", f_strip_domain},
    {"join", f_join},
    {"match", f_match},
    {"reReplaceAll", f_re_replace},
    {"query", f_query},
    {"first", f_first},
    {"label", f_label},
    {"value", f_value},
    {"sortByLabel", f_sort_by_label},
    {"graphLink", f_graph_link},
    {"tableLink", f_table_link},
    {"externalURL", f_external_url},
    {"pathPrefix", f_path_prefix},
    {"parseDuration", f_parse_duration},
};

alert_tmpl_fn
alert_tmpl_func_find(const char *name)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strcmp(funcs[i].name, name) == 0)
            return funcs[i].fn;
    return NULL;
}
