/* alert_notify_email.c - the e-mail message: headers (Subject defaults to
 * Alertmanager's "[FIRING:n] ..." subject), multipart/alternative with
 * text/plain (when configured) and text/html parts, quoted-printable UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert_notify.h"
#include "osp_time.h"

static void
qp(const char *s, osp_buf *out)
{
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            osp_buf_puts(out, "\r\n");
            col = 0;
            continue;
        }
        if (col >= 72) {
            osp_buf_puts(out, "=\r\n");
            col = 0;
        }
        if ((*p >= 33 && *p <= 126 && *p != '=') || *p == ' ') {
            osp_buf_putc(out, (char)*p);
            col++;
        } else {
            osp_buf_printf(out, "=%02X", *p);
            col += 3;
        }
    }
}

static void
header(osp_buf *out, const char *name, const char *value)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p >= 0x80 || *p == '\r' || *p == '\n')
            ascii = false;
    osp_buf_printf(out, "%s: ", name);
    if (ascii) {
        osp_buf_puts(out, value);
    } else {
        osp_buf_puts(out, "=?UTF-8?q?");
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                osp_buf_putc(out, (char)*p);
            else if (*p == ' ')
                osp_buf_putc(out, '_');
            else
                osp_buf_printf(out, "=%02X", *p);
        }
        osp_buf_puts(out, "?=");
    }
    osp_buf_puts(out, "\r\n");
}

static void
html_esc(const char *s, osp_buf *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': osp_buf_puts(out, "&lt;"); break;
        case '>': osp_buf_puts(out, "&gt;"); break;
        case '&': osp_buf_puts(out, "&amp;"); break;
        case '"': osp_buf_puts(out, "&#34;"); break;
        default: osp_buf_putc(out, *s);
        }
    }
}

/* A compact rendering of Alertmanager's email.default.html content. */
static void
default_html(const alert_notify_data *d, const char *subject, osp_buf *out)
{
    osp_buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>");
    html_esc(subject, out);
    osp_buf_puts(out, "</title></head><body>\n<h2>");
    html_esc(subject, out);
    osp_buf_puts(out, "</h2>\n");
    for (int pass = 0; pass < 2; pass++) {
        size_t cnt = 0;
        for (size_t i = 0; i < d->n; i++)
            cnt += alert_notify_alert_firing(d, d->alerts[i]) == (pass == 0);
        if (cnt == 0)
            continue;
        osp_buf_printf(out, "<p><strong>[%zu] %s</strong></p>\n", cnt,
                       pass == 0 ? "Firing" : "Resolved");
        for (size_t i = 0; i < d->n; i++) {
            const alert_alert *a = d->alerts[i];
            if (alert_notify_alert_firing(d, a) != (pass == 0))
                continue;
            osp_buf_puts(out, "<p><strong>Labels</strong><br>\n");
            for (size_t k = 0; k < a->labels.n; k++) {
                html_esc(a->labels.v[k].name, out);
                osp_buf_puts(out, " = ");
                html_esc(a->labels.v[k].value, out);
                osp_buf_puts(out, "<br>\n");
            }
            if (a->annotations.n)
                osp_buf_puts(out, "<strong>Annotations</strong><br>\n");
            for (size_t k = 0; k < a->annotations.n; k++) {
                html_esc(a->annotations.v[k].name, out);
                osp_buf_puts(out, " = ");
                html_esc(a->annotations.v[k].value, out);
                osp_buf_puts(out, "<br>\n");
            }
            if (a->generator_url && *a->generator_url) {
                osp_buf_puts(out, "<a href=\"");
                html_esc(a->generator_url, out);
                osp_buf_puts(out, "\">Source</a><br>\n");
            }
            osp_buf_puts(out, "</p>\n");
        }
    }
    osp_buf_puts(out, "<p><a href=\"");
    html_esc(d->job->external_url ? d->job->external_url : "", out);
    osp_buf_puts(out, "\">Sent by Osprey alerter</a></p>\n</body></html>\n");
}

int
alert_render_email(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei)
{
    const alert_email_cfg *c = &d->job->rcv->emails[d->job->idx];
    osp_buf subj, html;
    osp_buf_init(&subj);
    osp_buf_init(&html);
    const char *hs = osp_labels_get(&c->headers, "Subject");
    if (hs)
        osp_buf_puts(&subj, hs);
    else
        alert_render_subject(d, &subj);
    header(out, "Subject", osp_buf_cstr(&subj));
    header(out, "From", osp_labels_get(&c->headers, "From") ? osp_labels_get(&c->headers, "From")
                                                            : c->from);
    header(out, "To", osp_labels_get(&c->headers, "To") ? osp_labels_get(&c->headers, "To")
                                                        : c->to);
    for (size_t i = 0; i < c->headers.n; i++) {
        const char *k = c->headers.v[i].name;
        if (strcasecmp(k, "Subject") && strcasecmp(k, "From") && strcasecmp(k, "To"))
            header(out, k, c->headers.v[i].value);
    }
    char host[128] = "localhost";
    gethostname(host, sizeof(host) - 1);
    osp_buf_printf(out, "Message-Id: <%lld.%d@%s>\r\n", (long long)osp_mono_ns(), rand(), host);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    osp_buf_printf(out, "Date: %s\r\nMIME-Version: 1.0\r\n", date);
    char boundary[64];
    snprintf(boundary, sizeof(boundary), "osprey-%llx", (unsigned long long)osp_mono_ns());
    osp_buf_printf(out, "Content-Type: multipart/alternative;  boundary=%s\r\n\r\n", boundary);
    if (c->text) {
        osp_buf_printf(out,
                       "--%s\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: "
                       "text/plain; charset=UTF-8\r\n\r\n",
                       boundary);
        qp(c->text, out);
        osp_buf_puts(out, "\r\n");
    }
    if (c->html)
        osp_buf_puts(&html, c->html);
    else
        default_html(d, osp_buf_cstr(&subj), &html);
    osp_buf_printf(out,
                   "--%s\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: "
                   "text/html; charset=UTF-8\r\n\r\n",
                   boundary);
    qp(osp_buf_cstr(&html), out);
    osp_buf_printf(out, "\r\n--%s--\r\n", boundary);
    osp_buf_fini(&subj);
    osp_buf_fini(&html);
    (void)ei;
    return 0;
}
