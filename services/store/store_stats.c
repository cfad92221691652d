/* store_stats.c - registration of the store's self-metrics. */
#include "store_stats.h"

#include <string.h>

#include "bus.h"
#include "store_head.h"

static double
head_series(void *ctx)
{
    return (double)store_head_nseries(ctx);
}

static double
head_samples(void *ctx)
{
    return (double)store_head_nsamples(ctx);
}

static double
head_active(void *ctx)
{
    return (double)store_head_nactive(ctx);
}

static double
head_chunks(void *ctx)
{
    return (double)store_head_nchunks(ctx);
}

static double
head_bytes(void *ctx)
{
    return (double)store_head_bytes(ctx);
}

static double
head_appended(void *ctx)
{
    return (double)store_head_appended(ctx);
}

static void
bus_collect(void *ctx, osp_buf *out)
{
    osp_bus_consumer *const *cp = ctx;
    osp_bus_consumer *c = __atomic_load_n(cp, __ATOMIC_ACQUIRE);
    if (c == NULL)
        return;
    osp_bus_consumer_stats s;
    osp_bus_consumer_get_stats(c, &s);
    osp_buf_printf(
        out,
        "# HELP osprey_bus_received_batches_total Valid batches received from producers.\n"
        "# TYPE osprey_bus_received_batches_total counter\n"
        "osprey_bus_received_batches_total %llu\n"
        "# HELP osprey_bus_received_bytes_total Bytes of valid batches received.\n"
        "# TYPE osprey_bus_received_bytes_total counter\n"
        "osprey_bus_received_bytes_total %llu\n"
        "# HELP osprey_bus_decode_errors_total Messages skipped as undecodable.\n"
        "# TYPE osprey_bus_decode_errors_total counter\n"
        "osprey_bus_decode_errors_total %llu\n"
        "# HELP osprey_bus_acks_sent_total Acks published.\n"
        "# TYPE osprey_bus_acks_sent_total counter\n"
        "osprey_bus_acks_sent_total %llu\n"
        "# HELP osprey_bus_ack_errors_total Acks that failed to publish.\n"
        "# TYPE osprey_bus_ack_errors_total counter\n"
        "osprey_bus_ack_errors_total %llu\n",
        (unsigned long long)s.received, (unsigned long long)s.received_bytes,
        (unsigned long long)s.decode_errors, (unsigned long long)s.acks_sent,
        (unsigned long long)s.ack_errors);
}

static void
qcache_collect(void *ctx, osp_buf *out)
{
    store_qcache *c = store_head_qcache(ctx);
    if (c == NULL)
        return;
    store_qcache_stats s;
    store_qcache_stats_get(c, &s);
    osp_buf_printf(out,
                   "# HELP osprey_store_query_cache_hits_total Series whose persisted samples a "
                   "query took from the query cache.\n"
                   "# TYPE osprey_store_query_cache_hits_total counter\n"
                   "osprey_store_query_cache_hits_total %llu\n"
                   "# HELP osprey_store_query_cache_misses_total Series whose persisted samples "
                   "a query read from PostgreSQL.\n"
                   "# TYPE osprey_store_query_cache_misses_total counter\n"
                   "osprey_store_query_cache_misses_total %llu\n"
                   "# HELP osprey_store_query_cache_bytes Memory held by the query cache.\n"
                   "# TYPE osprey_store_query_cache_bytes gauge\n"
                   "osprey_store_query_cache_bytes %zu\n"
                   "# HELP osprey_store_query_cache_entries Series in the query cache.\n"
                   "# TYPE osprey_store_query_cache_entries gauge\n"
                   "osprey_store_query_cache_entries %zu\n",
                   (unsigned long long)s.hits, (unsigned long long)s.misses, s.bytes, s.entries);
}

