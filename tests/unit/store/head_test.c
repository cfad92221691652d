/* head_test.c - the head's append rules, the inverted index with all four
 * matcher kinds (incl. the empty-value semantics), the PromQL source over the
 * head, retention truncation, batch validation and metadata. */
#include "osp_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "osp_arena.h"
#include "osp_mem.h"
#include "promql.h"
#include "store_apply.h"
#include "store_head.h"

static uint32_t
add_series(store_head *h, const char *name, const char *k1, const char *v1, const char *k2,
           const char *v2)
{
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", name);
    if (k1)
        osp_labels_addc(&ls, k1, v1);
    if (k2)
        osp_labels_addc(&ls, k2, v2);
    osp_labels_sort(&ls);
    uint32_t ref;
    bool created;
    assert_int_equal(store_head_get_or_create(h, osp_labels_hash(&ls), &ls, &ref, &created), 0);
    osp_labels_fini(&ls);
    return ref;
}

static void
test_append_rules(void **state)
{
    (void)state;
    store_head *h = store_head_new();
    store_head_wrlock(h);
    uint32_t r = add_series(h, "m", "job", "a", NULL, NULL);
    /* prefetch hints take any ref and a series with or without head data
     * (ASan sees a bad read) */
    for (int st = 0; st < 3; st++) {
        store_head_prefetch(h, r, st);
        store_head_prefetch(h, r + 1, st);
        store_head_prefetch(h, UINT32_MAX, st);
    }
    assert_int_equal(store_head_append(h, r, 1000, 1.0, 0), STORE_APPEND_OK);
    for (int st = 0; st < 3; st++)
        store_head_prefetch(h, r, st);
    assert_int_equal(store_head_append(h, r, 3000, 3.0, 0), STORE_APPEND_OK);
    /* replayed sample: identical value at the same time is a silent duplicate */
    assert_int_equal(store_head_append(h, r, 3000, 3.0, 0), STORE_APPEND_DUP);
    /* same time, other value: conflict */
    assert_int_equal(store_head_append(h, r, 3000, 4.0, 0), STORE_APPEND_CONFLICT);
    /* out of order: inserted in place */
    assert_int_equal(store_head_append(h, r, 2000, 2.0, 0), STORE_APPEND_OK);
    assert_int_equal(store_head_append(h, r, 500, 0.5, 0), STORE_APPEND_OK);
    assert_int_equal(store_head_append(h, r, 2000, 2.0, 0), STORE_APPEND_DUP);
    assert_int_equal(store_head_append(h, r, 2000, 2.5, 0), STORE_APPEND_CONFLICT);
    /* stale markers are samples; a NaN of other bits conflicts with one */
    double stale = osp_promql_stale_nan();
    assert_int_equal(store_head_append(h, r, 4000, stale, 0), STORE_APPEND_OK);
    assert_int_equal(store_head_append(h, r, 4000, stale, 0), STORE_APPEND_DUP);
    assert_int_equal(store_head_append(h, r, 4000, NAN, 0), STORE_APPEND_CONFLICT);
    osp_arena *a = osp_arena_new(0);
    int64_t *ts;
    double *vs;
    size_t n;
    store_head_samples(h, r, INT64_MIN, INT64_MAX, false, a, &ts, &vs, &n);
    assert_int_equal(n, 5);
    int64_t want[] = {500, 1000, 2000, 3000, 4000};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ts[i], want[i]);
    assert_true(osp_promql_is_stale(vs[4]));
    store_head_samples(h, r, 1500, 3000, false, a, &ts, &vs, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ts[0], 2000);
    osp_arena_free(a);
    assert_int_equal(store_head_nsamples(h), 5);
    assert_int_equal(store_head_nseries(h), 1);
    store_head_unlock(h);
    store_head_free(h);
}

