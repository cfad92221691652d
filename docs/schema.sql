-- docs/schema.sql - the PostgreSQL schema of osprey-store (schema version 2).
--
-- The store creates and migrates it at start (services/store/store_pg.c, under
-- an advisory lock so several stores may share a database); this file is the
-- documentation and is kept in sync with that code by hand.
--
-- Citus: every table that grows with the data keeps its distribution column in
-- its key.
--   osprey_chunks (and so each daily partition) and osprey_series: distributed
--     by series_id, co-located (create_distributed_table('osprey_series',
--     'series_id'); create_distributed_table('osprey_chunks', 'series_id',
--     colocate_with => 'osprey_series')). Every read and write of chunks names
--     series_id (= ANY(...) lists for queries, compaction per series), so they
--     route to the shards holding those series; time partitioning stays as is
--     (Citus distributes partitioned tables partition by partition, and DROP of
--     a partition is a metadata operation on every worker).
--   osprey_batches: distributed by producer_id (its key is (producer_id, seq)),
--     or kept local on the coordinator: it only holds the last minutes of
--     batches (trimmed once their samples are in persisted chunks).
--   osprey_metadata, osprey_schema_version: reference tables (small, replicated).
--   osprey_chunk_seq: a sequence; on Citus each chunk's seq only has to rise per
--     series, so a per-worker sequence is enough.

-- Which migrations have run. One row per applied version.
CREATE TABLE IF NOT EXISTS osprey_schema_version (
    version    int PRIMARY KEY,
    applied_ms bigint NOT NULL          -- unix ms
);

-- The durable log: one row per ingested batch, written (COMMIT) before the
-- batch is acked to its producer and before it reaches the in-memory head.
-- (producer_id, seq) is the idempotency key: a resent batch hits ON CONFLICT
-- DO NOTHING and is acked without being applied twice. On start the head is
-- rebuilt by replaying this table in (received_ms, producer_id, seq) order
-- over the chunks loaded from osprey_chunks. Rows are deleted once every
-- sample they carry is in a persisted chunk (received_ms < the head's
-- watermark: the arrival of its oldest unpersisted sample).
CREATE TABLE IF NOT EXISTS osprey_batches (
    producer_id text   NOT NULL,        -- Envelope.producer_id ("collector@host", "import/<store>/<boot ms>")
    seq         bigint NOT NULL,        -- Envelope.seq (uint64 stored as its signed bit pattern)
    received_ms bigint NOT NULL,        -- store's wall clock at commit, unix ms
    kind        "char" NOT NULL,        -- 'c' MetricBatch as a compact record, 'l' LogBatch,
                                        -- 'm' MetricBatch as received (stores before the record)
    payload     bytea  NOT NULL,        -- 'c': series ids and samples (services/store/store_logrec.h);
                                        -- 'l', 'm': the packed protobuf Envelope as received
    PRIMARY KEY (producer_id, seq)
);
CREATE INDEX IF NOT EXISTS osprey_batches_received
    ON osprey_batches (received_ms, producer_id, seq);

-- The series catalog: one row per label set ever ingested (never deleted by
-- retention: ids are stable, so a series that comes back keeps its id).
CREATE TABLE IF NOT EXISTS osprey_series (
    series_id     bigint PRIMARY KEY,   -- osp_labels_hash (stable 64-bit hash of the sorted
                                        -- label set) as a signed bigint; the Citus
                                        -- distribution column
    labels        jsonb  NOT NULL,      -- {"__name__":"up","job":"node",...}
    metric        text   NOT NULL,      -- the __name__ value, for lookups by metric
    first_seen_ms bigint NOT NULL       -- unix ms of the commit that created it
);
CREATE INDEX IF NOT EXISTS osprey_series_metric ON osprey_series (metric);

-- Metric family metadata (TYPE/HELP/UNIT), last writer wins; served by
-- /api/v1/metadata. Small, reference table under Citus.
CREATE TABLE IF NOT EXISTS osprey_metadata (
    metric     text PRIMARY KEY,
    type       text   NOT NULL,         -- counter, gauge, histogram, summary, unknown, ...
    help       text   NOT NULL,
    unit       text   NOT NULL,
    updated_ms bigint NOT NULL
);

-- v2: closed chunks. One row per compressed chunk of one series: Prometheus's
-- XOR encoding (delta-of-delta timestamps, XOR floats; libs/tsdb), ~1.4 bytes
-- per sample for regular counters. Partitioned by range of min_t, one table
-- per UTC day (osprey_chunks_pYYYYMMDD), created by the store when a chunk of
-- a new day is written. A chunk never spans two days, so a chunk lies in the
-- partition of its min_t and queries prune partitions by time on both sides
-- (min_t >= start of the query's first day AND min_t <= its end). Retention
-- drops whole partitions (time: a day older than the retention; size: the
-- oldest days first).
CREATE SEQUENCE IF NOT EXISTS osprey_chunk_seq;
CREATE TABLE IF NOT EXISTS osprey_chunks (
    series_id bigint   NOT NULL,        -- osprey_series.series_id; distribution column
    min_t     bigint   NOT NULL,        -- first sample, unix ms; the partition key
    max_t     bigint   NOT NULL,        -- last sample, unix ms
    seq       bigint   NOT NULL DEFAULT nextval('osprey_chunk_seq'),
                                        -- write order: on the same timestamp with two
                                        -- values, the lower seq (first written) wins
    samples   int      NOT NULL,        -- samples in data
    level     smallint NOT NULL,        -- 0: cut from the head (<= 120 samples);
                                        -- 1: written by compaction (<= 1200 samples, ~1.9 kB)
    data      bytea    NOT NULL         -- the encoded chunk (kept inline: < 2 kB, no TOAST)
) PARTITION BY RANGE (min_t);
CREATE INDEX IF NOT EXISTS osprey_chunks_series ON osprey_chunks (series_id, min_t);
-- e.g. CREATE TABLE osprey_chunks_p20261121 PARTITION OF osprey_chunks
--          FOR VALUES FROM (1795219200000) TO (1795305600000);
