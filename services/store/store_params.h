/* store_params.h - parsing of Prometheus API parameters (times, durations,
 * limits, U__-escaped label names) with Prometheus' error wording. Pure
 * functions, any thread. */
#ifndef STORE_PARAMS_H
#define STORE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "osp_buf.h"
#include "osp_err.h"

/* Parameter errors append `invalid parameter "<name>": <reason>` to msg. */

/* store_param_time: s as float unix seconds or RFC3339 into unix ms; NULL or
 * "" gives def. Returns 0 or OSP_EPARSE. */
int store_param_time(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg);

/* store_param_ms: s as integer unix milliseconds (import's timestamp=);
 * NULL or "" gives def. */
int store_param_ms(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg);

/* store_param_duration: s as float seconds ("15", "0.5") or a Prometheus
 * duration ("5m", "1h30m") into ms (rounded to the nearest ms); NULL or ""
 * gives def. Negative, NaN or overflowing values are errors. */
int store_param_duration(const char *name, const char *s, int64_t def, int64_t *ms, osp_buf *msg);

/* store_param_limit: non-negative decimal; NULL or "" gives 0 (no limit). */
int store_param_limit(const char *name, const char *s, size_t *out, osp_buf *msg);

/* store_label_unescape: the label name of a /api/v1/label/<name>/values path:
 * names starting with "U__" are decoded (letters, digits and ':' kept, "__" is
 * '_', "_<hex>_" a code point of any hex width); a legacy name, or an invalid
 * escape, is returned unchanged (as prometheus/common does). Appends to out. */
void store_label_unescape(const char *name, osp_buf *out);

/* store_query_steps_ok: Prometheus' 11 000 points guard: false when
 * (end-start)/step > 11000. */
int store_query_steps_ok(int64_t start_ms, int64_t end_ms, int64_t step_ms);

#endif
