/* append_test.c - the append path on fixture pages: bad lines skipped and
 * counted, duplicates, synthetic series, staleness bookkeeping, limits,
 * honor_timestamps, metadata, end-of-run staleness. */
#include "osp_test.h"

#include <math.h>
#include <string.h>

#include "coll_append.h"
#include "coll_series.h"

typedef struct fx {
    coll_job job;
    coll_tdef def;
    coll_tstate *st;
    osp_mbatch *b;
    Osprey__MetricBatch *mb;
} fx;

static void
fx_init(fx *f)
{
    memset(f, 0, sizeof(*f));
    f->job.name = "node";
    f->job.interval_ms = 1000;
    f->job.timeout_ms = 1000;
    f->job.honor_timestamps = true;
    osp_labels_init(&f->def.labels);
    osp_labels_addc(&f->def.labels, "instance", "t:1");
    osp_labels_addc(&f->def.labels, "job", "node");
    f->def.url = "http://t:1/metrics";
    f->def.job = &f->job;
    f->def.interval_ms = 1000;
    f->def.timeout_ms = 1000;
    f->st = coll_tstate_new(&f->def);
    f->b = osp_mbatch_new();
}

static void
fx_fini(fx *f)
{
    if (f->mb)
        osprey__metric_batch__free_unpacked(f->mb, NULL);
    osp_mbatch_free(f->b);
    coll_tstate_free(f->st);
    osp_labels_fini(&f->def.labels);
}

/* decode: the batch as it goes on the wire; resets the builder. */
static void
decode(fx *f)
{
    osp_buf out;
    osp_buf_init(&out);
    osp_mbatch_encode(f->b, &out);
    if (f->mb)
        osprey__metric_batch__free_unpacked(f->mb, NULL);
    f->mb = osprey__metric_batch__unpack(NULL, out.len, (const uint8_t *)out.data);
    assert_non_null(f->mb);
    osp_buf_fini(&out);
    osp_mbatch_reset(f->b);
}

static const char *
label(const Osprey__Series *s, const char *name)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i]->name, name) == 0)
            return s->labels[i]->value;
    return NULL;
}

/* find: the series with __name__ name and (optionally) label k=v. */
static const Osprey__Series *
find(const fx *f, const char *name, const char *k, const char *v)
{
    for (size_t i = 0; i < f->mb->n_series; i++) {
        const Osprey__Series *s = f->mb->series[i];
        const char *n = label(s, "__name__");
        if (!n || strcmp(n, name) != 0)
            continue;
        if (k && (!label(s, k) || strcmp(label(s, k), v) != 0))
            continue;
        return s;
    }
    return NULL;
}

static double
value_of(const fx *f, const char *name, const char *k, const char *v)
{
    const Osprey__Series *s = find(f, name, k, v);
    if (!s)
        fail_msg("series %s{%s=%s} not in batch", name, k ? k : "", v ? v : "");
    assert_int_equal(s->n_samples, 1);
    return s->samples[0]->value;
}

static size_t
count_stale(const fx *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->mb->n_series; i++)
        for (size_t k = 0; k < f->mb->series[i]->n_samples; k++)
            n += coll_is_stale_nan(f->mb->series[i]->samples[k]->value);
    return n;
}

static const char page1[] = "# HELP http_requests_total Requests.\n"
                            "# TYPE http_requests_total counter\n"
                            "http_requests_total{code=\"200\"} 10\n"
                            "http_requests_total{code=\"500\" 3\n" /* bad line */
                            "http_requests_total{code=\"404\"} 2\n"
                            "http_requests_total{code=\"200\"} 11\n" /* duplicate */
                            "temp{job=\"scraped\"} 21.5\n"
                            "ts_metric 1 1700000000000\n";

