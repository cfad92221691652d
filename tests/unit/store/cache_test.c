/* cache_test.c - the ingest series cache: a cached series gives the same
 * verdicts, labels and ids as the full check, survives head compaction
 * (refs are re-checked), and rejected series are never cached. */
#include "osp_test.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bus_pb.h"
#include "store_apply.h"
#include "store_cache.h"
#include "store_head.h"

static void
add(osp_mbatch *b, const char *const *kv, size_t n, int64_t t, double v)
{
    osp_labels ls;
    osp_labels_init(&ls);
    for (size_t i = 0; i + 1 < n; i += 2)
        osp_labels_addc(&ls, kv[i], kv[i + 1]);
    osp_mbatch_add_series(b, &ls, &t, &v, 1);
    osp_labels_fini(&ls);
}

/* a batch at time t: two good series, one of each kind of reject */
static void
batch(osp_buf *out, int64_t t, bool with_old)
{
    static const char *const good1[] = {"__name__", "m", "job", "a", "gone", ""};
    static const char *const good2[] = {"job", "b", "__name__", "m"}; /* unsorted on the wire */
    static const char *const old[] = {"__name__", "old"};
    static const char *const noname[] = {"job", "a"};
    static const char *const bad[] = {"__name__", "m", "1bad", "x"};
    static const char *const dup[] = {"__name__", "m", "job", "a", "job", "b"};
    osp_mbatch *b = osp_mbatch_new();
    if (with_old)
        add(b, old, 2, t, 1);
    add(b, good1, 6, t, 1);
    add(b, good2, 4, t, 2);
    add(b, noname, 2, t, 3);
    add(b, bad, 4, t, 4);
    add(b, dup, 6, t, 5);
    osp_mbatch_add_meta(b, "m", "counter", "help", "");
    osp_buf_reset(out);
    osp_mbatch_encode(b, out);
    osp_mbatch_free(b);
}

static void
same_prep(const store_prep *a, const store_prep *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->rej_no_name, b->rej_no_name);
    assert_int_equal(a->rej_bad_label, b->rej_bad_label);
    assert_int_equal(a->rej_dup_label, b->rej_dup_label);
    assert_int_equal(a->n_meta, b->n_meta);
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->v[i].id == b->v[i].id);
        /* a hit holds no labels until needed: they read back from the key */
        osp_labels bl;
        osp_labels_init(&bl);
        if (b->v[i].labels.n == 0 && b->v[i].ce != NULL)
            store_cache_labels(b->v[i].ce, &bl);
        else
            osp_labels_copy(&bl, &b->v[i].labels);
        assert_true(osp_labels_equal(&a->v[i].labels, &bl));
        osp_labels_fini(&bl);
        assert_int_equal(a->v[i].n, b->v[i].n);
    }
}

static void
test_cache_hits_match_full_path(void **state)
{
    (void)state;
    store_cache *c = store_cache_new(0);
    store_head *h = store_head_new();
    osp_buf raw;
    osp_buf_init(&raw);
    for (int round = 0; round < 3; round++) {
        batch(&raw, 1000 * (round + 1), round == 0);
        osp_wire_view v = {raw.data, raw.len};
        store_prep full, cached;
        store_prep_init(&full);
        store_prep_init(&cached);
        store_prep_wire(&full, v, NULL);
        store_prep_wire(&cached, v, c);
        if (round == 0) {
            assert_int_equal(full.n, 3);
            assert_int_equal(full.rej_no_name, 1);
            assert_int_equal(full.rej_bad_label, 1);
            assert_int_equal(full.rej_dup_label, 1);
            assert_int_equal(full.v[1].labels.n, 2); /* empty value dropped */
            assert_int_equal(cached.cache_hits, 0);
        } else {
            assert_int_equal(cached.cache_hits, 2);   /* the two good series */
            assert_int_equal(cached.cache_misses, 3); /* rejects are never cached */
        }
        same_prep(&full, &cached);
        store_apply_res res = {0};
        store_apply_prep(h, &cached, INT64_MIN, 0, &res);
        store_apply_prep_meta(h, &cached);
        assert_int_equal(res.samples, full.n);
        store_prep_fini(&full);
        store_prep_fini(&cached);
        if (round == 0) {
            /* a cleared head (a failed start) invalidates every cached ref */
            store_head_wrlock(h);
            assert_int_equal(store_head_nseries(h), 3);
            store_head_clear(h);
            assert_int_equal(store_head_nseries(h), 0);
            store_head_unlock(h);
        }
    }
    assert_int_equal(store_cache_count(c), 3); /* "old" left the head but not yet the cache */
    store_head_rdlock(h);
    assert_int_equal(store_head_nseries(h), 2);
    osp_arena *ar = osp_arena_new(0);
    for (uint32_t r = 0; r < 2; r++) {
        int64_t *ts;
        double *vs;
        size_t n;
        store_head_samples(h, r, INT64_MIN, INT64_MAX, false, ar, &ts, &vs, &n);
        assert_int_equal(n, 2); /* rounds 1 and 2 landed in the right series */
        assert_true(vs[0] == vs[1]);
    }
    osp_arena_free(ar);
    const store_meta *m = store_head_meta_find(h, "m");
    assert_non_null(m);
    assert_string_equal(m->type, "counter");
    store_head_unlock(h);
    store_cache_sweep(c, h);
    assert_int_equal(store_cache_count(c), 2);
    store_head_wrlock(h);
    store_head_clear(h);
    store_head_unlock(h);
    store_cache_sweep(c, h);
    assert_int_equal(store_cache_count(c), 0);
    osp_buf_fini(&raw);
    store_head_free(h);
    store_cache_free(c);
}

