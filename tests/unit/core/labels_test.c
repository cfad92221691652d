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

/* A packed copy reads like the original; changing it (with strings that point
 * into its own block) unpacks it; reset, fini and re-packing free it (ASan
 * and valgrind see a leak or a use after free). */
static void
test_packed(void **state)
{
    (void)state;
    osp_labels a, p, e;
    osp_labels_init(&a);
    osp_labels_init(&p);
    osp_labels_init(&e);
    osp_labels_addc(&a, "__name__", "http_requests_total");
    osp_labels_addc(&a, "code", "200");
    osp_labels_addc(&a, "job", "api");
    osp_labels_copy_packed(&p, &a);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.cap, 0);
    assert_true(osp_labels_equal(&p, &a));
    assert_true(osp_labels_hash(&p) == osp_labels_hash(&a));
    assert_string_equal(osp_labels_get(&p, "job"), "api");
    assert_true(a.v[0].name != p.v[0].name); /* a copy, not borrowed */
    osp_labels_copy_packed(&p, &a);          /* re-packing frees the old block */
    osp_labels_set(&p, "job", osp_labels_get(&p, "code"));
    assert_string_equal(osp_labels_get(&p, "job"), "200");
    assert_true(p.cap >= p.n);
    osp_labels_copy_packed(&p, &a);
    osp_labels_add(&p, "zone", 4, osp_labels_get(&p, "job"), 3);
    assert_int_equal(p.n, 4);
    assert_string_equal(osp_labels_get(&p, "zone"), "api");
    osp_labels_copy_packed(&p, &a);
    osp_labels_del(&p, p.v[1].name);
    assert_int_equal(p.n, 2);
    assert_null(osp_labels_get(&p, "code"));
    osp_labels_copy_packed(&p, &e);
    assert_int_equal(p.n, 0);
    osp_labels_fini(&p);
    osp_labels_copy_packed(&p, &e); /* empty into empty: nothing allocated */
    assert_null(p.v);
    osp_labels_copy_packed(&p, &a);
    osp_labels_reset(&p);
    assert_int_equal(p.n, 0);
    osp_labels_addc(&p, "a", "b");
    assert_string_equal(osp_labels_get(&p, "a"), "b");
    osp_labels_copy_packed(&e, &a);
    osp_labels_copy(&p, &e); /* an owned copy of a packed set */
    assert_true(osp_labels_equal(&p, &a));
    osp_labels_fini(&a);
    osp_labels_fini(&p);
    osp_labels_fini(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sort_hash_format),
                                       cmocka_unit_test(test_packed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
