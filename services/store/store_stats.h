/* store_stats.h - the store's self-metrics (osprey_store_*), registered once
 * in the daemon's registry and updated from the ingest thread and the loop. */
#ifndef STORE_STATS_H
#define STORE_STATS_H

#include "metrics.h"

typedef struct store_head store_head;
typedef struct osp_bus_consumer osp_bus_consumer;

typedef struct store_stats {
    osp_metric *batches_ingested;
    osp_metric *batches_duplicate;
    osp_metric *samples_ingested;
    osp_metric *rejected_vec; /* {reason} */
    osp_metric *rej_no_name;
    osp_metric *rej_bad_label;
    osp_metric *rej_dup_label;
    osp_metric *rej_dup_ts;
    osp_metric *rej_collision;
    osp_metric *rej_too_old;
    osp_metric *series_created;
    osp_metric *commit_duration;
    osp_metric *commit_errors;
    osp_metric *pg_up;
    osp_metric *ingest_lag;
    osp_metric *replayed_batches;
    osp_metric *retention_deleted;
    osp_metric *queries;
    osp_metric *chunks_written;      /* level-0 chunk rows written */
    osp_metric *chunk_bytes_written; /* their data bytes */
    osp_metric *chunk_write_errors;
    osp_metric *compactions;         /* compaction transactions */
    osp_metric *compaction_duration; /* histogram */
    osp_metric *compaction_chunks_in;
    osp_metric *compaction_chunks_out;
    osp_metric *compaction_conflicts;
    osp_metric *partitions_dropped;
    osp_metric *table_bytes_vec; /* {table} */
    osp_metric *log_trimmed;     /* batch log rows deleted after their samples were persisted */
} store_stats;

/* store_stats_init: register every metric in reg (borrowed, outlives st) and
 * gauge functions reading head (borrowed) and, when non-NULL, the bus
 * consumer's counters through *consumer (the pointer is read at render time,
 * so it may be set later). Also registers the process metrics. */
void store_stats_init(store_stats *st, osp_metrics *reg, store_head *head,
                      osp_bus_consumer *const *consumer);

/* store_stats_reject: count n rejected samples for reason (one of no_name,
 * invalid_label, duplicate_label, duplicate_timestamp, hash_collision, too_old). */
void store_stats_reject(store_stats *st, const char *reason, double n);

#endif
