/* alert_notify_webhook.c - Alertmanager's webhook payload, version "4". */
#include <string.h>

#include "alert_notify.h"

/* Go's regexp.QuoteMeta, which Alertmanager applies to the receiver name. */
static void
quote_meta(const char *s, osp_buf *out)
{
    osp_buf q;
    osp_buf_init(&q);
    for (; *s; s++) {
        if (strchr("\\.+*?()|[]{}^$", *s))
            osp_buf_putc(&q, '\\');
        osp_buf_putc(&q, *s);
    }
    osp_buf_json_str(out, q.data ? q.data : "", q.len);
    osp_buf_fini(&q);
}

static void
alert_json(const alert_notify_data *d, const alert_alert *a, osp_buf *out)
{
    bool firing = alert_notify_alert_firing(d, a);
    char t[48];
    osp_buf_printf(out, "{\"status\":\"%s\",\"labels\":", firing ? "firing" : "resolved");
    osp_labels_json(&a->labels, out);
    osp_buf_puts(out, ",\"annotations\":");
    osp_labels_json(&a->annotations, out);
    alert_fmt_time(a->starts_ms, t, sizeof(t));
    osp_buf_printf(out, ",\"startsAt\":\"%s\"", t);
    alert_fmt_time(firing ? 0 : a->ends_ms, t, sizeof(t));
    osp_buf_printf(out, ",\"endsAt\":\"%s\",\"generatorURL\":", t);
    osp_buf_json_cstr(out, a->generator_url ? a->generator_url : "");
    char fp[17];
    alert_fp_str(a->fp, fp);
    osp_buf_printf(out, ",\"fingerprint\":\"%s\"}", fp);
}

void
alert_render_webhook(const alert_notify_data *d, osp_buf *out)
{
    const alert_notify_job *j = d->job;
    osp_buf_printf(out, "{\"receiver\":");
    quote_meta(j->rcv->name, out);
    osp_buf_printf(out, ",\"status\":\"%s\",\"alerts\":[", alert_notify_status(d));
    for (size_t i = 0; i < d->n; i++) {
        if (i)
            osp_buf_putc(out, ',');
        alert_json(d, d->alerts[i], out);
    }
    osp_buf_puts(out, "],\"groupLabels\":");
    osp_labels_json(&j->group_labels, out);
    osp_buf_puts(out, ",\"commonLabels\":");
    osp_labels_json(&d->common_labels, out);
    osp_buf_puts(out, ",\"commonAnnotations\":");
    osp_labels_json(&d->common_annotations, out);
    osp_buf_puts(out, ",\"externalURL\":");
    osp_buf_json_cstr(out, j->external_url ? j->external_url : "");
    osp_buf_puts(out, ",\"version\":\"4\",\"groupKey\":");
    osp_buf_json_cstr(out, j->group_key);
    osp_buf_printf(out, ",\"truncatedAlerts\":%zu}", d->truncated);
}
