/* store_import.c - POST /api/v1/import/prometheus (VictoriaMetrics style):
 * text exposition with millisecond timestamps, extra_label and timestamp
 * parameters, a pushgateway-like /metrics/job/<job>/... path suffix. The
 * import becomes an Envelope of its own producer ("import/<store_id>/<boot
 * ms>", rising seq) and takes the same durable path as bus batches, on the
 * HTTP loop's own PostgreSQL connection: the reply comes after COMMIT. */
#include <string.h>

#include "bus_pb.h"
#include "expfmt.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_api.h"
#include "store_apply.h"
#include "store_params.h"

#define MAX_LISTED_ERRORS 20

typedef struct import_ctx {
    osp_mbatch *b;
    osp_labels extra; /* extra_label and path labels: override the line's */
    osp_labels ls;    /* scratch */
    int64_t default_ts;
    osp_buf errors;
    size_t nerrors;
    size_t nsamples;
} import_ctx;

static int
on_sample(void *ctx, const osp_expfmt_sample *s)
{
    import_ctx *ic = ctx;
    osp_labels_reset(&ic->ls);
    osp_labels_add(&ic->ls, "__name__", 8, s->name.p, s->name.n);
    for (size_t i = 0; i < s->nlabels; i++) {
        char name[256];
        if (s->labels[i].name.n >= sizeof(name))
            continue; /* an overlong name is rejected by validation anyway */
        memcpy(name, s->labels[i].name.p, s->labels[i].name.n);
        name[s->labels[i].name.n] = '\0';
        if (osp_labels_get(&ic->extra, name) != NULL)
            continue;
        osp_labels_add(&ic->ls, s->labels[i].name.p, s->labels[i].name.n, s->labels[i].value.p,
                       s->labels[i].value.n);
    }
    for (size_t i = 0; i < ic->extra.n; i++)
        osp_labels_set(&ic->ls, ic->extra.v[i].name, ic->extra.v[i].value);
    osp_labels_sort(&ic->ls);
    int64_t ts = s->has_ts ? s->ts_ms : ic->default_ts;
    double v = s->value;
    osp_mbatch_add_series(ic->b, &ic->ls, &ts, &v, 1);
    ic->nsamples++;
    return 0;
}

static int
on_meta(void *ctx, const osp_expfmt_meta *m)
{
    import_ctx *ic = ctx;
    char *name = osp_strndup(m->name.p, m->name.n);
    char *help = osp_strndup(m->help.p, m->help.n);
    char *unit = osp_strndup(m->unit.p, m->unit.n);
    const char *type = m->type == OSP_EXPFMT_TYPE_NONE || m->type == OSP_EXPFMT_TYPE_UNTYPED
                           ? "unknown"
                           : osp_expfmt_type_name(m->type);
    osp_mbatch_add_meta(ic->b, name, type, help, unit);
    osp_free(name);
    osp_free(help);
    osp_free(unit);
    return 0;
}

static void
on_error(void *ctx, const osp_expfmt_error *e)
{
    import_ctx *ic = ctx;
    if (ic->nerrors++ < MAX_LISTED_ERRORS)
        osp_buf_printf(&ic->errors, "%sline %d: %s", ic->nerrors > 1 ? "; " : "", e->line, e->msg);
}

/* Path labels after /api/v1/import/prometheus/metrics: /name/value pairs. */
static bool
path_labels(const char *path, osp_labels *out)
{
    const char *base = "/api/v1/import/prometheus";
    const char *p = path + strlen(base);
    if (*p == '\0' || strcmp(p, "/") == 0)
        return true;
    if (strncmp(p, "/metrics", 8) != 0 || (p[8] != '\0' && p[8] != '/'))
        return false;
    p += 8;
    while (*p == '/') {
        const char *n = p + 1, *ne = strchr(n, '/');
        if (ne == NULL || ne == n)
            return *n == '\0';
        const char *v = ne + 1, *ve = strchr(v, '/');
        size_t vlen = ve ? (size_t)(ve - v) : strlen(v);
        if (!osp_label_name_valid(n, (size_t)(ne - n)))
            return false;
        char *name = osp_strndup(n, (size_t)(ne - n));
        char *value = osp_strndup(v, vlen);
        osp_labels_set(out, name, value);
        osp_free(name);
        osp_free(value);
        p = v + vlen;
    }
    return *p == '\0';
}

static bool
extra_labels(osp_http_req *req, osp_labels *out, osp_buf *msg)
{
    const char **v = NULL;
    size_t n = osp_http_req_params(req, "extra_label", &v);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(v[i], '=');
        if (eq == NULL || !osp_label_name_valid(v[i], (size_t)(eq - v[i]))) {
            osp_buf_printf(msg, "invalid parameter \"extra_label\": \"%s\" is not name=value",
                           v[i]);
            return false;
        }
        char *name = osp_strndup(v[i], (size_t)(eq - v[i]));
        osp_labels_set(out, name, eq + 1);
        osp_free(name);
    }
    return true;
}

