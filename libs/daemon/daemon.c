/* daemon.c - shared daemon plumbing (see daemon.h). */
#include "daemon.h"

#include <event2/event.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "expfmt.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

bool
osp_daemon_cli(const osp_daemon_info *info, int argc, char **argv, osp_cli *cli, int *exit_code)
{
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (osp_cli_parse(cli, argc, argv, info->flags, info->nflags, &ei) != 0) {
        char msg[1024];
        osp_errinfo_format(&ei, msg, sizeof(msg));
        fprintf(stderr, "%s: %s (try --help)\n", info->prog, msg);
        *exit_code = 2;
        return false;
    }
    if (cli->help) {
        osp_cli_usage(stdout, info->prog, info->summary, info->flags, info->nflags, info->schema,
                      info->nschema);
        *exit_code = 0;
        return false;
    }
    if (cli->version) {
        printf("%s %s\n", info->prog, OSPREY_VERSION);
        *exit_code = 0;
        return false;
    }
    return true;
}

void
osp_daemon_config_error(const char *prog, const osp_errinfo *ei)
{
    char msg[1024];
    osp_errinfo_format(ei, msg, sizeof(msg));
    fprintf(stderr, "%s: %s\n", prog, msg);
    osp_log(OSP_LOG_ERROR, "config", "invalid configuration", "error", msg, NULL);
}

struct osp_daemon_signals {
    struct event_base *base;
    struct event *ev[3];
    const char *component;
    int (*reload)(void *ctx, osp_buf *msg);
    void *ctx;
};

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    osp_daemon_signals *s = arg;
    if (sig == SIGHUP) {
        if (s->reload == NULL)
            return;
        osp_buf msg;
        osp_buf_init(&msg);
        (void)s->reload(s->ctx, &msg); /* the reload logs its own outcome */
        osp_buf_fini(&msg);
        return;
    }
    osp_log(OSP_LOG_INFO, s->component, "shutting down", "signal",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    event_base_loopbreak(s->base);
}

osp_daemon_signals *
osp_daemon_signals_new(struct event_base *base, const char *component,
                       int (*reload)(void *ctx, osp_buf *msg), void *ctx)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    signal(SIGPIPE, SIG_IGN);
    osp_daemon_signals *s = osp_calloc(1, sizeof(*s));
    s->base = base;
    s->component = component;
    s->reload = reload;
    s->ctx = ctx;
    for (int i = 0; i < 3; i++) {
        s->ev[i] = evsignal_new(base, sigs[i], on_signal, s);
        if (s->ev[i] == NULL || event_add(s->ev[i], NULL) != 0) {
            osp_daemon_signals_free(s);
            return NULL;
        }
    }
    return s;
}

void
osp_daemon_signals_free(osp_daemon_signals *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 3; i++)
        if (s->ev[i] != NULL)
            event_free(s->ev[i]);
    osp_free(s);
}

int
osp_daemon_producer_new(const osp_daemon_producer_opts *o, char *id_out, size_t id_sz,
                        osp_bus_producer **out, osp_errinfo *ei)
{
    if (o->id != NULL && *o->id != '\0') {
        snprintf(id_out, id_sz, "%s", o->id);
    } else {
        char host[200] = "localhost";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(id_out, id_sz, "%s@%s-%d", o->kind, host, o->http_port);
    }
    osp_bus_producer_opts po = {
        .producer_id = id_out,
        .ingest_url = o->ingest_url,
        .ack_url = o->ack_url,
        .spool_dir = o->spool_dir != NULL && *o->spool_dir != '\0' ? o->spool_dir : NULL,
        .spool_max_bytes = o->spool_max_bytes,
    };
    /* the required store ids: split a copy of the list at the commas */
    char *list = osp_strdup(o->acks_required ? o->acks_required : "");
    const char *ids[OSP_BUS_MAX_STORES];
    size_t nids = 0;
    for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok != NULL;
         tok = strtok_r(NULL, ", ", &save)) {
        if (nids == OSP_BUS_MAX_STORES) {
            osp_free(list);
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                                   "store_acks_required: at most %d store ids", OSP_BUS_MAX_STORES);
        }
        ids[nids++] = tok;
    }
    po.ack_store_ids = nids > 0 ? ids : NULL;
    po.n_ack_store_ids = nids;
    int rc = osp_bus_producer_new(&po, out, ei);
    osp_free(list);
    return rc;
}

