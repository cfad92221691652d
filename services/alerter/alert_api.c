/* alert_api.c - Alertmanager API v2 handlers (api/v2/openapi.yaml shapes). */
#include "alert_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_json.h"
#include "alert_notify.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define JSON "application/json"

static int
label_map(const alert_json *m, const char *what, bool names_strict, osp_labels *out, osp_buf *why)
{
    if (m->type != ALERT_JSON_OBJ) {
        osp_buf_printf(why, "%s must be an object", what);
        return OSP_EINVAL;
    }
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i];
        if (m->items[i]->type != ALERT_JSON_STR) {
            osp_buf_printf(why, "%s: value of \"%s\" must be a string", what, k);
            return OSP_EINVAL;
        }
        if (names_strict && !osp_label_name_valid(k, strlen(k))) {
            osp_buf_printf(why, "invalid label name \"%s\"", k);
            return OSP_EINVAL;
        }
        if (m->items[i]->len == 0)
            continue;
        osp_labels_add(out, k, strlen(k), m->items[i]->str, m->items[i]->len);
    }
    return 0;
}

static int
opt_time(const alert_json *o, const char *k, int64_t *out, osp_buf *why)
{
    const alert_json *v = alert_json_get(o, k);
    *out = 0;
    if (v == NULL || v->type == ALERT_JSON_NULL)
        return 0;
    if (v->type != ALERT_JSON_STR || osp_parse_api_time(osp_str_c(v->str), out)) {
        osp_buf_printf(why, "%s must be an RFC3339 time", k);
        return OSP_EINVAL;
    }
    /* Go's zero time ("0001-01-01T00:00:00Z") means unset */
    if (*out < -62000000000000LL)
        *out = 0;
    return 0;
}

/* One postable alert -> a sealed alert, or an error in why. */
static alert_alert *
build_alert(const alert_json *o, int64_t now, int64_t resolve_timeout, osp_buf *why)
{
    if (o->type != ALERT_JSON_OBJ) {
        osp_buf_puts(why, "alert must be an object");
        return NULL;
    }
    for (size_t i = 0; i < o->n; i++) {
        static const char *const known[] = {"labels", "annotations",  "startsAt",
                                            "endsAt", "generatorURL", NULL};
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = strcmp(known[k], o->keys[i]) == 0;
        if (!ok) {
            osp_buf_printf(why, "unknown field \"%s\"", o->keys[i]);
            return NULL;
        }
    }
    const alert_json *labels = alert_json_get(o, "labels");
    if (labels == NULL) {
        osp_buf_puts(why, "labels is required");
        return NULL;
    }
    alert_alert *a = alert_alert_new();
    const alert_json *ann = alert_json_get(o, "annotations");
    const alert_json *gu = alert_json_get(o, "generatorURL");
    if (label_map(labels, "labels", true, &a->labels, why) ||
        (ann && ann->type != ALERT_JSON_NULL &&
         label_map(ann, "annotations", false, &a->annotations, why)) ||
        opt_time(o, "startsAt", &a->starts_ms, why) || opt_time(o, "endsAt", &a->ends_ms, why))
        goto fail;
    if (a->labels.n == 0) {
        osp_buf_puts(why, "at least one label pair required");
        goto fail;
    }
    if (gu && gu->type != ALERT_JSON_NULL && gu->type != ALERT_JSON_STR) {
        osp_buf_puts(why, "generatorURL must be a string");
        goto fail;
    }
    a->generator_url = osp_strdup(gu && gu->type == ALERT_JSON_STR ? gu->str : "");
    /* Alertmanager's defaults for missing times */
    if (a->starts_ms == 0) {
        a->starts_ms = a->ends_ms && a->ends_ms < now ? a->ends_ms : now;
    }
    if (a->ends_ms == 0) {
        a->ends_ms = now + resolve_timeout;
        a->timeout = true;
    }
    if (a->ends_ms < a->starts_ms) {
        osp_buf_puts(why, "start time must be before end time");
        goto fail;
    }
    a->updated_ms = now;
    alert_alert_seal(a);
    return a;
fail:
    alert_alert_unref(a);
    return NULL;
}

