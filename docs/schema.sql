-- docs/schema.sql - the PostgreSQL schema of osprey-store (schema version 1).
--
-- The store creates and migrates it at start (services/store/store_pg.c, under
-- an advisory lock so several stores may share a database); this file is the
-- documentation and is kept in sync with that code by hand.
--
-- Citus: every table that grows with the data keeps its distribution column in
-- its key. osprey_series is distributed by series_id; osprey_batches is a log of
-- raw batches keyed by producer (producer_id) and is distributed by producer_id
-- (or kept on the coordinator: it is only appended, replayed and trimmed).
-- The partitioned chunk tables of a later issue will be keyed by
-- (series_id, min_t).

-- Which migrations have run. One row per applied version.
CREATE TABLE IF NOT EXISTS osprey_schema_version (
    version    int PRIMARY KEY,
    applied_ms bigint NOT NULL          -- unix ms
);

-- The durable log: one row per ingested batch, written (COMMIT) before the
-- batch is acked to its producer and before it reaches the in-memory head.
-- (producer_id, seq) is the idempotency key: a resent batch hits ON CONFLICT
-- DO NOTHING and is acked without being applied twice. On start the head is
-- rebuilt by replaying this table in (received_ms, producer_id, seq) order.
-- Retention deletes rows with received_ms < now - retention.
CREATE TABLE IF NOT EXISTS osprey_batches (
    producer_id text   NOT NULL,        -- Envelope.producer_id ("collector@host", "import/<store>/<boot ms>")
    seq         bigint NOT NULL,        -- Envelope.seq (uint64 stored as its signed bit pattern)
    received_ms bigint NOT NULL,        -- store's wall clock at commit, unix ms
    kind        "char" NOT NULL,        -- 'm' MetricBatch, 'l' LogBatch
    payload     bytea  NOT NULL,        -- the packed protobuf Envelope, exactly as received
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
