/* store_head.h - the in-memory head: series_id -> series (sorted labels,
 * samples sorted by time), the inverted index, and the metric metadata.
 * One rwlock guards it all: the ingest path writes under the write lock,
 * queries read under the read lock. Series refs (array positions) are valid
 * only while the caller holds a lock: retention compacts them. */
#ifndef STORE_HEAD_H
#define STORE_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "osp_labels.h"
#include "promql.h"
#include "store_index.h"

typedef struct store_head store_head;

/* One series of the head (read-only for callers). */
typedef struct store_series {
    uint64_t id;       /* osp_labels_hash of labels */
    osp_labels labels; /* sorted by name */
    int64_t *ts;       /* unix ms, strictly increasing */
    double *vs;
    size_t n, cap;
} store_series;

/* Outcome of store_head_append. */
typedef enum store_append_res {
    STORE_APPEND_OK = 0,   /* stored (appended or inserted in order) */
    STORE_APPEND_DUP,      /* same timestamp, bitwise-identical value: ignored */
    STORE_APPEND_CONFLICT, /* same timestamp, another value: rejected */
} store_append_res;

/* store_head_new: an empty head (never NULL). store_head_free: NULL-safe; no
 * other thread may use h. */
store_head *store_head_new(void);
void store_head_free(store_head *h);

/* Locking: rdlock for reads (queries, API), wrlock for changes. */
void store_head_rdlock(store_head *h);
void store_head_wrlock(store_head *h);
void store_head_unlock(store_head *h);

/* store_head_id: the series id of a sorted label set (osp_labels_hash as the
 * signed bigint stored in PostgreSQL). */
int64_t store_head_id(const osp_labels *sorted);

/* store_head_find: the ref of the series with id and exactly these labels.
 * Returns 0, OSP_ENOTFOUND, or OSP_EEXIST when id is taken by other labels (a
 * 64-bit hash collision). Read or write lock held. */
int store_head_find(const store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref);

/* store_head_get_or_create: like store_head_find, creating the series (copy
 * of sorted, indexed) when missing; *created says so (may be NULL). Errors:
 * OSP_EEXIST on a hash collision (nothing created). Write lock held. */
int store_head_get_or_create(store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref,
                             bool *created);

/* store_head_append: add sample (t, v) to series ref with the rules of the
 * head: a newer t appends; an older t is inserted in order; an existing t is
 * a duplicate when the value is bitwise identical (stale markers included),
 * else a conflict. Write lock held. */
store_append_res store_head_append(store_head *h, uint32_t ref, int64_t t, double v);

/* store_head_truncate: drop samples with t < mint_ms and then series left
 * without samples (refs are renumbered, the index rebuilt). Returns the number
 * of samples dropped. Write lock held. */
size_t store_head_truncate(store_head *h, int64_t mint_ms);

/* Counters (any lock held, or none for a racy read by metrics). */
size_t store_head_nseries(const store_head *h);
size_t store_head_nsamples(const store_head *h);

/* store_head_series: the series at ref (lock held; ref < store_head_nseries). */
const store_series *store_head_series(const store_head *h, uint32_t ref);

/* store_head_index: the inverted index (lock held). */
const store_index *store_head_index(const store_head *h);

/* store_head_match: refs (sorted, in arena a) of the series matching all nm
 * matchers that have a sample in [mint_ms, maxt_ms] (pass INT64_MIN/INT64_MAX
 * for no time filter; series without samples then match too). Lock held. */
void store_head_match(const store_head *h, const osp_matcher *ms, size_t nm, int64_t mint_ms,
                      int64_t maxt_ms, osp_arena *a, uint32_t **out, size_t *nout);

/* store_head_source: the PromQL source over h; its select takes the read lock
 * itself and copies samples into the query's arena. */
osp_promql_source store_head_source(store_head *h);

/* ---- metric metadata (same lock) ---- */

typedef struct store_meta {
    char *metric;
    char *type;
    char *help;
    char *unit;
} store_meta;

/* store_head_meta_set: set metric's metadata (copies); returns true when it
 * changed (new or different). Write lock held. */
bool store_head_meta_set(store_head *h, const char *metric, const char *type, const char *help,
                         const char *unit);

/* store_head_meta_find: metric's metadata or NULL. Lock held. */
const store_meta *store_head_meta_find(const store_head *h, const char *metric);

/* store_head_meta: the entries sorted by metric; *n gets the count. Lock held. */
const store_meta *store_head_meta(const store_head *h, size_t *n);

#endif
