/* params_test.c - API parameter parsing (times, steps, limits), U__ label
 * name decoding, and conninfo password masking. */
#include "osp_test.h"

#include <string.h>

#include "store_conf.h"
#include "store_params.h"

static void
test_time(void **state)
{
    (void)state;
    osp_buf msg;
    osp_buf_init(&msg);
    int64_t ms;
    assert_int_equal(store_param_time("time", "4", 0, &ms, &msg), 0);
    assert_int_equal(ms, 4000);
    assert_int_equal(store_param_time("time", "1718000000.123", 0, &ms, &msg), 0);
    assert_int_equal(ms, 1718000000123);
    assert_int_equal(store_param_time("time", "2015-07-01T20:10:51.781Z", 0, &ms, &msg), 0);
    assert_int_equal(ms, 1435781451781);
    assert_int_equal(store_param_time("time", NULL, 77, &ms, &msg), 0);
    assert_int_equal(ms, 77);
    assert_int_equal(store_param_time("time", "", 78, &ms, &msg), 0);
    assert_int_equal(ms, 78);
    assert_int_equal(store_param_time("start", "abc", 0, &ms, &msg), OSP_EPARSE);
    assert_string_equal(osp_buf_cstr(&msg),
                        "invalid parameter \"start\": cannot parse \"abc\" to a valid timestamp");
    osp_buf_reset(&msg);
    assert_int_equal(store_param_ms("timestamp", "1700000000000", 0, &ms, &msg), 0);
    assert_int_equal(ms, 1700000000000);
    assert_int_equal(store_param_ms("timestamp", "1.5", 0, &ms, &msg), OSP_EPARSE);
    osp_buf_fini(&msg);
}

static void
test_duration(void **state)
{
    (void)state;
    osp_buf msg;
    osp_buf_init(&msg);
    int64_t ms;
    struct {
        const char *in;
        int64_t want;
    } ok[] = {{"15", 15000},      {"0.5", 500},   {"5m", 300000},
              {"1h30m", 5400000}, {"100ms", 100}, {"0", 0}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(store_param_duration("step", ok[i].in, -1, &ms, &msg), 0);
        assert_int_equal(ms, ok[i].want);
    }
    const char *bad[] = {"x", "5x", "-1", "NaN", "Inf", "1e30"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(store_param_duration("step", bad[i], 0, &ms, &msg), OSP_EPARSE);
    assert_int_equal(store_param_duration("timeout", NULL, 42, &ms, &msg), 0);
    assert_int_equal(ms, 42);
    osp_buf_fini(&msg);
}

static void
test_limit_and_steps(void **state)
{
    (void)state;
    osp_buf msg;
    osp_buf_init(&msg);
    size_t n;
    assert_int_equal(store_param_limit("limit", "40000", &n, &msg), 0);
    assert_int_equal(n, 40000);
    assert_int_equal(store_param_limit("limit", NULL, &n, &msg), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_param_limit("limit", "-1", &n, &msg), OSP_EPARSE);
    assert_int_equal(store_param_limit("limit", "x", &n, &msg), OSP_EPARSE);
    assert_true(store_query_steps_ok(0, 11000000, 1000));
    assert_false(store_query_steps_ok(0, 11001000, 1000));
    assert_false(store_query_steps_ok(0, 10, 0));
    osp_buf_fini(&msg);
}

static void
test_unescape(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } cases[] = {
        {"job", "job"},
        {"__name__", "__name__"},
        {"U__http_2e_status__code", "http.status_code"},
        {"U__http_002e_status__code", "http.status_code"}, /* zero-padded hex */
        {"U__a__b", "a_b"},
        {"U___1f600_", "\xf0\x9f\x98\x80"},
        {"U__bad_zz_", "U__bad_zz_"}, /* invalid escapes come back unchanged */
        {"U__open_2e", "U__open_2e"},
        {"U__a.b", "U__a.b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_buf out;
        osp_buf_init(&out);
        store_label_unescape(cases[i].in, &out);
        assert_string_equal(osp_buf_cstr(&out), cases[i].want);
        osp_buf_fini(&out);
    }
}

static void
test_mask(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } cases[] = {
        {"host=/tmp port=5 user=u dbname=d", "host=/tmp port=5 user=u dbname=d"},
        {"host=h password=s3cret user=u", "host=h password=*** user=u"},
        {"host=h password = 's e\\'c' user=u", "host=h password =*** user=u"},
        {"postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"},
        {"postgres://h/db?user=u&password=s3cret&x=1", "postgres://h/db?user=u&password=***&x=1"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_buf out;
        osp_buf_init(&out);
        store_conninfo_mask(cases[i].in, &out);
        assert_string_equal(osp_buf_cstr(&out), cases[i].want);
        assert_null(strstr(osp_buf_cstr(&out), "s3cret"));
        osp_buf_fini(&out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_limit_and_steps),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