static void
test_find_and_collision(void **state)
{
    (void)state;
    store_head *h = store_head_new();
    store_head_wrlock(h);
    uint32_t r = add_series(h, "m", "job", "a", NULL, NULL);
    osp_labels ls, other;
    osp_labels_init(&ls);
    osp_labels_init(&other);
    osp_labels_addc(&ls, "__name__", "m");
    osp_labels_addc(&ls, "job", "a");
    osp_labels_addc(&other, "__name__", "m");
    osp_labels_addc(&other, "job", "b");
    uint32_t got;
    assert_int_equal(store_head_find(h, osp_labels_hash(&ls), &ls, &got), 0);
    assert_int_equal(got, r);
    /* the same id with other labels is a detected collision, never a merge */
    assert_int_equal(store_head_find(h, osp_labels_hash(&ls), &other, &got), OSP_EEXIST);
    bool created = true;
    assert_int_equal(store_head_get_or_create(h, osp_labels_hash(&ls), &other, &got, &created),
                     OSP_EEXIST);
    assert_int_equal(store_head_nseries(h), 1);
    assert_int_equal(store_head_find(h, osp_labels_hash(&other), &other, &got), OSP_ENOTFOUND);
    store_head_unlock(h);
    osp_labels_fini(&ls);
    osp_labels_fini(&other);
    store_head_free(h);
}

/* Three series: up{job=a,env=prod}, up{job=b}, node{job=a,env=dev}. */
static store_head *
fixture(void)
{
    store_head *h = store_head_new();
    store_head_wrlock(h);
    uint32_t r0 = add_series(h, "up", "job", "a", "env", "prod");
    uint32_t r1 = add_series(h, "up", "job", "b", NULL, NULL);
    uint32_t r2 = add_series(h, "node", "job", "a", "env", "dev");
    for (int64_t t = 0; t <= 600000; t += 15000) {
        store_head_append(h, r0, t, (double)t / 1000.0, 0);
        store_head_append(h, r1, t, 1.0, 0);
        store_head_append(h, r2, t, 2.0 * (double)t / 1000.0, 0);
    }
    store_head_unlock(h);
    return h;
}

static size_t
count_matches(store_head *h, const char *sel)
{
    osp_arena *a = osp_arena_new(0);
    osp_matcher *ms;
    size_t nm, n;
    uint32_t *refs;
    osp_errinfo ei;
    assert_int_equal(osp_matchers_parse(sel, strlen(sel), &ms, &nm, a, &ei), 0);
    store_head_rdlock(h);
    store_head_match(h, ms, nm, INT64_MIN, INT64_MAX, a, &refs, &n);
    store_head_unlock(h);
    osp_arena_free(a);
    return n;
}

static void
test_index_matchers(void **state)
{
    (void)state;
    store_head *h = fixture();
    assert_int_equal(count_matches(h, "up"), 2);
    assert_int_equal(count_matches(h, "{job=\"a\"}"), 2);
    assert_int_equal(count_matches(h, "up{job=\"a\"}"), 1);
    assert_int_equal(count_matches(h, "up{job=\"zzz\"}"), 0);
    assert_int_equal(count_matches(h, "up{job!=\"a\"}"), 1);
    assert_int_equal(count_matches(h, "{job=~\"a|b\"}"), 3);
    assert_int_equal(count_matches(h, "{__name__=~\"u.*\"}"), 2);
    assert_int_equal(count_matches(h, "{__name__!~\"u.*\", job=~\".+\"}"), 1);
    assert_int_equal(count_matches(h, "{job=~\"a\", env!~\"prod\"}"), 1);
    /* empty-value semantics: env="" selects series without env */
    assert_int_equal(count_matches(h, "up{env=\"\"}"), 1);
    assert_int_equal(count_matches(h, "{job=~\".+\", env=~\"\"}"), 1);
    assert_int_equal(count_matches(h, "{job=~\".+\", env!=\"\"}"), 2);
    assert_int_equal(count_matches(h, "{job=~\".+\", env!~\".+\"}"), 1);
    assert_int_equal(count_matches(h, "{job=~\".+\", env=~\"prod|\"}"), 2);
    store_head_free(h);
}

/* A bigger catalog: m{job, inst, env} with jobs j0..j4, 40 instances each,
 * env on every third series, plus a few other metrics. */
