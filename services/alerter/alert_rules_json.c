/* alert_rules_json.c - rule groups and their alerts in the shapes of
 * Prometheus' /api/v1/rules and /api/v1/alerts (web/api/v1/api.go), for
 * Grafana's rule list and for scripts that read Prometheus. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_eval.h"
#include "alert_notify.h"

void
alert_fmt_go_e(double v, osp_buf *out)
{
    if (isnan(v) || isinf(v)) {
        osp_buf_puts(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char buf[64];
    int p = 0;
    for (; p < 17; p++) { /* the shortest precision that reads back as v */
        snprintf(buf, sizeof(buf), "%.*e", p, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    osp_buf_puts(out, buf); /* C's %e writes the exponent as Go does: e+00, e-07, e+100 */
}

static void
num(osp_buf *out, double v)
{
    char b[32];
    osp_fmt_double(b, v);
    osp_buf_puts(out, b);
}

static void
time_str(osp_buf *out, int64_t ms)
{
    char t[48];
    alert_fmt_time(ms, t, sizeof(t));
    osp_buf_printf(out, "\"%s\"", t);
}

static void
alert_obj(const alert_instance *in, osp_buf *out)
{
    osp_buf_puts(out, "{\"labels\":");
    osp_labels_json(&in->labels, out);
    osp_buf_puts(out, ",\"annotations\":");
    osp_labels_json(&in->annotations, out);
    osp_buf_printf(out, ",\"state\":\"%s\",\"activeAt\":", alert_state_name(in->state));
    time_str(out, in->active_at);
    if (in->keep_firing_since) {
        osp_buf_puts(out, ",\"keepFiringSince\":");
        time_str(out, in->keep_firing_since);
    }
    osp_buf_puts(out, ",\"value\":\"");
    alert_fmt_go_e(in->value, out);
    osp_buf_puts(out, "\"}");
}

static bool
active(const alert_instance *in)
{
    return in->state == ALERT_PENDING || in->state == ALERT_FIRING;
}

static void
rule_obj(const alert_group_eval *ge, const alert_rule_eval *re, osp_buf *out)
{
    const alert_rule *r = re->rule;
    const char *health = ge->last_eval_ms == 0 || re->last_eval_ms == 0 ? "unknown"
                         : re->ok                                       ? "ok"
                                                                        : "err";
    osp_buf_putc(out, '{');
    if (r->alerting) {
        alert_state st = ALERT_INACTIVE;
        for (size_t i = 0; i < re->n; i++)
            if (active(&re->inst[i]) && re->inst[i].state > st)
                st = re->inst[i].state;
        osp_buf_printf(out, "\"state\":\"%s\",", alert_state_name(st));
    }
    osp_buf_puts(out, "\"name\":");
    osp_buf_json_cstr(out, r->name);
    osp_buf_puts(out, ",\"query\":");
    osp_buf_json_cstr(out, r->expr);
    if (r->alerting) {
        osp_buf_puts(out, ",\"duration\":");
        num(out, (double)r->for_ms / 1000.0);
        osp_buf_puts(out, ",\"keepFiringFor\":");
        num(out, (double)r->keep_firing_ms / 1000.0);
    }
    osp_buf_puts(out, ",\"labels\":");
    osp_labels sorted;
    osp_labels_init(&sorted);
    osp_labels_copy(&sorted, &r->labels);
    osp_labels_sort(&sorted);
    osp_labels_json(&sorted, out);
    if (r->alerting) {
        osp_labels_copy(&sorted, &r->annotations);
        osp_labels_sort(&sorted);
        osp_buf_puts(out, ",\"annotations\":");
        osp_labels_json(&sorted, out);
        osp_buf_puts(out, ",\"alerts\":[");
        bool first = true;
        for (size_t i = 0; i < re->n; i++) {
            if (!active(&re->inst[i]))
                continue;
            if (!first)
                osp_buf_putc(out, ',');
            first = false;
            alert_obj(&re->inst[i], out);
        }
        osp_buf_putc(out, ']');
    }
    osp_labels_fini(&sorted);
    osp_buf_printf(out, ",\"health\":\"%s\"", health);
    if (!re->ok && re->last_error[0]) {
        osp_buf_puts(out, ",\"lastError\":");
        osp_buf_json_cstr(out, re->last_error);
    }
    osp_buf_puts(out, ",\"evaluationTime\":");
    num(out, re->eval_seconds);
    osp_buf_puts(out, ",\"lastEvaluation\":");
    time_str(out, re->last_eval_ms);
    osp_buf_printf(out, ",\"type\":\"%s\"}", r->alerting ? "alerting" : "recording");
}

bool
alert_group_eval_json(const alert_group_eval *ge, alert_rules_filter f, osp_buf *out)
{
    const alert_group *g = ge->group;
    size_t shown = 0;
    for (size_t i = 0; i < ge->nrules; i++)
        shown += f == ALERT_RULES_ALL || (f == ALERT_RULES_ALERTING) == ge->rules[i].rule->alerting;
    if (shown == 0 && f != ALERT_RULES_ALL)
        return false;
    osp_buf_puts(out, "{\"name\":");
    osp_buf_json_cstr(out, g->name);
    osp_buf_puts(out, ",\"file\":");
    osp_buf_json_cstr(out, g->file);
    osp_buf_puts(out, ",\"rules\":[");
    bool first = true;
    for (size_t i = 0; i < ge->nrules; i++) {
        const alert_rule_eval *re = &ge->rules[i];
        if (f != ALERT_RULES_ALL && (f == ALERT_RULES_ALERTING) != re->rule->alerting)
            continue;
        if (!first)
            osp_buf_putc(out, ',');
        first = false;
        rule_obj(ge, re, out);
    }
    osp_buf_puts(out, "],\"interval\":");
    num(out, (double)g->interval_ms / 1000.0);
    osp_buf_printf(out, ",\"limit\":%lld,\"evaluationTime\":", (long long)g->limit);
    num(out, ge->eval_seconds);
    osp_buf_puts(out, ",\"lastEvaluation\":");
    time_str(out, ge->last_eval_ms);
    osp_buf_putc(out, '}');
    return true;
}

void
alert_group_eval_alerts_json(const alert_group_eval *ge, bool *first, osp_buf *out)
{
    for (size_t r = 0; r < ge->nrules; r++) {
        const alert_rule_eval *re = &ge->rules[r];
        for (size_t i = 0; re->rule->alerting && i < re->n; i++) {
            if (!active(&re->inst[i]))
                continue;
            if (!*first)
                osp_buf_putc(out, ',');
            *first = false;
            alert_obj(&re->inst[i], out);
        }
    }
}