static void
test_bad_line_and_duplicate(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    coll_scrape_result r;
    coll_append_page(f.st, OSP_EXPFMT_TEXT, page1, strlen(page1), 5000, 0.01, f.b, &r);
    assert_true(r.up);
    assert_int_equal(r.parse_errors, 2);
    assert_int_equal(r.scraped, 5);
    assert_int_equal(r.post_relabel, 4);
    assert_int_equal(r.added, 4);
    decode(&f);
    assert_true(value_of(&f, "http_requests_total", "code", "200") == 10); /* first kept */
    assert_true(value_of(&f, "http_requests_total", "code", "404") == 2);
    assert_null(find(&f, "http_requests_total", "code", "500"));
    /* target labels win, the scraped job is kept as exported_job */
    const Osprey__Series *t = find(&f, "temp", NULL, NULL);
    assert_string_equal(label(t, "job"), "node");
    assert_string_equal(label(t, "exported_job"), "scraped");
    assert_string_equal(label(t, "instance"), "t:1");
    assert_int_equal(t->samples[0]->timestamp_ms, 5000);
    assert_int_equal(find(&f, "ts_metric", NULL, NULL)->samples[0]->timestamp_ms, 1700000000000);
    assert_true(value_of(&f, "up", NULL, NULL) == 1);
    assert_true(value_of(&f, "scrape_parse_errors", NULL, NULL) == 2);
    assert_true(value_of(&f, "scrape_samples_scraped", NULL, NULL) == 5);
    assert_true(value_of(&f, "scrape_samples_post_metric_relabeling", NULL, NULL) == 4);
    assert_true(value_of(&f, "scrape_series_added", NULL, NULL) == 4);
    assert_true(fabs(value_of(&f, "scrape_duration_seconds", NULL, NULL) - 0.01) < 1e-9);
    assert_string_equal(label(find(&f, "up", NULL, NULL), "job"), "node");
    /* metadata: the family once, plus the synthetic ones */
    bool meta = false;
    for (size_t i = 0; i < f.mb->n_metadata; i++)
        if (strcmp(f.mb->metadata[i]->name, "http_requests_total") == 0) {
            meta = true;
            assert_string_equal(f.mb->metadata[i]->type, "counter");
            assert_string_equal(f.mb->metadata[i]->help, "Requests.");
        }
    assert_true(meta);

    /* second scrape: same page: no new series, no metadata again */
    coll_append_page(f.st, OSP_EXPFMT_TEXT, page1, strlen(page1), 6000, 0.01, f.b, &r);
    assert_int_equal(r.added, 0);
    decode(&f);
    assert_int_equal(f.mb->n_metadata, 0);
    assert_int_equal(count_stale(&f), 0);
    fx_fini(&f);
}

static void
test_staleness(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    coll_scrape_result r;
    const char *a = "a 1\nb 2\nc{x=\"1\"} 3\nexplicit 4 1000\n";
    const char *b = "a 1\nc{x=\"1\"} 3\n";
    coll_append_page(f.st, OSP_EXPFMT_TEXT, a, strlen(a), 1000, 0, f.b, &r);
    assert_int_equal(coll_series_count(&f.st->series), 4);
    decode(&f);
    coll_append_page(f.st, OSP_EXPFMT_TEXT, b, strlen(b), 2000, 0, f.b, &r);
    assert_int_equal(r.stale, 1); /* b; the explicit-timestamp series is not staled */
    decode(&f);
    const Osprey__Series *s = find(&f, "b", NULL, NULL);
    assert_non_null(s);
    assert_true(coll_is_stale_nan(s->samples[0]->value));
    assert_int_equal(s->samples[0]->timestamp_ms, 2000);
    assert_null(find(&f, "explicit", NULL, NULL));
    assert_int_equal(coll_series_count(&f.st->series), 2);

    /* a failed scrape stales everything but still writes up=0 */
    coll_append_failure(f.st, 3000, 0.5, "connection refused", f.b, &r);
    decode(&f);
    assert_false(r.up);
    assert_int_equal(count_stale(&f), 2);
    assert_true(value_of(&f, "up", NULL, NULL) == 0);
    assert_int_equal(coll_series_count(&f.st->series), 0);

    /* back up; then the target goes away: everything incl. synthetic is staled */
    coll_append_page(f.st, OSP_EXPFMT_TEXT, b, strlen(b), 4000, 0, f.b, &r);
    assert_int_equal(r.added, 2);
    decode(&f);
    assert_int_equal(coll_append_stale_all(f.st, 5000, f.b), 2 + COLL_SYNTH_N);
    decode(&f);
    assert_int_equal(count_stale(&f), 2 + COLL_SYNTH_N);
    assert_true(coll_is_stale_nan(value_of(&f, "up", NULL, NULL)));
    fx_fini(&f);
}

