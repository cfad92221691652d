/* schema_test.c - schema tables: defaults, every type, unknown keys and type
 * errors with file:line:col, bounds, sections, secrets, flags and the CLI. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "osp_test.h"

typedef struct web_conf {
    char *listen;
    char *password;
} web_conf;

typedef struct test_conf {
    char *name;
    char *token;
    int workers;
    uint64_t big;
    double ratio;
    bool enabled;
    int64_t interval_ms;
    size_t max_bytes;
    osp_strlist rules;
    osp_log_level log_level;
    web_conf web;
    const osp_yaml_node *scrape_configs;
    char *listen;
} test_conf;

static const osp_conf_field web_schema[] = {
    {.key = "listen",
     .type = OSP_CONF_STR,
     .offset = offsetof(web_conf, listen),
     .def = "127.0.0.1:9090",
     .help = "HTTP listen address"},
    {.key = "password",
     .type = OSP_CONF_SECRET,
     .offset = offsetof(web_conf, password),
     .help = "basic auth password"},
};

static const osp_conf_field schema[] = {
    {.key = "name",
     .type = OSP_CONF_STR,
     .offset = offsetof(test_conf, name),
     .def = "osprey",
     .help = "instance name"},
    {.key = "token",
     .type = OSP_CONF_SECRET,
     .offset = offsetof(test_conf, token),
     .help = "bearer token"},
    {.key = "workers",
     .type = OSP_CONF_INT,
     .offset = offsetof(test_conf, workers),
     .def = "2",
     .help = "worker threads",
     .min = 1,
     .max = 64},
    {.key = "big",
     .type = OSP_CONF_UINT64,
     .offset = offsetof(test_conf, big),
     .def = "18446744073709551615",
     .help = "a big number"},
    {.key = "ratio",
     .type = OSP_CONF_DOUBLE,
     .offset = offsetof(test_conf, ratio),
     .def = "0.5",
     .help = "ratio",
     .min = 0,
     .max = 1},
    {.key = "enabled",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(test_conf, enabled),
     .def = "true",
     .help = "on/off"},
    {.key = "scrape_interval",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(test_conf, interval_ms),
     .def = "1m",
     .help = "how often",
     .min = 1000,
     .max = 86400000},
    {.key = "max_bytes",
     .type = OSP_CONF_BYTES,
     .offset = offsetof(test_conf, max_bytes),
     .def = "64MiB",
     .help = "spool size"},
    {.key = "rules",
     .type = OSP_CONF_STRLIST,
     .offset = offsetof(test_conf, rules),
     .def = "a.yml,b.yml",
     .help = "rule globs"},
    {.key = "log_level",
     .type = OSP_CONF_LOGLEVEL,
     .offset = offsetof(test_conf, log_level),
     .def = "info",
     .help = "log level"},
    {.key = "web",
     .type = OSP_CONF_SECTION,
     .offset = offsetof(test_conf, web),
     .help = "HTTP server",
     .sub = web_schema,
     .nsub = 2},
    {.key = "scrape_configs",
     .type = OSP_CONF_NODE,
     .offset = offsetof(test_conf, scrape_configs),
     .help = "scrape jobs"},
    {.key = "listen",
     .type = OSP_CONF_STR,
     .offset = offsetof(test_conf, listen),
     .help = "listen"},
};
#define NS (sizeof(schema) / sizeof(schema[0]))

static osp_yaml_doc *
load(const char *text)
{
    osp_yaml_doc *doc = NULL;
    assert_int_equal(osp_yaml_load_buf(text, strlen(text), "collector.yml", &doc, NULL), 0);
    return doc;
}

/* apply_err: apply text, expect failure, return the formatted message. */
static void
apply_err(const char *text, const char *want)
{
    osp_yaml_doc *doc = load(text);
    test_conf c = {0};
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_conf_apply(schema, NS, osp_yaml_root(doc), &c, 0, &ei), OSP_EINVAL);
    char msg[1024];
    osp_errinfo_format(&ei, msg, sizeof(msg));
    if (strcmp(msg, want) != 0)
        fprintf(stderr, "got  %s\nwant %s\n", msg, want);
    assert_string_equal(msg, want);
    osp_conf_fini(schema, NS, &c);
    osp_yaml_free(doc);
}

