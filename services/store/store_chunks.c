/* store_chunks.c - SQL of the chunk tables: partition management, writes,
 * reads for queries and start-up, compaction, retention, sizes. */
#include "store_chunks.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "osp_buf.h"
#include "osp_anychunk.h"
#include "osp_mem.h"
#include "store_pg_int.h"

static void
day_name(int64_t day, char *out, size_t n)
{
    time_t s = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, n, "osprey_chunks_p%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static bool
name_day(const char *name, int64_t *day)
{
    int y, m, d;
    char tail;
    if (sscanf(name, "osprey_chunks_p%4d%2d%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    *day = (int64_t)timegm(&tm) / 86400;
    return true;
}

/* Partitions known to exist (created or seen by this process). Only the
 * ingest thread creates and drops them; the mutex keeps TSan and readers
 * honest. */
static pthread_mutex_t parts_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t *parts;
static size_t nparts, capparts;

static bool
part_known(int64_t day)
{
    pthread_mutex_lock(&parts_mu);
    bool found = false;
    for (size_t i = 0; i < nparts && !found; i++)
        found = parts[i] == day;
    pthread_mutex_unlock(&parts_mu);
    return found;
}

static void
part_set(int64_t day, bool known)
{
    pthread_mutex_lock(&parts_mu);
    size_t i = 0;
    while (i < nparts && parts[i] != day)
        i++;
    if (known && i == nparts) {
        if (nparts == capparts) {
            capparts = capparts ? capparts * 2 : 16;
            parts = osp_reallocarray(parts, capparts, sizeof(*parts));
        }
        parts[nparts++] = day;
    } else if (!known && i < nparts) {
        parts[i] = parts[--nparts];
    }
    pthread_mutex_unlock(&parts_mu);
}

static int
ensure_partition(store_pg *pg, int64_t day, osp_errinfo *ei)
{
    if (part_known(day))
        return 0;
    char name[64], sql[320];
    day_name(day, name, sizeof(name));
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s PARTITION OF osprey_chunks"
             " FOR VALUES FROM (%" PRId64 ") TO (%" PRId64 ")",
             name, day * STORE_PARTITION_MS, (day + 1) * STORE_PARTITION_MS);
    int rc = store_pg_exec(pg, sql, ei);
    if (rc == 0)
        part_set(day, true);
    return rc;
}

static int64_t
be64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return (int64_t)v;
}

/* A chunk row to insert. */
typedef struct chunk_row {
    int64_t series_id, min_t, max_t, seq; /* seq < 0: the column default */
    uint32_t n;
    int level;
    const uint8_t *data;
    size_t len;
    size_t ord; /* position in the caller's order (store_chunks_write's sort) */
} chunk_row;

/* by series, then in the caller's order (a series' chunks keep theirs) */
static int
cmp_row_series(const void *a, const void *b)
{
    const chunk_row *x = a, *y = b;
    if (x->series_id != y->series_id)
        return x->series_id < y->series_id ? -1 : 1;
    return (x->ord > y->ord) - (x->ord < y->ord);
}

static void
put_be32(osp_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    osp_buf_append(b, x, sizeof(x));
}

static void
put_be64(osp_buf *b, uint64_t v)
{
    put_be32(b, (uint32_t)(v >> 32));
    put_be32(b, (uint32_t)v);
}

static void
put_be16(osp_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    osp_buf_append(b, x, sizeof(x));
}

/* copy_i64 / copy_i32 / copy_i16: one field of a binary COPY row: its length,
 * then the value in network order */
static void
copy_i64(osp_buf *b, int64_t v)
{
    put_be32(b, 8);
    put_be64(b, (uint64_t)v);
}

static void
copy_i32(osp_buf *b, uint32_t v)
{
    put_be32(b, 4);
    put_be32(b, v);
}

static void
copy_i16(osp_buf *b, uint16_t v)
{
    put_be32(b, 2);
    put_be16(b, v);
}

/* send: hand the COPY data gathered in b to libpq and empty b. */
static int
copy_send(store_pg *pg, osp_buf *b, osp_errinfo *ei)
{
    if (b->len > 0 && PQputCopyData(pg->conn, (const char *)b->data, (int)b->len) != 1)
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "inserting chunks: %s",
                               PQerrorMessage(pg->conn));
    osp_buf_reset(b);
    return 0;
}

