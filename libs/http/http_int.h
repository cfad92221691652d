/* http_int.h - layout of the server and request objects, shared by the
 * http_*.c files; callers only see the opaque types of http.h. */
#ifndef OSP_HTTP_INT_H
#define OSP_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* OSP_LIT: a string literal as pointer, length. */
#define OSP_LIT(s) s, sizeof(s) - 1

struct evhttp;
struct evhttp_request;
struct evhttp_bound_socket;

typedef struct osp_http_route_ent {
    char *path;
    size_t len;
    bool prefix;
    unsigned methods;
    osp_http_handler fn;
    void *ctx;
} osp_http_route_ent;

struct osp_http_server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    osp_http_route_ent *routes;
    size_t nroutes;
    char *basic_user; /* auth secrets: never logged */
    char *basic_pass;
    char *bearer;
    size_t max_body;
    osp_metrics *metrics;
    osp_metric *m_requests;  /* counter vec {handler,code} */
    osp_metric *m_duration;  /* histogram vec {handler} */
    osp_http_req *suspended; /* list of requests waiting for a late reply */
    osp_http_std std;
    bool has_std;
    int64_t start_ms;
};

typedef struct osp_http_param {
    const char *name;
    const char *value;
} osp_http_param;

struct osp_http_req {
    osp_http_server *srv;
    struct evhttp_request *ev;
    osp_arena *arena;
    unsigned method;
    const char *path;
    const char *route; /* metrics handler label */
    osp_http_param *params;
    size_t nparams, capparams;
    struct evkeyvalq *out_headers;
    bool replied;
    bool suspended;
    bool body_loaded;
    const char *body;
    size_t body_len;
    int64_t start_ns;
    int *dispatch_state;       /* during the handler call: 1 suspended, 2 replied */
    osp_http_req *prev, *next; /* in srv->suspended while suspended */
};

/* http_req.c */
osp_http_req *osp_http_req_new_(osp_http_server *srv, struct evhttp_request *ev);
/* osp_http_req_load_params_: query string, then the form body; OSP_EPARSE with ei->msg. */
int osp_http_req_load_params_(osp_http_req *req, const char *query, osp_errinfo *ei);
/* osp_http_req_drop_: free a request's state without replying (server shutdown). */
void osp_http_req_drop_(osp_http_req *req);
/* osp_http_ct_eq_: constant-time equality (time depends only on b's length). */
bool osp_http_ct_eq_(const char *a, size_t alen, const char *b, size_t blen);

#endif
