/* daemon.h - the plumbing every Osprey daemon shares: the command-line prelude
 * (--help, --version, flag errors), signal wiring on the event loop, the bus
 * producer's self-metrics, and the flush of the producer at exit. */
#ifndef OSP_DAEMON_H
#define OSP_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "conf.h"
#include "metrics.h"

struct event_base;

/* What the prelude prints for --help. */
typedef struct osp_daemon_info {
    const char *prog;    /* "osprey-collector" */
    const char *summary; /* one paragraph for --help */
    const osp_cli_flag *flags;
    size_t nflags;
    const osp_conf_field *schema;
    size_t nschema;
} osp_daemon_info;

/* osp_daemon_cli: parse argv into cli (caller calls osp_cli_fini) and answer
 * what needs no config: a flag error (message on stderr, *exit_code = 2),
 * --help (usage on stdout, 0) and --version (0). Returns true when main should
 * go on (load the config, ...), false when it should exit with *exit_code. */
bool osp_daemon_cli(const osp_daemon_info *info, int argc, char **argv, osp_cli *cli,
                    int *exit_code);

/* osp_daemon_config_error: report a config load error the same way in every
 * daemon: "prog: file:line:col: key: msg" on stderr and a JSON log line. */
void osp_daemon_config_error(const char *prog, const osp_errinfo *ei);

typedef struct osp_daemon_signals osp_daemon_signals;

/* osp_daemon_signals_new: SIGTERM and SIGINT log "shutting down" (component)
 * and break base's loop; SIGHUP calls reload(ctx) (may be NULL) and logs its
 * outcome. SIGPIPE is ignored. NULL when libevent cannot add the events.
 * Loop thread. */
osp_daemon_signals *osp_daemon_signals_new(struct event_base *base, const char *component,
                                           int (*reload)(void *ctx, osp_buf *msg), void *ctx);
void osp_daemon_signals_free(osp_daemon_signals *s); /* NULL-safe */

/* Settings of a daemon's bus producer, as the common flags give them. */
typedef struct osp_daemon_producer_opts {
    const char *kind;       /* "collector": default id is "<kind>@<host>-<http_port>" */
    const char *id;         /* configured producer id; NULL or "" for the default */
    int http_port;          /* the daemon's bound HTTP port */
    const char *ingest_url; /* --store-ingest */
    const char *ack_url;    /* --store-ack */
    const char *spool_dir;  /* --spool-dir; NULL or "" = memory only */
    size_t spool_max_bytes; /* --spool-max-bytes; 0 = the bus default */
    /* --store-acks-required: comma-separated store ids that must all ack a
     * batch before it leaves the spool (replica stores); NULL or "" = an ack
     * from any store settles it */
    const char *acks_required;
} osp_daemon_producer_opts;

/* osp_daemon_producer_new: make the producer id (into id_out, id_sz bytes; it
 * must outlive the producer) and start the producer. Errors as
 * osp_bus_producer_new (detail in ei). *out only on success. */
int osp_daemon_producer_new(const osp_daemon_producer_opts *o, char *id_out, size_t id_sz,
                            osp_bus_producer **out, osp_errinfo *ei);

/* osp_daemon_export_producer: register the osprey_bus_* metrics of producer p
 * (spool bytes/entries, sends, acks, resends, drops, errors, ack latency
 * histogram) in reg; values are read at render time. p must outlive reg's use. */
void osp_daemon_export_producer(osp_metrics *reg, osp_bus_producer *p);

/* osp_daemon_flush_producer: at shutdown, wait up to timeout_ms for the store
 * to ack everything and log the outcome under component. Returns 0 or
 * OSP_ETIMEDOUT (what was not acked stays in the spool; on disk when
 * spooled_to_disk). */
int osp_daemon_flush_producer(osp_bus_producer *p, int64_t timeout_ms, const char *component,
                              bool spooled_to_disk);

#endif
