/* coll_config.c - prometheus.yml subset -> coll_config. Walks the document tree
 * itself (lists of mappings), so every error names file:line:col and key; the
 * daemon's own `collector:` section goes through a schema table. */
#include "coll_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "osp_mem.h"

const osp_conf_field coll_settings_schema[] = {
    {.key = "listen",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, listen),
     .def = "127.0.0.1:9201",
     .help = "HTTP listen address (/metrics, /health, /ready, /-/reload)"},
    {.key = "store_ingest",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, store_ingest),
     .def = "tcp://127.0.0.1:7201",
     .help = "store ingest URL(s), comma-separated (NNG PUB dials)"},
    {.key = "store_ack",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, store_ack),
     .def = "tcp://127.0.0.1:7202",
     .help = "store ack URL(s), comma-separated (NNG SUB dials)"},
    {.key = "store_acks_required",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, store_acks_required),
     .help = "store ids (comma-separated) that must all ack a batch (replica stores); "
             "empty: any store's ack settles it"},
    {.key = "spool_dir",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, spool_dir),
     .help = "directory for unacked batches (empty: memory only)"},
    {.key = "spool_max_bytes",
     .type = OSP_CONF_BYTES,
     .offset = offsetof(coll_settings, spool_max_bytes),
     .def = "256MiB",
     .help = "bound of the spool; the oldest batches are dropped beyond it"},
    {.key = "redis",
     .type = OSP_CONF_SECRET,
     .offset = offsetof(coll_settings, redis),
     .help = "Redis URL for sharding targets between collectors (not implemented yet)"},
    {.key = "collector_id",
     .type = OSP_CONF_STR,
     .offset = offsetof(coll_settings, collector_id),
     .help = "producer id on the bus (default: <hostname>-<http port>)"},
    {.key = "log_level",
     .type = OSP_CONF_LOGLEVEL,
     .offset = offsetof(coll_settings, log_level),
     .def = "info",
     .help = "debug, info, warn or error"},
    {.key = "flush_timeout",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(coll_settings, flush_timeout),
     .def = "10s",
     .help = "how long shutdown waits for the store to ack spooled batches"},
    {.key = "sd_check_interval",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(coll_settings, sd_check_interval),
     .def = "5s",
     .min = 100,
     .max = 3600000,
     .help = "how often file_sd files are checked for changes"},
    {.key = "scrape_timestamp_tolerance",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(coll_settings, scrape_timestamp_tolerance),
     .def = "10ms",
     .min = 0,
     .max = 1000,
     .help = "a scrape that starts this close to its slot is stamped with the slot's time "
             "(regular timestamps compress to ~1 bit; Prometheus does the same with 2ms); 0: "
             "always the start time"},
};
const size_t coll_settings_schema_len =
    sizeof(coll_settings_schema) / sizeof(coll_settings_schema[0]);

/* Prometheus keys we accept and ignore, warning once per load. */
static const char *const ignored_top[] = {
    "rule_files",          "alerting", "remote_write", "remote_read", "storage", "tracing",
    "scrape_config_files", "otlp",     "runtime",      NULL};
static const char *const ignored_global[] = {"evaluation_interval",
                                             "rule_query_offset",
                                             "query_log_file",
                                             "scrape_failure_log_file",
                                             "scrape_protocols",
                                             "label_name_length_limit",
                                             "label_value_length_limit",
                                             "target_limit",
                                             "keep_dropped_targets",
                                             "metric_name_validation_scheme",
                                             "metric_name_escaping_scheme",
                                             "always_scrape_classic_histograms",
                                             "convert_classic_histograms_to_nhcb",
                                             "native_histogram_bucket_limit",
                                             "native_histogram_min_bucket_factor",
                                             NULL};
static const char *const ignored_job[] = {"tls_config",
                                          "proxy_url",
                                          "no_proxy",
                                          "proxy_from_environment",
                                          "proxy_connect_header",
                                          "follow_redirects",
                                          "enable_http2",
                                          "oauth2",
                                          "scrape_protocols",
                                          "track_timestamps_staleness",
                                          "scrape_classic_histograms",
                                          "always_scrape_classic_histograms",
                                          "native_histogram_bucket_limit",
                                          "native_histogram_min_bucket_factor",
                                          "target_limit",
                                          "label_name_length_limit",
                                          "label_value_length_limit",
                                          "keep_dropped_targets",
                                          "enable_compression",
                                          "http_headers",
                                          "metric_name_validation_scheme",
                                          "metric_name_escaping_scheme",
                                          "scrape_failure_log_file",
                                          "convert_classic_histograms_to_nhcb",
                                          "enable_native_histograms",
                                          "honor_metadata",
                                          NULL};