size_t
alert_api_put_alerts(alert_api *api, const char *body, size_t len, osp_buf *errs)
{
    osp_arena *ar = osp_arena_new(0);
    alert_json *root;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    size_t ok = 0;
    if (alert_json_parse(body, len, ar, &root, &ei) != 0) {
        osp_buf_printf(errs, "invalid JSON at line %d column %d: %s", ei.line, ei.col, ei.msg);
        goto out;
    }
    if (root->type != ALERT_JSON_ARR) {
        osp_buf_printf(errs, "body must be a JSON array of alerts, not %s",
                       alert_json_type_name(root->type));
        goto out;
    }
    int64_t now = osp_now_ms();
    osp_buf why;
    osp_buf_init(&why);
    for (size_t i = 0; i < root->n; i++) {
        osp_buf_reset(&why);
        alert_alert *a = build_alert(root->items[i], now, (*api->cfgp)->resolve_timeout_ms, &why);
        if (a == NULL) {
            if (errs->len)
                osp_buf_puts(errs, "; ");
            osp_buf_printf(errs, "alert %zu (line %d): %s", i, root->items[i]->line,
                           osp_buf_cstr(&why));
            if (api->invalid)
                osp_metric_inc(api->invalid);
            continue;
        }
        alert_alert *stored;
        alert_store_merge(api->store, a, now, &stored);
        alert_dispatch_put(api->dispatch, stored);
        alert_alert_unref(a);
        ok++;
    }
    osp_buf_fini(&why);
    if (api->received)
        osp_metric_add(api->received, (double)ok);
out:
    osp_arena_free(ar);
    return ok;
}

static void
h_post_alerts(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    const char *body;
    size_t len;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = osp_http_req_body_decoded(req, &body, &len, &ei);
    if (rc) {
        osp_http_reply(req, rc == OSP_ELIMIT ? 413 : 400, NULL, ei.msg, strlen(ei.msg));
        return;
    }
    osp_buf errs;
    osp_buf_init(&errs);
    alert_api_put_alerts(a, body, len, &errs);
    if (errs.len) {
        osp_log(OSP_LOG_WARN, "api", "rejected alerts in POST /api/v2/alerts", "peer",
                osp_http_req_peer(req), "error", osp_buf_cstr(&errs), NULL);
        osp_http_reply_buf(req, 400, NULL, &errs);
    } else {
        osp_http_reply(req, 200, NULL, NULL, 0);
    }
    osp_buf_fini(&errs);
}

/* bool query parameter (default true). Returns false and replies 400 when bad. */
static bool
bool_param(osp_http_req *req, const char *name, bool *out)
{
    const char *v = osp_http_req_param(req, name);
    *out = true;
    if (v == NULL || !*v)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return true;
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return true;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "%s must be true or false", name);
    osp_http_reply(req, 400, NULL, msg, strlen(msg));
    return false;
}

static bool
filter_param(osp_http_req *req, alert_matchers *f)
{
    const char **v;
    size_t n = osp_http_req_params(req, "filter", &v);
    for (size_t i = 0; i < n; i++) {
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        if (alert_matchers_parse(f, v[i], &ei)) {
            osp_http_reply(req, 400, NULL, ei.msg, strlen(ei.msg));
            return false;
        }
    }
    return true;
}

typedef struct list_ctx {
    alert_api *api;
    alert_alert **v;
    size_t n, cap;
} list_ctx;

static void
collect(void *ctx, alert_alert *a)
{
    list_ctx *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = osp_reallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n++] = a;
}

static int
cmp_alert(const void *x, const void *y)
{
    const alert_alert *a = *(alert_alert *const *)x, *b = *(alert_alert *const *)y;
    return a->fp < b->fp ? -1 : a->fp > b->fp;
}

