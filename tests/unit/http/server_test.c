/* server_test.c - a real evhttp server on 127.0.0.1:0 in a loop thread,
 * driven by libcurl: params (GET + POST form, repeated match[]), 404/405,
 * auth, standard endpoints, gzip, body limits, suspended and missing replies. */
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "osp_test.h"

typedef struct fixture {
    struct event_base *base;
    osp_http_server *srv;
    osp_metrics *reg;
    pthread_t loop;
    bool ready;
    int reload_rc;
    char url[64];
} fixture;

typedef struct response {
    long code;
    osp_buf body;
    osp_buf headers;
} response;

/* ---- handlers ---------------------------------------------------------- */

static void
h_echo(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_buf b;
    osp_buf_init(&b);
    const char **vals;
    size_t n = osp_http_req_params(req, "match[]", &vals);
    const char *q = osp_http_req_param(req, "query");
    osp_buf_printf(&b, "path=%s query=%s n=%zu", osp_http_req_path(req), q ? q : "(null)", n);
    for (size_t i = 0; i < n; i++)
        osp_buf_printf(&b, " [%s]", vals[i]);
    osp_http_reply_buf(req, 200, NULL, &b);
    osp_buf_fini(&b);
}

static void
h_big(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_buf b;
    osp_buf_init(&b);
    for (int i = 0; i < 500; i++)
        osp_buf_printf(&b, "row %d\n", i);
    osp_http_reply_header(req, "X-Test", "yes");
    osp_http_reply_buf(req, 200, "text/plain", &b);
    osp_buf_fini(&b);
}

static void
h_body(osp_http_req *req, void *ctx)
{
    (void)ctx;
    const char *data;
    size_t len;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int rc = osp_http_req_body_decoded(req, &data, &len, &ei);
    if (rc == OSP_ELIMIT) {
        osp_http_reply_error_json(req, 413, "bad_data", ei.msg);
        return;
    }
    if (rc != 0) {
        osp_http_reply_error_json(req, 400, "bad_data", ei.msg);
        return;
    }
    osp_http_reply(req, 200, NULL, data, len);
}

static void
h_noreply(osp_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

static void
late_reply(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    osp_http_reply(arg, 202, NULL, "later", 5);
}

static void
h_suspend(osp_http_req *req, void *ctx)
{
    fixture *fx = ctx;
    osp_http_req_suspend(req);
    struct timeval tv = {0, 20000};
    event_base_once(fx->base, -1, EV_TIMEOUT, late_reply, req, &tv);
}

static void
h_error(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_http_reply_error_json(req, 400, "bad_data",
                              "invalid parameter \"query\": 1:1: parse error");
}

static bool
ready_cb(void *ctx, osp_buf *why)
{
    fixture *fx = ctx;
    if (!fx->ready)
        osp_buf_puts(why, "postgres: not connected");
    return fx->ready;
}

static void
checks_cb(void *ctx, osp_buf *out)
{
    fixture *fx = ctx;
    osp_buf_printf(out, "\"postgres\":\"%s\"", fx->ready ? "ok" : "down");
}

static int
reload_cb(void *ctx, osp_buf *msg)
{
    fixture *fx = ctx;
    if (fx->reload_rc != 0)
        osp_buf_puts(msg, "config.yml:3:1: foo: unknown key");
    return fx->reload_rc;
}

/* ---- fixture ----------------------------------------------------------- */

static void *
loop_main(void *p)
{
    fixture *fx = p;
    event_base_loop(fx->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    fx->base = event_base_new();
    fx->reg = osp_metrics_new();
    fx->ready = true;
    osp_errinfo ei;
    assert_int_equal(osp_http_server_new(fx->base, "127.0.0.1:0", &fx->srv, &ei), 0);
    int port = osp_http_server_port(fx->srv);
    assert_true(port > 0);
    snprintf(fx->url, sizeof(fx->url), "http://127.0.0.1:%d", port);
    assert_int_equal(
        osp_http_route(fx->srv, OSP_HTTP_GET | OSP_HTTP_POST, "/api/v1/query", false, h_echo, fx),
        0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/api/v1/label/", true, h_echo, fx), 0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/api/v1/label/", true, h_echo, fx),
                     OSP_EEXIST);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/big", false, h_big, fx), 0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_POST, "/body", false, h_body, fx), 0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/noreply", false, h_noreply, fx), 0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/suspend", false, h_suspend, fx), 0);
    assert_int_equal(osp_http_route(fx->srv, OSP_HTTP_GET, "/error", false, h_error, fx), 0);
    osp_http_std std = {
        .service = "test",
        .version = "1.2.3",
        .metrics = fx->reg,
        .ready = ready_cb,
        .health_checks = checks_cb,
        .reload = reload_cb,
        .ctx = fx,
    };
    assert_int_equal(osp_http_add_std(fx->srv, &std), 0);
    pthread_create(&fx->loop, NULL, loop_main, fx);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fixture *fx = *state;
    event_base_loopbreak(fx->base);
    pthread_join(fx->loop, NULL);
    osp_http_server_free(fx->srv);
    osp_metrics_free(fx->reg);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
    osp_buf_append(ud, p, size * n);
    return size * n;
}