static bool
in_list(const char *const *list, const char *k)
{
    for (; *list; list++)
        if (strcmp(*list, k) == 0)
            return true;
    return false;
}

static bool
is_sd_key(const char *k)
{
    size_t n = strlen(k);
    return n > 11 && strcmp(k + n - 11, "_sd_configs") == 0;
}

typedef struct pctx {
    osp_errinfo *ei;
    char warned[64][48];
    int nwarned;
} pctx;

static void
ignore(pctx *c, const char *key, const osp_yaml_node *at)
{
    for (int i = 0; i < c->nwarned; i++)
        if (strcmp(c->warned[i], key) == 0)
            return;
    if (c->nwarned < 64)
        snprintf(c->warned[c->nwarned++], sizeof(c->warned[0]), "%s", key);
    char msg[512];
    snprintf(msg, sizeof(msg), "ignoring unsupported section %s at %s:%d", key,
             at->file ? at->file : "", at->line);
    osp_log(OSP_LOG_WARN, "config", msg, "key", key, NULL);
}

static int
unknown(pctx *c, const char *where, const osp_yaml_pair *p)
{
    return osp_yaml_err(c->ei, p->key, where, OSP_EINVAL, "unknown key \"%s\"", p->key->str);
}

static int
get_str(const osp_yaml_node *v, const char *key, char **out, osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL) {
        osp_free(*out);
        *out = NULL;
        return 0;
    }
    if (v->type != OSP_YAML_SCALAR)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "expected a string, got a %s",
                            osp_yaml_type_name(v->type));
    osp_free(*out);
    *out = osp_strndup(v->str, v->len);
    return 0;
}

static int
get_labels(const osp_yaml_node *v, const char *key, osp_labels *out, osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL)
        return 0;
    if (v->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "expected a mapping of label names to values");
    for (size_t i = 0; i < v->n; i++) {
        const osp_yaml_pair *p = &v->pairs[i];
        if (!osp_label_name_valid(p->key->str, p->key->len))
            return osp_yaml_err(ei, p->key, key, OSP_EINVAL, "invalid label name \"%s\"",
                                p->key->str);
        if (p->value->type != OSP_YAML_SCALAR && p->value->type != OSP_YAML_NULL)
            return osp_yaml_err(ei, p->value, key, OSP_EINVAL, "label value must be a string");
        osp_labels_set(out, p->key->str, p->value->str);
    }
    return 0;
}

void
coll_tgroup_fini(coll_tgroup *g)
{
    for (size_t i = 0; i < g->ntargets; i++)
        osp_free(g->targets[i]);
    osp_free(g->targets);
    osp_labels_fini(&g->labels);
    osp_free(g->source);
    memset(g, 0, sizeof(*g));
}

