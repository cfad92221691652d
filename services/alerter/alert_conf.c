/* alert_conf.c - schema table and flags of osprey-alerter. */
#include "alert_conf.h"

#include <stdio.h>
#include <string.h>

#include "osp_mem.h"

#define F(k, t, m, d, h)                                                                           \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(alert_conf, m), .def = (d), .help = (h)        \
    }

const osp_conf_field alert_conf_schema[] = {
    F("listen", OSP_CONF_STR, listen, "127.0.0.1:9093", "HTTP listen address HOST:PORT"),
    F("alertmanager_config", OSP_CONF_STR, alertmanager_config, NULL,
      "alertmanager.yml with route, receivers and inhibit_rules; unset = API-only, no receivers "
      "(relative: to this file's directory)"),
    F("redis", OSP_CONF_SECRET, redis, NULL,
      "Redis URL for silences and the notification log (shared by several alerters)"),
    F("external_labels", OSP_CONF_NODE, external_labels_node, NULL,
      "labels added to every alert of the rules (a mapping, as Prometheus' "
      "global.external_labels)"),
    F("external_url", OSP_CONF_STR, external_url, NULL,
      "URL under which the alerter is reachable (links in notifications); default from listen"),
    F("log_level", OSP_CONF_LOGLEVEL, log_level, "info", "debug, info, warn or error"),
    F("gc_interval", OSP_CONF_DURATION, gc_interval_ms, "30s",
      "how often resolved alerts are dropped"),
    F("resolved_retention", OSP_CONF_DURATION, resolved_retention_ms, "15m",
      "how long resolved alerts stay visible before they are dropped"),
    F("silence_sync_interval", OSP_CONF_DURATION, silence_sync_ms, "1s",
      "how often silences are reloaded from Redis (changes of other alerters)"),
    F("rule_files", OSP_CONF_STRLIST, rule_files, NULL,
      "Prometheus rule files (globs) to evaluate; needs store_query (relative: to this file's "
      "directory, as in Prometheus)"),
    F("evaluation_interval", OSP_CONF_DURATION, evaluation_interval_ms, "1m",
      "interval of rule groups that set none"),
    F("resend_delay", OSP_CONF_DURATION, resend_delay_ms, "1m",
      "minimum time before a firing alert of a rule is sent to the dispatcher again"),
    F("query_timeout", OSP_CONF_DURATION, query_timeout_ms, "10s",
      "timeout of one rule query to the store"),
    F("store_query", OSP_CONF_STR, store_query, NULL, "the store's NNG query URL (REQ/REP)"),
    F("store_ingest", OSP_CONF_STR, store_ingest, NULL,
      "the store's ingest URL(s) for recording results and ALERTS series"),
    F("store_ack", OSP_CONF_STR, store_ack, NULL, "the store's ack URL(s)"),
    F("spool_dir", OSP_CONF_STR, spool_dir, NULL, "spool directory of unacked batches"),
    F("spool_max_bytes", OSP_CONF_BYTES, spool_max_bytes, "0", "spool bound; 0 = bus default"),
    F("producer_id", OSP_CONF_STR, producer_id, NULL, "producer id on the bus; default from host"),
    F("flush_timeout", OSP_CONF_DURATION, flush_timeout_ms, "5s",
      "how long shutdown waits for the store to ack"),
};
const size_t alert_conf_nschema = sizeof(alert_conf_schema) / sizeof(alert_conf_schema[0]);

