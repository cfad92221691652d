/* store_ingest.c - the ingest thread. Groups of up to 256 messages / 8 MiB /
 * 100 ms share one transaction; a group is acked only after its COMMIT, and a
 * group that failed to commit is kept and retried after reconnecting, so a
 * PostgreSQL outage loses nothing (producers also keep unacked batches).
 * Between groups: chunk persistence, log trimming and eviction every second,
 * compaction every few seconds (bounded), retention and sizes every minute. */
#include "store_ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_apply.h"
#include "store_cache.h"
#include "store_chunks.h"
#include "store_pg.h"

#define GROUP_MAX_MSGS 256
#define GROUP_MAX_BYTES (8u << 20)
/* A group waits this long for more batches after its first: a scraping
 * collector sends one batch per target scrape, spread over the interval, so
 * at 20 ms most groups held one batch and each paid a statement, a commit
 * (a WAL flush) and a wake-up of its own; at 100 ms they hold several. */
#define GROUP_MAX_MS 100
#define RETENTION_EVERY_MS 60000
#define PING_EVERY_MS 500
#define PERSIST_EVERY_MS 1000
#define COMPACT_EVERY_MS 5000
#define COMPACT_BUDGET_MS 300 /* compaction work per turn, so acks keep flowing */
#define COMPACT_SERIES 100    /* series per compaction transaction */
#define PERSIST_BATCH 5000    /* chunks per write transaction */
/* chunks written per persist turn: when every series closes its chunk at the
 * same window boundary, the rest goes on the next turns, and batches keep
 * being acked in between instead of piling up in the bus queues */
#define PERSIST_TURN (4 * PERSIST_BATCH)

/* A compaction window with level-0 chunks to merge. A pass walks its series in
 * id order from a cursor (each transaction continues after the last series of
 * the one before, so a pass reads the window once); chunks written behind the
 * cursor during a pass make it start over when it ends. */
typedef struct dirty_win {
    int64_t w;     /* window start, ms */
    int64_t after; /* cursor: series ids <= after are done in this pass */
    bool started;  /* after is set (ids are signed: no value means "none yet") */
    bool again;    /* chunks were written into the window during the pass */
} dirty_win;

struct store_ingest {
    store_pg *pg;
    store_head *head;
    store_stats *st;
    osp_bus_consumer *bus;
    store_cache *cache; /* raw label bytes -> series; this thread's */
    pthread_t thread;
    int stop;             /* atomic */
    int replayed;         /* atomic */
    int pg_up;            /* atomic */
    int64_t retention_ms; /* atomic */
    size_t retention_size;
    int64_t head_window_ms, chunk_max_age_ms, compaction_window_ms;
    osp_ratelim rl;
    int64_t next_retention_ms, next_persist_ms, next_compact_ms;
    int64_t trimmed_to; /* batch log trimmed below this received_ms */
    dirty_win *dirty;   /* compaction windows with new level-0 chunks, sorted by start */
    size_t ndirty, capdirty;
    store_chunk_ref *pbuf; /* chunks to persist this turn */
    size_t pcap;
    int64_t next_ping_ms;  /* monotonic ms */
    size_t replay_unknown; /* samples of the log whose series id is not in the catalog */
    osp_bus_msg *group[GROUP_MAX_MSGS];
    size_t ngroup;
};

static bool
stopping(const store_ingest *in)
{
    return __atomic_load_n(&in->stop, __ATOMIC_ACQUIRE) != 0;
}

static void
set_pg_up(store_ingest *in, bool up)
{
    __atomic_store_n(&in->pg_up, up ? 1 : 0, __ATOMIC_RELEASE);
    osp_metric_set(in->st->pg_up, up ? 1 : 0);
}

int64_t
store_ingest_min_t(const store_ingest *in)
{
    int64_t r = __atomic_load_n(&in->retention_ms, __ATOMIC_RELAXED);
    return r > 0 ? osp_now_ms() - r : INT64_MIN;
}