/* do_request: method "GET"/"POST"/...; body may be NULL; extra headers NULL-terminated. */
static void
do_request(fixture *fx, const char *method, const char *path, const char *body, size_t blen,
           const char *const *hdrs, const char *userpwd, bool gzip, response *r)
{
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof(url), "%s%s", fx->url, path);
    osp_buf_init(&r->body);
    osp_buf_init(&r->headers);
    struct curl_slist *sl = NULL;
    for (size_t i = 0; hdrs != NULL && hdrs[i] != NULL; i++)
        sl = curl_slist_append(sl, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
    }
    if (sl != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    if (userpwd != NULL)
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    if (gzip)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    osp_buf_append(&r->body, "", 0);
    osp_buf_append(&r->headers, "", 0);
}

static void
get(fixture *fx, const char *path, response *r)
{
    do_request(fx, "GET", path, NULL, 0, NULL, NULL, false, r);
}

static void
resp_fini(response *r)
{
    osp_buf_fini(&r->body);
    osp_buf_fini(&r->headers);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_params(void **state)
{
    fixture *fx = *state;
    response r;
    get(fx, "/api/v1/query?query=sum%28up%29+by+%28job%29&match[]=a&match%5B%5D=b", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "path=/api/v1/query query=sum(up) by (job) n=2 [a] [b]");
    resp_fini(&r);

    /* POST form: query string first, then the body (Go's r.Form order). */
    static const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    const char *body = "match[]=%7Bjob%3D%22x%22%7D&query=up";
    do_request(fx, "POST", "/api/v1/query?match[]=q", body, strlen(body), form, NULL, false, &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "path=/api/v1/query query=up n=2 [q] [{job=\"x\"}]");
    resp_fini(&r);

    /* A body that is not a form is not parsed. */
    static const char *json[] = {"Content-Type: application/json", NULL};
    do_request(fx, "POST", "/api/v1/query", "query=x", 7, json, NULL, false, &r);
    assert_string_equal(r.body.data, "path=/api/v1/query query=(null) n=0");
    resp_fini(&r);

    /* Decoded path through a prefix route. */
    get(fx, "/api/v1/label/a%2Fb/values", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "path=/api/v1/label/a/b/values query=(null) n=0");
    resp_fini(&r);

    /* Bad escapes are a 400 in Prometheus' error shape. */
    get(fx, "/api/v1/query?query=%zz", &r);
    assert_int_equal(r.code, 400);
    assert_non_null(strstr(r.body.data, "\"errorType\":\"bad_data\""));
    resp_fini(&r);
}

static void
test_not_found_not_allowed(void **state)
{
    fixture *fx = *state;
    response r;
    get(fx, "/nope", &r);
    assert_int_equal(r.code, 404);
    resp_fini(&r);
    do_request(fx, "DELETE", "/api/v1/query", NULL, 0, NULL, NULL, false, &r);
    assert_int_equal(r.code, 405);
    assert_non_null(strstr(r.headers.data, "Allow: GET, POST, HEAD"));
    resp_fini(&r);
    do_request(fx, "HEAD", "/big", NULL, 0, NULL, NULL, false, &r);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.body.len, 0);
    resp_fini(&r);
}

