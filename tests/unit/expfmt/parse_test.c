/* parse_test.c - table-driven cases of the expfmt parser: good lines, each
 * kind of bad line, escapes, le/quantile normalisation, EOF rules,
 * timestamps, exemplars; plus the writer and write-then-parse round trips. */
#include "osp_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt.h"
#include "expfmt_collect.h"
#include "osp_err.h"

#define T OSP_EXPFMT_TEXT
#define OM OSP_EXPFMT_OPENMETRICS

typedef struct pcase {
    const char *name;
    osp_expfmt_dialect d;
    const char *in;
    const char *want; /* the collector's log */
} pcase;

static const pcase cases[] = {
    /* Good lines. */
    {"plain", T, "foo 1\n", "S foo 1\n"},
    {"no final newline", T, "foo 1", "S foo 1\n"},
    {"crlf", T, "foo 1\r\nbar{a=\"b\"} 2\r\n", "S foo 1\nS bar{a=b} 2\n"},
    {"blank and comment lines", T, "\n  \n# just a comment\n#HELP x y\nfoo 1\n", "S foo 1\n"},
    {"leading and trailing blanks", T, "  \tfoo 1 \t\n", "S foo 1\n"},
    {"labels", T, "foo{a=\"x\",b=\"y\"} 1\n", "S foo{a=x,b=y} 1\n"},
    {"trailing comma", T, "foo{a=\"x\",} 1\n", "S foo{a=x} 1\n"},
    {"empty braces", T, "foo{} 1\n", "S foo 1\n"},
    {"blanks inside braces", T, "foo { a = \"x\" , b=\"y\" } 1\n", "S foo{a=x,b=y} 1\n"},
    {"colon name", T, "job:rate5m:sum 2\n", "S job:rate5m:sum 2\n"},
    {"empty value is absent", T, "foo{a=\"\",b=\"x\"} 1\n", "S foo{b=x} 1\n"},
    {"utf8 value", T, "foo{a=\"h\xc3\xa9\"} 1\n", "S foo{a=h\xc3\xa9} 1\n"},
    {"values", T, "a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e3\nf +5\ng .5\nh -0.25\ni 1.5E-7\n",
     "S a NaN\nS b +Inf\nS c -Inf\nS d +Inf\nS e 1000\nS f 5\nS g 0.5\nS h -0.25\nS i 1.5e-07\n"},
    {"text timestamps", T, "foo 1 1234\nbar 2 -5\n", "S foo 1 @1234\nS bar 2 @-5\n"},
    {"quoted names (text 1.0.0)", T, "{\"my.metric\", \"a.b\"=\"x\"} 1\n{\"q\"} 2\n",
     "S my.metric{a.b=x} 1\nS q 2\n"},
    /* Escapes. */
    {"label escapes", T, "foo{a=\"x\\\\y\\\"z\\nw\\t\"} 1\n", "S foo{a=x\\\\y\\\"z\\nw\\\\t} 1\n"},
    {"text HELP escapes", T, "# HELP foo a\\\\b\\nc\\\"d\nfoo 1\n",
     "M foo help=a\\\\b\\nc\\\\\\\"d\nS foo 1\n"},
    {"OM HELP escapes", OM, "# HELP foo a\\\\b\\nc\\\"d\nfoo 1\n# EOF\n",
     "M foo help=a\\\\b\\nc\\\"d\nS foo 1\n"},
    /* Metadata. */
    {"help and type", T, "# HELP foo The foo.\n# TYPE foo counter\nfoo 1\nbar 2\n",
     "M foo type=counter help=The foo.\nS foo 1 counter\nS bar 2\n"},
    {"histogram family", T,
     "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\nhx "
     "1\n",
     "M h type=histogram\nS h_bucket{le=1.0} 1 histogram\nS h_bucket{le=+Inf} 2 histogram\n"
     "S h_sum 3 histogram\nS h_count 2 histogram\nS hx 1\n"},
    {"metadata of two names", T, "# HELP a x\n# HELP b y\nb 1\n",
     "M a help=x\nM b help=y\nS b 1\n"},
    {"metadata at end", T, "foo 1\n# TYPE bar gauge\n", "S foo 1\nM bar type=gauge\n"},
    {"empty text HELP", T, "# HELP foo\nfoo 1\n", "M foo help=\nS foo 1\n"},
    {"second HELP", T, "# HELP foo a\n# HELP foo b\nfoo 1\n",
     "E 2:1 second HELP line for the same metric\nM foo help=a\nS foo 1\n"},
    /* le and quantile normalisation. */
    {"le and quantile", T,
     "a{le=\"1\"} 1\na{le=\"0.5\"} 1\na{le=\"1e-5\"} 1\na{le=\"100000\"} 1\na{le=\"1000000\"} 1\n"
     "a{le=\"+inf\"} 1\na{le=\"abc\"} 1\nb{quantile=\"0\"} 1\nb{quantile=\"0.99\"} 1\n"
     "b{quantile=\"-0\"} 1\nc{x=\"1\"} 1\n",
     "S a{le=1.0} 1\nS a{le=0.5} 1\nS a{le=1e-05} 1\nS a{le=100000.0} 1\nS a{le=1e+06} 1\n"
     "S a{le=+Inf} 1\nS a{le=abc} 1\nS b{quantile=0.0} 1\nS b{quantile=0.99} 1\n"
     "S b{quantile=0.0} 1\nS c{x=1} 1\n"},
    /* Bad lines: reported with line:column and skipped. */
    {"label value not quoted", T, "foo{a=1} 1\n", "E 1:7 expected label value, got \"1} 1\"\n"},
    {"missing comma", T, "foo{a=\"x\" b=\"y\"} 1\n",
     "E 1:11 expected ',' or '}' after label, got \"b=\\x22y\\x22} 1\"\n"},
    {"bad label name", T, "foo{1a=\"x\"} 1\n",
     "E 1:5 expected label name, got \"1a=\\x22x\\x22} 1\"\n"},
    {"missing =", T, "foo{a \"x\"} 1\n",
     "E 1:7 expected '=' after label name, got \"\\x22x\\x22} 1\"\n"},
    {"unterminated braces", T, "foo{a=\"x\"\n",
     "E 1:10 expected ',' or '}' after label, got end of line\n"},
    {"unterminated quote", T, "foo{a=\"x} 1\n", "E 1:7 missing closing '\"' of quoted string\n"},
    {"duplicate label", T, "foo{a=\"x\",a=\"y\"} 1\n", "E 1:4 duplicate label name \"a\"\n"},
    {"__name__ label", T, "foo{__name__=\"x\"} 1\n",
     "E 1:4 label name __name__ is not allowed in a label set\n"},
    {"invalid utf8", T, "foo{a=\"\xff\"} 1\n", "E 1:8 invalid UTF-8 in quoted string\n"},
    {"invalid utf8 after text", T, "foo{a=\"ok \xc3\"} 1\n",
     "E 1:8 invalid UTF-8 in quoted string\n"},
    {"invalid utf8 escaped", T, "foo{a=\"\\\xff\"} 1\n", "E 1:8 invalid UTF-8 in quoted string\n"},
    {"escapes around utf8", T, "foo{a=\"\\\"h\xc3\xa9\\\\\"} 1\n",
     "S foo{a=\\\"h\xc3\xa9\\\\} 1\n"},
    {"bad value", T, "foo bar\n", "E 1:5 invalid value \"bar\"\n"},
    {"hex and underscore values", T, "a 0x1p3\nb 1_000\n",
     "E 1:3 invalid value \"0x1p3\"\nE 2:3 invalid value \"1_000\"\n"},
    {"no value", T, "foo\n", "E 1:4 expected value, got end of line\n"},
    {"bad name char", T, "foo.bar 1\n", "E 1:4 invalid character in metric name: got \".bar 1\"\n"},
    {"bad name start", T, "1foo 1\n", "E 1:1 expected metric name, got \"1foo 1\"\n"},
    {"no name", T, "{a=\"b\"} 1\n", "E 1:1 missing metric name\n"},
    {"float text timestamp", T, "foo 1 1.5\n", "E 1:7 invalid timestamp \"1.5\"\n"},
    {"extra token", T, "foo 1 2 3\n", "E 1:9 expected end of line after timestamp, got \"3\"\n"},
    {"exemplar in text", T, "foo 1 # {a=\"b\"} 1\n",
     "E 1:7 expected end of line after value, got \"# {a=\\x22b\\x22} 1\"\n"},
    {"bad type", T, "# TYPE foo bogus\n", "E 1:12 invalid metric type \"bogus\"\n"},
    {"type extra", T, "# TYPE foo counter x\n",
     "E 1:12 unexpected text after TYPE value: got \"counter x\"\n"},
    {"type without type", T, "# TYPE foo\n", "E 1:11 expected metric type, got end of line\n"},
    {"type without name", T, "# TYPE\n",
     "E 1:7 expected metric name after TYPE, got end of line\n"},
    {"help bad utf8", T, "# HELP foo \xc3\n", "E 1:12 invalid UTF-8 in HELP text\n"},
    {"bad among good", T, "a 1\nb{x=} 2\nc 3\n",
     "S a 1\nE 2:5 expected label value, got \"} 2\"\nS c 3\n"},
    /* OpenMetrics. */
    {"OM basic", OM,
     "# TYPE foo_seconds counter\n# UNIT foo_seconds seconds\n# HELP foo_seconds The foo.\n"
     "foo_seconds_total 1 1520879607.789\nfoo_seconds_created 1520430000.123\n# EOF\n",
     "M foo_seconds type=counter unit=seconds help=The foo.\n"
     "S foo_seconds_total 1 @1520879607789 counter\nS foo_seconds_created 1.520430000123e+09 "
     "counter\n"},
    {"OM types", OM,
     "# TYPE a gaugehistogram\n# TYPE b stateset\n# TYPE c info\n# TYPE d unknown\nc_info 1\n# EOF",
     "M a type=gaugehistogram\nM b type=stateset\nM c type=info\nM d type=unknown\nS c_info 1\n"},
    {"OM int timestamp", OM, "foo 1 1520879607\n# EOF\n", "S foo 1 @1520879607000\n"},
    {"OM exemplar", OM,
     "foo_total{a=\"b\"} 17 # {trace_id=\"abc\"} 0.67 1520879607.789\n"
     "bar_bucket{le=\"1\"} 2 1.5 # {} 1\n# EOF\n",
     "S foo_total{a=b} 17\nS bar_bucket{le=1.0} 2 @1500\n"},
    {"OM bad exemplar", OM, "foo_total 17 # {trace_id=abc} 1\nbar 1 # x\n# EOF\n",
     "E 1:26 expected label value, got \"abc} 1\"\nE 2:9 expected exemplar label set, got \"x\"\n"},
    {"OM missing EOF", OM, "foo 1\nbar 2\n",
     "S foo 1\nS bar 2\nE 3:0 data does not end with # EOF\n"},
    {"OM empty input", OM, "", "E 1:0 data does not end with # EOF\n"},
    {"OM data after EOF", OM, "foo 1\n# EOF\nbar 2\nbaz 3\n",
     "S foo 1\nE 3:1 unexpected data after # EOF\n"},
    {"OM text after EOF", OM, "# EOF x\n",
     "E 1:7 unexpected text after # EOF: got \"x\"\nE 2:0 data does not end with # EOF\n"},
    {"OM free comment", OM, "# hello\nfoo 1\n# EOF\n",
     "E 1:1 expected '# HELP', '# TYPE', '# UNIT' or '# EOF', got \"# hello\"\nS foo 1\n"},
    {"OM empty help and unit", OM, "# HELP foo\n# UNIT foo\nfoo 1\n# EOF\n", "M foo\nS foo 1\n"},
    {"OM bad unit", OM, "# UNIT foo_bytes seconds\n# EOF\n",
     "E 1:18 unit \"seconds\" is not a suffix of the metric name\n"},
    {"OM bad timestamp", OM, "foo 1 NaN\nbar 1 x\n# EOF\n",
     "E 1:7 invalid timestamp \"NaN\"\nE 2:7 invalid timestamp \"x\"\n"},
    {"text EOF is a comment", T, "foo 1\n# EOF\n", "S foo 1\n"},
};

