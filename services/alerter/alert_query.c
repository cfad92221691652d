/* alert_query.c - QueryRequest/QueryResponse over NNG REQ (libs/bus). */
#include "alert_query.h"

#include <string.h>

#include "bus.h"
#include "osp_mem.h"

struct alert_query {
    osp_bus_req *req;
    int64_t timeout_ms;
};

int
alert_query_new(const char *url, int64_t timeout_ms, alert_query **out, osp_errinfo *ei)
{
    alert_query *q = osp_calloc(1, sizeof(*q));
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    int rc = osp_bus_req_new(url, &q->req, ei);
    if (rc) {
        osp_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void
alert_query_cancel(alert_query *q)
{
    if (q != NULL)
        osp_bus_req_cancel(q->req);
}

void
alert_query_free(alert_query *q)
{
    if (q == NULL)
        return;
    osp_bus_req_free(q->req);
    osp_free(q);
}

static int
error_code(const char *type)
{
    if (strcmp(type, "bad_data") == 0)
        return OSP_EPARSE;
    if (strcmp(type, "execution") == 0)
        return OSP_EINVAL;
    if (strcmp(type, "timeout") == 0)
        return OSP_ETIMEDOUT;
    if (strcmp(type, "unavailable") == 0)
        return OSP_EUNAVAIL;
    return OSP_EIO;
}

int
alert_query_instant(alert_query *q, const char *expr, int64_t t_ms, alert_qresult *out,
                    osp_errinfo *ei)
{
    Osprey__QueryRequest rq;
    osprey__query_request__init(&rq);
    rq.expr = (char *)expr;
    rq.time_ms = t_ms;
    rq.timeout_ms = q->timeout_ms;
    size_t n = osprey__query_request__get_packed_size(&rq);
    uint8_t *buf = osp_malloc(n ? n : 1);
    osprey__query_request__pack(&rq, buf);
    osp_buf resp;
    osp_buf_init(&resp);
    int rc = osp_bus_req_call(q->req, buf, n, q->timeout_ms + 1000, &resp);
    osp_free(buf);
    if (rc) {
        osp_buf_fini(&resp);
        return osp_errinfo_set(ei, rc, 0, 0, "query to the store failed: %s", osp_err_str(rc));
    }
    Osprey__QueryResponse *r =
        osprey__query_response__unpack(NULL, resp.len, (const uint8_t *)resp.data);
    osp_buf_fini(&resp);
    if (r == NULL)
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "malformed QueryResponse from the store");
    memset(out, 0, sizeof(*out));
    if (r->error && r->error[0]) {
        rc = osp_errinfo_set(ei, error_code(r->error_type ? r->error_type : ""), 0, 0, "%s: %s",
                             r->error_type ? r->error_type : "error", r->error);
    } else if (strcmp(r->result_type, "scalar") == 0) {
        out->v = osp_calloc(1, sizeof(*out->v));
        out->n = 1;
        osp_labels_init(&out->v[0].labels);
        out->v[0].v = r->scalar ? r->scalar->value : 0;
    } else if (strcmp(r->result_type, "vector") == 0) {
        out->v = osp_calloc(r->n_series + 1, sizeof(*out->v));
        for (size_t i = 0; i < r->n_series; i++) {
            const Osprey__QuerySeries *s = r->series[i];
            alert_qsample *smp = &out->v[out->n++];
            osp_labels_init(&smp->labels);
            osp_pb_labels(s->labels, s->n_labels, &smp->labels);
            osp_labels_sort(&smp->labels);
            smp->v = s->n_samples ? s->samples[0]->value : 0;
        }
    } else {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "rule expression returned a %s, not a vector",
                             r->result_type);
    }
    osprey__query_response__free_unpacked(r, NULL);
    return rc;
}
