/* alert_eval.c - one evaluation of a rule group: recording rules, alerting
 * rules with Prometheus' state machine, ALERTS / ALERTS_FOR_STATE, sending. */
#include "alert_eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "osp_arena.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "promql.h"

void
alert_qresult_fini(alert_qresult *r)
{
    for (size_t i = 0; i < r->n; i++)
        osp_labels_fini(&r->v[i].labels);
    osp_free(r->v);
    r->v = NULL;
    r->n = 0;
}

const char *
alert_state_name(alert_state s)
{
    return s == ALERT_FIRING ? "firing" : s == ALERT_PENDING ? "pending" : "inactive";
}

static void
inst_fini(alert_instance *in)
{
    osp_labels_fini(&in->labels);
    osp_labels_fini(&in->annotations);
}

static void
labels_array_free(osp_labels *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        osp_labels_fini(&v[i]);
    osp_free(v);
}

alert_group_eval *
alert_group_eval_new(const alert_group *g, const alert_group_eval *old)
{
    alert_group_eval *ge = osp_calloc(1, sizeof(*ge));
    ge->group = g;
    ge->nrules = g->nrules;
    ge->rules = osp_calloc(g->nrules + 1, sizeof(*ge->rules));
    for (size_t i = 0; i < g->nrules; i++) {
        alert_rule_eval *re = &ge->rules[i];
        re->rule = &g->rules[i];
        re->ok = true;
        if (old == NULL)
            continue;
        for (size_t j = 0; j < old->nrules; j++) {
            const alert_rule_eval *o = &old->rules[j];
            if (o->rule->alerting != re->rule->alerting || strcmp(o->rule->name, re->rule->name))
                continue;
            if (o->n == 0 || re->n)
                continue;
            re->inst = osp_calloc(o->n, sizeof(*re->inst));
            re->cap = re->n = o->n;
            for (size_t k = 0; k < o->n; k++) {
                re->inst[k] = o->inst[k];
                osp_labels_init(&re->inst[k].labels);
                osp_labels_init(&re->inst[k].annotations);
                osp_labels_copy(&re->inst[k].labels, &o->inst[k].labels);
                osp_labels_copy(&re->inst[k].annotations, &o->inst[k].annotations);
            }
        }
    }
    if (old) {
        ge->nprev_alerts = old->nprev_alerts;
        ge->prev_alerts = osp_calloc(old->nprev_alerts + 1, sizeof(osp_labels));
        for (size_t i = 0; i < old->nprev_alerts; i++) {
            osp_labels_init(&ge->prev_alerts[i]);
            osp_labels_copy(&ge->prev_alerts[i], &old->prev_alerts[i]);
        }
    }
    return ge;
}

void
alert_group_eval_free(alert_group_eval *ge)
{
    if (ge == NULL)
        return;
    for (size_t i = 0; i < ge->nrules; i++) {
        alert_rule_eval *re = &ge->rules[i];
        for (size_t k = 0; k < re->n; k++)
            inst_fini(&re->inst[k]);
        osp_free(re->inst);
        labels_array_free(re->prev, re->nprev);
    }
    osp_free(ge->rules);
    labels_array_free(ge->prev_alerts, ge->nprev_alerts);
    for (size_t i = 0; i < ge->nrestore; i++)
        osp_free(ge->restore[i].rule);
    osp_free(ge->restore);
    osp_free(ge);
}

void
alert_group_eval_restore(alert_group_eval *ge, const char *rule, uint64_t fp, int64_t active_at)
{
    ge->restore = osp_reallocarray(ge->restore, ge->nrestore + 1, sizeof(*ge->restore));
    ge->restore[ge->nrestore++] =
        (alert_for_restore){.rule = osp_strdup(rule), .fp = fp, .active_at = active_at};
}

/* ---------------- templates ---------------- */

typedef struct tctx {
    const alert_eval_env *env;
    int64_t ts;
} tctx;