void
store_ingest_set_retention(store_ingest *in, int64_t retention_ms)
{
    __atomic_store_n(&in->retention_ms, retention_ms, __ATOMIC_RELAXED);
}

bool
store_ingest_replayed(const store_ingest *in)
{
    return __atomic_load_n(&in->replayed, __ATOMIC_ACQUIRE) != 0;
}

bool
store_ingest_pg_up(const store_ingest *in)
{
    return __atomic_load_n(&in->pg_up, __ATOMIC_ACQUIRE) != 0;
}

bool
store_ingest_ready(const store_ingest *in, osp_buf *why)
{
    if (!store_ingest_pg_up(in)) {
        if (why != NULL)
            osp_buf_puts(why, "PostgreSQL is not reachable");
        return false;
    }
    if (!store_ingest_replayed(in)) {
        if (why != NULL)
            osp_buf_puts(why, "replaying the batch log into the head");
        return false;
    }
    return true;
}

/* Sleeps up to ms in small steps so a stop request is seen quickly. */
static void
nap(const store_ingest *in, int64_t ms)
{
    for (int64_t slept = 0; slept < ms && !stopping(in); slept += 50)
        osp_sleep_ms(ms - slept < 50 ? ms - slept : 50);
}

static void
pg_failed(store_ingest *in, const osp_errinfo *ei)
{
    uint64_t suppressed = 0;
    set_pg_up(in, false);
    if (osp_ratelim_fail(&in->rl, osp_now_ms(), &suppressed)) {
        char n[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)suppressed);
        osp_log(OSP_LOG_ERROR, "store.ingest", "PostgreSQL unavailable; not acking, will retry",
                "error", ei->msg, "suppressed", n, NULL);
    }
}

static void
pg_recovered(store_ingest *in)
{
    if (osp_ratelim_ok(&in->rl))
        osp_log(OSP_LOG_INFO, "store.ingest", "PostgreSQL is back", NULL);
    set_pg_up(in, true);
}

static void
replay_cb(void *ctx, char kind, int64_t received_ms, const void *payload, size_t len)
{
    store_ingest *in = ctx;
    int rc;
    if (kind == 'c')
        rc = store_replay_record(in->head, received_ms, payload, len, &in->replay_unknown);
    else if (kind == 'm')
        rc = store_replay_one_cached(in->head, in->cache, received_ms, payload, len);
    else
        return;
    if (rc != 0)
        osp_log(OSP_LOG_WARN, "store.ingest", "undecodable batch in the log skipped", NULL);
    else
        osp_metric_inc(in->st->replayed_batches);
}

static void
meta_cb(void *ctx, const char *metric, const char *type, const char *help, const char *unit)
{
    store_head *h = ctx;
    store_head_wrlock(h);
    store_head_meta_set(h, metric, type, help, unit);
    store_head_unlock(h);
}

static void
dirty_add(store_ingest *in, int64_t w)
{
    size_t i = 0;
    while (i < in->ndirty && in->dirty[i].w < w)
        i++;
    if (i < in->ndirty && in->dirty[i].w == w) {
        in->dirty[i].again = in->dirty[i].started;
        return;
    }
    if (in->ndirty == in->capdirty) {
        in->capdirty = in->capdirty ? in->capdirty * 2 : 64;
        in->dirty = osp_reallocarray(in->dirty, in->capdirty, sizeof(*in->dirty));
    }
    memmove(in->dirty + i + 1, in->dirty + i, (in->ndirty - i) * sizeof(*in->dirty));
    in->dirty[i] = (dirty_win){.w = w};
    in->ndirty++;
}

static int64_t
window_of(const store_ingest *in, int64_t t)
{
    return store_floor_div(t, in->compaction_window_ms) * in->compaction_window_ms;
}

static void
catalog_cb(void *ctx, int64_t id, const osp_labels *ls)
{
    store_head *h = ctx;
    uint32_t ref;
    if (store_head_get_or_create(h, (uint64_t)id, ls, &ref, NULL) != 0)
        osp_log(OSP_LOG_ERROR, "store.ingest", "series id collision in the catalog: skipped", NULL);
}