/* copy_rows: the rows whose seq is set (with_seq) or not, as one binary COPY
 * (inside the caller's transaction); a row without seq gets the column
 * default. COPY instead of multi-row INSERTs: parsing and planning a 500-row
 * VALUES list with 3 500 parameters was ~15 % of PostgreSQL's ingest CPU. */
static int
copy_rows(store_pg *pg, const chunk_row *r, size_t n, bool with_seq, osp_errinfo *ei)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += (r[i].seq >= 0) == with_seq;
    if (m == 0)
        return 0;
    const char *sql = with_seq
                          ? "COPY osprey_chunks (series_id, min_t, max_t, seq, samples, level,"
                            " data) FROM STDIN (FORMAT binary)"
                          : "COPY osprey_chunks (series_id, min_t, max_t, samples, level, data)"
                            " FROM STDIN (FORMAT binary)";
    PGresult *res = PQexec(pg->conn, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN)
        return store_pg_check(pg, res, "inserting chunks", false, ei);
    PQclear(res);
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_append(&b, "PGCOPY\n\377\r\n\0", 11);
    put_be32(&b, 0); /* flags */
    put_be32(&b, 0); /* header extension */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const chunk_row *c = &r[i];
        if ((c->seq >= 0) != with_seq)
            continue;
        put_be16(&b, with_seq ? 7 : 6);
        copy_i64(&b, c->series_id);
        copy_i64(&b, c->min_t);
        copy_i64(&b, c->max_t);
        if (with_seq)
            copy_i64(&b, c->seq);
        copy_i32(&b, c->n);
        copy_i16(&b, (uint16_t)c->level);
        put_be32(&b, (uint32_t)c->len); /* bytea: its length, then its bytes */
        osp_buf_append(&b, c->data, c->len);
        if (b.len >= (1u << 20))
            rc = copy_send(pg, &b, ei);
    }
    if (rc == 0) {
        put_be16(&b, 0xffff); /* trailer */
        rc = copy_send(pg, &b, ei);
    }
    osp_buf_fini(&b);
    if (PQputCopyEnd(pg->conn, rc == 0 ? NULL : "osprey-store: aborted") != 1 && rc == 0)
        rc = osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "inserting chunks: %s",
                             PQerrorMessage(pg->conn));
    /* the COPY's own result, then the end of the command */
    int crc = store_pg_check(pg, PQgetResult(pg->conn), "inserting chunks", false, ei);
    if (rc == 0)
        rc = crc;
    while (store_pg_ok(pg) && (res = PQgetResult(pg->conn)) != NULL)
        PQclear(res);
    return rc;
}

/* insert_rows: the rows (inside the caller's transaction). */
static int
insert_rows(store_pg *pg, const chunk_row *r, size_t n, osp_errinfo *ei)
{
    int rc = copy_rows(pg, r, n, false, ei);
    return rc != 0 ? rc : copy_rows(pg, r, n, true, ei);
}