/* scrape: append page (text format) as a scrape at ts_ms lasting 0 s. */
static void
scrape(fx *f, const char *page, int64_t ts_ms, coll_scrape_result *r)
{
    coll_append_page(f->st, OSP_EXPFMT_TEXT, page, strlen(page), ts_ms, 0, f->b, r);
}

/* Cache entries and the series set share series entries: a series that was
 * staled comes back through its old cache entry as new; two lines naming the
 * same labels in another order are one series (the second is a duplicate),
 * also when one of them reaches it through a cache entry made before the
 * series left the set. */
static void
test_series_rejoin(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    coll_scrape_result r;
    const char *xy = "m{x=\"1\",y=\"2\"} 1\nb 2\n";
    const char *only_b = "b 2\n";
    const char *both = "m{y=\"2\",x=\"1\"} 3\nm{x=\"1\",y=\"2\"} 4\nb 2\n";
    scrape(&f, xy, 1000, &r);
    assert_int_equal(r.added, 2);
    decode(&f);
    scrape(&f, only_b, 2000, &r);
    assert_int_equal(r.stale, 1);
    assert_int_equal(coll_series_count(&f.st->series), 1);
    decode(&f);
    /* the other order makes a new entry for m's labels; the old line's cache
     * entry still names the staled one and must land on the new one */
    scrape(&f, both, 3000, &r);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.parse_errors, 1);
    assert_int_equal(r.post_relabel, 2);
    decode(&f);
    assert_true(value_of(&f, "m", "x", "1") == 3);
    assert_int_equal(coll_series_count(&f.st->series), 2);
    /* back to the first page: m is known, nothing new, nothing stale */
    scrape(&f, xy, 4000, &r);
    assert_int_equal(r.added, 0);
    assert_int_equal(r.stale, 0);
    assert_int_equal(r.parse_errors, 0);
    decode(&f);
    assert_true(value_of(&f, "m", "y", "2") == 1);
    /* staled, then back through the same cache entry within two scrapes */
    scrape(&f, only_b, 5000, &r);
    assert_int_equal(r.stale, 1);
    decode(&f);
    scrape(&f, xy, 6000, &r);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.stale, 0);
    decode(&f);
    assert_true(value_of(&f, "m", "x", "1") == 1);
    /* a reload drops the cache but not the set: staleness goes on */
    coll_tstate_set_job(f.st, &f.job);
    scrape(&f, only_b, 7000, &r);
    assert_int_equal(r.added, 0);
    assert_int_equal(r.stale, 1);
    decode(&f);
    assert_true(coll_is_stale_nan(value_of(&f, "m", "x", "1")));
    fx_fini(&f);
}

static void
test_sample_limit_and_relabel(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    coll_relabel r[1];
    const char *src[] = {"__name__"};
    assert_int_equal(coll_relabel_init(&r[0], COLL_RL_DROP, src, 1, "drop_.*", NULL, NULL, 0, NULL),
                     0);
    f.job.mrelabel = r;
    f.job.nmrelabel = 1;
    f.job.sample_limit = 2;
    coll_scrape_result res;
    const char *ok = "a 1\ndrop_me 5\nb 2\n";
    coll_append_page(f.st, OSP_EXPFMT_TEXT, ok, strlen(ok), 1000, 0, f.b, &res);
    assert_true(res.up);
    assert_int_equal(res.scraped, 3);
    assert_int_equal(res.post_relabel, 2);
    decode(&f);
    assert_null(find(&f, "drop_me", NULL, NULL));
    const char *big = "a 1\nb 2\nc 3\n";
    coll_append_page(f.st, OSP_EXPFMT_TEXT, big, strlen(big), 2000, 0, f.b, &res);
    assert_false(res.up);
    assert_non_null(strstr(res.err, "sample_limit"));
    decode(&f);
    assert_true(value_of(&f, "up", NULL, NULL) == 0);
    assert_true(coll_is_stale_nan(value_of(&f, "a", NULL, NULL))); /* previous series staled */
    assert_null(find(&f, "c", NULL, NULL));
    coll_relabel_fini(&r[0]);
    fx_fini(&f);
}

