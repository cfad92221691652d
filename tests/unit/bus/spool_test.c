/* spool_test.c - the producer spool: memory, spill to segment files, removal,
 * the bound (oldest dropped first), file cleanup and reload after a restart. */
#include "osp_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus_int.h"
#include "osp_mem.h"

static int
count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "spool-", 6) == 0)
            n++;
    closedir(d);
    return n;
}

static void
fill(char *buf, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(seq * 31 + i);
}

static void
check_payload(osp_spool *sp, uint64_t seq, size_t n)
{
    osp_spool_entry *e = osp_spool_find(sp, seq);
    assert_non_null(e);
    assert_int_equal(e->len, n);
    osp_buf scratch;
    osp_buf_init(&scratch);
    const void *p;
    assert_int_equal(osp_spool_payload(sp, e, &scratch, &p), 0);
    char want[1000];
    fill(want, n, seq);
    assert_memory_equal(p, want, n);
    osp_buf_fini(&scratch);
}

static void
test_memory_only(void **state)
{
    (void)state;
    osp_spool_opts o = {.max_bytes = 1000};
    osp_spool *sp;
    assert_int_equal(osp_spool_new(&o, &sp, NULL), 0);
    char buf[1000];
    osp_spool_drop d = {0};
    for (uint64_t s = 1; s <= 10; s++) {
        fill(buf, 100, s);
        assert_int_equal(osp_spool_add(sp, s, 'm', buf, 100, &d, NULL), 0);
    }
    assert_int_equal(d.entries, 0);
    /* acks in any order */
    assert_int_equal(osp_spool_remove(sp, 5), 0);
    assert_int_equal(osp_spool_remove(sp, 5), OSP_ENOTFOUND);
    assert_int_equal(osp_spool_remove(sp, 1), 0);
    assert_null(osp_spool_find(sp, 1));
    check_payload(sp, 2, 100);
    /* full (800 live): adding 300 drops the oldest: 2, 3 -> 600 + 300 */
    fill(buf, 300, 11);
    assert_int_equal(osp_spool_add(sp, 11, 'l', buf, 300, &d, NULL), 0);
    assert_int_equal(d.entries, 1);
    assert_int_equal(d.bytes, 100);
    assert_null(osp_spool_find(sp, 2));
    check_payload(sp, 3, 100);
    check_payload(sp, 11, 300);
    osp_spool_stats st;
    osp_spool_stats_get(sp, &st);
    assert_int_equal(st.entries, 8);
    assert_int_equal(st.bytes, 1000);
    assert_int_equal(st.file_bytes, 0);
    /* too big, and seq must rise */
    assert_int_equal(osp_spool_add(sp, 12, 'm', buf, 1001, &d, NULL), OSP_ELIMIT);
    assert_int_equal(osp_spool_add(sp, 11, 'm', buf, 10, &d, NULL), OSP_EINVAL);
    /* iteration is oldest first, with holes */
    uint64_t last = 0;
    size_t live = 0;
    for (size_t i = 0; i < osp_spool_span(sp); i++) {
        osp_spool_entry *e = osp_spool_slot(sp, i);
        if (!e)
            continue;
        assert_true(e->seq > last);
        last = e->seq;
        live++;
    }
    assert_int_equal(live, 8);
    for (uint64_t s = 3; s <= 11; s++)
        osp_spool_remove(sp, s);
    osp_spool_stats_get(sp, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.mem_bytes, 0);
    assert_int_equal(osp_spool_span(sp), 0);
    osp_spool_free(sp);
    osp_spool_free(NULL);
}

