/* bus_consumer.c - the store side of the bus: SUB listener for envelopes, PUB
 * listener for acks. */
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
#include "bus_wire.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define COMPONENT "bus"

struct osp_bus_consumer {
    nng_socket sub, pub;
    bool sub_open, pub_open;
    char *store_id;
    bool raw_metrics;
    osp_ratelim decode_rl; /* used by the recv thread only */
    atomic_uint_fast64_t received, received_bytes, decode_errors, acks_sent, ack_errors;
};

/* the public struct first, so an osp_bus_msg * is the whole message */
typedef struct bus_msg {
    osp_bus_msg pub;
    nng_msg *m;
    Osprey__Envelope *env;
    bool env_header_only; /* raw_metrics: env from header_env, freed here */
} bus_msg;

int
osp_bus_consumer_new(const osp_bus_consumer_opts *o, osp_bus_consumer **out, osp_errinfo *ei)
{
    if (o->store_id == NULL || o->store_id[0] == '\0')
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "bus: store_id is required");
    osp_bus_consumer *c = osp_calloc(1, sizeof(*c));
    c->store_id = osp_strdup(o->store_id);
    c->raw_metrics = o->raw_metrics;
    int rc;
    int rv = nng_sub0_open(&c->sub);
    if (rv != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: sub socket: %s", nng_strerror(rv));
        goto fail;
    }
    c->sub_open = true;
    nng_socket_set(c->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0); /* topic checked on receipt */
    nng_socket_set_int(c->sub, NNG_OPT_RECVBUF, o->recv_buf > 0 ? o->recv_buf : 1024);
    nng_socket_set_size(c->sub, NNG_OPT_RECVMAXSZ,
                        o->max_msg_bytes ? o->max_msg_bytes : 64u * 1024 * 1024);
    rc = osp_bus_listen(c->sub.id, o->ingest_url, "bus ingest_url", ei);
    if (rc != 0)
        goto fail;
    rv = nng_pub0_open(&c->pub);
    if (rv != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: pub socket: %s", nng_strerror(rv));
        goto fail;
    }
    c->pub_open = true;
    nng_socket_set_int(c->pub, NNG_OPT_SENDBUF, 1024);
    rc = osp_bus_listen(c->pub.id, o->ack_url, "bus ack_url", ei);
    if (rc != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    osp_bus_consumer_free(c);
    return rc;
}

static void
decode_error(osp_bus_consumer *c, const char *why, size_t len)
{
    atomic_fetch_add(&c->decode_errors, 1);
    uint64_t supp;
    if (osp_ratelim_fail(&c->decode_rl, osp_now_ms(), &supp)) {
        char l[24], s[24];
        snprintf(l, sizeof(l), "%zu", len);
        snprintf(s, sizeof(s), "%" PRIu64, supp);
        osp_log(OSP_LOG_WARN, COMPONENT, "skipped undecodable bus message", "why", why, "bytes", l,
                "suppressed", s, NULL);
    }
}

/* header_env: validate a packed Envelope without unpacking its batch; *out
 * gets an Envelope with the header fields only (free with header_env_free). */
static int
header_env(const void *buf, size_t len, Osprey__Envelope **out)
{
    osp_wire_env w;
    if (osp_wire_envelope(buf, len, &w) != 0)
        return OSP_EPARSE;
    Osprey__Envelope *env = osp_malloc(sizeof(*env));
    osprey__envelope__init(env);
    env->producer_id = osp_strndup(w.producer_id.p, w.producer_id.n);
    env->seq = w.seq;
    env->sent_ms = w.sent_ms;
    env->payload_case = (Osprey__Envelope__PayloadCase)w.payload_case;
    *out = env;
    return 0;
}

static void
header_env_free(Osprey__Envelope *env)
{
    if (env == NULL)
        return;
    osp_free(env->producer_id);
    osp_free(env);
}

/* check: 0 and *out, or OSP_EPARSE (counted, logged, m freed) */
static int
check_msg(osp_bus_consumer *c, nng_msg *m, osp_bus_msg **out)
{
    const unsigned char *b = nng_msg_body(m);
    size_t len = nng_msg_len(m);
    const char *why = NULL;
    Osprey__Envelope *env = NULL;
    bool header_only = false;
    if (len < 1 || (b[0] != 'm' && b[0] != 'l'))
        why = "bad topic";
    else if (b[0] == 'm' && c->raw_metrics) {
        header_only = true;
        if (header_env(b + 1, len - 1, &env) != 0)
            why = "bad envelope";
    } else if (osp_envelope_decode(b + 1, len - 1, &env) != 0)
        why = "bad envelope";
    else if ((b[0] == 'm') != (env->payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS))
        why = "topic does not match payload";
    if (why) {
        if (header_only)
            header_env_free(env);
        else
            osp_envelope_free(env);
        decode_error(c, why, len);
        nng_msg_free(m);
        return OSP_EPARSE;
    }
    bus_msg *bm = osp_calloc(1, sizeof(*bm));
    bm->m = m;
    bm->env = env;
    bm->env_header_only = header_only;
    bm->pub.topic = (char)b[0];
    bm->pub.env = env;
    bm->pub.raw = b + 1;
    bm->pub.raw_len = len - 1;
    atomic_fetch_add(&c->received, 1);
    atomic_fetch_add(&c->received_bytes, len - 1);
    if (osp_ratelim_ok(&c->decode_rl))
        osp_log(OSP_LOG_INFO, COMPONENT, "bus messages decode again", NULL);
    *out = &bm->pub;
    return 0;
}