int
coll_tgroups_parse(const osp_yaml_node *seq, const char *source, coll_tgroup **out, size_t *nout,
                   osp_errinfo *ei)
{
    if (seq->type == OSP_YAML_NULL) {
        *out = NULL;
        *nout = 0;
        return 0;
    }
    if (seq->type != OSP_YAML_SEQ)
        return osp_yaml_err(ei, seq, NULL, OSP_EINVAL, "expected a list of target groups");
    coll_tgroup *gs = osp_calloc(seq->n ? seq->n : 1, sizeof(*gs));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < seq->n; i++) {
        const osp_yaml_node *m = seq->items[i];
        coll_tgroup *g = &gs[n++];
        osp_labels_init(&g->labels);
        char src[300];
        snprintf(src, sizeof(src), "%s:%zu", source, i);
        g->source = osp_strdup(src);
        if (m->type != OSP_YAML_MAP) {
            rc = osp_yaml_err(ei, m, NULL, OSP_EINVAL, "target group must be a mapping");
            goto fail;
        }
        for (size_t j = 0; j < m->n; j++) {
            const osp_yaml_pair *p = &m->pairs[j];
            const osp_yaml_node *v = p->value;
            if (strcmp(p->key->str, "targets") == 0) {
                if (v->type == OSP_YAML_NULL)
                    continue;
                if (v->type != OSP_YAML_SEQ) {
                    rc = osp_yaml_err(ei, v, "targets", OSP_EINVAL, "expected a list of host:port");
                    goto fail;
                }
                g->targets = osp_calloc(v->n ? v->n : 1, sizeof(char *));
                for (size_t k = 0; k < v->n; k++) {
                    if (v->items[k]->type != OSP_YAML_SCALAR) {
                        rc = osp_yaml_err(ei, v->items[k], "targets", OSP_EINVAL,
                                          "target must be a string");
                        goto fail;
                    }
                    g->targets[g->ntargets++] = osp_strdup(v->items[k]->str);
                }
            } else if (strcmp(p->key->str, "labels") == 0) {
                if ((rc = get_labels(v, "labels", &g->labels, ei)))
                    goto fail;
            } else {
                rc = osp_yaml_err(ei, p->key, NULL, OSP_EINVAL, "unknown key \"%s\"", p->key->str);
                goto fail;
            }
        }
    }
    *out = gs;
    *nout = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        coll_tgroup_fini(&gs[i]);
    osp_free(gs);
    return rc;
}

static int
parse_relabels(const osp_yaml_node *v, const char *key, coll_relabel **out, size_t *n,
               osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL)
        return 0;
    if (v->type != OSP_YAML_SEQ)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "expected a list of relabel configs");
    *out = osp_calloc(v->n ? v->n : 1, sizeof(coll_relabel));
    for (size_t i = 0; i < v->n; i++) {
        (*n)++;
        int rc = coll_relabel_parse(v->items[i], &(*out)[i], ei);
        if (rc) {
            if (ei && !ei->key[0])
                snprintf(ei->key, sizeof(ei->key), "%s[%zu]", key, i);
            return rc;
        }
    }
    return 0;
}

static int
parse_auth(const osp_yaml_node *v, const char *key, coll_job *j, osp_errinfo *ei)
{
    if (v->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, v, key, OSP_EINVAL, "expected a mapping");
    bool basic = strcmp(key, "basic_auth") == 0;
    for (size_t i = 0; i < v->n; i++) {
        const char *k = v->pairs[i].key->str;
        const osp_yaml_node *x = v->pairs[i].value;
        char **dst = NULL;
        if (basic && strcmp(k, "username") == 0)
            dst = &j->basic_user;
        else if (basic && strcmp(k, "password") == 0)
            dst = &j->basic_pass;
        else if (basic && strcmp(k, "password_file") == 0)
            dst = &j->basic_pass_file;
        else if (!basic && strcmp(k, "type") == 0)
            dst = &j->auth_type;
        else if (!basic && strcmp(k, "credentials") == 0)
            dst = &j->auth_credentials;
        else if (!basic && strcmp(k, "credentials_file") == 0)
            dst = &j->auth_credentials_file;
        else
            return osp_yaml_err(ei, v->pairs[i].key, key, OSP_EINVAL, "unknown key \"%s\"", k);
        /* Never echo secret values: get_str only quotes the node type. */
        int rc = get_str(x, k, dst, ei);
        if (rc)
            return rc;
    }
    return 0;
}

