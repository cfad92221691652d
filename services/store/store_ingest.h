/* store_ingest.h - the ingest thread: owns a PostgreSQL connection; brings
 * the database and the head up (connect, migrate, load metadata and the
 * series catalog, load the head window's chunks, replay the batch log), then
 * receives batches from the bus in groups, commits each group in one
 * transaction, applies it and acks it. Between groups it persists closed
 * chunks, trims the batch log behind them, evicts memory, compacts cold
 * windows and applies retention (partition drops). */
#ifndef STORE_INGEST_H
#define STORE_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "store_head.h"
#include "store_stats.h"

typedef struct store_ingest store_ingest;

typedef struct store_ingest_opts {
    const char *conninfo;         /* copied */
    store_head *head;             /* borrowed */
    store_stats *stats;           /* borrowed */
    osp_bus_consumer *consumer;   /* borrowed; NULL = no bus (tests) */
    int64_t retention_ms;         /* 0 = keep everything; see store_ingest_set_retention */
    size_t retention_size;        /* bytes of chunk partitions; 0 = no limit */
    int64_t head_window_ms;       /* 0: persisted chunks leave memory at once */
    int64_t chunk_max_age_ms;     /* 0: 15 minutes */
    int64_t compaction_window_ms; /* 0: 2 hours; must divide 24h */
} store_ingest_opts;

/* store_ingest_start: start the thread. *out written on success (OSP_EIO when
 * the thread cannot start). Loop thread. */
int store_ingest_start(const store_ingest_opts *opts, store_ingest **out);

/* store_ingest_stop: ask the thread to stop after its in-flight group (commit
 * and acks), join it and free in. Unacked messages are dropped: producers
 * resend them. NULL-safe. */
void store_ingest_stop(store_ingest *in);

/* store_ingest_ready: the head has been rebuilt from the log and PostgreSQL is
 * up; why gets the reason otherwise (may be NULL). Any thread. */
bool store_ingest_ready(const store_ingest *in, osp_buf *why);
/* store_ingest_replayed: the head has been rebuilt (queries may run). */
bool store_ingest_replayed(const store_ingest *in);
/* store_ingest_pg_up: the ingest connection is up. Any thread. */
bool store_ingest_pg_up(const store_ingest *in);

/* store_ingest_set_retention: change retention (reload). Any thread. */
void store_ingest_set_retention(store_ingest *in, int64_t retention_ms);

/* store_ingest_min_t: oldest sample timestamp accepted now (INT64_MIN when
 * retention is 0). Any thread. */
int64_t store_ingest_min_t(const store_ingest *in);

#endif
