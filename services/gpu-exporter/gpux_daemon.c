/* gpux_daemon.c - wiring: libevent loop with HTTP and signal events, the bus
 * producer (when publishing), and the collection thread that owns the
 * backends. /metrics = self-metrics + the last collection's text. */
#include "gpux_daemon.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "daemon.h"
#include "expfmt.h"
#include "gpux_collect.h"
#include "gpux_worker.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "osp_mem.h"
#include "osp_time.h"

struct gpux_daemon {
    gpux_settings st;
    const char *path;
    const osp_cli *cli;
    struct event_base *base;
    osp_daemon_signals *sigs;
    osp_metrics *reg;
    osp_metric *m_reloads, *m_reload_failures;
    osp_http_server *http;
    osp_bus_producer *prod;
    gpux_collector *coll;
    gpux_worker *worker;
    char producer_id[256];
    char host[200];
};

static void
render_gpus(void *ctx, osp_buf *out)
{
    gpux_daemon *d = ctx;
    if (d->worker)
        gpux_worker_render(d->worker, out);
}

static void
publish_labels(const gpux_daemon *d, const gpux_settings *st, osp_labels *out)
{
    osp_labels_init(out);
    if (st->job && *st->job)
        osp_labels_addc(out, "job", st->job);
    osp_labels_addc(out, "instance", st->instance && *st->instance ? st->instance : d->host);
}

static bool
http_ready(void *ctx, osp_buf *why)
{
    gpux_daemon *d = ctx;
    if (gpux_worker_done(d->worker) == 0) {
        osp_buf_puts(why, "first collection not finished");
        return false;
    }
    return true;
}

static void
http_health(void *ctx, osp_buf *out)
{
    gpux_daemon *d = ctx;
    int64_t age = osp_now_ms() - gpux_worker_last_ms(d->worker);
    bool fresh = gpux_worker_done(d->worker) > 0 && age < 3 * d->st.interval + 10000;
    osp_buf_printf(out, "\"collection\":\"%s\"", fresh ? "ok" : "stalled");
    if (d->prod) {
        osp_bus_producer_stats s;
        osp_bus_producer_get_stats(d->prod, &s);
        osp_buf_printf(out, ",\"store_link\":\"%s\"", s.spool_entries <= 2 ? "ok" : "spooling");
    } else {
        osp_buf_puts(out, ",\"store_link\":\"disabled\"");
    }
}

static int
http_reload(void *ctx, osp_buf *msg)
{
    return gpux_daemon_reload(ctx, msg);
}

static bool
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int
gpux_daemon_reload(gpux_daemon *d, osp_buf *msg)
{
    gpux_settings ns;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = gpux_settings_load(d->path, d->cli, &ns, &ei);
    if (rc) {
        char text[1024];
        osp_errinfo_format(&ei, text, sizeof(text));
        osp_buf_puts(msg, text);
        osp_log(OSP_LOG_ERROR, "config", "reload failed; keeping the running configuration",
                "error", text, NULL);
        osp_metric_inc(d->m_reload_failures);
        gpux_settings_fini(&ns);
        return rc;
    }
    const char *keys[] = {"listen",      "store_ingest", "store_ack", "spool_dir",
                          "producer_id", "sysfs_root",   "nvml_lib"};
    const char *va[] = {d->st.listen,      d->st.store_ingest, d->st.store_ack, d->st.spool_dir,
                        d->st.producer_id, d->st.sysfs_root,   d->st.nvml_lib};
    const char *vb[] = {ns.listen,      ns.store_ingest, ns.store_ack, ns.spool_dir,
                        ns.producer_id, ns.sysfs_root,   ns.nvml_lib};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!same(va[i], vb[i]))
            osp_log(OSP_LOG_WARN, "config", "setting changed; it takes effect after a restart",
                    "key", keys[i], NULL);
    if (ns.publish != d->st.publish || ns.nvidia != d->st.nvidia || ns.amd != d->st.amd)
        osp_log(OSP_LOG_WARN, "config",
                "publish/nvidia/amd changed; they take effect after a restart", NULL);
    osp_labels pl;
    publish_labels(d, &ns, &pl);
    gpux_worker_reconfigure(d->worker, ns.interval, &pl, ns.pcie_throughput, ns.processes);
    osp_labels_fini(&pl);
    osp_log_set_level(ns.log_level);
    gpux_settings_fini(&d->st);
    d->st = ns;
    osp_metric_inc(d->m_reloads);
    osp_log(OSP_LOG_INFO, "config", "configuration reloaded", "file", d->path, NULL);
    osp_buf_puts(msg, "reloaded");
    return 0;
}

