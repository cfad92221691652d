/* store_pg.c - libpq boundary of the store: every PostgreSQL error is
 * translated to an osp_err here, with libpq's message in the errinfo. */
#include "store_pg.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "osp_buf.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_conf.h"
#include "store_pg_int.h"

store_pg *
store_pg_new(const char *conninfo, const char *who)
{
    store_pg *pg = osp_calloc(1, sizeof(*pg));
    pg->conninfo = osp_strdup(conninfo ? conninfo : "");
    pg->who = osp_strdup(who ? who : "pg");
    return pg;
}

void
store_pg_close(store_pg *pg)
{
    if (pg != NULL && pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
}

void
store_pg_free(store_pg *pg)
{
    if (pg == NULL)
        return;
    store_pg_close(pg);
    osp_free(pg->conninfo);
    osp_free(pg->who);
    osp_free(pg);
}

bool
store_pg_ok(const store_pg *pg)
{
    return pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK;
}

static void
chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void
notice_quiet(void *arg, const char *msg)
{
    (void)arg, (void)msg; /* "relation already exists, skipping" and friends */
}

int
store_pg_connect(store_pg *pg, osp_errinfo *ei)
{
    if (store_pg_ok(pg))
        return 0;
    store_pg_close(pg);
    /* The user's conninfo comes last and is expanded, so its keywords win. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"5", "osprey-store", pg->conninfo, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        chomp(msg);
        store_pg_close(pg);
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "connecting to PostgreSQL: %s", msg);
    }
    PQsetNoticeProcessor(pg->conn, notice_quiet, NULL);
    if (osp_log_enabled(OSP_LOG_INFO)) {
        osp_buf masked;
        osp_buf_init(&masked);
        store_conninfo_mask(pg->conninfo, &masked);
        osp_log(OSP_LOG_INFO, "store.pg", "connected to PostgreSQL", "conn", pg->who, "conninfo",
                osp_buf_cstr(&masked), "server_version",
                PQparameterStatus(pg->conn, "server_version"), NULL);
        osp_buf_fini(&masked);
    }
    return 0;
}

int
store_pg_check(store_pg *pg, PGresult *r, const char *what, bool keep, osp_errinfo *ei)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (!keep)
            PQclear(r);
        return 0;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(pg->conn));
    chomp(msg);
    /* 55P03 lock_not_available: a NOWAIT lock is held by another transaction */
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    bool locked = state != NULL && strcmp(state, "55P03") == 0;
    PQclear(r);
    bool down = PQstatus(pg->conn) != CONNECTION_OK;
    if (down)
        store_pg_close(pg);
    return osp_errinfo_set(ei,
                           down     ? OSP_EUNAVAIL
                           : locked ? OSP_EAGAIN
                                    : OSP_EIO,
                           0, 0, "%s: %s", what, msg);
}

int
store_pg_exec(store_pg *pg, const char *sql, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    return store_pg_check(pg, PQexec(pg->conn, sql), "query", false, ei);
}

static const char *const migration_v1 =
    "CREATE TABLE IF NOT EXISTS osprey_batches ("
    " producer_id text NOT NULL, seq bigint NOT NULL, received_ms bigint NOT NULL,"
    " kind \"char\" NOT NULL, payload bytea NOT NULL, PRIMARY KEY (producer_id, seq));"
    "CREATE INDEX IF NOT EXISTS osprey_batches_received"
    " ON osprey_batches (received_ms, producer_id, seq);"
    "CREATE TABLE IF NOT EXISTS osprey_series ("
    " series_id bigint PRIMARY KEY, labels jsonb NOT NULL, metric text NOT NULL,"
    " first_seen_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS osprey_series_metric ON osprey_series (metric);"
    "CREATE TABLE IF NOT EXISTS osprey_metadata ("
    " metric text PRIMARY KEY, type text NOT NULL, help text NOT NULL, unit text NOT NULL,"
    " updated_ms bigint NOT NULL);";

/* v2: compressed chunks in tables partitioned by min_t (see docs/schema.sql). */
static const char *const migration_v2 =
    "CREATE SEQUENCE IF NOT EXISTS osprey_chunk_seq;"
    "CREATE TABLE IF NOT EXISTS osprey_chunks ("
    " series_id bigint NOT NULL, min_t bigint NOT NULL, max_t bigint NOT NULL,"
    " seq bigint NOT NULL DEFAULT nextval('osprey_chunk_seq'), samples int NOT NULL,"
    " level smallint NOT NULL, data bytea NOT NULL) PARTITION BY RANGE (min_t);"
    "CREATE INDEX IF NOT EXISTS osprey_chunks_series ON osprey_chunks (series_id, min_t);";

int
store_pg_migrate(store_pg *pg, osp_errinfo *ei)
{
    int rc;
    if ((rc = store_pg_exec(pg, "BEGIN", ei)) != 0)
        return rc;
    /* one migrator at a time when several stores share a database */
    if ((rc = store_pg_exec(pg, "SELECT pg_advisory_xact_lock(7310293470111)", ei)) != 0)
        goto fail;
    if ((rc = store_pg_exec(pg,
                            "CREATE TABLE IF NOT EXISTS osprey_schema_version ("
                            " version int PRIMARY KEY, applied_ms bigint NOT NULL)",
                            ei)) != 0)
        goto fail;
    PGresult *r = PQexec(pg->conn, "SELECT coalesce(max(version), 0) FROM osprey_schema_version");
    if ((rc = store_pg_check(pg, r, "reading schema version", true, ei)) != 0)
        goto fail;
    int version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > STORE_SCHEMA_VERSION) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0,
                             "database schema version %d is newer than this store's (%d)", version,
                             STORE_SCHEMA_VERSION);
        goto fail;
    }
    if (version < 1) {
        if ((rc = store_pg_exec(pg, migration_v1, ei)) != 0)
            goto fail;
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO osprey_schema_version VALUES (1, %lld) ON CONFLICT DO NOTHING",
                 (long long)osp_now_ms());
        if ((rc = store_pg_exec(pg, sql, ei)) != 0)
            goto fail;
        osp_log(OSP_LOG_INFO, "store.pg", "schema created", "version", "1", NULL);
    }
    if (version < 2) {
        if ((rc = store_pg_exec(pg, migration_v2, ei)) != 0)
            goto fail;
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO osprey_schema_version VALUES (2, %lld) ON CONFLICT DO NOTHING",
                 (long long)osp_now_ms());
        if ((rc = store_pg_exec(pg, sql, ei)) != 0)
            goto fail;
        osp_log(OSP_LOG_INFO, "store.pg", "schema migrated", "version", "2", NULL);
    }
    if ((rc = store_pg_exec(pg, "COMMIT", ei)) != 0)
        return rc;
    /* lz4 instead of pglz for the log's payloads: pglz spent a third of
     * PostgreSQL's ingest CPU on them. Compact records (store_logrec.h) still
     * shrink ~1.5x with lz4, which costs less than writing the extra bytes
     * (measured against STORAGE EXTERNAL: 0.29 vs 0.33 PostgreSQL CPU s per
     * million samples). Servers built without lz4 keep pglz. */
    PGresult *lz =
        PQexec(pg->conn, "ALTER TABLE osprey_batches ALTER COLUMN payload SET COMPRESSION lz4");
    if (PQresultStatus(lz) != PGRES_COMMAND_OK)
        osp_log(OSP_LOG_DEBUG, "store.pg", "lz4 payload compression unavailable; keeping pglz",
                "error", PQresultErrorMessage(lz), NULL);
    PQclear(lz);
    return 0;
