/* store_chunks.h - the chunk tables in PostgreSQL: osprey_chunks, partitioned
 * by range of min_t into one table per UTC day (osprey_chunks_pYYYYMMDD).
 * Writing closed chunks, reading them back for queries and at start,
 * compaction (merging a series' small and overlapping chunks), retention by
 * dropping whole partitions, and table sizes. One thread per store_pg. */
#ifndef STORE_CHUNKS_H
#define STORE_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_err.h"
#include "store_head.h"
#include "store_pg.h"

/* Compaction writes dense chunks (osp_dchunk.h) of at most this many samples
 * (40 min at 1 s: an instant query decodes at most that much of a
 * chunk) and ~1900 bytes, so rows stay inline instead of going to TOAST. */
#define STORE_COMPACT_SAMPLES 2400
#define STORE_COMPACT_BYTES 1900

/* store_chunks_write: insert the n chunks as level-0 rows in one
 * transaction, creating missing partitions. Returns 0, OSP_EUNAVAIL or
 * OSP_EIO. */
int store_chunks_write(store_pg *pg, const store_chunk_ref *c, size_t n, osp_errinfo *ei);

/* One chunk row read for a query; data points into the set's result. */
typedef struct store_chunk_row {
    int64_t series_id;
    int64_t seq; /* write order: the earlier-written value of a timestamp wins */
    int64_t min_t, max_t;
    const uint8_t *data;
    size_t len;
} store_chunk_row;

/* The rows of one fetch. Caller storage; release with store_chunk_set_fini. */
typedef struct store_chunk_set {
    store_chunk_row *rows;
    size_t n;
    void *res; /* private: the PGresult the rows point into */
} store_chunk_set;

/* store_chunks_fetch: into *out (written only on success), every chunk of the
 * nids series (ids; NULL or nids 0: every series) that may hold samples in
 * [mint, maxt] (max_t >= mint, min_t <= maxt; partitions before mint's day
 * are pruned), in no particular order. Returns 0, OSP_EUNAVAIL or OSP_EIO. */
int store_chunks_fetch(store_pg *pg, const int64_t *ids, size_t nids, int64_t mint, int64_t maxt,
                       store_chunk_set *out, osp_errinfo *ei);

/* store_chunk_set_fini: free the rows and their data; s is empty after
 * (NULL-safe, idempotent). */
void store_chunk_set_fini(store_chunk_set *s);

/* store_chunks_scan: fn(ctx, series_id, min_t, max_t, data, len) for every
 * chunk with max_t >= since (the head window, at start). */
int store_chunks_scan(store_pg *pg, int64_t since,
                      void (*fn)(void *ctx, int64_t series_id, int64_t min_t, int64_t max_t,
                                 const uint8_t *data, size_t len),
                      void *ctx, osp_errinfo *ei);

/* store_chunks_ranges: fn(ctx, series_id, min_t, max_t) with each series'
 * data range over all chunks (at start). */
int store_chunks_ranges(store_pg *pg,
                        void (*fn)(void *ctx, int64_t id, int64_t min_t, int64_t max_t), void *ctx,
                        osp_errinfo *ei);

/* store_chunks_load_series: fn(ctx, series_id, labels) for every row of
 * osprey_series (labels sorted; borrowed for the call). */
int store_chunks_load_series(store_pg *pg, void (*fn)(void *ctx, int64_t id, const osp_labels *ls),
                             void *ctx, osp_errinfo *ei);

/* Outcome of one compaction call. */
typedef struct store_compact_res {
    size_t series;     /* series rewritten */
    size_t chunks_in;  /* rows replaced */
    size_t chunks_out; /* rows written */
    size_t samples;    /* samples written */
    size_t duplicates; /* identical samples dropped */
    size_t conflicts;  /* same timestamp, other value: the later-written one dropped */
    bool more;         /* work is left in this window after series id last */
    int64_t last;      /* the highest series id looked at (when more) */
    /* samples at or after w1 (a level-0 chunk that began in the window ran on past
     * its end) went back as level-0 chunks beginning at w1 or later: their windows,
     * from spill_lo to spill_hi (min_t), need a compaction of their own */
    size_t spilled;
    int64_t spill_lo, spill_hi;
} store_compact_res;

/* store_chunks_compact: rewrite up to max_series series with id > *after
 * (after NULL: from the lowest id; ids are signed) that
 * have a level-0 chunk with min_t in [w0, w1) (one partition day): their
 * chunks there are merged (first-written value wins) into level-1 chunks of
 * STORE_COMPACT_SAMPLES / STORE_COMPACT_BYTES within [w0, w1), in one
 * transaction; samples past w1 go back as level-0 chunks (res->spilled), so a
 * compacted window holds each of its samples once and no sample of another. When res->more, the
 * next call continues with after = &res->last (a pass over a window then reads each of its rows
 * once). Rows another transaction holds locked (a second store compacting the same database) are
 * not waited for: OSP_EAGAIN, nothing changed. */
int store_chunks_compact(store_pg *pg, int64_t w0, int64_t w1, const int64_t *after,
                         size_t max_series, store_compact_res *res, osp_errinfo *ei);

/* store_chunks_partitions: the days (since the epoch, sorted) that have a
 * chunk partition; *out is osp_malloc'ed. */
int store_chunks_partitions(store_pg *pg, int64_t **out, size_t *n, osp_errinfo *ei);

/* store_chunks_drop_partition: DROP TABLE the partition of day. */
int store_chunks_drop_partition(store_pg *pg, int64_t day, osp_errinfo *ei);

/* store_chunks_sizes: fn(ctx, table, bytes) with pg_total_relation_size of
 * every osprey_* table and chunk partition. */
int store_chunks_sizes(store_pg *pg, void (*fn)(void *ctx, const char *table, int64_t bytes),
                       void *ctx, osp_errinfo *ei);

#endif
