/* bus_producer.c - the producer side of the reliable bus: PUB for envelopes,
 * SUB for acks, the spool and a background thread that settles acked entries
 * and resends unacked ones with per-entry exponential backoff. */
#include "bus.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "bus_int.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define COMPONENT "bus"
#define TICK_MS 100
#define RECV_POLL_MS 50

const double osp_bus_ack_latency_bounds[OSP_BUS_LAT_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1,    2.5,   5,    10};

struct osp_bus_producer {
    char *id;
    size_t idlen;
    nng_socket pub, sub;
    bool pub_open, sub_open;
    osp_spool *spool;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled when the spool becomes empty */
    bool mu_init, cv_init;
    pthread_t thr;
    bool thr_started;
    atomic_bool stop;
    bool closed;

    uint64_t next_seq;
    int64_t resend_after, resend_max;
    int max_per_tick;
    char *stores[OSP_BUS_MAX_STORES];
    size_t nstores;
    uint32_t all_mask;
    int flushing;
    int64_t last_ack_ms;
    uint64_t logged_file_errors;

    osp_bus_producer_stats st;
    osp_ratelim drop_rl, pub_rl, file_rl;
    osp_buf frame;   /* send(): envelope being built */
    osp_buf scratch; /* payload reads of spilled entries */
};

/* ---- helpers (called with mu held) ---- */

/* published: count and log the outcome rv of a publish. */
static void
published(osp_bus_producer *p, int rv)
{
    if (rv != 0) {
        p->st.publish_errors++;
        uint64_t supp;
        if (osp_ratelim_fail(&p->pub_rl, osp_now_ms(), &supp)) {
            char ns[24];
            snprintf(ns, sizeof(ns), "%" PRIu64, supp);
            osp_log(OSP_LOG_WARN, COMPONENT, "publish failed, batch stays spooled", "producer",
                    p->id, "error", nng_strerror(rv), "suppressed", ns, NULL);
        }
    } else if (osp_ratelim_ok(&p->pub_rl)) {
        osp_log(OSP_LOG_INFO, COMPONENT, "publish works again", "producer", p->id, NULL);
    }
}

/* send_msg: publish m (topic byte + envelope); m is consumed. */
static void
send_msg(osp_bus_producer *p, nng_msg *m)
{
    int rv = nng_sendmsg(p->pub, m, NNG_FLAG_NONBLOCK);
    if (rv != 0)
        nng_msg_free(m); /* ownership passes only on success */
    published(p, rv);
}

static void
publish(osp_bus_producer *p, char topic, const void *env, size_t len)
{
    nng_msg *m;
    int rv = nng_msg_alloc(&m, len + 1);
    if (rv != 0) {
        published(p, rv);
        return;
    }
    unsigned char *b = nng_msg_body(m);
    b[0] = (unsigned char)topic;
    memcpy(b + 1, env, len);
    send_msg(p, m);
}

static void
note_drops(osp_bus_producer *p, const osp_spool_drop *d)
{
    if (d->entries == 0)
        return;
    p->st.dropped_batches += d->entries;
    p->st.dropped_bytes += d->bytes;
    uint64_t supp;
    if (osp_ratelim_fail(&p->drop_rl, osp_now_ms(), &supp)) {
        char nb[24], nby[24];
        snprintf(nb, sizeof(nb), "%" PRIu64, p->st.dropped_batches);
        snprintf(nby, sizeof(nby), "%" PRIu64, p->st.dropped_bytes);
        osp_log(OSP_LOG_WARN, COMPONENT, "spool full, dropped oldest unacked batches", "producer",
                p->id, "dropped_batches_total", nb, "dropped_bytes_total", nby, NULL);
    }
}

static void
note_file_errors(osp_bus_producer *p)
{
    osp_spool_stats ss;
    osp_spool_stats_get(p->spool, &ss);
    if (ss.file_errors == p->logged_file_errors)
        return;
    p->logged_file_errors = ss.file_errors;
    uint64_t supp;
    if (osp_ratelim_fail(&p->file_rl, osp_now_ms(), &supp))
        osp_log(OSP_LOG_ERROR, COMPONENT, "spool file I/O failed; keeping batches in memory",
                "producer", p->id, NULL);
}

