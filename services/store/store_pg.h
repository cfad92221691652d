/* store_pg.h - the store's PostgreSQL access (libpq, blocking): connection
 * with password-safe logging, schema migration, the statements of the ingest
 * transaction, log replay with a server-side cursor, retention deletes.
 * A store_pg is used by one thread at a time (the ingest thread owns one, the
 * HTTP loop another for imports). */
#ifndef STORE_PG_H
#define STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_err.h"

typedef struct store_pg store_pg;

/* STORE_SCHEMA_VERSION: the version store_pg_migrate brings the database to. */
#define STORE_SCHEMA_VERSION 2

/* store_pg_new: a closed connection object for conninfo (copied; libpq
 * keyword/value string or URI; "" = PG* environment). who names it in logs. */
store_pg *store_pg_new(const char *conninfo, const char *who);
/* store_pg_free: close and free; NULL-safe. */
void store_pg_free(store_pg *pg);

/* store_pg_connect: connect when not connected (5 s connect timeout).
 * Returns 0 or OSP_EUNAVAIL (ei->msg has libpq's reason, no password). */
int store_pg_connect(store_pg *pg, osp_errinfo *ei);
/* store_pg_ok: true when connected and the connection is not known bad. */
bool store_pg_ok(const store_pg *pg);
/* store_pg_close: drop the connection (it is re-made by store_pg_connect). */
void store_pg_close(store_pg *pg);

/* store_pg_migrate: create or migrate the schema (under an advisory lock).
 * Returns 0, OSP_EUNAVAIL (connection lost) or OSP_EIO (SQL error). */
int store_pg_migrate(store_pg *pg, osp_errinfo *ei);

/* store_pg_exec: run sql (no parameters, no result rows). Same errors. */
int store_pg_exec(store_pg *pg, const char *sql, osp_errinfo *ei);

/* One row of osprey_batches. inserted is set by store_pg_insert_batches. */
typedef struct store_pg_batch {
    const char *producer_id;
    uint64_t seq;
    int64_t received_ms;
    char kind; /* 'c' metrics as a compact record (store_logrec.h), 'm' metrics as
                * the raw Envelope (older stores), 'l' logs */
    const void *payload;
    size_t len;
    bool inserted; /* out: new row (false: already in the log) */
} store_pg_batch;

/* store_pg_insert_batches: INSERT ... ON CONFLICT DO NOTHING RETURNING for n
 * rows (within the caller's transaction); sets inserted on the rows that were
 * new. The (producer_id, seq) pairs must be distinct. */
int store_pg_insert_batches(store_pg *pg, store_pg_batch *b, size_t n, osp_errinfo *ei);

/* One row of osprey_series. */
typedef struct store_pg_series {
    int64_t id;
    const char *labels_json;
    const char *metric;
    int64_t first_seen_ms;
} store_pg_series;

/* store_pg_insert_series: INSERT ... ON CONFLICT DO NOTHING for n rows. */
int store_pg_insert_series(store_pg *pg, const store_pg_series *s, size_t n, osp_errinfo *ei);

/* One row of osprey_metadata. */
typedef struct store_pg_meta {
    const char *metric, *type, *help, *unit;
} store_pg_meta;

/* store_pg_upsert_meta: insert or update n rows (distinct metrics) with updated_ms. */
int store_pg_upsert_meta(store_pg *pg, const store_pg_meta *m, size_t n, int64_t updated_ms,
                         osp_errinfo *ei);

/* store_pg_load_meta: fn(ctx, metric, type, help, unit) for every metadata row. */
int store_pg_load_meta(store_pg *pg,
                       void (*fn)(void *ctx, const char *metric, const char *type, const char *help,
                                  const char *unit),
                       void *ctx, osp_errinfo *ei);

/* store_pg_replay: fn(ctx, kind, received_ms, payload, len) for every batch
 * of the log in (received_ms, producer_id, seq) order, fetched 1000 rows at a
 * time through a cursor. Returns 0 or an error as above. */
int store_pg_replay(store_pg *pg,
                    void (*fn)(void *ctx, char kind, int64_t received_ms, const void *payload,
                               size_t len),
                    void *ctx, osp_errinfo *ei);

/* store_pg_delete_batches_before: DELETE FROM osprey_batches WHERE
 * received_ms < ms; *deleted gets the row count. */
int store_pg_delete_batches_before(store_pg *pg, int64_t ms, uint64_t *deleted, osp_errinfo *ei);

#endif
