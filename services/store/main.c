/* main.c - osprey-store: flags and config, signals, the HTTP loop and the
 * ingest thread. Everything else lives in store_*.c. */
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_api.h"
#include "store_conf.h"
#include "store_head.h"
#include "store_ingest.h"
#include "store_pg.h"
#include "store_rep.h"
#include "store_stats.h"

typedef struct app {
    const osp_cli *cli;
    store_conf conf;
    struct event_base *base;
    store_ingest *ingest;
    store_api api;
    store_rep *rep; /* NNG query server (QueryRequest) */
} app;

static bool
ready_cb(void *ctx, osp_buf *why)
{
    app *a = ctx;
    return store_ingest_ready(a->ingest, why);
}

static void
health_cb(void *ctx, osp_buf *out)
{
    app *a = ctx;
    osp_buf_printf(out, "\"postgres\":\"%s\",\"head\":\"%s\",\"nng\":\"ok\"",
                   store_ingest_pg_up(a->ingest) ? "ok" : "down",
                   store_ingest_replayed(a->ingest) ? "ok" : "replaying");
}

static bool
str_changed(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") != 0;
}

/* Reload: build and validate a new config; apply what can change at run
 * time, keep the rest and say so. */
static int
reload_cb(void *ctx, osp_buf *msg)
{
    app *a = ctx;
    store_conf nc;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = store_conf_load(&nc, a->cli, &ei);
    if (rc != 0) {
        char line[1024];
        osp_errinfo_format(&ei, line, sizeof(line));
        osp_buf_printf(msg, "config not reloaded: %s", line);
        osp_log(OSP_LOG_ERROR, "store", "config reload failed; keeping the old one", "error", line,
                NULL);
        store_conf_fini(&nc);
        return rc;
    }
    if (str_changed(nc.listen, a->conf.listen) || str_changed(nc.pg, a->conf.pg) ||
        str_changed(nc.ingest, a->conf.ingest) || str_changed(nc.ack, a->conf.ack) ||
        str_changed(nc.query, a->conf.query) || str_changed(nc.store_id, a->conf.store_id) ||
        nc.query_cache != a->conf.query_cache)
        osp_log(OSP_LOG_WARN, "store",
                "listen, pg, ingest, ack, query, store_id and query_cache change only on restart",
                NULL);
    osp_log_set_level(nc.log_level);
    a->conf.log_level = nc.log_level;
    a->conf.retention_ms = nc.retention_ms;
    store_ingest_set_retention(a->ingest, nc.retention_ms);
    a->api.lookback_ms = nc.lookback_delta_ms;
    a->api.query_timeout_ms = nc.query_timeout_ms;
    a->api.max_samples = nc.max_samples;
    if (a->rep != NULL)
        store_rep_set_limits(a->rep, nc.lookback_delta_ms, nc.query_timeout_ms, nc.max_samples);
    store_conf_fini(&nc);
    osp_log(OSP_LOG_INFO, "store", "config reloaded", NULL);
    return 0;
}