static int
parse_file_sd(const osp_yaml_node *v, coll_job *j, osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL)
        return 0;
    if (v->type != OSP_YAML_SEQ)
        return osp_yaml_err(ei, v, "file_sd_configs", OSP_EINVAL, "expected a list");
    for (size_t i = 0; i < v->n; i++) {
        const osp_yaml_node *m = v->items[i];
        if (m->type != OSP_YAML_MAP)
            return osp_yaml_err(ei, m, "file_sd_configs", OSP_EINVAL, "expected a mapping");
        for (size_t k = 0; k < m->n; k++) {
            const char *key = m->pairs[k].key->str;
            const osp_yaml_node *x = m->pairs[k].value;
            if (strcmp(key, "files") == 0) {
                if (x->type != OSP_YAML_SEQ)
                    return osp_yaml_err(ei, x, "files", OSP_EINVAL, "expected a list of globs");
                j->sd_files =
                    osp_reallocarray(j->sd_files, j->nsd_files + x->n + 1, sizeof(char *));
                for (size_t f = 0; f < x->n; f++) {
                    if (x->items[f]->type != OSP_YAML_SCALAR)
                        return osp_yaml_err(ei, x->items[f], "files", OSP_EINVAL,
                                            "expected a path");
                    j->sd_files[j->nsd_files++] = osp_strdup(x->items[f]->str);
                }
            } else if (strcmp(key, "refresh_interval") == 0) {
                int rc = osp_yaml_duration(x, &j->sd_refresh_ms, ei);
                if (rc)
                    return rc;
            } else {
                return osp_yaml_err(ei, m->pairs[k].key, "file_sd_configs", OSP_EINVAL,
                                    "unknown key \"%s\"", key);
            }
        }
    }
    return 0;
}

static int
parse_params(const osp_yaml_node *v, coll_job *j, osp_errinfo *ei)
{
    if (v->type == OSP_YAML_NULL)
        return 0;
    if (v->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, v, "params", OSP_EINVAL, "expected a mapping of name: [values]");
    for (size_t i = 0; i < v->n; i++) {
        const char *name = v->pairs[i].key->str;
        const osp_yaml_node *x = v->pairs[i].value;
        if (x->type == OSP_YAML_SCALAR) {
            osp_labels_addc(&j->params, name, x->str);
            continue;
        }
        if (x->type != OSP_YAML_SEQ)
            return osp_yaml_err(ei, x, "params", OSP_EINVAL, "expected a list of values");
        for (size_t k = 0; k < x->n; k++) {
            if (x->items[k]->type != OSP_YAML_SCALAR)
                return osp_yaml_err(ei, x->items[k], "params", OSP_EINVAL, "expected a string");
            osp_labels_addc(&j->params, name, x->items[k]->str);
        }
    }
    return 0;
}

static int
parse_u64(const osp_yaml_node *v, uint64_t *out, osp_errinfo *ei)
{
    int64_t x = 0;
    int rc = osp_yaml_int64(v, &x, ei);
    if (rc == 0 && x < 0)
        return osp_yaml_err(ei, v, NULL, OSP_EINVAL, "must not be negative");
    if (rc == 0)
        *out = (uint64_t)x;
    return rc;
}