static int
start_producer(gpux_daemon *d, osp_errinfo *ei)
{
    const gpux_settings *st = &d->st;
    osp_daemon_producer_opts po = {
        .kind = "gpu-exporter",
        .id = st->producer_id,
        .http_port = osp_http_server_port(d->http),
        .ingest_url = st->store_ingest,
        .ack_url = st->store_ack,
        .spool_dir = st->spool_dir,
        .spool_max_bytes = st->spool_max_bytes,
    };
    return osp_daemon_producer_new(&po, d->producer_id, sizeof(d->producer_id), &d->prod, ei);
}

int
gpux_daemon_new(gpux_settings *st, const char *path, const osp_cli *cli, gpux_daemon **out,
                osp_errinfo *ei)
{
    gpux_daemon *d = osp_calloc(1, sizeof(*d));
    d->st = *st;
    memset(st, 0, sizeof(*st));
    d->path = path;
    d->cli = cli;
    snprintf(d->host, sizeof(d->host), "localhost");
    gethostname(d->host, sizeof(d->host) - 1);
    d->host[sizeof(d->host) - 1] = 0;
    osp_log_set_level(d->st.log_level);
    int rc = OSP_EIO;
    if (!(d->base = event_base_new())) {
        osp_errinfo_set(ei, OSP_EIO, 0, 0, "event_base_new failed");
        goto fail;
    }
    d->reg = osp_metrics_new();
    osp_metrics_add_process(d->reg);
    d->m_reloads = osp_metrics_counter(d->reg, "osprey_gpux_config_reloads_total",
                                       "Successful configuration reloads");
    d->m_reload_failures = osp_metrics_counter(d->reg, "osprey_gpux_config_reload_failures_total",
                                               "Configuration reloads that were rejected");
    if ((rc = osp_http_server_new(d->base, d->st.listen, &d->http, ei)))
        goto fail;
    if (d->st.publish) {
        if ((rc = start_producer(d, ei)))
            goto fail;
        osp_daemon_export_producer(d->reg, d->prod);
    }
    gpux_collector_opts co = {.root = d->st.sysfs_root,
                              .nvml_lib = d->st.nvml_lib,
                              .nvidia = d->st.nvidia,
                              .amd = d->st.amd,
                              .pcie = d->st.pcie_throughput,
                              .processes = d->st.processes};
    d->coll = gpux_collector_new(&co);
    osp_labels pl;
    publish_labels(d, &d->st, &pl);
    gpux_worker_opts wo = {.coll = d->coll,
                           .prod = d->prod,
                           .interval_ms = d->st.interval,
                           .publish_labels = &pl,
                           .reg = d->reg};
    rc = gpux_worker_new(&wo, &d->worker, ei);
    osp_labels_fini(&pl);
    if (rc)
        goto fail;
    osp_metrics_add_collector(d->reg, render_gpus, d);
    osp_http_std std = {
        .service = "gpu-exporter",
        .version = OSPREY_VERSION,
        .metrics = d->reg,
        .ready = http_ready,
        .health_checks = http_health,
        .reload = http_reload,
        .ctx = d,
    };
    if ((rc = osp_http_add_std(d->http, &std))) {
        osp_errinfo_set(ei, rc, 0, 0, "cannot register the standard HTTP endpoints");
        goto fail;
    }
    if (!(d->sigs = osp_daemon_signals_new(d->base, "gpu-exporter", http_reload, d))) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot register signal events");
        goto fail;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", osp_http_server_port(d->http));
    osp_log(OSP_LOG_INFO, "gpu-exporter", "gpu-exporter started", "version", OSPREY_VERSION, "port",
            port, "producer_id", d->prod ? d->producer_id : "(not publishing)", "sysfs_root",
            d->st.sysfs_root, "nvml_lib", d->st.nvidia ? d->st.nvml_lib : "(off)", NULL);
    *out = d;
    return 0;
fail:
    gpux_daemon_free(d);
    return rc ? rc : OSP_EIO;
}

int
gpux_daemon_run(gpux_daemon *d)
{
    event_base_dispatch(d->base);
    gpux_worker_free(d->worker); /* no more collections or publishes */
    d->worker = NULL;
    if (!d->prod)
        return 0;
    (void)osp_daemon_flush_producer(d->prod, d->st.flush_timeout, "gpu-exporter",
                                    d->st.spool_dir != NULL && *d->st.spool_dir != '\0');
    return 0;
}

void
gpux_daemon_free(gpux_daemon *d)
{
    if (!d)
        return;
    osp_daemon_signals_free(d->sigs);
    osp_http_server_free(d->http);
    gpux_worker_free(d->worker);
    gpux_collector_free(d->coll);
    osp_bus_producer_free(d->prod);
    osp_metrics_free(d->reg);
    if (d->base)
        event_base_free(d->base);
    gpux_settings_fini(&d->st);
    osp_free(d);
}