static int64_t
backoff_ms(const osp_bus_producer *p, uint32_t attempts)
{
    if (p->flushing)
        return p->resend_after;
    int64_t b = p->resend_after;
    for (uint32_t i = 0; i < attempts && b < p->resend_max; i++)
        b *= 2;
    return b < p->resend_max ? b : p->resend_max;
}

static void
resend_pass(osp_bus_producer *p)
{
    int64_t now = osp_bus_mono_ms();
    int n = 0;
    size_t span = osp_spool_span(p->spool);
    for (size_t i = 0; i < span && n < p->max_per_tick; i++) {
        osp_spool_entry *e = osp_spool_slot(p->spool, i);
        if (e == NULL || e->next_send_ms > now)
            continue;
        const void *env;
        if (osp_spool_payload(p->spool, e, &p->scratch, &env) != 0) {
            e->next_send_ms = now + p->resend_max;
            continue;
        }
        publish(p, e->topic, env, e->len);
        e->attempts++;
        e->next_send_ms = now + backoff_ms(p, e->attempts);
        p->st.resends++;
        n++;
    }
    note_file_errors(p);
}

static void
settle(osp_bus_producer *p, osp_spool_entry *e)
{
    if (e->first_sent_ns > 0) {
        double lat = (double)(osp_mono_ns() - e->first_sent_ns) / 1e9;
        p->st.ack_latency_sum += lat;
        p->st.ack_latency_count++;
        for (int i = 0; i < OSP_BUS_LAT_BUCKETS; i++)
            if (lat <= osp_bus_ack_latency_bounds[i])
                p->st.ack_latency_bucket[i]++;
    }
    p->st.acked_batches++;
    osp_spool_remove(p->spool, e->seq);
}

/* After an outage (no ack for a while), entries already resent sit in long
 * backoffs; the first ack means the store is back: resend them soon. */
static void
after_outage(osp_bus_producer *p, int64_t now)
{
    size_t span = osp_spool_span(p->spool);
    for (size_t i = 0; i < span; i++) {
        osp_spool_entry *e = osp_spool_slot(p->spool, i);
        if (e && e->attempts > 0 && e->next_send_ms > now)
            e->next_send_ms = now;
    }
}

