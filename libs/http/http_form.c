/* http_form.c - percent-decoding and application/x-www-form-urlencoded /
 * query-string parsing, as Go's url.ParseQuery does it (minus ';'). */
#include "http.h"

#include <string.h>

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

int
osp_http_urldecode(const char *s, size_t n, bool plus, osp_buf *out)
{
    osp_buf_reserve(out, n);
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                out->len = start;
                out->data[start] = '\0';
                return OSP_EPARSE;
            }
            osp_buf_putc(out, (char)(hi << 4 | lo));
            i += 2;
        } else if (c == '+' && plus) {
            osp_buf_putc(out, ' ');
        } else {
            osp_buf_putc(out, c);
        }
    }
    return 0;
}

int
osp_http_parse_form(const char *s, size_t n, osp_http_form_fn fn, void *ctx, osp_errinfo *ei)
{
    osp_buf name, value;
    osp_buf_init(&name);
    osp_buf_init(&value);
    int rc = 0;
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t nend = eq ? (size_t)(eq - s) : end;
            osp_buf_reset(&name);
            osp_buf_reset(&value);
            osp_buf_append(&name, "", 0);
            osp_buf_append(&value, "", 0);
            if (osp_http_urldecode(s + i, nend - i, true, &name) != 0 ||
                (eq && osp_http_urldecode(eq + 1, end - nend - 1, true, &value) != 0)) {
                rc = osp_errinfo_set(ei, OSP_EPARSE, 0, (int)(i + 1),
                                     "invalid URL escape at byte %zu", i + 1);
                break;
            }
            fn(ctx, name.data, name.len, value.data, value.len);
        }
        i = end + 1;
    }
    osp_buf_fini(&name);
    osp_buf_fini(&value);
    return rc;
}
