/* alert_conf.h - osprey-alerter's own configuration (-c FILE): schema table,
 * flags, load sequence (defaults < file < flags). The alertmanager.yml it
 * routes with is separate (alert_am_config.h). */
#ifndef ALERT_CONF_H
#define ALERT_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "osp_labels.h"
#include "log.h"

typedef struct alert_conf {
    char *listen;
    char *alertmanager_config;
    char *redis;
    char *external_url;
    const osp_yaml_node *external_labels_node; /* only during load */
    osp_labels external_labels; /* sorted; added to alerts, $externalLabels in templates */
    osp_log_level log_level;
    int64_t gc_interval_ms;
    int64_t resolved_retention_ms;
    int64_t silence_sync_ms;
    /* rule evaluation */
    osp_strlist rule_files; /* globs */
    int64_t evaluation_interval_ms;
    int64_t resend_delay_ms;
    int64_t query_timeout_ms;
    char *store_query;
    /* write-back producer */
    char *store_ingest, *store_ack, *spool_dir, *producer_id;
    size_t spool_max_bytes;
    int64_t flush_timeout_ms;
} alert_conf;

extern const osp_conf_field alert_conf_schema[];
extern const size_t alert_conf_nschema;
extern const osp_cli_flag alert_conf_flags[];
extern const size_t alert_conf_nflags;

/* alert_conf_load: defaults < cli->config < flags into *c (zeroed first);
 * fills external_url from listen when empty. Errors carry file:line:col/key
 * in ei. Call alert_conf_fini in every case. */
int alert_conf_load(alert_conf *c, const osp_cli *cli, osp_errinfo *ei);
void alert_conf_fini(alert_conf *c);

#endif
