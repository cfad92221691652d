/* coll_config.h - the collector's configuration: a prometheus.yml subset
 * (global, scrape_configs) plus an optional top-level `collector:` section for
 * the daemon's own settings (schema table; flags override it). */
#ifndef COLL_CONFIG_H
#define COLL_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coll_relabel.h"
#include "conf.h"
#include "expfmt.h"
#include "log.h"
#include "osp_err.h"
#include "osp_labels.h"

/* Daemon settings (`collector:` section, schema coll_settings_schema). */
typedef struct coll_settings {
    char *listen;
    char *store_ingest;
    char *store_ack;
    char *store_acks_required;
    char *spool_dir;
    size_t spool_max_bytes;
    char *redis;
    char *collector_id;
    osp_log_level log_level;
    int64_t flush_timeout;              /* ms */
    int64_t sd_check_interval;          /* ms; how often file_sd files are stat()ed */
    int64_t scrape_timestamp_tolerance; /* ms; stamp a scrape with its slot when this close */
} coll_settings;

extern const osp_conf_field coll_settings_schema[];
extern const size_t coll_settings_schema_len;

/* A static_configs entry or one group of a file_sd file. */
typedef struct coll_tgroup {
    char **targets;
    size_t ntargets;
    osp_labels labels;
    char *source; /* "static:0" or the file name: becomes nothing visible, for logs */
} coll_tgroup;

void coll_tgroup_fini(coll_tgroup *g);

/* One scrape_configs entry. Strings owned. Secrets (basic_pass, credentials)
 * are never logged. */
typedef struct coll_job {
    char *name;
    int64_t interval_ms;
    int64_t timeout_ms;
    char *metrics_path;
    char *scheme;
    osp_labels params; /* name -> value; a name may repeat (several values) */
    char *basic_user;
    char *basic_pass;
    char *basic_pass_file;
    char *auth_type;             /* "Bearer" by default when credentials are set */
    char *auth_credentials;      /* bearer_token / authorization.credentials */
    char *auth_credentials_file; /* bearer_token_file / authorization.credentials_file */
    bool honor_labels;
    bool honor_timestamps;
    uint64_t sample_limit;    /* 0 = none */
    uint64_t body_size_limit; /* 0 = none */
    uint64_t label_limit;     /* 0 = none */
    int fallback_dialect;     /* -1: text 0.0.4 with a warning; else osp_expfmt_dialect */
    coll_tgroup *static_groups;
    size_t nstatic;
    char **sd_files; /* file_sd globs */
    size_t nsd_files;
    int64_t sd_refresh_ms;
    coll_relabel *relabel;
    size_t nrelabel;
    coll_relabel *mrelabel;
    size_t nmrelabel;
} coll_job;

/* A whole configuration. Reference-counted: the scrape thread keeps the one
 * its targets point into alive across reloads. */
typedef struct coll_config {
    atomic_int refs;
    char *path;
    int64_t scrape_interval_ms;
    int64_t scrape_timeout_ms;
    osp_labels external_labels; /* parsed, not added to samples (see README) */
    coll_job *jobs;
    size_t njobs;
    coll_settings set;
} coll_config;

/* coll_config_parse: build a config from the YAML root of a prometheus.yml
 * (doc borrowed for the call). Known Prometheus sections and keys that the
 * collector does not use are logged once as warnings and ignored; unknown keys
 * are errors. Settings get their defaults, then the `collector:` section.
 * *out (refs = 1) is written only on success. Errors: OSP_EINVAL with
 * file:line:col, key and message in ei. Any thread. */
int coll_config_parse(const osp_yaml_node *root, coll_config **out, osp_errinfo *ei);

/* coll_config_load: osp_yaml_load_file(path) + coll_config_parse, then the
 * command-line overrides of cli (may be NULL) onto the settings. path may be
 * NULL: no scrape configs, settings from defaults and flags. */
int coll_config_load(const char *path, const osp_cli *cli, coll_config **out, osp_errinfo *ei);

/* coll_config_ref / coll_config_unref: reference counting; the last unref
 * frees. Any thread. NULL-safe. */
coll_config *coll_config_ref(coll_config *c);
void coll_config_unref(coll_config *c);

/* coll_config_find_job: the job named name, or NULL. */
const coll_job *coll_config_find_job(const coll_config *c, const char *name);

/* coll_tgroups_parse: parse a list of target groups ([{targets: [...],
 * labels: {...}}], as static_configs and file_sd files hold) from node into
 * a new array (*out, *n). Errors: OSP_EINVAL with position. */
int coll_tgroups_parse(const osp_yaml_node *seq, const char *source, coll_tgroup **out, size_t *n,
                       osp_errinfo *ei);

#endif
