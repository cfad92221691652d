/* alert_eval.h - evaluation of one rule group at a timestamp, with
 * Prometheus' alert lifecycle (rules/alerting.go): pending -> firing after
 * `for`, keep_firing_for, resolved alerts kept 15 minutes, resend delay,
 * ValidUntil = ts + 4 x max(interval, resend delay); recording rules; ALERTS
 * and ALERTS_FOR_STATE samples and staleness markers. No I/O of its own: the
 * query, the sample sink and the alert sink are callbacks (fakes in tests). */
#ifndef ALERT_EVAL_H
#define ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alert_rules.h"
#include "osp_buf.h"
#include "osp_labels.h"

#define ALERT_RESOLVED_RETENTION_MS (15 * 60 * 1000)

typedef enum alert_state { ALERT_INACTIVE = 0, ALERT_PENDING, ALERT_FIRING } alert_state;

/* One element of a query result. */
typedef struct alert_qsample {
    osp_labels labels;
    double v;
} alert_qsample;

typedef struct alert_qresult {
    alert_qsample *v;
    size_t n;
} alert_qresult;

void alert_qresult_fini(alert_qresult *r); /* frees the samples */

typedef struct alert_eval_env {
    /* query: instant query of expr at t_ms into *out (zeroed; filled on
     * success; scalars as one sample without labels). 0 or an error with ei. */
    int (*query)(void *ctx, const char *expr, int64_t t_ms, alert_qresult *out, osp_errinfo *ei);
    /* sample: one output sample (recording results, ALERTS, ALERTS_FOR_STATE,
     * stale markers); labels sorted, borrowed for the call. */
    void (*sample)(void *ctx, const osp_labels *labels, int64_t t_ms, double v);
    /* send: an alert for the dispatcher (sealed; the callee takes a ref). */
    void (*send)(void *ctx, alert_alert *a);
    void *ctx;
    const osp_labels *external_labels; /* may be NULL */
    const char *external_url;          /* generatorURL base; may be NULL */
    int64_t resend_delay_ms;           /* 0 = 1m */
} alert_eval_env;

/* One alert instance of an alerting rule. */
typedef struct alert_instance {
    osp_labels labels; /* final labels incl. alertname, sorted */
    osp_labels annotations;
    uint64_t fp;
    alert_state state;
    double value;
    int64_t active_at, fired_at, resolved_at, last_sent_at, keep_firing_since, valid_until;
} alert_instance;

typedef struct alert_rule_eval {
    const alert_rule *rule;
    alert_instance *inst;
    size_t n, cap;
    osp_labels *prev; /* recording: series written last time (for stale markers) */
    size_t nprev;
    bool ok; /* last evaluation succeeded */
    char last_error[512];
    int64_t last_eval_ms;
    double eval_seconds;
} alert_rule_eval;

/* A restored `for` state: fingerprint of an instance -> activeAt. */
typedef struct alert_for_restore {
    char *rule;
    uint64_t fp;
    int64_t active_at;
} alert_for_restore;

typedef struct alert_group_eval {
    const alert_group *group; /* borrowed from its ruleset */
    alert_rule_eval *rules;
    size_t nrules;
    osp_labels *prev_alerts; /* ALERTS/ALERTS_FOR_STATE series written last time */
    size_t nprev_alerts;
    alert_for_restore *restore; /* applied when an instance first appears */
    size_t nrestore;
    uint64_t failures;    /* evaluations with at least one failed rule */
    int64_t last_eval_ms; /* 0 = never evaluated */
    double eval_seconds;  /* duration of the last evaluation */
} alert_group_eval;

/* alert_group_eval_new: state for g (borrowed); when old (same group name
 * and file) is given, instances of rules with the same name and kind carry
 * over (a reload keeps `for` progress). */
alert_group_eval *alert_group_eval_new(const alert_group *g, const alert_group_eval *old);
void alert_group_eval_free(alert_group_eval *ge); /* NULL-safe */

/* alert_group_eval_restore: remember activeAt for (rule, fp) from a previous
 * run; used when the instance appears again (restart keeps `for`). */
void alert_group_eval_restore(alert_group_eval *ge, const char *rule, uint64_t fp,
                              int64_t active_at);

/* alert_group_eval_run: evaluate every rule of the group at ts (sequentially;
 * a failing rule keeps its state and the others still run). Returns the
 * number of rules that failed. */
size_t alert_group_eval_run(alert_group_eval *ge, int64_t ts, const alert_eval_env *env);

/* alert_state_name: "inactive", "pending", "firing". */
const char *alert_state_name(alert_state s);

/* ---- Prometheus' /api/v1/rules and /api/v1/alerts (alert_rules_json.c) ---- */

typedef enum alert_rules_filter {
    ALERT_RULES_ALL = 0,
    ALERT_RULES_ALERTING, /* type=alert */
    ALERT_RULES_RECORDING /* type=record */
} alert_rules_filter;

/* alert_group_eval_json: append the group object of /api/v1/rules for ge
 * (name, file, rules, interval, limit, evaluationTime, lastEvaluation; each
 * rule with state/alerts, health ok|err|unknown, lastError...). Returns false
 * (and appends nothing) when the filter leaves no rule. */
bool alert_group_eval_json(const alert_group_eval *ge, alert_rules_filter f, osp_buf *out);

/* alert_group_eval_alerts_json: append the active (pending, firing) alerts of
 * ge as /api/v1/alerts objects (labels, annotations, state, activeAt,
 * [keepFiringSince,] value in Go's %e), each preceded by a comma unless
 * *first (which is then cleared). */
void alert_group_eval_alerts_json(const alert_group_eval *ge, bool *first, osp_buf *out);

/* alert_fmt_go_e: Go's strconv.FormatFloat(v, 'e', -1, 64): "1e+00", "4.2e+01",
 * "NaN", "+Inf". */
void alert_fmt_go_e(double v, osp_buf *out);

#endif