static int
parse_job_key(pctx *c, const osp_yaml_pair *p, coll_job *j, bool *timeout_set)
{
    osp_errinfo *ei = c->ei;
    const char *k = p->key->str;
    const osp_yaml_node *v = p->value;
    if (strcmp(k, "job_name") == 0)
        return get_str(v, k, &j->name, ei);
    if (strcmp(k, "scrape_interval") == 0)
        return osp_yaml_duration(v, &j->interval_ms, ei);
    if (strcmp(k, "scrape_timeout") == 0) {
        *timeout_set = true;
        return osp_yaml_duration(v, &j->timeout_ms, ei);
    }
    if (strcmp(k, "metrics_path") == 0)
        return get_str(v, k, &j->metrics_path, ei);
    if (strcmp(k, "scheme") == 0) {
        int rc = get_str(v, k, &j->scheme, ei);
        if (rc == 0 && (!j->scheme || (strcmp(j->scheme, "http") && strcmp(j->scheme, "https"))))
            return osp_yaml_err(ei, v, k, OSP_EINVAL, "scheme must be http or https");
        return rc;
    }
    if (strcmp(k, "params") == 0)
        return parse_params(v, j, ei);
    if (strcmp(k, "basic_auth") == 0 || strcmp(k, "authorization") == 0)
        return parse_auth(v, k, j, ei);
    if (strcmp(k, "bearer_token") == 0)
        return get_str(v, k, &j->auth_credentials, ei);
    if (strcmp(k, "bearer_token_file") == 0)
        return get_str(v, k, &j->auth_credentials_file, ei);
    if (strcmp(k, "honor_labels") == 0)
        return osp_yaml_bool(v, &j->honor_labels, ei);
    if (strcmp(k, "honor_timestamps") == 0)
        return osp_yaml_bool(v, &j->honor_timestamps, ei);
    if (strcmp(k, "sample_limit") == 0)
        return parse_u64(v, &j->sample_limit, ei);
    if (strcmp(k, "label_limit") == 0)
        return parse_u64(v, &j->label_limit, ei);
    if (strcmp(k, "body_size_limit") == 0)
        return osp_yaml_bytes(v, &j->body_size_limit, ei);
    if (strcmp(k, "fallback_scrape_protocol") == 0) {
        if (v->type != OSP_YAML_SCALAR)
            return osp_yaml_err(ei, v, k, OSP_EINVAL, "expected a protocol name");
        if (strcmp(v->str, "PrometheusText0.0.4") == 0 ||
            strcmp(v->str, "PrometheusText1.0.0") == 0)
            j->fallback_dialect = OSP_EXPFMT_TEXT;
        else if (strcmp(v->str, "OpenMetricsText1.0.0") == 0 ||
                 strcmp(v->str, "OpenMetricsText0.0.1") == 0)
            j->fallback_dialect = OSP_EXPFMT_OPENMETRICS;
        else
            return osp_yaml_err(ei, v, k, OSP_EINVAL, "unsupported scrape protocol \"%s\"", v->str);
        return 0;
    }
    if (strcmp(k, "static_configs") == 0)
        return coll_tgroups_parse(v, "static_configs", &j->static_groups, &j->nstatic, ei);
    if (strcmp(k, "file_sd_configs") == 0)
        return parse_file_sd(v, j, ei);
    if (strcmp(k, "relabel_configs") == 0)
        return parse_relabels(v, k, &j->relabel, &j->nrelabel, ei);
    if (strcmp(k, "metric_relabel_configs") == 0)
        return parse_relabels(v, k, &j->mrelabel, &j->nmrelabel, ei);
    if (in_list(ignored_job, k) || is_sd_key(k)) {
        ignore(c, k, p->key);
        return 0;
    }
    return osp_yaml_err(ei, p->key, NULL, OSP_EINVAL, "unknown key \"%s\"", k);
}

static void
job_fini(coll_job *j)
{
    osp_free(j->name);
    osp_free(j->metrics_path);
    osp_free(j->scheme);
    osp_labels_fini(&j->params);
    osp_free(j->basic_user);
    osp_free(j->basic_pass);
    osp_free(j->basic_pass_file);
    osp_free(j->auth_type);
    osp_free(j->auth_credentials);
    osp_free(j->auth_credentials_file);
    for (size_t i = 0; i < j->nstatic; i++)
        coll_tgroup_fini(&j->static_groups[i]);
    osp_free(j->static_groups);
    for (size_t i = 0; i < j->nsd_files; i++)
        osp_free(j->sd_files[i]);
    osp_free(j->sd_files);
    for (size_t i = 0; i < j->nrelabel; i++)
        coll_relabel_fini(&j->relabel[i]);
    osp_free(j->relabel);
    for (size_t i = 0; i < j->nmrelabel; i++)
        coll_relabel_fini(&j->mrelabel[i]);
    osp_free(j->mrelabel);
}

typedef struct gdefaults {
    uint64_t sample_limit, body_size_limit, label_limit;
} gdefaults;