static void
range_cb(void *ctx, int64_t id, int64_t min_t, int64_t max_t)
{
    store_head *h = ctx;
    uint32_t ref;
    if (store_head_find_id(h, (uint64_t)id, &ref) == 0)
        store_head_note_range(h, ref, min_t, max_t);
}

static void
window_chunk_cb(void *ctx, int64_t id, int64_t min_t, int64_t max_t, const uint8_t *data,
                size_t len)
{
    store_ingest *in = ctx;
    uint32_t ref;
    if (store_head_find_id(in->head, (uint64_t)id, &ref) == 0)
        store_head_load_chunk(in->head, ref, min_t, max_t, data, len);
}

/* load: the catalog, data ranges and the head window's chunks (write lock held). */
static int
load_head(store_ingest *in, osp_errinfo *ei)
{
    int rc;
    int64_t *days = NULL;
    size_t ndays = 0;
    int64_t cut = osp_now_ms() - in->head_window_ms;
    if ((rc = store_chunks_load_series(in->pg, catalog_cb, in->head, ei)) != 0 ||
        (rc = store_chunks_partitions(in->pg, &days, &ndays, ei)) != 0 ||
        (rc = store_chunks_ranges(in->pg, range_cb, in->head, ei)) != 0 ||
        (rc = store_chunks_scan(in->pg, cut, window_chunk_cb, in, ei)) != 0)
        goto out;
    store_head_set_mem_cut(in->head, cut);
    /* compaction looks at every window of every day once after a start */
    for (size_t i = 0; i < ndays; i++)
        for (int64_t w = days[i] * STORE_PARTITION_MS; w < (days[i] + 1) * STORE_PARTITION_MS;
             w += in->compaction_window_ms)
            dirty_add(in, w);
out:
    osp_free(days);
    return rc;
}

/* Connect and, the first time, migrate, load metadata, the catalog and the
 * head window, and replay the log. */
static int
bring_up(store_ingest *in, osp_errinfo *ei)
{
    int rc = store_pg_connect(in->pg, ei);
    if (rc != 0)
        return rc;
    if (!store_ingest_replayed(in)) {
        int64_t t0 = osp_mono_ns();
        store_head_wrlock(in->head);
        rc = store_pg_migrate(in->pg, ei);
        if (rc == 0)
            rc = load_head(in, ei);
        store_head_unlock(in->head);
        if (rc != 0 || (rc = store_pg_load_meta(in->pg, meta_cb, in->head, ei)) != 0 ||
            (rc = store_pg_replay(in->pg, replay_cb, in, ei)) != 0) {
            /* start the head over on the next attempt */
            store_head_wrlock(in->head);
            store_head_clear(in->head);
            store_head_unlock(in->head);
            store_cache_sweep(in->cache, in->head);
            in->ndirty = 0;
            return rc;
        }
        char ms[24], ns[24], ss[24], as[24];
        snprintf(ms, sizeof(ms), "%lld", (long long)((osp_mono_ns() - t0) / 1000000));
        snprintf(ns, sizeof(ns), "%zu", store_head_nseries(in->head));
        snprintf(as, sizeof(as), "%zu", store_head_nactive(in->head));
        snprintf(ss, sizeof(ss), "%zu", store_head_nsamples(in->head));
        osp_log(OSP_LOG_INFO, "store.ingest", "head rebuilt from the chunks and the batch log",
                "duration_ms", ms, "series", ns, "head_series", as, "samples", ss, NULL);
        if (in->replay_unknown > 0) {
            char un[24];
            snprintf(un, sizeof(un), "%zu", in->replay_unknown);
            osp_log(OSP_LOG_WARN, "store.ingest",
                    "samples of the batch log name series missing from osprey_series; skipped",
                    "samples", un, NULL);
            in->replay_unknown = 0;
        }
        __atomic_store_n(&in->replayed, 1, __ATOMIC_RELEASE);
    }
    pg_recovered(in);
    return 0;
}

