/* buf_test.c - buffer, JSON escaping and Prometheus number formatting. */
#include "osp_test.h"

#include <math.h>
#include <string.h>

#include "osp_buf.h"

static void
test_json_escape(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_json_str(&b, "a\"b\\c\n\x01\xff", 8);
    assert_string_equal(osp_buf_cstr(&b), "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\"");
    osp_buf_fini(&b);
}

static void
test_printf_grows(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        osp_buf_printf(&b, "%04d", i);
    assert_int_equal(b.len, 4000);
    assert_memory_equal(b.data + 3996, "0999", 4);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[599] = 0;
    osp_buf_reset(&b);
    osp_buf_printf(&b, "%s!", big);
    assert_int_equal(b.len, 600);
    osp_buf_fini(&b);
}

static void
check_fmt(double v, const char *want)
{
    char out[32];
    osp_fmt_double(out, v);
    assert_string_equal(out, want);
}

static void
test_fmt_double(void **state)
{
    (void)state;
    check_fmt(2, "2");
    check_fmt(0.1, "0.1");
    check_fmt(1435781451.781, "1435781451.781");
    check_fmt(1e21, "1e+21");
    check_fmt(1e20, "100000000000000000000");
    check_fmt(0.0001, "0.0001");
    check_fmt(0.00001, "1e-05");
    check_fmt(-1.5, "-1.5");
    check_fmt(NAN, "NaN");
    check_fmt(INFINITY, "+Inf");
    check_fmt(-INFINITY, "-Inf");
    check_fmt(1.0 / 3, "0.3333333333333333");
    char out[32];
    osp_fmt_double_expfmt(out, 1e6);
    assert_string_equal(out, "1e+06");
    osp_fmt_double_expfmt(out, 123456);
    assert_string_equal(out, "123456");
    osp_fmt_double_expfmt(out, 0.25);
    assert_string_equal(out, "0.25");
}

static void
test_parse_double(void **state)
{
    (void)state;
    double v;
    assert_int_equal(osp_parse_double(OSP_STR("1.5e3"), &v), 0);
    assert_true(v == 1500);
    assert_int_equal(osp_parse_double(OSP_STR("+Inf"), &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(osp_parse_double(OSP_STR("-inf"), &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(osp_parse_double(OSP_STR("NaN"), &v), 0);
    assert_true(isnan(v));
    assert_int_not_equal(osp_parse_double(OSP_STR("0x10"), &v), 0);
    assert_int_not_equal(osp_parse_double(OSP_STR("1_000"), &v), 0);
    assert_int_not_equal(osp_parse_double(OSP_STR("1.5x"), &v), 0);
    assert_int_not_equal(osp_parse_double(OSP_STR(""), &v), 0);
    int64_t i;
    assert_int_equal(osp_parse_int64(OSP_STR("-1234567890123"), &i), 0);
    assert_true(i == -1234567890123LL);
    assert_int_not_equal(osp_parse_int64(OSP_STR("12a"), &i), 0);
}

static void
test_hash_stable(void **state)
{
    (void)state;
    /* golden values: the hash identifies series in PostgreSQL across versions
     * and machines, so it must never change */
    assert_true(osp_hash64("abc", 3, 0) == 0x9cc9c33498a95efbULL);
    assert_true(osp_hash64("series-identity-0123456789", 26, 42) == 0x93f58205cae4ebb1ULL);
    assert_true(osp_hash64("abc", 3, 0) != osp_hash64("abd", 3, 0));
    assert_true(osp_hash64("", 0, 1) != osp_hash64("", 0, 2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escape), cmocka_unit_test(test_printf_grows),
        cmocka_unit_test(test_fmt_double),  cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_hash_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
