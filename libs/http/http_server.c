/* http_server.c - listener, routing (404/405), authentication and the
 * dispatch that guarantees one reply per request. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http_int.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define DEFAULT_MAX_BODY (64u * 1024 * 1024)

/* Split listen into host and port; host is written to hbuf. */
static int
parse_listen(const char *listen, char *hbuf, size_t hsz, int *port, osp_errinfo *ei)
{
    const char *host = "127.0.0.1";
    size_t hlen = strlen(host);
    const char *ps = listen;
    if (listen[0] == '[') {
        const char *rb = strchr(listen, ']');
        if (rb == NULL || rb[1] != ':')
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid listen address \"%s\"", listen);
        host = listen + 1;
        hlen = (size_t)(rb - host);
        ps = rb + 2;
    } else if (strchr(listen, ':') != NULL) {
        const char *c = strrchr(listen, ':');
        host = c == listen ? "0.0.0.0" : listen;
        hlen = c == listen ? strlen(host) : (size_t)(c - listen);
        ps = c + 1;
    }
    if (hlen == 0 || hlen >= hsz)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid listen address \"%s\"", listen);
    memcpy(hbuf, host, hlen);
    hbuf[hlen] = '\0';
    char *end;
    long p = *ps ? strtol(ps, &end, 10) : 0;
    if ((*ps && *end != '\0') || p < 0 || p > 65535)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid port in listen address \"%s\"",
                               listen);
    *port = (int)p;
    return 0;
}

static void on_request(struct evhttp_request *ev, void *arg);

int
osp_http_server_new(struct event_base *base, const char *listen, osp_http_server **out,
                    osp_errinfo *ei)
{
    char host[256];
    int port = 0, rc;
    if ((rc = parse_listen(listen ? listen : "", host, sizeof(host), &port, ei)) != 0)
        return rc;
    osp_http_server *srv = osp_calloc(1, sizeof(*srv));
    srv->base = base;
    srv->max_body = DEFAULT_MAX_BODY;
    srv->start_ms = osp_now_ms();
    srv->http = evhttp_new(base);
    if (srv->http == NULL) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "evhttp_new failed");
        goto fail;
    }
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)srv->max_body);
    evhttp_set_timeout(srv->http, 60);
    evhttp_set_gencb(srv->http, on_request, srv);
    errno = 0;
    srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (srv->sock == NULL) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot listen on %s: %s", listen,
                             errno ? strerror(errno) : "bind failed");
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(srv->sock), (struct sockaddr *)&ss, &sl) != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "getsockname: %s", strerror(errno));
        goto fail;
    }
    srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out = srv;
    return 0;
fail:
    osp_http_server_free(srv);
    return rc;
}

int
osp_http_server_port(const osp_http_server *srv)
{
    return srv->port;
}

static void
clear_auth(osp_http_server *srv)
{
    /* Wipe secrets before freeing them. */
    char *s[] = {srv->basic_user, srv->basic_pass, srv->bearer};
    for (size_t i = 0; i < 3; i++)
        if (s[i] != NULL) {
            explicit_bzero(s[i], strlen(s[i]));
            osp_free(s[i]);
        }
    srv->basic_user = srv->basic_pass = srv->bearer = NULL;
}

void
osp_http_server_free(osp_http_server *srv)
{
    if (srv == NULL)
        return;
    while (srv->suspended != NULL)
        osp_http_req_drop_(srv->suspended);
    if (srv->http != NULL)
        evhttp_free(srv->http);
    for (size_t i = 0; i < srv->nroutes; i++)
        osp_free(srv->routes[i].path);
    osp_free(srv->routes);
    clear_auth(srv);
    osp_free(srv);
}

void
osp_http_server_set_auth(osp_http_server *srv, const char *basic_user, const char *basic_pass,
                         const char *bearer_token)
{
    clear_auth(srv);
    if (basic_user != NULL && basic_pass != NULL) {
        srv->basic_user = osp_strdup(basic_user);
        srv->basic_pass = osp_strdup(basic_pass);
    }
    if (bearer_token != NULL)
        srv->bearer = osp_strdup(bearer_token);
}