fail:
    if (store_pg_ok(pg))
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return rc;
}

/* Statement text for n rows of k parameters each: prefix ($1,$2),($3,$4) suffix. */
void
store_pg_values_sql(osp_buf *sql, const char *prefix, size_t n, size_t k, const char *suffix)
{
    osp_buf_puts(sql, prefix);
    for (size_t i = 0; i < n; i++) {
        osp_buf_puts(sql, i ? ",(" : "(");
        for (size_t j = 0; j < k; j++)
            osp_buf_printf(sql, "%s$%zu", j ? "," : "", i * k + j + 1);
        osp_buf_putc(sql, ')');
    }
    osp_buf_puts(sql, suffix);
}

/* Text parameters: numbers are formatted into nums (n*3 slots of 24 bytes). */
int
store_pg_insert_batches(store_pg *pg, store_pg_batch *b, size_t n, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    if (n == 0)
        return 0;
    enum { K = 5 };
    const char **vals = osp_calloc(n * K, sizeof(*vals));
    int *lens = osp_calloc(n * K, sizeof(*lens));
    int *fmts = osp_calloc(n * K, sizeof(*fmts));
    char(*nums)[24] = osp_calloc(n * 3, sizeof(*nums));
    osp_buf sql;
    osp_buf_init(&sql);
    store_pg_values_sql(
        &sql, "INSERT INTO osprey_batches (producer_id, seq, received_ms, kind, payload) VALUES ",
        n, K, " ON CONFLICT DO NOTHING RETURNING producer_id, seq");
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i * 3], 24, "%" PRId64, (int64_t)b[i].seq);
        snprintf(nums[i * 3 + 1], 24, "%" PRId64, b[i].received_ms);
        nums[i * 3 + 2][0] = b[i].kind;
        vals[i * K] = b[i].producer_id;
        vals[i * K + 1] = nums[i * 3];
        vals[i * K + 2] = nums[i * 3 + 1];
        vals[i * K + 3] = nums[i * 3 + 2];
        vals[i * K + 4] = b[i].payload ? b[i].payload : "";
        lens[i * K + 4] = (int)b[i].len;
        fmts[i * K + 4] = 1; /* bytea in binary: no escaping */
        b[i].inserted = false;
    }
    PGresult *r =
        PQexecParams(pg->conn, osp_buf_cstr(&sql), (int)(n * K), NULL, vals, lens, fmts, 0);
    int rc = store_pg_check(pg, r, "inserting batches", true, ei);
    if (rc == 0) {
        int rows = PQntuples(r);
        for (int j = 0; j < rows; j++) {
            const char *pid = PQgetvalue(r, j, 0);
            int64_t seq = strtoll(PQgetvalue(r, j, 1), NULL, 10);
            for (size_t i = 0; i < n; i++) {
                if (!b[i].inserted && (int64_t)b[i].seq == seq &&
                    strcmp(b[i].producer_id, pid) == 0) {
                    b[i].inserted = true;
                    break;
                }
            }
        }
        PQclear(r);
    }
    osp_buf_fini(&sql);
    osp_free(vals);
    osp_free(lens);
    osp_free(fmts);
    osp_free(nums);
    return rc;
}

