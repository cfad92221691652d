/* store_rep.c - QueryRequest/QueryResponse over NNG REP, on its own thread.
 * Evaluation is the HTTP API's (same head source, options and error types);
 * only the encoding differs. */
#include "store_rep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "osp_arena.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "promql.h"
#include "store_query.h"

struct store_rep {
    osp_bus_rep *rep;
    store_head *head;
    store_pg *pg; /* the server thread's; NULL: memory only */
    store_ingest *ingest;
    store_stats *stats;
    pthread_mutex_t mu; /* guards the limits */
    int64_t lookback_ms, timeout_ms;
    uint64_t max_samples;
    atomic_bool stop;
    pthread_t thread;
    bool started;
};

/* Prometheus' error type of an evaluation error (as store_api.c answers). */
static const char *
error_type(int rc)
{
    switch (rc) {
    case OSP_EPARSE: return "bad_data";
    case OSP_EINVAL:
    case OSP_ELIMIT: return "execution";
    case OSP_ETIMEDOUT: return "timeout";
    case OSP_EUNAVAIL: return "unavailable";
    default: return "internal";
    }
}

static Osprey__QuerySeries *
pb_series(const osp_promql_series *s, osp_arena *a)
{
    Osprey__QuerySeries *qs = osp_arena_alloc(a, sizeof(*qs));
    osprey__query_series__init(qs);
    qs->n_labels = s->nlabels;
    qs->labels = osp_arena_alloc(a, sizeof(*qs->labels) * (s->nlabels + 1));
    for (size_t i = 0; i < s->nlabels; i++) {
        Osprey__Label *l = osp_arena_alloc(a, sizeof(*l));
        osprey__label__init(l);
        l->name = s->labels[i].name;
        l->value = s->labels[i].value;
        qs->labels[i] = l;
    }
    qs->n_samples = s->npts;
    qs->samples = osp_arena_alloc(a, sizeof(*qs->samples) * (s->npts + 1));
    for (size_t i = 0; i < s->npts; i++) {
        Osprey__Sample *p = osp_arena_alloc(a, sizeof(*p));
        osprey__sample__init(p);
        p->timestamp_ms = s->pts[i].t;
        p->value = s->pts[i].v;
        qs->samples[i] = p;
    }
    return qs;
}

static void
fill_result(Osprey__QueryResponse *resp, const osp_promql_result *r, osp_arena *a)
{
    switch (r->type) {
    case OSP_PROMQL_SCALAR:
        resp->result_type = "scalar";
        resp->scalar = osp_arena_alloc(a, sizeof(*resp->scalar));
        osprey__sample__init(resp->scalar);
        resp->scalar->timestamp_ms = r->t_ms;
        resp->scalar->value = r->scalar;
        return;
    case OSP_PROMQL_STRING:
        resp->result_type = "string";
        resp->string_value = (char *)(r->str ? r->str : "");
        resp->scalar = osp_arena_alloc(a, sizeof(*resp->scalar));
        osprey__sample__init(resp->scalar);
        resp->scalar->timestamp_ms = r->t_ms;
        return;
    case OSP_PROMQL_VECTOR: resp->result_type = "vector"; break;
    case OSP_PROMQL_MATRIX: resp->result_type = "matrix"; break;
    }
    resp->n_series = r->nseries;
    resp->series = osp_arena_alloc(a, sizeof(*resp->series) * (r->nseries + 1));
    for (size_t i = 0; i < r->nseries; i++)
        resp->series[i] = pb_series(&r->series[i], a);
}

/* answer: evaluate one request into resp (memory from a); an error goes into
 * resp->error / error_type. */
