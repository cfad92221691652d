/* promql_fmt.c - fast number and timestamp formatting for the JSON writer: the same text as
 * osp_fmt_double (Go's strconv.FormatFloat(v, 'f', -1, 64) with 'e' outside 1e-4..1e21), at a
 * fraction of its cost, since a range result may hold millions of points. */
#include "promql.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_buf.h"

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

/* shortest_digits: the shortest significant digits (no trailing zeros) that round-trip, and
 * the decimal exponent of the first one. If the shortest form has k <= 15 digits, the nearest
 * 15-digit decimal is that form padded with zeros (it lies within half an ulp of v, while
 * 15-digit decimals are at least 1e-15 apart relatively), so one %.14e round-trip check
 * replaces the 15 that a precision-by-precision search would make; 16 and 17 are tried next. */
static int
shortest_digits(double v, char *dig, int *ndig)
{
    char tmp[40];
    for (int prec = 14; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (prec == 16 || strtod(tmp, NULL) == v)
            break;
    }
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

int
osp_promql_fmt_value(char *out, double v)
{
    if (isnan(v))
        return (int)(strcpy(out, "NaN"), 3);
    if (isinf(v))
        return (int)(strcpy(out, v > 0 ? "+Inf" : "-Inf"), 4);
    if (v == 0)
        return (int)(strcpy(out, signbit(v) ? "-0" : "0"), signbit(v) ? 2 : 1);
    char *o = out;
    if (v < 0)
        *o++ = '-';
    double a = fabs(v);
    if (a < 1e15 && a == floor(a)) {
        o += utoa(o, (uint64_t)a);
        *o = '\0';
        return (int)(o - out);
    }
    if (a < DBL_MIN) /* subnormal: fewer significant bits, the 15-digit argument fails */
        return osp_fmt_double(out, v);
    char dig[24];
    int nd;
    int exp = shortest_digits(v, dig, &nd);
    if (exp < -4 || exp >= 21) {
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
osp_promql_fmt_ts_c(char *out, int64_t t_ms)
{
    char *o = out;
    uint64_t u;
    if (t_ms < 0) {
        *o++ = '-';
        u = (uint64_t)0 - (uint64_t)t_ms;
    } else {
        u = (uint64_t)t_ms;
    }
    uint64_t s = u / 1000;
    unsigned ms = (unsigned)(u % 1000);
    o += utoa(o, s);
    if (ms != 0) {
        *o++ = '.';
        *o++ = (char)('0' + ms / 100);
        if (ms % 100 != 0) {
            *o++ = (char)('0' + ms / 10 % 10);
            if (ms % 10 != 0)
                *o++ = (char)('0' + ms % 10);
        }
    }
    *o = '\0';
    return (int)(o - out);
}