void
osp_http_server_set_max_body(osp_http_server *srv, size_t max_bytes)
{
    srv->max_body = max_bytes;
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)max_bytes);
}

void
osp_http_server_set_timeout(osp_http_server *srv, int seconds)
{
    evhttp_set_timeout(srv->http, seconds);
}

void
osp_http_server_set_metrics(osp_http_server *srv, osp_metrics *reg)
{
    static const char *lc[] = {"handler", "code"};
    static const char *lh[] = {"handler"};
    static const double buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60};
    srv->metrics = reg;
    srv->m_requests = osp_metrics_counter_vec(reg, "osprey_http_requests_total",
                                              "HTTP requests by handler and status code.", 2, lc);
    srv->m_duration = osp_metrics_histogram_vec(reg, "osprey_http_request_duration_seconds",
                                                "HTTP request latency by handler.", buckets,
                                                sizeof(buckets) / sizeof(buckets[0]), 1, lh);
}

int
osp_http_route(osp_http_server *srv, unsigned methods, const char *path, bool prefix,
               osp_http_handler fn, void *ctx)
{
    if (path == NULL || path[0] != '/' || fn == NULL || methods == 0)
        return OSP_EINVAL;
    for (size_t i = 0; i < srv->nroutes; i++)
        if (srv->routes[i].prefix == prefix && strcmp(srv->routes[i].path, path) == 0)
            return OSP_EEXIST;
    srv->routes = osp_reallocarray(srv->routes, srv->nroutes + 1, sizeof(*srv->routes));
    srv->routes[srv->nroutes++] = (osp_http_route_ent){
        .path = osp_strdup(path),
        .len = strlen(path),
        .prefix = prefix,
        .methods = methods,
        .fn = fn,
        .ctx = ctx,
    };
    return 0;
}

/* Exact match first, then the longest prefix. */
static const osp_http_route_ent *
match_route(const osp_http_server *srv, const char *path)
{
    const osp_http_route_ent *best = NULL;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const osp_http_route_ent *r = &srv->routes[i];
        if (!r->prefix && strcmp(r->path, path) == 0)
            return r;
        if (r->prefix && strncmp(r->path, path, r->len) == 0 &&
            (best == NULL || r->len > best->len))
            best = r;
    }
    return best;
}

static unsigned
map_method(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return OSP_HTTP_GET;
    case EVHTTP_REQ_POST: return OSP_HTTP_POST;
    case EVHTTP_REQ_HEAD: return OSP_HTTP_HEAD;
    case EVHTTP_REQ_PUT: return OSP_HTTP_PUT;
    case EVHTTP_REQ_DELETE: return OSP_HTTP_DELETE;
    case EVHTTP_REQ_OPTIONS: return OSP_HTTP_OPTIONS;
    case EVHTTP_REQ_PATCH: return OSP_HTTP_PATCH;
    default: return 0;
    }
}

bool
osp_http_ct_eq_(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char d = alen != blen;
    for (size_t i = 0; i < blen; i++)
        d |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
    return d == 0;
}

static int
b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode base64 (padding optional) into out; false on bad input. */
static bool
b64decode(const char *s, osp_buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64val(*s);
        if (v < 0)
            return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            osp_buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    osp_buf_append(out, "", 0);
    return true;
}

static bool
check_basic(const osp_http_server *srv, const char *cred)
{
    osp_buf dec;
    osp_buf_init(&dec);
    bool ok = false;
    if (b64decode(cred, &dec)) {
        const char *colon = memchr(dec.data, ':', dec.len);
        if (colon != NULL) {
            size_t ul = (size_t)(colon - dec.data);
            bool u = osp_http_ct_eq_(dec.data, ul, srv->basic_user, strlen(srv->basic_user));
            bool p = osp_http_ct_eq_(colon + 1, dec.len - ul - 1, srv->basic_pass,
                                     strlen(srv->basic_pass));
            ok = u & p;
        }
    }
    if (dec.data != NULL)
        explicit_bzero(dec.data, dec.len);
    osp_buf_fini(&dec);
    return ok;
}

