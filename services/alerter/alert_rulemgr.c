/* alert_rulemgr.c - scheduling of rule groups on the evaluator thread, the
 * write-back of samples, `for` state in Redis, and the hand-off of alerts. */
#include "alert_rulemgr.h"

#include <event2/event.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_eval.h"
#include "alert_query.h"
#include "alert_state.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

typedef struct sched {
    alert_group_eval *ge;
    int64_t next_ms;
    bool restored; /* `for` state read from Redis */
    char key[64];  /* osprey:alerter:for:<hash> */
    osp_metric *evals, *failures;
} sched;

/* The API's view of one group, rendered by the thread after each evaluation. */
typedef struct gsnap {
    char *rules[3]; /* by alert_rules_filter; NULL when the filter leaves no rule */
    char *alerts;   /* comma-separated alert objects, "" when none */
} gsnap;

struct alert_rulemgr {
    alert_rulemgr_opts o;
    pthread_mutex_t snap_mu; /* guards snap (the loop reads, the thread writes) */
    gsnap *snap;
    size_t nsnap;
    alert_query *query;
    alert_redis *redis; /* owned by the thread */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    alert_ruleset *pending_rs; /* set by set_rules, taken by the thread */
    alert_alert **outq;        /* alerts for the loop */
    size_t noutq, capoutq;
    struct event *wake;
    /* thread-only */
    alert_ruleset *rs;
    sched *groups;
    size_t ngroups;
    osp_mbatch *batch;
    osp_buf pb;
    osp_ratelim query_rl;
    osp_metric *evals_vec, *failures_vec;
};

/* ---------------- eval callbacks (thread) ---------------- */

static int
cb_query(void *ctx, const char *expr, int64_t t_ms, alert_qresult *out, osp_errinfo *ei)
{
    alert_rulemgr *m = ctx;
    return alert_query_instant(m->query, expr, t_ms, out, ei);
}

static void
cb_sample(void *ctx, const osp_labels *labels, int64_t t_ms, double v)
{
    alert_rulemgr *m = ctx;
    if (m->o.producer)
        osp_mbatch_add_series(m->batch, labels, &t_ms, &v, 1);
}

static void
cb_send(void *ctx, alert_alert *a)
{
    alert_rulemgr *m = ctx;
    pthread_mutex_lock(&m->mu);
    if (m->noutq == m->capoutq) {
        m->capoutq = m->capoutq ? m->capoutq * 2 : 64;
        m->outq = osp_reallocarray(m->outq, m->capoutq, sizeof(*m->outq));
    }
    m->outq[m->noutq++] = alert_alert_ref(a);
    pthread_mutex_unlock(&m->mu);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    alert_rulemgr *m = arg;
    pthread_mutex_lock(&m->mu);
    alert_alert **q = m->outq;
    size_t n = m->noutq;
    m->outq = NULL;
    m->noutq = m->capoutq = 0;
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        m->o.deliver(m->o.ctx, q[i]);
        alert_alert_unref(q[i]);
    }
    osp_free(q);
}

/* ---------------- `for` state in Redis ---------------- */

static void
restore_for(alert_rulemgr *m, sched *s)
{
    s->restored = true;
    if (m->redis == NULL)
        return;
    const char *argv[] = {"HGETALL", s->key};
    redisReply *r = alert_redis_cmd(m->redis, 2, argv);
    if (r == NULL)
        return;
    size_t n = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *v = r->element[i + 1]->str;
        const char *sep = f ? strrchr(f, '\x1f') : NULL;
        if (sep == NULL || v == NULL)
            continue;
        char rule[512];
        snprintf(rule, sizeof(rule), "%.*s", (int)(sep - f), f);
        alert_group_eval_restore(s->ge, rule, strtoull(sep + 1, NULL, 16), strtoll(v, NULL, 10));
        n++;
    }
    freeReplyObject(r);
    if (n) {
        char c[24];
        snprintf(c, sizeof(c), "%zu", n);
        osp_log(OSP_LOG_INFO, "rules", "restored `for` state from Redis", "group",
                s->ge->group->name, "alerts", c, NULL);
    }
}