static void
test_error_json(void **state)
{
    fixture *fx = *state;
    response r;
    get(fx, "/error", &r);
    assert_int_equal(r.code, 400);
    assert_string_equal(r.body.data, "{\"status\":\"error\",\"errorType\":\"bad_data\","
                                     "\"error\":\"invalid parameter \\\"query\\\": 1:1: parse "
                                     "error\"}");
    assert_non_null(strstr(r.headers.data, "Content-Type: application/json"));
    resp_fini(&r);
}

static void
test_auth(void **state)
{
    fixture *fx = *state;
    osp_http_server_set_auth(fx->srv, "admin", "s3cret", "tok123");
    response r;
    get(fx, "/api/v1/query", &r);
    assert_int_equal(r.code, 401);
    assert_non_null(strstr(r.headers.data, "WWW-Authenticate: Basic"));
    resp_fini(&r);
    do_request(fx, "GET", "/api/v1/query", NULL, 0, NULL, "admin:wrong", false, &r);
    assert_int_equal(r.code, 401);
    resp_fini(&r);
    do_request(fx, "GET", "/api/v1/query", NULL, 0, NULL, "admin:s3cret", false, &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
    static const char *bearer[] = {"Authorization: Bearer tok123", NULL};
    do_request(fx, "GET", "/api/v1/query", NULL, 0, bearer, NULL, false, &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
    static const char *badbearer[] = {"Authorization: Bearer tok12", NULL};
    do_request(fx, "GET", "/api/v1/query", NULL, 0, badbearer, NULL, false, &r);
    assert_int_equal(r.code, 401);
    resp_fini(&r);
    /* Unknown paths are not revealed without credentials. */
    get(fx, "/nope", &r);
    assert_int_equal(r.code, 401);
    resp_fini(&r);
    /* Health endpoints stay open. */
    get(fx, "/health", &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
    get(fx, "/-/ready", &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
    get(fx, "/metrics", &r);
    assert_int_equal(r.code, 401);
    resp_fini(&r);
    osp_http_server_set_auth(fx->srv, NULL, NULL, NULL);
    get(fx, "/api/v1/query", &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
}

static void
test_std_endpoints(void **state)
{
    fixture *fx = *state;
    response r;
    get(fx, "/health", &r);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body.data, "{\"status\":\"ok\",\"service\":\"test\","
                                        "\"version\":\"1.2.3\",\"uptime_seconds\":"));
    assert_non_null(strstr(r.body.data, "\"checks\":{\"postgres\":\"ok\"}}"));
    resp_fini(&r);
    get(fx, "/ready", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body.data, "ready\n");
    resp_fini(&r);
    get(fx, "/-/healthy", &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);

    fx->ready = false;
    get(fx, "/ready", &r);
    assert_int_equal(r.code, 503);
    assert_string_equal(r.body.data, "postgres: not connected\n");
    resp_fini(&r);
    get(fx, "/health", &r);
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body.data, "\"status\":\"degraded\""));
    assert_non_null(strstr(r.body.data, "\"checks\":{\"postgres\":\"down\"}"));
    resp_fini(&r);
    fx->ready = true;

    do_request(fx, "POST", "/-/reload", "", 0, NULL, NULL, false, &r);
    assert_int_equal(r.code, 200);
    resp_fini(&r);
    fx->reload_rc = OSP_EINVAL;
    do_request(fx, "POST", "/-/reload", "", 0, NULL, NULL, false, &r);
    assert_int_equal(r.code, 500);
    assert_string_equal(r.body.data, "config.yml:3:1: foo: unknown key\n");
    resp_fini(&r);
    get(fx, "/-/reload", &r);
    assert_int_equal(r.code, 405);
    resp_fini(&r);

    get(fx, "/metrics", &r);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.headers.data, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body.data, "# TYPE osprey_http_requests_total counter\n"));
    assert_non_null(
        strstr(r.body.data, "osprey_http_requests_total{handler=\"/ready\",code=\"503\"} 1\n"));
    assert_non_null(
        strstr(r.body.data, "osprey_http_requests_total{handler=\"/-/reload\",code=\"500\"} 1\n"));
    assert_non_null(strstr(r.body.data, "osprey_http_request_duration_seconds_bucket{handler="
                                        "\"/health\",le=\"0.005\"}"));
    resp_fini(&r);
}

