/* alert_notify_email.c - the e-mail message: templated headers (Subject
 * defaults to {{ template "email.default.subject" . }}), multipart/alternative
 * with text/plain (when configured) and text/html parts (default
 * email.default.html), quoted-printable UTF-8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

int
alert_render_email(const alert_notify_data *d, osp_buf *out, osp_errinfo *ei)
{
    const alert_email_cfg *c = &d->job->rcv->emails[d->job->idx];
    alert_notify_tctx t;
    alert_notify_tctx_init(&t, d);
    osp_buf v, html;
    osp_buf_init(&v);
    osp_buf_init(&html);
    int rc = 0;
    /* Subject, From, To first (the order mail clients show), then the rest */
    static const char *const first[] = {"Subject", "From", "To"};
    for (size_t pass = 0; pass < 4 && rc == 0; pass++) {
        for (size_t i = 0; i < c->headers.n && rc == 0; i++) {
            const char *k = c->headers.v[i].name;
            bool is_first = false;
            for (size_t f = 0; f < 3; f++)
                is_first |= strcasecmp(k, first[f]) == 0;
            if (pass < 3 ? strcasecmp(k, first[pass]) != 0 : is_first)
                continue;
            osp_buf_reset(&v);
            if ((rc = alert_notify_tctx_exec(&t, c->header_tmpls[i], &v, ei)))
                break;
            header(out, k, osp_buf_cstr(&v));
        }
    }
    if (rc == 0)
        rc = alert_notify_tctx_exec(&t, c->html, &html, ei);
    if (rc)
        goto done;
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
        osp_buf_reset(&v);
        if ((rc = alert_notify_tctx_exec(&t, c->text, &v, ei)))
            goto done;
        osp_buf_printf(out,
                       "--%s\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: "
                       "text/plain; charset=UTF-8\r\n\r\n",
                       boundary);
        qp(osp_buf_cstr(&v), out);
        osp_buf_puts(out, "\r\n");
    }
    osp_buf_printf(out,
                   "--%s\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Type: "
                   "text/html; charset=UTF-8\r\n\r\n",
                   boundary);
    qp(osp_buf_cstr(&html), out);
    osp_buf_printf(out, "\r\n--%s--\r\n", boundary);
done:
    osp_buf_fini(&v);
    osp_buf_fini(&html);
    alert_notify_tctx_fini(&t);
    return rc;
}
