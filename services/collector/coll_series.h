/* coll_series.h - the set of series a target exposed in its last scrape, for
 * staleness markers: a series that disappears, a failed scrape, a removed
 * target and shutdown all write StaleNaN (0x7ff0000000000002) for it. */
#ifndef COLL_SERIES_H
#define COLL_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus_pb.h"
#include "coll_map.h"
#include "osp_labels.h"

#define COLL_STALE_NAN_BITS 0x7ff0000000000002ULL

/* coll_stale_nan: the stale marker value. */
double coll_stale_nan(void);
/* coll_is_stale_nan: v has exactly the stale marker bits. */
bool coll_is_stale_nan(double v);

/* Caller storage; single owner (the scrape thread). */
typedef struct coll_series_set {
    coll_map m;   /* label hash -> entry */
    uint64_t gen; /* current scrape */
} coll_series_set;

void coll_series_init(coll_series_set *s);
void coll_series_fini(coll_series_set *s);

/* coll_series_begin: start a new scrape (every series becomes "not seen"). */
void coll_series_begin(coll_series_set *s);

/* coll_series_seen: record that the series was exposed in this scrape: its
 * labels as the packed Series.labels bytes osp_pb_encode_labels wrote for the
 * sorted set (labels_pb[0..len), all a stale marker needs) and hash =
 * osp_labels_hash of that set; explicit_ts: its sample carried a timestamp
 * that is honoured (such series are never staled). Returns 1 when the series
 * is new (bytes copied), 0 when it was known, or -1 when it was already seen
 * in this scrape (a duplicate: caller skips it). */
int coll_series_seen(coll_series_set *s, const void *labels_pb, size_t len, uint64_t hash,
                     bool explicit_ts);

/* coll_series_end: finish the scrape. ok: series not seen in this scrape get a
 * stale marker at ts_ms in b and are forgotten. !ok (failed scrape): every
 * series known before this scrape gets one and all are forgotten; series
 * first seen in this failed scrape are forgotten silently (they were never
 * published). b may be NULL (nothing written). Returns the markers written. */
size_t coll_series_end(coll_series_set *s, bool ok, int64_t ts_ms, osp_mbatch *b);

/* coll_series_stale_all: stale-mark every known series (except those with
 * honoured timestamps) at ts_ms into b and forget them all (target removed,
 * shutdown). Returns the markers written. */
size_t coll_series_stale_all(coll_series_set *s, int64_t ts_ms, osp_mbatch *b);

/* coll_series_count: series currently known. */
size_t coll_series_count(const coll_series_set *s);

#endif
