/* log.c - JSON-lines logger (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "osp_buf.h"
#include "osp_err.h"
#include "osp_time.h"

static volatile int g_level = OSP_LOG_INFO;
static volatile int g_fd = 2;

static const char *names[] = {"debug", "info", "warn", "error"};

void
osp_log_set_level(osp_log_level lvl)
{
    g_level = lvl;
}

void
osp_log_set_fd(int fd)
{
    g_fd = fd;
}

int
osp_log_parse_level(const char *s, osp_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (osp_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = OSP_LOG_WARN;
        return 0;
    }
    return OSP_EINVAL;
}

bool
osp_log_enabled(osp_log_level lvl)
{
    return (int)lvl >= g_level;
}

static void
emit(osp_log_level lvl, const char *component, const char *msg, va_list *ap)
{
    osp_buf b;
    osp_buf_init(&b);
    char ts[40];
    osp_format_rfc3339(osp_now_ms(), ts, sizeof(ts));
    osp_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts, names[lvl & 3]);
    osp_buf_json_cstr(&b, component ? component : "main");
    osp_buf_puts(&b, ",\"msg\":");
    osp_buf_json_cstr(&b, msg);
    if (ap != NULL) {
        for (;;) {
            const char *k = va_arg(*ap, const char *);
            if (k == NULL)
                break;
            const char *v = va_arg(*ap, const char *);
            osp_buf_putc(&b, ',');
            osp_buf_json_cstr(&b, k);
            osp_buf_putc(&b, ':');
            if (v == NULL)
                osp_buf_puts(&b, "null");
            else
                osp_buf_json_cstr(&b, v);
        }
    }
    osp_buf_puts(&b, "}\n");
    ssize_t off = 0;
    while ((size_t)off < b.len) {
        ssize_t w = write(g_fd, b.data + off, b.len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
    osp_buf_fini(&b);
}

void
osp_log(osp_log_level lvl, const char *component, const char *msg, ...)
{
    if (!osp_log_enabled(lvl))
        return;
    va_list ap;
    va_start(ap, msg);
    emit(lvl, component, msg, &ap);
    va_end(ap);
}

void
osp_logf(osp_log_level lvl, const char *component, const char *fmt, ...)
{
    if (!osp_log_enabled(lvl))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(lvl, component, msg, NULL);
}

bool
osp_ratelim_fail(osp_ratelim *rl, int64_t now_ms, uint64_t *suppressed)
{
    if (!rl->failing) {
        rl->failing = true;
        rl->interval_ms = 1000;
        rl->next_ms = now_ms + rl->interval_ms;
        rl->suppressed = 0;
        if (suppressed)
            *suppressed = 0;
        return true;
    }
    if (now_ms >= rl->next_ms) {
        if (suppressed)
            *suppressed = rl->suppressed;
        rl->suppressed = 0;
        rl->interval_ms *= 2;
        if (rl->interval_ms > 300000)
            rl->interval_ms = 300000;
        rl->next_ms = now_ms + rl->interval_ms;
        return true;
    }
    rl->suppressed++;
    return false;
}

bool
osp_ratelim_ok(osp_ratelim *rl)
{
    if (!rl->failing)
        return false;
    rl->failing = false;
    rl->suppressed = 0;
    return true;
}