static void
test_defaults(void **state)
{
    (void)state;
    test_conf c = {0};
    assert_int_equal(osp_conf_apply(schema, NS, NULL, &c, 0, NULL), 0);
    assert_string_equal(c.name, "osprey");
    assert_null(c.token);
    assert_int_equal(c.workers, 2);
    assert_true(c.big == UINT64_MAX);
    assert_true(c.ratio == 0.5);
    assert_true(c.enabled);
    assert_int_equal(c.interval_ms, 60000);
    assert_int_equal(c.max_bytes, 64u << 20);
    assert_int_equal(c.rules.n, 2);
    assert_string_equal(c.rules.v[1], "b.yml");
    assert_int_equal(c.log_level, OSP_LOG_INFO);
    assert_string_equal(c.web.listen, "127.0.0.1:9090");
    assert_null(c.scrape_configs);
    osp_conf_fini(schema, NS, &c);
    assert_null(c.name);
    assert_int_equal(c.rules.n, 0);
}

static void
test_types(void **state)
{
    (void)state;
    osp_yaml_doc *doc = load("name: \"x y\"\n"
                             "token: abc\n"
                             "workers: 8\n"
                             "big: 42\n"
                             "ratio: 0.25\n"
                             "enabled: no\n"
                             "scrape_interval: 1h30m\n"
                             "max_bytes: 1GB\n"
                             "rules: [r1.yml]\n"
                             "log_level: debug\n"
                             "web:\n  password: hunter2\n"
                             "scrape_configs:\n  - job_name: a\n"
                             "listen:\n");
    test_conf c = {0};
    osp_errinfo ei;
    assert_int_equal(osp_conf_apply(schema, NS, osp_yaml_root(doc), &c, 0, &ei), 0);
    assert_string_equal(c.name, "x y");
    assert_string_equal(c.token, "abc");
    assert_int_equal(c.workers, 8);
    assert_true(c.big == 42);
    assert_true(c.ratio == 0.25);
    assert_false(c.enabled);
    assert_int_equal(c.interval_ms, 5400000);
    assert_int_equal(c.max_bytes, 1000000000u);
    assert_int_equal(c.rules.n, 1);
    assert_int_equal(c.log_level, OSP_LOG_DEBUG);
    assert_string_equal(c.web.listen, "127.0.0.1:9090"); /* section default kept */
    assert_string_equal(c.web.password, "hunter2");
    assert_int_equal(c.scrape_configs->type, OSP_YAML_SEQ);
    assert_null(c.listen);

    /* Secrets are never dumped. */
    osp_buf b;
    osp_buf_init(&b);
    osp_conf_dump(schema, NS, &c, &b);
    assert_null(strstr(b.data, "hunter2"));
    assert_null(strstr(b.data, "abc"));
    assert_non_null(strstr(b.data, "token: \"<secret>\"\n"));
    assert_non_null(
        strstr(b.data, "web:\n  listen: \"127.0.0.1:9090\"\n  password: \"<secret>\"\n"));
    assert_non_null(strstr(b.data, "scrape_interval: 1h30m\n"));
    assert_non_null(strstr(b.data, "rules:\n  - \"r1.yml\"\n"));
    assert_non_null(strstr(b.data, "log_level: debug\n"));
    /* The dump is valid YAML that applies back to the same values (but secrets). */
    osp_yaml_doc *again = load(b.data);
    test_conf c2 = {0};
    assert_int_equal(osp_conf_apply(schema, NS, osp_yaml_root(again), &c2, 0, &ei), 0);
    assert_int_equal(c2.interval_ms, c.interval_ms);
    assert_string_equal(c2.name, c.name);
    osp_conf_fini(schema, NS, &c2);
    osp_yaml_free(again);
    osp_buf_fini(&b);
    osp_conf_fini(schema, NS, &c);
    osp_yaml_free(doc);
}