static osp_bus_producer_stats
snap(void *ctx)
{
    osp_bus_producer_stats s;
    osp_bus_producer_get_stats(ctx, &s);
    return s;
}

#define STAT_FN(field)                                                                             \
    static double stat_##field(void *ctx)                                                          \
    {                                                                                              \
        return (double)snap(ctx).field;                                                            \
    }
STAT_FN(spool_bytes)
STAT_FN(spool_entries)
STAT_FN(resends)
STAT_FN(dropped_batches)
STAT_FN(dropped_bytes)
STAT_FN(sent_batches)
STAT_FN(acked_batches)
STAT_FN(publish_errors)
STAT_FN(spool_file_errors)

static void
render_latency(void *ctx, osp_buf *out)
{
    osp_bus_producer_stats s = snap(ctx);
    const char *name = "osprey_bus_ack_latency_seconds";
    osp_expfmt_write_help(out, name, "Time from the first publish of a batch to its ack");
    osp_expfmt_write_type(out, name, "histogram");
    for (int i = 0; i < OSP_BUS_LAT_BUCKETS; i++) {
        char le[32];
        osp_expfmt_format_float_label(le, osp_bus_ack_latency_bounds[i]);
        osp_buf_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name, le,
                       (unsigned long long)s.ack_latency_bucket[i]);
    }
    osp_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                   (unsigned long long)s.ack_latency_count);
    char v[32];
    osp_fmt_double_expfmt(v, s.ack_latency_sum);
    osp_buf_printf(out, "%s_sum %s\n%s_count %llu\n", name, v, name,
                   (unsigned long long)s.ack_latency_count);
}

void
osp_daemon_export_producer(osp_metrics *reg, osp_bus_producer *p)
{
    osp_metrics_gauge_func(reg, "osprey_bus_spool_bytes", "Bytes of unacked batches in the spool",
                           stat_spool_bytes, p);
    osp_metrics_gauge_func(reg, "osprey_bus_spool_entries", "Unacked batches in the spool",
                           stat_spool_entries, p);
    osp_metrics_counter_func(reg, "osprey_bus_resends_total", "Batches published again",
                             stat_resends, p);
    osp_metrics_counter_func(reg, "osprey_bus_dropped_batches_total",
                             "Batches dropped because the spool was full", stat_dropped_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_dropped_bytes_total",
                             "Bytes dropped because the spool was full", stat_dropped_bytes, p);
    osp_metrics_counter_func(reg, "osprey_bus_sent_batches_total", "Batches sent",
                             stat_sent_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_acked_batches_total", "Batches acked by a store",
                             stat_acked_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_publish_errors_total",
                             "Failed publishes (the batch is resent later)", stat_publish_errors,
                             p);
    osp_metrics_counter_func(reg, "osprey_bus_spool_file_errors_total",
                             "Failed spool file writes or reads", stat_spool_file_errors, p);
    osp_metrics_add_collector(reg, render_latency, p);
}

int
osp_daemon_flush_producer(osp_bus_producer *p, int64_t timeout_ms, const char *component,
                          bool spooled_to_disk)
{
    int64_t t0 = osp_now_ms();
    int rc = osp_bus_producer_flush(p, timeout_ms);
    char ms[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)(osp_now_ms() - t0));
    if (rc == 0) {
        osp_log(OSP_LOG_INFO, component, "all batches acked; bye", "flush_ms", ms, NULL);
        return 0;
    }
    osp_bus_producer_stats s;
    osp_bus_producer_get_stats(p, &s);
    char n[24];
    snprintf(n, sizeof(n), "%llu", (unsigned long long)s.spool_entries);
    osp_log(OSP_LOG_WARN, component,
            "store did not ack everything before the flush timeout; unacked batches stay spooled",
            "pending", n, "spooled_to_disk", spooled_to_disk ? "true" : "false", NULL);
    return rc;
}