static void
test_cases(void **state)
{
    (void)state;
    xt_coll c;
    xt_coll_init(&c);
    int failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pcase *tc = &cases[i];
        int rc = xt_parse(&c, tc->d, tc->in, strlen(tc->in));
        if (rc != 0 || strcmp(osp_buf_cstr(&c.log), tc->want) != 0) {
            print_error("case \"%s\": rc %d\n--- want\n%s--- got\n%s", tc->name, rc, tc->want,
                        osp_buf_cstr(&c.log));
            failed++;
        }
    }
    xt_coll_fini(&c);
    assert_int_equal(failed, 0);
}

static void
test_stats(void **state)
{
    (void)state;
    xt_coll c;
    xt_coll_init(&c);
    const char *in = "# HELP a x\na 1\nb{ 2\n\nc 3";
    assert_int_equal(xt_parse(&c, T, in, strlen(in)), 0);
    assert_int_equal(c.st.lines, 5);
    assert_int_equal(c.st.samples, 2);
    assert_int_equal(c.st.metas, 1);
    assert_int_equal(c.st.errors, 1);
    assert_int_equal(c.v[1].line, 5);
    xt_coll_fini(&c);
}

static int
stop_at_second(void *ctx, const osp_expfmt_sample *s)
{
    int *n = ctx;
    (void)s;
    return ++*n == 2 ? OSP_ELIMIT : 0;
}