static void
gather(store_ingest *in)
{
    size_t bytes = 0;
    for (size_t i = 0; i < in->ngroup; i++)
        bytes += in->group[i]->raw_len;
    int64_t deadline = 0;
    while (in->ngroup < GROUP_MAX_MSGS && bytes < GROUP_MAX_BYTES) {
        int timeout = 100;
        if (in->ngroup > 0) {
            if (deadline == 0)
                deadline = osp_mono_ns() / 1000000 + GROUP_MAX_MS;
            int64_t left = deadline - osp_mono_ns() / 1000000;
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        osp_bus_msg *m = NULL;
        int rc = osp_bus_consumer_recv(in->bus, timeout, &m);
        if (rc != 0) {
            break; /* group complete, or idle: let the caller ping and run retention */
        }
        in->group[in->ngroup++] = m;
        bytes += m->raw_len;
        if (in->ngroup == 1)
            deadline = osp_mono_ns() / 1000000 + GROUP_MAX_MS;
        if (stopping(in))
            break;
    }
}

static int
commit_and_ack(store_ingest *in, osp_errinfo *ei)
{
    store_item items[GROUP_MAX_MSGS];
    for (size_t i = 0; i < in->ngroup; i++)
        items[i] = (store_item){
            .env = in->group[i]->env, .raw = in->group[i]->raw, .raw_len = in->group[i]->raw_len};
    int rc = store_commit_group_cached(in->pg, in->head, in->st, in->cache, items, in->ngroup,
                                       store_ingest_min_t(in), ei);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < in->ngroup; i++) {
        osp_bus_consumer_ack(in->bus, in->group[i]->env->producer_id, in->group[i]->env->seq);
        osp_bus_msg_free(in->group[i]);
        in->group[i] = NULL;
    }
    in->ngroup = 0;
    in->next_ping_ms = osp_mono_ns() / 1000000 + PING_EVERY_MS;
    return 0;
}

/* persist: evict memory, close chunks due, write the closed ones, trim the log
 * behind them (one pass over the head: store_head_tick). Returns true when it
 * wrote a full turn and chunks are left for the next one. */
static bool
persist(store_ingest *in)
{
    int64_t now = osp_now_ms();
    if (now < in->next_persist_ms)
        return false;
    in->next_persist_ms = now + PERSIST_EVERY_MS;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    store_tick tk = {.arrived_before = now - in->chunk_max_age_ms,
                     .mem_cut = now - in->head_window_ms,
                     .drop_before = store_ingest_min_t(in)};
    int64_t w;
    store_head_wrlock(in->head);
    size_t n = store_head_tick(in->head, &tk, &in->pbuf, &in->pcap, &w);
    store_head_unlock(in->head);
    /* in->pbuf's data pointers stay valid: only this thread frees chunks */
    bool partial = n > PERSIST_TURN;
    if (partial)
        n = PERSIST_TURN;
    for (size_t off = 0; off < n; off += PERSIST_BATCH) {
        size_t k = n - off < PERSIST_BATCH ? n - off : PERSIST_BATCH;
        if (store_chunks_write(in->pg, in->pbuf + off, k, &ei) != 0) {
            osp_metric_inc(in->st->chunk_write_errors);
            osp_log(OSP_LOG_WARN, "store.ingest", "writing chunks failed; retried", "error", ei.msg,
                    NULL);
            return false;
        }
        size_t bytes = 0;
        for (size_t i = off; i < off + k; i++) {
            bytes += in->pbuf[i].len;
            dirty_add(in, window_of(in, in->pbuf[i].min_t));
        }
        osp_metric_add(in->st->chunks_written, (double)k);
        osp_metric_add(in->st->chunk_bytes_written, (double)bytes);
        store_head_wrlock(in->head);
        store_head_mark_persisted(in->head, in->pbuf + off, k);
        store_head_unlock(in->head);
    }
    if (partial) {
        /* the rest at the next turn; w counts chunks not written yet, so the
         * log is trimmed once they are */
        in->next_persist_ms = now;
        return true;
    }
    if (w > now)
        w = now; /* nothing unpersisted: every batch committed so far is covered */
    if (w > in->trimmed_to) {
        uint64_t deleted = 0;
        if (store_pg_delete_batches_before(in->pg, w, &deleted, &ei) != 0) {
            osp_log(OSP_LOG_WARN, "store.ingest", "trimming the batch log failed; retried", "error",
                    ei.msg, NULL);
            return false;
        }
        in->trimmed_to = w;
        osp_metric_add(in->st->log_trimmed, (double)deleted);
    }
    return false;
}

