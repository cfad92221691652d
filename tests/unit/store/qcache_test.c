/* qcache_test.c - the query cache of persisted samples: covering ranges,
 * persist reports that drop overlapping entries and refuse fills based on an
 * older head state, the max age, the sample and byte limits, LRU eviction,
 * and the head telling the cache of what it persists. */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "osp_arena.h"
#include "promql.h"
#include "store_head.h"
#include "store_qcache.h"

#define NOW 1000000000

/* pts: n samples at t0, t0 + 15 s, ... with value t / 1000. */
static osp_promql_point *
pts_at(osp_arena *a, int64_t t0, size_t n)
{
    osp_promql_point *p = osp_arena_alloc(a, (n ? n : 1) * sizeof(*p));
    for (size_t i = 0; i < n; i++)
        p[i] =
            (osp_promql_point){t0 + (int64_t)i * 15000, (double)(t0 + (int64_t)i * 15000) / 1000};
    return p;
}

static void
test_get_put_ranges(void **state)
{
    (void)state;
    store_qcache *c = store_qcache_new(1 << 20);
    osp_arena *a = osp_arena_new(0);
    osp_promql_point *got;
    size_t n;
    assert_false(store_qcache_get(c, 7, 0, 300000, NOW, 0, a, &got, &n));
    uint64_t e = store_qcache_epoch(c);
    /* samples 0 .. 300 s, with a stale marker and a NaN kept bit for bit */
    osp_promql_point *p = pts_at(a, 0, 21);
    p[3].v = osp_promql_stale_nan();
    p[4].v = NAN;
    store_qcache_put(c, 7, 0, 300000, NOW, p, 21, e);
    /* the same range, a range inside it (2 more points of room asked) */
    assert_true(store_qcache_get(c, 7, 0, 300000, NOW, 0, a, &got, &n));
    assert_int_equal(n, 21);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].t, p[i].t);
        assert_memory_equal(&got[i].v, &p[i].v, sizeof(double));
    }
    assert_true(store_qcache_get(c, 7, 30000, 60000, NOW, 2, a, &got, &n));
    assert_int_equal(n, 3);
    assert_int_equal(got[0].t, 30000);
    assert_int_equal(got[2].t, 60000);
    got[3] = got[4] = (osp_promql_point){0, 0}; /* the room is there */
    /* not covered: wider on either side, another series */
    assert_false(store_qcache_get(c, 7, -1, 300000, NOW, 0, a, &got, &n));
    assert_false(store_qcache_get(c, 7, 0, 300001, NOW, 0, a, &got, &n));
    assert_false(store_qcache_get(c, 8, 0, 300000, NOW, 0, a, &got, &n));
    /* an entry with no samples is an answer too */
    store_qcache_put(c, 8, 0, 300000, NOW, NULL, 0, e);
    assert_true(store_qcache_get(c, 8, 100, 200, NOW, 0, a, &got, &n));
    assert_int_equal(n, 0);
    /* too old */
    assert_false(
        store_qcache_get(c, 7, 0, 300000, NOW + STORE_QCACHE_MAX_AGE_MS + 1, 0, a, &got, &n));
    /* a new range replaces the entry */
    store_qcache_put(c, 7, 600000, 900000, NOW, pts_at(a, 600000, 21), 21, e);
    assert_false(store_qcache_get(c, 7, 0, 300000, NOW, 0, a, &got, &n));
    assert_true(store_qcache_get(c, 7, 600000, 900000, NOW, 0, a, &got, &n));
    /* too many samples to keep */
    store_qcache_put(c, 9, 0, 86400000, NOW, pts_at(a, 0, STORE_QCACHE_MAX_SAMPLES + 1),
                     STORE_QCACHE_MAX_SAMPLES + 1, e);
    assert_false(store_qcache_get(c, 9, 0, 86400000, NOW, 0, a, &got, &n));
    store_qcache_stats st;
    store_qcache_stats_get(c, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 7);
    osp_arena_free(a);
    store_qcache_free(c);
}