static void
persist_for(alert_rulemgr *m, sched *s)
{
    if (m->redis == NULL)
        return;
    size_t cap = 8, argc = 2;
    for (size_t r = 0; r < s->ge->nrules; r++)
        cap += 2 * s->ge->rules[r].n;
    const char **argv = osp_calloc(cap, sizeof(*argv));
    char **owned = osp_calloc(cap, sizeof(*owned));
    size_t nowned = 0;
    argv[0] = "HSET";
    argv[1] = s->key;
    for (size_t r = 0; r < s->ge->nrules; r++) {
        const alert_rule_eval *re = &s->ge->rules[r];
        for (size_t i = 0; i < re->n; i++) {
            if (re->inst[i].state == ALERT_INACTIVE)
                continue;
            char f[600], v[32];
            snprintf(f, sizeof(f), "%s\x1f%016" PRIx64, re->rule->name, re->inst[i].fp);
            snprintf(v, sizeof(v), "%" PRId64, re->inst[i].active_at);
            argv[argc++] = owned[nowned++] = osp_strdup(f);
            argv[argc++] = owned[nowned++] = osp_strdup(v);
        }
    }
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", s->key}, *exec[] = {"EXEC"};
    const char *exp[] = {"PEXPIRE", s->key, "3600000"}; /* Prometheus' for-outage-tolerance */
    redisReply *r = alert_redis_cmd(m->redis, 1, multi);
    if (r) {
        freeReplyObject(r);
        if ((r = alert_redis_cmd(m->redis, 2, del)))
            freeReplyObject(r);
        if (argc > 2 && (r = alert_redis_cmd(m->redis, (int)argc, argv)))
            freeReplyObject(r);
        if ((r = alert_redis_cmd(m->redis, 3, exp)))
            freeReplyObject(r);
        if ((r = alert_redis_cmd(m->redis, 1, exec)))
            freeReplyObject(r);
    }
    for (size_t i = 0; i < nowned; i++)
        osp_free(owned[i]);
    osp_free(owned);
    osp_free(argv);
}

/* ---------------- API snapshots ---------------- */

static void
gsnap_fini(gsnap *g)
{
    for (size_t k = 0; k < 3; k++)
        osp_free(g->rules[k]);
    osp_free(g->alerts);
}

static void
render_snap(const alert_group_eval *ge, gsnap *g)
{
    osp_buf b;
    for (size_t k = 0; k < 3; k++) {
        osp_buf_init(&b);
        g->rules[k] =
            alert_group_eval_json(ge, (alert_rules_filter)k, &b) ? osp_buf_steal(&b, NULL) : NULL;
        osp_buf_fini(&b);
    }
    osp_buf_init(&b);
    bool first = true;
    alert_group_eval_alerts_json(ge, &first, &b);
    g->alerts = osp_buf_steal(&b, NULL);
    osp_buf_fini(&b);
}

/* snapshot_all: after adopt, every group (never evaluated yet, or carried over). */
static void
snapshot_all(alert_rulemgr *m)
{
    gsnap *ns = osp_calloc(m->ngroups + 1, sizeof(*ns));
    for (size_t i = 0; i < m->ngroups; i++)
        render_snap(m->groups[i].ge, &ns[i]);
    pthread_mutex_lock(&m->snap_mu);
    gsnap *old = m->snap;
    size_t nold = m->nsnap;
    m->snap = ns;
    m->nsnap = m->ngroups;
    pthread_mutex_unlock(&m->snap_mu);
    for (size_t i = 0; i < nold; i++)
        gsnap_fini(&old[i]);
    osp_free(old);
}

static void
snapshot_one(alert_rulemgr *m, size_t idx)
{
    gsnap g;
    render_snap(m->groups[idx].ge, &g);
    pthread_mutex_lock(&m->snap_mu);
    gsnap old = m->snap[idx];
    m->snap[idx] = g;
    pthread_mutex_unlock(&m->snap_mu);
    gsnap_fini(&old);
}

void
alert_rulemgr_rules_json(alert_rulemgr *m, alert_rules_filter f, osp_buf *out)
{
    osp_buf_puts(out, "{\"status\":\"success\",\"data\":{\"groups\":[");
    bool first = true;
    if (m)
        pthread_mutex_lock(&m->snap_mu);
    for (size_t i = 0; m && i < m->nsnap; i++) {
        if (m->snap[i].rules[f] == NULL)
            continue;
        if (!first)
            osp_buf_putc(out, ',');
        first = false;
        osp_buf_puts(out, m->snap[i].rules[f]);
    }
    if (m)
        pthread_mutex_unlock(&m->snap_mu);
    osp_buf_puts(out, "]}}");
}

