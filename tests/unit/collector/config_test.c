/* config_test.c - prometheus.yml parsing: a good file, unknown keys with
 * file:line:col, ignored sections, file_sd in JSON and YAML. */
#include "osp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_config.h"
#include "coll_sd.h"
#include "coll_target.h"

static char *tmp;

static char *
write_file(const char *name, const char *text)
{
    char *p = malloc(strlen(tmp) + strlen(name) + 2);
    sprintf(p, "%s/%s", tmp, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int
setup(void **state)
{
    (void)state;
    tmp = osp_test_tmpdir("collcfg");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    osp_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static const char good[] = "global:\n"
                           "  scrape_interval: 15s\n"
                           "  scrape_timeout: 5s\n"
                           "  external_labels: {cluster: eu1}\n"
                           "  evaluation_interval: 30s\n"
                           "rule_files: [a.yml]\n"
                           "alerting:\n"
                           "  alertmanagers: []\n"
                           "collector:\n"
                           "  listen: 127.0.0.1:19201\n"
                           "  spool_max_bytes: 1MiB\n"
                           "scrape_configs:\n"
                           "  - job_name: node\n"
                           "    scrape_interval: 30s\n"
                           "    params: {module: [http_2xx]}\n"
                           "    basic_auth: {username: u, password: secret}\n"
                           "    honor_labels: true\n"
                           "    sample_limit: 1000\n"
                           "    body_size_limit: 10MB\n"
                           "    tls_config: {insecure_skip_verify: true}\n"
                           "    kubernetes_sd_configs: [{role: pod}]\n"
                           "    static_configs:\n"
                           "      - targets: ['a:9100', 'b:9100']\n"
                           "        labels: {env: prod}\n"
                           "    relabel_configs:\n"
                           "      - source_labels: [__address__]\n"
                           "        regex: 'b:.*'\n"
                           "        action: drop\n"
                           "    metric_relabel_configs:\n"
                           "      - {action: labeldrop, regex: tmp_.*}\n"
                           "  - job_name: self\n"
                           "    metrics_path: /m\n"
                           "    scheme: https\n"
                           "    bearer_token: tok\n"
                           "    fallback_scrape_protocol: OpenMetricsText1.0.0\n";

static void
test_good(void **state)
{
    (void)state;
    char *p = write_file("good.yml", good);
    coll_config *c = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = coll_config_load(p, NULL, &c, &ei);
    if (rc)
        fail_msg("load: %s:%d:%d %s %s", ei.file, ei.line, ei.col, ei.key, ei.msg);
    assert_int_equal(c->scrape_interval_ms, 15000);
    assert_string_equal(osp_labels_get(&c->external_labels, "cluster"), "eu1");
    assert_string_equal(c->set.listen, "127.0.0.1:19201");
    assert_int_equal(c->set.spool_max_bytes, 1 << 20);
    assert_string_equal(c->set.store_ingest, "tcp://127.0.0.1:7201");
    assert_int_equal(c->njobs, 2);
    const coll_job *j = &c->jobs[0];
    assert_string_equal(j->name, "node");
    assert_int_equal(j->interval_ms, 30000);
    assert_int_equal(j->timeout_ms, 5000);
    assert_true(j->honor_labels);
    assert_true(j->honor_timestamps);
    assert_int_equal(j->sample_limit, 1000);
    assert_int_equal(j->body_size_limit, 10000000);
    assert_string_equal(j->basic_user, "u");
    assert_int_equal(j->nstatic, 1);
    assert_int_equal(j->nrelabel, 1);
    assert_int_equal(j->nmrelabel, 1);
    const coll_job *s = coll_config_find_job(c, "self");
    assert_non_null(s);
    assert_int_equal(s->interval_ms, 15000);
    assert_string_equal(s->scheme, "https");
    assert_string_equal(s->auth_type, "Bearer");
    assert_int_equal(s->fallback_dialect, OSP_EXPFMT_OPENMETRICS);

    coll_tset set = {0};
    coll_tset_add_groups(&set, j, j->static_groups, j->nstatic);
    assert_int_equal(set.n, 1); /* b dropped by relabeling */
    assert_string_equal(set.v[0].url, "http://a:9100/metrics?module=http_2xx");
    assert_string_equal(osp_labels_get(&set.v[0].labels, "instance"), "a:9100");
    assert_string_equal(osp_labels_get(&set.v[0].labels, "env"), "prod");
    assert_null(osp_labels_get(&set.v[0].labels, "cluster")); /* external labels are not added */
    coll_tset_fini(&set);
    coll_config_unref(c);
    free(p);
}

static void
test_defaults(void **state)
{
    (void)state;
    char *p = write_file("min.yml", "scrape_configs:\n  - job_name: a\n"
                                    "    static_configs:\n      - targets: ['h:1']\n");
    coll_config *c = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(coll_config_load(p, NULL, &c, &ei), 0);
    /* 15 s as Grafana assumes (Prometheus' own default is 1 m) */
    assert_int_equal(c->scrape_interval_ms, 15000);
    assert_int_equal(c->scrape_timeout_ms, 10000);
    assert_int_equal(c->jobs[0].interval_ms, 15000);
    assert_string_equal(c->set.listen, "127.0.0.1:9201");
    coll_config_unref(c);
    free(p);
}

static void
expect_error(const char *text, int line, int col, const char *key, const char *msg_part)
{
    char *p = write_file("bad.yml", text);
    coll_config *c = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_not_equal(coll_config_load(p, NULL, &c, &ei), 0);
    char out[1024];
    osp_errinfo_format(&ei, out, sizeof(out));
    if (ei.line != line || ei.col != col || strcmp(ei.key, key) != 0 || !strstr(ei.msg, msg_part))
        fail_msg("unexpected error: %s (want %d:%d %s %s)", out, line, col, key, msg_part);
    assert_non_null(strstr(out, "bad.yml:"));
    assert_null(strstr(out, "hunter2")); /* secrets never appear */
    free(p);
}

static void
test_unknown_keys(void **state)
{
    (void)state;
    expect_error("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n"
                 "    scrape_intervall: 10s\n",
                 5, 5, "scrape_configs[0]", "unknown key \"scrape_intervall\"");
    expect_error("globall: {}\n", 1, 1, "", "unknown key \"globall\"");
    expect_error("global:\n  scrape_intervl: 1s\n", 2, 3, "global", "unknown key");
    expect_error(
        "scrape_configs:\n  - job_name: x\n    basic_auth: {username: u, passwd: hunter2}\n", 3, 31,
        "scrape_configs[0].basic_auth", "unknown key \"passwd\"");
    expect_error("scrape_configs:\n  - job_name: x\n    scrape_interval: 5s\n"
                 "    scrape_timeout: 10s\n",
                 2, 5, "scrape_configs[0]", "scrape_timeout");
    expect_error("scrape_configs:\n  - job_name: x\n  - job_name: x\n", 3, 5, "job_name",
                 "multiple");
}

static void
test_file_sd(void **state)
{
    (void)state;
    char *j = write_file("t1.json",
                         "[{\"targets\": [\"h1:1\", \"h2:2\"], \"labels\": {\"team\": \"a\"}}]\n");
    char *y = write_file("t2.yml", "- targets: ['h3:3']\n  labels:\n    team: b\n");
    char cfgtext[1024];
    snprintf(cfgtext, sizeof(cfgtext),
             "scrape_configs:\n  - job_name: sd\n    file_sd_configs:\n"
             "      - files: ['%s/*.json', '%s/*.yml']\n        refresh_interval: 1m\n",
             tmp, tmp);
    char *p = write_file("sd.yaml", cfgtext);
    coll_config *c = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(coll_config_load(p, NULL, &c, &ei), 0);
    coll_sd *sd = coll_sd_new();
    assert_true(coll_sd_refresh(sd, c, 1000, false));
    coll_tset set = {0};
    coll_sd_add_targets(sd, &c->jobs[0], &set);
    assert_int_equal(set.n, 3);
    coll_tset_fini(&set);
    assert_false(coll_sd_refresh(sd, c, 2000, false)); /* unchanged */
    /* A broken file keeps its previous targets. */
    free(write_file("t1.json", "[{\"targets\": [\"h1:1\"\n"));
    coll_sd_refresh(sd, c, 3000, false);
    coll_sd_add_targets(sd, &c->jobs[0], &set);
    assert_int_equal(set.n, 3);
    coll_tset_fini(&set);
    /* A fixed file is taken. */
    free(write_file("t1.json", "[{\"targets\": [\"h9:9\"]}]\n"));
    assert_true(coll_sd_refresh(sd, c, 4000, true));
    coll_sd_add_targets(sd, &c->jobs[0], &set);
    assert_int_equal(set.n, 2);
    coll_tset_fini(&set);
    coll_sd_free(sd);
    coll_config_unref(c);
    free(j);
    free(y);
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_file_sd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
