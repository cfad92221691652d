/* yaml_test.c - the YAML document loader: positions, node types, aliases,
 * merge keys, limits, JSON (file_sd) input and error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "osp_test.h"

static osp_yaml_doc *
load_ok(const char *text)
{
    osp_yaml_doc *doc = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = osp_yaml_load_buf(text, strlen(text), "t.yml", &doc, &ei);
    if (rc != 0)
        fprintf(stderr, "unexpected error: %s:%d:%d: %s\n", ei.file, ei.line, ei.col, ei.msg);
    assert_int_equal(rc, 0);
    return doc;
}

static void
test_tree_positions(void **state)
{
    (void)state;
    osp_yaml_doc *doc = load_ok("global:\n"
                                "  scrape_interval: 15s\n"
                                "  empty:\n"
                                "  quoted: \"null\"\n"
                                "scrape_configs:\n"
                                "  - job_name: a\n"
                                "    static_configs: [{targets: ['h:1', h2]}]\n");
    const osp_yaml_node *root = osp_yaml_root(doc);
    assert_int_equal(root->type, OSP_YAML_MAP);
    assert_int_equal(root->n, 2);
    const osp_yaml_node *g = osp_yaml_map_get(root, "global");
    const osp_yaml_node *si = osp_yaml_map_get(g, "scrape_interval");
    assert_string_equal(si->str, "15s");
    assert_int_equal(si->line, 2);
    assert_int_equal(si->col, 20);
    assert_string_equal(si->file, "t.yml");
    assert_int_equal(osp_yaml_map_get(g, "empty")->type, OSP_YAML_NULL);
    const osp_yaml_node *q = osp_yaml_map_get(g, "quoted");
    assert_int_equal(q->type, OSP_YAML_SCALAR);
    assert_false(q->plain);
    const osp_yaml_node *sc = osp_yaml_map_get(root, "scrape_configs");
    assert_int_equal(sc->type, OSP_YAML_SEQ);
    const osp_yaml_node *job = osp_yaml_seq_at(sc, 0);
    assert_null(osp_yaml_seq_at(sc, 1));
    assert_int_equal(job->line, 6);
    assert_int_equal(job->col, 5);
    const osp_yaml_node *t =
        osp_yaml_map_get(osp_yaml_seq_at(osp_yaml_map_get(job, "static_configs"), 0), "targets");
    assert_int_equal(t->n, 2);
    assert_string_equal(t->items[0]->str, "h:1");
    assert_string_equal(t->items[1]->str, "h2");
    assert_string_equal(osp_yaml_map_at(root, 1)->key->str, "scrape_configs");
    assert_null(osp_yaml_map_get(t, "x"));
    osp_yaml_free(doc);
}

static void
test_json_file_sd(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("conf");
    char path[512];
    snprintf(path, sizeof(path), "%s/sd.json", dir);
    FILE *f = fopen(path, "w");
    fputs("[\n  {\n    \"targets\": [\"10.0.0.1:9100\", \"10.0.0.2:9100\"],\n"
          "    \"labels\": {\"env\": \"prod\", \"job\": \"node\"}\n  }\n]\n",
          f);
    fclose(f);
    osp_yaml_doc *doc = NULL;
    osp_errinfo ei;
    assert_int_equal(osp_yaml_load_file(path, &doc, &ei), 0);
    const osp_yaml_node *g = osp_yaml_seq_at(osp_yaml_root(doc), 0);
    assert_int_equal(osp_yaml_map_get(g, "targets")->n, 2);
    assert_string_equal(osp_yaml_map_get(osp_yaml_map_get(g, "labels"), "env")->str, "prod");
    assert_int_equal(osp_yaml_map_get(g, "labels")->line, 4);
    osp_yaml_free(doc);

    snprintf(path, sizeof(path), "%s/missing.yml", dir);
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_yaml_load_file(path, &doc, &ei), OSP_EIO);
    assert_string_equal(ei.file, path);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_aliases_merge(void **state)
{
    (void)state;
    osp_yaml_doc *doc = load_ok("base: &b {a: 1, b: 2}\n"
                                "list: &l [x, y]\n"
                                "use: *l\n"
                                "m:\n  <<: *b\n  b: 3\n  c: 4\n");
    const osp_yaml_node *root = osp_yaml_root(doc);
    assert_ptr_equal(osp_yaml_map_get(root, "use"), osp_yaml_map_get(root, "list"));
    const osp_yaml_node *m = osp_yaml_map_get(root, "m");
    assert_int_equal(m->n, 3);
    assert_string_equal(osp_yaml_map_get(m, "a")->str, "1");
    assert_string_equal(osp_yaml_map_get(m, "b")->str, "3"); /* explicit wins */
    osp_yaml_free(doc);
}

