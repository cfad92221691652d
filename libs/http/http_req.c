/* http_req.c - one request: merged parameters, headers, body, and the single
 * reply that ends it (gzip, metrics, debug log, freeing its arena). */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "http_int.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define GZIP_MIN 1024

osp_http_req *
osp_http_req_new_(osp_http_server *srv, struct evhttp_request *ev)
{
    osp_http_req *req = osp_calloc(1, sizeof(*req));
    req->srv = srv;
    req->ev = ev;
    req->arena = osp_arena_new(8192);
    req->start_ns = osp_mono_ns();
    req->route = "other";
    req->out_headers = evhttp_request_get_output_headers(ev);
    return req;
}

static void
add_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    osp_http_req *req = ctx;
    if (req->nparams == req->capparams) {
        size_t cap = req->capparams ? req->capparams * 2 : 8;
        osp_http_param *p = osp_arena_alloc(req->arena, cap * sizeof(*p));
        if (req->nparams > 0)
            memcpy(p, req->params, req->nparams * sizeof(*p));
        req->params = p;
        req->capparams = cap;
    }
    req->params[req->nparams].name = osp_arena_strndup(req->arena, name, nlen);
    req->params[req->nparams].value = osp_arena_strndup(req->arena, value, vlen);
    req->nparams++;
}

static bool
is_form(const osp_http_req *req)
{
    const char *ct = osp_http_req_header(req, "Content-Type");
    static const char form[] = "application/x-www-form-urlencoded";
    return ct != NULL && strncasecmp(ct, form, sizeof(form) - 1) == 0 &&
           (ct[sizeof(form) - 1] == '\0' || ct[sizeof(form) - 1] == ';' ||
            ct[sizeof(form) - 1] == ' ');
}

int
osp_http_req_load_params_(osp_http_req *req, const char *query, osp_errinfo *ei)
{
    if (query != NULL) {
        int rc = osp_http_parse_form(query, strlen(query), add_param, req, ei);
        if (rc != 0)
            return rc;
    }
    if ((req->method & (OSP_HTTP_POST | OSP_HTTP_PUT | OSP_HTTP_PATCH)) && is_form(req)) {
        const char *body;
        size_t len;
        osp_http_req_body(req, &body, &len);
        return osp_http_parse_form(body, len, add_param, req, ei);
    }
    return 0;
}

unsigned
osp_http_req_method(const osp_http_req *req)
{
    return req->method;
}

const char *
osp_http_req_path(const osp_http_req *req)
{
    return req->path;
}

const char *
osp_http_req_route(const osp_http_req *req)
{
    return req->route;
}

const char *
osp_http_req_param(const osp_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

size_t
osp_http_req_params(const osp_http_req *req, const char *name, const char ***vals)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nparams; i++)
        n += strcmp(req->params[i].name, name) == 0;
    if (n == 0) {
        *vals = NULL;
        return 0;
    }
    const char **v = osp_arena_alloc(req->arena, n * sizeof(*v));
    size_t j = 0;
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            v[j++] = req->params[i].value;
    *vals = v;
    return n;
}

const char *
osp_http_req_header(const osp_http_req *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

int
osp_http_req_body(const osp_http_req *req, const char **data, size_t *len)
{
    osp_http_req *r = (osp_http_req *)req;
    if (!r->body_loaded) {
        struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
        /* A trailing NUL (not counted) makes the body a C string, without a copy. */
        r->body_len = evbuffer_get_length(in);
        evbuffer_add(in, "", 1);
        r->body = (const char *)evbuffer_pullup(in, -1);
        r->body_loaded = true;
    }
    *data = r->body;
    *len = r->body_len;
    return 0;
}

int
osp_http_req_body_decoded(osp_http_req *req, const char **data, size_t *len, osp_errinfo *ei)
{
    const char *raw;
    size_t rawlen;
    osp_http_req_body(req, &raw, &rawlen);
    const char *enc = osp_http_req_header(req, "Content-Encoding");
    if (enc == NULL || *enc == '\0' || strcasecmp(enc, "identity") == 0) {
        *data = raw;
        *len = rawlen;
        return 0;
    }
    if (strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "x-gzip") != 0 &&
        strcasecmp(enc, "deflate") != 0)
        return osp_errinfo_set(ei, OSP_EPARSE, 0, 0, "unsupported Content-Encoding");
    osp_buf out;
    osp_buf_init(&out);
    int rc = osp_http_gunzip(raw, rawlen, req->srv->max_body, &out, ei);
    if (rc == 0) {
        osp_buf_append(&out, "", 0);
        char *copy = osp_arena_alloc(req->arena, out.len + 1);
        memcpy(copy, out.data, out.len + 1);
        *data = copy;
        *len = out.len;
    }
    osp_buf_fini(&out);
    return rc;
}

