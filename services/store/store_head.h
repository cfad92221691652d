/* store_head.h - the in-memory side of the store: the series catalog (every
 * series id -> sorted labels, refs stable for the life of the head), the
 * inverted index over it, the per-series head data (an open compressed chunk
 * being appended, an out-of-order buffer, closed compressed chunks of the head
 * window), and the metric metadata.
 *
 * Closed chunks are written to PostgreSQL (store_chunks) and stay in memory
 * while they overlap the head window; every chunk with max_t >= the memory
 * cut (store_head_mem_cut) is in memory, so a query that starts at or after
 * the cut never reads PostgreSQL. Samples not yet in a persisted chunk are
 * durable through the batch log; store_head_watermark says from which arrival
 * time on the log is still needed.
 *
 * One rwlock guards it all: the ingest path writes under the write lock,
 * queries read under the read lock. Chunk data buffers are immutable and are
 * freed only by store_head_evict/clear, which only the ingest thread calls, so
 * that thread may keep pointers to them after unlocking. */
#ifndef STORE_HEAD_H
#define STORE_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "osp_chunk.h"
#include "osp_labels.h"
#include "promql.h"
#include "store_index.h"
#include "store_qcache.h"

typedef struct store_head store_head;

/* Chunks never span a partition boundary of the chunk tables (UTC days), so
 * a chunk lies in the partition of its min_t. */
#define STORE_PARTITION_MS ((int64_t)86400 * 1000)
/* store_floor_div: t / d rounded down (t may be negative; d > 0). */
static inline int64_t
store_floor_div(int64_t t, int64_t d)
{
    int64_t q = t / d;
    return t % d < 0 ? q - 1 : q;
}

/* store_partition_day: the partition (UTC day since the epoch) of time t. */
int64_t store_partition_day(int64_t t);

/* An open chunk is closed at this many samples (Prometheus's target). */
#define STORE_CHUNK_SAMPLES 120

/* One closed chunk in memory. */
typedef struct store_chunk {
    int64_t min_t, max_t;
    int64_t since_ms; /* arrival (commit ms) of its earliest sample; only while unpersisted */
    uint8_t *data;    /* osp_chunk encoding, immutable */
    uint32_t len, n;
    bool persisted;
} store_chunk;

/* The head data of one series (NULL when the series is not in the head). */
typedef struct store_hdata {
    osp_chunk_app app; /* open chunk: samples after every closed in-order one */
    int64_t app_since;
    int64_t *ooo_t; /* out-of-order samples, sorted, not yet in a chunk */
    double *ooo_v;
    uint32_t ooo_n, ooo_cap;
    int64_t ooo_since;
    store_chunk *ch; /* closed chunks sorted by min_t (out-of-order ones may overlap) */
    uint32_t nch, capch;
    uint32_t nunpersisted; /* closed chunks not yet persisted */
    int64_t min_max_t;     /* smallest max_t of the closed chunks (INT64_MAX: none), so the
                            * per-second pass skips series with nothing to evict */
} store_hdata;

/* One series of the catalog (read-only for callers). */
typedef struct store_series {
    uint64_t id;       /* osp_labels_hash of labels */
    osp_labels labels; /* sorted by name */
    int64_t min_t;     /* known data range (min_t > max_t: none known) */
    int64_t max_t;
    int64_t last_t; /* newest in-order sample appended (INT64_MIN: none) */
    store_hdata *hd;
} store_series;

/* store_head_prefetch: start loading what store_head_append(h, ref, ...)
 * will touch, one level of the chain per stage (0: the series, 1: its head
 * data, 2: the open chunk's tail), each stage reading only what an earlier
 * one loaded: an apply loop calls stage 0 a few series ahead, 1 nearer, 2
 * nearest, so the cache misses of several series overlap instead of coming
 * one after another. A hint: any ref is safe (out-of-range refs are ignored).
 * Lock held. */
void store_head_prefetch(const store_head *h, uint32_t ref, int stage);