static void
test_spill_and_cleanup(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("spool");
    char sub[4096];
    snprintf(sub, sizeof(sub), "%s/q", dir); /* created by the spool */
    osp_spool_opts o = {.dir = sub, .max_bytes = 100000, .mem_bytes = 1000, .seg_bytes = 2000};
    osp_spool *sp;
    assert_int_equal(osp_spool_new(&o, &sp, NULL), 0);
    char buf[1000];
    osp_spool_drop d = {0};
    for (uint64_t s = 1; s <= 30; s++) {
        fill(buf, 200, s);
        assert_int_equal(osp_spool_add(sp, s, 'm', buf, 200, &d, NULL), 0);
    }
    osp_spool_stats st;
    osp_spool_stats_get(sp, &st);
    assert_int_equal(st.entries, 30);
    assert_int_equal(st.mem_bytes, 1000); /* 5 in memory */
    assert_int_equal(st.file_bytes, 25 * (200 + OSP_SPOOL_REC_HDR));
    assert_true(st.segments >= 3);
    assert_int_equal(count_files(sub), (int)st.segments);
    assert_null(osp_spool_find(sp, 3)->seg);
    assert_non_null(osp_spool_find(sp, 6)->seg);
    check_payload(sp, 2, 200);
    check_payload(sp, 17, 200);
    check_payload(sp, 30, 200);
    /* memory freed by acks is used again before the file */
    osp_spool_remove(sp, 1);
    fill(buf, 200, 31);
    assert_int_equal(osp_spool_add(sp, 31, 'l', buf, 200, &d, NULL), 0);
    assert_null(osp_spool_find(sp, 31)->seg);
    /* acking every spilled entry deletes every file */
    for (uint64_t s = 6; s <= 30; s++)
        assert_int_equal(osp_spool_remove(sp, s), 0);
    osp_spool_stats_get(sp, &st);
    assert_int_equal(st.file_bytes, 0);
    assert_int_equal(st.segments, 0);
    assert_int_equal(count_files(sub), 0);
    assert_int_equal(st.entries, 5);
    osp_spool_free(sp);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_bound_with_files(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("spool");
    osp_spool_opts o = {.dir = dir, .max_bytes = 5000, .mem_bytes = 1000, .seg_bytes = 1000};
    osp_spool *sp;
    assert_int_equal(osp_spool_new(&o, &sp, NULL), 0);
    char buf[1000];
    osp_spool_drop d = {0};
    for (uint64_t s = 1; s <= 200; s++) {
        fill(buf, 100, s);
        assert_int_equal(osp_spool_add(sp, s, 'm', buf, 100, &d, NULL), 0);
        osp_spool_stats st;
        osp_spool_stats_get(sp, &st);
        assert_true(st.mem_bytes + st.file_bytes <= 5000);
    }
    assert_true(d.entries > 100);
    assert_int_equal(d.bytes, d.entries * 100);
    /* the newest survive, the oldest went first, and the sequence has no gaps */
    osp_spool_stats st;
    osp_spool_stats_get(sp, &st);
    assert_int_equal(st.entries + d.entries, 200);
    for (uint64_t s = 200; s > 200 - st.entries; s--)
        check_payload(sp, s, 100);
    assert_null(osp_spool_find(sp, 200 - st.entries));
    assert_int_equal(count_files(dir), (int)st.segments);
    osp_spool_free(sp);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_reload(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("spool");
    osp_spool_opts o = {.dir = dir, .max_bytes = 100000, .mem_bytes = 0, .seg_bytes = 1000};
    osp_spool *sp;
    assert_int_equal(osp_spool_new(&o, &sp, NULL), 0);
    char buf[1000];
    for (uint64_t s = 101; s <= 120; s++) {
        fill(buf, 150, s);
        assert_int_equal(osp_spool_add(sp, s, s % 2 ? 'm' : 'l', buf, 150, NULL, NULL), 0);
    }
    osp_spool_remove(sp, 105);
    osp_spool_free(sp); /* "crash": files stay */

    /* tear the tail of the newest segment */
    DIR *d = opendir(dir);
    char newest[4096] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "spool-", 6) == 0 && strcmp(de->d_name, newest) > 0)
            snprintf(newest, sizeof(newest), "%s", de->d_name);
    closedir(d);
    char path[8192];
    snprintf(path, sizeof(path), "%s/%s", dir, newest);
    struct stat stt;
    assert_int_equal(stat(path, &stt), 0);
    assert_int_equal(truncate(path, stt.st_size - 10), 0);

    assert_int_equal(osp_spool_new(&o, &sp, NULL), 0);
    osp_spool_stats st;
    osp_spool_stats_get(sp, &st);
    /* 20 written, 120 torn; 105 was acked but acks are not logged: it comes back */
    assert_int_equal(st.entries, 19);
    assert_int_equal(osp_spool_max_seq(sp), 119);
    check_payload(sp, 101, 150);
    check_payload(sp, 105, 150);
    check_payload(sp, 119, 150);
    assert_int_equal(osp_spool_find(sp, 102)->topic, 'l');
    assert_null(osp_spool_find(sp, 120));
    /* appending continues in a new segment; acking all cleans the dir */
    fill(buf, 150, 500);
    assert_int_equal(osp_spool_add(sp, 500, 'm', buf, 150, NULL, NULL), 0);
    for (uint64_t s = 101; s <= 119; s++)
        osp_spool_remove(sp, s);
    osp_spool_remove(sp, 500);
    assert_int_equal(count_files(dir), 0);
    osp_spool_free(sp);
    osp_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_only),
        cmocka_unit_test(test_spill_and_cleanup),
        cmocka_unit_test(test_bound_with_files),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
