/* http.h - HTTP server helpers on libevent's evhttp: routing with 404/405,
 * merged query/form parameters, auth, gzip, one-reply-per-request, and the
 * standard endpoints every daemon serves (/metrics, /health, /ready, reload). */
#ifndef OSP_HTTP_H
#define OSP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"
#include "osp_arena.h"
#include "osp_buf.h"
#include "osp_err.h"

struct event_base;

typedef struct osp_http_server osp_http_server;
typedef struct osp_http_req osp_http_req;

/* Method bits for osp_http_route and osp_http_req_method. */
enum {
    OSP_HTTP_GET = 1u << 0,
    OSP_HTTP_POST = 1u << 1,
    OSP_HTTP_HEAD = 1u << 2,
    OSP_HTTP_PUT = 1u << 3,
    OSP_HTTP_DELETE = 1u << 4,
    OSP_HTTP_OPTIONS = 1u << 5,
    OSP_HTTP_PATCH = 1u << 6,
};

/* osp_http_handler: called on the server's loop for a routed request. It must
 * end in exactly one osp_http_reply* call, or call osp_http_req_suspend and
 * reply later (on the same loop). A handler that returns without either gets a
 * 500 reply and an error log line (a bug, but never a hung client). */
typedef void (*osp_http_handler)(osp_http_req *req, void *ctx);

/* osp_http_server_new: bind and listen on `listen`: "HOST:PORT", ":PORT" (all
 * interfaces), "[v6addr]:PORT", or "PORT" / "" (127.0.0.1:PORT / 127.0.0.1:0);
 * port 0 picks a free port (read it back with osp_http_server_port). The
 * server runs on base (borrowed; must outlive the server). Defaults: max body
 * 64 MiB (413 beyond), 60 s connection timeout, no auth, no routes.
 * Errors: OSP_EINVAL (bad address), OSP_EIO (bind/listen failed, ei->msg says
 * why). *out is written only on success. Loop thread. */
int osp_http_server_new(struct event_base *base, const char *listen, osp_http_server **out,
                        osp_errinfo *ei);

/* osp_http_server_port: the bound TCP port (after port 0 too). */
int osp_http_server_port(const osp_http_server *srv);

/* osp_http_server_free: close the listener and connections, free routes and
 * pending requests' state; NULL-safe. Loop thread, loop not running a handler. */
void osp_http_server_free(osp_http_server *srv);

/* osp_http_server_set_auth: require HTTP basic auth (user and pass both
 * non-NULL) and/or a bearer token (non-NULL); either one is accepted when both
 * are set; all NULL turns auth off. Strings are copied; compared in constant
 * time; never logged. Failure -> 401 with WWW-Authenticate. /health, /ready,
 * /-/healthy and /-/ready stay open. Loop thread (safe between requests, e.g.
 * on reload). */
void osp_http_server_set_auth(osp_http_server *srv, const char *basic_user, const char *basic_pass,
                              const char *bearer_token);

/* osp_http_server_set_max_body: largest accepted request body in bytes
 * (default 64 MiB); larger -> 413. */
void osp_http_server_set_max_body(osp_http_server *srv, size_t max_bytes);

/* osp_http_server_set_timeout: idle/read/write timeout of connections in
 * seconds (default 60). */
void osp_http_server_set_timeout(osp_http_server *srv, int seconds);

/* osp_http_server_set_metrics: record osprey_http_requests_total{handler,code}
 * and osprey_http_request_duration_seconds{handler} into reg (borrowed; must
 * outlive the server) for every request. osp_http_add_std calls this. */
void osp_http_server_set_metrics(osp_http_server *srv, osp_metrics *reg);

/* osp_http_route: register fn(req, ctx) for `methods` (OSP_HTTP_* bits) on
 * `path` (exact match; with prefix=true any path starting with it). Exact
 * routes win over prefixes, longer prefixes over shorter. A path that matches
 * but not its method -> 405 with Allow; no match -> 404. HEAD is answered by
 * GET routes when HEAD is not registered. path is copied; ctx borrowed.
 * Errors: OSP_EEXIST (same path/prefix registered twice), OSP_EINVAL. Loop thread. */
int osp_http_route(osp_http_server *srv, unsigned methods, const char *path, bool prefix,
                   osp_http_handler fn, void *ctx);

/* Request accessors: valid from handler entry until the reply is sent; the
 * returned strings are owned by the request (its arena). Loop thread. */

/* osp_http_req_method: one OSP_HTTP_* bit (0 for other methods). */
unsigned osp_http_req_method(const osp_http_req *req);
/* osp_http_req_path: percent-decoded path without query ("/api/v1/label/job/values"). */
const char *osp_http_req_path(const osp_http_req *req);
/* osp_http_req_route: the registered path/prefix that matched (the metrics' handler label). */
const char *osp_http_req_route(const osp_http_req *req);
/* osp_http_req_param: first value of parameter name from the query string and,
 * for POST/PUT with Content-Type application/x-www-form-urlencoded, the body
 * (query first, then body: Go's r.Form order); percent-decoded, '+' is space.
 * NULL when absent (an empty value is ""). */
const char *osp_http_req_param(const osp_http_req *req, const char *name);
/* osp_http_req_params: all values of name in that order (repeated `match[]`);
 * *vals (may be NULL when 0) points into the request arena. Returns the count. */
