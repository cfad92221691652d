/* bus_reqrep.c - REQ/REP helpers carrying raw bytes (alerter -> store queries).
 * Both sides use one NNG context per request, so requests may overlap. */
#include "bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus_int.h"
#include "osp_mem.h"
#include "osp_time.h"

/* The REP side keeps one receive outstanding between calls and waits for it
 * on its own condition variable: a receive with an NNG timeout costs a busy
 * loop in NNG 1.5.2's expire thread (its clock has millisecond steps and an
 * aio that expires within the current millisecond keeps it spinning until the
 * next one), which was ~5 % of the store's CPU under load at a 200 ms poll. */
struct osp_bus_rep {
    nng_socket s;
    nng_aio *aio;       /* the outstanding receive */
    nng_ctx ctx;        /* its context */
    pthread_mutex_t mu; /* guards active and done */
    pthread_cond_t cv;  /* signalled when done is set */
    bool active;        /* a receive is outstanding (or finished, not yet taken) */
    bool done;          /* it finished */
};

struct osp_bus_request {
    nng_ctx ctx;
    nng_msg *m;
};

struct osp_bus_req {
    nng_socket s;
    atomic_bool closed;
};

static int
ctx_wait(nng_ctx ctx, bool send, nng_msg *m, int64_t timeout_ms, nng_msg **out)
{
    nng_aio *aio;
    int rv = nng_aio_alloc(&aio, NULL, NULL);
    if (rv != 0)
        return rv;
    nng_aio_set_timeout(aio, timeout_ms < 0 ? NNG_DURATION_INFINITE : (nng_duration)timeout_ms);
    if (send) {
        nng_aio_set_msg(aio, m);
        nng_ctx_send(ctx, aio);
    } else {
        nng_ctx_recv(ctx, aio);
    }
    nng_aio_wait(aio);
    rv = nng_aio_result(aio);
    if (rv == 0 && !send)
        *out = nng_aio_get_msg(aio);
    nng_aio_free(aio);
    return rv; /* on send failure the caller still owns m */
}

static int
map_err(int rv)
{
    if (rv == NNG_ETIMEDOUT)
        return OSP_ETIMEDOUT;
    if (rv == NNG_ECLOSED)
        return OSP_ECLOSED;
    return OSP_EIO;
}

static void
rep_done(void *arg)
{
    osp_bus_rep *r = arg;
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int
osp_bus_rep_new(const char *url, osp_bus_rep **out, osp_errinfo *ei)
{
    osp_bus_rep *r = osp_calloc(1, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rv = nng_aio_alloc(&r->aio, rep_done, r);
    if (rv == 0)
        rv = nng_rep0_open(&r->s);
    if (rv != 0) {
        nng_aio_free(r->aio);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        osp_free(r);
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: rep socket: %s", nng_strerror(rv));
    }
    int rc = osp_bus_listen(r->s.id, url, "bus query_url", ei);
    if (rc != 0) {
        osp_bus_rep_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* start: begin a receive (r->mu held, released around the NNG calls, which
 * may complete it at once). Returns 0 or an NNG error. */
static int
start(osp_bus_rep *r)
{
    int rv = nng_ctx_open(&r->ctx, r->s);
    if (rv != 0)
        return rv;
    r->active = true;
    r->done = false;
    pthread_mutex_unlock(&r->mu);
    nng_ctx_recv(r->ctx, r->aio);
    pthread_mutex_lock(&r->mu);
    return 0;
}

int
osp_bus_rep_recv(osp_bus_rep *r, int timeout_ms, osp_bus_request **out)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0)
        osp_timespec_add_ms(&dl, timeout_ms);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (!r->active) {
            int rv = start(r);
            if (rv != 0) {
                pthread_mutex_unlock(&r->mu);
                return map_err(rv);
            }
            continue; /* it may have finished meanwhile */
        }
        if (r->done)
            break;
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&r->mu);
            return OSP_ETIMEDOUT;
        }
        int w = timeout_ms < 0 ? pthread_cond_wait(&r->cv, &r->mu)
                               : pthread_cond_timedwait(&r->cv, &r->mu, &dl);
        if (w == ETIMEDOUT && !r->done) {
            pthread_mutex_unlock(&r->mu);
            return OSP_ETIMEDOUT;
        }
    }
    /* the receive finished: take it; the next call starts another */
    r->active = false;
    r->done = false;
    nng_ctx ctx = r->ctx;
    int rv = nng_aio_result(r->aio);
    nng_msg *m = rv == 0 ? nng_aio_get_msg(r->aio) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (rv != 0) {
        nng_ctx_close(ctx);
        return map_err(rv);
    }
    osp_bus_request *q = osp_calloc(1, sizeof(*q));
    q->ctx = ctx;
    q->m = m;
    *out = q;
    return 0;
}