const osp_cli_flag alert_conf_flags[] = {
    {"alertmanager-config", 0, "alertmanager_config", "FILE", "alertmanager.yml to route with"},
    {"redis", 0, "redis", "URL", "Redis URL for shared state"},
    {"external-url", 0, "external_url", "URL", "external URL for links"},
    {"rules", 0, "rule_files", "GLOB", "rule files to evaluate (repeatable)"},
    {"store-query", 0, "store_query", "URL", "the store's query URL"},
    {"store-ingest", 0, "store_ingest", "URL", "store ingest URL(s)"},
    {"store-ack", 0, "store_ack", "URL", "store ack URL(s)"},
    {"spool-dir", 0, "spool_dir", "DIR", "spool directory"},
    {"spool-max-bytes", 0, "spool_max_bytes", "N", "spool bound"},
};
const size_t alert_conf_nflags = sizeof(alert_conf_flags) / sizeof(alert_conf_flags[0]);

static bool
cli_sets(const osp_cli *cli, const char *key)
{
    for (size_t i = 0; i < cli->nset; i++)
        if (strcmp(cli->set[i].key, key) == 0)
            return true;
    return false;
}

/* rebase: a relative path from the config file is relative to the file's
 * directory (as Prometheus does for rule_files); flags stay relative to the
 * working directory. */
static void
rebase(char **path, const char *cfg)
{
    const char *slash = strrchr(cfg, '/');
    if (*path == NULL || !**path || (*path)[0] == '/' || slash == NULL)
        return;
    size_t n = (size_t)(slash - cfg) + 1 + strlen(*path) + 1;
    char *p = osp_malloc(n);
    snprintf(p, n, "%.*s/%s", (int)(slash - cfg), cfg, *path);
    osp_free(*path);
    *path = p;
}

/* external_labels: a mapping of valid label names to non-empty values. */
static int
load_external_labels(alert_conf *c, osp_errinfo *ei)
{
    const osp_yaml_node *m = c->external_labels_node;
    c->external_labels_node = NULL; /* the document goes away after the load */
    if (m == NULL || m->type == OSP_YAML_NULL)
        return 0;
    if (m->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, m, "external_labels", OSP_EINVAL, "must be a mapping");
    for (size_t i = 0; i < m->n; i++) {
        const osp_yaml_pair *p = osp_yaml_map_at(m, i);
        if (!osp_label_name_valid(p->key->str, p->key->len) || p->key->str[0] == '_')
            return osp_yaml_err(ei, p->key, "external_labels", OSP_EINVAL,
                                "invalid label name \"%s\"", p->key->str);
        if (p->value->type != OSP_YAML_SCALAR || p->value->len == 0)
            return osp_yaml_err(ei, p->value, "external_labels", OSP_EINVAL,
                                "the value of %s must be a non-empty string", p->key->str);
        osp_labels_set(&c->external_labels, p->key->str, p->value->str);
    }
    osp_labels_sort(&c->external_labels);
    return 0;
}

int
alert_conf_load(alert_conf *c, const osp_cli *cli, osp_errinfo *ei)
{
    memset(c, 0, sizeof(*c));
    osp_labels_init(&c->external_labels);
    osp_yaml_doc *doc = NULL;
    int rc = osp_conf_load(alert_conf_schema, alert_conf_nschema, c, cli, 0, &doc, ei);
    if (rc == 0)
        rc = load_external_labels(c, ei);
    c->external_labels_node = NULL;
    osp_yaml_free(doc);
    if (rc)
        return rc;
    if (cli && cli->config) {
        if (!cli_sets(cli, "rule_files"))
            for (size_t i = 0; i < c->rule_files.n; i++)
                rebase(&c->rule_files.v[i], cli->config);
        if (!cli_sets(cli, "alertmanager_config"))
            rebase(&c->alertmanager_config, cli->config);
    }
    if (c->external_url == NULL || !*c->external_url) {
        osp_free(c->external_url);
        char buf[300];
        const char *l = c->listen;
        snprintf(buf, sizeof(buf), "http://%s%s", l[0] == ':' ? "localhost" : "", l);
        c->external_url = osp_strdup(buf);
    }
    return 0;
}

void
alert_conf_fini(alert_conf *c)
{
    osp_labels_fini(&c->external_labels);
    osp_conf_fini(alert_conf_schema, alert_conf_nschema, c);
}
