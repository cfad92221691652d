/* alert_api.h - Alertmanager API v2 on the alerter's HTTP server: alerts
 * (POST, GET with filters), silences CRUD, status, receivers; and the rule
 * evaluator's Prometheus API v1 rules and alerts. Handlers run on
 * the loop and end in exactly one reply. */
#ifndef ALERT_API_H
#define ALERT_API_H

#include "alert.h"
#include "alert_dispatch.h"
#include "alert_rulemgr.h"
#include "alert_silence.h"
#include "http.h"
#include "metrics.h"

/* State the handlers share; owned by the daemon, borrowed here. cfg may be
 * swapped on reload (through *cfgp). */
typedef struct alert_api {
    alert_am_config **cfgp;
    alert_store *store;
    alert_dispatch *dispatch;
    alert_silences *silences;
    alert_rulemgr **rulesp; /* the rule evaluator (NULL *rulesp: no rule files) */
    int64_t started_ms;
    osp_metric *received, *invalid;
} alert_api;

/* alert_api_routes: register the /api/v2 routes and Prometheus' /api/v1/rules
 * and /api/v1/alerts (the rule evaluator's groups and alerts). Returns 0 or the
 * osp_http_route error. Loop thread. */
int alert_api_routes(osp_http_server *srv, alert_api *a, osp_metrics *reg);

/* alert_api_put_alerts: validate and ingest a JSON array of postable alerts
 * (body[0..len)); valid alerts are kept even when others are rejected.
 * Returns the number accepted; errors (one line per rejected alert, or the
 * JSON syntax error) are appended to errs. Loop thread. */
size_t alert_api_put_alerts(alert_api *a, const char *body, size_t len, osp_buf *errs);

#endif