int
store_chunks_write(store_pg *pg, const store_chunk_ref *c, size_t n, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    if (n == 0)
        return 0;
    int rc;
    int64_t last_day = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t d = store_partition_day(c[i].min_t);
        if (d != last_day && (rc = ensure_partition(pg, d, ei)) != 0)
            return rc;
        last_day = d;
    }
    chunk_row *rows = osp_calloc(n, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = (chunk_row){.series_id = c[i].series_id,
                              .min_t = c[i].min_t,
                              .max_t = c[i].max_t,
                              .seq = -1,
                              .n = c[i].n,
                              .level = 0,
                              .data = c[i].data,
                              .len = c[i].len,
                              .ord = i};
    /* in index order: consecutive rows land on the same leaf pages of the
     * (series_id, min_t) index instead of one random page each (btree
     * descents were ~7 % of PostgreSQL's CPU) */
    qsort(rows, n, sizeof(*rows), cmp_row_series);
    if ((rc = store_pg_exec(pg, "BEGIN", ei)) == 0) {
        rc = insert_rows(pg, rows, n, ei);
        if (rc == 0)
            rc = store_pg_exec(pg, "COMMIT", ei);
        else if (store_pg_ok(pg))
            store_pg_exec(pg, "ROLLBACK", NULL);
    }
    osp_free(rows);
    return rc;
}

/* ids_array: a one-dimensional bigint[] in PostgreSQL's binary array format. */
static void
ids_array(osp_buf *b, const int64_t *ids, size_t n)
{
    uint32_t head[5] = {1, 0, 20 /* int8 */, (uint32_t)n, 1};
    for (size_t i = 0; i < 5; i++)
        put_be32(b, head[i]);
    for (size_t i = 0; i < n; i++) {
        put_be32(b, 8);
        put_be32(b, (uint32_t)((uint64_t)ids[i] >> 32));
        put_be32(b, (uint32_t)ids[i]);
    }
}

int
store_chunks_fetch(store_pg *pg, const int64_t *ids, size_t nids, int64_t mint, int64_t maxt,
                   store_chunk_set *out, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    /* a chunk lies in its min_t's partition: min_t >= the start of mint's day prunes */
    int64_t lo = mint == INT64_MIN ? INT64_MIN : store_partition_day(mint) * STORE_PARTITION_MS;
    char a[24], b[24], c[24];
    snprintf(a, sizeof(a), "%" PRId64, lo);
    snprintf(b, sizeof(b), "%" PRId64, maxt);
    snprintf(c, sizeof(c), "%" PRId64, mint);
    osp_buf arr;
    osp_buf_init(&arr);
    const char *vals[4] = {a, b, c, NULL};
    int lens[4] = {0, 0, 0, 0}, fmts[4] = {0, 0, 0, 1};
    /* no ORDER BY: sorting costs PostgreSQL more (a parallel sort and a merge
     * of 4 000 chunks took it ~30 ms instead of ~12) than grouping the rows
     * costs the caller */
    const char *sql = "SELECT series_id, seq, min_t, max_t, data FROM osprey_chunks"
                      " WHERE min_t >= $1 AND min_t <= $2 AND max_t >= $3";
    int np = 3;
    if (ids != NULL && nids > 0) {
        ids_array(&arr, ids, nids);
        vals[3] = arr.data;
        lens[3] = (int)arr.len;
        np = 4;
        sql = "SELECT series_id, seq, min_t, max_t, data FROM osprey_chunks"
              " WHERE min_t >= $1 AND min_t <= $2 AND max_t >= $3 AND series_id = ANY($4)";
    }
    PGresult *r = PQexecParams(pg->conn, sql, np, NULL, vals, lens, fmts, 1);
    osp_buf_fini(&arr);
    int rc = store_pg_check(pg, r, "reading chunks", true, ei);
    if (rc != 0)
        return rc;
    int rows = PQntuples(r);
    store_chunk_row *v = osp_calloc(rows > 0 ? (size_t)rows : 1, sizeof(*v));
    size_t k = 0;
    for (int i = 0; i < rows; i++) {
        if (PQgetlength(r, i, 0) != 8 || PQgetlength(r, i, 1) != 8 || PQgetlength(r, i, 2) != 8 ||
            PQgetlength(r, i, 3) != 8)
            continue;
        v[k++] = (store_chunk_row){.series_id = be64(PQgetvalue(r, i, 0)),
                                   .seq = be64(PQgetvalue(r, i, 1)),
                                   .min_t = be64(PQgetvalue(r, i, 2)),
                                   .max_t = be64(PQgetvalue(r, i, 3)),
                                   .data = (const uint8_t *)PQgetvalue(r, i, 4),
                                   .len = (size_t)PQgetlength(r, i, 4)};
    }
    out->rows = v;
    out->n = k;
    out->res = r;
    return 0;
}

