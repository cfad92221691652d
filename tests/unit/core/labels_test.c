/* labels_test.c - label set order, identity and rendering. */
#include "osp_test.h"

#include "osp_labels.h"

static void
test_sort_hash_format(void **state)
{
    (void)state;
    osp_labels a, b;
    osp_labels_init(&a);
    osp_labels_init(&b);
    osp_labels_addc(&a, "job", "node");
    osp_labels_addc(&a, "__name__", "up");
    osp_labels_addc(&a, "instance", "h:1");
    osp_labels_addc(&b, "instance", "h:1");
    osp_labels_addc(&b, "job", "node");
    osp_labels_addc(&b, "__name__", "up");
    osp_labels_sort(&a);
    osp_labels_sort(&b);
    assert_string_equal(a.v[0].name, "__name__");
    assert_true(osp_labels_equal(&a, &b));
    assert_true(osp_labels_hash(&a) == osp_labels_hash(&b));
    osp_labels_set(&b, "job", "x\"y");
    assert_false(osp_labels_hash(&a) == osp_labels_hash(&b));
    osp_buf out;
    osp_buf_init(&out);
    osp_labels_format(&b, &out);
    assert_string_equal(osp_buf_cstr(&out), "up{instance=\"h:1\",job=\"x\\\"y\"}");
    osp_buf_reset(&out);
    osp_labels_json(&a, &out);
    assert_string_equal(osp_buf_cstr(&out),
                        "{\"__name__\":\"up\",\"instance\":\"h:1\",\"job\":\"node\"}");
    osp_labels_set(&b, "job", "");
    assert_null(osp_labels_get(&b, "job"));
    osp_buf_fini(&out);
    osp_labels_fini(&a);
    osp_labels_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sort_hash_format)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