static void
test_errors(void **state)
{
    (void)state;
    apply_err("name: a\nscrape_intervall: 15s\n",
              "collector.yml:2:1: scrape_intervall: unknown key");
    apply_err("workers: 2\nscrape_interval:    15x\n",
              "collector.yml:2:21: scrape_interval: invalid duration \"15x\"");
    apply_err("workers: 0\n", "collector.yml:1:10: workers: 0 is out of range [1, 64]");
    apply_err("workers: 2.5\n", "collector.yml:1:10: workers: invalid integer \"2.5\"");
    apply_err("scrape_interval: 10ms\n",
              "collector.yml:1:18: scrape_interval: 10ms is out of range [1s, 1d]");
    apply_err("ratio: 2\n", "collector.yml:1:8: ratio: 2 is out of range [0, 1]");
    apply_err("enabled: maybe\n", "collector.yml:1:10: enabled: invalid boolean \"maybe\"");
    apply_err("max_bytes: 12 parsecs\n",
              "collector.yml:1:12: max_bytes: invalid size \"12 parsecs\"");
    apply_err("log_level: loud\n", "collector.yml:1:12: log_level: invalid log level \"loud\" "
                                   "(debug, info, warn, error)");
    apply_err("web:\n  listen: [a]\n",
              "collector.yml:2:11: web.listen: expected a string, got a sequence");
    apply_err("web:\n  nope: 1\n", "collector.yml:2:3: web.nope: unknown key");
    apply_err("name: a\nname: b\n", "collector.yml:2:1: name: duplicate key (first at line 1)");
    apply_err("rules: {a: 1}\n",
              "collector.yml:1:8: rules: expected a list of strings, got a mapping");
    apply_err("- a\n", "collector.yml:1:1: expected a mapping, got a sequence");
    /* A secret's value is never echoed. */
    apply_err("token: [hunter2]\n", "collector.yml:1:8: token: expected a secret, got a sequence");

    /* Unknown keys can be allowed. */
    osp_yaml_doc *doc = load("whatever: 1\nworkers: 3\n");
    test_conf c = {0};
    assert_int_equal(
        osp_conf_apply(schema, NS, osp_yaml_root(doc), &c, OSP_CONF_ALLOW_UNKNOWN, NULL), 0);
    assert_int_equal(c.workers, 3);
    osp_conf_fini(schema, NS, &c);
    osp_yaml_free(doc);
}

