/* target_test.c - target labels (instance default, __param_, relabeling of
 * __address__), offsets, and the honor_labels merge. */
#include "osp_test.h"

#include <string.h>

#include "coll_config.h"
#include "coll_target.h"

static void
job_init(coll_job *j)
{
    memset(j, 0, sizeof(*j));
    j->name = "node";
    j->interval_ms = 15000;
    j->timeout_ms = 10000;
    j->metrics_path = "/metrics";
    j->scheme = "http";
    j->honor_timestamps = true;
    osp_labels_init(&j->params);
}

static void
test_defaults(void **state)
{
    (void)state;
    coll_job j;
    job_init(&j);
    coll_tgroup g = {0};
    osp_labels_init(&g.labels);
    osp_labels_addc(&g.labels, "env", "prod");
    coll_tdef t;
    bool dropped = true;
    assert_int_equal(coll_target_build(&j, &g, "10.0.0.1:9100", &t, &dropped, NULL), 0);
    assert_false(dropped);
    assert_string_equal(t.url, "http://10.0.0.1:9100/metrics");
    assert_int_equal(t.labels.n, 3); /* env, instance, job */
    assert_string_equal(osp_labels_get(&t.labels, "instance"), "10.0.0.1:9100");
    assert_string_equal(osp_labels_get(&t.labels, "job"), "node");
    assert_string_equal(t.labels.v[0].name, "env"); /* sorted */
    assert_int_equal(t.interval_ms, 15000);
    int64_t off = coll_target_offset(t.key, 15000);
    assert_true(off >= 0 && off < 15000);
    coll_tdef_fini(&t);
    osp_labels_fini(&g.labels);
}

static void
test_params_and_relabel(void **state)
{
    (void)state;
    coll_job j;
    job_init(&j);
    osp_labels_addc(&j.params, "module", "http_2xx");
    /* blackbox-style: __address__ -> __param_target, instance from it, address fixed */
    coll_relabel r[3];
    const char *addr[] = {"__address__"};
    const char *pt[] = {"__param_target"};
    assert_int_equal(
        coll_relabel_init(&r[0], COLL_RL_REPLACE, addr, 1, NULL, "__param_target", NULL, 0, NULL),
        0);
    assert_int_equal(
        coll_relabel_init(&r[1], COLL_RL_REPLACE, pt, 1, NULL, "instance", NULL, 0, NULL), 0);
    assert_int_equal(coll_relabel_init(&r[2], COLL_RL_REPLACE, NULL, 0, NULL, "__address__",
                                       "127.0.0.1:9115", 0, NULL),
                     0);
    j.relabel = r;
    j.nrelabel = 3;
    coll_tdef t;
    bool dropped;
    assert_int_equal(coll_target_build(&j, NULL, "https://example.org/a b", &t, &dropped, NULL), 0);
    assert_string_equal(
        t.url,
        "http://127.0.0.1:9115/metrics?module=http_2xx&target=https%3A%2F%2Fexample.org%2Fa%20b");
    assert_string_equal(osp_labels_get(&t.labels, "instance"), "https://example.org/a b");
    assert_null(osp_labels_get(&t.labels, "__param_target"));
    coll_tdef_fini(&t);

    /* empty __address__ after relabeling drops the target */
    coll_relabel_fini(&r[2]);
    assert_int_equal(
        coll_relabel_init(&r[2], COLL_RL_REPLACE, NULL, 0, NULL, "__address__", "", 0, NULL), 0);
    assert_int_equal(coll_target_build(&j, NULL, "x:1", &t, &dropped, NULL), 0);
    assert_true(dropped);
    for (int i = 0; i < 3; i++)
        coll_relabel_fini(&r[i]);
    osp_labels_fini(&j.params);
}

static void
test_honor_labels(void **state)
{
    (void)state;
    osp_labels tl, ls;
    osp_labels_init(&tl);
    osp_labels_init(&ls);
    osp_labels_addc(&tl, "instance", "a:1");
    osp_labels_addc(&tl, "job", "node");
    osp_labels_addc(&ls, "__name__", "m");
    osp_labels_addc(&ls, "job", "pushed");
    osp_labels_addc(&ls, "exported_instance", "taken");
    osp_labels_addc(&ls, "instance", "other");
    coll_labels_merge_target(&ls, &tl, false);
    assert_string_equal(osp_labels_get(&ls, "job"), "node");
    assert_string_equal(osp_labels_get(&ls, "exported_job"), "pushed");
    assert_string_equal(osp_labels_get(&ls, "instance"), "a:1");
    assert_string_equal(osp_labels_get(&ls, "exported_instance"), "taken");
    assert_string_equal(osp_labels_get(&ls, "exported_exported_instance"), "other");

    osp_labels_reset(&ls);
    osp_labels_addc(&ls, "__name__", "m");
    osp_labels_addc(&ls, "job", "pushed");
    coll_labels_merge_target(&ls, &tl, true);
    assert_string_equal(osp_labels_get(&ls, "job"), "pushed");
    assert_string_equal(osp_labels_get(&ls, "instance"), "a:1");
    assert_null(osp_labels_get(&ls, "exported_job"));
    osp_labels_fini(&tl);
    osp_labels_fini(&ls);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_params_and_relabel),
        cmocka_unit_test(test_honor_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
