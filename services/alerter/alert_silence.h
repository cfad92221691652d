/* alert_silence.h - silences: API v2 create/update/expire, matching, JSON
 * encoding, and persistence in Redis (hash osprey:alerter:silences) so that a
 * restart keeps them and several alerters share them. Loop thread only. */
#ifndef ALERT_SILENCE_H
#define ALERT_SILENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "alert_json.h"
#include "alert_matcher.h"
#include "alert_state.h"
#include "osp_buf.h"

typedef struct alert_silence {
    char id[40];
    alert_matchers m;
    bool *is_regex, *is_equal; /* per matcher, as posted */
    int64_t starts_ms, ends_ms, updated_ms;
    char *created_by, *comment;
} alert_silence;

typedef struct alert_silences alert_silences;

/* alert_silences_new: empty set; redis (borrowed, may be NULL) persists them. */
alert_silences *alert_silences_new(alert_redis *redis);
void alert_silences_free(alert_silences *s);

/* alert_silences_post: create (no "id") or update a silence from the API body.
 * Writes the id (36 chars + NUL) on success. Errors: OSP_EINVAL with a reason
 * in ei (no matchers, all matchers match "", endsAt before startsAt, endsAt in
 * the past, bad regex), OSP_ENOTFOUND for an unknown id. */
int alert_silences_post(alert_silences *s, const alert_json *body, int64_t now_ms, char *id_out,
                        osp_errinfo *ei);

/* alert_silences_expire: end silence id now. OSP_ENOTFOUND when unknown;
 * OSP_EINVAL when it already expired. */
int alert_silences_expire(alert_silences *s, const char *id, int64_t now_ms);

/* alert_silences_get: silence by id or NULL (borrowed until the next change). */
const alert_silence *alert_silences_get(const alert_silences *s, const char *id);

/* alert_silences_muting: the number of active silences matching ls; the
 * first max of their ids go to ids (borrowed; ids may be NULL when max is 0). */
size_t alert_silences_muting(const alert_silences *s, const osp_labels *ls, int64_t now_ms,
                             const char **ids, size_t max);

/* alert_silences_sync: reload the set from Redis (other alerters' changes) and
 * drop silences expired more than retention ago. No-op without Redis. */
void alert_silences_sync(alert_silences *s, int64_t now_ms);

/* alert_silences_json: the API array of gettableSilences, filtered by the
 * matchers in filter (may be NULL: silences whose matchers all ... Alertmanager
 * filters by label equality of the silence's matchers). */
void alert_silences_json(const alert_silences *s, const alert_matchers *filter, int64_t now_ms,
                         osp_buf *out);

/* alert_silence_json: one gettableSilence. */
void alert_silence_json(const alert_silence *si, int64_t now_ms, osp_buf *out);

/* alert_silences_count: number of silences in state "active". */
size_t alert_silences_active(const alert_silences *s, int64_t now_ms);

#endif
