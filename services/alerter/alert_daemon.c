/* alert_daemon.c - loop wiring of osprey-alerter. Reload (SIGHUP, POST
 * /-/reload) re-reads alertmanager.yml and swaps it only when valid. */
#include "alert_daemon.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "alert_api.h"
#include "alert_dispatch.h"
#include "alert_notify.h"
#include "alert_rulemgr.h"
#include "alert_rules.h"
#include "daemon.h"
#include "alert_silence.h"
#include "alert_state.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "osp_mem.h"
#include "osp_time.h"

struct alert_daemon {
    const alert_conf *conf;
    const osp_cli *cli;
    alert_am_config *amc;
    struct event_base *base;
    osp_daemon_signals *sigs;
    struct event *ev_gc, *ev_sync;
    osp_metrics *reg;
    osp_http_server *http;
    alert_store *store;
    alert_redis *redis; /* the loop's own connection (silences) */
    alert_silences *sil;
    alert_notifier *notifier;
    alert_dispatch *dispatch;
    alert_api api;
    osp_metric *reloads, *reload_failures;
    osp_bus_producer *prod; /* recording results and ALERTS; NULL without store_ingest */
    char producer_id[256];
    alert_rulemgr *rules; /* NULL without rule files */
};

/* load_rules: the configured rule files, or NULL (*out) when none. */
static int
load_rules(const alert_conf *c, alert_ruleset **out, osp_errinfo *ei)
{
    *out = NULL;
    if (c->rule_files.n == 0)
        return 0;
    return alert_rules_load((const char *const *)c->rule_files.v, c->rule_files.n,
                            c->evaluation_interval_ms, out, ei);
}

static int
reload(alert_daemon *d, osp_buf *msg)
{
    alert_am_config *nc = NULL;
    alert_ruleset *rs = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = alert_am_config_load(d->conf->alertmanager_config, &nc, &ei);
    if (rc == 0 && (rc = load_rules(d->conf, &rs, &ei)) != 0)
        alert_am_config_unref(nc);
    if (rc) {
        char text[1024];
        osp_errinfo_format(&ei, text, sizeof(text));
        osp_buf_puts(msg, text);
        osp_log(OSP_LOG_ERROR, "config", "reload failed; keeping the running configuration",
                "error", text, NULL);
        osp_metric_inc(d->reload_failures);
        return rc;
    }
    alert_dispatch_set_config(d->dispatch, nc);
    alert_am_config_unref(d->amc);
    d->amc = nc;
    if (d->rules && rs)
        alert_rulemgr_set_rules(d->rules, rs);
    else
        alert_ruleset_free(rs);
    osp_metric_inc(d->reloads);
    osp_log(OSP_LOG_INFO, "config", "configuration reloaded", "file",
            nc->path ? nc->path : "(built-in)", NULL);
    osp_buf_puts(msg, "reloaded");
    return 0;
}

static int
http_reload(void *ctx, osp_buf *msg)
{
    return reload(ctx, msg);
}

static void
http_health(void *ctx, osp_buf *out)
{
    alert_daemon *d = ctx;
    osp_buf_printf(out, "\"redis\":\"%s\",\"notifier\":\"ok\"",
                   d->redis == NULL           ? "disabled"
                   : alert_redis_up(d->redis) ? "ok"
                                              : "down");
}

static void
on_gc(evutil_socket_t fd, short what, void *arg)
{
    alert_daemon *d = arg;
    alert_store_gc(d->store, osp_now_ms(), d->conf->resolved_retention_ms);
}

static void
on_sync(evutil_socket_t fd, short what, void *arg)
{
    alert_daemon *d = arg;
    alert_silences_sync(d->sil, osp_now_ms());
}

static double
alerts_gauge(void *ctx)
{
    return (double)alert_store_count(((alert_daemon *)ctx)->store);
}

static double
groups_gauge(void *ctx)
{
    return (double)alert_dispatch_groups(((alert_daemon *)ctx)->dispatch);
}