static void
answer(store_rep *r, const Osprey__QueryRequest *q, Osprey__QueryResponse *resp, osp_arena *a,
       osp_promql_result **res)
{
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    osp_promql_expr *e = NULL;
    osp_promql_opts o = {0};
    pthread_mutex_lock(&r->mu);
    o.lookback_ms = r->lookback_ms;
    o.timeout_ms = r->timeout_ms;
    o.max_samples = (size_t)r->max_samples;
    pthread_mutex_unlock(&r->mu);
    if (q->timeout_ms > 0 && (o.timeout_ms == 0 || q->timeout_ms < o.timeout_ms))
        o.timeout_ms = q->timeout_ms;
    const char *expr = q->expr ? q->expr : "";
    int rc = osp_promql_parse(expr, strlen(expr), &e, &ei);
    if (rc != 0) {
        resp->error_type = "bad_data";
        resp->error = osp_arena_strndup(a, ei.msg, strlen(ei.msg));
        goto out;
    }
    if (r->ingest != NULL && !store_ingest_replayed(r->ingest)) {
        resp->error_type = "unavailable";
        resp->error = "store is starting: replaying the batch log into the head";
        goto out;
    }
    store_reader rd = {.head = r->head, .pg = r->pg};
    osp_promql_source src = store_reader_source(&rd);
    if (r->stats != NULL && r->stats->queries != NULL)
        osp_metric_inc(r->stats->queries);
    if (q->step_ms > 0) {
        if (q->end_ms < q->start_ms) {
            resp->error_type = "bad_data";
            resp->error = "end timestamp must not be before start time";
            goto out;
        }
        if ((q->end_ms - q->start_ms) / q->step_ms > 11000) {
            resp->error_type = "bad_data";
            resp->error = "exceeded maximum resolution of 11,000 points per timeseries. Try "
                          "decreasing the query resolution (?step=XX)";
            goto out;
        }
        rc = osp_promql_eval_range(e, &src, q->start_ms, q->end_ms, q->step_ms, &o, res, &ei);
    } else {
        int64_t t = q->time_ms != 0 ? q->time_ms : osp_now_ms();
        rc = osp_promql_eval_instant(e, &src, t, &o, res, &ei);
    }
    if (rc != 0) {
        resp->error_type = (char *)error_type(rc);
        const char *m = ei.msg[0] ? ei.msg : osp_err_str(rc);
        resp->error = osp_arena_strndup(a, m, strlen(m));
        goto out;
    }
    fill_result(resp, *res, a);
out:
    osp_promql_expr_free(e);
}

static void
serve_one(store_rep *r, osp_bus_request *req, osp_arena *a)
{
    size_t len;
    const void *data = osp_bus_request_data(req, &len);
    Osprey__QueryResponse resp;
    osprey__query_response__init(&resp);
    osp_promql_result *res = NULL;
    Osprey__QueryRequest *q = osprey__query_request__unpack(NULL, len, data);
    if (q == NULL) {
        resp.error_type = "bad_data";
        resp.error = "malformed QueryRequest";
    } else {
        answer(r, q, &resp, a, &res);
    }
    size_t n = osprey__query_response__get_packed_size(&resp);
    uint8_t *buf = osp_malloc(n ? n : 1);
    osprey__query_response__pack(&resp, buf);
    if (osp_bus_rep_reply(r->rep, req, buf, n) != 0)
        osp_log(OSP_LOG_DEBUG, "query", "query requester went away before the reply", NULL);
    osp_free(buf);
    osp_promql_result_free(res);
    if (q != NULL)
        osprey__query_request__free_unpacked(q, NULL);
}

static void *
serve(void *arg)
{
    store_rep *r = arg;
    osp_arena *a = osp_arena_new(0);
    while (!atomic_load(&r->stop)) {
        osp_bus_request *req = NULL;
        int rc = osp_bus_rep_recv(r->rep, 200, &req);
        if (rc == OSP_ETIMEDOUT)
            continue;
        if (rc == OSP_ECLOSED)
            break;
        if (rc != 0) { /* transient nng failure: do not spin */
            osp_sleep_ms(50);
            continue;
        }
        serve_one(r, req, a);
        osp_arena_reset(a);
    }
    osp_arena_free(a);
    return NULL;
}

int
store_rep_start(const store_rep_opts *o, store_rep **out, osp_errinfo *ei)
{
    store_rep *r = osp_calloc(1, sizeof(*r));
    r->head = o->head;
    r->pg = o->conninfo != NULL ? store_pg_new(o->conninfo, "query") : NULL;
    r->ingest = o->ingest;
    r->stats = o->stats;
    pthread_mutex_init(&r->mu, NULL);
    store_rep_set_limits(r, o->lookback_ms, o->query_timeout_ms, o->max_samples);
    int rc = osp_bus_rep_new(o->url, &r->rep, ei);
    if (rc != 0)
        goto fail;
    if (pthread_create(&r->thread, NULL, serve, r) != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot start the query thread");
        goto fail;
    }
    r->started = true;
    *out = r;
    return 0;
fail:
    store_rep_stop(r);
    return rc;
}

void
store_rep_set_limits(store_rep *r, int64_t lookback_ms, int64_t query_timeout_ms,
                     uint64_t max_samples)
{
    pthread_mutex_lock(&r->mu);
    r->lookback_ms = lookback_ms;
    r->timeout_ms = query_timeout_ms;
    r->max_samples = max_samples;
    pthread_mutex_unlock(&r->mu);
}

void
store_rep_stop(store_rep *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, true);
    if (r->started)
        pthread_join(r->thread, NULL);
    osp_bus_rep_free(r->rep);
    store_pg_free(r->pg);
    pthread_mutex_destroy(&r->mu);
    osp_free(r);
}
