/* log.h - structured JSON-lines logging on stderr and rate limiting of
 * recurring complaints. Thread-safe: one write(2) per line. */
#ifndef OSP_LOG_H
#define OSP_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum osp_log_level {
    OSP_LOG_DEBUG = 0,
    OSP_LOG_INFO = 1,
    OSP_LOG_WARN = 2,
    OSP_LOG_ERROR = 3,
} osp_log_level;

/* osp_log_set_level / osp_log_parse_level ("debug","info","warn","error"; 0 or OSP_EINVAL). */
void osp_log_set_level(osp_log_level lvl);
int osp_log_parse_level(const char *s, osp_log_level *out);
bool osp_log_enabled(osp_log_level lvl);
/* osp_log_set_fd: where lines go (default 2). For tests. */
void osp_log_set_fd(int fd);

/* osp_log: one line {"ts":..,"level":..,"component":..,"msg":..,k:v...}; the
 * variadic part is pairs of const char* key, const char* value, ended by NULL.
 * A NULL value is written as null. Never pass secrets. */
void osp_log(osp_log_level lvl, const char *component, const char *msg, ...)
    __attribute__((sentinel));

/* osp_logf: formatted message, no fields. */
void osp_logf(osp_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate limiter for a recurring failure: log the first time, then at growing
 * intervals (1 s, 2 s, 4 s ... up to 5 min), and once on recovery. Caller storage,
 * zero-initialized. Not thread-safe by itself. */
typedef struct osp_ratelim {
    int64_t next_ms;
    int64_t interval_ms;
    uint64_t suppressed;
    bool failing;
} osp_ratelim;

/* osp_ratelim_fail: record a failure at now_ms; true if it should be logged now
 * (*suppressed gets how many were skipped since the last log). */
bool osp_ratelim_fail(osp_ratelim *rl, int64_t now_ms, uint64_t *suppressed);
/* osp_ratelim_ok: record success; true once, when it ends a failing period. */
bool osp_ratelim_ok(osp_ratelim *rl);

#endif
