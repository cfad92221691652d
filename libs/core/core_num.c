/* core_num.c - number parsing and formatting with Go/Prometheus semantics. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osp_buf.h"
#include "osp_err.h"

static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                  "31323334353637383940414243444546474849505152535455565758596061"
                                  "62636465666768697071727374757677787980818283848586878889909192"
                                  "93949596979899";

size_t
osp_fmt_u64(char *out, uint64_t u)
{
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && u >= p; p *= 10)
        n++;
    char *o = out + n;
    while (u >= 100) {
        o -= 2;
        memcpy(o, digit_pairs + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        o -= 2;
        memcpy(o, digit_pairs + 2 * u, 2);
    } else {
        *--o = (char)('0' + u);
    }
    return n;
}

/* ---- shortest round-trip digits -------------------------------------------------------
 * Ryu (Ulf Adams, "Ryū: fast float-to-string conversion", PLDI 2018): the interval of
 * reals that round to v is scaled by a power of ten with 128-bit fixed-point factors;
 * digits are then dropped while the interval still holds a shorter decimal, and the last
 * one is rounded to nearest (ties to even). The result is the shortest decimal that reads
 * back as v and, among those, the closest to v, which is what Go's strconv picks. The
 * factors are built exactly from big integers once per process. */

typedef unsigned __int128 u128;

#define POW5_BITS 125  /* significant bits kept of 5^i and of 2^k / 5^q */
#define POW5_N 326     /* 5^i for i < 326: e2 down to -1076 (subnormals) */
#define POW5_INV_N 292 /* 2^k / 5^q for q < 292: e2 up to 969 */

static uint64_t pow5_tab[POW5_N][2];        /* floor(5^i / 2^(bitlen(5^i) - 125)): lo, hi */
static uint64_t pow5inv_tab[POW5_INV_N][2]; /* floor(2^(bitlen(5^q) + 124) / 5^q) + 1 */
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/* Big unsigned integers for building the tables: 32-bit limbs, least significant first. */
#define BIG_LIMBS 32
typedef struct big {
    uint32_t w[BIG_LIMBS];
    int n;
} big;

static void
big_mul(big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t x = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
    if (carry) {
        assert(b->n < BIG_LIMBS);
        b->w[b->n++] = (uint32_t)carry;
    }
}

static void
big_div(big *b, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = b->n - 1; i >= 0; i--) {
        uint64_t x = (rem << 32) | b->w[i];
        b->w[i] = (uint32_t)(x / d);
        rem = x % d;
    }
    while (b->n > 0 && b->w[b->n - 1] == 0)
        b->n--;
}

static int
big_bitlen(const big *b)
{
    if (b->n == 0)
        return 0;
    return 32 * (b->n - 1) + 32 - __builtin_clz(b->w[b->n - 1]);
}

/* big_bits: floor(b / 2^shift) (shift may be negative: a left shift), which must fit in
 * 128 bits, as lo/hi words. */
static void
big_bits(const big *b, int shift, uint64_t out[2])
{
    u128 r = 0;
    for (int bit = 127; bit >= 0; bit--) {
        int src = bit + shift;
        if (src >= 0 && src < 32 * b->n && (b->w[src / 32] >> (src % 32) & 1))
            r |= (u128)1 << bit;
    }
    out[0] = (uint64_t)r;
    out[1] = (uint64_t)(r >> 64);
}

/* pow5bits: bit length of 5^e (ceil(log2(5^e)), 1 for e = 0), for 0 <= e <= 3528. */
static int
pow5bits(int e)
{
    return (int)(((uint32_t)e * 1217359) >> 19) + 1;
}

/* log10pow2, log10pow5: floor(e * log10(2)), floor(e * log10(5)) for 0 <= e <= 1650. */
static int
log10pow2(int e)
{
    return (int)(((uint32_t)e * 78913) >> 18);
}

static int
log10pow5(int e)
{
    return (int)(((uint32_t)e * 732923) >> 20);
}

static void
build_tables(void)
{
    big p = {{1}, 1};
    for (int i = 0; i < POW5_N; i++) {
        int len = big_bitlen(&p);
        assert(len == pow5bits(i));
        big_bits(&p, len - POW5_BITS, pow5_tab[i]);
        if (i < POW5_INV_N) {
            /* 2^(len - 1 + 125) / 5^i by repeated division (floor of floors is the floor) */
            int k = len - 1 + POW5_BITS;
            big x = {{0}, k / 32 + 1};
            x.w[k / 32] = 1u << (k % 32);
            int left = i;
            for (; left >= 13; left -= 13)
                big_div(&x, 1220703125u); /* 5^13 */
            uint32_t d = 1;
            while (left-- > 0)
                d *= 5;
            big_div(&x, d);
            big_bits(&x, 0, pow5inv_tab[i]);
            if (++pow5inv_tab[i][0] == 0)
                pow5inv_tab[i][1]++;
        }
        big_mul(&p, 5);
    }
}