static void
test_persist_reports(void **state)
{
    (void)state;
    store_qcache *c = store_qcache_new(1 << 20);
    osp_arena *a = osp_arena_new(0);
    osp_promql_point *got;
    size_t n;
    uint64_t e = store_qcache_epoch(c);
    store_qcache_put(c, 1, 0, 300000, NOW, pts_at(a, 0, 21), 21, e);
    store_qcache_put(c, 2, 0, 300000, NOW, pts_at(a, 0, 21), 21, e);
    /* a chunk of series 1 after the range, one of series 2 inside it */
    store_qcache_persisted(c, 1, 300001, 400000);
    store_qcache_persisted(c, 2, 290000, 310000);
    assert_true(store_qcache_get(c, 1, 0, 300000, NOW, 0, a, &got, &n));
    assert_false(store_qcache_get(c, 2, 0, 300000, NOW, 0, a, &got, &n));
    /* a fill read before those reports is refused: what it read from the head
     * may lack a chunk that went to PostgreSQL after */
    store_qcache_put(c, 2, 0, 300000, NOW, pts_at(a, 0, 21), 21, e);
    assert_false(store_qcache_get(c, 2, 0, 300000, NOW, 0, a, &got, &n));
    store_qcache_put(c, 2, 0, 300000, NOW, pts_at(a, 0, 21), 21, store_qcache_epoch(c));
    assert_true(store_qcache_get(c, 2, 0, 300000, NOW, 0, a, &got, &n));
    store_qcache_clear(c);
    assert_false(store_qcache_get(c, 1, 0, 300000, NOW, 0, a, &got, &n));
    store_qcache_stats st;
    store_qcache_stats_get(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.refused, 1);
    osp_arena_free(a);
    store_qcache_free(c);
}

static void
test_budget_lru(void **state)
{
    (void)state;
    /* room for the table and a few dozen small entries */
    store_qcache *c = store_qcache_new(16384);
    osp_arena *a = osp_arena_new(0);
    osp_promql_point *got;
    size_t n;
    uint64_t e = store_qcache_epoch(c);
    for (int64_t id = 0; id < 200; id++) {
        store_qcache_put(c, id, 0, 300000, NOW, pts_at(a, 0, 21), 21, e);
        /* series 0 stays in use */
        assert_true(store_qcache_get(c, 0, 0, 300000, NOW, 0, a, &got, &n));
    }
    store_qcache_stats st;
    store_qcache_stats_get(c, &st);
    assert_true(st.bytes <= 16384);
    assert_true(st.evicted > 0);
    assert_true(store_qcache_get(c, 0, 0, 300000, NOW, 0, a, &got, &n));
    assert_true(store_qcache_get(c, 199, 0, 300000, NOW, 0, a, &got, &n));
    assert_false(store_qcache_get(c, 1, 0, 300000, NOW, 0, a, &got, &n));
    /* an entry above a sixteenth of the budget is not kept (values that do
     * not compress) */
    osp_promql_point *p = pts_at(a, 0, 500);
    for (size_t i = 0; i < 500; i++)
        p[i].v = (double)((uint64_t)p[i].t * 2654435761u % 1000003) / 7.0;
    store_qcache_put(c, 500, 0, 86400000, NOW, p, 500, e);
    assert_false(store_qcache_get(c, 500, 0, 86400000, NOW, 0, a, &got, &n));
    osp_arena_free(a);
    store_qcache_free(c);
}

/* The head reports what it marks persisted, and forgets the cache's entries
 * when it forgets everything. */
static void
test_head_reports(void **state)
{
    (void)state;
    store_qcache *c = store_qcache_new(1 << 20);
    store_head *h = store_head_new();
    store_head_set_qcache(h, c);
    osp_arena *a = osp_arena_new(0);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "__name__", "m");
    uint32_t ref;
    int64_t id = store_head_id(&ls);
    store_head_wrlock(h);
    assert_int_equal(store_head_get_or_create(h, (uint64_t)id, &ls, &ref, NULL), 0);
    for (int64_t t = 0; t < 200 * 15000; t += 15000)
        store_head_append(h, ref, t, 1.0, 0);
    store_head_cut(h, INT64_MAX);
    store_head_unlock(h);
    uint64_t e = store_qcache_epoch(c);
    store_qcache_put(c, id, 0, 300000, NOW, pts_at(a, 0, 21), 21, e);
    store_chunk_ref cr[8];
    store_head_rdlock(h);
    size_t nc = store_head_unpersisted(h, cr, 8);
    store_head_unlock(h);
    assert_true(nc >= 2);
    osp_promql_point *got;
    size_t n;
    /* the second chunk starts after 300 s: the entry stays; the first drops it */
    store_head_wrlock(h);
    store_head_mark_persisted(h, &cr[1], 1);
    store_head_unlock(h);
    assert_true(store_qcache_get(c, id, 0, 300000, NOW, 0, a, &got, &n));
    store_head_wrlock(h);
    store_head_mark_persisted(h, &cr[0], 1);
    store_head_unlock(h);
    assert_false(store_qcache_get(c, id, 0, 300000, NOW, 0, a, &got, &n));
    store_qcache_put(c, id, 0, 300000, NOW, pts_at(a, 0, 21), 21, store_qcache_epoch(c));
    store_head_wrlock(h);
    store_head_clear(h);
    store_head_unlock(h);
    assert_false(store_qcache_get(c, id, 0, 300000, NOW, 0, a, &got, &n));
    osp_labels_fini(&ls);
    osp_arena_free(a);
    store_head_free(h);
    store_qcache_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_ranges),
        cmocka_unit_test(test_persist_reports),
        cmocka_unit_test(test_budget_lru),
        cmocka_unit_test(test_head_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
