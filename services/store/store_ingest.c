/* store_ingest.c - the ingest thread. Groups of up to 256 messages / 8 MiB /
 * 20 ms share one transaction; a group is acked only after its COMMIT, and a
 * group that failed to commit is kept and retried after reconnecting, so a
 * PostgreSQL outage loses nothing (producers also keep unacked batches). */
#include "store_ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_apply.h"
#include "store_cache.h"
#include "store_pg.h"

#define GROUP_MAX_MSGS 256
#define GROUP_MAX_BYTES (8u << 20)
#define GROUP_MAX_MS 20
#define RETENTION_EVERY_MS 60000
#define PING_EVERY_MS 500

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
    osp_ratelim rl;
    int64_t next_retention_ms;
    int64_t next_ping_ms; /* monotonic ms */
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
replay_cb(void *ctx, char kind, const void *payload, size_t len)
{
    store_ingest *in = ctx;
    if (kind != 'm')
        return;
    if (store_replay_one_cached(in->head, in->cache, payload, len) != 0)
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

/* Connect and, the first time, migrate, load metadata and replay the log. */
static int
bring_up(store_ingest *in, osp_errinfo *ei)
{
    int rc = store_pg_connect(in->pg, ei);
    if (rc != 0)
        return rc;
    if (!store_ingest_replayed(in)) {
        int64_t t0 = osp_mono_ns();
        if ((rc = store_pg_migrate(in->pg, ei)) != 0 ||
            (rc = store_pg_load_meta(in->pg, meta_cb, in->head, ei)) != 0 ||
            (rc = store_pg_replay(in->pg, replay_cb, in, ei)) != 0) {
            /* start the head over on the next attempt */
            store_head_wrlock(in->head);
            store_head_truncate(in->head, INT64_MAX);
            store_head_unlock(in->head);
            store_cache_sweep(in->cache, in->head);
            return rc;
        }
        int64_t min_t = store_ingest_min_t(in);
        if (min_t != INT64_MIN) {
            store_head_wrlock(in->head);
            store_head_truncate(in->head, min_t);
            store_head_unlock(in->head);
            store_cache_sweep(in->cache, in->head);
        }
        char ms[24], ns[24], ss[24];
        snprintf(ms, sizeof(ms), "%lld", (long long)((osp_mono_ns() - t0) / 1000000));
        snprintf(ns, sizeof(ns), "%zu", store_head_nseries(in->head));
        snprintf(ss, sizeof(ss), "%zu", store_head_nsamples(in->head));
        osp_log(OSP_LOG_INFO, "store.ingest", "head rebuilt from the batch log", "duration_ms", ms,
                "series", ns, "samples", ss, NULL);
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

static void
retention(store_ingest *in)
{
    int64_t now = osp_now_ms();
    if (now < in->next_retention_ms)
        return;
    in->next_retention_ms = now + RETENTION_EVERY_MS;
    int64_t min_t = store_ingest_min_t(in);
    if (min_t == INT64_MIN)
        return;
    store_head_wrlock(in->head);
    size_t dropped = store_head_truncate(in->head, min_t);
    store_head_unlock(in->head);
    if (dropped > 0)
        store_cache_sweep(in->cache, in->head); /* refs moved, series may have gone */
    osp_metric_add(in->st->retention_deleted, (double)dropped);
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    uint64_t deleted = 0;
    if (store_pg_delete_batches_before(in->pg, min_t, &deleted, &ei) != 0) {
        osp_log(OSP_LOG_WARN, "store.ingest", "retention delete failed; retried next minute",
                "error", ei.msg, NULL);
        return;
    }
    if (dropped > 0 || deleted > 0) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%zu", dropped);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)deleted);
        osp_log(OSP_LOG_INFO, "store.ingest", "retention applied", "head_samples_dropped", a,
                "batches_deleted", b, NULL);
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
        retention(in);
    }
    for (size_t i = 0; i < in->ngroup; i++)
        osp_bus_msg_free(in->group[i]);
    in->ngroup = 0;
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
    in->next_retention_ms = osp_now_ms() + RETENTION_EVERY_MS;
    osp_metric_set(in->st->pg_up, 0);
    if (pthread_create(&in->thread, NULL, ingest_main, in) != 0) {
        store_pg_free(in->pg);
        store_cache_free(in->cache);
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
    osp_free(in);
}