static void
test_callback_abort(void **state)
{
    (void)state;
    int n = 0;
    osp_expfmt_handler h = {&n, stop_at_second, NULL, NULL};
    osp_expfmt_stats st;
    const char *in = "a 1\nb 2\nc 3\n";
    assert_int_equal(osp_expfmt_parse(T, in, strlen(in), &h, &st), OSP_ELIMIT);
    assert_int_equal(n, 2);
    assert_int_equal(osp_expfmt_parse(T, NULL, 3, &h, &st), OSP_EINVAL);
    assert_int_equal(osp_expfmt_parse(T, in, 3, NULL, &st), OSP_EINVAL);
    /* Input is not NUL-terminated: the length bounds it. */
    n = 0;
    assert_int_equal(osp_expfmt_parse(T, "a 1\nb 2", 5, &h, NULL), 0);
}

static void
capture_error(void *ctx, const osp_expfmt_error *e)
{
    osp_buf *b = ctx;
    osp_buf_printf(b, "%d|%d|%.*s", e->line, e->col, (int)e->line_text.n, e->line_text.p);
}

static void
test_error_line_text(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    osp_expfmt_handler h = {&b, NULL, NULL, capture_error};
    const char *in = "ok 1\r\nbad{ 2\r\n";
    assert_int_equal(osp_expfmt_parse(T, in, strlen(in), &h, NULL), 0);
    assert_string_equal(osp_buf_cstr(&b), "2|6|bad{ 2");
    osp_buf_fini(&b);
}