static store_head *
big_fixture(void)
{
    store_head *h = store_head_new();
    store_head_wrlock(h);
    char job[16], inst[16];
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 40; i++) {
            snprintf(job, sizeof(job), "j%d", j);
            snprintf(inst, sizeof(inst), "i%d", i);
            osp_labels ls;
            osp_labels_init(&ls);
            osp_labels_addc(&ls, "__name__", i % 7 == 0 ? "other" : "m");
            osp_labels_addc(&ls, "job", job);
            osp_labels_addc(&ls, "inst", inst);
            if (i % 3 == 0)
                osp_labels_addc(&ls, "env", i % 2 ? "prod" : "dev");
            osp_labels_sort(&ls);
            uint32_t ref;
            assert_int_equal(store_head_get_or_create(h, osp_labels_hash(&ls), &ls, &ref, NULL), 0);
            osp_labels_fini(&ls);
        }
    store_head_unlock(h);
    return h;
}

/* brute: the refs whose labels match every matcher, by looking at each. */
static size_t
brute(store_head *h, const osp_matcher *ms, size_t nm, uint32_t *out)
{
    size_t k = 0;
    for (uint32_t r = 0; r < store_head_nseries(h); r++) {
        const osp_labels *ls = &store_head_series(h, r)->labels;
        bool ok = true;
        for (size_t i = 0; i < nm && ok; i++) {
            const char *v = osp_labels_get(ls, ms[i].name);
            ok = osp_matcher_matches(&ms[i], v ? v : "");
        }
        if (ok)
            out[k++] = r;
    }
    return k;
}

/* The index applies every kind of matcher itself (unions of postings for
 * regexes, removals for matchers that accept ""), or leaves the ones it would
 * pay too much for (more values or postings than candidates left) to the
 * per-series check: either way the answer is the brute-force one, sorted by
 * ref. */
static void
test_index_matchers_vs_brute(void **state)
{
    (void)state;
    static const char *const sels[] = {
        "m",
        "{job=~\"j[12]\"}",
        "m{job=~\"j[12]\",inst=~\"i1.*\"}",
        "{__name__=~\".+\"}",
        "{__name__=~\".*\",job=\"j3\"}",
        "m{inst!=\"i3\"}",
        "m{inst!~\"i(1|2).*\",env=\"\"}",
        "{job=\"j0\",env!=\"\"}",
        "{job=\"j0\",env=~\"prod|\"}",
        "{job=\"j0\",env!~\"prod\"}",
        "{job=\"j4\",inst=\"i21\"}",
        "{inst=\"i21\",job=~\".+\",__name__!=\"other\"}",
        "{job=~\"j1|nope\",inst=~\"i0|i9|i39\"}",
        "m{nolabel=~\"x.*\"}",
        "m{nolabel!=\"x\"}",
        "m{job=\"nope\"}",
        "{inst=\"i5\",job!~\"j[0-3]\"}",
        "{job=\"j0\",env=\"prod\",inst=~\"i1.*\"}",
        "{job=\"j0\",env=\"prod\",inst!~\"i1.*\"}",
    };
    store_head *h = big_fixture();
    uint32_t want[400];
    for (size_t q = 0; q < sizeof(sels) / sizeof(sels[0]); q++) {
        osp_arena *a = osp_arena_new(0);
        osp_matcher *ms;
        size_t nm, n;
        uint32_t *refs;
        osp_errinfo ei;
        assert_int_equal(osp_matchers_parse(sels[q], strlen(sels[q]), &ms, &nm, a, &ei), 0);
        store_head_rdlock(h);
        store_head_match(h, ms, nm, INT64_MIN, INT64_MAX, a, &refs, &n);
        size_t nw = brute(h, ms, nm, want);
        store_head_unlock(h);
        if (n != nw)
            fail_msg("%s: %zu series, want %zu", sels[q], n, nw);
        for (size_t i = 0; i < n; i++)
            if (refs[i] != want[i])
                fail_msg("%s: ref %zu is %u, want %u", sels[q], i, refs[i], want[i]);
        osp_arena_free(a);
    }
    store_head_free(h);
}

static const store_head *sort_head;

static int
ref_labels_cmp(const void *a, const void *b)
{
    return osp_labels_cmp(&store_head_series(sort_head, *(const uint32_t *)a)->labels,
                          &store_head_series(sort_head, *(const uint32_t *)b)->labels);
}

/* store_head_sort_refs gives the label order, for big selections through the
 * catalog's ranks (built, then brought up to date after new series), for
 * small ones by sorting them directly. */
