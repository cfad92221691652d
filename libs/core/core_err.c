/* core_err.c - error codes and error-info formatting. */
#include "osp_err.h"

#include <stdio.h>
#include <string.h>

const char *
osp_err_str(int err)
{
    switch (err) {
    case OSP_OK: return "success";
    case OSP_ENOMEM: return "out of memory";
    case OSP_EINVAL: return "invalid argument";
    case OSP_EPARSE: return "parse error";
    case OSP_EIO: return "I/O error";
    case OSP_ETIMEDOUT: return "timed out";
    case OSP_ENOTFOUND: return "not found";
    case OSP_EEXIST: return "already exists";
    case OSP_ELIMIT: return "limit exceeded";
    case OSP_EUNAVAIL: return "unavailable";
    case OSP_ECLOSED: return "closed";
    case OSP_EAGAIN: return "try again";
    case OSP_EINTERNAL: return "internal error";
    case OSP_ECORRUPT: return "corrupt data";
    default: return "unknown error";
    }
}

int
osp_errinfo_set(osp_errinfo *ei, int code, int line, int col, const char *fmt, ...)
{
    if (ei == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
    va_end(ap);
    ei->line = line;
    ei->col = col;
    return code;
}

void
osp_errinfo_clear(osp_errinfo *ei)
{
    if (ei != NULL)
        memset(ei, 0, sizeof(*ei));
}

void
osp_errinfo_format(const osp_errinfo *ei, char *out, unsigned long outsz)
{
    size_t off = 0;
    if (outsz == 0)
        return;
    out[0] = '\0';
#define APP(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(out + off, outsz - off, __VA_ARGS__);                                    \
        if (w_ > 0)                                                                                \
            off += (size_t)w_ < outsz - off ? (size_t)w_ : outsz - off - 1;                        \
    } while (0)
    if (ei->file[0] != '\0') {
        APP("%s", ei->file);
        if (ei->line > 0)
            APP(":%d", ei->line);
        if (ei->col > 0)
            APP(":%d", ei->col);
        APP(": ");
    } else if (ei->line > 0) {
        APP("line %d", ei->line);
        if (ei->col > 0)
            APP(", column %d", ei->col);
        APP(": ");
    }
    if (ei->key[0] != '\0')
        APP("%s: ", ei->key);
    APP("%s", ei->msg);
#undef APP
}
