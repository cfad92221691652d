/* osp_err.h - the one error convention of Osprey: 0 is success, else a positive
 * osp_err code; human detail goes into an optional osp_errinfo. */
#ifndef OSP_ERR_H
#define OSP_ERR_H

#include <stdarg.h>

typedef enum osp_err {
    OSP_OK = 0,
    OSP_ENOMEM,    /* allocation failed */
    OSP_EINVAL,    /* invalid argument or value */
    OSP_EPARSE,    /* syntax error in input */
    OSP_EIO,       /* I/O or system call failed */
    OSP_ETIMEDOUT, /* deadline passed */
    OSP_ENOTFOUND, /* no such thing */
    OSP_EEXIST,    /* already exists / duplicate */
    OSP_ELIMIT,    /* a configured limit was hit */
    OSP_EUNAVAIL,  /* peer (PostgreSQL, Redis, store) unavailable */
    OSP_ECLOSED,   /* object closed or shutting down */
    OSP_EAGAIN,    /* try again later (would block) */
    OSP_EINTERNAL, /* bug */
    OSP_ECORRUPT,  /* stored or encoded data is malformed (a chunk, a block) */
} osp_err;

/* osp_err_str: static English text of an osp_err code; never NULL. */
const char *osp_err_str(int err);

/* Caller-provided detail of an error: where (file, line, column, key) and what.
 * line/col are 1-based, 0 when unknown. */
typedef struct osp_errinfo {
    char file[256];
    char key[128];
    int line;
    int col;
    char msg[512];
} osp_errinfo;

/* osp_errinfo_set: format msg into ei (NULL ei is allowed and ignored) and set
 * line/col; file and key are kept. Returns code, so callers can
 * `return osp_errinfo_set(ei, OSP_EPARSE, line, col, "...")`. */
int osp_errinfo_set(osp_errinfo *ei, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* osp_errinfo_clear: zero ei (NULL-safe). */
void osp_errinfo_clear(osp_errinfo *ei);

/* osp_errinfo_format: "file:line:col: key: msg" with absent parts omitted, into out. */
void osp_errinfo_format(const osp_errinfo *ei, char *out, unsigned long outsz);

#endif