/* compact: merge the chunks of cold dirty windows, for at most COMPACT_BUDGET_MS. */
static void
compact(store_ingest *in)
{
    int64_t now = osp_now_ms();
    if (now < in->next_compact_ms)
        return;
    in->next_compact_ms = now + COMPACT_EVERY_MS;
    int64_t delay = in->compaction_window_ms < 1200000 ? in->compaction_window_ms : 1200000;
    int64_t t0 = osp_mono_ns() / 1000000;
    size_t i = 0;
    while (i < in->ndirty && osp_mono_ns() / 1000000 - t0 < COMPACT_BUDGET_MS) {
        dirty_win *dw = &in->dirty[i];
        int64_t w0 = dw->w, w1 = w0 + in->compaction_window_ms;
        if (w1 + delay > now) {
            i++; /* not cold yet */
            continue;
        }
        if (store_partition_day(w0) < store_partition_day(store_ingest_min_t(in))) {
            memmove(in->dirty + i, in->dirty + i + 1, (in->ndirty - i - 1) * sizeof(*in->dirty));
            in->ndirty--;
            continue;
        }
        store_compact_res res;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        int64_t c0 = osp_mono_ns();
        int rc = store_chunks_compact(in->pg, w0, w1, dw->started ? &dw->after : NULL,
                                      COMPACT_SERIES, &res, &ei);
        if (rc == OSP_EAGAIN) {
            /* another compactor holds these rows: this window next turn, the others now */
            osp_log(OSP_LOG_INFO, "store.ingest", "compaction window busy; retried", "error",
                    ei.msg, NULL);
            i++;
            continue;
        }
        if (rc != 0) {
            osp_log(OSP_LOG_WARN, "store.ingest", "compaction failed; retried", "error", ei.msg,
                    NULL);
            return;
        }
        if (res.series > 0) {
            osp_metric_inc(in->st->compactions);
            osp_metric_observe(in->st->compaction_duration, (double)(osp_mono_ns() - c0) / 1e9);
            osp_metric_add(in->st->compaction_chunks_in, (double)res.chunks_in);
            osp_metric_add(in->st->compaction_chunks_out, (double)res.chunks_out);
            osp_metric_add(in->st->compaction_conflicts, (double)res.conflicts);
            char a[24], b[24], c[24], d[24];
            snprintf(a, sizeof(a), "%lld", (long long)w0);
            snprintf(b, sizeof(b), "%zu", res.series);
            snprintf(c, sizeof(c), "%zu", res.chunks_in);
            snprintf(d, sizeof(d), "%zu", res.chunks_out);
            osp_log(OSP_LOG_DEBUG, "store.ingest", "compacted", "window_start_ms", a, "series", b,
                    "chunks_in", c, "chunks_out", d, NULL);
        }
        if (res.more) {
            dw->after = res.last;
            dw->started = true;
        } else if (dw->again) {
            *dw = (dirty_win){.w = w0}; /* another pass for what came in behind the cursor */
        } else {
            memmove(in->dirty + i, in->dirty + i + 1, (in->ndirty - i - 1) * sizeof(*in->dirty));
            in->ndirty--;
        }
        /* later windows (sorted after i) that got this window's overhang */
        if (res.spilled > 0)
            for (int64_t w = window_of(in, res.spill_lo); w <= res.spill_hi;
                 w += in->compaction_window_ms)
                dirty_add(in, w);
    }
    if (i < in->ndirty)
        in->next_compact_ms = now; /* budget spent with cold work left: continue next turn */
}