void
store_stats_init(store_stats *st, osp_metrics *reg, store_head *head,
                 osp_bus_consumer *const *consumer)
{
    static const double commit_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   5};
    static const char *const reason[] = {"reason"};
    memset(st, 0, sizeof(*st));
    st->batches_ingested = osp_metrics_counter(reg, "osprey_store_batches_ingested_total",
                                               "Batches committed to PostgreSQL and the head.");
    st->batches_duplicate = osp_metrics_counter(
        reg, "osprey_store_batches_duplicate_total",
        "Batches received again (already in the log): acked, not applied twice.");
    st->samples_ingested = osp_metrics_counter(reg, "osprey_store_samples_ingested_total",
                                               "Samples appended to the head.");
    st->rejected_vec = osp_metrics_counter_vec(reg, "osprey_store_samples_rejected_total",
                                               "Samples rejected at ingest, by reason.", 1, reason);
    st->rej_no_name = osp_metric_with(st->rejected_vec, (const char *[]){"no_name"});
    st->rej_bad_label = osp_metric_with(st->rejected_vec, (const char *[]){"invalid_label"});
    st->rej_dup_label = osp_metric_with(st->rejected_vec, (const char *[]){"duplicate_label"});
    st->rej_dup_ts = osp_metric_with(st->rejected_vec, (const char *[]){"duplicate_timestamp"});
    st->rej_collision = osp_metric_with(st->rejected_vec, (const char *[]){"hash_collision"});
    st->rej_too_old = osp_metric_with(st->rejected_vec, (const char *[]){"too_old"});
    st->series_created = osp_metrics_counter(reg, "osprey_store_series_created_total",
                                             "Series created in the head.");
    st->commit_duration = osp_metrics_histogram(
        reg, "osprey_store_pg_commit_duration_seconds",
        "Duration of one ingest transaction (batches, series, metadata, commit).", commit_buckets,
        sizeof(commit_buckets) / sizeof(commit_buckets[0]));
    st->commit_errors = osp_metrics_counter(reg, "osprey_store_pg_commit_errors_total",
                                            "Ingest transactions that failed (retried).");
    st->pg_up = osp_metrics_gauge(reg, "osprey_store_pg_up",
                                  "1 when the ingest connection to PostgreSQL is up.");
    st->ingest_lag = osp_metrics_gauge(
        reg, "osprey_store_ingest_lag_seconds",
        "Seconds between a producer sending the last committed batch and its commit.");
    st->replayed_batches = osp_metrics_counter(reg, "osprey_store_replayed_batches_total",
                                               "Batches replayed from the log at start.");
    st->retention_deleted = osp_metrics_counter(reg, "osprey_store_retention_samples_deleted_total",
                                                "Head samples dropped by retention.");
    st->queries = osp_metrics_counter(reg, "osprey_store_queries_total",
                                      "PromQL queries evaluated (instant and range).");
    static const char *const table[] = {"table"};
    st->chunks_written = osp_metrics_counter(reg, "osprey_store_chunks_written_total",
                                             "Closed chunks written to PostgreSQL.");
    st->chunk_bytes_written = osp_metrics_counter(reg, "osprey_store_chunk_bytes_written_total",
                                                  "Compressed bytes of the chunks written.");
    st->chunk_write_errors = osp_metrics_counter(reg, "osprey_store_chunk_write_errors_total",
                                                 "Chunk writes that failed (retried).");
    st->compactions = osp_metrics_counter(reg, "osprey_store_compactions_total",
                                          "Compaction runs (one transaction each).");
    st->compaction_duration = osp_metrics_histogram(
        reg, "osprey_store_compaction_duration_seconds", "Duration of one compaction run.",
        commit_buckets, sizeof(commit_buckets) / sizeof(commit_buckets[0]));
    st->compaction_chunks_in = osp_metrics_counter(reg, "osprey_store_compaction_chunks_in_total",
                                                   "Chunk rows replaced by compaction.");
    st->compaction_chunks_out = osp_metrics_counter(reg, "osprey_store_compaction_chunks_out_total",
                                                    "Chunk rows written by compaction.");
    st->compaction_conflicts = osp_metrics_counter(
        reg, "osprey_store_compaction_conflicts_total",
        "Samples dropped by compaction: same timestamp as an earlier-written, different value.");
    st->partitions_dropped = osp_metrics_counter(reg, "osprey_store_partitions_dropped_total",
                                                 "Chunk partitions dropped by retention.");
    st->table_bytes_vec = osp_metrics_gauge_vec(
        reg, "osprey_store_table_bytes",
        "pg_total_relation_size of each osprey table and chunk partition.", 1, table);
    st->log_trimmed = osp_metrics_counter(
        reg, "osprey_store_log_batches_trimmed_total",
        "Batch log rows deleted once every sample in them was in a persisted chunk.");
    osp_metrics_gauge_func(reg, "osprey_store_series", "Series in the catalog.", head_series, head);
    osp_metrics_gauge_func(reg, "osprey_store_head_series",
                           "Series with data in the in-memory head.", head_active, head);
    osp_metrics_gauge_func(reg, "osprey_store_head_samples", "Samples in the in-memory head.",
                           head_samples, head);
    osp_metrics_gauge_func(reg, "osprey_store_head_chunks", "Closed chunks in the in-memory head.",
                           head_chunks, head);
    osp_metrics_gauge_func(reg, "osprey_store_head_bytes",
                           "Bytes of compressed chunks and buffers in the in-memory head.",
                           head_bytes, head);
    osp_metrics_counter_func(reg, "osprey_store_samples_appended_total",
                             "Samples appended to the head.", head_appended, head);
    if (consumer != NULL)
        osp_metrics_add_collector(reg, bus_collect, (void *)consumer);
    osp_metrics_add_collector(reg, qcache_collect, head);
    osp_metrics_add_process(reg);
}

void
store_stats_reject(store_stats *st, const char *reason, double n)
{
    osp_metric *m = NULL;
    if (strcmp(reason, "no_name") == 0)
        m = st->rej_no_name;
    else if (strcmp(reason, "invalid_label") == 0)
        m = st->rej_bad_label;
    else if (strcmp(reason, "duplicate_label") == 0)
        m = st->rej_dup_label;
    else if (strcmp(reason, "duplicate_timestamp") == 0)
        m = st->rej_dup_ts;
    else if (strcmp(reason, "hash_collision") == 0)
        m = st->rej_collision;
    else
        m = st->rej_too_old;
    if (m != NULL && n > 0)
        osp_metric_add(m, n);
}
