/* coll_series.h - the set of series a target exposed in its last scrape, for
 * staleness markers: a series that disappears, a failed scrape, a removed
 * target and shutdown all write StaleNaN (0x7ff0000000000002) for it.
 *
 * An entry holds a series' final labels (the packed Series.labels bytes, the
 * only copy the collector keeps) and is shared by reference: the set holds
 * one reference while the series is in it, and each scrape cache entry that
 * resolves to the series holds one, so a known line reaches its series
 * without a lookup in the set. */
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

/* One series: read-only to callers. */
typedef struct coll_series {
    uint64_t hash; /* osp_labels_hash of the sorted label set */
    uint64_t gen;  /* last scrape that saw it */
    uint64_t born; /* scrape that added it to the set */
    uint32_t refs;
    uint32_t pblen;
    bool in_set;
    bool explicit_ts;
    char pb[]; /* packed Series.labels */
} coll_series;

/* Caller storage; single owner (the scrape thread). */
typedef struct coll_series_set {
    coll_map m;   /* label hash -> entry */
    uint64_t gen; /* current scrape */
    size_t nseen; /* entries seen in the current scrape */
} coll_series_set;

void coll_series_init(coll_series_set *s);
/* coll_series_fini: drop the set's references (entries others still hold
 * stay valid until coll_series_unref). */
void coll_series_fini(coll_series_set *s);

/* coll_series_begin: start a new scrape (every series becomes "not seen"). */
void coll_series_begin(coll_series_set *s);

/* coll_series_ref: a reference to the series with these labels: packed
 * Series.labels bytes as osp_pb_encode_labels wrote them for the sorted set
 * (labels_pb[0..len)) and hash = osp_labels_hash of that set. The set's entry
 * when it has one, else a new entry that joins the set when first seen.
 * Release with coll_series_unref. Never NULL. */
coll_series *coll_series_ref(coll_series_set *s, const void *labels_pb, size_t len, uint64_t hash);
/* coll_series_unref: NULL-safe. */
void coll_series_unref(coll_series *e);

/* coll_series_see: record that *ep was exposed in this scrape; explicit_ts:
 * its sample carried a timestamp that is honoured (such series are never
 * staled). *ep may be replaced by the set's entry of the same labels (the
 * caller's reference moves with it). Returns 1 when the series joined the
 * set, 0 when it was in it, or -1 when it was already seen in this scrape (a
 * duplicate: caller skips it). */
int coll_series_see(coll_series_set *s, coll_series **ep, bool explicit_ts);

/* coll_series_end: finish the scrape. ok: series not seen in this scrape get a
 * stale marker at ts_ms in b and leave the set. !ok (failed scrape): every
 * series in the set before this scrape gets one and all leave; series first
 * seen in this failed scrape leave silently (they were never published). b
 * may be NULL (nothing written). Returns the markers written. */
size_t coll_series_end(coll_series_set *s, bool ok, int64_t ts_ms, osp_mbatch *b);

/* coll_series_stale_all: stale-mark every series in the set (except those
 * with honoured timestamps) at ts_ms into b and empty the set (target
 * removed, shutdown). Returns the markers written. */
size_t coll_series_stale_all(coll_series_set *s, int64_t ts_ms, osp_mbatch *b);

/* coll_series_count: series currently in the set. */
size_t coll_series_count(const coll_series_set *s);

#endif
