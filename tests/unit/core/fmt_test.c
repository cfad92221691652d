/* fmt_test.c - osp_fmt_double (Prometheus' JSON float text) against a slow
 * reference: the precision-by-precision shortest round-trip search (glibc's exact
 * printf and strtod) laid out as Go's FormatFloat(v, 'f'/'e', -1, 64), over edge cases
 * and random doubles (OSP_FMT_COUNT of them, 600 000 unless set). */
#include "osp_test.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_buf.h"

/* round_away: the decimal next to tmp ("-d.ddde+XX") one unit in its last place further
 * from zero, in the same form. */
static void
round_away(const char *tmp, char *out, size_t outsz)
{
    char dig[24];
    int nd = 0;
    const char *p = tmp + (tmp[0] == '-');
    for (; *p != 'e'; p++)
        if (*p != '.')
            dig[nd++] = *p;
    int exp = atoi(p + 1);
    int i = nd - 1;
    while (i >= 0 && dig[i] == '9')
        dig[i--] = '0';
    if (i >= 0) {
        dig[i]++;
    } else {
        dig[0] = '1'; /* 9.99e+k -> 1.00e+(k+1) */
        exp++;
    }
    dig[nd] = '\0';
    snprintf(out, outsz, "%s%c.%se%d", tmp[0] == '-' ? "-" : "", dig[0], dig + 1, exp);
}

/* layout: sign, digits dig[0..nd) and the decimal exponent of the first as Go's
 * FormatFloat does, plain for exponents in [-4, e_hi). */
static void
layout(char *out, bool neg, const char *dig, int nd, int exp, int e_hi)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (exp < -4 || exp >= e_hi) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        return;
    }
    if (exp < 0) {
        o += sprintf(o, "0.");
        for (int i = 0; i < -exp - 1; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o[nd] = '\0';
        return;
    }
    for (int i = 0; i <= exp; i++)
        *o++ = i < nd ? dig[i] : '0';
    if (nd > exp + 1) {
        *o++ = '.';
        memcpy(o, dig + exp + 1, (size_t)(nd - exp - 1));
        o += nd - exp - 1;
    }
    *o = '\0';
}

/* reference: v as Go's FormatFloat(v, 'f'/'e', -1, 64) prints it with plain notation
 * for decimal exponents in [-4, 21) (out21, the JSON form) and [-4, 6) (out6, the
 * exposition format's). */
static void
reference(char *out21, char *out6, double v)
{
    const char *special = isnan(v)   ? "NaN"
                          : isinf(v) ? (v > 0 ? "+Inf" : "-Inf")
                          : v == 0   ? (signbit(v) ? "-0" : "0")
                                     : NULL;
    if (special != NULL) {
        strcpy(out21, special);
        strcpy(out6, special);
        return;
    }
    /* Below a power of two the gap to the next lower double is half the gap above, so
     * the nearest decimal of a length can fail to read back while the one above, which
     * is shorter than any that follow, does: Go (and Ryu) take that one. */
    int e2;
    bool pow2 = fabs(frexp(v, &e2)) == 0.5 && fabs(v) > 2.2250738585072014e-308;
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
        if (pow2 && fabs(strtod(tmp, NULL)) < fabs(v)) {
            char up[40];
            round_away(tmp, up, sizeof up);
            if (strtod(up, NULL) == v) {
                strcpy(tmp, up);
                break;
            }
        }
    }
    char dig[24];
    int nd = 0;
    const char *p = tmp + (tmp[0] == '-');
    for (; *p != 'e'; p++)
        if (*p != '.')
            dig[nd++] = *p;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    int exp = atoi(p + 1);
    layout(out21, v < 0, dig, nd, exp, 21);
    layout(out6, v < 0, dig, nd, exp, 6);
}

