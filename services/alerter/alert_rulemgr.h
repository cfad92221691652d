/* alert_rulemgr.h - the rule evaluator of osprey-alerter: one thread that
 * runs every group at its interval (queries block, so not on the loop),
 * publishes recording results and ALERTS / ALERTS_FOR_STATE through the bus
 * producer, keeps `for` state in Redis (osprey:alerter:for:<group hash>) so a
 * restart resumes it, and hands alerts to the loop (deliver callback). */
#ifndef ALERT_RULEMGR_H
#define ALERT_RULEMGR_H

#include <stdint.h>

#include "alert.h"
#include "alert_eval.h"
#include "alert_rules.h"
#include "bus.h"
#include "metrics.h"

struct event_base;

typedef struct alert_rulemgr alert_rulemgr;

typedef struct alert_rulemgr_opts {
    struct event_base *base; /* deliver runs on this loop */
    const char *query_url;   /* the store's query REP; required */
    int64_t query_timeout_ms;
    osp_bus_producer *producer; /* NULL: nothing is written back */
    const char *redis_url;      /* NULL: `for` state is in memory only */
    osp_metrics *metrics;
    const osp_labels *external_labels; /* borrowed; may be NULL */
    const char *external_url;
    int64_t resend_delay_ms;
    void (*deliver)(void *ctx, alert_alert *a); /* loop thread; callee takes a ref */
    void *ctx;
} alert_rulemgr_opts;

/* alert_rulemgr_new: start the evaluator with rs (ownership taken on
 * success). Errors: OSP_EINVAL (query URL, Redis URL), OSP_EIO. */
int alert_rulemgr_new(const alert_rulemgr_opts *o, alert_ruleset *rs, alert_rulemgr **out,
                      osp_errinfo *ei);

/* alert_rulemgr_set_rules: replace the rules (ownership taken); the thread
 * switches before its next evaluation, carrying alert state over by group and
 * rule name. Any thread. */
void alert_rulemgr_set_rules(alert_rulemgr *m, alert_ruleset *rs);

/* alert_rulemgr_rules_json: Prometheus' /api/v1/rules response (envelope
 * included) from the groups' state after their last evaluation, filtered by
 * f. alert_rulemgr_alerts_json: /api/v1/alerts (pending and firing alerts).
 * m may be NULL (no rule files: empty lists). Loop thread (any thread). */
void alert_rulemgr_rules_json(alert_rulemgr *m, alert_rules_filter f, osp_buf *out);
void alert_rulemgr_alerts_json(alert_rulemgr *m, osp_buf *out);

/* alert_rulemgr_free: stop the thread (an evaluation in flight finishes),
 * free everything. NULL-safe. Loop thread. */
void alert_rulemgr_free(alert_rulemgr *m);

#endif