static int
tmpl_query(void *ctx, const char *expr, osp_arena *a, alert_tval *out, osp_errinfo *ei)
{
    tctx *t = ctx;
    alert_qresult r = {0};
    int rc = t->env->query(t->env->ctx, expr, t->ts, &r, ei);
    if (rc)
        return rc;
    alert_tval *items = osp_arena_alloc(a, sizeof(*items) * (r.n + 1));
    for (size_t i = 0; i < r.n; i++) {
        static const char *const names[] = {"Labels", "Value"};
        alert_tval vals[2] = {alert_tval_labels(&r.v[i].labels, 0, a), alert_tval_num(r.v[i].v)};
        items[i] = alert_tval_struct(names, vals, 2, a);
    }
    *out = (alert_tval){.kind = ALERT_TV_LIST, .n = r.n, .items = items};
    alert_qresult_fini(&r);
    return 0;
}

/* expand: Prometheus' expansion of one label/annotation template; an error
 * becomes the text "<error expanding template: ...>". */
static void
expand(const alert_tmpl *t, const alert_tmpl_env *tenv, osp_buf *out)
{
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    osp_buf_reset(out);
    if (alert_tmpl_exec(t, tenv, out, &ei) != 0) {
        osp_buf_reset(out);
        osp_buf_printf(out, "<error expanding template: %s>", ei.msg);
    }
}

/* ---------------- alerting rules ---------------- */

static alert_instance *
find_inst(alert_rule_eval *re, uint64_t fp, const osp_labels *ls)
{
    for (size_t i = 0; i < re->n; i++)
        if (re->inst[i].fp == fp && osp_labels_equal(&re->inst[i].labels, ls))
            return &re->inst[i];
    return NULL;
}

static void
remove_inst(alert_rule_eval *re, size_t i)
{
    inst_fini(&re->inst[i]);
    re->inst[i] = re->inst[--re->n];
}

static int64_t
restored_active_at(alert_group_eval *ge, const char *rule, uint64_t fp, int64_t ts)
{
    for (size_t i = 0; i < ge->nrestore; i++)
        if (ge->restore[i].fp == fp && strcmp(ge->restore[i].rule, rule) == 0) {
            int64_t at = ge->restore[i].active_at;
            osp_free(ge->restore[i].rule);
            ge->restore[i] = ge->restore[--ge->nrestore];
            return at > 0 && at <= ts ? at : ts;
        }
    return ts;
}

typedef struct fresh {
    osp_labels labels, annotations;
    uint64_t fp;
    double v;
} fresh;