typedef struct sizes_ctx {
    store_ingest *in;
    int64_t chunk_bytes;
} sizes_ctx;

static void
size_cb(void *ctx, const char *table, int64_t bytes)
{
    sizes_ctx *c = ctx;
    osp_metric_set(osp_metric_with(c->in->st->table_bytes_vec, (const char *[]){table}),
                   (double)bytes);
    if (strncmp(table, "osprey_chunks_p", 15) == 0)
        c->chunk_bytes += bytes;
}

static void
drop_day(store_ingest *in, int64_t day, const char *why)
{
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (store_chunks_drop_partition(in->pg, day, &ei) != 0) {
        osp_log(OSP_LOG_WARN, "store.ingest", "dropping a partition failed; retried", "error",
                ei.msg, NULL);
        return;
    }
    osp_metric_inc(in->st->partitions_dropped);
    char d[24];
    snprintf(d, sizeof(d), "%lld", (long long)day);
    osp_log(OSP_LOG_INFO, "store.ingest", "retention dropped a chunk partition", "day", d, "reason",
            why, NULL);
}

static void
retention(store_ingest *in)
{
    int64_t now = osp_now_ms();
    if (now < in->next_retention_ms)
        return;
    in->next_retention_ms = now + RETENTION_EVERY_MS;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int64_t min_t = store_ingest_min_t(in);
    int64_t *days = NULL;
    size_t ndays = 0;
    if (store_chunks_partitions(in->pg, &days, &ndays, &ei) != 0) {
        osp_log(OSP_LOG_WARN, "store.ingest", "listing partitions failed; retried next minute",
                "error", ei.msg, NULL);
        return;
    }
    size_t first = 0;
    /* a day goes when all of it is older than the retention */
    while (min_t != INT64_MIN && first < ndays && (days[first] + 1) * STORE_PARTITION_MS <= min_t)
        drop_day(in, days[first++], "time");
    sizes_ctx sc = {.in = in};
    if (store_chunks_sizes(in->pg, size_cb, &sc, &ei) == 0 && in->retention_size > 0) {
        /* by size: the oldest days go first; today's partition is never dropped */
        int64_t today = store_partition_day(now);
        while (sc.chunk_bytes > (int64_t)in->retention_size && first + 1 < ndays &&
               days[first] < today) {
            char name[64];
            snprintf(name, sizeof(name), "%lld", (long long)days[first]);
            drop_day(in, days[first++], "size");
            sc.chunk_bytes = 0;
            if (store_chunks_sizes(in->pg, size_cb, &sc, &ei) != 0)
                break;
        }
    }
    osp_free(days);
    /* the head follows: memory before the cut-off goes at the next eviction */
    if (min_t != INT64_MIN) {
        store_head_wrlock(in->head);
        size_t dropped = store_head_evict(in->head, now - in->head_window_ms, min_t);
        store_head_unlock(in->head);
        osp_metric_add(in->st->retention_deleted, (double)dropped);
    }
}