/* Wraps the packed MetricBatch into a packed Envelope of the import producer. */
static int
commit_batch(store_api *a, const osp_buf *mb_bytes, osp_errinfo *ei)
{
    Osprey__MetricBatch *mb =
        osprey__metric_batch__unpack(NULL, mb_bytes->len, (const uint8_t *)mb_bytes->data);
    if (mb == NULL)
        return osp_errinfo_set(ei, OSP_EINTERNAL, 0, 0, "cannot re-read the built batch");
    Osprey__Envelope env = OSPREY__ENVELOPE__INIT;
    env.producer_id = a->import_producer;
    env.seq = ++a->import_seq;
    env.sent_ms = osp_now_ms();
    env.payload_case = OSPREY__ENVELOPE__PAYLOAD_METRICS;
    env.metrics = mb;
    size_t len = osprey__envelope__get_packed_size(&env);
    uint8_t *raw = osp_malloc(len ? len : 1);
    osprey__envelope__pack(&env, raw);
    store_item item = {.env = &env, .raw = raw, .raw_len = len};
    int rc = store_pg_connect(a->import_pg, ei);
    if (rc == 0) {
        int64_t min_t = a->ingest ? store_ingest_min_t(a->ingest) : INT64_MIN;
        rc = store_commit_group(a->import_pg, a->head, a->stats, &item, 1, min_t, ei);
    }
    osp_free(raw);
    osprey__metric_batch__free_unpacked(mb, NULL);
    return rc;
}

void
store_api_import(osp_http_req *req, void *ctx)
{
    store_api *a = ctx;
    import_ctx ic = {.b = osp_mbatch_new()};
    osp_labels_init(&ic.extra);
    osp_labels_init(&ic.ls);
    osp_buf_init(&ic.errors);
    osp_buf msg, mb_bytes;
    osp_buf_init(&msg);
    osp_buf_init(&mb_bytes);
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    const char *body;
    size_t len;

    if (!path_labels(osp_http_req_path(req), &ic.extra)) {
        osp_http_reply_error_json(req, 404, "not_found", "bad import path");
        goto out;
    }
    if (!extra_labels(req, &ic.extra, &msg) ||
        store_param_ms("timestamp", osp_http_req_param(req, "timestamp"), osp_now_ms(),
                       &ic.default_ts, &msg)) {
        osp_http_reply_error_json(req, 400, "bad_data", osp_buf_cstr(&msg));
        goto out;
    }
    if (a->import_pg == NULL || !store_api_ready(a) ||
        (a->ingest != NULL && !store_ingest_pg_up(a->ingest))) {
        osp_http_reply_error_json(req, 503, "unavailable", "store is not ready for imports");
        goto out;
    }
    int rc = osp_http_req_body_decoded(req, &body, &len, &ei);
    if (rc != 0) {
        osp_http_reply_error_json(req, rc == OSP_ELIMIT ? 413 : 400, "bad_data", ei.msg);
        goto out;
    }
    osp_expfmt_handler h = {.ctx = &ic, .sample = on_sample, .meta = on_meta, .error = on_error};
    osp_expfmt_dialect d =
        osp_expfmt_dialect_from_content_type(osp_http_req_header(req, "Content-Type"));
    osp_expfmt_parse(d, body, len, &h, NULL);
    if (ic.nsamples > 0 || osp_mbatch_packed_size(ic.b) > 0) {
        osp_mbatch_encode(ic.b, &mb_bytes);
        if ((rc = commit_batch(a, &mb_bytes, &ei)) != 0) {
            osp_log(OSP_LOG_WARN, "store.import", "import not committed", "error", ei.msg, NULL);
            osp_http_reply_error_json(req, 503, "unavailable", ei.msg);
            goto out;
        }
    }
    if (ic.nerrors > 0) {
        if (ic.nerrors > MAX_LISTED_ERRORS)
            osp_buf_printf(&ic.errors, "; and %zu more", ic.nerrors - MAX_LISTED_ERRORS);
        osp_buf_printf(&msg, "%zu samples imported, %zu lines rejected: %s", ic.nsamples,
                       ic.nerrors, osp_buf_cstr(&ic.errors));
        osp_http_reply_error_json(req, 400, "bad_data", osp_buf_cstr(&msg));
        goto out;
    }
    osp_http_reply(req, 204, NULL, NULL, 0);
out:
    osp_mbatch_free(ic.b);
    osp_labels_fini(&ic.extra);
    osp_labels_fini(&ic.ls);
    osp_buf_fini(&ic.errors);
    osp_buf_fini(&msg);
    osp_buf_fini(&mb_bytes);
}
