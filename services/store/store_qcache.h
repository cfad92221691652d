/* store_qcache.h - a bounded cache of what queries read from PostgreSQL: per
 * series, the merged persisted samples of the time range last read (short
 * ranges only, re-encoded as one compressed chunk), so a query repeated over
 * data older than the head window skips the chunk fetch and the decoding of
 * whole chunks. It never serves stale data: the head reports every chunk it
 * persists (store_qcache_persisted), which drops the entries of that series
 * whose range the chunk overlaps, and a fill based on a head state older than
 * the latest report is refused (store_qcache_epoch). Entries older than
 * STORE_QCACHE_MAX_AGE_MS are not used (retention drops whole partitions
 * without telling the head), and the least recently used ones go first when
 * the byte budget is reached. Thread-safe: one mutex, never held while waiting
 * for the head's lock. */
#ifndef STORE_QCACHE_H
#define STORE_QCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "promql.h"

typedef struct store_qcache store_qcache;

/* An entry holds at most this many samples: a range query over hours reads
 * too much to keep, and encoding it would cost more than it saves. */
#define STORE_QCACHE_MAX_SAMPLES 512
#define STORE_QCACHE_MAX_AGE_MS ((int64_t)5 * 60 * 1000)

/* store_qcache_new: an empty cache of at most max_bytes (entries, samples and
 * table counted). Never NULL. store_qcache_free: NULL-safe. */
store_qcache *store_qcache_new(size_t max_bytes);
void store_qcache_free(store_qcache *c);

/* store_qcache_epoch: the count of persist reports so far. Read it under the
 * head's read lock, together with the head state a later fill is based on. */
uint64_t store_qcache_epoch(store_qcache *c);

/* store_qcache_get: when an entry of series id no older than the max age
 * covers [mint, maxt]: its samples with mint <= t <= maxt, in time order, into
 * an arena array with room for extra more points after them (*pts, *n), and
 * true. Otherwise false. now_ms is the current time. */
bool store_qcache_get(store_qcache *c, int64_t id, int64_t mint, int64_t maxt, int64_t now_ms,
                      size_t extra, osp_arena *a, osp_promql_point **pts, size_t *n);

/* store_qcache_put: remember pts[0..n) (time order, each timestamp once) as
 * every persisted sample of series id with mint <= t <= maxt, as read from
 * the head state of epoch (store_qcache_epoch) and PostgreSQL after it. It
 * replaces the series' entry. Ignored when a persist was reported since epoch,
 * when n exceeds STORE_QCACHE_MAX_SAMPLES or the entry a sixteenth of the
 * budget. */
void store_qcache_put(store_qcache *c, int64_t id, int64_t mint, int64_t maxt, int64_t now_ms,
                      const osp_promql_point *pts, size_t n, uint64_t epoch);

/* store_qcache_persisted: a chunk of series id with samples in [min_t, max_t]
 * was written to PostgreSQL: drop the series' entry if its range overlaps, and
 * count a report. Called by the head under its write lock. */
void store_qcache_persisted(store_qcache *c, int64_t id, int64_t min_t, int64_t max_t);

/* store_qcache_clear: drop every entry and count a report (the head forgot
 * everything). */
void store_qcache_clear(store_qcache *c);

/* Counters, for tests and self-metrics. */
typedef struct store_qcache_stats {
    uint64_t hits, misses, puts, refused, evicted, dropped;
    size_t entries, bytes;
} store_qcache_stats;

/* store_qcache_stats_get: a snapshot of the counters. */
void store_qcache_stats_get(store_qcache *c, store_qcache_stats *out);

#endif