/* More than 16 labels take the sorting duplicate check. */
static void
test_many_labels(void **state)
{
    (void)state;
    xt_coll c;
    xt_coll_init(&c);
    osp_buf in;
    osp_buf_init(&in);
    osp_buf_puts(&in, "m{");
    for (int i = 0; i < 40; i++)
        osp_buf_printf(&in, "l%02d=\"v%d\",", 39 - i, i);
    osp_buf_puts(&in, "} 1\n");
    assert_int_equal(xt_parse(&c, T, in.data, in.len), 0);
    assert_int_equal(c.st.errors, 0);
    assert_int_equal(c.v[0].labels.n, 40);
    assert_string_equal(c.v[0].labels.v[0].name, "l39"); /* input order kept */
    osp_buf_reset(&in);
    osp_buf_puts(&in, "m{");
    for (int i = 0; i < 40; i++)
        osp_buf_printf(&in, "l%02d=\"v\",", i == 30 ? 7 : i);
    osp_buf_puts(&in, "} 1\n");
    assert_int_equal(xt_parse(&c, T, in.data, in.len), 0);
    assert_string_equal(osp_buf_cstr(&c.log), "E 1:2 duplicate label name \"l07\"\n");
    osp_buf_fini(&in);
    xt_coll_fini(&c);
}

