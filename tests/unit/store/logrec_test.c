/* logrec_test.c - the compact batch-log record: what is written reads back
 * bit for bit (stale markers, -0, infinities, times going back), every
 * truncation of a record is refused without reading past it, and replaying
 * a record appends to the catalog's series and skips unknown ids; rows of
 * the raw Envelope still replay. */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bus_int.h"
#include "bus_pb.h"
#include "osp_arena.h"
#include "osp_labels.h"
#include "osp_mem.h"
#include "store_apply.h"
#include "store_head.h"
#include "store_logrec.h"

static double
bits_to_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

typedef struct sample {
    int64_t t;
    double v;
} sample;

/* three series: one of 1 sample, one of 5 with awkward values and times, one
 * with the extreme ids and times */
static const uint64_t ids[3] = {42, UINT64_MAX, 0x8000000000000001ull};
static const size_t counts[3] = {1, 5, 2};

static void
samples(sample out[8])
{
    out[0] = (sample){1700000000000, 1};
    out[1] = (sample){1700000000000, bits_to_double(0x7ff0000000000002ull)}; /* stale */
    out[2] = (sample){1699999999000, -0.0};                                  /* back in time */
    out[3] = (sample){1700000001000, INFINITY};
    out[4] = (sample){-5, 0.1};
    out[5] = (sample){1700000002000, 123456789.0};
    out[6] = (sample){INT64_MIN, -INFINITY};
    out[7] = (sample){INT64_MAX, 5e-324};
}

/* write_rec: the record of the three series; ends[] (may be NULL) receives
 * the length of the record after each series. */
static void
write_rec(osp_buf *out, size_t ends[3])
{
    sample s[8];
    samples(s);
    store_logrec_w w;
    store_logrec_begin(&w, out);
    size_t k = 0;
    for (int i = 0; i < 3; i++) {
        store_logrec_series(&w, ids[i], counts[i]);
        for (size_t j = 0; j < counts[i]; j++, k++)
            store_logrec_sample(&w, s[k].t, s[k].v);
        if (ends != NULL)
            ends[i] = out->len;
    }
}

static void
test_round_trip(void **state)
{
    (void)state;
    sample s[8];
    samples(s);
    osp_buf rec;
    osp_buf_init(&rec);
    write_rec(&rec, NULL);
    /* ~17 bytes of header per series; integral values stay short */
    assert_true(rec.len < 1 + 3 * 9 + 8 * 20);
    store_logrec_it it;
    assert_int_equal(store_logrec_it_init(&it, rec.data, rec.len), 0);
    uint64_t id, n;
    size_t k = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(store_logrec_next_series(&it, &id, &n));
        assert_true(id == ids[i]);
        assert_int_equal(n, counts[i]);
        int64_t t;
        double v;
        for (size_t j = 0; j < n; j++, k++) {
            assert_true(store_logrec_next_sample(&it, &t, &v));
            assert_true(t == s[k].t);
            assert_memory_equal(&v, &s[k].v, 8);
        }
        assert_false(store_logrec_next_sample(&it, &t, &v));
    }
    assert_false(store_logrec_next_series(&it, &id, &n));
    assert_false(it.bad);
    /* a series left unread is skipped by the next next_series */
    assert_int_equal(store_logrec_it_init(&it, rec.data, rec.len), 0);
    assert_true(store_logrec_next_series(&it, &id, &n));
    assert_true(store_logrec_next_series(&it, &id, &n));
    assert_true(store_logrec_next_series(&it, &id, &n));
    assert_true(id == ids[2]);
    /* short values: 1.0 takes 2 bytes, 0 one */
    osp_buf small;
    osp_buf_init(&small);
    store_logrec_w w;
    store_logrec_begin(&w, &small);
    store_logrec_series(&w, 1, 2);
    store_logrec_sample(&w, 0, 1.0);
    store_logrec_sample(&w, 0, 0.0);
    assert_int_equal(small.len, 1 + 1 + 8 + (1 + 2) + (1 + 1));
    osp_buf_fini(&small);
    osp_buf_fini(&rec);
}