static double
silences_gauge(void *ctx)
{
    return (double)alert_silences_active(((alert_daemon *)ctx)->sil, osp_now_ms());
}

/* deliver: an alert of the rule evaluator enters like POST /api/v2/alerts. */
static void
deliver(void *ctx, alert_alert *a)
{
    alert_daemon *d = ctx;
    alert_alert *stored;
    alert_store_merge(d->store, a, osp_now_ms(), &stored);
    alert_dispatch_put(d->dispatch, stored);
}

static int
start_rules(alert_daemon *d, osp_errinfo *ei)
{
    const alert_conf *c = d->conf;
    alert_ruleset *rs = NULL;
    int rc = load_rules(c, &rs, ei);
    if (rc || rs == NULL)
        return rc;
    if (c->store_query == NULL || !*c->store_query) {
        alert_ruleset_free(rs);
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                               "rule_files need store_query (--store-query URL)");
    }
    if (c->store_ingest && *c->store_ingest) {
        osp_daemon_producer_opts po = {.kind = "alerter",
                                       .id = c->producer_id,
                                       .http_port = osp_http_server_port(d->http),
                                       .ingest_url = c->store_ingest,
                                       .ack_url = c->store_ack,
                                       .spool_dir = c->spool_dir,
                                       .spool_max_bytes = c->spool_max_bytes};
        if ((rc = osp_daemon_producer_new(&po, d->producer_id, sizeof(d->producer_id), &d->prod,
                                          ei))) {
            alert_ruleset_free(rs);
            return rc;
        }
        osp_daemon_export_producer(d->reg, d->prod);
    } else {
        osp_log(OSP_LOG_WARN, "rules",
                "no store_ingest: recording results and ALERTS series are not written", NULL);
    }
    char n[24];
    snprintf(n, sizeof(n), "%zu", rs->nrules);
    alert_rulemgr_opts ro = {.base = d->base,
                             .query_url = c->store_query,
                             .query_timeout_ms = c->query_timeout_ms,
                             .producer = d->prod,
                             .redis_url = c->redis,
                             .metrics = d->reg,
                             .external_url = c->external_url,
                             .external_labels = c->external_labels.n ? &c->external_labels : NULL,
                             .resend_delay_ms = c->resend_delay_ms,
                             .deliver = deliver,
                             .ctx = d};
    if ((rc = alert_rulemgr_new(&ro, rs, &d->rules, ei))) {
        alert_ruleset_free(rs);
        return rc;
    }
    osp_log(OSP_LOG_INFO, "rules", "rule evaluation started", "rules", n, "store_query",
            c->store_query, NULL);
    return 0;
}

static struct event *
timer(alert_daemon *d, int64_t ms, event_callback_fn fn)
{
    struct event *ev = event_new(d->base, -1, EV_PERSIST, fn, d);
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    if (ev)
        event_add(ev, &tv);
    return ev;
}