void
store_chunk_set_fini(store_chunk_set *s)
{
    if (s == NULL)
        return;
    osp_free(s->rows);
    PQclear(s->res);
    memset(s, 0, sizeof(*s));
}

int
store_chunks_scan(store_pg *pg, int64_t since,
                  void (*fn)(void *ctx, int64_t series_id, int64_t min_t, int64_t max_t,
                             const uint8_t *data, size_t len),
                  void *ctx, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    char a[24], b[24];
    snprintf(a, sizeof(a), "%" PRId64, since);
    snprintf(b, sizeof(b), "%" PRId64, store_partition_day(since) * STORE_PARTITION_MS);
    const char *vals[] = {a, b};
    int rc;
    if ((rc = store_pg_exec(pg, "BEGIN READ ONLY", ei)) != 0)
        return rc;
    PGresult *r = PQexecParams(pg->conn,
                               "DECLARE osprey_scan NO SCROLL CURSOR FOR SELECT series_id, min_t,"
                               " max_t, data FROM osprey_chunks WHERE max_t >= $1 AND min_t >= $2"
                               " ORDER BY series_id, min_t, seq",
                               2, NULL, vals, NULL, NULL, 0);
    if ((rc = store_pg_check(pg, r, "scanning chunks", false, ei)) != 0)
        goto fail;
    for (;;) {
        r = PQexecParams(pg->conn, "FETCH 5000 FROM osprey_scan", 0, NULL, NULL, NULL, NULL, 1);
        if ((rc = store_pg_check(pg, r, "scanning chunks", true, ei)) != 0)
            goto fail;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++)
            fn(ctx, be64(PQgetvalue(r, i, 0)), be64(PQgetvalue(r, i, 1)), be64(PQgetvalue(r, i, 2)),
               (const uint8_t *)PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3));
        PQclear(r);
        if (rows == 0)
            break;
    }
    return store_pg_exec(pg, "COMMIT", ei);
fail:
    if (store_pg_ok(pg))
        store_pg_exec(pg, "ROLLBACK", NULL);
    return rc;
}