int
store_pg_insert_series(store_pg *pg, const store_pg_series *s, size_t n, osp_errinfo *ei)
{
    enum { K = 4, CHUNK = 1000 };
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        const char **vals = osp_calloc(m * K, sizeof(*vals));
        char(*nums)[24] = osp_calloc(m * 2, sizeof(*nums));
        osp_buf sql;
        osp_buf_init(&sql);
        store_pg_values_sql(
            &sql, "INSERT INTO osprey_series (series_id, labels, metric, first_seen_ms) VALUES ", m,
            K, " ON CONFLICT DO NOTHING");
        for (size_t i = 0; i < m; i++) {
            snprintf(nums[i * 2], 24, "%" PRId64, s[off + i].id);
            snprintf(nums[i * 2 + 1], 24, "%" PRId64, s[off + i].first_seen_ms);
            vals[i * K] = nums[i * 2];
            vals[i * K + 1] = s[off + i].labels_json;
            vals[i * K + 2] = s[off + i].metric;
            vals[i * K + 3] = nums[i * 2 + 1];
        }
        rc = store_pg_check(
            pg, PQexecParams(pg->conn, osp_buf_cstr(&sql), (int)(m * K), NULL, vals, NULL, NULL, 0),
            "inserting series", false, ei);
        osp_buf_fini(&sql);
        osp_free(vals);
        osp_free(nums);
    }
    return rc;
}

