/* store_apply.h - the durable ingest path shared by the bus ingest thread and
 * the import endpoint: validate a MetricBatch's series, commit a group of
 * envelopes (log rows, new series, changed metadata) in one transaction, then
 * apply the newly inserted batches to the head. */
#ifndef STORE_APPLY_H
#define STORE_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_labels.h"
#include "bus_wire.h"
#include "osprey.pb-c.h"
#include "store_cache.h"
#include "store_head.h"
#include "store_pg.h"
#include "store_stats.h"

/* One validated series of a batch. */
typedef struct store_prep_series {
    osp_labels labels; /* sorted, empty values dropped (owned); for a cache hit
                        * empty until needed: read back from the entry's key
                        * by the commit (ps_labels) */
    uint64_t id;
    struct store_cache_ent *ce; /* its series cache entry, or NULL */
    osp_wire_view msg;          /* the packed Series (borrowed): samples read from here */
    size_t n;                   /* samples */
    int64_t t;                  /* the sample when n is 1 (read once, at validation) */
    double v;
    bool collide; /* its id is another label set's (a 64-bit hash collision):
                   * neither logged nor applied */
    bool has_ref; /* ref is its series' head ref, checked by the commit before
                   * the group's writes (refs stay put until the group is applied) */
    uint32_t ref;
} store_prep_series;

/* One metadata entry of a batch (strings owned). */
typedef struct store_prep_meta {
    char *name, *type, *help, *unit;
} store_prep_meta;

/* The validated series of one MetricBatch and what was rejected. */
typedef struct store_prep {
    store_prep_series *v;
    size_t n, cap;
    store_prep_meta *meta;
    size_t n_meta, cap_meta;
    size_t rej_no_name;   /* samples of series without __name__ */
    size_t rej_bad_label; /* invalid label name or non-UTF-8 value */
    size_t rej_dup_label; /* duplicate label names */
    size_t cache_hits, cache_misses;
    void **owned; /* packed batches of store_prep_batch */
    size_t n_owned;
} store_prep;

/* store_prep_init / store_prep_fini: caller storage. */
void store_prep_init(store_prep *p);
void store_prep_fini(store_prep *p);

/* store_prep_wire: validate every series of the packed, already validated
 * MetricBatch payload (borrowed; must outlive p) into p (appending), and
 * collect its metadata. Series without __name__, with invalid or duplicate
 * label names are skipped and counted. With a cache (may be NULL), a series
 * whose raw label bytes are cached skips validation; new valid ones are
 * added. Same thread as the cache's owner. */
void store_prep_wire(store_prep *p, osp_wire_view payload, store_cache *cache);

/* store_prep_batch: store_prep_wire for an unpacked MetricBatch mb (packed
 * into p first; mb may be freed afterwards), without a cache. */
void store_prep_batch(store_prep *p, const Osprey__MetricBatch *mb);

/* Totals of store_apply_prep. */
typedef struct store_apply_res {
    size_t samples;    /* appended */
    size_t duplicates; /* identical samples ignored */
    size_t conflicts;  /* same timestamp, other value */
    size_t too_old;    /* older than min_t */
    size_t collisions; /* samples of series whose id collides */
    size_t series_created;
} store_apply_res;

/* store_apply_prep: append p's samples to h (takes the write lock itself) as
 * having arrived at arrival_ms (the batch's received_ms in the log); samples
 * older than min_t are rejected as too old (INT64_MIN: none). Adds to *res. */
void store_apply_prep(store_head *h, store_prep *p, int64_t min_t, int64_t arrival_ms,
                      store_apply_res *res);

/* store_apply_meta: set the metadata of mb in h (takes the write lock). */
void store_apply_meta(store_head *h, const Osprey__MetricBatch *mb);

/* store_apply_prep_meta: set the metadata collected in p in h (takes the
 * write lock). */
void store_apply_prep_meta(store_head *h, const store_prep *p);

/* One envelope of a commit group. */
typedef struct store_item {
    const Osprey__Envelope *env; /* borrowed; only producer_id, seq, sent_ms and
                                  * payload_case are read: the batch is read from raw */
    const void *raw;             /* packed Envelope, borrowed; already validated
                                  * (osp_wire_envelope or osp_envelope_decode) */
    size_t raw_len;
    bool is_new; /* out: inserted into the log by this commit */
} store_item;

/* store_commit_group: one transaction for the n items: log rows (ON CONFLICT
 * DO NOTHING; duplicates inside the group are detected too), series rows for
 * series the head does not know, changed metadata; COMMIT; then apply the new
 * items to h and count them in st (st may be NULL). min_t as in
 * store_apply_prep. On error nothing is applied and the transaction is rolled
 * back: OSP_EUNAVAIL (PostgreSQL down) or OSP_EIO (SQL error; ei says what).
 * The caller acks every item after success. One thread per pg. */
int store_commit_group(store_pg *pg, store_head *h, store_stats *st, store_item *items, size_t n,
                       int64_t min_t, osp_errinfo *ei);

/* store_commit_group_cached: store_commit_group with the series cache c of
 * the calling thread (NULL: none). */
int store_commit_group_cached(store_pg *pg, store_head *h, store_stats *st, store_cache *c,
                              store_item *items, size_t n, int64_t min_t, osp_errinfo *ei);

/* store_received_now: the received_ms of a commit: the wall clock, but never
 * below one handed out or replayed before (the log stays in commit order when
 * the clock steps back). Thread-safe. */
int64_t store_received_now(void);

/* store_replay_one: apply one packed Envelope of the log (a row of kind
 * 'm'), received at received_ms, to h (no PostgreSQL, no rejection by age,
 * rejects not counted), using cache c (may be NULL). Returns 0 or
 * OSP_EPARSE. */
int store_replay_one(store_head *h, int64_t received_ms, const void *payload, size_t len);
int store_replay_one_cached(store_head *h, store_cache *c, int64_t received_ms, const void *payload,
                            size_t len);

/* store_replay_record: apply one compact record (a row of kind 'c',
 * store_logrec.h) received at received_ms to h; its series ids are looked up
 * in the catalog, which must be loaded. *unknown (may be NULL) adds the
 * samples of ids not in it. Returns 0, or OSP_EPARSE for a malformed record
 * (the series before the damage are applied). */
int store_replay_record(store_head *h, int64_t received_ms, const void *rec, size_t len,
                        size_t *unknown);

#endif