static void
on_signal(evutil_socket_t sig, short what, void *ctx)
{
    (void)what;
    app *a = ctx;
    if (sig == SIGHUP) {
        osp_buf msg;
        osp_buf_init(&msg);
        reload_cb(a, &msg);
        osp_buf_fini(&msg);
        return;
    }
    osp_log(OSP_LOG_INFO, "store", "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            NULL);
    event_base_loopbreak(a->base);
}

static void
fail_conf(const char *what, const osp_errinfo *ei)
{
    char line[1024];
    osp_errinfo_format(ei, line, sizeof(line));
    fprintf(stderr, "osprey-store: %s%s\n", what, line);
}

int
main(int argc, char **argv)
{
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    app a;
    memset(&a, 0, sizeof(a));
    a.cli = &cli;
    int status = 1;
    osp_http_server *srv = NULL;
    osp_metrics *reg = NULL;
    store_head *head = NULL;
    store_qcache *qcache = NULL;
    osp_bus_consumer *consumer = NULL;
    store_stats stats;
    struct event *sigs[3] = {NULL, NULL, NULL};

    if (osp_cli_parse(&cli, argc, argv, store_conf_flags, store_conf_nflags, &ei) != 0) {
        fprintf(stderr, "osprey-store: %s (see --help)\n", ei.msg);
        osp_cli_fini(&cli);
        return 2;
    }
    if (cli.help) {
        osp_cli_usage(
            stdout, "osprey-store",
            "Osprey store: ingests batches into PostgreSQL and serves the Prometheus API.",
            store_conf_flags, store_conf_nflags, store_conf_schema, store_conf_nschema);
        osp_cli_fini(&cli);
        return 0;
    }
    if (cli.version) {
        printf("osprey-store %s\n", OSPREY_VERSION);
        osp_cli_fini(&cli);
        return 0;
    }
    if (store_conf_load(&a.conf, &cli, &ei) != 0) {
        fail_conf("bad configuration: ", &ei);
        goto out;
    }
    if (cli.check_config) {
        printf("configuration OK\n");
        status = 0;
        goto out;
    }
    osp_log_set_level(a.conf.log_level);
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    a.base = event_base_new();
    if (a.base == NULL) {
        fprintf(stderr, "osprey-store: cannot create the event loop\n");
        goto out;
    }
    if (osp_http_server_new(a.base, a.conf.listen, &srv, &ei) != 0) {
        fail_conf("cannot listen for HTTP: ", &ei);
        goto out;
    }
    reg = osp_metrics_new();
    head = store_head_new();
    if (a.conf.query_cache > 0) {
        qcache = store_qcache_new(a.conf.query_cache);
        store_head_set_qcache(head, qcache);
    }
    /* raw_metrics: the ingest path reads batches with bus_wire.h */
    osp_bus_consumer_opts bo = {.ingest_url = a.conf.ingest,
                                .ack_url = a.conf.ack,
                                .store_id = a.conf.store_id,
                                .raw_metrics = true};
    if (osp_bus_consumer_new(&bo, &consumer, &ei) != 0) {
        fail_conf("cannot listen on the bus: ", &ei);
        goto out;
    }
    store_stats_init(&stats, reg, head, &consumer);
    store_ingest_opts io = {.conninfo = a.conf.pg,
                            .head = head,
                            .stats = &stats,
                            .consumer = consumer,
                            .retention_ms = a.conf.retention_ms,
                            .retention_size = a.conf.retention_size,
                            .head_window_ms = a.conf.head_window_ms,
                            .chunk_max_age_ms = a.conf.chunk_max_age_ms,
                            .compaction_window_ms = a.conf.compaction_window_ms};
    if (store_ingest_start(&io, &a.ingest) != 0) {
        fprintf(stderr, "osprey-store: cannot start the ingest thread\n");
        goto out;
    }
    a.api = (store_api){.head = head,
                        .ingest = a.ingest,
                        .stats = &stats,
                        .lookback_ms = a.conf.lookback_delta_ms,
                        .query_timeout_ms = a.conf.query_timeout_ms,
                        .max_samples = a.conf.max_samples,
                        .import_pg = store_pg_new(a.conf.pg, "import")};
    snprintf(a.api.import_producer, sizeof(a.api.import_producer), "import/%s/%lld",
             a.conf.store_id, (long long)osp_now_ms());
    osp_http_std std = {.service = "store",
                        .version = OSPREY_VERSION,
                        .metrics = reg,
                        .ready = ready_cb,
                        .health_checks = health_cb,
                        .reload = reload_cb,
                        .ctx = &a};
    if (store_api_routes(srv, &a.api) != 0 || osp_http_add_std(srv, &std) != 0) {
        fprintf(stderr, "osprey-store: cannot register HTTP routes\n");
        goto out;
    }
    if (a.conf.query != NULL && *a.conf.query) {
        store_rep_opts ro = {.url = a.conf.query,
                             .head = head,
                             .conninfo = a.conf.pg,
                             .ingest = a.ingest,
                             .stats = &stats,
                             .lookback_ms = a.conf.lookback_delta_ms,
                             .query_timeout_ms = a.conf.query_timeout_ms,
                             .max_samples = a.conf.max_samples};
        if (store_rep_start(&ro, &a.rep, &ei) != 0) {
            fail_conf("cannot listen for queries: ", &ei);
            goto out;
        }
    }
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(a.base, signums[i], on_signal, &a);
        event_add(sigs[i], NULL);
    }
    {
        osp_buf masked;
        osp_buf_init(&masked);
        store_conninfo_mask(a.conf.pg, &masked);
        char port[16];
        snprintf(port, sizeof(port), "%d", osp_http_server_port(srv));
        osp_log(OSP_LOG_INFO, "store", "started", "version", OSPREY_VERSION, "listen",
                a.conf.listen, "port", port, "ingest", a.conf.ingest, "ack", a.conf.ack, "query",
                a.conf.query ? a.conf.query : "", "store_id", a.conf.store_id, "pg",
                osp_buf_cstr(&masked), NULL);
        osp_buf_fini(&masked);
    }
    event_base_dispatch(a.base);
    status = 0;
out:
    /* order: stop queries, then ingest (finishes its commit and acks), then the bus, then HTTP */
    store_rep_stop(a.rep);
    store_ingest_stop(a.ingest);
    osp_bus_consumer_free(consumer);
    for (int i = 0; i < 3; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    osp_http_server_free(srv);
    store_pg_free(a.api.import_pg);
    store_head_free(head);
    store_qcache_free(qcache);
    osp_metrics_free(reg);
    if (a.base != NULL)
        event_base_free(a.base);
    store_conf_fini(&a.conf);
    osp_cli_fini(&cli);
    if (status == 0 && a.base != NULL)
        osp_log(OSP_LOG_INFO, "store", "stopped", NULL);
    return status;
}