static void
test_gzip(void **state)
{
    fixture *fx = *state;
    response r;
    do_request(fx, "GET", "/big", NULL, 0, NULL, NULL, true, &r);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.headers.data, "Content-Encoding: gzip"));
    assert_non_null(strstr(r.headers.data, "X-Test: yes"));
    assert_non_null(strstr(r.body.data, "row 0\nrow 1\n")); /* curl decoded it */
    assert_non_null(strstr(r.body.data, "row 499\n"));
    resp_fini(&r);
    get(fx, "/big", &r);
    assert_null(strstr(r.headers.data, "Content-Encoding"));
    resp_fini(&r);
    /* Small bodies stay plain. */
    do_request(fx, "GET", "/ready", NULL, 0, NULL, NULL, true, &r);
    assert_null(strstr(r.headers.data, "Content-Encoding"));
    resp_fini(&r);
    /* gzip;q=0 is a refusal. */
    static const char *q0[] = {"Accept-Encoding: gzip;q=0", NULL};
    do_request(fx, "GET", "/big", NULL, 0, q0, NULL, false, &r);
    assert_null(strstr(r.headers.data, "Content-Encoding"));
    resp_fini(&r);
}

static void
test_body_limits(void **state)
{
    fixture *fx = *state;
    osp_http_server_set_max_body(fx->srv, 1000);
    char big[2000];
    memset(big, 'x', sizeof(big));
    response r;
    do_request(fx, "POST", "/body", big, sizeof(big), NULL, NULL, false, &r);
    assert_int_equal(r.code, 413);
    resp_fini(&r);
    do_request(fx, "POST", "/body", big, 900, NULL, NULL, false, &r);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.body.len, 900);
    resp_fini(&r);

    /* A gzip body is decoded, and bounded after decompression too. */
    static const char *gz[] = {"Content-Encoding: gzip", NULL};
    osp_buf z;
    osp_buf_init(&z);
    osp_http_gzip(big, 900, &z);
    do_request(fx, "POST", "/body", z.data, z.len, gz, NULL, false, &r);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.body.len, 900);
    resp_fini(&r);
    osp_buf_reset(&z);
    osp_http_gzip(big, sizeof(big), &z);
    do_request(fx, "POST", "/body", z.data, z.len, gz, NULL, false, &r);
    assert_int_equal(r.code, 413);
    resp_fini(&r);
    do_request(fx, "POST", "/body", "garbage", 7, gz, NULL, false, &r);
    assert_int_equal(r.code, 400);
    resp_fini(&r);
    osp_buf_fini(&z);
    osp_http_server_set_max_body(fx->srv, 64u << 20);
}

static void
test_suspend_and_missing_reply(void **state)
{
    fixture *fx = *state;
    response r;
    get(fx, "/suspend", &r);
    assert_int_equal(r.code, 202);
    assert_string_equal(r.body.data, "later");
    resp_fini(&r);
    get(fx, "/noreply", &r);
    assert_int_equal(r.code, 500);
    resp_fini(&r);
}

static void
test_listen_forms(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    osp_http_server *s = NULL;
    osp_errinfo ei;
    assert_int_equal(osp_http_server_new(base, "0", &s, &ei), 0);
    assert_true(osp_http_server_port(s) > 0);
    osp_http_server_free(s);
    assert_int_equal(osp_http_server_new(base, "[::1]:0", &s, &ei), 0);
    osp_http_server_free(s);
    assert_int_equal(osp_http_server_new(base, "127.0.0.1:x", &s, &ei), OSP_EINVAL);
    assert_int_equal(osp_http_server_new(base, "[::1:0", &s, &ei), OSP_EINVAL);
    /* A taken port is an error naming it. */
    assert_int_equal(osp_http_server_new(base, "127.0.0.1:0", &s, &ei), 0);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", osp_http_server_port(s));
    osp_http_server *s2 = NULL;
    assert_int_equal(osp_http_server_new(base, addr, &s2, &ei), OSP_EIO);
    assert_non_null(strstr(ei.msg, addr));
    osp_http_server_free(s);
    event_base_free(base);
}

int
main(void)
{
    evthread_use_pthreads();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_std_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspend_and_missing_reply, setup, teardown),
        cmocka_unit_test(test_listen_forms),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
