/* fmt_test.c - osp_fmt_double (Prometheus' JSON float text) against a slow
 * reference: the precision-by-precision shortest round-trip search laid out as
 * Go's FormatFloat(v, 'f'/'e', -1, 64). */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osp_buf.h"

static void
reference(char *out, double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        strcpy(out, signbit(v) ? "-0" : "0");
        return;
    }
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
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
    char *o = out;
    if (v < 0)
        *o++ = '-';
    if (exp < -4 || exp >= 21) {
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

static void
check(double v)
{
    char want[64], got[64];
    reference(want, v);
    int n = osp_fmt_double(got, v);
    if (strcmp(want, got) != 0)
        fail_msg("%.17g: reference %s, osp_fmt_double %s", v, want, got);
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
    for (int i = 0; i < 300000; i++) {
        uint64_t r = next();
        double v;
        switch (i % 6) {
        case 0: memcpy(&v, &r, sizeof v); break;                              /* any bit pattern */
        case 1: v = (double)(int64_t)(r % 2000000000000000ULL) - 1e15; break; /* integers */
        case 2: v = (double)(r % 100000) / 100.0; break;                      /* two decimals */
        case 3: v = (double)(r % 1000000) / 7.0; break;                       /* rates */
        case 4: v = ldexp((double)(r >> 11), (int)(next() % 200) - 150); break;
        default: v = (double)(r % 1000) * pow(10, (double)(int)(next() % 60) - 30); break;
        }
        check(v);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_values)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