void
alert_rulemgr_alerts_json(alert_rulemgr *m, osp_buf *out)
{
    osp_buf_puts(out, "{\"status\":\"success\",\"data\":{\"alerts\":[");
    bool first = true;
    if (m)
        pthread_mutex_lock(&m->snap_mu);
    for (size_t i = 0; m && i < m->nsnap; i++) {
        if (!m->snap[i].alerts[0])
            continue;
        if (!first)
            osp_buf_putc(out, ',');
        first = false;
        osp_buf_puts(out, m->snap[i].alerts);
    }
    if (m)
        pthread_mutex_unlock(&m->snap_mu);
    osp_buf_puts(out, "]}}");
}

/* ---------------- scheduling (thread) ---------------- */

static void
adopt(alert_rulemgr *m, alert_ruleset *rs)
{
    sched *ng = osp_calloc(rs->ngroups + 1, sizeof(*ng));
    int64_t now = osp_now_ms();
    for (size_t i = 0; i < rs->ngroups; i++) {
        const alert_group *g = &rs->groups[i];
        sched *old = NULL;
        for (size_t j = 0; j < m->ngroups && !old; j++)
            if (strcmp(m->groups[j].ge->group->name, g->name) == 0 &&
                strcmp(m->groups[j].ge->group->file, g->file) == 0)
                old = &m->groups[j];
        ng[i].ge = alert_group_eval_new(g, old ? old->ge : NULL);
        ng[i].restored = old ? old->restored : false;
        ng[i].next_ms = old ? old->next_ms : now;
        char id[600];
        snprintf(id, sizeof(id), "%s\x1f%s", g->file, g->name);
        snprintf(ng[i].key, sizeof(ng[i].key), "osprey:alerter:for:%016" PRIx64,
                 osp_hash64(id, strlen(id), 0));
        const char *lv[] = {g->name};
        ng[i].evals = osp_metric_with(m->evals_vec, lv);
        ng[i].failures = osp_metric_with(m->failures_vec, lv);
    }
    for (size_t j = 0; j < m->ngroups; j++)
        alert_group_eval_free(m->groups[j].ge);
    osp_free(m->groups);
    alert_ruleset_free(m->rs);
    m->rs = rs;
    m->groups = ng;
    m->ngroups = rs->ngroups;
    snapshot_all(m);
}

static void
flush_batch(alert_rulemgr *m)
{
    if (m->o.producer == NULL || osp_mbatch_series_count(m->batch) == 0)
        return;
    osp_buf_reset(&m->pb);
    osp_mbatch_encode(m->batch, &m->pb);
    osp_bus_producer_send(m->o.producer, 'm', m->pb.data, m->pb.len);
    osp_mbatch_reset(m->batch);
}

static void
run_group(alert_rulemgr *m, sched *s, int64_t now)
{
    if (!s->restored)
        restore_for(m, s);
    alert_eval_env env = {.query = cb_query,
                          .sample = cb_sample,
                          .send = cb_send,
                          .ctx = m,
                          .external_labels = m->o.external_labels,
                          .external_url = m->o.external_url,
                          .resend_delay_ms = m->o.resend_delay_ms};
    size_t failed = alert_group_eval_run(s->ge, now, &env);
    snapshot_one(m, (size_t)(s - m->groups)); /* before the metrics that tests wait on */
    osp_metric_inc(s->evals);
    if (failed) {
        osp_metric_inc(s->failures);
        uint64_t sup = 0;
        if (osp_ratelim_fail(&m->query_rl, now, &sup)) {
            const char *err = "";
            for (size_t i = 0; i < s->ge->nrules && !*err; i++)
                err = s->ge->rules[i].last_error;
            osp_log(OSP_LOG_WARN, "rules", "rule evaluation failed; rules keep their state",
                    "group", s->ge->group->name, "error", err, NULL);
        }
    } else if (osp_ratelim_ok(&m->query_rl)) {
        osp_log(OSP_LOG_INFO, "rules", "rule evaluation works again", NULL);
    }
    flush_batch(m);
    persist_for(m, s);
    pthread_mutex_lock(&m->mu);
    bool any = m->noutq > 0;
    pthread_mutex_unlock(&m->mu);
    if (any)
        event_active(m->wake, EV_READ, 0);
}

