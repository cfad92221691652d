/* bus_reqrep.c - REQ/REP helpers carrying raw bytes (alerter -> store queries).
 * Both sides use one NNG context per request, so requests may overlap. */
#include "bus.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bus_int.h"
#include "osp_mem.h"

struct osp_bus_rep {
    nng_socket s;
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

int
osp_bus_rep_new(const char *url, osp_bus_rep **out, osp_errinfo *ei)
{
    osp_bus_rep *r = osp_calloc(1, sizeof(*r));
    int rv = nng_rep0_open(&r->s);
    if (rv != 0) {
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

int
osp_bus_rep_recv(osp_bus_rep *r, int timeout_ms, osp_bus_request **out)
{
    nng_ctx ctx;
    int rv = nng_ctx_open(&ctx, r->s);
    if (rv != 0)
        return map_err(rv);
    nng_msg *m = NULL;
    rv = ctx_wait(ctx, false, NULL, timeout_ms == 0 ? 1 : timeout_ms, &m);
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
    osp_bus_close_timed(r->s.id, 2000); /* NNG 1.5.2's close can deadlock */
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