static void
test_sort_refs(void **state)
{
    (void)state;
    store_head *h = big_fixture();
    uint32_t refs[400], want[400];
    for (int round = 0; round < 2; round++) {
        store_head_rdlock(h);
        size_t n = store_head_nseries(h);
        sort_head = h;
        /* a small selection first (every third series, backwards): sorted
         * directly while the catalog is unranked, by rank once it is */
        size_t k = 0;
        for (size_t i = n; i-- > 0;)
            if (i % 3 == 0) {
                refs[k] = want[k] = (uint32_t)i;
                k++;
            }
        qsort(want, k, sizeof(*want), ref_labels_cmp);
        store_head_sort_refs(h, refs, k);
        for (size_t i = 0; i < k; i++)
            assert_int_equal(refs[i], want[i]);
        for (size_t i = 0; i < n; i++)
            refs[i] = want[i] = (uint32_t)(n - 1 - i);
        qsort(want, n, sizeof(*want), ref_labels_cmp);
        store_head_sort_refs(h, refs, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(refs[i], want[i]);
        store_head_unlock(h);
        /* new series land between ranked ones */
        store_head_wrlock(h);
        for (int i = 0; i < 20; i++) {
            char inst[16];
            snprintf(inst, sizeof(inst), "i%d", i * 2 + 1);
            add_series(h, i % 2 ? "m" : "a_first", "inst", inst, "job", "j2b");
        }
        store_head_unlock(h);
    }
    store_head_free(h);
}

static void
test_promql_over_head(void **state)
{
    (void)state;
    store_head *h = fixture();
    osp_promql_source src = store_head_source(h);
    const char *q = "sum by (job) (rate({job=\"a\"}[1m]))";
    osp_promql_expr *e = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_promql_parse(q, strlen(q), &e, &ei), 0);
    osp_promql_result *r = NULL;
    assert_int_equal(osp_promql_eval_instant(e, &src, 300000, NULL, &r, &ei), 0);
    assert_int_equal(r->type, OSP_PROMQL_VECTOR);
    assert_int_equal(r->nseries, 1);
    /* up{job=a} grows 1/s, node{job=a} 2/s */
    assert_true(fabs(r->series[0].pts[0].v - 3.0) < 1e-9);
    osp_promql_result_free(r);
    osp_promql_expr_free(e);

    q = "up";
    assert_int_equal(osp_promql_parse(q, strlen(q), &e, &ei), 0);
    assert_int_equal(osp_promql_eval_range(e, &src, 0, 60000, 30000, NULL, &r, &ei), 0);
    assert_int_equal(r->type, OSP_PROMQL_MATRIX);
    assert_int_equal(r->nseries, 2);
    assert_int_equal(r->series[0].npts, 3);
    osp_promql_result_free(r);
    osp_promql_expr_free(e);
    store_head_free(h);
}

/* With a chunk span set (the compaction window), a sample past a span
 * boundary closes the open chunk; a span that does not divide a day is
 * ignored. */
static void
test_chunk_span(void **state)
{
    (void)state;
    store_head *h = store_head_new();
    store_head_wrlock(h);
    uint32_t r = add_series(h, "m", NULL, NULL, NULL, NULL);
    int64_t day = STORE_PARTITION_MS;
    store_head_set_chunk_span(h, 60000);
    for (int i = 0; i < 70; i++)
        assert_int_equal(store_head_append(h, r, day + i * 1000, i, 1000), STORE_APPEND_OK);
    store_chunk_ref refs[4];
    assert_int_equal(store_head_unpersisted(h, refs, 4), 1);
    assert_int_equal(refs[0].min_t, day);
    assert_int_equal(refs[0].max_t, day + 59000);
    assert_int_equal(refs[0].n, 60);
    store_head_mark_persisted(h, refs, 1);
    /* a sample two spans on closes the 60..69 s chunk */
    assert_int_equal(store_head_append(h, r, day + 120000, 1, 1000), STORE_APPEND_OK);
    assert_int_equal(store_head_unpersisted(h, refs, 4), 1); /* the 60..69 s chunk */
    assert_int_equal(refs[0].n, 10);
    store_head_mark_persisted(h, refs, 1);
    store_head_set_chunk_span(h, 7000); /* does not divide a day: the 60 s span stays */
    assert_int_equal(store_head_append(h, r, day + 150000, 2, 1000), STORE_APPEND_OK);
    assert_int_equal(store_head_unpersisted(h, refs, 4), 0);
    store_head_unlock(h);
    store_head_free(h);
}

