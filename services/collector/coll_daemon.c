/* coll_daemon.c - wiring: libevent loop with the HTTP server, signal events
 * and the file_sd timer; targets are recomputed on the loop and handed to the
 * scrape thread; samples go to the bus producer. */
#include "coll_daemon.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "coll_metrics.h"
#include "coll_scrape.h"
#include "coll_sd.h"
#include "coll_shard.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "osp_mem.h"
#include "osp_time.h"

struct coll_daemon {
    coll_config *cfg;
    const osp_cli *cli;
    struct event_base *base;
    struct event *ev_sd;
    osp_daemon_signals *sigs;
    osp_metrics *reg;
    coll_metrics cm;
    osp_http_server *http;
    osp_bus_producer *prod;
    coll_scraper *scr;
    coll_sd *sd;
    coll_shard *shard; /* NULL without --redis: this collector scrapes every target */
    char producer_id[256];
    int64_t last_ack_ms;
    uint64_t last_acked;
};

static int
publish(void *ctx, const void *a, size_t alen, const void *b, size_t blen)
{
    return osp_bus_producer_send2(ctx, 'm', a, alen, b, blen);
}

static void
push_targets(coll_daemon *d)
{
    coll_tset set = {0};
    for (size_t j = 0; j < d->cfg->njobs; j++) {
        const coll_job *job = &d->cfg->jobs[j];
        coll_tset_add_groups(&set, job, job->static_groups, job->nstatic);
        coll_sd_add_targets(d->sd, job, &set);
    }
    if (d->shard != NULL) {
        /* keep only the targets whose rendezvous hash picks this collector */
        size_t kept = 0;
        for (size_t i = 0; i < set.n; i++) {
            if (coll_shard_owns(d->shard, set.v[i].key))
                set.v[kept++] = set.v[i];
            else
                coll_tdef_fini(&set.v[i]);
        }
        set.n = kept;
    }
    coll_scraper_update(d->scr, d->cfg, &set);
}

static void
on_shard_change(void *ctx)
{
    push_targets(ctx);
}

static double
shard_members(void *ctx)
{
    coll_daemon *d = ctx;
    return d->shard ? (double)coll_shard_members(d->shard) : 1;
}

static void
on_sd_timer(evutil_socket_t fd, short what, void *arg)
{
    coll_daemon *d = arg;
    if (coll_sd_refresh(d->sd, d->cfg, osp_now_ms(), false))
        push_targets(d);
}

static bool
http_ready(void *ctx, osp_buf *why)
{
    coll_daemon *d = ctx;
    if (!coll_scraper_running(d->scr)) {
        osp_buf_puts(why, "scrape loop not running");
        return false;
    }
    return true;
}

static void
http_health(void *ctx, osp_buf *out)
{
    coll_daemon *d = ctx;
    osp_bus_producer_stats s;
    osp_bus_producer_get_stats(d->prod, &s);
    int64_t now = osp_now_ms();
    if (s.acked_batches != d->last_acked) {
        d->last_acked = s.acked_batches;
        d->last_ack_ms = now;
    }
    bool ok = s.spool_entries == 0 || now - d->last_ack_ms < 30000;
    osp_buf_printf(out, "\"store_link\":\"%s\",\"scrape_loop\":\"%s\"", ok ? "ok" : "spooling",
                   coll_scraper_running(d->scr) ? "ok" : "stopped");
}

static int
http_reload(void *ctx, osp_buf *msg)
{
    return coll_daemon_reload(ctx, msg);
}

static void
apply_log_level(const coll_config *cfg)
{
    osp_log_set_level(cfg->set.log_level);
}

static void
warn_restart_only(const coll_config *a, const coll_config *b)
{
    const char *keys[] = {"listen", "store_ingest", "store_ack", "spool_dir", "collector_id"};
    const char *va[] = {a->set.listen, a->set.store_ingest, a->set.store_ack, a->set.spool_dir,
                        a->set.collector_id};
    const char *vb[] = {b->set.listen, b->set.store_ingest, b->set.store_ack, b->set.spool_dir,
                        b->set.collector_id};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        bool same = (!va[i] && !vb[i]) || (va[i] && vb[i] && strcmp(va[i], vb[i]) == 0);
        if (!same)
            osp_log(OSP_LOG_WARN, "config", "setting changed; it takes effect after a restart",
                    "key", keys[i], NULL);
    }
}