int
osp_bus_consumer_recv(osp_bus_consumer *c, int timeout_ms, osp_bus_msg **out)
{
    int64_t deadline = osp_bus_mono_ms() + timeout_ms;
    for (;;) {
        nng_msg *m = NULL;
        int rv;
        if (timeout_ms == 0) {
            rv = nng_recvmsg(c->sub, &m, NNG_FLAG_NONBLOCK);
        } else {
            int64_t left = timeout_ms < 0 ? NNG_DURATION_INFINITE : deadline - osp_bus_mono_ms();
            if (timeout_ms > 0 && left <= 0)
                return OSP_ETIMEDOUT;
            rv = osp_bus_recv_wait(c->sub.id, (void **)&m, timeout_ms < 0 ? -1 : (int)left);
        }
        if (rv == NNG_EAGAIN || rv == NNG_ETIMEDOUT)
            return OSP_ETIMEDOUT;
        if (rv == NNG_ECLOSED)
            return OSP_ECLOSED;
        if (rv != 0)
            return osp_bus_nng_err(rv);
        if (check_msg(c, m, out) == 0)
            return 0;
        /* undecodable: skipped; keep waiting within the deadline */
    }
}

void
osp_bus_msg_free(osp_bus_msg *m)
{
    if (m == NULL)
        return;
    bus_msg *bm = (bus_msg *)m;
    if (bm->env_header_only)
        header_env_free(bm->env);
    else
        osp_envelope_free(bm->env);
    nng_msg_free(bm->m);
    osp_free(bm);
}

int
osp_bus_consumer_ack(osp_bus_consumer *c, const char *producer_id, uint64_t seq)
{
    if (producer_id == NULL || producer_id[0] == '\0')
        return OSP_EINVAL;
    Osprey__Ack ack;
    osprey__ack__init(&ack);
    ack.producer_id = (char *)producer_id;
    ack.seq = seq;
    ack.store_id = c->store_id;
    size_t idlen = strlen(producer_id);
    size_t sz = osprey__ack__get_packed_size(&ack);
    nng_msg *m;
    int rv = nng_msg_alloc(&m, idlen + 1 + sz);
    if (rv == 0) {
        unsigned char *b = nng_msg_body(m);
        memcpy(b, producer_id, idlen + 1); /* "<producer_id>\0" is the topic */
        osprey__ack__pack(&ack, b + idlen + 1);
        rv = nng_sendmsg(c->pub, m, NNG_FLAG_NONBLOCK);
        if (rv != 0)
            nng_msg_free(m);
    }
    if (rv != 0) {
        atomic_fetch_add(&c->ack_errors, 1);
        return osp_bus_nng_err(rv) == OSP_ECLOSED ? OSP_ECLOSED : OSP_EIO;
    }
    atomic_fetch_add(&c->acks_sent, 1);
    return 0;
}

int
osp_bus_consumer_fd(osp_bus_consumer *c, int *fd)
{
    int v;
    int rv = nng_socket_get_int(c->sub, NNG_OPT_RECVFD, &v);
    if (rv != 0)
        return OSP_EIO;
    *fd = v;
    return 0;
}

void
osp_bus_consumer_get_stats(osp_bus_consumer *c, osp_bus_consumer_stats *out)
{
    out->received = atomic_load(&c->received);
    out->received_bytes = atomic_load(&c->received_bytes);
    out->decode_errors = atomic_load(&c->decode_errors);
    out->acks_sent = atomic_load(&c->acks_sent);
    out->ack_errors = atomic_load(&c->ack_errors);
}

void
osp_bus_consumer_free(osp_bus_consumer *c)
{
    if (c == NULL)
        return;
    /* timed, as the producer's: NNG 1.5.2's close can deadlock (both sides of
     * a connection closing at once), and a store's shutdown must not hang */
    if (c->sub_open)
        osp_bus_close_timed(c->sub.id, 2000);
    if (c->pub_open)
        osp_bus_close_timed(c->pub.id, 2000);
    osp_free(c->store_id);
    osp_free(c);
}
