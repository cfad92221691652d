/* time_test.c - durations and API time parsing. */
#include "osp_test.h"

#include "osp_time.h"

static void
test_durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(osp_parse_duration(OSP_STR("5m"), &ms), 0);
    assert_true(ms == 300000);
    assert_int_equal(osp_parse_duration(OSP_STR("1h30m"), &ms), 0);
    assert_true(ms == 5400000);
    assert_int_equal(osp_parse_duration(OSP_STR("100ms"), &ms), 0);
    assert_true(ms == 100);
    assert_int_equal(osp_parse_duration(OSP_STR("1d"), &ms), 0);
    assert_true(ms == 86400000);
    assert_int_equal(osp_parse_duration(OSP_STR("0"), &ms), 0);
    assert_true(ms == 0);
    assert_int_not_equal(osp_parse_duration(OSP_STR("5"), &ms), 0);
    assert_int_not_equal(osp_parse_duration(OSP_STR("30m1h"), &ms), 0);
    assert_int_not_equal(osp_parse_duration(OSP_STR("-5m"), &ms), 0);
    assert_int_not_equal(osp_parse_duration(OSP_STR("5x"), &ms), 0);
    char out[32];
    osp_format_duration(5400000, out, sizeof(out));
    assert_string_equal(out, "1h30m");
    osp_format_duration(15000, out, sizeof(out));
    assert_string_equal(out, "15s");
}

static void
test_api_time(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(osp_parse_api_time(OSP_STR("1718000000.123"), &ms), 0);
    assert_true(ms == 1718000000123LL);
    assert_int_equal(osp_parse_api_time(OSP_STR("4"), &ms), 0);
    assert_true(ms == 4000);
    assert_int_equal(osp_parse_api_time(OSP_STR("2015-07-01T20:10:51.781Z"), &ms), 0);
    assert_true(ms == 1435781451781LL);
    assert_int_equal(osp_parse_api_time(OSP_STR("2015-07-01T22:10:51+02:00"), &ms), 0);
    assert_true(ms == 1435781451000LL);
    assert_int_not_equal(osp_parse_api_time(OSP_STR("yesterday"), &ms), 0);
    char out[40];
    osp_format_rfc3339(1435781451781LL, out, sizeof(out));
    assert_string_equal(out, "2015-07-01T20:10:51.781Z");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_api_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
