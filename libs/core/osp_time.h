/* osp_time.h - clocks, Prometheus-style durations and API timestamps. */
#ifndef OSP_TIME_H
#define OSP_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "osp_buf.h"

int64_t osp_now_ms(void);  /* wall clock, unix ms */
int64_t osp_mono_ns(void); /* monotonic ns */
void osp_sleep_ms(int64_t ms);

/* osp_timespec_add_ms: *ts moved ms (>= 0) later, normalised (deadlines for
 * pthread_cond_timedwait). */
void osp_timespec_add_ms(struct timespec *ts, int64_t ms);

/* osp_parse_duration: Prometheus duration syntax "1h30m", "5m", "10s", "100ms",
 * "2d", "1w", "1y" (y=365d), units in descending order, no sign. "0" is accepted.
 * Result in ms. Returns 0 or OSP_EPARSE. */
int osp_parse_duration(osp_str s, int64_t *ms);

/* osp_format_duration: inverse of osp_parse_duration ("1h30m", "0s"). out >= 32 bytes. */
void osp_format_duration(int64_t ms, char *out, size_t outsz);

/* osp_parse_api_time: a Prometheus API time parameter: float unix seconds
 * ("1718000000.123") or RFC3339 ("2015-07-01T20:10:51.781Z", offsets allowed).
 * Result in unix ms. Returns 0 or OSP_EPARSE. */
int osp_parse_api_time(osp_str s, int64_t *ms);

/* osp_format_rfc3339: unix ms -> "2006-01-02T15:04:05.000Z" (UTC). out >= 32. */
void osp_format_rfc3339(int64_t ms, char *out, size_t outsz);

#endif