/* Chunks close at STORE_CHUNK_SAMPLES and at partition boundaries; the
 * persister sees closed chunks; the watermark follows what is unpersisted;
 * eviction frees persisted chunks before the memory cut and retention drops
 * everything before its cut, and a series without data leaves the head but
 * stays in the catalog. */
static void
test_chunks_and_eviction(void **state)
{
    (void)state;
    store_head *h = store_head_new();
    store_head_wrlock(h);
    uint32_t r = add_series(h, "m", NULL, NULL, NULL, NULL);
    uint32_t old = add_series(h, "old", NULL, NULL, NULL, NULL);
    int64_t day = STORE_PARTITION_MS;
    /* 250 samples at 1 s, arriving at 1000 + i: two full chunks and an open one */
    for (int i = 0; i < 250; i++)
        assert_int_equal(store_head_append(h, r, day + i * 1000, i, 1000 + i), STORE_APPEND_OK);
    assert_int_equal(store_head_nchunks(h), 2);
    assert_int_equal(store_head_watermark(h), 1000);
    /* a sample in the next day closes the open chunk early */
    assert_int_equal(store_head_append(h, r, 2 * day, 1, 2000), STORE_APPEND_OK);
    assert_int_equal(store_head_nchunks(h), 3);
    /* out of order, older than everything: buffered, not a chunk yet */
    assert_int_equal(store_head_append(h, r, 10, 5, 3000), STORE_APPEND_OK);
    assert_int_equal(store_head_append(h, r, 10, 5, 3001), STORE_APPEND_DUP);
    assert_int_equal(store_head_append(h, r, 10, 6, 3002), STORE_APPEND_CONFLICT);
    /* duplicates inside closed chunks are found too */
    assert_int_equal(store_head_append(h, r, day + 5000, 5, 3003), STORE_APPEND_DUP);
    assert_int_equal(store_head_append(h, r, day + 5000, 6, 3004), STORE_APPEND_CONFLICT);
    assert_int_equal(store_head_append(h, old, 20, 1, 3005), STORE_APPEND_OK);
    assert_int_equal(store_head_nsamples(h), 253);

    store_chunk_ref refs[16];
    size_t n = store_head_unpersisted(h, refs, 16);
    assert_int_equal(n, 3);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += refs[i].n;
        assert_int_equal(refs[i].min_t / day, refs[i].max_t / day); /* never across a day */
    }
    assert_int_equal(total, 250);
    store_head_mark_persisted(h, refs, n);
    /* still unpersisted: the open chunk (arrived 2000), the out-of-order buffers (3000) */
    assert_int_equal(store_head_watermark(h), 2000);
    assert_int_equal(store_head_cut(h, 2500), 1); /* only the open chunk arrived before 2500 */
    assert_int_equal(store_head_cut(h, INT64_MAX), 2);
    n = store_head_unpersisted(h, refs, 16);
    assert_int_equal(n, 3);
    store_head_mark_persisted(h, refs, n);
    assert_int_equal(store_head_watermark(h), INT64_MAX);

    /* memory cut after the first day: the persisted chunks of day 1 go */
    store_head_evict(h, 2 * day, INT64_MIN);
    assert_int_equal(store_head_mem_cut(h), 2 * day);
    assert_int_equal(store_head_nsamples(h), 1);
    assert_int_equal(store_head_nactive(h), 1);
    assert_int_equal(store_head_nseries(h), 2); /* "old" left the head, not the catalog */
    assert_null(store_head_series(h, old)->hd);
    assert_int_equal(store_head_series(h, old)->max_t, 20);
    /* retention drops even what is unpersisted */
    assert_int_equal(store_head_append(h, r, 2 * day + 1000, 2, 4000), STORE_APPEND_OK);
    store_head_evict(h, INT64_MIN, 3 * day);
    assert_int_equal(store_head_nsamples(h), 0);
    assert_int_equal(store_head_nactive(h), 0);
    assert_int_equal(store_head_watermark(h), INT64_MAX);
    store_head_unlock(h);
    assert_int_equal(count_matches(h, "old"), 1);
    store_head_free(h);
}