static int
parse_job(pctx *c, const osp_yaml_node *m, size_t idx, const coll_config *cfg, const gdefaults *gd,
          coll_job *j)
{
    osp_errinfo *ei = c->ei;
    char where[64];
    snprintf(where, sizeof(where), "scrape_configs[%zu]", idx);
    osp_labels_init(&j->params);
    j->interval_ms = cfg->scrape_interval_ms;
    j->honor_timestamps = true;
    j->fallback_dialect = -1;
    j->sample_limit = gd->sample_limit;
    j->body_size_limit = gd->body_size_limit;
    j->label_limit = gd->label_limit;
    j->sd_refresh_ms = 5 * 60 * 1000;
    if (m->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, m, where, OSP_EINVAL, "scrape config must be a mapping");
    bool timeout_set = false;
    for (size_t i = 0; i < m->n; i++) {
        int rc = parse_job_key(c, &m->pairs[i], j, &timeout_set);
        if (rc) {
            if (ei) { /* prefix the key with where the job sits */
                char full[256];
                snprintf(full, sizeof(full), "%s%s%s", where, ei->key[0] ? "." : "", ei->key);
                snprintf(ei->key, sizeof(ei->key), "%.127s", full);
            }
            return rc;
        }
    }
    if (!j->name || !*j->name)
        return osp_yaml_err(ei, m, where, OSP_EINVAL, "job_name must be set");
    if (!j->metrics_path)
        j->metrics_path = osp_strdup("/metrics");
    if (!j->scheme)
        j->scheme = osp_strdup("http");
    if (!timeout_set)
        j->timeout_ms =
            cfg->scrape_timeout_ms < j->interval_ms ? cfg->scrape_timeout_ms : j->interval_ms;
    if (j->interval_ms <= 0)
        return osp_yaml_err(ei, m, where, OSP_EINVAL, "scrape_interval must be positive");
    if (j->timeout_ms <= 0 || j->timeout_ms > j->interval_ms)
        return osp_yaml_err(ei, m, where, OSP_EINVAL,
                            "scrape_timeout must be positive and not greater than scrape_interval");
    if (j->basic_user && (j->auth_credentials || j->auth_credentials_file))
        return osp_yaml_err(ei, m, where, OSP_EINVAL,
                            "at most one of basic_auth and bearer_token/authorization may be set");
    if (j->basic_pass && j->basic_pass_file)
        return osp_yaml_err(ei, m, where, OSP_EINVAL,
                            "at most one of basic_auth password and password_file may be set");
    if (j->auth_credentials && j->auth_credentials_file)
        return osp_yaml_err(ei, m, where, OSP_EINVAL,
                            "at most one of credentials and credentials_file may be set");
    if (!j->auth_type && (j->auth_credentials || j->auth_credentials_file))
        j->auth_type = osp_strdup("Bearer");
    return 0;
}

static int
parse_global(pctx *c, const osp_yaml_node *g, coll_config *cfg, gdefaults *gd)
{
    osp_errinfo *ei = c->ei;
    if (g->type == OSP_YAML_NULL)
        return 0;
    if (g->type != OSP_YAML_MAP)
        return osp_yaml_err(ei, g, "global", OSP_EINVAL, "expected a mapping");
    bool timeout_set = false;
    for (size_t i = 0; i < g->n; i++) {
        const osp_yaml_pair *p = &g->pairs[i];
        const char *k = p->key->str;
        int rc = 0;
        if (strcmp(k, "scrape_interval") == 0)
            rc = osp_yaml_duration(p->value, &cfg->scrape_interval_ms, ei);
        else if (strcmp(k, "scrape_timeout") == 0) {
            rc = osp_yaml_duration(p->value, &cfg->scrape_timeout_ms, ei);
            timeout_set = true;
        } else if (strcmp(k, "external_labels") == 0)
            rc = get_labels(p->value, k, &cfg->external_labels, ei);
        else if (strcmp(k, "sample_limit") == 0)
            rc = parse_u64(p->value, &gd->sample_limit, ei);
        else if (strcmp(k, "label_limit") == 0)
            rc = parse_u64(p->value, &gd->label_limit, ei);
        else if (strcmp(k, "body_size_limit") == 0)
            rc = osp_yaml_bytes(p->value, &gd->body_size_limit, ei);
        else if (in_list(ignored_global, k))
            ignore(c, k, p->key);
        else
            rc = unknown(c, "global", p);
        if (rc) {
            if (ei && !ei->key[0])
                snprintf(ei->key, sizeof(ei->key), "global.%s", k);
            return rc;
        }
    }
    if (cfg->scrape_interval_ms <= 0)
        return osp_yaml_err(ei, g, "global", OSP_EINVAL, "scrape_interval must be positive");
    if (timeout_set && cfg->scrape_timeout_ms > cfg->scrape_interval_ms)
        return osp_yaml_err(ei, g, "global", OSP_EINVAL,
                            "scrape_timeout must not be greater than scrape_interval");
    return 0;
}