static bool
authorized(const osp_http_server *srv, const osp_http_req *req)
{
    if (srv->basic_user == NULL && srv->bearer == NULL)
        return true;
    const char *p = req->path;
    if (strcmp(p, "/health") == 0 || strcmp(p, "/ready") == 0 || strcmp(p, "/-/healthy") == 0 ||
        strcmp(p, "/-/ready") == 0)
        return true;
    const char *h = osp_http_req_header(req, "Authorization");
    if (h == NULL)
        return false;
    while (*h == ' ')
        h++;
    if (srv->basic_user != NULL && strncasecmp(h, "Basic ", 6) == 0)
        return check_basic(srv, h + 6 + strspn(h + 6, " "));
    if (srv->bearer != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7 + strspn(h + 7, " ");
        return osp_http_ct_eq_(t, strlen(t), srv->bearer, strlen(srv->bearer));
    }
    return false;
}

static void
reply_unauthorized(osp_http_server *srv, osp_http_req *req)
{
    if (srv->basic_user != NULL)
        osp_http_reply_header(req, "WWW-Authenticate", "Basic realm=\"osprey\"");
    if (srv->bearer != NULL)
        osp_http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"osprey\"");
    osp_http_reply(req, 401, NULL, OSP_LIT("Unauthorized\n"));
}

static void
reply_not_allowed(osp_http_req *req, unsigned methods)
{
    static const char *names[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"};
    char allow[128] = "";
    if (methods & OSP_HTTP_GET)
        methods |= OSP_HTTP_HEAD;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (methods & (1u << i)) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, names[i]);
        }
    }
    osp_http_reply_header(req, "Allow", allow);
    osp_http_reply(req, 405, NULL, OSP_LIT("Method Not Allowed\n"));
}

static void
on_request(struct evhttp_request *ev, void *arg)
{
    osp_http_server *srv = arg;
    osp_http_req *req = osp_http_req_new_(srv, ev);
    req->method = map_method(evhttp_request_get_command(ev));

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *rawpath = uri ? evhttp_uri_get_path(uri) : NULL;
    if (rawpath == NULL || rawpath[0] == '\0')
        rawpath = "/";
    osp_buf path;
    osp_buf_init(&path);
    if (osp_http_urldecode(rawpath, strlen(rawpath), false, &path) != 0) {
        osp_buf_fini(&path);
        req->path = "/";
        osp_http_reply_error_json(req, 400, "bad_data", "invalid URL escape in path");
        return;
    }
    osp_buf_append(&path, "", 0);
    req->path = osp_arena_strndup(req->arena, path.data, path.len);
    osp_buf_fini(&path);

    if (!authorized(srv, req)) {
        reply_unauthorized(srv, req);
        return;
    }
    const osp_http_route_ent *r = match_route(srv, req->path);
    if (r == NULL) {
        osp_http_reply(req, 404, NULL, OSP_LIT("404 page not found\n"));
        return;
    }
    req->route = r->path;
    unsigned allowed = r->methods;
    if ((allowed & OSP_HTTP_GET) && !(allowed & OSP_HTTP_HEAD) && req->method == OSP_HTTP_HEAD)
        allowed |= OSP_HTTP_HEAD;
    if (!(req->method & allowed)) {
        reply_not_allowed(req, r->methods);
        return;
    }
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    if (osp_http_req_load_params_(req, uri ? evhttp_uri_get_query(uri) : NULL, &ei) != 0) {
        osp_http_reply_error_json(req, 400, "bad_data", ei.msg);
        return;
    }
    /* The handler frees req by replying, so its fate is tracked in a flag
     * on this stack frame: 0 = neither replied nor suspended (a bug). */
    int state = 0;
    req->dispatch_state = &state;
    r->fn(req, r->ctx);
    if (state == 1) {
        req->dispatch_state = NULL;
    } else if (state == 0) {
        req->dispatch_state = NULL;
        osp_logf(OSP_LOG_ERROR, "http", "handler for %s returned without a reply (bug)", r->path);
        osp_http_reply(req, 500, NULL, OSP_LIT("internal error: no reply\n"));
    }
}