static void
test_all_bad(void **state)
{
    (void)state;
    fx f;
    fx_init(&f);
    coll_scrape_result r;
    const char *page = "this is not {an exposition\n";
    coll_append_page(f.st, OSP_EXPFMT_TEXT, page, strlen(page), 1000, 0, f.b, &r);
    assert_false(r.up);
    assert_int_equal(r.parse_errors, 1);
    decode(&f);
    assert_true(value_of(&f, "up", NULL, NULL) == 0);
    fx_fini(&f);
}

/* The scrape cache guesses each line's entry from the line before it in the
 * last scrape; pages that change order, or lines that differ from the guess
 * only in a label value, a label name or the metric name, still get their
 * own labels. */
static void
test_cache_order_changes(void **state)
{
    (void)state;
    static const char *const pages[] = {
        "m{a=\"1\"} 1\nm{a=\"2\"} 2\nm{b=\"1\"} 3\nn{a=\"1\"} 4\nm 5\n",
        "m 5\nn{a=\"1\"} 4\nm{b=\"1\"} 3\nm{a=\"2\"} 2\nm{a=\"1\"} 1\n",
        "m{a=\"1\"} 1\nm{a=\"12\"} 6\nm{a=\"2\"} 2\nm{b=\"1\"} 3\nn{a=\"1\"} 4\nm 5\n",
        "m{a=\"1\"} 1\nm{a=\"1\",c=\"x\"} 7\nm{a=\"2\"} 2\nm{b=\"1\"} 3\nm 5\n",
    };
    fx f;
    fx_init(&f);
    for (int round = 0; round < 6; round++) {
        const char *pg = pages[round % 4];
        coll_scrape_result r;
        coll_append_page(f.st, OSP_EXPFMT_TEXT, pg, strlen(pg), 1000 * (round + 1), 0, f.b, &r);
        decode(&f);
        assert_int_equal(r.parse_errors, 0);
        assert_true(value_of(&f, "m", "a", "1") == 1);
        assert_true(value_of(&f, "m", "a", "2") == 2);
        assert_true(value_of(&f, "m", "b", "1") == 3);
        if (round % 4 != 3)
            assert_true(value_of(&f, "n", "a", "1") == 4);
        if (round % 4 == 2)
            assert_true(value_of(&f, "m", "a", "12") == 6);
        if (round % 4 == 3)
            assert_true(value_of(&f, "m", "c", "x") == 7);
        const Osprey__Series *plain = NULL;
        for (size_t i = 0; i < f.mb->n_series; i++)
            if (f.mb->series[i]->n_labels == 3 &&
                strcmp(label(f.mb->series[i], "__name__"), "m") == 0)
                plain = f.mb->series[i];
        assert_non_null(plain);
        assert_true(plain->samples[0]->value == 5);
    }
    /* entries unused for two scrapes leave the cache, those in use stay */
    const char *one = "m 5\n";
    for (int round = 0; round < 3; round++) {
        coll_scrape_result r;
        scrape(&f, one, 10000 + round, &r);
        decode(&f);
        assert_true(value_of(&f, "m", NULL, NULL) == 5);
    }
    assert_int_equal(f.st->cache.n, 1);
    assert_int_equal(coll_series_count(&f.st->series), 1);
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_line_and_duplicate),   cmocka_unit_test(test_staleness),
        cmocka_unit_test(test_sample_limit_and_relabel), cmocka_unit_test(test_all_bad),
        cmocka_unit_test(test_cache_order_changes),      cmocka_unit_test(test_series_rejoin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