const void *
osp_bus_request_data(const osp_bus_request *q, size_t *len)
{
    *len = nng_msg_len(q->m);
    return nng_msg_body(q->m);
}

int
osp_bus_rep_reply(osp_bus_rep *r, osp_bus_request *q, const void *buf, size_t len)
{
    (void)r;
    nng_msg *m;
    int rv = nng_msg_alloc(&m, len);
    if (rv == 0) {
        if (len > 0)
            memcpy(nng_msg_body(m), buf, len);
        rv = ctx_wait(q->ctx, true, m, 5000, NULL);
        if (rv != 0)
            nng_msg_free(m);
    }
    osp_bus_request_free(q);
    return rv == 0 ? 0 : OSP_EIO;
}

void
osp_bus_request_free(osp_bus_request *q)
{
    if (q == NULL)
        return;
    nng_msg_free(q->m);
    nng_ctx_close(q->ctx);
    osp_free(q);
}

void
osp_bus_rep_free(osp_bus_rep *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    bool active = r->active;
    pthread_mutex_unlock(&r->mu);
    if (active) {
        nng_aio_stop(r->aio); /* cancels the receive and waits for its callback */
        if (nng_aio_result(r->aio) == 0)
            nng_msg_free(nng_aio_get_msg(r->aio));
        nng_ctx_close(r->ctx);
    }
    nng_aio_free(r->aio);
    if (r->s.id != 0)
        osp_bus_close_timed(r->s.id, 2000); /* NNG 1.5.2's close can deadlock */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    osp_free(r);
}

int
osp_bus_req_new(const char *url, osp_bus_req **out, osp_errinfo *ei)
{
    osp_bus_req *r = osp_calloc(1, sizeof(*r));
    int rv = nng_req0_open(&r->s);
    if (rv != 0) {
        osp_free(r);
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "bus: req socket: %s", nng_strerror(rv));
    }
    nng_socket_set_ms(r->s, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(r->s, NNG_OPT_RECONNMAXT, 2000);
    int rc = osp_bus_dial_list(r->s.id, url, "bus query_url", ei);
    if (rc != 0) {
        osp_bus_req_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int
osp_bus_req_call(osp_bus_req *r, const void *buf, size_t len, int64_t timeout_ms, osp_buf *resp)
{
    nng_ctx ctx;
    int rv = nng_ctx_open(&ctx, r->s);
    if (rv != 0)
        return map_err(rv);
    int64_t t0 = osp_bus_mono_ms();
    nng_msg *m;
    rv = nng_msg_alloc(&m, len);
    if (rv == 0) {
        if (len > 0)
            memcpy(nng_msg_body(m), buf, len);
        rv = ctx_wait(ctx, true, m, timeout_ms, NULL);
        if (rv != 0)
            nng_msg_free(m);
    }
    if (rv == 0) {
        int64_t left = timeout_ms < 0 ? -1 : timeout_ms - (osp_bus_mono_ms() - t0);
        if (timeout_ms >= 0 && left <= 0)
            left = 1;
        nng_msg *rm = NULL;
        rv = ctx_wait(ctx, false, NULL, left, &rm);
        if (rv == 0) {
            osp_buf_append(resp, nng_msg_body(rm), nng_msg_len(rm));
            nng_msg_free(rm);
        }
    }
    nng_ctx_close(ctx);
    return rv == 0 ? 0 : map_err(rv);
}

void
osp_bus_req_cancel(osp_bus_req *r)
{
    if (r != NULL && !atomic_exchange(&r->closed, true))
        osp_bus_close_timed(r->s.id, 2000);
}

void
osp_bus_req_free(osp_bus_req *r)
{
    if (r == NULL)
        return;
    osp_bus_req_cancel(r);
    osp_free(r);
}
