/* store_head_int.h - the head's private state, shared by store_head.c (catalog,
 * appends, persisting, eviction, metadata) and store_select.c (matching, label
 * order, reading samples, the PromQL source). Not for other files. */
#ifndef STORE_HEAD_INT_H
#define STORE_HEAD_INT_H

#include <pthread.h>

#include "store_head.h"

struct store_head {
    pthread_rwlock_t lock;
    store_series **v; /* ref -> series */
    size_t n, cap;
    uint32_t *slots; /* open addressing on id: ref + 1, 0 = empty */
    size_t nslots;   /* power of two */
    size_t nactive;  /* series with head data */
    size_t nsamples; /* samples in memory */
    size_t nchunks;  /* closed chunks in memory */
    size_t bytes;    /* chunk bytes + out-of-order buffers + appender buffers */
    uint64_t appended;
    int64_t mem_cut;
    int64_t span_ms; /* open chunks close where t crosses a multiple of this */
    store_index *ix;
    store_qcache *qc; /* told of every chunk persisted (borrowed; NULL: none) */
    /* the label order of the catalog, for sorting selections: rank[ref] for
     * refs below nranked; updated by queries, so under a mutex of its own */
    pthread_mutex_t rank_mu;
    uint32_t *rank;
    size_t nranked, rankcap;
    store_meta *meta; /* sorted by metric */
    size_t nmeta, capmeta;
};

/* store_lower_bound: first index with ts[i] >= t. */
static inline size_t
store_lower_bound(const int64_t *ts, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