static void
check(double v)
{
    char want21[64], want6[64], got[64];
    reference(want21, want6, v);
    int n = osp_fmt_double(got, v);
    if (strcmp(want21, got) != 0)
        fail_msg("%.17g: reference %s, osp_fmt_double %s", v, want21, got);
    assert_int_equal(n, (int)strlen(got));
    n = osp_fmt_double_expfmt(got, v);
    if (strcmp(want6, got) != 0)
        fail_msg("%.17g: reference %s, osp_fmt_double_expfmt %s", v, want6, got);
    assert_int_equal(n, (int)strlen(got));
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
test_values(void **state)
{
    (void)state;
    const double fixed[] = {0.0,
                            -0.0,
                            1,
                            -1,
                            0.1,
                            0.3,
                            0.1 + 0.2,
                            1e-4,
                            1e-5,
                            1.5e-5,
                            123456,
                            1e15,
                            1e15 + 1,
                            1e20,
                            1e21,
                            1e22,
                            -1e21,
                            2.5,
                            1.0 / 3,
                            2.0 / 3,
                            5e-324,
                            1.7976931348623157e308,
                            9007199254740993.0,
                            123.456,
                            99.99,
                            NAN,
                            INFINITY,
                            -INFINITY,
                            0.05,
                            1e-7,
                            4.35,
                            1234567.891};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check(fixed[i]);
}

/* Powers of two over the whole exponent range (the asymmetric case), mantissa edges,
 * powers of ten and their neighbours, integers around 2^53 and around the plain/exponent
 * switch. */
static void
test_edges(void **state)
{
    (void)state;
    for (uint64_t e = 0; e < 2047; e++) {
        const uint64_t mant[] = {0, 1, 2, 3, (1ULL << 52) - 1, (1ULL << 52) - 2, 1ULL << 51};
        for (size_t k = 0; k < sizeof mant / sizeof mant[0]; k++) {
            uint64_t bits = e << 52 | mant[k];
            double v;
            memcpy(&v, &bits, sizeof v);
            check(v);
            check(-v);
        }
    }
    for (int k = -324; k <= 308; k++) {
        for (int d = 1; d <= 9; d++) {
            char s[32];
            snprintf(s, sizeof s, "%de%d", d, k);
            double v = strtod(s, NULL);
            check(v);
            check(nextafter(v, INFINITY));
            check(nextafter(v, 0));
        }
    }
    for (int64_t k = -2000; k <= 2000; k++) {
        check((double)((1LL << 53) + k));
        check(1e15 + (double)k);
        check(1e21 + (double)k * 65536);
    }
}

/* Go's text for powers of two where the nearest decimal of the shortest length does not
 * read back but the next one up does (Go and Ryu print it; a nearest-only search printed
 * one digit more). */
static void
test_pow2_shortest(void **state)
{
    (void)state;
    const struct {
        int e;
        const char *s;
    } cases[] = {{-24, "5.960464477539063e-08"}, {-44, "5.684341886080802e-14"},
                 {89, "6.189700196426902e+26"},  {-1017, "7.120236347223045e-307"},
                 {122, "5.316911983139664e+36"}, {976, "6.386688990511104e+293"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[64];
        osp_fmt_double(got, ldexp(1, cases[i].e));
        if (strcmp(got, cases[i].s) != 0)
            fail_msg("2^%d: want %s got %s", cases[i].e, cases[i].s, got);
    }
}

static void
test_random(void **state)
{
    (void)state;
    const char *env = getenv("OSP_FMT_COUNT");
    long count = env ? atol(env) : 600000;
    for (long i = 0; i < count; i++) {
        uint64_t r = next();
        double v;
        switch (i % 8) {
        case 0: memcpy(&v, &r, sizeof v); break;                              /* any bit pattern */
        case 1: v = (double)(int64_t)(r % 2000000000000000ULL) - 1e15; break; /* integers */
        case 2: v = (double)(r % 100000) / 100.0; break;                      /* two decimals */
        case 3: v = (double)(r % 10000000) / (double)(1 + next() % 1000); break; /* rates */
        case 4: v = ldexp((double)(r >> 11), (int)(next() % 2200) - 1100); break;
        case 5: v = (double)(r % 1000) * pow(10, (double)(int)(next() % 600) - 300); break;
        case 6: { /* a decimal of 1..17 digits read back */
            char s[48];
            int nd = 1 + (int)(next() % 17);
            uint64_t m = r % 100000000000000000ULL, p10 = 1;
            for (int k = 0; k < nd; k++)
                p10 *= 10;
            snprintf(s, sizeof s, "%llue%d", (unsigned long long)(m % p10),
                     (int)(next() % 640) - 340);
            v = strtod(s, NULL);
            break;
        }
        default: { /* subnormals and the smallest normals */
            uint64_t b = (r & 0x800fffffffffffffULL) | (next() % 3) << 52;
            memcpy(&v, &b, sizeof v);
            break;
        }
        }
        check(v);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_values), cmocka_unit_test(test_edges),
                                       cmocka_unit_test(test_pow2_shortest),
                                       cmocka_unit_test(test_random)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
