/* fmt_test.c - the JSON writer's fast timestamp formatting prints exactly what
 * Prometheus prints (values: tests/unit/core/fmt_test.c). */
#include <stdint.h>
#include <string.h>

#include "osp_buf.h"
#include "osp_test.h"
#include "promql.h"

static void
test_timestamps(void **state)
{
    (void)state;
    const struct {
        int64_t t;
        const char *s;
    } cases[] = {{0, "0"},
                 {4000, "4"},
                 {1500, "1.5"},
                 {1781, "1.781"},
                 {1050, "1.05"},
                 {1001, "1.001"},
                 {-1000, "-1"},
                 {-1500, "-1.5"},
                 {-500, "-0.5"},
                 {-1, "-0.001"},
                 {1435781451781, "1435781451.781"},
                 {1435781451780, "1435781451.78"},
                 {1435781451700, "1435781451.7"}};
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_timestamps)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
