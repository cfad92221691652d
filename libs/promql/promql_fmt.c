/* promql_fmt.c - fast timestamp formatting for the JSON writer (a range result may hold
 * millions of points); values go through osp_fmt_double. */
#include "promql.h"

#include <stdint.h>

#include "osp_buf.h"

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
    o += osp_fmt_u64(o, s);
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
