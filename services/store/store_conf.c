/* store_conf.c - schema table and flags of osprey-store, and the load
 * sequence (defaults < file < flags) with the checks the table cannot do. */
#include "store_conf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "osp_err.h"
#include "osp_mem.h"

#define F(k, t, m, d, h)                                                                           \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(store_conf, m), .def = (d), .help = (h)        \
    }

const osp_conf_field store_conf_schema[] = {
    F("listen", OSP_CONF_STR, listen, "127.0.0.1:9090", "HTTP listen address HOST:PORT"),
    F("pg", OSP_CONF_SECRET, pg, "",
      "PostgreSQL conninfo (key=value string or URI); empty uses libpq's PG* variables"),
    {.key = "retention",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(store_conf, retention_ms),
     .def = "15d",
     .help = "how long samples are kept; 0 keeps everything"},
    F("retention_size", OSP_CONF_BYTES, retention_size, "0",
      "largest total size of the chunk partitions (oldest days are dropped); 0 = no limit"),
    {.key = "head_window",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(store_conf, head_window_ms),
     .def = "30m",
     .help = "how long persisted chunks stay in memory (queries inside it skip PostgreSQL)",
     .min = 0,
     .max = 31.0 * 86400 * 1000},
    {.key = "chunk_max_age",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(store_conf, chunk_max_age_ms),
     .def = "15m",
     .help = "an open chunk is persisted at the latest this long after its first sample "
             "arrived (bounds the batch log and the restart replay)",
     .min = 1000,
     .max = 86400.0 * 1000},
    {.key = "compaction_window",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(store_conf, compaction_window_ms),
     .def = "2h",
     .help = "compaction merges each series' chunks per aligned window of this length "
             "(must divide 24h)",
     .min = 60000,
     .max = 86400.0 * 1000},
    F("ingest", OSP_CONF_STR, ingest, "tcp://127.0.0.1:7201",
      "NNG SUB listen URL where producers publish batches"),
    F("ack", OSP_CONF_STR, ack, "tcp://127.0.0.1:7202", "NNG PUB listen URL for acks"),
    F("query", OSP_CONF_STR, query, "tcp://127.0.0.1:7203",
      "NNG REP listen URL for the alerter's queries (reserved; not served yet)"),
    F("store_id", OSP_CONF_STR, store_id, "", "id put into acks; empty = hostname:port"),
    F("log_level", OSP_CONF_LOGLEVEL, log_level, "info", "debug, info, warn or error"),
    {.key = "lookback_delta",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(store_conf, lookback_delta_ms),
     .def = "5m",
     .help = "PromQL lookback of instant selectors",
     .min = 1,
     .max = 366.0 * 86400 * 1000},
    F("query_timeout", OSP_CONF_DURATION, query_timeout_ms, "2m", "longest query evaluation"),
    F("max_samples", OSP_CONF_UINT64, max_samples, "50000000",
      "most samples one query may hold at once"),
    F("query_cache", OSP_CONF_BYTES, query_cache, "16MiB",
      "memory for the samples queries read from PostgreSQL (short ranges, repeated queries "
      "skip the read); 0 = off"),
};
const size_t store_conf_nschema = sizeof(store_conf_schema) / sizeof(store_conf_schema[0]);

const osp_cli_flag store_conf_flags[] = {
    {"pg", 0, "pg", "CONNINFO", "PostgreSQL conninfo or URI"},
    {"retention", 0, "retention", "DURATION", "retention (0 keeps everything)"},
    {"retention-size", 0, "retention_size", "BYTES", "size limit of the chunk partitions"},
    {"head-window", 0, "head_window", "DURATION", "persisted chunks kept in memory"},
    {"chunk-max-age", 0, "chunk_max_age", "DURATION", "persist open chunks after at most"},
    {"compaction-window", 0, "compaction_window", "DURATION", "compaction window (divides 24h)"},
    {"ingest", 0, "ingest", "URL", "NNG ingest (SUB) listen URL"},
    {"ack", 0, "ack", "URL", "NNG ack (PUB) listen URL"},
    {"query", 0, "query", "URL", "NNG query (REP) listen URL"},
    {"store-id", 0, "store_id", "ID", "store id in acks"},
    {"lookback-delta", 0, "lookback_delta", "DURATION", "PromQL lookback delta"},
    {"query-timeout", 0, "query_timeout", "DURATION", "query timeout"},
    {"max-samples", 0, "max_samples", "N", "max samples per query"},
    {"query-cache", 0, "query_cache", "BYTES", "query cache of persisted samples (0 = off)"},
};
const size_t store_conf_nflags = sizeof(store_conf_flags) / sizeof(store_conf_flags[0]);

