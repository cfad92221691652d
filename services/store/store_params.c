/* store_params.c - API parameter parsing as Prometheus' web/api/v1 does it. */
#include "store_params.h"

#include <math.h>
#include <string.h>

#include "osp_time.h"

static int
bad(osp_buf *msg, const char *name, const char *what, const char *s)
{
    if (msg != NULL) {
        osp_buf_printf(msg, "invalid parameter \"%s\": cannot parse \"%s\" to a valid %s", name, s,
                       what);
    }
    return OSP_EPARSE;
}

int
store_param_time(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg)
{
    if (s == NULL || s[0] == '\0') {
        *ms = def;
        return 0;
    }
    int64_t v;
    if (osp_parse_api_time(osp_str_c(s), &v) != 0)
        return bad(msg, name, "timestamp", s);
    *ms = v;
    return 0;
}

int
store_param_ms(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg)
{
    if (s == NULL || s[0] == '\0') {
        *ms = def;
        return 0;
    }
    int64_t v;
    if (osp_parse_int64(osp_str_c(s), &v) != 0)
        return bad(msg, name, "timestamp", s);
    *ms = v;
    return 0;
}

int
store_param_duration(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg)
{
    if (s == NULL || s[0] == '\0') {
        *ms = def;
        return 0;
    }
    double d;
    if (osp_parse_double(osp_str_c(s), &d) == 0) {
        if (!isfinite(d) || d < 0 || d * 1000.0 > 9.2e18)
            return bad(msg, name, "duration", s);
        *ms = (int64_t)llround(d * 1000.0);
        return 0;
    }
    int64_t v;
    if (osp_parse_duration(osp_str_c(s), &v) != 0)
        return bad(msg, name, "duration", s);
    *ms = v;
    return 0;
}

int
store_param_limit(const char *name, const char *s, size_t *out, osp_buf *msg)
{
    if (s == NULL || s[0] == '\0') {
        *out = 0;
        return 0;
    }
    int64_t v;
    if (osp_parse_int64(osp_str_c(s), &v) != 0) {
        if (msg != NULL)
            osp_buf_printf(msg, "invalid parameter \"%s\": cannot parse \"%s\" to a valid limit",
                           name, s);
        return OSP_EPARSE;
    }
    if (v < 0) {
        if (msg != NULL)
            osp_buf_printf(msg, "invalid parameter \"%s\": limit must be non-negative", name);
        return OSP_EPARSE;
    }
    *out = (size_t)v;
    return 0;
}

static void
put_utf8(osp_buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    osp_buf_append(out, b, n);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void
store_label_unescape(const char *name, osp_buf *out)
{
    if (strncmp(name, "U__", 3) != 0) {
        osp_buf_puts(out, name);
        return;
    }
    size_t start = out->len;
    const char *e = name + 3;
    size_t n = strlen(e);
    for (size_t i = 0; i < n; i++) {
        char c = e[i];
        if (c == '_') {
            if (i + 1 < n && e[i + 1] == '_') {
                osp_buf_putc(out, '_');
                i++;
                continue;
            }
            uint32_t cp = 0;
            size_t j = i + 1;
            while (j < n && e[j] != '_') {
                int h = hexval(e[j]);
                if (h < 0 || cp > 0x10ffff)
                    goto invalid;
                cp = cp * 16 + (uint32_t)h;
                j++;
            }
            if (j >= n || j == i + 1 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                goto invalid;
            put_utf8(out, cp);
            i = j;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' ||
                   (c >= '0' && c <= '9' && i > 0)) {
            osp_buf_putc(out, c);
        } else {
            goto invalid;
        }
    }
    return;
invalid:
    out->len = start;
    if (out->data != NULL)
        out->data[start] = '\0';
    osp_buf_puts(out, name);
}

int
store_query_steps_ok(int64_t start_ms, int64_t end_ms, int64_t step_ms)
{
    return step_ms > 0 && (end_ms - start_ms) / step_ms <= 11000;
}
