/* config_test.c - alertmanager.yml loading (errors with positions, route
 * inheritance, receivers), matcher syntax, route matching with continue,
 * fingerprints and group keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alert_am_config.h"
#include "alert_conf.h"
#include "alert_matcher.h"
#include "osp_mem.h"
#include "osp_test.h"

static char *
write_tmp(const char *text)
{
    static char *last; /* callers keep the path for the one call */
    free(last);
    last = osp_test_write(NULL, "am.yml", text);
    assert_non_null(last);
    return last;
}

static void
test_matchers(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int ok;
        size_t n;
    } cases[] = {
        {"severity=\"critical\"", 1, 1},
        {"{a=~\"x|y\", b!=c}", 1, 2},
        {"foo=", 1, 1},
        {"{a=\"b\",}", 1, 1},
        {"a=\"\\d+\"", 0, 0},
        {"{a=b", 0, 0},
        {"=x", 0, 0},
        {"a==b\"", 0, 0},
        {"a=~\"(\"", 0, 0},
        {"{}", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        alert_matchers m;
        alert_matchers_init(&m);
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int rc = alert_matchers_parse(&m, cases[i].in, &ei);
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "case %zu (%s): rc %d %s\n", i, cases[i].in, rc, ei.msg);
        assert_int_equal(rc == 0, cases[i].ok);
        if (rc == 0)
            assert_int_equal(m.n, cases[i].n);
        alert_matchers_fini(&m);
    }
    alert_matchers m;
    alert_matchers_init(&m);
    assert_int_equal(alert_matchers_parse(&m, "{a=~\"x|y\", b!=c}", NULL), 0);
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "a", "y");
    assert_true(alert_matchers_match(&m, &ls));
    osp_labels_addc(&ls, "b", "c");
    assert_false(alert_matchers_match(&m, &ls));
    osp_buf b;
    osp_buf_init(&b);
    alert_matchers_format(&m, &b);
    assert_string_equal(osp_buf_cstr(&b), "{a=~\"x|y\",b!=\"c\"}");
    osp_buf_fini(&b);
    osp_labels_fini(&ls);
    alert_matchers_fini(&m);
}

static void
test_routes_and_continue(void **state)
{
    (void)state;
    const char *path = write_tmp("route:\n"
                                 "  receiver: r0\n"
                                 "  group_by: [alertname]\n"
                                 "  group_wait: 1s\n"
                                 "  routes:\n"
                                 "    - matchers: ['team=\"ai\"']\n"
                                 "      receiver: r1\n"
                                 "      continue: true\n"
                                 "    - match: {severity: critical}\n"
                                 "      receiver: r2\n"
                                 "      group_by: ['...']\n"
                                 "receivers: [{name: r0}, {name: r1}, {name: r2}]\n");
    alert_am_config *c = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = alert_am_config_load(path, &c, &ei);
    if (rc)
        fprintf(stderr, "%s\n", ei.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(c->root.routes[0].group_wait_ms, 1000); /* inherited */
    assert_int_equal(c->root.routes[0].ngroup_by, 1);
    assert_true(c->root.routes[1].group_by_all);
    assert_string_equal(c->root.routes[0].key, "{}/{team=\"ai\"}");
    osp_labels ls;
    osp_labels_init(&ls);
    osp_labels_addc(&ls, "alertname", "X");
    osp_labels_addc(&ls, "team", "ai");
    osp_labels_addc(&ls, "severity", "critical");
    const alert_route *out[8];
    size_t n = alert_route_match(&c->root, &ls, out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(out[0]->receiver, "r1");
    assert_string_equal(out[1]->receiver, "r2");
    osp_labels_del(&ls, "team");
    osp_labels_del(&ls, "severity");
    assert_int_equal(alert_route_match(&c->root, &ls, out, 8), 1);
    assert_string_equal(out[0]->receiver, "r0");
    osp_labels_fini(&ls);
    alert_am_config_unref(c);
}

static void
test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
        const char *msg;
    } cases[] = {
        {"route:\n  receiver: nobody\nreceivers: [{name: a}]\n", 2,
         "undefined receiver \"nobody\""},
        {"route: {receiver: a}\nreceivers:\n  - name: a\n    webhook_configs: [{urll: x}]\n", 4,
         "field urll not found"},
        {"route: {receiver: a, group_wait: 5x}\nreceivers: [{name: a}]\n", 1, "invalid"},
        {"route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n", 2, "not unique"},
        {"route: {receiver: a, matchers: ['a=b']}\nreceivers: [{name: a}]\n", 1, "root route"},
        {"route:\n  receiver: a\n  routes:\n    - matchers: ['a=~\"(\"']\nreceivers: [{name: a}]\n",
         4, "matchers"},
        {"route: {receiver: a}\nreceivers:\n  - name: a\n    email_configs: [{to: x@y}]\n", 4,
         "from"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = write_tmp(cases[i].text);
        alert_am_config *c = NULL;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int rc = alert_am_config_load(path, &c, &ei);
        char line[1024];
        osp_errinfo_format(&ei, line, sizeof(line));
        if (rc == 0 || ei.line != cases[i].line || !strstr(line, cases[i].msg))
            fprintf(stderr, "case %zu: rc %d: %s\n", i, rc, line);
        assert_int_not_equal(rc, 0);
        assert_int_equal(ei.line, cases[i].line);
        assert_non_null(strstr(line, cases[i].msg));
        assert_non_null(strstr(line, "am.yml"));
        assert_null(c);
    }
}

static void
test_fingerprint(void **state)
{
    (void)state;
    osp_labels ls;
    osp_labels_init(&ls);
    assert_true(alert_fingerprint(&ls) == 14695981039346656037ULL);
    osp_labels_addc(&ls, "alertname", "A");
    osp_labels_addc(&ls, "x", "1");
    char fp[17];
    alert_fp_str(alert_fingerprint(&ls), fp);
    assert_int_equal(strlen(fp), 16);
    osp_labels_fini(&ls);
}

static void
test_external_labels(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("alconf");
    char *path = osp_test_write(dir, "alerter.yml",
                                "listen: 127.0.0.1:0\nexternal_labels:\n  region: eu\n"
                                "  cluster: c1\n");
    osp_cli cli = {.config = path};
    alert_conf c;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(alert_conf_load(&c, &cli, &ei), 0);
    assert_int_equal(c.external_labels.n, 2);
    assert_string_equal(c.external_labels.v[0].name, "cluster"); /* sorted */
    assert_string_equal(osp_labels_get(&c.external_labels, "region"), "eu");
    alert_conf_fini(&c);
    free(path);
    path = osp_test_write(dir, "alerter.yml", "external_labels:\n  bad-name: x\n");
    cli.config = path;
    osp_errinfo_clear(&ei);
    assert_int_not_equal(alert_conf_load(&c, &cli, &ei), 0);
    alert_conf_fini(&c);
    assert_int_equal(ei.line, 2);
    assert_non_null(strstr(ei.msg, "bad-name"));
    free(path);
    osp_test_rmtree(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matchers),        cmocka_unit_test(test_routes_and_continue),
        cmocka_unit_test(test_config_errors),   cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_external_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