static void
test_content_type(void **state)
{
    (void)state;
    assert_int_equal(osp_expfmt_dialect_from_content_type(NULL), T);
    assert_int_equal(osp_expfmt_dialect_from_content_type(""), T);
    assert_int_equal(osp_expfmt_dialect_from_content_type("text/plain; version=0.0.4"), T);
    assert_int_equal(osp_expfmt_dialect_from_content_type(
                         "application/openmetrics-text; version=1.0.0; charset=utf-8"),
                     OM);
    assert_int_equal(osp_expfmt_dialect_from_content_type(" Application/OpenMetrics-Text "), OM);
    assert_int_equal(osp_expfmt_dialect_from_content_type("application/openmetrics-textx"), T);
}

static void
test_float_label(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *s;
    } t[] = {{0, "0.0"},          {-0.0, "0.0"},  {1, "1.0"},          {-1, "-1.0"},
             {0.001, "0.001"},    {0.1, "0.1"},   {10, "10.0"},        {1e-05, "1e-05"},
             {1e5, "100000.0"},   {1e6, "1e+06"}, {2.5e-3, "0.0025"},  {INFINITY, "+Inf"},
             {-INFINITY, "-Inf"}, {NAN, "NaN"},   {123456, "123456.0"}};
    char out[32];
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        osp_expfmt_format_float_label(out, t[i].v);
        assert_string_equal(out, t[i].s);
    }
}

/* le values in many spellings come out as osp_expfmt_format_float_label
 * writes them, whether the parser's fast check keeps them or rewrites them. */
static void
test_le_spellings(void **state)
{
    (void)state;
    static const char *const ints[] = {"0",       "1",     "7",      "10",     "99",
                                       "100",     "12345", "123456", "999999", "1000000",
                                       "1234567", "00",    "01",     "-0",     "-3"};
    static const char *const fracs[] = {"",
                                        ".",
                                        ".0",
                                        ".00",
                                        ".5",
                                        ".50",
                                        ".05",
                                        ".005",
                                        ".0005",
                                        ".00005",
                                        ".000005",
                                        ".25",
                                        ".123456789",
                                        ".12345678901234",
                                        ".123456789012345",
                                        ".1234567890123456",
                                        ".100000000000001",
                                        ".99999999999999999"};
    static const char *const exps[] = {"", "e0", "e-3", "e+06", "E2"};
    xt_coll c;
    xt_coll_init(&c);
    char in[128], want[48], got[48];
    int failed = 0, n = 0;
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        for (size_t f = 0; f < sizeof(fracs) / sizeof(fracs[0]); f++)
            for (size_t e = 0; e < sizeof(exps) / sizeof(exps[0]); e++) {
                char v[64];
                snprintf(v, sizeof(v), "%s%s%s", ints[i], fracs[f], exps[e]);
                char *end;
                double d = strtod(v, &end);
                if (*end != '\0')
                    continue;
                osp_expfmt_format_float_label(want, d);
                snprintf(in, sizeof(in), "m{le=\"%s\"} 1\n", v);
                osp_buf_reset(&c.log);
                assert_int_equal(xt_parse(&c, T, in, strlen(in)), 0);
                const char *log = osp_buf_cstr(&c.log);
                if (sscanf(log, "S m{le=%47[^}]} 1", got) != 1 || strcmp(got, want) != 0) {
                    print_error("le=\"%s\": want %s, got %s", v, want, log);
                    failed++;
                }
                n++;
            }
    xt_coll_fini(&c);
    assert_true(n > 300);
    assert_int_equal(failed, 0);
}