static void
h_get_alerts(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    bool active, silenced, inhibited, unprocessed;
    alert_matchers f;
    alert_matchers_init(&f);
    osp_matcher rcv_re;
    bool have_re = false;
    osp_arena *ar = osp_http_req_arena(req);
    if (!bool_param(req, "active", &active) || !bool_param(req, "silenced", &silenced) ||
        !bool_param(req, "inhibited", &inhibited) ||
        !bool_param(req, "unprocessed", &unprocessed) || !filter_param(req, &f))
        goto out;
    const char *rre = osp_http_req_param(req, "receiver");
    if (rre && *rre) {
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        if (osp_matcher_init(&rcv_re, OSP_MATCH_RE, "receiver", rre, ar, &ei)) {
            osp_http_reply(req, 400, NULL, ei.msg, strlen(ei.msg));
            goto out;
        }
        have_re = true;
    }
    list_ctx l = {.api = a};
    alert_store_each(a->store, collect, &l);
    osp_qsort(l.v, l.n, sizeof(*l.v), cmp_alert);
    int64_t now = osp_now_ms();
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_putc(&b, '[');
    bool first = true;
    for (size_t i = 0; i < l.n; i++) {
        alert_alert *x = l.v[i];
        if (alert_alert_resolved(x, now) || !alert_matchers_match(&f, &x->labels))
            continue;
        const char *rcv[16];
        size_t nr = alert_dispatch_receivers(a->dispatch, &x->labels, rcv, 16);
        if (have_re) {
            bool any = false;
            for (size_t k = 0; k < nr && !any; k++)
                any = osp_matcher_matches(&rcv_re, rcv[k]);
            if (!any)
                continue;
        }
        const char *sil[32];
        size_t ns = 0;
        uint64_t inh = 0;
        alert_dispatch_muted(a->dispatch, x, now, sil, 32, &ns, &inh);
        bool muted = ns > 0 || inh != 0;
        if ((!active && !muted) || (!silenced && ns > 0) || (!inhibited && inh != 0))
            continue;
        if (!first)
            osp_buf_putc(&b, ',');
        first = false;
        char t[48], fp[17];
        osp_buf_puts(&b, "{\"labels\":");
        osp_labels_json(&x->labels, &b);
        osp_buf_puts(&b, ",\"annotations\":");
        osp_labels_json(&x->annotations, &b);
        alert_fmt_time(x->starts_ms, t, sizeof(t));
        osp_buf_printf(&b, ",\"startsAt\":\"%s\"", t);
        alert_fmt_time(x->ends_ms, t, sizeof(t));
        osp_buf_printf(&b, ",\"endsAt\":\"%s\"", t);
        alert_fmt_time(x->updated_ms, t, sizeof(t));
        osp_buf_printf(&b, ",\"updatedAt\":\"%s\",\"generatorURL\":", t);
        osp_buf_json_cstr(&b, x->generator_url ? x->generator_url : "");
        alert_fp_str(x->fp, fp);
        osp_buf_printf(&b, ",\"fingerprint\":\"%s\",\"receivers\":[", fp);
        for (size_t k = 0; k < nr; k++) {
            osp_buf_puts(&b, k ? ",{\"name\":" : "{\"name\":");
            osp_buf_json_cstr(&b, rcv[k]);
            osp_buf_putc(&b, '}');
        }
        osp_buf_printf(&b, "],\"status\":{\"state\":\"%s\",\"silencedBy\":[",
                       muted ? "suppressed" : "active");
        for (size_t k = 0; k < ns && k < 32; k++) {
            if (k)
                osp_buf_putc(&b, ',');
            osp_buf_json_cstr(&b, sil[k]);
        }
        osp_buf_puts(&b, "],\"inhibitedBy\":[");
        if (inh) {
            alert_fp_str(inh, fp);
            osp_buf_printf(&b, "\"%s\"", fp);
        }
        osp_buf_puts(&b, "],\"mutedBy\":[]}}");
    }
    osp_buf_putc(&b, ']');
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
    osp_free(l.v);
out:
    alert_matchers_fini(&f);
}

static void
h_silences(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    if (osp_http_req_method(req) == OSP_HTTP_POST) {
        const char *body;
        size_t len;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        alert_json *j;
        char id[40];
        if (osp_http_req_body_decoded(req, &body, &len, &ei) ||
            alert_json_parse(body, len, osp_http_req_arena(req), &j, &ei)) {
            char msg[700];
            snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", ei.line, ei.col,
                     ei.msg);
            osp_http_reply(req, 400, NULL, msg, strlen(msg));
            return;
        }
        int rc = alert_silences_post(a->silences, j, osp_now_ms(), id, &ei);
        if (rc) {
            osp_http_reply(req, rc == OSP_ENOTFOUND ? 404 : 400, NULL, ei.msg, strlen(ei.msg));
            return;
        }
        osp_log(OSP_LOG_INFO, "silences", "silence created or updated", "id", id, NULL);
        char out[80];
        snprintf(out, sizeof(out), "{\"silenceID\":\"%s\"}", id);
        osp_http_reply(req, 200, JSON, out, strlen(out));
        return;
    }
    alert_matchers f;
    alert_matchers_init(&f);
    if (filter_param(req, &f)) {
        osp_buf b;
        osp_buf_init(&b);
        alert_silences_json(a->silences, &f, osp_now_ms(), &b);
        osp_http_reply_buf(req, 200, JSON, &b);
        osp_buf_fini(&b);
    }
    alert_matchers_fini(&f);
}

