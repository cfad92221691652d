/* store_api.c - Prometheus HTTP API handlers over the head. JSON shapes,
 * error types and status codes follow Prometheus 2.x (see
 * reference/prometheus-api.md); every handler ends in exactly one reply. */
#include "store_api.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "osp_time.h"
#include "promql.h"
#include "store_params.h"
#include "store_query.h"
#include "osp_mem.h"

#define JSON "application/json"

bool
store_api_ready(const store_api *a)
{
    return a->ingest == NULL || store_ingest_replayed(a->ingest);
}

/* reply_result: a query result written straight into the one response buffer. */
static void
reply_result(osp_http_req *req, const osp_promql_result *r)
{
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    osp_promql_result_json(r, &b);
    osp_buf_putc(&b, '}');
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
reply_success(osp_http_req *req, const osp_buf *data, const char *warning)
{
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    osp_buf_append(&b, data->data ? data->data : "null", data->data ? data->len : 4);
    if (warning != NULL) {
        osp_buf_puts(&b, ",\"warnings\":[");
        osp_buf_json_cstr(&b, warning);
        osp_buf_putc(&b, ']');
    }
    osp_buf_putc(&b, '}');
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
bad_data(osp_http_req *req, const char *msg)
{
    osp_http_reply_error_json(req, 400, "bad_data", msg);
}

/* not_ready: replies 503 and returns true while the head is being rebuilt. */
static bool
not_ready(osp_http_req *req, const store_api *a)
{
    if (store_api_ready(a))
        return false;
    osp_http_reply_error_json(req, 503, "unavailable",
                              "store is starting: replaying the batch log into the head");
    return true;
}

/* Maps an evaluation error to Prometheus' error type and status. */
static void
reply_eval_error(osp_http_req *req, int rc, const osp_errinfo *ei)
{
    const char *msg = ei->msg[0] ? ei->msg : osp_err_str(rc);
    switch (rc) {
    case OSP_EPARSE: {
        osp_buf m;
        osp_buf_init(&m);
        osp_buf_printf(&m, "invalid parameter \"query\": %s", msg);
        bad_data(req, osp_buf_cstr(&m));
        osp_buf_fini(&m);
        return;
    }
    case OSP_EINVAL:
    case OSP_ELIMIT: osp_http_reply_error_json(req, 422, "execution", msg); return;
    case OSP_ETIMEDOUT: osp_http_reply_error_json(req, 503, "timeout", msg); return;
    case OSP_EUNAVAIL: osp_http_reply_error_json(req, 503, "unavailable", msg); return;
    default: osp_http_reply_error_json(req, 500, "internal", msg); return;
    }
}

/* Common query options: timeout (capped by the configured one), lookback_delta. */
static int
query_opts(osp_http_req *req, const store_api *a, osp_promql_opts *o, osp_buf *msg)
{
    int64_t timeout, lookback;
    if (store_param_duration("timeout", osp_http_req_param(req, "timeout"), 0, &timeout, msg) ||
        store_param_duration("lookback_delta", osp_http_req_param(req, "lookback_delta"),
                             a->lookback_ms, &lookback, msg))
        return OSP_EPARSE;
    memset(o, 0, sizeof(*o));
    o->timeout_ms = a->query_timeout_ms;
    if (timeout > 0 && (o->timeout_ms == 0 || timeout < o->timeout_ms))
        o->timeout_ms = timeout;
    o->lookback_ms = lookback > 0 ? lookback : a->lookback_ms;
    o->max_samples = (size_t)a->max_samples;
    return 0;
}

static int
parse_query(osp_http_req *req, osp_promql_expr **e, osp_errinfo *ei)
{
    const char *q = osp_http_req_param(req, "query");
    if (q == NULL)
        q = "";
    return osp_promql_parse(q, strlen(q), e, ei);
}

static void
h_query(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    osp_buf msg;
    osp_buf_init(&msg);
    osp_promql_expr *e = NULL;
    osp_promql_result *r = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    osp_promql_opts o;
    int64_t t;
    if (store_param_time("time", osp_http_req_param(req, "time"), osp_now_ms(), &t, &msg) ||
        query_opts(req, a, &o, &msg)) {
        bad_data(req, osp_buf_cstr(&msg));
        goto out;
    }
    int rc = parse_query(req, &e, &ei);
    if (rc != 0) {
        reply_eval_error(req, OSP_EPARSE, &ei);
        goto out;
    }
    if (not_ready(req, a))
        goto out;
    store_reader rd = {.head = a->head, .pg = a->import_pg};
    osp_promql_source src = store_reader_source(&rd);
    if (a->stats != NULL)
        osp_metric_inc(a->stats->queries);
    rc = osp_promql_eval_instant(e, &src, t, &o, &r, &ei);
    if (rc != 0) {
        reply_eval_error(req, rc, &ei);
        goto out;
    }
    reply_result(req, r);
out:
    osp_promql_result_free(r);
    osp_promql_expr_free(e);
    osp_buf_fini(&msg);
}

static void
h_query_range(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    osp_buf msg;
    osp_buf_init(&msg);
    osp_promql_expr *e = NULL;
    osp_promql_result *r = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    osp_promql_opts o;
    int64_t start, end, step;
    const char *ss = osp_http_req_param(req, "start"), *es = osp_http_req_param(req, "end"),
               *st = osp_http_req_param(req, "step");
    if (store_param_time("start", ss ? ss : "", INT64_MIN, &start, &msg) ||
        store_param_time("end", es ? es : "", INT64_MIN, &end, &msg)) {
        bad_data(req, osp_buf_cstr(&msg));
        goto out;
    }
    if (start == INT64_MIN || end == INT64_MIN) {
        osp_buf_printf(&msg, "invalid parameter \"%s\": cannot parse \"\" to a valid timestamp",
                       start == INT64_MIN ? "start" : "end");
        bad_data(req, osp_buf_cstr(&msg));
        goto out;
    }
    if (end < start) {
        bad_data(req, "end timestamp must not be before start time");
        goto out;
    }
    if (st == NULL || st[0] == '\0') {
        bad_data(req, "invalid parameter \"step\": cannot parse \"\" to a valid duration");
        goto out;
    }
    if (store_param_duration("step", st, 0, &step, &msg)) {
        /* a negative float is a valid number but not a valid step */
        double d = strtod(st, NULL);
        if (d < 0 || st[0] == '-') {
            bad_data(req, "zero or negative query resolution step widths are not accepted. "
                          "Try a positive integer");
        } else {
            bad_data(req, osp_buf_cstr(&msg));
        }
        goto out;
    }
    if (step <= 0) {
        bad_data(req, "zero or negative query resolution step widths are not accepted. Try a "
                      "positive integer");
        goto out;
    }
    if (!store_query_steps_ok(start, end, step)) {
        bad_data(req, "exceeded maximum resolution of 11,000 points per timeseries. Try "
                      "decreasing the query resolution (?step=XX)");
        goto out;
    }
    if (query_opts(req, a, &o, &msg)) {
        bad_data(req, osp_buf_cstr(&msg));
        goto out;
    }
    int rc = parse_query(req, &e, &ei);
    if (rc != 0) {
        reply_eval_error(req, OSP_EPARSE, &ei);
        goto out;
    }
    osp_promql_vtype vt = osp_promql_expr_type(e);
    if (vt != OSP_PROMQL_SCALAR && vt != OSP_PROMQL_VECTOR) {
        osp_buf_printf(&msg,
                       "invalid parameter \"query\": invalid expression type \"%s\" for range "
                       "query, must be Scalar or instant Vector",
                       vt == OSP_PROMQL_MATRIX ? "range vector" : "string");
        bad_data(req, osp_buf_cstr(&msg));
        goto out;
    }
    if (not_ready(req, a))
        goto out;
    store_reader rd = {.head = a->head, .pg = a->import_pg};
    osp_promql_source src = store_reader_source(&rd);
    if (a->stats != NULL)
        osp_metric_inc(a->stats->queries);
    rc = osp_promql_eval_range(e, &src, start, end, step, &o, &r, &ei);
    if (rc != 0) {
        reply_eval_error(req, rc, &ei);
        goto out;
    }
    reply_result(req, r);
out:
    osp_promql_result_free(r);
    osp_promql_expr_free(e);
    osp_buf_fini(&msg);
}

/* ---- metadata APIs: series, labels, label values ---- */

typedef struct sel {
    osp_matcher *ms;
    size_t nm;
} sel;

/* Parses every match[]; replies 400 and returns false on a bad selector. */
static bool
parse_selectors(osp_http_req *req, sel **out, size_t *nout)
{
    const char **v = NULL;
    size_t n = osp_http_req_params(req, "match[]", &v);
    osp_arena *ar = osp_http_req_arena(req);
    sel *s = n ? osp_arena_calloc(ar, n * sizeof(*s)) : NULL;
    for (size_t i = 0; i < n; i++) {
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        if (osp_matchers_parse(v[i], strlen(v[i]), &s[i].ms, &s[i].nm, ar, &ei) != 0) {
            osp_buf m;
            osp_buf_init(&m);
            osp_buf_printf(&m, "invalid parameter \"match[]\": %s", ei.msg);
            bad_data(req, osp_buf_cstr(&m));
            osp_buf_fini(&m);
            return false;
        }
    }
    *out = s;
    *nout = n;
    return true;
}

/* Parses start/end (both optional); replies 400 and returns false when bad. */
static bool
parse_range(osp_http_req *req, int64_t *mint, int64_t *maxt)
{
    osp_buf msg;
    osp_buf_init(&msg);
    bool ok =
        store_param_time("start", osp_http_req_param(req, "start"), INT64_MIN, mint, &msg) == 0 &&
        store_param_time("end", osp_http_req_param(req, "end"), INT64_MAX, maxt, &msg) == 0;
    if (!ok)
        bad_data(req, osp_buf_cstr(&msg));
    osp_buf_fini(&msg);
    return ok;
}

static bool
parse_limit(osp_http_req *req, size_t *limit)
{
    osp_buf msg;
    osp_buf_init(&msg);
    bool ok = store_param_limit("limit", osp_http_req_param(req, "limit"), limit, &msg) == 0;
    if (!ok)
        bad_data(req, osp_buf_cstr(&msg));
    osp_buf_fini(&msg);
    return ok;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The sorted, distinct refs of series matching any selector (all series when
 * there is none) with samples in [mint, maxt]. Read lock held. */
static void
union_refs(const store_head *h, const sel *s, size_t ns, int64_t mint, int64_t maxt, osp_arena *ar,
           uint32_t **out, size_t *nout)
{
    if (ns == 0) {
        store_head_match(h, NULL, 0, mint, maxt, ar, out, nout);
        return;
    }
    uint32_t *all = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < ns; i++) {
        uint32_t *r;
        size_t k;
        store_head_match(h, s[i].ms, s[i].nm, mint, maxt, ar, &r, &k);
        if (n + k > cap) {
            cap = (n + k) * 2;
            uint32_t *nv = osp_arena_alloc(ar, cap * sizeof(*nv));
            if (n > 0)
                memcpy(nv, all, n * sizeof(*nv));
            all = nv;
        }
        if (k > 0)
            memcpy(all + n, r, k * sizeof(*r));
        n += k;
    }
    if (ns > 1 && n > 1) {
        osp_qsort(all, n, sizeof(*all), cmp_u32);
        size_t k = 1;
        for (size_t i = 1; i < n; i++)
            if (all[i] != all[k - 1])
                all[k++] = all[i];
        n = k;
    }
    *out = all;
    *nout = n;
}

static const store_head *sort_head; /* qsort has no context; loop thread only */

static int
cmp_series_labels(const void *a, const void *b)
{
    const store_series *x = store_head_series(sort_head, *(const uint32_t *)a);
    const store_series *y = store_head_series(sort_head, *(const uint32_t *)b);
    return osp_labels_cmp(&x->labels, &y->labels);
}

static void
h_series(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    sel *s;
    size_t ns, limit;
    int64_t mint, maxt;
    if (!parse_selectors(req, &s, &ns) || !parse_range(req, &mint, &maxt) ||
        !parse_limit(req, &limit))
        return;
    if (ns == 0) {
        bad_data(req, "no match[] parameter provided");
        return;
    }
    if (not_ready(req, a))
        return;
    osp_buf data;
    osp_buf_init(&data);
    uint32_t *refs;
    size_t n;
    store_head_rdlock(a->head);
    union_refs(a->head, s, ns, mint, maxt, osp_http_req_arena(req), &refs, &n);
    sort_head = a->head;
    osp_qsort(refs, n, sizeof(*refs), cmp_series_labels);
    bool truncated = limit > 0 && n > limit;
    if (truncated)
        n = limit;
    osp_buf_putc(&data, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            osp_buf_putc(&data, ',');
        osp_labels_json(&store_head_series(a->head, refs[i])->labels, &data);
    }
    osp_buf_putc(&data, ']');
    store_head_unlock(a->head);
    reply_success(req, &data, truncated ? "results truncated due to limit" : NULL);
    osp_buf_fini(&data);
}

typedef struct strset {
    const char **v;
    size_t n, cap;
    osp_arena *ar;
} strset;

static void
strset_add(strset *s, const char *str)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        const char **nv = osp_arena_alloc(s->ar, ncap * sizeof(*nv));
        if (s->n > 0)
            memcpy(nv, s->v, s->n * sizeof(*nv));
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = osp_arena_strndup(s->ar, str, strlen(str));
}

static void
strset_add_cb(void *ctx, const char *str)
{
    strset_add(ctx, str);
}

static void
strset_add_value_cb(void *ctx, const char *value, const store_postings *p)
{
    if (p->n > 0)
        strset_add(ctx, value);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts, dedups and writes s as a JSON array (at most limit; 0 = all). */
static void
strset_reply(osp_http_req *req, strset *s, size_t limit)
{
    if (s->n > 1)
        osp_qsort(s->v, s->n, sizeof(*s->v), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || strcmp(s->v[i], s->v[k - 1]) != 0)
            s->v[k++] = s->v[i];
    bool truncated = limit > 0 && k > limit;
    if (truncated)
        k = limit;
    osp_buf data;
    osp_buf_init(&data);
    osp_buf_putc(&data, '[');
    for (size_t i = 0; i < k; i++) {
        if (i)
            osp_buf_putc(&data, ',');
        osp_buf_json_cstr(&data, s->v[i]);
    }
    osp_buf_putc(&data, ']');
    reply_success(req, &data, truncated ? "results truncated due to limit" : NULL);
    osp_buf_fini(&data);
}

static void
h_labels(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    sel *s;
    size_t ns, limit;
    int64_t mint, maxt;
    if (!parse_selectors(req, &s, &ns) || !parse_range(req, &mint, &maxt) ||
        !parse_limit(req, &limit) || not_ready(req, a))
        return;
    strset set = {.ar = osp_http_req_arena(req)};
    store_head_rdlock(a->head);
    if (ns == 0 && mint == INT64_MIN && maxt == INT64_MAX) {
        store_index_each_name(store_head_index(a->head), strset_add_cb, &set);
    } else {
        uint32_t *refs;
        size_t n;
        union_refs(a->head, s, ns, mint, maxt, set.ar, &refs, &n);
        for (size_t i = 0; i < n; i++) {
            const osp_labels *ls = &store_head_series(a->head, refs[i])->labels;
            for (size_t j = 0; j < ls->n; j++)
                strset_add(&set, ls->v[j].name);
        }
    }
    store_head_unlock(a->head);
    strset_reply(req, &set, limit);
}

static void
h_label_values(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    const char *path = osp_http_req_path(req);
    const char *p = path + strlen("/api/v1/label/");
    size_t plen = strlen(p);
    if (plen <= strlen("/values") || strcmp(p + plen - 7, "/values") != 0) {
        osp_http_reply_error_json(req, 404, "not_found", "not found");
        return;
    }
    osp_arena *ar = osp_http_req_arena(req);
    char *raw = osp_arena_strndup(ar, p, plen - 7);
    osp_buf name;
    osp_buf_init(&name);
    store_label_unescape(raw, &name);
    sel *s;
    size_t ns, limit;
    int64_t mint, maxt;
    if (name.len == 0 || !osp_utf8_valid(name.data, name.len) || strchr(raw, '/') != NULL) {
        osp_buf m;
        osp_buf_init(&m);
        osp_buf_printf(&m, "invalid label name: \"%s\"", raw);
        bad_data(req, osp_buf_cstr(&m));
        osp_buf_fini(&m);
        goto out;
    }
    if (!parse_selectors(req, &s, &ns) || !parse_range(req, &mint, &maxt) ||
        !parse_limit(req, &limit) || not_ready(req, a))
        goto out;
    strset set = {.ar = ar};
    store_head_rdlock(a->head);
    if (ns == 0 && mint == INT64_MIN && maxt == INT64_MAX) {
        store_index_each_value(store_head_index(a->head), name.data, strset_add_value_cb, &set);
    } else {
        uint32_t *refs;
        size_t n;
        union_refs(a->head, s, ns, mint, maxt, ar, &refs, &n);
        for (size_t i = 0; i < n; i++) {
            const char *v = osp_labels_get(&store_head_series(a->head, refs[i])->labels, name.data);
            if (v != NULL && v[0] != '\0')
                strset_add(&set, v);
        }
    }
    store_head_unlock(a->head);
    strset_reply(req, &set, limit);
out:
    osp_buf_fini(&name);
}

static void
h_metadata(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    const char *metric = osp_http_req_param(req, "metric");
    const char *ls = osp_http_req_param(req, "limit");
    const char *lps = osp_http_req_param(req, "limit_per_metric");
    int64_t limit = -1, lpm = -1;
    if ((ls != NULL && ls[0] != '\0' && osp_parse_int64(osp_str_c(ls), &limit) != 0)) {
        bad_data(req, "limit must be a number");
        return;
    }
    if ((lps != NULL && lps[0] != '\0' && osp_parse_int64(osp_str_c(lps), &lpm) != 0)) {
        bad_data(req, "limit_per_metric must be a number");
        return;
    }
    osp_buf data;
    osp_buf_init(&data);
    osp_buf_putc(&data, '{');
    store_head_rdlock(a->head);
    size_t n, written = 0;
    const store_meta *m = store_head_meta(a->head, &n);
    for (size_t i = 0; i < n; i++) {
        if (limit >= 0 && (int64_t)written >= limit)
            break;
        if (metric != NULL && metric[0] != '\0' && strcmp(metric, m[i].metric) != 0)
            continue;
        if (written++)
            osp_buf_putc(&data, ',');
        osp_buf_json_cstr(&data, m[i].metric);
        osp_buf_puts(&data, ":[");
        if (lpm != 0) {
            osp_buf_puts(&data, "{\"type\":");
            osp_buf_json_cstr(&data, m[i].type);
            osp_buf_puts(&data, ",\"help\":");
            osp_buf_json_cstr(&data, m[i].help);
            osp_buf_puts(&data, ",\"unit\":");
            osp_buf_json_cstr(&data, m[i].unit);
            osp_buf_putc(&data, '}');
        }
        osp_buf_putc(&data, ']');
    }
    store_head_unlock(a->head);
    osp_buf_putc(&data, '}');
    reply_success(req, &data, NULL);
    osp_buf_fini(&data);
}

static void
h_buildinfo(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_buf data;
    osp_buf_init(&data);
    /* "2.42.0": the Prometheus version whose API we follow, for Grafana's
     * feature detection; no "features" key (Grafana would take us for Mimir) */
    osp_buf_puts(&data,
                 "{\"version\":\"2.42.0\",\"revision\":\"osprey-" OSPREY_VERSION
                 "\",\"branch\":\"osprey\",\"buildUser\":\"osprey\",\"buildDate\":\"" __DATE__
                 "\",\"goVersion\":\"none (osprey-store " OSPREY_VERSION ", C11)\"}");
    reply_success(req, &data, NULL);
    osp_buf_fini(&data);
}

static void
h_format_query(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_promql_expr *e = NULL;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (parse_query(req, &e, &ei) != 0) {
        reply_eval_error(req, OSP_EPARSE, &ei);
        return;
    }
    osp_buf f, data;
    osp_buf_init(&f);
    osp_buf_init(&data);
    osp_promql_format(e, &f);
    osp_buf_json_str(&data, f.data ? f.data : "", f.len);
    reply_success(req, &data, NULL);
    osp_buf_fini(&f);
    osp_buf_fini(&data);
    osp_promql_expr_free(e);
}

static void
h_exemplars(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_buf data;
    osp_buf_init(&data);
    osp_buf_puts(&data, "[]");
    reply_success(req, &data, NULL);
    osp_buf_fini(&data);
}

int
store_api_routes(osp_http_server *srv, store_api *a)
{
    const unsigned gp = OSP_HTTP_GET | OSP_HTTP_POST;
    struct {
        const char *path;
        unsigned methods;
        bool prefix;
        osp_http_handler fn;
    } routes[] = {
        {"/api/v1/query", gp, false, h_query},
        {"/api/v1/query_range", gp, false, h_query_range},
        {"/api/v1/series", gp, false, h_series},
        {"/api/v1/labels", gp, false, h_labels},
        {"/api/v1/label/", OSP_HTTP_GET | OSP_HTTP_POST, true, h_label_values},
        {"/api/v1/metadata", OSP_HTTP_GET, false, h_metadata},
        {"/api/v1/status/buildinfo", OSP_HTTP_GET, false, h_buildinfo},
        {"/api/v1/format_query", gp, false, h_format_query},
        {"/api/v1/query_exemplars", gp, false, h_exemplars},
        {"/api/v1/import/prometheus", OSP_HTTP_POST | OSP_HTTP_PUT, false, store_api_import},
        {"/api/v1/import/prometheus/", OSP_HTTP_POST | OSP_HTTP_PUT, true, store_api_import},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int rc = osp_http_route(srv, routes[i].methods, routes[i].path, routes[i].prefix,
                                routes[i].fn, a);
        if (rc != 0)
            return rc;
    }
    return 0;
}
