/* alert_notify_tmpl.c - Go templates in notifications: Alertmanager's
 * default.tmpl definitions (slack.default.*, email.default.*, __subject...),
 * the notification data (.Receiver .Status .Alerts ...) and its execution. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alert_notify.h"

/* Alertmanager's template/default.tmpl (the definitions the Slack and e-mail
 * defaults use, same text), plus email.default.html: Alertmanager's is a
 * 300-line styled page for html/template; ours is a compact page that
 * escapes with `html` (the engine is text/template). */
const char alert_default_templates[] =
    "{{ define \"__alertmanager\" }}Alertmanager{{ end }}\n"
    "{{ define \"__alertmanagerURL\" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | "
    "urlquery }}{{ end }}\n"
    "\n"
    "{{ define \"__subject\" }}[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ "
    ".Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join \" \" }} {{ if "
    "gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove "
    ".GroupLabels.Names }}{{ .Values | join \" \" }}{{ end }}){{ end }}{{ end }}\n"
    "{{ define \"__description\" }}{{ end }}\n"
    "\n"
    "{{ define \"__text_alert_list\" }}{{ range . }}Labels:\n"
    "{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}\n"
    "{{ end }}Annotations:\n"
    "{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}\n"
    "{{ end }}Source: {{ .GeneratorURL }}\n"
    "{{ end }}{{ end }}\n"
    "\n"
    "{{ define \"__text_alert_list_markdown\" }}{{ range . }}\n"
    "Labels:\n"
    "{{ range .Labels.SortedPairs }}  - {{ .Name }} = {{ .Value }}\n"
    "{{ end }}\n"
    "Annotations:\n"
    "{{ range .Annotations.SortedPairs }}  - {{ .Name }} = {{ .Value }}\n"
    "{{ end }}\n"
    "Source: {{ .GeneratorURL }}\n"
    "{{ end }}\n"
    "{{ end }}\n"
    "\n"
    "{{ define \"slack.default.title\" }}{{ template \"__subject\" . }}{{ end }}\n"
    "{{ define \"slack.default.username\" }}{{ template \"__alertmanager\" . }}{{ end }}\n"
    "{{ define \"slack.default.fallback\" }}{{ template \"slack.default.title\" . }} | {{ "
    "template \"slack.default.titlelink\" . }}{{ end }}\n"
    "{{ define \"slack.default.callbackid\" }}{{ end }}\n"
    "{{ define \"slack.default.pretext\" }}{{ end }}\n"
    "{{ define \"slack.default.titlelink\" }}{{ template \"__alertmanagerURL\" . }}{{ end }}\n"
    "{{ define \"slack.default.iconemoji\" }}{{ end }}\n"
    "{{ define \"slack.default.iconurl\" }}{{ end }}\n"
    "{{ define \"slack.default.text\" }}{{ end }}\n"
    "{{ define \"slack.default.footer\" }}{{ end }}\n"
    "\n"
    "{{ define \"email.default.subject\" }}{{ template \"__subject\" . }}{{ end }}\n"
    "{{ define \"__subject_html\" }}[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ "
    ".Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join \" \" | html }} "
    "{{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove "
    ".GroupLabels.Names }}{{ .Values | join \" \" | html }}{{ end }}){{ end }}{{ end }}\n"
    "{{ define \"__html_alert_list\" }}{{ range . }}<p><strong>Labels</strong><br>\n"
    "{{ range .Labels.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>\n"
    "{{ end }}{{ if .Annotations }}<strong>Annotations</strong><br>\n"
    "{{ range .Annotations.SortedPairs }}{{ .Name | html }} = {{ .Value | html }}<br>\n"
    "{{ end }}{{ end }}{{ if .GeneratorURL }}<a href=\"{{ .GeneratorURL | html "
    "}}\">Source</a><br>\n"
    "{{ end }}</p>\n"
    "{{ end }}{{ end }}\n"
    "{{ define \"email.default.html\" }}<!DOCTYPE html>\n"
    "<html><head><meta charset=\"UTF-8\"><title>{{ template \"__subject_html\" . }}</title></head>"
    "<body>\n"
    "<h2>{{ template \"__subject_html\" . }}</h2>\n"
    "{{ if .Alerts.Firing }}<p><strong>[{{ .Alerts.Firing | len }}] Firing</strong></p>\n"
    "{{ template \"__html_alert_list\" .Alerts.Firing }}{{ end }}"
    "{{ if .Alerts.Resolved }}<p><strong>[{{ .Alerts.Resolved | len }}] Resolved</strong></p>\n"
    "{{ template \"__html_alert_list\" .Alerts.Resolved }}{{ end }}"
    "<p><a href=\"{{ template \"__alertmanagerURL\" . }}\">Sent by Osprey alerter</a></p>\n"
    "</body></html>\n"
    "{{ end }}\n";