static int
check_url(const char *key, const char *url, osp_errinfo *ei)
{
    static const char *const schemes[] = {"tcp://",    "tcp4://",    "tcp6://", "ipc://",
                                          "inproc://", "tls+tcp://", "ws://"};
    if (url != NULL)
        for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
            if (strncmp(url, schemes[i], strlen(schemes[i])) == 0 &&
                url[strlen(schemes[i])] != '\0')
                return 0;
    if (ei != NULL)
        snprintf(ei->key, sizeof(ei->key), "%s", key);
    return osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                           "invalid NNG URL \"%s\" (want tcp://HOST:PORT, "
                           "ipc://PATH or inproc://NAME)",
                           url ? url : "");
}

int
store_conf_load(store_conf *c, const osp_cli *cli, osp_errinfo *ei)
{
    memset(c, 0, sizeof(*c));
    int rc = osp_conf_load(store_conf_schema, store_conf_nschema, c, cli, 0, NULL, ei);
    if (rc != 0)
        return rc;
    if ((rc = check_url("ingest", c->ingest, ei)) != 0 || (rc = check_url("ack", c->ack, ei)) ||
        (rc = check_url("query", c->query, ei)))
        return rc;
    if (86400000 % c->compaction_window_ms != 0) {
        if (ei != NULL)
            snprintf(ei->key, sizeof(ei->key), "compaction_window");
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "must divide 24h (e.g. 10m, 1h, 2h)");
    }
    if (c->listen == NULL || c->listen[0] == '\0') {
        if (ei != NULL)
            snprintf(ei->key, sizeof(ei->key), "listen");
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "must not be empty");
    }
    if (c->store_id == NULL || c->store_id[0] == '\0') {
        char host[256] = "localhost";
        if (gethostname(host, sizeof(host) - 1) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        const char *colon = strrchr(c->listen, ':');
        const char *port = colon ? colon + 1 : c->listen;
        char id[512];
        snprintf(id, sizeof(id), "%s:%s", host, port);
        osp_free(c->store_id);
        c->store_id = osp_strdup(id);
    }
    return 0;
}

void
store_conf_fini(store_conf *c)
{
    if (c != NULL)
        osp_conf_fini(store_conf_schema, store_conf_nschema, c);
}

/* Masks the value after "password" in keyword form, up to the next blank
 * (or the closing quote), and the password part of a URI's userinfo. */
void
store_conninfo_mask(const char *ci, osp_buf *out)
{
    if (ci == NULL)
        return;
    if (strncmp(ci, "postgres://", 11) == 0 || strncmp(ci, "postgresql://", 13) == 0) {
        const char *start = strstr(ci, "://") + 3;
        const char *at = strchr(start, '@');
        const char *slash = strchr(start, '/');
        if (at != NULL && (slash == NULL || at < slash)) {
            const char *colon = memchr(start, ':', (size_t)(at - start));
            if (colon != NULL) {
                osp_buf_append(out, ci, (size_t)(colon + 1 - ci));
                osp_buf_puts(out, "***");
                ci = at;
            }
        }
        /* query parameters may carry password=... too */
        const char *q = strstr(ci, "password=");
        if (q == NULL) {
            osp_buf_puts(out, ci);
            return;
        }
        osp_buf_append(out, ci, (size_t)(q - ci));
        osp_buf_puts(out, "password=***");
        const char *amp = strchr(q, '&');
        if (amp != NULL)
            osp_buf_puts(out, amp);
        return;
    }
    const char *p = ci;
    for (;;) {
        const char *q = strstr(p, "password");
        if (q == NULL) {
            osp_buf_puts(out, p);
            return;
        }
        const char *e = q + 8;
        while (*e == ' ')
            e++;
        if (*e != '=') {
            osp_buf_append(out, p, (size_t)(e - p));
            p = e;
            continue;
        }
        e++;
        osp_buf_append(out, p, (size_t)(e - p));
        osp_buf_puts(out, "***");
        while (*e == ' ')
            e++;
        if (*e == '\'') {
            e++;
            while (*e != '\0' && *e != '\'') {
                if (*e == '\\' && e[1] != '\0')
                    e++;
                e++;
            }
            if (*e == '\'')
                e++;
        } else {
            while (*e != '\0' && *e != ' ')
                e++;
        }
        p = e;
    }
}
