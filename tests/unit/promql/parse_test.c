/* parse_test.c - table-driven tests of the PromQL parser and printer: valid queries and
 * their canonical form, errors with their positions, plus a few evaluator checks. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "osp_mem.h"
#include "osp_test.h"
#include "promql.h"

static const struct {
    const char *in, *out;
} valid[] = {
    {"1+1", "1 + 1"},
    {"1", "1"},
    {"-1", "-1"},
    {"0x1F", "31"},
    {"1e3", "1000"},
    {"Inf", "Inf"},
    {"-inf", "-Inf"},
    {"NaN", "NaN"},
    {"\"a\\\"b\"", "\"a\\\"b\""},
    {"'single'", "\"single\""},
    {"`raw\\n`", "\"raw\\\\n\""},
    {"up", "up"},
    {"up{job=\"x\"}", "up{job=\"x\"}"},
    {"up{job=\"x\",a!=\"b\",c=~\"d.*\",e!~\"f\",}", "up{a!=\"b\",c=~\"d.*\",e!~\"f\",job=\"x\"}"},
    {"{__name__=~\"a.*\"}", "{__name__=~\"a.*\"}"},
    {"{__name__=\"up\"}", "{__name__=\"up\"}"},
    {"x[5m]", "x[5m]"},
    {"x[90s]", "x[1m30s]"},
    {"x offset 5m", "x offset 5m"},
    {"x offset -5m", "x offset -5m"},
    {"x[5m] offset 1h", "x[5m] offset 1h"},
    {"x @ 100", "x @ 100.000"},
    {"x @ start()", "x @ start()"},
    {"x[1m] @ end() offset 1m", "x[1m] @ end() offset 1m"},
    {"rate(x[5m])", "rate(x[5m])"},
    {"sum by(job)(rate(x[5m]))", "sum by (job) (rate(x[5m]))"},
    {"sum(rate(x[5m])) by (job, instance)", "sum by (job, instance) (rate(x[5m]))"},
    {"SUM without (a) (x)", "sum without (a) (x)"},
    {"sum by () (x)", "sum(x)"},
    {"topk(3, x)", "topk(3, x)"},
    {"count_values(\"v\", x)", "count_values(\"v\", x)"},
    {"quantile(0.9, x)", "quantile(0.9, x)"},
    {"a + on(x) b", "a + on (x) b"},
    {"a * ignoring(x, y) group_left(z) b", "a * ignoring (x, y) group_left (z) b"},
    {"a > bool 1", "a > bool 1"},
    {"1 == bool 1", "1 == bool 1"},
    {"a and b or c unless d", "a and b or c unless d"},
    {"(a + b) * c", "(a + b) * c"},
    {"-a", "-a"},
    {"- - 1", "1"},
    {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
    {"x[5m:1m]", "x[5m:1m]"},
    {"rate(x[5m])[30m:]", "rate(x[5m])[30m:]"},
    {"max_over_time(deriv(rate(x[1m])[5m:1m])[10m:])",
     "max_over_time(deriv(rate(x[1m])[5m:1m])[10m:])"},
    {"foo:bar:rate5m", "foo:bar:rate5m"},
    {"histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
     "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))"},
    {"label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
     "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"},
    {"time()", "time()"},
    {"a atan2 b", "a atan2 b"},
    {"# comment\nup", "up"},
};

static const struct {
    const char *in;
    int col;
    const char *msg;
} invalid[] = {
    {"", 1, "no expression found in input"},
    {"1 +", 4, "unexpected end of input"},
    {"sum(", 5, "unexpected end of input"},
    {"up{job=\"x\"", 11, "unexpected end of input"},
    {"{}", 1, "vector selector must contain at least one non-empty matcher"},
    {"{a=\"\"}", 1, "vector selector must contain at least one non-empty matcher"},
    {"rate(x)", 6, "expected type range vector in call to function \"rate\", got instant vector"},
    {"foo(x)", 1, "unknown function with name \"foo\""},
    {"1 > 2", 3, "comparisons between scalars must use BOOL modifier"},
    {"1 and 2", 3, "set operator \"and\" not allowed in binary scalar expression"},
    {"x[5m] + 1", 7, "binary expression must contain only scalar and instant vector types"},
    {"(x)[5m]", 4, "ranges only allowed for vector selectors"},
    {"up{a=~\"(\"}", 4, "error parsing regexp"},
    {"x[5x]", 3, "bad duration syntax"},
    {"1 $ 2", 3, "unexpected character"},
    {"sum(x[5m])", 5, "expected type instant vector in aggregation expression, got range vector"},
    {"x{__name__=\"y\"}", 3, "metric name must not be set twice"},
    {"a + b c", 7, "unexpected \"c\""},
};

static void
test_valid(void **state)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        osp_promql_expr *e = NULL;
        osp_errinfo ei = {0};
        int rc = osp_promql_parse(valid[i].in, strlen(valid[i].in), &e, &ei);
        if (rc != 0)
            fail_msg("%s: %s", valid[i].in, ei.msg);
        osp_buf b;
        osp_buf_init(&b);
        osp_promql_format(e, &b);
        if (strcmp(osp_buf_cstr(&b), valid[i].out) != 0)
            fail_msg("%s: formatted %s, want %s", valid[i].in, osp_buf_cstr(&b), valid[i].out);
        osp_promql_expr *e2 = NULL;
        assert_int_equal(osp_promql_parse(b.data, b.len, &e2, &ei), 0);
        osp_promql_expr_free(e2);
        osp_buf_fini(&b);
        osp_promql_expr_free(e);
    }
}

static void
test_invalid(void **state)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        osp_promql_expr *e = NULL;
        osp_errinfo ei = {0};
        int rc = osp_promql_parse(invalid[i].in, strlen(invalid[i].in), &e, &ei);
        if (rc != OSP_EPARSE)
            fail_msg("%s: parsed (rc %d)", invalid[i].in, rc);
        assert_null(e);
        if (strstr(ei.msg, invalid[i].msg) == NULL || ei.col != invalid[i].col)
            fail_msg("%s: got col %d %s, want col %d %s", invalid[i].in, ei.col, ei.msg,
                     invalid[i].col, invalid[i].msg);
        char pre[32];
        snprintf(pre, sizeof pre, "%d:%d: parse error: ", ei.line, ei.col);
        assert_true(strncmp(ei.msg, pre, strlen(pre)) == 0);
    }
}

static void
test_matchers(void **state)
{
    osp_arena *a = osp_arena_new(0);
    osp_matcher *ms;
    size_t n;
    const char *sel = "up{job=~\"a|b\",env!=\"\"}";
    assert_int_equal(osp_matchers_parse(sel, strlen(sel), &ms, &n, a, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ms[0].name, "__name__");
    assert_true(osp_matcher_matches(&ms[1], "a"));
    assert_false(osp_matcher_matches(&ms[1], "ab"));
    assert_false(osp_matcher_matches(&ms[2], ""));
    const char *nl = "{a=~\".+\"}";
    assert_int_equal(osp_matchers_parse(nl, strlen(nl), &ms, &n, a, NULL), 0);
    assert_true(osp_matcher_matches(&ms[0], "x\ny"));
    assert_false(osp_matcher_matches_empty(&ms[0]));
    assert_int_equal(osp_matchers_parse("rate(x[5m])", 11, &ms, &n, a, NULL), OSP_EPARSE);
    osp_arena_free(a);
}

static char *
eval_json(osp_promql_memsource *ms, const char *q, int64_t start, int64_t end, int64_t step)
{
    osp_promql_expr *e;
    osp_errinfo ei;
    if (osp_promql_parse(q, strlen(q), &e, &ei) != 0)
        fail_msg("%s: %s", q, ei.msg);
    osp_promql_source src = osp_promql_memsource_source(ms);
    osp_promql_result *r;
    int rc = step ? osp_promql_eval_range(e, &src, start, end, step, NULL, &r, &ei)
                  : osp_promql_eval_instant(e, &src, start, NULL, &r, &ei);
    if (rc != 0)
        fail_msg("%s: %s", q, ei.msg);
    osp_buf b;
    osp_buf_init(&b);
    osp_promql_result_json(r, &b);
    osp_promql_result_free(r);
    osp_promql_expr_free(e);
    return osp_buf_steal(&b, NULL);
}

static void
test_eval_json(void **state)
{
    osp_promql_memsource *ms = osp_promql_memsource_new();
    osp_labels l;
    osp_labels_init(&l);
    osp_labels_addc(&l, "__name__", "up");
    osp_labels_addc(&l, "job", "x");
    for (int i = 0; i < 10; i++)
        osp_promql_memsource_add(ms, &l, i * 15000, i == 5 ? osp_promql_stale_nan() : 1);
    char *j = eval_json(ms, "1+1", 1435781451781, 0, 0);
    assert_string_equal(j, "{\"resultType\":\"scalar\",\"result\":[1435781451.781,\"2\"]}");
    osp_free(j);
    j = eval_json(ms, "up", 60000, 0, 0);
    assert_string_equal(j, "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":"
                           "\"up\",\"job\":\"x\"},\"value\":[60,\"1\"]}]}");
    osp_free(j);
    j = eval_json(ms, "up", 75000, 0, 0); /* newest sample is the stale marker */
    assert_string_equal(j, "{\"resultType\":\"vector\",\"result\":[]}");
    osp_free(j);
    j = eval_json(ms, "count_over_time(up[1m])", 90000, 0, 0);
    assert_string_equal(j, "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"x\"},"
                           "\"value\":[90,\"4\"]}]}");
    osp_free(j);
    j = eval_json(ms, "up * 2", 60000, 90000, 15000);
    assert_string_equal(j, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"x\"},"
                           "\"values\":[[60,\"2\"],[90,\"2\"]]}]}");
    osp_free(j);
    j = eval_json(ms, "time()", 0, 1500, 1000);
    assert_string_equal(j, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
                           "\"values\":[[0,\"0\"],[1,\"1\"]]}]}");
    osp_free(j);
    osp_labels_fini(&l);
    osp_promql_memsource_free(ms);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_matchers),
        cmocka_unit_test(test_eval_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