static void *
thread_main(void *arg)
{
    alert_rulemgr *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        if (m->pending_rs) {
            alert_ruleset *rs = m->pending_rs;
            m->pending_rs = NULL;
            pthread_mutex_unlock(&m->mu);
            adopt(m, rs);
            pthread_mutex_lock(&m->mu);
            continue;
        }
        int64_t now = osp_now_ms();
        sched *due = NULL;
        for (size_t i = 0; i < m->ngroups; i++)
            if (due == NULL || m->groups[i].next_ms < due->next_ms)
                due = &m->groups[i];
        if (due == NULL || due->next_ms > now) {
            int64_t until = due ? due->next_ms : now + 1000;
            struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                                  .tv_nsec = (long)(until % 1000) * 1000000};
            pthread_cond_timedwait(&m->cv, &m->mu, &ts); /* CLOCK_REALTIME, like osp_now_ms */
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        run_group(m, due, now);
        /* next deadline on the group's grid; skipped slots are not caught up */
        due->next_ms += due->ge->group->interval_ms;
        if (due->next_ms <= now)
            due->next_ms = now + due->ge->group->interval_ms;
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int
alert_rulemgr_new(const alert_rulemgr_opts *o, alert_ruleset *rs, alert_rulemgr **out,
                  osp_errinfo *ei)
{
    alert_rulemgr *m = osp_calloc(1, sizeof(*m));
    m->o = *o;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->snap_mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->batch = osp_mbatch_new();
    osp_buf_init(&m->pb);
    const char *ln[] = {"rule_group"};
    m->evals_vec = osp_metrics_counter_vec(o->metrics, "osprey_alerter_rule_evaluations_total",
                                           "Evaluations of rule groups.", 1, ln);
    m->failures_vec =
        osp_metrics_counter_vec(o->metrics, "osprey_alerter_rule_evaluation_failures_total",
                                "Evaluations of rule groups in which a rule failed.", 1, ln);
    int rc = alert_query_new(o->query_url, o->query_timeout_ms, &m->query, ei);
    if (rc)
        goto fail;
    if (o->redis_url && *o->redis_url &&
        (rc = alert_redis_new(o->redis_url, "rules", &m->redis, ei)))
        goto fail;
    m->wake = event_new(o->base, -1, 0, on_wake, m);
    if (m->wake == NULL) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot create the rule evaluator's event");
        goto fail;
    }
    m->pending_rs = rs;
    if (pthread_create(&m->thread, NULL, thread_main, m) != 0) {
        m->pending_rs = NULL;
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot start the rule evaluator thread");
        goto fail;
    }
    m->started = true;
    *out = m;
    return 0;
fail:
    alert_rulemgr_free(m);
    return rc;
}

void
alert_rulemgr_set_rules(alert_rulemgr *m, alert_ruleset *rs)
{
    pthread_mutex_lock(&m->mu);
    alert_ruleset_free(m->pending_rs);
    m->pending_rs = rs;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void
alert_rulemgr_free(alert_rulemgr *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    alert_query_cancel(m->query); /* a query in flight must not hold up the shutdown */
    if (m->started)
        pthread_join(m->thread, NULL);
    for (size_t j = 0; j < m->ngroups; j++)
        alert_group_eval_free(m->groups[j].ge);
    osp_free(m->groups);
    alert_ruleset_free(m->rs);
    alert_ruleset_free(m->pending_rs);
    for (size_t i = 0; i < m->noutq; i++)
        alert_alert_unref(m->outq[i]);
    osp_free(m->outq);
    if (m->wake)
        event_free(m->wake);
    alert_query_free(m->query);
    alert_redis_free(m->redis);
    osp_mbatch_free(m->batch);
    osp_buf_fini(&m->pb);
    for (size_t i = 0; i < m->nsnap; i++)
        gsnap_fini(&m->snap[i]);
    osp_free(m->snap);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->snap_mu);
    pthread_mutex_destroy(&m->mu);
    osp_free(m);
}
