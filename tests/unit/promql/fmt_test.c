/* fmt_test.c - the JSON writer's fast number and timestamp formatting must print exactly
 * what osp_fmt_double and the reference timestamp rules print. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "osp_buf.h"
#include "osp_test.h"
#include "promql.h"

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
check(double v)
{
    char want[64], got[64];
    osp_fmt_double(want, v);
    int n = osp_promql_fmt_value(got, v);
    if (strcmp(want, got) != 0)
        fail_msg("%.17g: osp_fmt_double %s, fast %s", v, want, got);
    assert_int_equal(n, (int)strlen(got));
}

static void
test_values(void **state)
{
    (void)state;
    const double fixed[] = {0.0,     -0.0,    1,       -1,      0.1,     0.3,    0.1 + 0.2,
                            1e-4,    1e-5,    1.5e-5,  123456,  1e15,    1e15 + 1, 1e20,
                            1e21,    1e22,    -1e21,   2.5,     1.0 / 3, 2.0 / 3, 5e-324,
                            1.7976931348623157e308,  9007199254740993.0, 123.456, 99.99,
                            NAN,     INFINITY, -INFINITY, 0.05,  1e-7,    4.35,   1234567.891};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check(fixed[i]);
    for (int i = 0; i < 300000; i++) {
        uint64_t r = next();
        double v;
        switch (i % 6) {
        case 0: memcpy(&v, &r, sizeof v); break;                      /* any bit pattern */
        case 1: v = (double)(int64_t)(r % 2000000000000000ULL) - 1e15; break; /* integers */
        case 2: v = (double)(r % 100000) / 100.0; break;               /* two decimals */
        case 3: v = (double)(r % 1000000) / 7.0; break;                /* rates */
        case 4: v = ldexp((double)(r >> 11), (int)(next() % 200) - 150); break;
        default: v = (double)(r % 1000) * pow(10, (double)(int)(next() % 60) - 30); break;
        }
        check(v);
    }
}

static void
test_timestamps(void **state)
{
    (void)state;
    const struct {
        int64_t t;
        const char *s;
    } cases[] = {{0, "0"},         {4000, "4"},         {1500, "1.5"},       {1781, "1.781"},
                 {1050, "1.05"},   {1001, "1.001"},     {-1000, "-1"},       {-1500, "-1.5"},
                 {-500, "-0.5"},   {-1, "-0.001"},      {1435781451781, "1435781451.781"},
                 {1435781451780, "1435781451.78"}, {1435781451700, "1435781451.7"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[32];
        osp_promql_fmt_ts_c(got, cases[i].t);
        if (strcmp(got, cases[i].s) != 0)
            fail_msg("%lld: want %s got %s", (long long)cases[i].t, cases[i].s, got);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_values),
                                       cmocka_unit_test(test_timestamps)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