/* Go's time.Time.String() in UTC: "2024-01-02 03:04:05.123 +0000 UTC". */
static const char *
go_time(int64_t ms, osp_arena *a)
{
    char buf[64];
    if (ms == 0)
        return "0001-01-01 00:00:00 +0000 UTC";
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    if (frac) {
        char f[8];
        snprintf(f, sizeof(f), "%03d", frac);
        for (int k = 2; k > 0 && f[k] == '0'; k--)
            f[k] = 0;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%s", f);
    }
    snprintf(buf + n, sizeof(buf) - n, " +0000 UTC");
    return osp_arena_strndup(a, buf, strlen(buf));
}

/* Go's regexp.QuoteMeta: Alertmanager's Data.Receiver is the quoted name. */
static const char *
quote_meta(const char *s, osp_arena *a)
{
    osp_buf q;
    osp_buf_init(&q);
    for (; *s; s++) {
        if (strchr("\\.+*?()|[]{}^$", *s))
            osp_buf_putc(&q, '\\');
        osp_buf_putc(&q, *s);
    }
    const char *r = osp_arena_strndup(a, q.data ? q.data : "", q.len);
    osp_buf_fini(&q);
    return r;
}

alert_tval
alert_notify_tmpl_data(const alert_notify_data *d, osp_arena *a)
{
    const alert_notify_job *j = d->job;
    static const char *const an[] = {"Status", "Labels",       "Annotations", "StartsAt",
                                     "EndsAt", "GeneratorURL", "Fingerprint"};
    alert_tval *alerts = osp_arena_alloc(a, sizeof(*alerts) * (d->n + 1));
    for (size_t i = 0; i < d->n; i++) {
        const alert_alert *al = d->alerts[i];
        bool firing = alert_notify_alert_firing(d, al);
        char fp[17];
        alert_fp_str(al->fp, fp);
        alert_tval v[7] = {
            alert_tval_str(firing ? "firing" : "resolved"),
            alert_tval_labels(&al->labels, ALERT_TV_KV, a),
            alert_tval_labels(&al->annotations, ALERT_TV_KV, a),
            alert_tval_str(go_time(al->starts_ms, a)),
            alert_tval_str(go_time(firing ? 0 : al->ends_ms, a)),
            alert_tval_str(osp_arena_strndup(a, al->generator_url ? al->generator_url : "",
                                             al->generator_url ? strlen(al->generator_url) : 0)),
            alert_tval_str(osp_arena_strndup(a, fp, strlen(fp))),
        };
        alerts[i] = alert_tval_struct(an, v, 7, a);
    }
    static const char *const dn[] = {"Receiver",    "Status",       "Alerts",
                                     "GroupLabels", "CommonLabels", "CommonAnnotations",
                                     "ExternalURL"};
    const char *ext = j->external_url ? j->external_url : "";
    alert_tval v[7] = {
        alert_tval_str(quote_meta(j->rcv->name, a)),
        alert_tval_str(alert_notify_status(d)),
        (alert_tval){.kind = ALERT_TV_LIST, .flags = ALERT_TV_ALERTS, .n = d->n, .items = alerts},
        alert_tval_labels(&j->group_labels, ALERT_TV_KV, a),
        alert_tval_labels(&d->common_labels, ALERT_TV_KV, a),
        alert_tval_labels(&d->common_annotations, ALERT_TV_KV, a),
        alert_tval_str(osp_arena_strndup(a, ext, strlen(ext))),
    };
    return alert_tval_struct(dn, v, 7, a);
}

void
alert_notify_tctx_init(alert_notify_tctx *t, const alert_notify_data *d)
{
    memset(t, 0, sizeof(*t));
    t->arena = osp_arena_new(8192);
    t->env.dot = alert_notify_tmpl_data(d, t->arena);
    t->env.external_url = d->job->external_url;
    t->env.arena = t->arena;
    t->env.libs = (const alert_tmpl *const *)d->job->cfg->tmpl_libs;
    t->env.nlibs = d->job->cfg->ntmpl_libs;
}

void
alert_notify_tctx_fini(alert_notify_tctx *t)
{
    osp_arena_free(t->arena);
    t->arena = NULL;
}

int
alert_notify_tctx_exec(alert_notify_tctx *t, const alert_tmpl *tm, osp_buf *out, osp_errinfo *ei)
{
    if (tm == NULL)
        return 0;
    return alert_tmpl_exec(tm, &t->env, out, ei);
}
