/* shard_test.c - rendezvous hashing of targets over collectors. */
#include "osp_test.h"

#include <stdio.h>
#include <string.h>

#include "coll_shard.h"

static void
test_pick_is_stable_and_minimal(void **state)
{
    (void)state;
    const char *three[] = {"c1", "c2", "c3"};
    const char *two[] = {"c1", "c3"}; /* c2 left */
    int counts[3] = {0};
    for (uint64_t key = 1; key <= 3000; key++) {
        int a = coll_shard_pick(three, 3, key * 0x9e3779b97f4a7c15ULL);
        assert_true(a >= 0 && a < 3);
        assert_int_equal(a, coll_shard_pick(three, 3, key * 0x9e3779b97f4a7c15ULL));
        counts[a]++;
        /* a target moves only if its owner left */
        int b = coll_shard_pick(two, 2, key * 0x9e3779b97f4a7c15ULL);
        if (a != 1)
            assert_string_equal(two[b], three[a]);
    }
    for (int i = 0; i < 3; i++)
        assert_true(counts[i] > 800 && counts[i] < 1200); /* roughly even */
    assert_int_equal(coll_shard_pick(NULL, 0, 42), -1);
}

static void
test_bad_url(void **state)
{
    (void)state;
    coll_shard *s = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(coll_shard_new(NULL, "redis://host:notaport", "m", NULL, NULL, &s, &ei),
                     OSP_EINVAL);
    assert_null(s);
    assert_non_null(strstr(ei.msg, "port"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_is_stable_and_minimal),
        cmocka_unit_test(test_bad_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