int
alert_daemon_new(const alert_conf *conf, const osp_cli *cli, alert_am_config *amc,
                 alert_daemon **out, osp_errinfo *ei)
{
    alert_daemon *d = osp_calloc(1, sizeof(*d));
    d->conf = conf;
    d->cli = cli;
    d->amc = alert_am_config_ref(amc);
    int rc = OSP_EIO;
    if (!(d->base = event_base_new())) {
        osp_errinfo_set(ei, OSP_EIO, 0, 0, "event_base_new failed");
        goto fail;
    }
    d->reg = osp_metrics_new();
    osp_metrics_add_process(d->reg);
    d->reloads = osp_metrics_counter(d->reg, "osprey_alerter_config_reloads_total",
                                     "Successful configuration reloads.");
    d->reload_failures = osp_metrics_counter(d->reg, "osprey_alerter_config_reload_failures_total",
                                             "Failed configuration reloads.");
    if ((rc = osp_http_server_new(d->base, conf->listen, &d->http, ei)))
        goto fail;
    if (conf->redis && *conf->redis) {
        if ((rc = alert_redis_new(conf->redis, "silences", &d->redis, ei)))
            goto fail;
    }
    d->store = alert_store_new();
    d->sil = alert_silences_new(d->redis);
    alert_silences_sync(d->sil, osp_now_ms());
    alert_notifier_opts no = {.base = d->base,
                              .redis_url = conf->redis,
                              .external_url = conf->external_url,
                              .metrics = d->reg};
    if ((rc = alert_notifier_new(&no, &d->notifier, ei)))
        goto fail;
    d->dispatch = alert_dispatch_new(d->base, d->amc, d->store, d->sil, d->notifier);
    d->api = (alert_api){.cfgp = &d->amc,
                         .store = d->store,
                         .dispatch = d->dispatch,
                         .silences = d->sil,
                         .rulesp = &d->rules,
                         .started_ms = osp_now_ms()};
    osp_metrics_gauge_func(d->reg, "osprey_alerter_alerts", "Alerts held (firing or resolved).",
                           alerts_gauge, d);
    osp_metrics_gauge_func(d->reg, "osprey_alerter_aggregation_groups",
                           "Aggregation groups of the dispatcher.", groups_gauge, d);
    osp_metrics_gauge_func(d->reg, "osprey_alerter_silences_active", "Active silences.",
                           silences_gauge, d);
    osp_http_std std = {.service = "alerter",
                        .version = OSPREY_VERSION,
                        .metrics = d->reg,
                        .health_checks = http_health,
                        .reload = http_reload,
                        .ctx = d};
    if ((rc = alert_api_routes(d->http, &d->api, d->reg)) ||
        (rc = osp_http_add_std(d->http, &std))) {
        osp_errinfo_set(ei, rc, 0, 0, "cannot register the HTTP routes");
        goto fail;
    }
    if ((rc = start_rules(d, ei)))
        goto fail;
    d->sigs = osp_daemon_signals_new(d->base, "alerter", http_reload, d);
    d->ev_gc = timer(d, conf->gc_interval_ms, on_gc);
    if (d->redis)
        d->ev_sync = timer(d, conf->silence_sync_ms, on_sync);
    if (!d->sigs || !d->ev_gc) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot register signal/timer events");
        goto fail;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", osp_http_server_port(d->http));
    osp_log(OSP_LOG_INFO, "alerter", "alerter started", "version", OSPREY_VERSION, "port", port,
            "alertmanager_config", amc->path ? amc->path : "(none: API only)", "redis",
            d->redis ? "enabled" : "disabled", NULL);
    *out = d;
    return 0;
fail:
    alert_daemon_free(d);
    return rc ? rc : OSP_EIO;
}

int
alert_daemon_run(alert_daemon *d)
{
    event_base_dispatch(d->base);
    alert_rulemgr_free(d->rules); /* no evaluation writes after this */
    d->rules = NULL;
    if (d->prod)
        (void)osp_daemon_flush_producer(d->prod, d->conf->flush_timeout_ms, "alerter",
                                        d->conf->spool_dir && *d->conf->spool_dir);
    size_t pending = alert_notifier_pending(d->notifier);
    if (pending) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", pending);
        osp_log(OSP_LOG_WARN, "alerter",
                "notifications in flight at shutdown are dropped; the notification log makes the "
                "next alerter resend them",
                "pending", n, NULL);
    }
    return 0;
}

void
alert_daemon_free(alert_daemon *d)
{
    if (d == NULL)
        return;
    alert_rulemgr_free(d->rules);
    osp_daemon_signals_free(d->sigs);
    struct event *evs[] = {d->ev_gc, d->ev_sync};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    alert_notifier_free(d->notifier); /* first: no completion reaches the dispatcher after */
    alert_dispatch_free(d->dispatch);
    osp_http_server_free(d->http);
    alert_silences_free(d->sil);
    alert_store_free(d->store);
    alert_redis_free(d->redis);
    osp_bus_producer_free(d->prod);
    osp_metrics_free(d->reg);
    if (d->base)
        event_base_free(d->base);
    alert_am_config_unref(d->amc);
    osp_free(d);
}