int
store_pg_upsert_meta(store_pg *pg, const store_pg_meta *m, size_t n, int64_t updated_ms,
                     osp_errinfo *ei)
{
    enum { K = 5, CHUNK = 500 };
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    char ts[24];
    snprintf(ts, sizeof(ts), "%" PRId64, updated_ms);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        const char **vals = osp_calloc(k * K, sizeof(*vals));
        osp_buf sql;
        osp_buf_init(&sql);
        store_pg_values_sql(
            &sql, "INSERT INTO osprey_metadata (metric, type, help, unit, updated_ms) VALUES ", k,
            K,
            " ON CONFLICT (metric) DO UPDATE SET type = EXCLUDED.type, help = EXCLUDED.help,"
            " unit = EXCLUDED.unit, updated_ms = EXCLUDED.updated_ms");
        for (size_t i = 0; i < k; i++) {
            vals[i * K] = m[off + i].metric;
            vals[i * K + 1] = m[off + i].type ? m[off + i].type : "";
            vals[i * K + 2] = m[off + i].help ? m[off + i].help : "";
            vals[i * K + 3] = m[off + i].unit ? m[off + i].unit : "";
            vals[i * K + 4] = ts;
        }
        rc = store_pg_check(
            pg, PQexecParams(pg->conn, osp_buf_cstr(&sql), (int)(k * K), NULL, vals, NULL, NULL, 0),
            "upserting metadata", false, ei);
        osp_buf_fini(&sql);
        osp_free(vals);
    }
    return rc;
}

int
store_pg_load_meta(store_pg *pg,
                   void (*fn)(void *ctx, const char *metric, const char *type, const char *help,
                              const char *unit),
                   void *ctx, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    PGresult *r = PQexec(pg->conn, "SELECT metric, type, help, unit FROM osprey_metadata");
    int rc = store_pg_check(pg, r, "loading metadata", true, ei);
    if (rc != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        fn(ctx, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
    return 0;
}

int
store_pg_replay(store_pg *pg,
                void (*fn)(void *ctx, char kind, int64_t received_ms, const void *payload,
                           size_t len),
                void *ctx, osp_errinfo *ei)
{
    int rc;
    if ((rc = store_pg_exec(pg, "BEGIN READ ONLY", ei)) != 0)
        return rc;
    if ((rc = store_pg_exec(pg,
                            "DECLARE osprey_replay NO SCROLL CURSOR FOR SELECT kind, payload,"
                            " received_ms"
                            " FROM osprey_batches ORDER BY received_ms, producer_id, seq",
                            ei)) != 0)
        goto fail;
    for (;;) {
        /* binary results: payload arrives as raw bytes, kind as one byte */
        PGresult *r =
            PQexecParams(pg->conn, "FETCH 1000 FROM osprey_replay", 0, NULL, NULL, NULL, NULL, 1);
        if ((rc = store_pg_check(pg, r, "replaying batches", true, ei)) != 0)
            goto fail;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            const char *k = PQgetvalue(r, i, 0);
            const unsigned char *rm = (const unsigned char *)PQgetvalue(r, i, 2);
            uint64_t ms = 0;
            for (int b = 0; b < 8 && PQgetlength(r, i, 2) == 8; b++)
                ms = ms << 8 | rm[b];
            fn(ctx, PQgetlength(r, i, 0) > 0 ? k[0] : 'm', (int64_t)ms, PQgetvalue(r, i, 1),
               (size_t)PQgetlength(r, i, 1));
        }
        PQclear(r);
        if (rows == 0)
            break;
    }
    return store_pg_exec(pg, "COMMIT", ei);
fail:
    if (store_pg_ok(pg))
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return rc;
}

int
store_pg_delete_batches_before(store_pg *pg, int64_t ms, uint64_t *deleted, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, ms);
    const char *vals[] = {num};
    PGresult *r = PQexecParams(pg->conn, "DELETE FROM osprey_batches WHERE received_ms < $1", 1,
                               NULL, vals, NULL, NULL, 0);
    int rc = store_pg_check(pg, r, "retention delete", true, ei);
    if (rc == 0) {
        if (deleted != NULL)
            *deleted = strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return rc;
}
