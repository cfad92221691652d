/* core_num.c - number parsing and formatting with Go/Prometheus semantics. */
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osp_buf.h"
#include "osp_err.h"

/* shortest: the shortest significant digits (no trailing zeros) that round-trip,
 * written into dig, and the decimal exponent of the first one. If the shortest
 * form has k <= 15 digits, the nearest 15-digit decimal is that form padded with
 * zeros (it lies within half an ulp of v, while 15-digit decimals are at least
 * 1e-15 apart relatively), so one %.14e round-trip check replaces the 15 of a
 * precision-by-precision search; 16 and 17 digits are tried next (17 always
 * round-trips). Subnormals have fewer significant bits, so they get the full
 * search. */
static int
shortest(double v, char *dig, int *ndig)
{
    char tmp[40];
    for (int prec = fabs(v) < DBL_MIN ? 0 : 14; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (prec == 16 || strtod(tmp, NULL) == v)
            break;
    }
    /* tmp like "-1.2345e+06" */
    const char *p = tmp;
    if (*p == '-')
        p++;
    int n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            dig[n++] = *p;
    while (n > 1 && dig[n - 1] == '0')
        n--;
    dig[n] = '\0';
    *ndig = n;
    return atoi(p + 1);
}

/* utoa: decimal digits of u into out (no NUL); returns the length. */
static size_t
utoa(char *out, uint64_t u)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static int
special(char *out, double v)
{
    if (isnan(v))
        return (int)(strcpy(out, "NaN"), 3);
    if (isinf(v))
        return (int)(strcpy(out, v > 0 ? "+Inf" : "-Inf"), 4);
    return -1;
}

/* exp10_of: 10^e for the small non-negative exponents fmt_go decides with. */
static double
exp10_of(int e)
{
    double r = 1;
    while (e-- > 0)
        r *= 10;
    return r;
}

/* fmt_go: Go FormatFloat(v, fmt, -1, 64) for 'f' when plain, else 'e'. */
static int
fmt_go(char *out, double v, int e_lo, int e_hi)
{
    int r = special(out, v);
    if (r >= 0)
        return r;
    if (v == 0)
        return (int)(strcpy(out, signbit(v) ? "-0" : "0"), signbit(v) ? 2 : 1);
    char *o = out;
    if (v < 0)
        *o++ = '-';
    double a = fabs(v);
    if (a < 1e15 && a == floor(a) && a < exp10_of(e_hi)) {
        /* integers in plain notation: no digit search needed */
        o += utoa(o, (uint64_t)a);
        *o = '\0';
        return (int)(o - out);
    }
    char dig[24];
    int nd;
    int exp = shortest(v, dig, &nd);
    if (exp < e_lo || exp >= e_hi) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        o += sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -exp - 1; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp; i++)
            *o++ = i < nd ? dig[i] : '0';
        if (nd > exp + 1) {
            *o++ = '.';
            memcpy(o, dig + exp + 1, (size_t)(nd - exp - 1));
            o += nd - exp - 1;
        }
    }
    *o = '\0';
    return (int)(o - out);
}

int
osp_fmt_double(char *out, double v)
{
    return fmt_go(out, v, -4, 21);
}

int
osp_fmt_double_expfmt(char *out, double v)
{
    /* Go strconv 'g' with shortest precision decides on exponent form with
     * precision 6: 1e+06, 123456, 1.5e-05. */
    return fmt_go(out, v, -4, 6);
}

int
osp_parse_double(osp_str s, double *out)
{
    char buf[128];
    if (s.n == 0 || s.n >= sizeof(buf))
        return OSP_EPARSE;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    const char *p = buf;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (strcasecmp(p, "nan") == 0) {
        if (p != buf)
            return OSP_EPARSE;
        *out = NAN;
        return 0;
    }
    for (const char *q = p; *q; q++) {
        if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' ||
              *q == '-'))
            return OSP_EPARSE;
    }
    if (*p == '\0')
        return OSP_EPARSE;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf)
        return OSP_EPARSE;
    *out = v;
    return 0;
}

int
osp_parse_int64(osp_str s, int64_t *out)
{
    char buf[32];
    if (s.n == 0 || s.n >= sizeof(buf))
        return OSP_EPARSE;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    const char *p = buf;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return OSP_EPARSE;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return OSP_EPARSE;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return OSP_EPARSE;
    *out = v;
    return 0;
}