/* An entry's ref is set only once the head matched its labels: an entry
 * whose id the head holds under other labels (a 64-bit collision) is dropped
 * by a sweep, not tied to that series. */
static void
test_sweep_keeps_only_matched(void **state)
{
    (void)state;
    store_cache *c = store_cache_new(0);
    store_head *h = store_head_new();
    osp_buf raw;
    osp_buf_init(&raw);
    batch(&raw, 1000, false);
    store_prep p;
    store_prep_init(&p);
    store_prep_wire(&p, (osp_wire_view){raw.data, raw.len}, c);
    assert_int_equal(p.n, 2);
    osp_labels other;
    osp_labels_init(&other);
    osp_labels_addc(&other, "__name__", "someone_else");
    uint32_t ref;
    store_head_wrlock(h);
    assert_int_equal(store_head_get_or_create(h, p.v[0].id, &other, &ref, NULL), 0);
    store_head_unlock(h);
    store_apply_res res = {0};
    store_apply_prep(h, &p, INT64_MIN, 0, &res);
    assert_int_equal(res.collisions, 1);
    assert_int_equal(res.samples, 1);
    assert_true(p.v[0].ce->ref == UINT32_MAX);
    assert_true(p.v[1].ce->ref != UINT32_MAX);
    store_prep_fini(&p);
    assert_int_equal(store_cache_count(c), 2);
    store_cache_sweep(c, h);
    assert_int_equal(store_cache_count(c), 1);
    /* the entry kept is the one of the series the head matched */
    batch(&raw, 2000, false);
    store_prep_init(&p);
    store_prep_wire(&p, (osp_wire_view){raw.data, raw.len}, c);
    assert_int_equal(p.cache_hits, 1);
    store_prep_fini(&p);
    osp_labels_fini(&other);
    osp_buf_fini(&raw);
    store_head_free(h);
    store_cache_free(c);
}

static void
test_cache_bound(void **state)
{
    (void)state;
    store_cache *c = store_cache_new(2);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "x");
    assert_non_null(store_cache_put(c, "a", 1, store_cache_hash("a", 1), 1));
    assert_non_null(store_cache_put(c, "b", 1, store_cache_hash("b", 1), 2));
    assert_null(store_cache_put(c, "c", 1, store_cache_hash("c", 1), 3));
    assert_non_null(store_cache_get(c, "a", 1, store_cache_hash("a", 1)));
    assert_null(store_cache_get(c, "ab", 2, store_cache_hash("a", 1)));
    assert_true(store_cache_trim(c));
    assert_int_equal(store_cache_count(c), 0);
    store_cache_free(c);
    c = store_cache_new(0);
    for (int i = 0; i < 3000; i++) { /* growth keeps every entry reachable */
        char k[16];
        int n = snprintf(k, sizeof(k), "k%d", i);
        assert_non_null(
            store_cache_put(c, k, (size_t)n, store_cache_hash(k, (size_t)n), (uint64_t)i));
    }
    for (int i = 0; i < 3000; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "k%d", i);
        store_cache_ent *e = store_cache_get(c, k, (size_t)n, store_cache_hash(k, (size_t)n));
        assert_non_null(e);
        assert_true(e->id == (uint64_t)i);
    }
    osp_labels_fini(&ls);
    store_cache_free(c);
}

/* The successor guess is only a guess: a wrong one falls back to the table
 * and is corrected; a right one is returned without hashing. */
static void
test_cache_follow(void **state)
{
    (void)state;
    store_cache *c = store_cache_new(0);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "x");
    store_cache_ent *a = store_cache_put(c, "a", 1, store_cache_hash("a", 1), 1);
    store_cache_ent *b = store_cache_put(c, "bb", 2, store_cache_hash("bb", 2), 2);
    store_cache_ent *d = store_cache_put(c, "bc", 2, store_cache_hash("bc", 2), 3);
    assert_null(a->next);
    uint64_t h = 7;
    assert_true(store_cache_lookup(c, NULL, "bb", 2, &h) == b);
    assert_true(h == store_cache_hash("bb", 2));
    assert_true(store_cache_lookup(c, a, "bb", 2, &h) == b); /* learnt */
    assert_true(a->next == b);
    h = 7;
    assert_true(store_cache_lookup(c, a, "bb", 2, &h) == b);
    assert_true(h == 7);                                     /* guessed right: no hash */
    assert_true(store_cache_lookup(c, a, "bc", 2, &h) == d); /* same length, other bytes */
    assert_true(a->next == d);
    assert_null(store_cache_lookup(c, a, "b", 1, &h)); /* a miss keeps the guess */
    assert_true(h == store_cache_hash("b", 1));
    assert_true(a->next == d);
    osp_labels_fini(&ls);
    store_cache_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_hits_match_full_path),
        cmocka_unit_test(test_sweep_keeps_only_matched),
        cmocka_unit_test(test_cache_bound),
        cmocka_unit_test(test_cache_follow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
