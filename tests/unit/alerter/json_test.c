/* json_test.c - the alerter's strict JSON parser: values, escapes, positions
 * of errors, limits (table-driven). */
#include <stdio.h>
#include <string.h>

#include "alert_json.h"
#include "osp_test.h"

static void
test_values(void **state)
{
    (void)state;
    osp_arena *a = osp_arena_new(0);
    alert_json *j;
    const char *s = " {\"labels\": {\"a\": \"x\\u00e9\\ud83d\\ude00\\n\"}, \"n\": -1.5e2, "
                    "\"t\": true, \"z\": null, \"arr\": [1, [], {}]} ";
    assert_int_equal(alert_json_parse(s, strlen(s), a, &j, NULL), 0);
    assert_int_equal(j->type, ALERT_JSON_OBJ);
    const alert_json *l = alert_json_get(j, "labels");
    assert_string_equal(alert_json_get(l, "a")->str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_true(alert_json_get(j, "n")->num == -150.0);
    assert_true(alert_json_get(j, "t")->b);
    assert_int_equal(alert_json_get(j, "z")->type, ALERT_JSON_NULL);
    assert_int_equal(alert_json_get(j, "arr")->n, 3);
    assert_null(alert_json_get(j, "missing"));
    assert_int_equal(alert_json_get(j, "n")->line, 1);
    osp_arena_free(a);
}

static void
test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int line, col;
        const char *msg;
    } cases[] = {
        {"", 1, 1, "unexpected end"},
        {"[1,]", 1, 4, "unexpected character"},
        {"{\"a\":1,\"a\":2}", 1, 11, "duplicate"},
        {"[\n  \"abc", 2, 7, "unterminated"},
        {"[01]", 1, 3, "','"},
        {"\"\\ud800\"", 1, 8, "surrogate"},
        {"\"a\x01\"", 1, 3, "control"},
        {"\"\xff\"", 1, 4, "UTF-8"},
        {"[1] x", 1, 5, "trailing"},
        {"{\"a\" 1}", 1, 6, "':'"},
        {"tru", 1, 1, "literal"},
        {"1e", 1, 3, "exponent"},
        {"\"\\u0000\"", 1, 8, "NUL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_arena *a = osp_arena_new(0);
        alert_json *j;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int rc = alert_json_parse(cases[i].in, strlen(cases[i].in), a, &j, &ei);
        if (rc != OSP_EPARSE || ei.line != cases[i].line || ei.col != cases[i].col ||
            !strstr(ei.msg, cases[i].msg))
            fprintf(stderr, "case %zu: rc %d at %d:%d: %s\n", i, rc, ei.line, ei.col, ei.msg);
        assert_int_equal(rc, OSP_EPARSE);
        assert_int_equal(ei.line, cases[i].line);
        assert_int_equal(ei.col, cases[i].col);
        assert_non_null(strstr(ei.msg, cases[i].msg));
        osp_arena_free(a);
    }
}

static void
test_depth_limit(void **state)
{
    (void)state;
    char buf[200];
    memset(buf, '[', 100);
    memset(buf + 100, ']', 100);
    osp_arena *a = osp_arena_new(0);
    alert_json *j;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(alert_json_parse(buf, 200, a, &j, &ei), OSP_EPARSE);
    assert_non_null(strstr(ei.msg, "deep"));
    assert_int_equal(alert_json_parse(buf + 40, 120, a, &j, &ei), 0);
    osp_arena_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