static void
handle_ack(osp_bus_producer *p, nng_msg *m)
{
    const char *body = nng_msg_body(m);
    size_t len = nng_msg_len(m);
    if (len <= p->idlen || memcmp(body, p->id, p->idlen + 1) != 0)
        return; /* not ours (subscription should have filtered it) */
    Osprey__Ack *ack =
        osprey__ack__unpack(NULL, len - p->idlen - 1, (const uint8_t *)body + p->idlen + 1);
    if (ack == NULL)
        return;
    if (ack->producer_id == NULL || strcmp(ack->producer_id, p->id) != 0) {
        osprey__ack__free_unpacked(ack, NULL);
        return;
    }
    int64_t now = osp_bus_mono_ms();
    pthread_mutex_lock(&p->mu);
    osp_spool_entry *e = osp_spool_find(p->spool, ack->seq);
    if (e == NULL) {
        p->st.dup_acks++;
    } else if (p->nstores == 0) {
        settle(p, e);
    } else {
        for (size_t i = 0; i < p->nstores; i++)
            if (ack->store_id && strcmp(ack->store_id, p->stores[i]) == 0)
                e->acked_mask |= 1u << i;
        if (e->acked_mask == p->all_mask)
            settle(p, e);
    }
    if (now - p->last_ack_ms > 2 * p->resend_after)
        after_outage(p, now);
    p->last_ack_ms = now;
    if (osp_spool_span(p->spool) == 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    osprey__ack__free_unpacked(ack, NULL);
}

static void *
producer_thread(void *arg)
{
    osp_bus_producer *p = arg;
    int64_t next_tick = osp_bus_mono_ms() + TICK_MS;
    while (!atomic_load(&p->stop)) {
        nng_msg *m;
        int rv = osp_bus_recv_wait(p->sub.id, (void **)&m, RECV_POLL_MS);
        if (rv == 0) {
            handle_ack(p, m);
            nng_msg_free(m);
        } else if (rv == NNG_ECLOSED) {
            break;
        }
        int64_t now = osp_bus_mono_ms();
        if (now >= next_tick) {
            pthread_mutex_lock(&p->mu);
            resend_pass(p);
            pthread_mutex_unlock(&p->mu);
            next_tick = now + TICK_MS;
        }
    }
    return NULL;
}

/* ---- public ---- */

static int
open_sockets(osp_bus_producer *p, const osp_bus_producer_opts *o, osp_errinfo *ei)
{
    int rv = nng_pub0_open(&p->pub);
    if (rv != 0)
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: pub socket: %s", nng_strerror(rv));
    p->pub_open = true;
    nng_socket_set_int(p->pub, NNG_OPT_SENDBUF, 1024);
    nng_socket_set_ms(p->pub, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(p->pub, NNG_OPT_RECONNMAXT, 2000);
    int rc = osp_bus_dial_list(p->pub.id, o->ingest_url, "bus ingest_url", ei);
    if (rc != 0)
        return rc;
    rv = nng_sub0_open(&p->sub);
    if (rv != 0)
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: sub socket: %s", nng_strerror(rv));
    p->sub_open = true;
    rv = nng_socket_set(p->sub, NNG_OPT_SUB_SUBSCRIBE, p->id, p->idlen + 1); /* "<id>\0" */
    if (rv != 0)
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: subscribe: %s", nng_strerror(rv));
    nng_socket_set_ms(p->sub, NNG_OPT_RECVTIMEO, RECV_POLL_MS);
    nng_socket_set_int(p->sub, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_ms(p->sub, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(p->sub, NNG_OPT_RECONNMAXT, 2000);
    return osp_bus_dial_list(p->sub.id, o->ack_url, "bus ack_url", ei);
}

int
osp_bus_producer_new(const osp_bus_producer_opts *o, osp_bus_producer **out, osp_errinfo *ei)
{
    if (o->producer_id == NULL || o->producer_id[0] == '\0')
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "bus: producer_id is required");
    if (o->n_ack_store_ids > OSP_BUS_MAX_STORES)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "bus: at most %d ack_store_ids",
                               OSP_BUS_MAX_STORES);
    osp_bus_producer *p = osp_calloc(1, sizeof(*p));
    p->id = osp_strdup(o->producer_id);
    p->idlen = strlen(p->id);
    p->resend_after = o->resend_after_ms > 0 ? o->resend_after_ms : 2000;
    p->resend_max = o->resend_max_ms > 0 ? o->resend_max_ms : 30000;
    if (p->resend_max < p->resend_after)
        p->resend_max = p->resend_after;
    p->max_per_tick = o->max_resends_per_tick > 0 ? o->max_resends_per_tick : 64;
    for (size_t i = 0; i < o->n_ack_store_ids; i++) {
        p->stores[p->nstores++] = osp_strdup(o->ack_store_ids[i]);
        p->all_mask |= 1u << i;
    }
    osp_buf_init(&p->frame);
    osp_buf_init(&p->scratch);
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->mu, NULL);
    p->mu_init = true;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->cv_init = true;

    osp_spool_opts so = {
        .dir = o->spool_dir,
        .max_bytes =
            o->spool_max_bytes ? o->spool_max_bytes : (o->spool_dir ? 256u : 64u) * 1024 * 1024,
        .mem_bytes = o->spool_mem_bytes ? o->spool_mem_bytes : 16u * 1024 * 1024,
    };
    int rc = osp_spool_new(&so, &p->spool, ei);
    if (rc == 0)
        rc = open_sockets(p, o, ei);
    if (rc != 0)
        goto fail;

    uint64_t now_seq = (uint64_t)osp_now_ms() * 1000;
    uint64_t max_seq = osp_spool_max_seq(p->spool);
    p->next_seq = max_seq + 1 > now_seq ? max_seq + 1 : now_seq;
    int64_t now = osp_bus_mono_ms();
    size_t span = osp_spool_span(p->spool);
    for (size_t i = 0; i < span; i++) { /* left by an earlier run: resend soon */
        osp_spool_entry *e = osp_spool_slot(p->spool, i);
        if (e)
            e->next_send_ms = now;
    }
    if (span > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%zu", span);
        osp_log(OSP_LOG_INFO, COMPONENT, "loaded unacked batches from spool", "producer", p->id,
                "entries", n, "dir", o->spool_dir, NULL);
    }
    if (pthread_create(&p->thr, NULL, producer_thread, p) != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: cannot start producer thread");
        goto fail;
    }
    p->thr_started = true;
    *out = p;
    return 0;
fail:
    osp_bus_producer_free(p);
    return rc;
}

int
osp_bus_producer_send(osp_bus_producer *p, char topic, const void *batch_pb, size_t len)
{
    return osp_bus_producer_send2(p, topic, batch_pb, len, NULL, 0);
}

int
osp_bus_producer_send2(osp_bus_producer *p, char topic, const void *a, size_t alen, const void *b,
                       size_t blen)
{
    if (topic != 'm' && topic != 'l')
        return OSP_EINVAL;
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        return OSP_ECLOSED;
    }
    uint64_t seq = p->next_seq;
    size_t len = alen + blen;
    /* The envelope is built in the NNG message itself (topic byte, header,
     * batch), which the spool copies and the socket takes: one copy of the
     * batch fewer than building a frame first. */
    size_t cap = strlen(p->id) + 48;
    osp_buf_reset(&p->frame);
    osp_buf_reserve(&p->frame, cap + 1);
    size_t hl = osp_envelope_header(p->frame.data, cap, p->id, seq, osp_now_ms(), topic, len);
    p->frame.len = hl;
    nng_msg *m = NULL;
    const char *frame;
    size_t flen = hl + len;
    if (nng_msg_alloc(&m, 1 + flen) == 0) {
        char *d = nng_msg_body(m);
        d[0] = topic;
        memcpy(d + 1, p->frame.data, hl);
        if (alen > 0)
            memcpy(d + 1 + hl, a, alen);
        if (blen > 0)
            memcpy(d + 1 + hl + alen, b, blen);
        frame = d + 1;
    } else { /* no message now: spool the frame, publish it on a resend */
        m = NULL;
        osp_buf_append(&p->frame, a, alen);
        osp_buf_append(&p->frame, b, blen);
        frame = p->frame.data;
    }
    osp_spool_drop drop = {0};
    osp_spool_entry *e = NULL;
    int rc = osp_spool_add(p->spool, seq, topic, frame, flen, &drop, &e);
    if (rc == 0) {
        p->next_seq++;
        e->first_sent_ns = osp_mono_ns();
        e->next_send_ms = osp_bus_mono_ms() + p->resend_after;
        p->st.sent_batches++;
        p->st.sent_bytes += flen;
        if (m != NULL)
            send_msg(p, m);
        else
            published(p, NNG_ENOMEM);
    } else if (m != NULL) {
        nng_msg_free(m);
    }
    note_drops(p, &drop);
    note_file_errors(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int
osp_bus_producer_flush(osp_bus_producer *p, int64_t timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms >= 0)
        osp_timespec_add_ms(&dl, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    p->flushing++;
    int64_t now = osp_bus_mono_ms();
    size_t span = osp_spool_span(p->spool);
    for (size_t i = 0; i < span; i++) {
        osp_spool_entry *e = osp_spool_slot(p->spool, i);
        if (e && e->next_send_ms > now)
            e->next_send_ms = now;
    }
    while (osp_spool_span(p->spool) > 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&p->cv, &p->mu);
        } else if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) != 0) {
            rc = osp_spool_span(p->spool) > 0 ? OSP_ETIMEDOUT : 0;
            break;
        }
    }
    p->flushing--;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void