/* store_head_tick does in one pass what evict + cut + unpersisted + watermark
 * do: two heads fed the same random samples (in and out of order, several
 * series, a retention cut) give the same chunks, watermark and sizes. */
static void
test_tick_equals_calls(void **state)
{
    (void)state;
    store_head *a = store_head_new(), *b = store_head_new();
    store_head_wrlock(a);
    store_head_wrlock(b);
    enum { NS = 7 };
    uint32_t ra[NS], rb[NS];
    const char *names[NS] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6"};
    for (int i = 0; i < NS; i++) {
        ra[i] = add_series(a, names[i], NULL, NULL, NULL, NULL);
        rb[i] = add_series(b, names[i], NULL, NULL, NULL, NULL);
    }
    store_chunk_ref *refs = NULL, fixed[4096];
    size_t cap = 0;
    uint64_t x = 42;
    int64_t t[NS] = {0};
    for (int sec = 1; sec <= 900; sec++) {
        int64_t now = 1000000 + sec * 1000;
        for (int i = 0; i < NS; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            if (i == 6 && sec > 300)
                continue; /* a series that stops: it must leave the head */
            int64_t ts = t[i] += 1000;
            if (x >> 60 == 0)
                ts -= (int64_t)(x >> 40 & 0xffff) * 10 + 1; /* out of order */
            double v = (double)(x >> 50);
            store_append_res ea = store_head_append(a, ra[i], ts, v, now);
            assert_int_equal(store_head_append(b, rb[i], ts, v, now), ea);
        }
        store_tick tk = {.arrived_before = now - 20000,
                         .mem_cut = now - 60000,
                         .drop_before = sec > 600 ? 300000 : INT64_MIN};
        store_head_evict(a, tk.mem_cut, tk.drop_before);
        store_head_cut(a, tk.arrived_before);
        size_t na = store_head_unpersisted(a, fixed, 4096);
        int64_t wb;
        size_t nb = store_head_tick(b, &tk, &refs, &cap, &wb);
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(fixed[i].series_id, refs[i].series_id);
            assert_int_equal(fixed[i].min_t, refs[i].min_t);
            assert_int_equal(fixed[i].max_t, refs[i].max_t);
            assert_int_equal(fixed[i].n, refs[i].n);
            assert_int_equal(fixed[i].len, refs[i].len);
            assert_memory_equal(fixed[i].data, refs[i].data, fixed[i].len);
        }
        store_head_mark_persisted(a, fixed, na);
        store_head_mark_persisted(b, refs, nb);
        assert_int_equal(store_head_watermark(a), wb);
        assert_int_equal(store_head_watermark(b), wb);
        assert_int_equal(store_head_nsamples(a), store_head_nsamples(b));
        assert_int_equal(store_head_nchunks(a), store_head_nchunks(b));
        assert_int_equal(store_head_nactive(a), store_head_nactive(b));
        assert_int_equal(store_head_mem_cut(a), store_head_mem_cut(b));
    }
    assert_int_equal(store_head_nactive(b), NS - 1);
    osp_free(refs);
    store_head_unlock(a);
    store_head_unlock(b);
    store_head_free(a);
    store_head_free(b);
}

/* store_samples_merge: stable by input order, first of equal timestamps kept. */
static void
test_samples_merge(void **state)
{
    (void)state;
    int64_t ts[] = {3, 1, 2, 1, 3, 4};
    double vs[] = {30, 10, 20, 11, 31, 40};
    size_t dups = 0, conflicts = 0;
    size_t n = store_samples_merge(ts, vs, 6, &dups, &conflicts);
    assert_int_equal(dups, 0);
    assert_int_equal(conflicts, 2);
    assert_int_equal(n, 4);
    int64_t wt[] = {1, 2, 3, 4};
    double wv[] = {10, 20, 30, 40};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ts[i], wt[i]);
        assert_true(vs[i] == wv[i]);
    }
}