static int
eval_alerting(alert_group_eval *ge, alert_rule_eval *re, int64_t ts, const alert_qresult *res,
              const alert_eval_env *env, osp_errinfo *ei)
{
    const alert_rule *r = re->rule;
    osp_arena *a = osp_arena_new(0);
    fresh *fr = osp_calloc(res->n + 1, sizeof(*fr));
    size_t nfr = 0;
    int rc = 0;
    osp_buf text;
    osp_buf_init(&text);
    alert_tval ext = alert_tval_labels(env->external_labels, 0, a);
    tctx tc = {.env = env, .ts = ts};
    for (size_t i = 0; i < res->n; i++) {
        const alert_qsample *s = &res->v[i];
        static const char *const names[] = {"labels", "value", "externalLabels", "externalURL"};
        alert_tval vals[4] = {alert_tval_labels(&s->labels, 0, a), alert_tval_num(s->v), ext,
                              alert_tval_str(env->external_url)};
        static const char *const fields[] = {"Labels", "Value", "ExternalLabels", "ExternalURL"};
        alert_tmpl_env tenv = {.dot = alert_tval_struct(fields, vals, 4, a),
                               .vars = names,
                               .vals = vals,
                               .nvars = 4,
                               .external_url = env->external_url,
                               .query = tmpl_query,
                               .query_ctx = &tc,
                               .arena = a};
        fresh *f = &fr[nfr++];
        osp_labels_init(&f->labels);
        osp_labels_init(&f->annotations);
        f->v = s->v;
        osp_labels_copy(&f->labels, &s->labels);
        osp_labels_del(&f->labels, "__name__");
        for (size_t k = 0; k < ge->group->labels.n; k++)
            osp_labels_set(&f->labels, ge->group->labels.v[k].name, ge->group->labels.v[k].value);
        for (size_t k = 0; k < r->labels.n; k++) {
            expand(r->label_tmpls[k], &tenv, &text);
            if (text.len)
                osp_labels_set(&f->labels, r->labels.v[k].name, osp_buf_cstr(&text));
            else
                osp_labels_del(&f->labels, r->labels.v[k].name);
        }
        osp_labels_set(&f->labels, "alertname", r->name);
        osp_labels_sort(&f->labels);
        f->fp = osp_labels_hash(&f->labels);
        for (size_t k = 0; k < r->annotations.n; k++) {
            expand(r->ann_tmpls[k], &tenv, &text);
            osp_labels_addc(&f->annotations, r->annotations.v[k].name, osp_buf_cstr(&text));
        }
        osp_labels_sort(&f->annotations);
        for (size_t j = 0; j + 1 < nfr; j++)
            if (fr[j].fp == f->fp && osp_labels_equal(&fr[j].labels, &f->labels)) {
                rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                                     "vector contains metrics with the same labelset after "
                                     "applying alert labels");
                goto out;
            }
        osp_arena_reset(a);
        ext = alert_tval_labels(env->external_labels, 0, a);
    }
    if (ge->group->limit > 0 && (int64_t)nfr > ge->group->limit) {
        rc = osp_errinfo_set(ei, OSP_ELIMIT, 0, 0, "exceeded limit of %lld with %zu alerts",
                             (long long)ge->group->limit, nfr);
        goto out;
    }
    /* update or create the instances */
    bool *seen = osp_calloc(re->n + nfr + 1, sizeof(*seen));
    for (size_t i = 0; i < nfr; i++) {
        alert_instance *in = find_inst(re, fr[i].fp, &fr[i].labels);
        if (in && in->state != ALERT_INACTIVE) {
            in->value = fr[i].v;
            osp_labels_copy(&in->annotations, &fr[i].annotations);
        } else {
            if (in)
                remove_inst(re, (size_t)(in - re->inst));
            if (re->n == re->cap) {
                re->cap = re->cap ? re->cap * 2 : 8;
                re->inst = osp_reallocarray(re->inst, re->cap, sizeof(*re->inst));
                seen = osp_reallocarray(seen, re->cap + nfr + 1, sizeof(*seen));
            }
            in = &re->inst[re->n++];
            memset(in, 0, sizeof(*in));
            osp_labels_init(&in->labels);
            osp_labels_init(&in->annotations);
            osp_labels_copy(&in->labels, &fr[i].labels);
            osp_labels_copy(&in->annotations, &fr[i].annotations);
            in->fp = fr[i].fp;
            in->value = fr[i].v;
            in->state = ALERT_PENDING;
            in->active_at = restored_active_at(ge, r->name, in->fp, ts);
        }
        seen[in - re->inst] = true;
    }
    /* Prometheus' loop over the active alerts */
    for (size_t i = 0; i < re->n;) {
        alert_instance *in = &re->inst[i];
        if (!seen[i]) {
            bool keep = false;
            if (in->state == ALERT_FIRING && r->keep_firing_ms > 0) {
                if (in->keep_firing_since == 0)
                    in->keep_firing_since = ts;
                keep = ts - in->keep_firing_since < r->keep_firing_ms;
            }
            if (in->state == ALERT_PENDING ||
                (in->resolved_at && ts - in->resolved_at > ALERT_RESOLVED_RETENTION_MS)) {
                seen[i] = seen[re->n - 1];
                remove_inst(re, i);
                continue;
            }
            if (in->state != ALERT_INACTIVE && !keep) {
                in->state = ALERT_INACTIVE;
                in->resolved_at = ts;
            }
            if (!keep) {
                i++;
                continue;
            }
        } else {
            in->keep_firing_since = 0;
        }
        if (in->state == ALERT_PENDING && ts - in->active_at >= r->for_ms) {
            in->state = ALERT_FIRING;
            in->fired_at = ts;
        }
        i++;
    }
    osp_free(seen);