size_t osp_http_req_params(const osp_http_req *req, const char *name, const char ***vals);
/* osp_http_req_header: request header value (case-insensitive name) or NULL. */
const char *osp_http_req_header(const osp_http_req *req, const char *name);
/* osp_http_req_body: the whole raw body (not decompressed; see osp_http_gunzip).
 * *data is NUL-terminated for convenience, owned by the request. Returns 0
 * (len 0 when no body). */
int osp_http_req_body(const osp_http_req *req, const char **data, size_t *len);
/* osp_http_req_body_decoded: the body, gunzipped when Content-Encoding is gzip
 * (at most the server's max body size after decompression). Errors: OSP_ELIMIT
 * (too large; reply 413), OSP_EPARSE (corrupt gzip or unknown encoding; reply 400). */
int osp_http_req_body_decoded(osp_http_req *req, const char **data, size_t *len, osp_errinfo *ei);
/* osp_http_req_peer: "ip:port" of the client. */
const char *osp_http_req_peer(const osp_http_req *req);
/* osp_http_req_arena: per-request arena, reset after the reply is sent. */
osp_arena *osp_http_req_arena(osp_http_req *req);

/* osp_http_req_suspend: the handler will reply later (e.g. when a worker thread
 * finishes); the reply must still be made exactly once, on the loop thread. If
 * the client goes away meanwhile, the reply is silently discarded. */
void osp_http_req_suspend(osp_http_req *req);

/* Replies: exactly one per request; the request is gone after it (do not touch
 * req again). Loop thread. Bodies larger than 1 KiB are gzipped when the client
 * sent Accept-Encoding: gzip. content_type NULL -> "text/plain; charset=utf-8". */

/* osp_http_reply_header: add a response header (copied); before the reply. */
void osp_http_reply_header(osp_http_req *req, const char *name, const char *value);
/* osp_http_reply: status with body (copied; may be NULL when len is 0). */
void osp_http_reply(osp_http_req *req, int status, const char *content_type, const void *body,
                    size_t len);
/* osp_http_reply_buf: like osp_http_reply with body's bytes; body stays the
 * caller's (it is not freed). */
void osp_http_reply_buf(osp_http_req *req, int status, const char *content_type,
                        const osp_buf *body);
/* osp_http_reply_error_json: Prometheus' error shape
 * {"status":"error","errorType":"bad_data","error":"msg"} as application/json. */
void osp_http_reply_error_json(osp_http_req *req, int status, const char *error_type,
                               const char *msg);

/* osp_http_gunzip: decompress gzip (or zlib) data in[0..len) appended to out.
 * Errors: OSP_ELIMIT when the output would exceed max_out bytes, OSP_EPARSE on
 * corrupt or truncated input (ei->msg says why). Any thread. */
int osp_http_gunzip(const void *in, size_t len, size_t max_out, osp_buf *out, osp_errinfo *ei);
/* osp_http_gzip: compress in[0..len) as gzip appended to out. Any thread. */
void osp_http_gzip(const void *in, size_t len, osp_buf *out);

/* osp_http_urldecode: percent-decode s[0..n) appended to out ('+' becomes a
 * space when plus is true). Errors: OSP_EPARSE on a bad or truncated escape. */
int osp_http_urldecode(const char *s, size_t n, bool plus, osp_buf *out);

/* osp_http_form_fn: one decoded name=value pair (both NUL-terminated,
 * borrowed for the call). */
typedef void (*osp_http_form_fn)(void *ctx, const char *name, size_t nlen, const char *value,
                                 size_t vlen);
/* osp_http_parse_form: parse an application/x-www-form-urlencoded string or
 * query string ("a=1&b=x+y&match[]=up"): pairs split on '&', empty pairs
 * skipped, a pair without '=' has value "". Calls fn per pair in order.
 * Errors: OSP_EPARSE on a bad escape (ei->msg names it; pairs before it were
 * delivered). Any thread. */
int osp_http_parse_form(const char *s, size_t n, osp_http_form_fn fn, void *ctx, osp_errinfo *ei);

/* The standard endpoints of a daemon. All callbacks run on the loop thread;
 * any may be NULL. Strings and ctx are borrowed and must outlive the server. */
typedef struct osp_http_std {
    const char *service;  /* e.g. "store" */
    const char *version;  /* e.g. OSPREY_VERSION */
    osp_metrics *metrics; /* rendered on GET /metrics; NULL -> 404 there */
    /* ready: true when ready; else append the reason to why. NULL = always ready. */
    bool (*ready)(void *ctx, osp_buf *why);
    /* health_checks: append JSON object members, e.g. "\"postgres\":\"ok\"". */
    void (*health_checks)(void *ctx, osp_buf *json_object_members);
    /* reload: 0 on success, else an osp_err with a message in msg. NULL -> 404 on /-/reload. */
    int (*reload)(void *ctx, osp_buf *msg);
    void *ctx;
} osp_http_std;

/* osp_http_add_std: register GET /metrics (std->metrics; also calls
 * osp_http_server_set_metrics), GET /health (JSON {"status":"ok"|"degraded",
 * "service":...,"version":...,"uptime_seconds":...,"checks":{...}}, 200 when
 * ready else 503), GET /ready and /-/ready (200 "ready" or 503 with the reason),
 * GET /-/healthy (200 "healthy"), POST /-/reload (200 "reloaded" or 500 with
 * the message). std is copied. Errors: OSP_EEXIST when a path is taken. */
int osp_http_add_std(osp_http_server *srv, const osp_http_std *std);

#endif
