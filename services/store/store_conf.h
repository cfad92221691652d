/* store_conf.h - the store's configuration: schema table (defaults live only
 * there), command-line flags, and helpers to print it without secrets. */
#ifndef STORE_CONF_H
#define STORE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "log.h"
#include "osp_buf.h"

typedef struct store_conf {
    char *listen;
    char *pg; /* secret: may carry a password */
    int64_t retention_ms;
    size_t retention_size;    /* bytes of chunk partitions; 0 = no size limit */
    int64_t head_window_ms;   /* persisted chunks kept in memory this long */
    int64_t chunk_max_age_ms; /* an open chunk is persisted at the latest after this */
    int64_t compaction_window_ms;
    char *ingest;
    char *ack;
    char *query;
    char *store_id;
    osp_log_level log_level;
    int64_t lookback_delta_ms;
    int64_t query_timeout_ms;
    uint64_t max_samples;
    size_t query_cache; /* bytes of the query cache of persisted samples; 0 = off */
} store_conf;

extern const osp_conf_field store_conf_schema[];
extern const size_t store_conf_nschema;
extern const osp_cli_flag store_conf_flags[];
extern const size_t store_conf_nflags;

/* store_conf_load: defaults < cli->config < flags into *c (zeroed first),
 * then checks values the schema cannot (URL shapes) and fills store_id when
 * empty (hostname:port of listen). Errors (OSP_EINVAL, OSP_EIO, OSP_EPARSE)
 * carry file:line:col/key in ei. Call store_conf_fini in every case. */
int store_conf_load(store_conf *c, const osp_cli *cli, osp_errinfo *ei);

/* store_conf_fini: free what c owns; safe on a zeroed or partly loaded c. */
void store_conf_fini(store_conf *c);

/* store_conninfo_mask: append conninfo to out with every password masked
 * ("password=***" in keyword form, "user:***@" in URI form), for logs. */
void store_conninfo_mask(const char *conninfo, osp_buf *out);

#endif