const char *
osp_http_req_peer(const osp_http_req *req)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req->ev);
    const char *addr = NULL;
    uint16_t port = 0;
    if (conn == NULL)
        return "";
    evhttp_connection_get_peer(conn, (char **)&addr, &port);
    char buf[128];
    snprintf(buf, sizeof(buf), strchr(addr ? addr : "", ':') ? "[%s]:%u" : "%s:%u",
             addr ? addr : "", (unsigned)port);
    return osp_arena_strndup(req->arena, buf, strlen(buf));
}

osp_arena *
osp_http_req_arena(osp_http_req *req)
{
    return req->arena;
}

static void
unlink_suspended(osp_http_req *req)
{
    if (!req->suspended)
        return;
    if (req->prev)
        req->prev->next = req->next;
    else
        req->srv->suspended = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->suspended = false;
}

void
osp_http_req_suspend(osp_http_req *req)
{
    if (req->suspended)
        return;
    if (req->dispatch_state != NULL)
        *req->dispatch_state = 1;
    req->suspended = true;
    req->prev = NULL;
    req->next = req->srv->suspended;
    if (req->next)
        req->next->prev = req;
    req->srv->suspended = req;
}

void
osp_http_req_drop_(osp_http_req *req)
{
    unlink_suspended(req);
    osp_arena_free(req->arena);
    osp_free(req);
}

void
osp_http_reply_header(osp_http_req *req, const char *name, const char *value)
{
    evhttp_add_header(req->out_headers, name, value);
}

static bool
accepts_gzip(const osp_http_req *req)
{
    const char *ae = osp_http_req_header(req, "Accept-Encoding");
    if (ae == NULL)
        return false;
    /* Token match; "gzip;q=0" is treated as a refusal. */
    for (const char *p = ae; (p = strcasestr(p, "gzip")) != NULL; p += 4) {
        bool start = p == ae || p[-1] == ' ' || p[-1] == ',';
        const char *q = p + 4;
        while (*q == ' ')
            q++;
        if (start && (*q == '\0' || *q == ',' || *q == ';')) {
            const char *qv = *q == ';' ? strstr(q, "q=") : NULL;
            return qv == NULL || strtod(qv + 2, NULL) > 0;
        }
    }
    return false;
}

static void
record(osp_http_req *req, int status)
{
    osp_http_server *srv = req->srv;
    double secs = (double)(osp_mono_ns() - req->start_ns) / 1e9;
    char code[16];
    snprintf(code, sizeof(code), "%d", status);
    if (srv->m_requests != NULL) {
        const char *lv[] = {req->route, code};
        osp_metric_inc(osp_metric_with(srv->m_requests, lv));
        const char *dv[] = {req->route};
        osp_metric_observe(osp_metric_with(srv->m_duration, dv), secs);
    }
    if (osp_log_enabled(OSP_LOG_DEBUG)) {
        char dur[32];
        snprintf(dur, sizeof(dur), "%.6f", secs);
        const char *m = evhttp_request_get_uri(req->ev);
        osp_log(OSP_LOG_DEBUG, "http", "request", "uri", m ? m : "", "code", code, "seconds", dur,
                NULL);
    }
}

void
osp_http_reply(osp_http_req *req, int status, const char *content_type, const void *body,
               size_t len)
{
    if (req->replied) {
        osp_logf(OSP_LOG_ERROR, "http", "second reply to %s ignored (bug)", req->path);
        return;
    }
    req->replied = true;
    if (req->dispatch_state != NULL)
        *req->dispatch_state = 2;
    evhttp_add_header(req->out_headers, "Content-Type",
                      content_type ? content_type : "text/plain; charset=utf-8");
    struct evbuffer *out = evbuffer_new();
    if (len > GZIP_MIN && accepts_gzip(req) &&
        evhttp_find_header(req->out_headers, "Content-Encoding") == NULL) {
        osp_buf z;
        osp_buf_init(&z);
        osp_http_gzip(body, len, &z);
        evbuffer_add(out, z.data, z.len);
        osp_buf_fini(&z);
        evhttp_add_header(req->out_headers, "Content-Encoding", "gzip");
        evhttp_add_header(req->out_headers, "Vary", "Accept-Encoding");
    } else if (len > 0) {
        evbuffer_add(out, body, len);
    }
    record(req, status);
    /* Late replies after the client left are freed by libevent (no connection). */
    evhttp_send_reply(req->ev, status, NULL, out);
    evbuffer_free(out);
    osp_http_req_drop_(req);
}

void
osp_http_reply_buf(osp_http_req *req, int status, const char *content_type, const osp_buf *body)
{
    osp_http_reply(req, status, content_type, body->data, body->len);
}

void
osp_http_reply_error_json(osp_http_req *req, int status, const char *error_type, const char *msg)
{
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_puts(&b, "{\"status\":\"error\",\"errorType\":");
    osp_buf_json_cstr(&b, error_type ? error_type : "internal");
    osp_buf_puts(&b, ",\"error\":");
    osp_buf_json_cstr(&b, msg ? msg : "");
    osp_buf_putc(&b, '}');
    osp_http_reply_buf(req, status, "application/json", &b);
    osp_buf_fini(&b);
}