int
coll_daemon_reload(coll_daemon *d, osp_buf *msg)
{
    coll_config *ncfg = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = coll_config_load(d->cfg->path, d->cli, &ncfg, &ei);
    if (rc) {
        char text[1024];
        osp_errinfo_format(&ei, text, sizeof(text));
        osp_buf_puts(msg, text);
        osp_log(OSP_LOG_ERROR, "config", "reload failed; keeping the running configuration",
                "error", text, NULL);
        if (d->cm.reload_failures)
            osp_metric_inc(d->cm.reload_failures);
        return rc;
    }
    warn_restart_only(d->cfg, ncfg);
    coll_config_unref(d->cfg);
    d->cfg = ncfg;
    apply_log_level(ncfg);
    coll_sd_refresh(d->sd, d->cfg, osp_now_ms(), true);
    push_targets(d);
    osp_metric_inc(d->cm.reloads);
    osp_log(OSP_LOG_INFO, "config", "configuration reloaded", "file", d->cfg->path, NULL);
    osp_buf_puts(msg, "reloaded");
    return 0;
}

static int
start_producer(coll_daemon *d, osp_errinfo *ei)
{
    const coll_settings *st = &d->cfg->set;
    osp_daemon_producer_opts po = {
        .kind = "collector",
        .id = st->collector_id,
        .http_port = osp_http_server_port(d->http),
        .ingest_url = st->store_ingest,
        .ack_url = st->store_ack,
        .spool_dir = st->spool_dir,
        .spool_max_bytes = st->spool_max_bytes,
        .acks_required = st->store_acks_required,
    };
    return osp_daemon_producer_new(&po, d->producer_id, sizeof(d->producer_id), &d->prod, ei);
}

int
coll_daemon_new(coll_config *cfg, const osp_cli *cli, coll_daemon **out, osp_errinfo *ei)
{
    coll_daemon *d = osp_calloc(1, sizeof(*d));
    d->cfg = coll_config_ref(cfg);
    d->cli = cli;
    d->last_ack_ms = osp_now_ms();
    apply_log_level(cfg);
    int rc = OSP_EIO;
    if (!(d->base = event_base_new())) {
        osp_errinfo_set(ei, OSP_EIO, 0, 0, "event_base_new failed");
        goto fail;
    }
    d->reg = osp_metrics_new();
    osp_metrics_add_process(d->reg);
    coll_metrics_init(&d->cm, d->reg);
    if ((rc = osp_http_server_new(d->base, cfg->set.listen, &d->http, ei)))
        goto fail;
    if ((rc = start_producer(d, ei)))
        goto fail;
    osp_daemon_export_producer(d->reg, d->prod);
    osp_http_std std = {
        .service = "collector",
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
    coll_scraper_opts so = {.publish = publish,
                            .publish_ctx = d->prod,
                            .metrics = &d->cm,
                            .ts_tolerance_ms = cfg->set.scrape_timestamp_tolerance};
    if ((rc = coll_scraper_new(&so, &d->scr, ei)))
        goto fail;
    d->sd = coll_sd_new();
    coll_sd_refresh(d->sd, d->cfg, osp_now_ms(), true);
    if (cfg->set.redis && *cfg->set.redis &&
        (rc = coll_shard_new(d->base, cfg->set.redis, d->producer_id, on_shard_change, d, &d->shard,
                             ei)))
        goto fail;
    osp_metrics_gauge_func(d->reg, "osprey_collector_shard_members",
                           "Collectors sharing the targets (1 without Redis).", shard_members, d);
    push_targets(d);
    d->sigs = osp_daemon_signals_new(d->base, "collector", http_reload, d);
    d->ev_sd = event_new(d->base, -1, EV_PERSIST, on_sd_timer, d);
    struct timeval tv = {.tv_sec = (time_t)(cfg->set.sd_check_interval / 1000),
                         .tv_usec = (suseconds_t)(cfg->set.sd_check_interval % 1000) * 1000};
    if (!d->sigs || !d->ev_sd || event_add(d->ev_sd, &tv)) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot register signal/timer events");
        goto fail;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", osp_http_server_port(d->http));
    osp_log(OSP_LOG_INFO, "collector", "collector started", "version", OSPREY_VERSION, "port", port,
            "producer_id", d->producer_id, "config", cfg->path, NULL);
    *out = d;
    return 0;
fail:
    coll_daemon_free(d);
    return rc ? rc : OSP_EIO;
}

int
coll_daemon_run(coll_daemon *d)
{
    event_base_dispatch(d->base);
    coll_scraper_stop(d->scr);
    const char *spool = d->cfg->set.spool_dir;
    (void)osp_daemon_flush_producer(d->prod, d->cfg->set.flush_timeout, "collector",
                                    spool != NULL && *spool != '\0');
    return 0;
}

void
coll_daemon_free(coll_daemon *d)
{
    if (!d)
        return;
    osp_daemon_signals_free(d->sigs);
    if (d->ev_sd)
        event_free(d->ev_sd);
    osp_http_server_free(d->http);
    coll_scraper_free(d->scr);
    coll_shard_free(d->shard);
    coll_sd_free(d->sd);
    osp_bus_producer_free(d->prod);
    osp_metrics_free(d->reg);
    if (d->base)
        event_base_free(d->base);
    coll_config_unref(d->cfg);
    osp_free(d);
}
