/* promql_fmt.c - fast timestamp formatting for the JSON writer (a range result may hold
 * millions of points); values go through osp_fmt_double. */
#include "promql.h"

#include <stdint.h>

#include "osp_buf.h"

/* utoa: decimal digits of u into out (no NUL); returns the length. */
static size_t
utoa(char *out, uint64_t u)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

int
osp_promql_fmt_ts_c(char *out, int64_t t_ms)
{
    char *o = out;
    uint64_t u;
    if (t_ms < 0) {
        *o++ = '-';
        u = (uint64_t)0 - (uint64_t)t_ms;
    } else {
        u = (uint64_t)t_ms;
    }
    uint64_t s = u / 1000;
    unsigned ms = (unsigned)(u % 1000);
    o += utoa(o, s);
    if (ms != 0) {
        *o++ = '.';
        *o++ = (char)('0' + ms / 100);
        if (ms % 100 != 0) {
            *o++ = (char)('0' + ms / 10 % 10);
            if (ms % 10 != 0)
                *o++ = (char)('0' + ms % 10);
        }
    }
    *o = '\0';
    return (int)(o - out);
}