static void
test_truncated_and_foreign(void **state)
{
    (void)state;
    osp_buf rec;
    osp_buf_init(&rec);
    size_t ends[3];
    write_rec(&rec, ends);
    store_logrec_it it;
    assert_int_equal(store_logrec_it_init(&it, rec.data, 0), OSP_EPARSE);
    char v2 = 2;
    assert_int_equal(store_logrec_it_init(&it, &v2, 1), OSP_EPARSE);
    /* every proper prefix ends early and is flagged, unless it ends exactly
     * between two series; reading never goes past the copy's end */
    for (size_t len = 1; len < rec.len; len++) {
        uint8_t *cp = osp_malloc(len);
        memcpy(cp, rec.data, len);
        assert_int_equal(store_logrec_it_init(&it, cp, len), 0);
        uint64_t id, n;
        size_t got = 0;
        int64_t t;
        double v;
        while (store_logrec_next_series(&it, &id, &n))
            while (store_logrec_next_sample(&it, &t, &v))
                got++;
        assert_true(got < 8);
        size_t whole = 0; /* series wholly inside the prefix */
        while (whole < 3 && ends[whole] <= len)
            whole++;
        size_t want = 0;
        for (size_t i = 0; i < whole; i++)
            want += counts[i];
        if (len == 1 || len == ends[0] || len == ends[1]) {
            assert_false(it.bad);
            assert_int_equal(got, want);
        } else {
            assert_true(it.bad);
            assert_true(got >= want); /* the samples before the damage are read */
        }
        osp_free(cp);
    }
    /* a zero sample count is malformed */
    uint8_t zero[] = {1, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(store_logrec_it_init(&it, zero, sizeof(zero)), 0);
    uint64_t id, n;
    assert_false(store_logrec_next_series(&it, &id, &n));
    assert_true(it.bad);
    /* an overlong varint is malformed */
    uint8_t longv[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(store_logrec_it_init(&it, longv, sizeof(longv)), 0);
    assert_false(store_logrec_next_series(&it, &id, &n));
    assert_true(it.bad);
    osp_buf_fini(&rec);
}

static void
test_replay_record(void **state)
{
    (void)state;
    store_head *h = store_head_new();
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "up");
    osp_labels_addc(&ls, "job", "a");
    uint64_t id = (uint64_t)store_head_id(&ls);
    uint32_t ref;
    store_head_wrlock(h);
    assert_int_equal(store_head_get_or_create(h, id, &ls, &ref, NULL), 0);
    store_head_unlock(h);

    osp_buf rec;
    osp_buf_init(&rec);
    store_logrec_w w;
    store_logrec_begin(&w, &rec);
    store_logrec_series(&w, id ^ 1, 2); /* not in the catalog */
    store_logrec_sample(&w, 1000, 7);
    store_logrec_sample(&w, 2000, 8);
    store_logrec_series(&w, id, 3);
    store_logrec_sample(&w, 1000, 1);
    store_logrec_sample(&w, 3000, 3);
    store_logrec_sample(&w, 2000, 2); /* out of order */
    size_t unknown = 0;
    assert_int_equal(store_replay_record(h, 5000, rec.data, rec.len, &unknown), 0);
    assert_int_equal(unknown, 2);
    /* replaying it again is idempotent */
    assert_int_equal(store_replay_record(h, 5000, rec.data, rec.len, &unknown), 0);
    assert_int_equal(unknown, 4);
    store_head_rdlock(h);
    osp_arena *a = osp_arena_new(0);
    int64_t *ts;
    double *vs;
    size_t n = 0;
    store_head_samples(h, ref, 0, 10000, false, a, &ts, &vs, &n);
    store_head_unlock(h);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(ts[i] == (int64_t)(i + 1) * 1000);
        assert_true(vs[i] == (double)(i + 1));
    }
    /* damage after the first series: what precedes is applied, the record
     * is reported malformed */
    rec.data[rec.len - 1] = (char)0x80;
    assert_int_equal(store_replay_record(h, 6000, rec.data, rec.len, NULL), OSP_EPARSE);
    osp_buf_fini(&rec);
    osp_arena_free(a);
    osp_labels_fini(&ls);
    store_head_free(h);
}

/* Rows of kind 'm' (the raw Envelope, logged by stores before the compact
 * record) still replay: the series is created from its labels. */
static void
test_replay_raw_envelope(void **state)
{
    (void)state;
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "up");
    osp_labels_addc(&ls, "job", "old");
    int64_t ts[2] = {1000, 2000};
    double vs[2] = {1, 0};
    osp_mbatch *b = osp_mbatch_new();
    osp_mbatch_add_series(b, &ls, ts, vs, 2);
    osp_buf mb, env;
    osp_buf_init(&mb);
    osp_buf_init(&env);
    osp_mbatch_encode(b, &mb);
    osp_mbatch_free(b);
    osp_envelope_frame(&env, "p", 1, 5, 'm', mb.data, mb.len);
    store_head *h = store_head_new();
    assert_int_equal(store_replay_one(h, 3000, env.data, env.len), 0);
    uint32_t ref;
    store_head_rdlock(h);
    assert_int_equal(store_head_find(h, (uint64_t)store_head_id(&ls), &ls, &ref), 0);
    osp_arena *a = osp_arena_new(0);
    int64_t *gt;
    double *gv;
    size_t n = 0;
    store_head_samples(h, ref, 0, 10000, false, a, &gt, &gv, &n);
    store_head_unlock(h);
    assert_int_equal(n, 2);
    assert_true(gt[0] == 1000 && gv[0] == 1 && gt[1] == 2000 && gv[1] == 0);
    osp_arena_free(a);
    store_head_free(h);
    osp_buf_fini(&mb);
    osp_buf_fini(&env);
    osp_labels_fini(&ls);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_foreign),
        cmocka_unit_test(test_replay_record),
        cmocka_unit_test(test_replay_raw_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