static void *
ingest_main(void *arg)
{
    store_ingest *in = arg;
    int64_t backoff = 100;
    osp_errinfo ei;
    while (!stopping(in) || in->ngroup > 0) {
        osp_errinfo_clear(&ei);
        if (!store_pg_ok(in->pg) || !store_ingest_replayed(in)) {
            if (stopping(in))
                break; /* a pending group cannot commit: producers resend it */
            if (bring_up(in, &ei) != 0) {
                pg_failed(in, &ei);
                nap(in, backoff);
                backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
                continue;
            }
            backoff = 100;
        }
        if (in->bus == NULL) {
            nap(in, 100);
            persist(in);
            compact(in);
            retention(in);
            continue;
        }
        if (!stopping(in))
            gather(in);
        if (in->ngroup == 0 && osp_mono_ns() / 1000000 >= in->next_ping_ms) {
            /* an idle connection does not notice a dead server by itself */
            in->next_ping_ms = osp_mono_ns() / 1000000 + PING_EVERY_MS;
            if (store_pg_exec(in->pg, "SELECT 1", &ei) != 0) {
                store_pg_close(in->pg);
                pg_failed(in, &ei);
                continue;
            }
        }
        if (in->ngroup > 0 && commit_and_ack(in, &ei) != 0) {
            if (stopping(in))
                break; /* not acked: producers resend after our restart */
            if (!store_pg_ok(in->pg)) {
                pg_failed(in, &ei);
                continue;
            }
            /* an SQL error that is not an outage: log, back off, retry the group */
            osp_log(OSP_LOG_ERROR, "store.ingest", "ingest transaction failed; retrying", "error",
                    ei.msg, NULL);
            nap(in, backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        persist(in);
        compact(in);
        retention(in);
    }
    for (size_t i = 0; i < in->ngroup; i++)
        osp_bus_msg_free(in->group[i]);
    in->ngroup = 0;
    if (store_pg_ok(in->pg) && store_ingest_replayed(in)) {
        /* clean shutdown: every open chunk to PostgreSQL, so the next start has no log to replay */
        int64_t t0 = osp_mono_ns();
        store_head_wrlock(in->head);
        size_t closed = store_head_cut(in->head, INT64_MAX);
        store_head_unlock(in->head);
        in->next_persist_ms = 0;
        in->chunk_max_age_ms = 0;
        while (persist(in)) /* a partial turn leaves next_persist_ms at now */
            ;
        char n[24], ms[24];
        snprintf(n, sizeof(n), "%zu", closed);
        snprintf(ms, sizeof(ms), "%lld", (long long)((osp_mono_ns() - t0) / 1000000));
        osp_log(OSP_LOG_INFO, "store.ingest", "open chunks persisted at shutdown", "chunks", n,
                "duration_ms", ms, NULL);
    }
    return NULL;
}

int
store_ingest_start(const store_ingest_opts *opts, store_ingest **out)
{
    store_ingest *in = osp_calloc(1, sizeof(*in));
    in->pg = store_pg_new(opts->conninfo, "ingest");
    in->head = opts->head;
    in->st = opts->stats;
    in->bus = opts->consumer;
    in->cache = store_cache_new(0);
    in->retention_ms = opts->retention_ms;
    in->retention_size = opts->retention_size;
    in->head_window_ms = opts->head_window_ms;
    in->chunk_max_age_ms = opts->chunk_max_age_ms > 0 ? opts->chunk_max_age_ms : 900000;
    in->compaction_window_ms =
        opts->compaction_window_ms > 0 ? opts->compaction_window_ms : 7200000;
    /* in-order chunks end at window boundaries: compaction then rarely has an
     * overhang to send on to the next window */
    store_head_wrlock(in->head);
    store_head_set_chunk_span(in->head, in->compaction_window_ms);
    store_head_unlock(in->head);
    in->next_retention_ms = osp_now_ms() + 5000;
    osp_metric_set(in->st->pg_up, 0);
    if (pthread_create(&in->thread, NULL, ingest_main, in) != 0) {
        store_pg_free(in->pg);
        store_cache_free(in->cache);
        osp_free(in->pbuf);
        osp_free(in);
        return OSP_EIO;
    }
    *out = in;
    return 0;
}

void
store_ingest_stop(store_ingest *in)
{
    if (in == NULL)
        return;
    __atomic_store_n(&in->stop, 1, __ATOMIC_RELEASE);
    pthread_join(in->thread, NULL);
    store_pg_free(in->pg);
    store_cache_free(in->cache);
    osp_free(in->dirty);
    osp_free(in->pbuf);
    osp_free(in);
}
