/* form_test.c - table-driven cases for query-string/form parsing and
 * percent-decoding, and the gzip/gunzip helpers. */
#include <string.h>

#include "http.h"
#include "osp_test.h"

static void
collect(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    osp_buf *b = ctx;
    osp_buf_append(b, name, nlen);
    osp_buf_putc(b, '=');
    osp_buf_append(b, value, vlen);
    osp_buf_putc(b, '|');
}

static void
test_parse_form(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        const char *want;
    } cases[] = {
        {"", 0, ""},
        {"a=1", 0, "a=1|"},
        {"a=1&b=x+y", 0, "a=1|b=x y|"},
        {"match%5B%5D=up&match[]=%7Bjob%3D%22a%22%7D", 0, "match[]=up|match[]={job=\"a\"}|"},
        {"&&a&=v&b=", 0, "a=|=v|b=|"},
        {"q=1%2B1", 0, "q=1+1|"},
        {"q=%zz", OSP_EPARSE, ""},
        {"a=1&q=%4", OSP_EPARSE, "a=1|"},
        {"q=100%", OSP_EPARSE, ""},
        {"x=a=b", 0, "x=a=b|"},
        {"k=%00z", 0, "k=\0z|"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_buf b;
        osp_buf_init(&b);
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int rc = osp_http_parse_form(cases[i].in, strlen(cases[i].in), collect, &b, &ei);
        assert_int_equal(rc, cases[i].rc);
        if (strcmp(cases[i].in, "k=%00z") == 0)
            assert_memory_equal(b.data, "k=\0z|", 5);
        else
            assert_string_equal(osp_buf_cstr(&b), cases[i].want);
        if (rc != 0)
            assert_non_null(strstr(ei.msg, "invalid URL escape"));
        osp_buf_fini(&b);
    }
}

static void
test_urldecode(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    assert_int_equal(osp_http_urldecode("/api/v1/label/a%20b/values", 26, false, &b), 0);
    assert_string_equal(b.data, "/api/v1/label/a b/values");
    osp_buf_reset(&b);
    assert_int_equal(osp_http_urldecode("a+b", 3, false, &b), 0);
    assert_string_equal(b.data, "a+b");
    osp_buf_reset(&b);
    assert_int_equal(osp_http_urldecode("a%", 2, true, &b), OSP_EPARSE);
    assert_int_equal(b.len, 0);
    osp_buf_fini(&b);
}

static void
test_gzip_roundtrip(void **state)
{
    (void)state;
    osp_buf src, z, out;
    osp_buf_init(&src);
    osp_buf_init(&z);
    osp_buf_init(&out);
    for (int i = 0; i < 10000; i++)
        osp_buf_printf(&src, "line %d\n", i);
    osp_http_gzip(src.data, src.len, &z);
    assert_true(z.len < src.len / 3);
    assert_int_equal(osp_http_gunzip(z.data, z.len, src.len, &out, NULL), 0);
    assert_int_equal(out.len, src.len);
    assert_memory_equal(out.data, src.data, src.len);

    /* One byte less than needed: the limit is enforced and out is unchanged. */
    osp_buf_reset(&out);
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_http_gunzip(z.data, z.len, src.len - 1, &out, &ei), OSP_ELIMIT);
    assert_int_equal(out.len, 0);
    assert_non_null(strstr(ei.msg, "exceeds"));

    /* Truncated and corrupt input. */
    assert_int_equal(osp_http_gunzip(z.data, z.len / 2, src.len, &out, NULL), OSP_EPARSE);
    assert_int_equal(osp_http_gunzip("not gzip at all", 15, 100, &out, NULL), OSP_EPARSE);

    /* Concatenated members decode to the concatenation. */
    osp_buf two;
    osp_buf_init(&two);
    osp_http_gzip("ab", 2, &two);
    osp_http_gzip("cd", 2, &two);
    osp_buf_reset(&out);
    assert_int_equal(osp_http_gunzip(two.data, two.len, 100, &out, NULL), 0);
    assert_string_equal(out.data, "abcd");
    osp_buf_fini(&two);
    osp_buf_fini(&src);
    osp_buf_fini(&z);
    osp_buf_fini(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_form),
        cmocka_unit_test(test_urldecode),
        cmocka_unit_test(test_gzip_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