static void
test_prep_validation(void **state)
{
    (void)state;
    Osprey__Label l_name = OSPREY__LABEL__INIT, l_job = OSPREY__LABEL__INIT,
                  l_bad = OSPREY__LABEL__INIT, l_empty = OSPREY__LABEL__INIT;
    l_name.name = "__name__", l_name.value = "m";
    l_job.name = "job", l_job.value = "x";
    l_bad.name = "1bad", l_bad.value = "x";
    l_empty.name = "gone", l_empty.value = "";
    Osprey__Sample s1 = OSPREY__SAMPLE__INIT;
    s1.timestamp_ms = 1000, s1.value = 1;
    Osprey__Sample *samples[] = {&s1};
    Osprey__Label *good[] = {&l_job, &l_empty, &l_name};
    Osprey__Label *noname[] = {&l_job};
    Osprey__Label *bad[] = {&l_name, &l_bad};
    Osprey__Label *dup[] = {&l_name, &l_job, &l_job};
    Osprey__Series sg = OSPREY__SERIES__INIT, sn = OSPREY__SERIES__INIT, sb = OSPREY__SERIES__INIT,
                   sd = OSPREY__SERIES__INIT;
    sg.labels = good, sg.n_labels = 3, sg.samples = samples, sg.n_samples = 1;
    sn.labels = noname, sn.n_labels = 1, sn.samples = samples, sn.n_samples = 1;
    sb.labels = bad, sb.n_labels = 2, sb.samples = samples, sb.n_samples = 1;
    sd.labels = dup, sd.n_labels = 3, sd.samples = samples, sd.n_samples = 1;
    Osprey__Series *series[] = {&sg, &sn, &sb, &sd};
    Osprey__MetricMetadata md = OSPREY__METRIC_METADATA__INIT;
    md.name = "m", md.type = "untyped", md.help = "h", md.unit = "";
    Osprey__MetricMetadata *mds[] = {&md};
    Osprey__MetricBatch mb = OSPREY__METRIC_BATCH__INIT;
    mb.series = series, mb.n_series = 4, mb.metadata = mds, mb.n_metadata = 1;

    store_prep p;
    store_prep_init(&p);
    store_prep_batch(&p, &mb);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.rej_no_name, 1);
    assert_int_equal(p.rej_bad_label, 1);
    assert_int_equal(p.rej_dup_label, 1);
    assert_int_equal(p.v[0].labels.n, 2); /* the empty-valued label is dropped */
    assert_string_equal(p.v[0].labels.v[0].name, "__name__");

    store_head *h = store_head_new();
    store_apply_res res = {0};
    store_apply_prep(h, &p, INT64_MIN, 0, &res);
    assert_int_equal(res.samples, 1);
    assert_int_equal(res.series_created, 1);
    memset(&res, 0, sizeof(res));
    store_apply_prep(h, &p, INT64_MIN, 0, &res); /* a replay: only duplicates */
    assert_int_equal(res.samples, 0);
    assert_int_equal(res.duplicates, 1);
    memset(&res, 0, sizeof(res));
    store_apply_prep(h, &p, 5000, 0, &res);
    assert_int_equal(res.too_old, 1);
    store_apply_meta(h, &mb);
    store_head_rdlock(h);
    const store_meta *m = store_head_meta_find(h, "m");
    assert_non_null(m);
    assert_string_equal(m->type, "unknown");
    assert_string_equal(m->help, "h");
    store_head_unlock(h);
    store_head_wrlock(h);
    assert_false(store_head_meta_set(h, "m", "unknown", "h", ""));
    assert_true(store_head_meta_set(h, "m", "gauge", "h", ""));
    assert_true(store_head_meta_set(h, "a", "gauge", "", ""));
    size_t n;
    const store_meta *all = store_head_meta(h, &n);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].metric, "a");
    store_head_unlock(h);
    store_prep_fini(&p);
    store_head_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_rules),        cmocka_unit_test(test_find_and_collision),
        cmocka_unit_test(test_index_matchers),      cmocka_unit_test(test_promql_over_head),
        cmocka_unit_test(test_chunks_and_eviction), cmocka_unit_test(test_chunk_span),
        cmocka_unit_test(test_samples_merge),       cmocka_unit_test(test_tick_equals_calls),
        cmocka_unit_test(test_prep_validation),     cmocka_unit_test(test_index_matchers_vs_brute),
        cmocka_unit_test(test_sort_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