int
store_chunks_ranges(store_pg *pg, void (*fn)(void *ctx, int64_t id, int64_t min_t, int64_t max_t),
                    void *ctx, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    PGresult *r = PQexecParams(pg->conn,
                               "SELECT series_id, min(min_t), max(max_t) FROM osprey_chunks"
                               " GROUP BY series_id",
                               0, NULL, NULL, NULL, NULL, 1);
    int rc = store_pg_check(pg, r, "reading series ranges", true, ei);
    if (rc != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        fn(ctx, be64(PQgetvalue(r, i, 0)), be64(PQgetvalue(r, i, 1)), be64(PQgetvalue(r, i, 2)));
    PQclear(r);
    return 0;
}

int
store_chunks_load_series(store_pg *pg, void (*fn)(void *ctx, int64_t id, const osp_labels *ls),
                         void *ctx, osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    int rc;
    if ((rc = store_pg_exec(pg, "BEGIN READ ONLY", ei)) != 0)
        return rc;
    if ((rc = store_pg_exec(pg,
                            "DECLARE osprey_cat NO SCROLL CURSOR FOR SELECT s.series_id, e.key,"
                            " e.value FROM osprey_series s, jsonb_each_text(s.labels) e"
                            " ORDER BY s.series_id",
                            ei)) != 0)
        goto fail;
    osp_labels ls;
    osp_labels_init(&ls);
    int64_t cur = 0;
    bool have = false;
    for (;;) {
        PGresult *r = PQexec(pg->conn, "FETCH 20000 FROM osprey_cat");
        if ((rc = store_pg_check(pg, r, "loading series", true, ei)) != 0) {
            osp_labels_fini(&ls);
            goto fail;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            int64_t id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            if (have && id != cur) {
                osp_labels_sort(&ls);
                fn(ctx, cur, &ls);
                osp_labels_reset(&ls);
            }
            cur = id;
            have = true;
            osp_labels_add(&ls, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
                           PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
        }
        PQclear(r);
        if (rows == 0)
            break;
    }
    if (have) {
        osp_labels_sort(&ls);
        fn(ctx, cur, &ls);
    }
    osp_labels_fini(&ls);
    return store_pg_exec(pg, "COMMIT", ei);
fail:
    if (store_pg_ok(pg))
        store_pg_exec(pg, "ROLLBACK", NULL);
    return rc;
}

/* ---- compaction ---- */

/* Output rows of a compaction; data holds offsets into bytes until the caller
 * fixes them up (bytes moves while it grows). */
typedef struct compact_out {
    chunk_row *rows;
    size_t n, cap;
    osp_buf bytes;
} compact_out;

/* emit: samples [0, k) of one series as dense chunks of the given level, each
 * as long as fits STORE_COMPACT_BYTES (inline in the row). */
static int
emit(compact_out *o, int64_t sid, int64_t seq, int level, const int64_t *ts, const double *vs,
     size_t k, store_compact_res *res)
{
    for (size_t i = 0; i < k;) {
        size_t m = k - i < STORE_COMPACT_SAMPLES ? k - i : STORE_COMPACT_SAMPLES, used = 0, len = 0;
        uint8_t *b = NULL;
        if (osp_dchunk_encode_fit(ts + i, vs + i, m, STORE_COMPACT_BYTES, &b, &len, &used) != 0 ||
            used == 0)
            return OSP_EINVAL; /* not after the merge (strictly increasing; one sample fits) */
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 256;
            o->rows = osp_reallocarray(o->rows, o->cap, sizeof(*o->rows));
        }
        o->rows[o->n++] = (chunk_row){.series_id = sid,
                                      .min_t = ts[i],
                                      .max_t = ts[i + used - 1],
                                      .seq = seq,
                                      .n = (uint32_t)used,
                                      .level = level,
                                      .data = (const uint8_t *)(uintptr_t)o->bytes.len,
                                      .len = len};
        osp_buf_append(&o->bytes, b, len);
        osp_free(b);
        res->chunks_out++;
        res->samples += used;
        if (level == 0) {
            if (res->spilled == 0 || ts[i] < res->spill_lo)
                res->spill_lo = ts[i];
            if (res->spilled == 0 || ts[i] > res->spill_hi)
                res->spill_hi = ts[i];
            res->spilled += used;
        }
        i += used;
    }
    return 0;
}

/* merge_series: decode rows [lo, hi) of r (one series, seq order), merge and
 * append the output rows to o: level 1 before w1, level 0 (spilled) from w1 on.
 * Returns 0; OSP_EINVAL when a chunk could not be encoded (the transaction
 * must not go on to delete the rows). */
static int
merge_series(PGresult *r, int lo, int hi, int64_t w1, compact_out *o, store_compact_res *res)
{
    size_t n = 0, capn = 0;
    int64_t *ts = NULL;
    double *vs = NULL;
    int64_t seq = INT64_MAX, sid = be64(PQgetvalue(r, lo, 0));
    for (int i = lo; i < hi; i++) {
        int64_t s = be64(PQgetvalue(r, i, 1));
        if (s < seq)
            seq = s;
        osp_anychunk_it it;
        osp_anychunk_it_init(&it, (const uint8_t *)PQgetvalue(r, i, 2),
                             (size_t)PQgetlength(r, i, 2));
        int64_t t;
        double v;
        while (osp_anychunk_it_next(&it, &t, &v) == 1) {
            if (n == capn) {
                capn = capn ? capn * 2 : 1024;
                ts = osp_reallocarray(ts, capn, sizeof(*ts));
                vs = osp_reallocarray(vs, capn, sizeof(*vs));
            }
            ts[n] = t;
            vs[n] = v;
            n++;
        }
        res->chunks_in++;
    }
    /* rows come in seq order: the first-written value of a timestamp wins */
    size_t k = store_samples_merge(ts, vs, n, &res->duplicates, &res->conflicts);
    size_t cut = k;
    while (cut > 0 && ts[cut - 1] >= w1)
        cut--;
    /* the spilled samples keep the oldest seq, so they still win over later writes */
    int rc = emit(o, sid, seq, 1, ts, vs, cut, res);
    if (rc == 0)
        rc = emit(o, sid, seq, 0, ts + cut, vs + cut, k - cut, res);
    osp_free(ts);
    osp_free(vs);
    if (rc == 0)
        res->series++;
    return rc;
}

int
store_chunks_compact(store_pg *pg, int64_t w0, int64_t w1, const int64_t *after, size_t max_series,
                     store_compact_res *res, osp_errinfo *ei)
{
    memset(res, 0, sizeof(*res));
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    char part[64], sql[512], a[24], b[24], lim[24], aft[24];
    day_name(store_partition_day(w0), part, sizeof(part));
    snprintf(a, sizeof(a), "%" PRId64, w0);
    snprintf(b, sizeof(b), "%" PRId64, w1);
    snprintf(lim, sizeof(lim), "%zu", max_series + 1);
    if (after != NULL)
        snprintf(aft, sizeof(aft), "%" PRId64, *after);
    int rc;
    if ((rc = store_pg_exec(pg, "BEGIN", ei)) != 0)
        return rc;
    /* the candidates, locked against a concurrent compactor (a second store on the database) */
    snprintf(sql, sizeof(sql),
             "SELECT series_id FROM %s WHERE min_t >= $1 AND min_t < $2"
             " AND ($4::bigint IS NULL OR series_id > $4)"
             " GROUP BY series_id HAVING bool_or(level = 0)"
             " ORDER BY series_id LIMIT $3",
             part);
    const char *v3[] = {a, b, lim, after != NULL ? aft : NULL};
    PGresult *r = PQexecParams(pg->conn, sql, 4, NULL, v3, NULL, NULL, 0);
    if ((rc = store_pg_check(pg, r, "compaction candidates", true, ei)) != 0)
        goto fail;
    size_t nc = (size_t)PQntuples(r);
    res->more = nc > max_series;
    if (res->more) {
        nc = max_series;
        res->last = strtoll(PQgetvalue(r, (int)nc - 1, 0), NULL, 10);
    }
    osp_buf ids;
    osp_buf_init(&ids);
    osp_buf_putc(&ids, '{');
    for (size_t i = 0; i < nc; i++)
        osp_buf_printf(&ids, "%s%s", i ? "," : "", PQgetvalue(r, (int)i, 0));
    osp_buf_putc(&ids, '}');
    PQclear(r);
    if (nc == 0) {
        osp_buf_fini(&ids);
        return store_pg_exec(pg, "COMMIT", ei);
    }
    const char *v4[] = {a, b, osp_buf_cstr(&ids)};
    snprintf(sql, sizeof(sql),
             "SELECT series_id, seq, data FROM %s WHERE min_t >= $1 AND min_t < $2"
             " AND series_id = ANY($3::bigint[]) ORDER BY series_id, seq FOR UPDATE NOWAIT",
             part);
    r = PQexecParams(pg->conn, sql, 3, NULL, v4, NULL, NULL, 1);
    if ((rc = store_pg_check(pg, r, "compaction read", true, ei)) != 0) {
        osp_buf_fini(&ids);
        goto fail;
    }
    compact_out o = {0};
    osp_buf_init(&o.bytes);
    int rows = PQntuples(r);
    for (int i = 0; i < rows;) {
        int j = i + 1;
        while (j < rows && memcmp(PQgetvalue(r, j, 0), PQgetvalue(r, i, 0), 8) == 0)
            j++;
        if (merge_series(r, i, j, w1, &o, res) != 0) {
            rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "compaction could not encode a series");
            break;
        }
        i = j;
    }
    PQclear(r);
    /* spilled chunks may begin on the next day; a partition made here goes away
     * with a rollback, so it is forgotten then */
    int64_t *made = NULL;
    size_t nmade = 0;
    for (size_t i = 0; i < o.n && rc == 0 && res->spilled > 0; i++) {
        int64_t d = store_partition_day(o.rows[i].min_t);
        if (o.rows[i].level != 0 || part_known(d))
            continue;
        if ((rc = ensure_partition(pg, d, ei)) == 0) {
            made = osp_reallocarray(made, nmade + 1, sizeof(*made));
            made[nmade++] = d;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < o.n; i++)
            o.rows[i].data = (const uint8_t *)o.bytes.data + (uintptr_t)o.rows[i].data;
        snprintf(sql, sizeof(sql),
                 "DELETE FROM %s WHERE min_t >= $1 AND min_t < $2"
                 " AND series_id = ANY($3::bigint[])",
                 part);
        rc = store_pg_check(pg, PQexecParams(pg->conn, sql, 3, NULL, v4, NULL, NULL, 0),
                            "compaction delete", false, ei);
    }
    osp_buf_fini(&ids);
    if (rc == 0)
        rc = insert_rows(pg, o.rows, o.n, ei);
    osp_free(o.rows);
    osp_buf_fini(&o.bytes);
    if (rc == 0 && (rc = store_pg_exec(pg, "COMMIT", ei)) == 0) {
        osp_free(made);
        return 0;
    }
    for (size_t i = 0; i < nmade; i++)
        part_set(made[i], false);
    osp_free(made);
fail:
    if (store_pg_ok(pg))
        store_pg_exec(pg, "ROLLBACK", NULL);
    return rc;
}