/* mulshift: (m * f) >> j for a 55-bit m, a 125-bit f and j >= 64. */
static inline uint64_t
mulshift(uint64_t m, const uint64_t f[2], int j)
{
    u128 lo = (u128)m * f[0];
    u128 hi = (u128)m * f[1];
    return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

static inline bool
pow5_divides(uint64_t v, int p)
{
    int n = 0;
    while (v % 5 == 0 && n < p) {
        v /= 5;
        n++;
    }
    return n >= p;
}

/* ryu: shortest digits of the finite, nonzero |v| with IEEE fields (mant, bexp) as an
 * integer; *e10 is the decimal exponent of its last digit. */
static uint64_t
ryu(uint64_t mant, int bexp, int *e10)
{
    int e2;
    uint64_t m2;
    if (bexp == 0) {
        e2 = 1 - 1023 - 52 - 2;
        m2 = mant;
    } else {
        e2 = bexp - 1023 - 52 - 2;
        m2 = (1ULL << 52) | mant;
    }
    /* with an even mantissa the bounds themselves read back as v (ties to even) */
    bool even = (m2 & 1) == 0;
    uint64_t mv = 4 * m2;
    /* below a power of two the gap to the next lower double is half as wide */
    uint32_t mmshift = mant != 0 || bexp <= 1;
    uint64_t mm = mv - 1 - mmshift, mp = mv + 2;
    uint64_t vr, vp, vm;
    bool vm_tz = false, vr_tz = false; /* digits cut off below vm / vr are all zero */
    if (e2 >= 0) {
        int q = log10pow2(e2) - (e2 > 3);
        int j = -e2 + q + POW5_BITS + pow5bits(q) - 1;
        *e10 = q;
        vr = mulshift(mv, pow5inv_tab[q], j);
        vp = mulshift(mp, pow5inv_tab[q], j);
        vm = mulshift(mm, pow5inv_tab[q], j);
        if (q <= 21) {
            /* exact when 5^q divides: at most one of mm, mv, mp is a multiple of 5 */
            if (mv % 5 == 0)
                vr_tz = pow5_divides(mv, q);
            else if (even)
                vm_tz = pow5_divides(mm, q);
            else
                vp -= pow5_divides(mp, q);
        }
    } else {
        int q = log10pow5(-e2) - (-e2 > 1);
        int i = -e2 - q;
        int j = q - (pow5bits(i) - POW5_BITS);
        *e10 = q + e2;
        vr = mulshift(mv, pow5_tab[i], j);
        vp = mulshift(mp, pow5_tab[i], j);
        vm = mulshift(mm, pow5_tab[i], j);
        if (q <= 1) {
            /* exact when 2^q divides: mv has two trailing zero bits, mp one */
            vr_tz = true;
            if (even)
                vm_tz = q == 0 || mmshift == 1;
            else
                vp--;
        } else if (q < 63) {
            vr_tz = (mv & ((1ULL << q) - 1)) == 0;
        }
    }
    int removed = 0;
    unsigned last = 0;
    uint64_t out;
    if (vm_tz || vr_tz) {
        while (vp / 10 > vm / 10) {
            vm_tz &= vm % 10 == 0;
            vr_tz &= last == 0;
            last = (unsigned)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_tz) {
            while (vm % 10 == 0) {
                vr_tz &= last == 0;
                last = (unsigned)(vr % 10);
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        }
        if (vr_tz && last == 5 && vr % 2 == 0)
            last = 4; /* exactly halfway: round to even */
        out = vr + ((vr == vm && (!even || !vm_tz)) || last >= 5);
    } else {
        while (vp / 10 > vm / 10) {
            last = (unsigned)(vr % 10);
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        out = vr + (vr == vm || last >= 5);
    }
    *e10 += removed;
    return out;
}

/* shortest: the shortest significant digits (no trailing zeros) that read back as the
 * finite, nonzero v, written into dig, and the decimal exponent of the first one. */
static int
shortest(double v, char *dig, int *ndig)
{
    pthread_once(&tab_once, build_tables);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e10;
    uint64_t d = ryu(bits & ((1ULL << 52) - 1), (int)(bits >> 52 & 0x7ff), &e10);
    while (d % 10 == 0) {
        d /= 10;
        e10++;
    }
    int n = (int)osp_fmt_u64(dig, d);
    dig[n] = '\0';
    *ndig = n;
    return e10 + n - 1;
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
        o += osp_fmt_u64(o, (uint64_t)a);
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