out:
    for (size_t i = 0; i < nfr; i++) {
        osp_labels_fini(&fr[i].labels);
        osp_labels_fini(&fr[i].annotations);
    }
    osp_free(fr);
    osp_buf_fini(&text);
    osp_arena_free(a);
    return rc;
}

/* send_alerts: Prometheus' sendAlerts for one rule. */
static void
send_alerts(alert_group_eval *ge, alert_rule_eval *re, int64_t ts, const alert_eval_env *env)
{
    int64_t resend = env->resend_delay_ms > 0 ? env->resend_delay_ms : 60000;
    int64_t delta = ge->group->interval_ms > resend ? ge->group->interval_ms : resend;
    for (size_t i = 0; i < re->n; i++) {
        alert_instance *in = &re->inst[i];
        if (in->state == ALERT_PENDING)
            continue;
        if (!(in->resolved_at > in->last_sent_at || in->last_sent_at + resend < ts))
            continue;
        in->last_sent_at = ts;
        in->valid_until = ts + 4 * delta;
        alert_alert *a = alert_alert_new();
        osp_labels_copy(&a->labels, &in->labels);
        for (size_t k = 0; env->external_labels && k < env->external_labels->n; k++)
            if (osp_labels_get(&a->labels, env->external_labels->v[k].name) == NULL)
                osp_labels_addc(&a->labels, env->external_labels->v[k].name,
                                env->external_labels->v[k].value);
        osp_labels_copy(&a->annotations, &in->annotations);
        a->starts_ms = in->fired_at ? in->fired_at : in->active_at;
        a->ends_ms = in->state == ALERT_INACTIVE ? in->resolved_at : in->valid_until;
        a->updated_ms = ts;
        osp_buf u;
        osp_buf_init(&u);
        osp_buf_puts(&u, env->external_url ? env->external_url : "");
        osp_buf_puts(&u, "/graph?g0.expr=");
        for (const char *p = re->rule->expr; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                strchr("-_.~", c))
                osp_buf_putc(&u, (char)c);
            else
                osp_buf_printf(&u, "%%%02X", c);
        }
        osp_buf_puts(&u, "&g0.tab=1");
        a->generator_url = osp_strdup(osp_buf_cstr(&u));
        osp_buf_fini(&u);
        alert_alert_seal(a);
        env->send(env->ctx, a);
        alert_alert_unref(a);
    }
}

/* ---------------- recording rules ---------------- */

static int
eval_recording(alert_group_eval *ge, alert_rule_eval *re, int64_t ts, const alert_qresult *res,
               const alert_eval_env *env, osp_errinfo *ei)
{
    const alert_rule *r = re->rule;
    osp_labels *out = osp_calloc(res->n + 1, sizeof(*out));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < res->n; i++) {
        osp_labels *ls = &out[n++];
        osp_labels_init(ls);
        osp_labels_copy(ls, &res->v[i].labels);
        osp_labels_set(ls, "__name__", r->name);
        for (size_t k = 0; k < ge->group->labels.n; k++)
            osp_labels_set(ls, ge->group->labels.v[k].name, ge->group->labels.v[k].value);
        for (size_t k = 0; k < r->labels.n; k++) {
            if (r->labels.v[k].value[0])
                osp_labels_set(ls, r->labels.v[k].name, r->labels.v[k].value);
            else
                osp_labels_del(ls, r->labels.v[k].name);
        }
        osp_labels_sort(ls);
        for (size_t j = 0; j + 1 < n; j++)
            if (osp_labels_equal(&out[j], ls)) {
                rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                                     "vector contains metrics with the same labelset after "
                                     "applying rule labels");
                goto fail;
            }
    }
    if (ge->group->limit > 0 && (int64_t)n > ge->group->limit) {
        rc = osp_errinfo_set(ei, OSP_ELIMIT, 0, 0, "exceeded limit of %lld with %zu series",
                             (long long)ge->group->limit, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        env->sample(env->ctx, &out[i], ts, res->v[i].v);
    for (size_t j = 0; j < re->nprev; j++) {
        bool still = false;
        for (size_t i = 0; i < n && !still; i++)
            still = osp_labels_equal(&re->prev[j], &out[i]);
        if (!still)
            env->sample(env->ctx, &re->prev[j], ts, osp_promql_stale_nan());
    }
    labels_array_free(re->prev, re->nprev);
    re->prev = out;
    re->nprev = n;
    return 0;
fail:
    labels_array_free(out, n);
    return rc;
}

/* ---------------- ALERTS / ALERTS_FOR_STATE ---------------- */

static void
push_series(osp_labels **v, size_t *n, size_t *cap, const osp_labels *ls)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *v = osp_reallocarray(*v, *cap, sizeof(**v));
    }
    osp_labels_init(&(*v)[*n]);
    osp_labels_copy(&(*v)[*n], ls);
    (*n)++;
}