static void
test_writer(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "ignored");
    osp_labels_addc(&ls, "path", "/a\"b\\c\nd");
    osp_labels_addc(&ls, "empty", "");
    osp_labels_addc(&ls, "code", "200");
    osp_expfmt_write_help(&b, "req_total", "Requests\\served\nso far");
    osp_expfmt_write_type(&b, "req_total", "counter");
    osp_expfmt_write_sample(&b, "req_total", &ls, 1027, true, 1395066363000);
    osp_expfmt_write_sample(&b, "up", NULL, 1, false, 0);
    osp_expfmt_write_sample(&b, "big", NULL, 1e6, false, 0);
    osp_expfmt_write_sample(&b, "nan", NULL, NAN, false, 0);
    osp_expfmt_write_sample(&b, "inf", NULL, -INFINITY, false, 0);
    osp_labels_reset(&ls);
    osp_labels_addc(&ls, "a.b", "x");
    osp_expfmt_write_sample(&b, "dotted.name", &ls, 0.5, false, 0);
    assert_string_equal(osp_buf_cstr(&b),
                        "# HELP req_total Requests\\\\served\\nso far\n"
                        "# TYPE req_total counter\n"
                        "req_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 1027 1395066363000\n"
                        "up 1\n"
                        "big 1e+06\n"
                        "nan NaN\n"
                        "inf -Inf\n"
                        "{\"dotted.name\",\"a.b\"=\"x\"} 0.5\n");
    osp_labels_fini(&ls);
    osp_buf_fini(&b);
}

static const char *const round_trips[] = {
    "a 1\nb{x=\"y\"} 2 1000\n",
    "esc{v=\"back\\\\slash \\\"quote\\\" new\\nline \\t\"} 3\n",
    "vals{k=\"1\"} NaN\nvals{k=\"2\"} +Inf\nvals{k=\"3\"} -Inf\nvals{k=\"4\"} "
    "1.7976931348623157e+308\n"
    "vals{k=\"5\"} 5e-324\nvals{k=\"6\"} 0.1\nvals{k=\"7\"} 123456789012\nvals{k=\"8\"} -0\n",
    "h_bucket{le=\"0.005\"} 1 -1\nh_bucket{le=\"+Inf\"} 4\nh_sum 0.30000000000000004\n",
    "{\"my.metric\",\"la.bel\"=\"v\",\"quo\\\"te\"=\"q\"} 7\n",
    "u{v=\"\xe2\x82\xac \xf0\x9f\x98\x80\"} 1\n",
};

static void
test_round_trip(void **state)
{
    (void)state;
    xt_coll a, b;
    xt_coll_init(&a);
    xt_coll_init(&b);
    char why[256];
    for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
        const char *in = round_trips[i];
        assert_int_equal(xt_parse(&a, T, in, strlen(in)), 0);
        assert_int_equal(a.st.errors, 0);
        assert_true(a.n > 0);
        osp_buf out;
        osp_buf_init(&out);
        xt_write(&a, &out);
        assert_int_equal(xt_parse(&b, T, out.data, out.len), 0);
        if (b.st.errors != 0 || !xt_same(&a, &b, why, sizeof(why)))
            fail_msg("round trip %zu: %s\n%s", i, b.st.errors ? "errors" : why, out.data);
        osp_buf_fini(&out);
    }
    xt_coll_fini(&a);
    xt_coll_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),          cmocka_unit_test(test_stats),
        cmocka_unit_test(test_callback_abort), cmocka_unit_test(test_error_line_text),
        cmocka_unit_test(test_content_type),   cmocka_unit_test(test_float_label),
        cmocka_unit_test(test_le_spellings),   cmocka_unit_test(test_writer),
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_many_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
