/* alert_notify.h - the notifier: one worker thread that takes notification
 * jobs from the dispatcher, checks the notification log (dedup, repeat,
 * resolved; shared through Redis with a SET NX claim so that two alerters send
 * once), renders the integration's payload, sends it with libcurl multi
 * (HTTP for webhook/Slack, SMTP for email) with retries and backoff, records
 * the notification log, and hands the job back to the loop. */
#ifndef ALERT_NOTIFY_H
#define ALERT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "alert_am_config.h"
#include "alert_tmpl.h"
#include "metrics.h"
#include "osp_buf.h"
#include "osp_err.h"

struct event_base;

typedef enum alert_int_kind {
    ALERT_INT_WEBHOOK = 0,
    ALERT_INT_SLACK,
    ALERT_INT_EMAIL,
} alert_int_kind;

typedef struct alert_notify_job alert_notify_job;

/* alert_notify_done_fn: called on the loop thread when a job finished; ok is
 * true when it was sent or needed no sending. The job is freed after it returns. */
typedef void (*alert_notify_done_fn)(void *ctx, alert_notify_job *job, bool ok);

/* A notification for one integration of one receiver about one group. The
 * dispatcher fills it; the notifier owns it after submit. */
struct alert_notify_job {
    alert_am_config *cfg; /* one reference, dropped when the job is freed */
    const alert_receiver *rcv;
    alert_int_kind kind;
    size_t idx;      /* which *_configs entry */
    char *group_key; /* "{}/{a=\"b\"}:{alertname=\"x\"}" */
    osp_labels group_labels;
    alert_alert **alerts; /* references; sorted by labels */
    size_t nalerts;
    int64_t now_ms;           /* the flush time: firing/resolved are judged at it */
    int64_t repeat_ms;        /* repeat_interval */
    int64_t deadline_ms;      /* give up retrying at (flush + group_interval) */
    const char *external_url; /* borrowed from the notifier's options */
    alert_notify_done_fn done;
    void *done_ctx;
    uint64_t tag; /* for the caller */
    void *priv;   /* notifier state */
};

/* The data every payload is rendered from (computed once per attempt). */
typedef struct alert_notify_data {
    const alert_notify_job *job;
    alert_alert **alerts; /* the alerts to send (after send_resolved filtering, max_alerts) */
    size_t n;
    size_t truncated;
    size_t nfiring, nresolved;
    osp_labels common_labels, common_annotations;
} alert_notify_data;

typedef struct alert_notifier alert_notifier;

typedef struct alert_notifier_opts {
    struct event_base *base;  /* the loop that receives completions */
    const char *redis_url;    /* NULL: notification log in memory only */
    const char *external_url; /* "http://host:9093" for payloads */
    osp_metrics *metrics;     /* osprey_alerter_notifications_* */
} alert_notifier_opts;

/* alert_notifier_new: start the worker thread. Errors: OSP_EINVAL (bad Redis
 * URL), OSP_EIO (thread or curl failure). Loop thread. */
int alert_notifier_new(const alert_notifier_opts *o, alert_notifier **out, osp_errinfo *ei);

/* alert_notifier_submit: queue job (ownership passes to the notifier). Loop thread. */
void alert_notifier_submit(alert_notifier *n, alert_notify_job *job);

/* alert_notifier_pending: jobs queued or in flight. Any thread. */
size_t alert_notifier_pending(alert_notifier *n);

/* alert_notifier_free: stop the thread; unfinished jobs are dropped (their
 * done callbacks are not called). NULL-safe. Loop thread. */
void alert_notifier_free(alert_notifier *n);

/* alert_notify_job_free: free a job and drop its references. NULL-safe. */
void alert_notify_job_free(alert_notify_job *job);

/* Payload renderers (alert_notify_{webhook,slack,email}.c). Each appends the
 * body for d to out. Any thread. */
void alert_render_webhook(const alert_notify_data *d, osp_buf *out);
int alert_render_slack(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei);
/* alert_render_email: the full RFC 5322 message (headers + MIME body). */
int alert_render_email(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei);

/* ---- templates (alert_notify_tmpl.c) ---- */

/* alert_default_templates: Alertmanager's default.tmpl definitions
 * (__subject, __alertmanagerURL, __text_alert_list, slack.default.*,
 * email.default.subject, email.default.html); every config parses it as its
 * last template library. */
extern const char alert_default_templates[];

/* alert_notify_tmpl_data: Alertmanager's notification template data for d:
 * .Receiver (regex-quoted, as Alertmanager does) .Status .Alerts (.Firing
 * .Resolved; per alert .Status .Labels .Annotations .StartsAt .EndsAt
 * .GeneratorURL .Fingerprint) .GroupLabels .CommonLabels .CommonAnnotations
 * .ExternalURL; label sets are KVs (.SortedPairs .Names .Values .Remove).
 * Memory from a. */
alert_tval alert_notify_tmpl_data(const alert_notify_data *d, osp_arena *a);

/* A template execution context for one rendering of d: the data, the
 * config's template libraries, an arena freed by _fini. */
typedef struct alert_notify_tctx {
    osp_arena *arena;
    alert_tmpl_env env;
} alert_notify_tctx;

void alert_notify_tctx_init(alert_notify_tctx *t, const alert_notify_data *d);
void alert_notify_tctx_fini(alert_notify_tctx *t);
/* alert_notify_tctx_exec: append tm's text (NULL tm: nothing) to out; an
 * execution error is OSP_EINVAL with the message in ei (the notification then
 * fails, as in Alertmanager). */
int alert_notify_tctx_exec(alert_notify_tctx *t, const alert_tmpl *tm, osp_buf *out,
                           osp_errinfo *ei);

/* Helpers shared by the renderers. */
const char *alert_notify_status(const alert_notify_data *d); /* "firing" / "resolved" */
bool alert_notify_alert_firing(const alert_notify_data *d, const alert_alert *a);
/* alert_fmt_time: Go's RFC3339Nano of unix ms ("2024-01-02T03:04:05.123Z"),
 * "0001-01-01T00:00:00Z" for 0. out >= 40. */
void alert_fmt_time(int64_t ms, char *out, size_t outsz);
/* alert_labels_go: Go's LabelSet.String(): {a="x", b="y"} */
void alert_labels_go(const osp_labels *ls, osp_buf *out);

#endif