osp_bus_producer_get_stats(osp_bus_producer *p, osp_bus_producer_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    osp_spool_stats ss;
    osp_spool_stats_get(p->spool, &ss);
    out->spool_bytes = ss.bytes;
    out->spool_entries = ss.entries;
    out->spool_mem_bytes = ss.mem_bytes;
    out->spool_file_bytes = ss.file_bytes;
    out->spool_file_errors = ss.file_errors;
    pthread_mutex_unlock(&p->mu);
}

void
osp_bus_producer_free(osp_bus_producer *p)
{
    if (p == NULL)
        return;
    if (p->mu_init) {
        pthread_mutex_lock(&p->mu);
        p->closed = true;
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store(&p->stop, true);
    if (p->thr_started)
        pthread_join(p->thr, NULL);
    if (p->sub_open)
        osp_bus_close_timed(p->sub.id, 2000);
    if (p->pub_open)
        osp_bus_close_timed(p->pub.id, 2000);
    osp_spool_free(p->spool);
    for (size_t i = 0; i < p->nstores; i++)
        osp_free(p->stores[i]);
    osp_buf_fini(&p->frame);
    osp_buf_fini(&p->scratch);
    if (p->cv_init)
        pthread_cond_destroy(&p->cv);
    if (p->mu_init)
        pthread_mutex_destroy(&p->mu);
    osp_free(p->id);
    osp_free(p);
}
