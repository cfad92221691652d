/* alert_notify_slack.c - Slack incoming-webhook payload: every field is a Go
 * template (configured, else Alertmanager's default such as
 * {{ template "slack.default.title" . }}), rendered per notification. */
#include <string.h>

#include "alert_notify.h"

static void
opt_field(osp_buf *out, const char *key, const char *v)
{
    if (v && *v) {
        osp_buf_printf(out, ",\"%s\":", key);
        osp_buf_json_cstr(out, v);
    }
}

/* Slack's limit on titles; Alertmanager truncates to 1024 runes with "…". */
static void
truncate_title(osp_buf *t)
{
    size_t runes = 0, cut = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (((unsigned char)t->data[i] & 0xC0) == 0x80)
            continue;
        if (runes == 1023)
            cut = i;
        runes++;
    }
    if (runes > 1024) {
        t->len = cut;
        osp_buf_puts(t, "\xE2\x80\xA6");
    }
}

int
alert_render_slack(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei)
{
    const alert_notify_job *j = d->job;
    const alert_slack_cfg *c = &j->rcv->slacks[j->idx];
    osp_buf f[ALERT_SLACK_NFIELDS];
    alert_notify_tctx t;
    alert_notify_tctx_init(&t, d);
    int rc = 0;
    for (size_t i = 0; i < ALERT_SLACK_NFIELDS; i++)
        osp_buf_init(&f[i]);
    for (size_t i = 0; i < ALERT_SLACK_NFIELDS && rc == 0; i++)
        rc = alert_notify_tctx_exec(&t, c->tmpl[i], &f[i], ei);
    if (rc)
        goto done;
    truncate_title(&f[ALERT_SLACK_TITLE]);
#define F(x) osp_buf_cstr(&f[ALERT_SLACK_##x])
    osp_buf_puts(out, "{\"attachments\":[{\"title\":");
    osp_buf_json_cstr(out, F(TITLE));
    opt_field(out, "title_link", F(TITLE_LINK));
    opt_field(out, "pretext", F(PRETEXT));
    osp_buf_puts(out, ",\"text\":");
    osp_buf_json_cstr(out, F(TEXT));
    osp_buf_puts(out, ",\"fallback\":");
    osp_buf_json_cstr(out, F(FALLBACK));
    osp_buf_puts(out, ",\"callback_id\":");
    osp_buf_json_cstr(out, F(CALLBACK_ID));
    osp_buf_puts(out, ",\"footer\":");
    osp_buf_json_cstr(out, F(FOOTER));
    opt_field(out, "image_url", F(IMAGE_URL));
    opt_field(out, "thumb_url", F(THUMB_URL));
    opt_field(out, "color", F(COLOR));
    osp_buf_puts(out, ",\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]");
    opt_field(out, "channel", F(CHANNEL));
    opt_field(out, "username", F(USERNAME));
    opt_field(out, "icon_emoji", F(ICON_EMOJI));
    opt_field(out, "icon_url", F(ICON_URL));
    if (c->link_names)
        osp_buf_puts(out, ",\"link_names\":true");
    osp_buf_putc(out, '}');
#undef F
done:
    for (size_t i = 0; i < ALERT_SLACK_NFIELDS; i++)
        osp_buf_fini(&f[i]);
    alert_notify_tctx_fini(&t);
    return rc;
}
