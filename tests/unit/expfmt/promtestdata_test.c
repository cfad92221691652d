/* promtestdata_test.c - conformance: the Prometheus promtestdata exposition
 * parses without errors, yields one sample per sample line, keeps exact
 * values and labels, and survives a write/parse round trip. */
#include "osp_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expfmt.h"
#include "expfmt_collect.h"
#include "osp_mem.h"

/* count_sample_lines: independent count of non-blank, non-comment lines. */
static size_t
count_sample_lines(const char *s, size_t n)
{
    size_t count = 0;
    const char *end = s + n;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl != NULL ? nl : end;
        const char *q = s;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e && *q != '#')
            count++;
        s = nl != NULL ? nl + 1 : end;
    }
    return count;
}

static const xt_sample *
find(const xt_coll *c, const char *name, const char *lname, const char *lvalue)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].name, name) != 0)
            continue;
        const char *v = lname != NULL ? osp_labels_get(&c->v[i].labels, lname) : NULL;
        if (lname == NULL || (v != NULL && strcmp(v, lvalue) == 0))
            return &c->v[i];
    }
    return NULL;
}

static void
test_promtestdata(void **state)
{
    (void)state;
    char *path = osp_test_path("shared/conformance/exposition/promtestdata.txt");
    size_t len;
    char *data = osp_test_slurp(path, &len);
    assert_non_null(data);

    xt_coll c;
    xt_coll_init(&c);
    assert_int_equal(xt_parse(&c, OSP_EXPFMT_TEXT, data, len), 0);
    if (c.st.errors != 0)
        fail_msg("errors:\n%s", osp_buf_cstr(&c.log));
    size_t want = count_sample_lines(data, len);
    assert_true(want > 300);
    assert_int_equal(c.n, want);
    assert_int_equal(c.st.samples, want);

    const xt_sample *s = find(&c, "go_gc_duration_seconds", "quantile", "0.0");
    assert_non_null(s);
    assert_true(s->value == 4.9351e-05);
    s = find(&c, "go_gc_duration_seconds", "quantile", "1.0");
    assert_non_null(s);
    assert_true(s->value == 0.002072195);
    s = find(&c, "go_gc_duration_seconds", "quantile", "0.25");
    assert_non_null(s);
    assert_true(s->value == 7.424100000000001e-05);
    s = find(&c, "go_goroutines", NULL, NULL);
    assert_non_null(s);
    assert_true(s->value == 33 && s->labels.n == 0 && !s->has_ts);
    s = find(&c, "go_memstats_last_gc_time_seconds", NULL, NULL);
    assert_non_null(s);
    assert_true(s->value == 1.4843955586166437e+09);
    s = find(&c, "http_request_duration_microseconds", "handler", "alerts");
    assert_non_null(s);
    assert_true(isnan(s->value));
    /* Empty label values (branch, revision, version) are absent. */
    s = find(&c, "prometheus_build_info", NULL, NULL);
    assert_non_null(s);
    assert_int_equal(s->labels.n, 1);
    assert_string_equal(s->labels.v[0].name, "goversion");
    assert_string_equal(s->labels.v[0].value, "go1.7.3");

    osp_buf out;
    osp_buf_init(&out);
    xt_write(&c, &out);
    xt_coll back;
    xt_coll_init(&back);
    assert_int_equal(xt_parse(&back, OSP_EXPFMT_TEXT, out.data, out.len), 0);
    assert_int_equal(back.st.errors, 0);
    char why[256];
    if (!xt_same(&c, &back, why, sizeof(why)))
        fail_msg("round trip: %s", why);

    xt_coll_fini(&back);
    osp_buf_fini(&out);
    xt_coll_fini(&c);
    free(data);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_promtestdata)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