/* Outcome of store_head_append. */
typedef enum store_append_res {
    STORE_APPEND_OK = 0,   /* stored */
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

/* store_head_find_id: the ref of series id (no label check). Lock held. */
int store_head_find_id(const store_head *h, uint64_t id, uint32_t *ref);

/* store_head_get_or_create: like store_head_find, creating the series (copy
 * of sorted, indexed) when missing; *created says so (may be NULL). Errors:
 * OSP_EEXIST on a hash collision (nothing created). Write lock held. */
int store_head_get_or_create(store_head *h, uint64_t id, const osp_labels *sorted, uint32_t *ref,
                             bool *created);

/* store_head_append: add sample (t, v) that arrived (was committed to the
 * log) at arrival_ms to series ref: a t after the series' newest appends to
 * its open chunk; an older t goes to the out-of-order buffer unless that t is
 * already held in memory: then it is a duplicate when the value is bitwise
 * identical (stale markers included), else a conflict. Samples older than
 * the memory cut are not checked against PostgreSQL (compaction and queries
 * keep the first-written value). Write lock held. */
store_append_res store_head_append(store_head *h, uint32_t ref, int64_t t, double v,
                                   int64_t arrival_ms);

/* store_head_cut: close the open chunks and out-of-order buffers whose
 * earliest sample arrived before arrived_before (INT64_MAX: all), so they can
 * be persisted. Returns the chunks closed. Write lock held. */
size_t store_head_cut(store_head *h, int64_t arrived_before);

/* A closed, unpersisted chunk handed to the persister. data stays valid until
 * the caller's thread calls store_head_evict or store_head_clear. */
typedef struct store_chunk_ref {
    int64_t series_id;
    uint32_t ref;
    int64_t min_t, max_t;
    const uint8_t *data;
    uint32_t len, n;
} store_chunk_ref;

/* store_head_unpersisted: up to max closed unpersisted chunks into out
 * (caller array). Returns the count. Lock held. */
size_t store_head_unpersisted(const store_head *h, store_chunk_ref *out, size_t max);

/* store_head_mark_persisted: mark the n chunks (from store_head_unpersisted)
 * persisted (and tell the query cache). Write lock held. */
void store_head_mark_persisted(store_head *h, const store_chunk_ref *c, size_t n);

/* store_head_watermark: the earliest arrival of a sample not yet in a
 * persisted chunk (INT64_MAX: none): log batches that arrived before it are
 * no longer needed. Lock held. */
int64_t store_head_watermark(const store_head *h);

/* store_head_evict: free persisted chunks with max_t < mem_cut, and every
 * sample, chunk or buffer entirely before drop_before (retention; INT64_MIN:
 * none); series left without head data leave the head (they stay in the
 * catalog). Raises the memory cut to mem_cut. Returns the chunks freed. Write
 * lock held, ingest thread only. */
size_t store_head_evict(store_head *h, int64_t mem_cut, int64_t drop_before);

/* What one persist turn asks of store_head_tick. */
typedef struct store_tick {
    int64_t arrived_before; /* store_head_cut's argument */
    int64_t mem_cut;        /* store_head_evict's arguments */
    int64_t drop_before;
} store_tick;

/* store_head_tick: the persister's per-second work in one pass over the head
 * (cheaper than the four calls): store_head_evict, then store_head_cut, then
 * every closed unpersisted chunk into *out (caller-owned array of *cap
 * entries, grown with osp_reallocarray; the count is returned), and into
 * *watermark what store_head_watermark will say once those chunks are marked
 * persisted (INT64_MAX: nothing else unpersisted). Write lock held, ingest
 * thread only. */
size_t store_head_tick(store_head *h, const store_tick *tk, store_chunk_ref **out, size_t *cap,
                       int64_t *watermark);

/* store_head_set_chunk_span: open chunks close where their samples would
 * cross a multiple of span_ms since the epoch (the compaction window, so a
 * chunk never holds samples of two windows; it must divide a partition day).
 * Default: STORE_PARTITION_MS. Write lock held. */
void store_head_set_chunk_span(store_head *h, int64_t span_ms);

/* store_head_set_mem_cut / store_head_mem_cut: the memory cut (INT64_MIN
 * until the first store_head_set_mem_cut: all data is in memory). */
void store_head_set_mem_cut(store_head *h, int64_t mem_cut);
int64_t store_head_mem_cut(const store_head *h);

/* store_head_load_chunk: add a persisted chunk read from PostgreSQL to series
 * ref's head data (at start, for the head window). Write lock held. */
void store_head_load_chunk(store_head *h, uint32_t ref, int64_t min_t, int64_t max_t,
                           const uint8_t *data, size_t len);

/* store_head_note_range: widen series ref's known data range. Write lock. */
void store_head_note_range(store_head *h, uint32_t ref, int64_t min_t, int64_t max_t);

/* store_head_set_qcache: tell qc (borrowed; it must outlive h; NULL: none) of
 * every chunk store_head_mark_persisted marks and of store_head_clear. Before
 * any other thread uses h. store_head_qcache: that cache (any lock). */
void store_head_set_qcache(store_head *h, store_qcache *qc);
store_qcache *store_head_qcache(const store_head *h);

/* store_head_clear: forget everything (catalog, head data, metadata). Write
 * lock held, ingest thread only. */
void store_head_clear(store_head *h);

/* Counters (any lock held, or none for a racy read by metrics). */
size_t store_head_nseries(const store_head *h);    /* catalog */
size_t store_head_nactive(const store_head *h);    /* series with head data */
size_t store_head_nsamples(const store_head *h);   /* samples in memory */
size_t store_head_nchunks(const store_head *h);    /* closed chunks in memory */
size_t store_head_bytes(const store_head *h);      /* bytes of sample data in memory */
uint64_t store_head_appended(const store_head *h); /* samples appended, ever */

/* store_head_series: the series at ref (lock held; ref < store_head_nseries). */
const store_series *store_head_series(const store_head *h, uint32_t ref);

/* store_head_index: the inverted index (lock held). */
const store_index *store_head_index(const store_head *h);

/* store_head_match: refs (sorted, in arena a) of the series matching all nm
 * matchers whose known data range overlaps [mint_ms, maxt_ms] (pass
 * INT64_MIN/INT64_MAX for no time filter: every matching series). Lock held. */
void store_head_match(const store_head *h, const osp_matcher *ms, size_t nm, int64_t mint_ms,
                      int64_t maxt_ms, osp_arena *a, uint32_t **out, size_t *nout);

/* store_head_sort_refs: put refs[0..n) (each below store_head_nseries) in the
 * label order of their series (osp_labels_cmp), the order PromQL selections
 * are evaluated in. Cheap: the head keeps the catalog's label order, brought
 * up to date here (under a mutex of its own, so any number of readers may
 * call it) when that costs about what sorting refs by labels would. Read or
 * write lock held. */
void store_head_sort_refs(store_head *h, uint32_t *refs, size_t n);

/* store_head_samples: series ref's in-memory samples with mint <= t <= maxt,
 * sorted and without duplicate timestamps (the earliest-closed chunk wins),
 * into arena arrays. With unpersisted_only, persisted chunks are skipped (the
 * caller reads those from PostgreSQL). Lock held. */
void store_head_samples(const store_head *h, uint32_t ref, int64_t mint, int64_t maxt,
                        bool unpersisted_only, osp_arena *a, int64_t **ts, double **vs, size_t *n);

/* store_head_source: a PromQL source over h's memory alone (tests, and
 * stores without PostgreSQL); its select takes the read lock itself. */
osp_promql_source store_head_source(store_head *h);

/* store_samples_merge: sort n samples by t (stable) and keep the first of
 * equal timestamps; returns the new count. The dropped ones are added to
 * *dups (bitwise-identical value) or *conflicts (another value); either may
 * be NULL. */
size_t store_samples_merge(int64_t *ts, double *vs, size_t n, size_t *dups, size_t *conflicts);

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
