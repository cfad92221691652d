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
#include "osprey.pb-c.h"
#include "store_head.h"
#include "store_pg.h"
#include "store_stats.h"

/* One validated series of a batch. */
typedef struct store_prep_series {
    osp_labels labels; /* sorted, empty values dropped */
    uint64_t id;
    Osprey__Sample **samples; /* borrowed from the envelope */
    size_t n;
} store_prep_series;

/* The validated series of one MetricBatch and what was rejected. */
typedef struct store_prep {
    store_prep_series *v;
    size_t n, cap;
    size_t rej_no_name;   /* samples of series without __name__ */
    size_t rej_bad_label; /* invalid label name or non-UTF-8 value */
    size_t rej_dup_label; /* duplicate label names */
} store_prep;

/* store_prep_init / store_prep_fini: caller storage. */
void store_prep_init(store_prep *p);
void store_prep_fini(store_prep *p);

/* store_prep_batch: validate every series of mb (borrowed; must outlive p)
 * into p (appending). Series without __name__, with invalid or duplicate
 * label names are skipped and counted. Any thread. */
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

/* store_apply_prep: append p's samples to h (takes the write lock itself);
 * samples older than min_t are rejected as too old (INT64_MIN: none). Adds
 * to *res. */
void store_apply_prep(store_head *h, const store_prep *p, int64_t min_t, store_apply_res *res);

/* store_apply_meta: set the metadata of mb in h (takes the write lock). */
void store_apply_meta(store_head *h, const Osprey__MetricBatch *mb);

/* One envelope of a commit group. */
typedef struct store_item {
    const Osprey__Envelope *env; /* borrowed */
    const void *raw;             /* packed Envelope, borrowed */
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

/* store_replay_one: apply one packed Envelope of the log to h (no PostgreSQL,
 * no rejection by age, rejects not counted). Returns 0 or OSP_EPARSE. */
int store_replay_one(store_head *h, const void *payload, size_t len);

#endif