static void
test_set_and_cli(void **state)
{
    (void)state;
    char *dir = osp_test_tmpdir("conf");
    char path[512];
    snprintf(path, sizeof(path), "%s/c.yml", dir);
    FILE *f = fopen(path, "w");
    fputs("workers: 4\nrules: [file.yml]\nweb:\n  listen: 0.0.0.0:1\n", f);
    fclose(f);

    static const osp_cli_flag extra[] = {
        {.name = "rules", .key = "rules", .arg = "GLOB", .help = "rule files (repeatable)"},
        {.name = "listen", .key = "web.listen", .arg = "HOST:PORT", .help = "HTTP address"},
        {.name = "disable", .key = "enabled", .help = "boolean flag"},
    };
    char *argv[] = {"prog",           "-c",       path,    "--rules",     "x.yml",
                    "--rules=y.yml",  "--listen", ":9999", "--log-level", "warn",
                    "--check-config", NULL};
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_cli_parse(&cli, 11, argv, extra, 3, &ei), 0);
    assert_string_equal(cli.config, path);
    assert_true(cli.check_config);
    assert_false(cli.help);
    test_conf c = {0};
    osp_yaml_doc *doc = NULL;
    assert_int_equal(osp_conf_load(schema, NS, &c, &cli, 0, &doc, &ei), 0);
    assert_int_equal(c.workers, 4); /* file over default */
    assert_int_equal(c.rules.n, 2); /* flags replace the file's list */
    assert_string_equal(c.rules.v[0], "x.yml");
    assert_string_equal(c.rules.v[1], "y.yml");
    assert_string_equal(c.web.listen, ":9999"); /* flag over file */
    assert_int_equal(c.log_level, OSP_LOG_WARN);
    osp_conf_fini(schema, NS, &c);
    osp_yaml_free(doc);
    osp_cli_fini(&cli);

    /* Errors. */
    char *bad1[] = {"prog", "--nope"};
    assert_int_equal(osp_cli_parse(&cli, 2, bad1, extra, 3, &ei), OSP_EINVAL);
    assert_non_null(strstr(ei.msg, "--nope"));
    osp_cli_fini(&cli);
    char *bad2[] = {"prog", "--rules"};
    assert_int_equal(osp_cli_parse(&cli, 2, bad2, extra, 3, &ei), OSP_EINVAL);
    osp_cli_fini(&cli);
    char *bad3[] = {"prog", "--log-level", "loud"};
    assert_int_equal(osp_cli_parse(&cli, 3, bad3, extra, 3, &ei), 0);
    assert_int_equal(osp_conf_load(schema, NS, &c, &cli, 0, NULL, &ei), OSP_EINVAL);
    assert_string_equal(ei.key, "log_level");
    osp_conf_fini(schema, NS, &c);
    osp_cli_fini(&cli);

    /* osp_conf_set directly, dotted keys. */
    assert_int_equal(osp_conf_apply(schema, NS, NULL, &c, 0, NULL), 0);
    assert_int_equal(osp_conf_set(schema, NS, &c, "web.password", "pw", &ei), 0);
    assert_string_equal(c.web.password, "pw");
    assert_int_equal(osp_conf_set(schema, NS, &c, "web.nope", "1", &ei), OSP_ENOTFOUND);
    assert_int_equal(osp_conf_set(schema, NS, &c, "workers", "100", &ei), OSP_EINVAL);
    char msg[1024];
    osp_errinfo_format(&ei, msg, sizeof(msg));
    assert_string_equal(msg, "workers: 100 is out of range [1, 64]");
    osp_conf_fini(schema, NS, &c);

    /* Help and usage mention keys, types and defaults. */
    char *hp = NULL;
    size_t hl = 0;
    FILE *mf = open_memstream(&hp, &hl);
    osp_cli_usage(mf, "osprey-test", "A test.", extra, 3, schema, NS);
    fclose(mf);
    assert_non_null(strstr(hp, "scrape_interval (duration, default \"1m\")"));
    assert_non_null(strstr(hp, "web.listen (string"));
    assert_non_null(strstr(hp, "--rules GLOB"));
    assert_non_null(strstr(hp, "-c, --config FILE"));
    free(hp);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_required(void **state)
{
    (void)state;
    static const osp_conf_field req[] = {
        {.key = "pg",
         .type = OSP_CONF_SECRET,
         .offset = 0,
         .help = "conninfo",
         .flags = OSP_CONF_REQUIRED},
    };
    char *pg = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_conf_load(req, 1, &pg, NULL, 0, NULL, &ei), OSP_EINVAL);
    assert_string_equal(ei.key, "pg");
    assert_non_null(strstr(ei.msg, "missing required key"));
    osp_conf_fini(req, 1, &pg);
}

static void
test_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"0", 0, 0},
        {"1024", 0, 1024},
        {"64MiB", 0, 64ull << 20},
        {"1GB", 0, 1000000000},
        {"1 GiB", 0, 1ull << 30},
        {"512k", 0, 512 << 10},
        {"10B", 0, 10},
        {"", OSP_EPARSE, 0},
        {"-1", OSP_EPARSE, 0},
        {"1.5GB", OSP_EPARSE, 0},
        {"99999999999TiB", OSP_EPARSE, 0},
        {"1XB", OSP_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        assert_int_equal(osp_parse_bytes(osp_str_c(cases[i].in), &v), cases[i].rc);
        if (cases[i].rc == 0)
            assert_true(v == cases[i].want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_types),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_set_and_cli),
        cmocka_unit_test(test_required), cmocka_unit_test(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