static void
write_alert_series(alert_group_eval *ge, int64_t ts, const alert_eval_env *env)
{
    osp_labels *now = NULL;
    size_t n = 0, cap = 0;
    osp_labels ls;
    osp_labels_init(&ls);
    for (size_t r = 0; r < ge->nrules; r++) {
        alert_rule_eval *re = &ge->rules[r];
        for (size_t i = 0; re->rule->alerting && i < re->n; i++) {
            alert_instance *in = &re->inst[i];
            if (in->state == ALERT_INACTIVE)
                continue;
            osp_labels_copy(&ls, &in->labels);
            osp_labels_set(&ls, "__name__", "ALERTS_FOR_STATE");
            osp_labels_sort(&ls);
            env->sample(env->ctx, &ls, ts, (double)(in->active_at / 1000));
            push_series(&now, &n, &cap, &ls);
            osp_labels_set(&ls, "__name__", "ALERTS");
            osp_labels_set(&ls, "alertstate", alert_state_name(in->state));
            osp_labels_sort(&ls);
            env->sample(env->ctx, &ls, ts, 1);
            push_series(&now, &n, &cap, &ls);
        }
    }
    for (size_t j = 0; j < ge->nprev_alerts; j++) {
        bool still = false;
        for (size_t i = 0; i < n && !still; i++)
            still = osp_labels_equal(&ge->prev_alerts[j], &now[i]);
        if (!still)
            env->sample(env->ctx, &ge->prev_alerts[j], ts, osp_promql_stale_nan());
    }
    labels_array_free(ge->prev_alerts, ge->nprev_alerts);
    ge->prev_alerts = now;
    ge->nprev_alerts = n;
    osp_labels_fini(&ls);
}

size_t
alert_group_eval_run(alert_group_eval *ge, int64_t ts, const alert_eval_env *env)
{
    size_t failed = 0;
    int64_t qts = ts - ge->group->query_offset_ms;
    int64_t g0 = osp_mono_ns();
    for (size_t i = 0; i < ge->nrules; i++) {
        alert_rule_eval *re = &ge->rules[i];
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        alert_qresult res = {0};
        int64_t t0 = osp_mono_ns();
        int rc = env->query(env->ctx, re->rule->expr, qts, &res, &ei);
        if (rc == 0)
            rc = re->rule->alerting ? eval_alerting(ge, re, ts, &res, env, &ei)
                                    : eval_recording(ge, re, ts, &res, env, &ei);
        alert_qresult_fini(&res);
        re->eval_seconds = (double)(osp_mono_ns() - t0) / 1e9;
        re->last_eval_ms = ts;
        re->ok = rc == 0;
        if (rc) {
            failed++;
            snprintf(re->last_error, sizeof(re->last_error), "%s",
                     ei.msg[0] ? ei.msg : osp_err_str(rc));
        } else {
            re->last_error[0] = 0;
        }
        if (re->rule->alerting)
            send_alerts(ge, re, ts, env);
    }
    write_alert_series(ge, ts, env);
    if (failed)
        ge->failures++;
    ge->last_eval_ms = ts;
    ge->eval_seconds = (double)(osp_mono_ns() - g0) / 1e9;
    return failed;
}