/* ---- partitions, retention, sizes ---- */

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int
store_chunks_partitions(store_pg *pg, int64_t **out, size_t *n, osp_errinfo *ei)
{
    *out = NULL;
    *n = 0;
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    PGresult *r = PQexec(pg->conn, "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
                                   " ON c.oid = i.inhrelid"
                                   " WHERE i.inhparent = 'osprey_chunks'::regclass");
    int rc = store_pg_check(pg, r, "listing partitions", true, ei);
    if (rc != 0)
        return rc;
    int rows = PQntuples(r);
    *out = osp_calloc(rows ? (size_t)rows : 1, sizeof(**out));
    for (int i = 0; i < rows; i++) {
        int64_t d;
        if (name_day(PQgetvalue(r, i, 0), &d)) {
            (*out)[(*n)++] = d;
            part_set(d, true);
        }
    }
    PQclear(r);
    qsort(*out, *n, sizeof(**out), cmp_i64);
    return 0;
}

int
store_chunks_drop_partition(store_pg *pg, int64_t day, osp_errinfo *ei)
{
    char name[64], sql[128];
    day_name(day, name, sizeof(name));
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    int rc = store_pg_exec(pg, sql, ei);
    if (rc == 0)
        part_set(day, false);
    return rc;
}

int
store_chunks_sizes(store_pg *pg, void (*fn)(void *ctx, const char *table, int64_t bytes), void *ctx,
                   osp_errinfo *ei)
{
    if (!store_pg_ok(pg))
        return osp_errinfo_set(ei, OSP_EUNAVAIL, 0, 0, "not connected to PostgreSQL");
    PGresult *r = PQexec(pg->conn, "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                                   " JOIN pg_namespace n ON n.oid = c.relnamespace"
                                   " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                                   " AND c.relname LIKE 'osprey%'");
    int rc = store_pg_check(pg, r, "table sizes", true, ei);
    if (rc != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        fn(ctx, PQgetvalue(r, i, 0), strtoll(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return 0;
}