static void
test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
        const char *msg;
    } cases[] = {
        {"a: 1\nb: [1, 2\n", 0, "flow sequence"},
        {"a: *nope\n", 1, "unknown alias"},
        {"a: &x [1, *x]\n", 1, "unknown alias"},
        {"? [1, 2]\n: v\n", 1, "mapping keys must be scalars"},
        {"a:\n\tb: 1\n", 2, ""},
        {"<<: 5\n", 1, "merge key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        osp_yaml_doc *doc = NULL;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        assert_int_equal(
            osp_yaml_load_buf(cases[i].text, strlen(cases[i].text), "e.yml", &doc, &ei),
            OSP_EPARSE);
        assert_null(doc);
        assert_string_equal(ei.file, "e.yml");
        if (cases[i].line)
            assert_int_equal(ei.line, cases[i].line);
        assert_true(ei.line > 0);
        assert_non_null(strstr(ei.msg, cases[i].msg));
    }
}

static void
test_billion_laughs(void **state)
{
    (void)state;
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        osp_buf_printf(&b, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            osp_buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
        osp_buf_puts(&b, "]\n");
    }
    osp_yaml_doc *doc = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_yaml_load_buf(b.data, b.len, "bomb.yml", &doc, &ei), OSP_EPARSE);
    assert_non_null(strstr(ei.msg, "alias expansion"));
    osp_buf_fini(&b);
}

static void
test_empty_and_multi(void **state)
{
    (void)state;
    osp_yaml_doc *doc = load_ok("");
    assert_int_equal(osp_yaml_root(doc)->type, OSP_YAML_NULL);
    osp_yaml_free(doc);
    doc = load_ok("# only a comment\n");
    assert_int_equal(osp_yaml_root(doc)->type, OSP_YAML_NULL);
    osp_yaml_free(doc);
    doc = load_ok("a: 1\n---\nb: 2\n");
    assert_non_null(osp_yaml_map_get(osp_yaml_root(doc), "a"));
    assert_null(osp_yaml_map_get(osp_yaml_root(doc), "b"));
    osp_yaml_free(doc);
}

static void
test_scalar_conversions(void **state)
{
    (void)state;
    osp_yaml_doc *doc = load_ok("b: on\ni: -42\nd: 1e3\nt: 1m30s\nz: 2KiB\nbad: 15x\nl: [1]\n");
    const osp_yaml_node *r = osp_yaml_root(doc);
    bool b = false;
    int64_t i = 0, ms = 0;
    double d = 0;
    uint64_t z = 0;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_yaml_bool(osp_yaml_map_get(r, "b"), &b, &ei), 0);
    assert_true(b);
    assert_int_equal(osp_yaml_int64(osp_yaml_map_get(r, "i"), &i, &ei), 0);
    assert_int_equal(i, -42);
    assert_int_equal(osp_yaml_double(osp_yaml_map_get(r, "d"), &d, &ei), 0);
    assert_true(d == 1000);
    assert_int_equal(osp_yaml_duration(osp_yaml_map_get(r, "t"), &ms, &ei), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(osp_yaml_bytes(osp_yaml_map_get(r, "z"), &z, &ei), 0);
    assert_true(z == 2048);
    assert_int_equal(osp_yaml_duration(osp_yaml_map_get(r, "bad"), &ms, &ei), OSP_EINVAL);
    char msg[1024];
    osp_errinfo_format(&ei, msg, sizeof(msg));
    assert_string_equal(msg, "t.yml:6:6: invalid duration \"15x\"");
    assert_int_equal(osp_yaml_int64(osp_yaml_map_get(r, "l"), &i, &ei), OSP_EINVAL);
    assert_non_null(strstr(ei.msg, "got a sequence"));
    assert_int_equal(osp_yaml_int64(NULL, &i, &ei), OSP_EINVAL);
    osp_yaml_free(doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_positions),     cmocka_unit_test(test_json_file_sd),
        cmocka_unit_test(test_aliases_merge),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_billion_laughs),     cmocka_unit_test(test_empty_and_multi),
        cmocka_unit_test(test_scalar_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