static int
parse_jobs(pctx *c, const osp_yaml_node *v, coll_config *cfg, const gdefaults *gd)
{
    if (v->type == OSP_YAML_NULL)
        return 0;
    if (v->type != OSP_YAML_SEQ)
        return osp_yaml_err(c->ei, v, "scrape_configs", OSP_EINVAL, "expected a list");
    cfg->jobs = osp_calloc(v->n ? v->n : 1, sizeof(coll_job));
    for (size_t i = 0; i < v->n; i++) {
        cfg->njobs++;
        int rc = parse_job(c, v->items[i], i, cfg, gd, &cfg->jobs[i]);
        if (rc)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->jobs[k].name, cfg->jobs[i].name) == 0)
                return osp_yaml_err(c->ei, v->items[i], "job_name", OSP_EINVAL,
                                    "found multiple scrape configs with job name \"%s\"",
                                    cfg->jobs[i].name);
    }
    return 0;
}

int
coll_config_parse(const osp_yaml_node *root, coll_config **out, osp_errinfo *ei)
{
    pctx c = {.ei = ei};
    coll_config *cfg = osp_calloc(1, sizeof(*cfg));
    atomic_init(&cfg->refs, 1);
    /* 15 s, not Prometheus' 1 m: Grafana's data source assumes 15 s ($__rate_interval) */
    cfg->scrape_interval_ms = 15000;
    cfg->scrape_timeout_ms = 10000;
    osp_labels_init(&cfg->external_labels);
    gdefaults gd = {0};
    int rc = osp_conf_apply(coll_settings_schema, coll_settings_schema_len, NULL, &cfg->set, 0, ei);
    if (rc)
        goto fail;
    if (root && root->type != OSP_YAML_NULL && root->type != OSP_YAML_MAP) {
        rc = osp_yaml_err(ei, root, NULL, OSP_EINVAL, "config must be a mapping");
        goto fail;
    }
    /* global first: scrape configs inherit its defaults whatever the key order */
    const osp_yaml_node *g = osp_yaml_map_get(root, "global");
    if (g && (rc = parse_global(&c, g, cfg, &gd)))
        goto fail;
    for (size_t i = 0; root && root->type == OSP_YAML_MAP && i < root->n; i++) {
        const osp_yaml_pair *p = &root->pairs[i];
        const char *k = p->key->str;
        if (strcmp(k, "global") == 0)
            continue;
        if (strcmp(k, "scrape_configs") == 0)
            rc = parse_jobs(&c, p->value, cfg, &gd);
        else if (strcmp(k, "collector") == 0)
            rc = osp_conf_apply(coll_settings_schema, coll_settings_schema_len, p->value, &cfg->set,
                                OSP_CONF_NO_DEFAULTS, ei);
        else if (in_list(ignored_top, k))
            ignore(&c, k, p->key);
        else
            rc = osp_yaml_err(ei, p->key, NULL, OSP_EINVAL, "unknown key \"%s\"", k);
        if (rc)
            goto fail;
    }
    *out = cfg;
    return 0;
fail:
    coll_config_unref(cfg);
    return rc ? rc : OSP_EINVAL;
}

int
coll_config_load(const char *path, const osp_cli *cli, coll_config **out, osp_errinfo *ei)
{
    osp_yaml_doc *doc = NULL;
    coll_config *cfg = NULL;
    int rc = 0;
    if (path && (rc = osp_yaml_load_file(path, &doc, ei)))
        goto done;
    if ((rc = coll_config_parse(doc ? osp_yaml_root(doc) : NULL, &cfg, ei)))
        goto done;
    if (cli &&
        (rc = osp_cli_apply(cli, coll_settings_schema, coll_settings_schema_len, &cfg->set, ei)))
        goto done;
    cfg->path = path ? osp_strdup(path) : NULL;
    *out = cfg;
    cfg = NULL;
done:
    coll_config_unref(cfg);
    osp_yaml_free(doc);
    return rc;
}

coll_config *
coll_config_ref(coll_config *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void
coll_config_unref(coll_config *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (size_t i = 0; i < c->njobs; i++)
        job_fini(&c->jobs[i]);
    osp_free(c->jobs);
    osp_labels_fini(&c->external_labels);
    osp_conf_fini(coll_settings_schema, coll_settings_schema_len, &c->set);
    osp_free(c->path);
    osp_free(c);
}

const coll_job *
coll_config_find_job(const coll_config *c, const char *name)
{
    for (size_t i = 0; i < c->njobs; i++)
        if (strcmp(c->jobs[i].name, name) == 0)
            return &c->jobs[i];
    return NULL;
}