static void
h_silence_id(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    const char *id = osp_http_req_path(req) + strlen("/api/v2/silence/");
    int64_t now = osp_now_ms();
    if (osp_http_req_method(req) == OSP_HTTP_DELETE) {
        int rc = alert_silences_expire(a->silences, id, now);
        if (rc == OSP_ENOTFOUND) {
            osp_http_reply(req, 404, NULL, "silence not found", 17);
        } else if (rc) {
            osp_http_reply(req, 500, NULL, "silence already expired", 23);
        } else {
            osp_log(OSP_LOG_INFO, "silences", "silence expired", "id", id, NULL);
            osp_http_reply(req, 200, NULL, NULL, 0);
        }
        return;
    }
    const alert_silence *si = alert_silences_get(a->silences, id);
    if (si == NULL) {
        osp_http_reply(req, 404, NULL, "silence not found", 17);
        return;
    }
    osp_buf b;
    osp_buf_init(&b);
    alert_silence_json(si, now, &b);
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
h_status(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    char up[48];
    alert_fmt_time(a->started_ms, up, sizeof(up));
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "{\"cluster\":{\"name\":\"\",\"status\":\"disabled\",\"peers\":[]},"
                     "\"versionInfo\":{\"version\":\"" OSPREY_VERSION "\",\"revision\":\"\","
                     "\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"},"
                     "\"config\":{\"original\":");
    osp_buf_json_cstr(&b, (*a->cfgp)->original ? (*a->cfgp)->original : "");
    osp_buf_printf(&b, "},\"uptime\":\"%s\"}", up);
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
h_receivers(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_putc(&b, '[');
    for (size_t i = 0; i < (*a->cfgp)->nreceivers; i++) {
        osp_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        osp_buf_json_cstr(&b, (*a->cfgp)->receivers[i].name);
        osp_buf_putc(&b, '}');
    }
    osp_buf_putc(&b, ']');
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
h_alerts(osp_http_req *req, void *ctx)
{
    if (osp_http_req_method(req) == OSP_HTTP_POST)
        h_post_alerts(req, ctx);
    else
        h_get_alerts(req, ctx);
}

/* GET /api/v1/rules[?type=alert|record] in Prometheus' shape. */
static void
h_v1_rules(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    const char *type = osp_http_req_param(req, "type");
    alert_rules_filter f = ALERT_RULES_ALL;
    if (type && *type) {
        if (strcmp(type, "alert") == 0) {
            f = ALERT_RULES_ALERTING;
        } else if (strcmp(type, "record") == 0) {
            f = ALERT_RULES_RECORDING;
        } else {
            char msg[200];
            snprintf(msg, sizeof(msg), "invalid query parameter type='%.100s'", type);
            osp_http_reply_error_json(req, 400, "bad_data", msg);
            return;
        }
    }
    osp_buf b;
    osp_buf_init(&b);
    alert_rulemgr_rules_json(a->rulesp ? *a->rulesp : NULL, f, &b);
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

static void
h_v1_alerts(osp_http_req *req, void *ctx)
{
    alert_api *a = ctx;
    osp_buf b;
    osp_buf_init(&b);
    alert_rulemgr_alerts_json(a->rulesp ? *a->rulesp : NULL, &b);
    osp_http_reply_buf(req, 200, JSON, &b);
    osp_buf_fini(&b);
}

int
alert_api_routes(osp_http_server *srv, alert_api *a, osp_metrics *reg)
{
    a->received = osp_metrics_counter(reg, "osprey_alerter_alerts_received_total",
                                      "Alerts accepted on POST /api/v2/alerts.");
    a->invalid = osp_metrics_counter(reg, "osprey_alerter_alerts_invalid_total",
                                     "Alerts rejected on POST /api/v2/alerts.");
    int rc;
    if ((rc = osp_http_route(srv, OSP_HTTP_GET | OSP_HTTP_POST, "/api/v2/alerts", false, h_alerts,
                             a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET | OSP_HTTP_POST, "/api/v2/silences", false,
                             h_silences, a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET | OSP_HTTP_DELETE, "/api/v2/silence/", true,
                             h_silence_id, a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET, "/api/v2/status", false, h_status, a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET, "/api/v2/receivers", false, h_receivers, a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET, "/api/v1/rules", false, h_v1_rules, a)) ||
        (rc = osp_http_route(srv, OSP_HTTP_GET, "/api/v1/alerts", false, h_v1_alerts, a)))
        return rc;
    return 0;
}
