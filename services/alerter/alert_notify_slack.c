/* alert_notify_slack.c - Slack incoming-webhook payload with Alertmanager's
 * default title, title link, fallback and colour. Configured fields are used
 * as plain text (Go templates in them are rejected when the config loads). */
#include <ctype.h>
#include <string.h>

#include "alert_notify.h"

/* Alertmanager's __subject: [FIRING:n] <group values> (<other common values>) */
static void
subject(const alert_notify_data *d, osp_buf *out)
{
    const alert_notify_job *j = d->job;
    const char *st = alert_notify_status(d);
    osp_buf_putc(out, '[');
    for (const char *p = st; *p; p++)
        osp_buf_putc(out, (char)toupper((unsigned char)*p));
    if (d->nfiring > 0)
        osp_buf_printf(out, ":%zu", d->nfiring);
    osp_buf_puts(out, "] ");
    for (size_t i = 0; i < j->group_labels.n; i++) {
        if (i)
            osp_buf_putc(out, ' ');
        osp_buf_puts(out, j->group_labels.v[i].value);
    }
    if (d->common_labels.n > j->group_labels.n) {
        osp_buf_puts(out, " (");
        bool first = true;
        for (size_t i = 0; i < d->common_labels.n; i++) {
            if (osp_labels_get(&j->group_labels, d->common_labels.v[i].name))
                continue;
            if (!first)
                osp_buf_putc(out, ' ');
            first = false;
            osp_buf_puts(out, d->common_labels.v[i].value);
        }
        osp_buf_putc(out, ')');
    }
}

void
alert_render_subject(const alert_notify_data *d, osp_buf *out)
{
    subject(d, out);
}

static void
urlquery(const char *s, osp_buf *out)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            osp_buf_putc(out, (char)c);
        else
            osp_buf_printf(out, "%%%02X", c);
    }
}

static void
opt_field(osp_buf *out, const char *key, const char *v)
{
    if (v && *v) {
        osp_buf_printf(out, ",\"%s\":", key);
        osp_buf_json_cstr(out, v);
    }
}

int
alert_render_slack(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei)
{
    const alert_notify_job *j = d->job;
    const alert_slack_cfg *c = &j->rcv->slacks[j->idx];
    osp_buf title, link, fallback;
    osp_buf_init(&title);
    osp_buf_init(&link);
    osp_buf_init(&fallback);
    if (c->title)
        osp_buf_puts(&title, c->title);
    else
        subject(d, &title);
    if (title.len > 1024) /* Slack's limit; Alertmanager truncates with an ellipsis */
        title.len = 1021, osp_buf_puts(&title, "...");
    if (c->title_link) {
        osp_buf_puts(&link, c->title_link);
    } else {
        osp_buf_puts(&link, j->external_url ? j->external_url : "");
        osp_buf_puts(&link, "/#/alerts?receiver=");
        urlquery(j->rcv->name, &link);
    }
    if (c->fallback)
        osp_buf_puts(&fallback, c->fallback);
    else
        osp_buf_printf(&fallback, "%s | %s", osp_buf_cstr(&title), osp_buf_cstr(&link));
    osp_buf_putc(out, '{');
    osp_buf_puts(out, "\"username\":");
    osp_buf_json_cstr(out, c->username ? c->username : "Alertmanager");
    opt_field(out, "channel", c->channel);
    opt_field(out, "icon_emoji", c->icon_emoji);
    opt_field(out, "icon_url", c->icon_url);
    if (c->link_names)
        osp_buf_puts(out, ",\"link_names\":true");
    osp_buf_puts(out, ",\"attachments\":[{\"title\":");
    osp_buf_json_cstr(out, osp_buf_cstr(&title));
    opt_field(out, "title_link", osp_buf_cstr(&link));
    opt_field(out, "pretext", c->pretext);
    osp_buf_puts(out, ",\"text\":");
    osp_buf_json_cstr(out, c->text ? c->text : "");
    osp_buf_puts(out, ",\"fallback\":");
    osp_buf_json_cstr(out, osp_buf_cstr(&fallback));
    osp_buf_puts(out, ",\"callback_id\":");
    osp_buf_json_cstr(out, c->callback_id ? c->callback_id : "");
    osp_buf_puts(out, ",\"footer\":");
    osp_buf_json_cstr(out, c->footer ? c->footer : "");
    opt_field(out, "image_url", c->image_url);
    opt_field(out, "thumb_url", c->thumb_url);
    opt_field(out, "color",
              c->color ? c->color : (strcmp(alert_notify_status(d), "firing") == 0 ? "danger" : "good"));
    osp_buf_puts(out, ",\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]}");
    osp_buf_fini(&title);
    osp_buf_fini(&link);
    osp_buf_fini(&fallback);
    (void)ei;
    return 0;
}
