/* http_std.c - the endpoints every daemon serves: /metrics, /health, /ready,
 * /-/ready, /-/healthy and POST /-/reload. */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "log.h"
#include "osp_time.h"

static void
h_metrics(osp_http_req *req, void *ctx)
{
    osp_http_server *srv = ctx;
    osp_buf b;
    osp_buf_init(&b);
    osp_metrics_render(srv->std.metrics, &b);
    osp_http_reply_buf(req, 200, OSP_METRICS_CONTENT_TYPE, &b);
    osp_buf_fini(&b);
}

static bool
is_ready(osp_http_server *srv, osp_buf *why)
{
    return srv->std.ready == NULL || srv->std.ready(srv->std.ctx, why);
}

static void
h_health(osp_http_req *req, void *ctx)
{
    osp_http_server *srv = ctx;
    osp_buf why, b;
    osp_buf_init(&why);
    osp_buf_init(&b);
    bool ok = is_ready(srv, &why);
    osp_buf_printf(&b, "{\"status\":\"%s\",\"service\":", ok ? "ok" : "degraded");
    osp_buf_json_cstr(&b, srv->std.service ? srv->std.service : "");
    osp_buf_puts(&b, ",\"version\":");
    osp_buf_json_cstr(&b, srv->std.version ? srv->std.version : "");
    osp_buf_printf(&b, ",\"uptime_seconds\":%lld",
                   (long long)((osp_now_ms() - srv->start_ms) / 1000));
    if (!ok && why.len > 0) {
        osp_buf_puts(&b, ",\"reason\":");
        osp_buf_json_str(&b, why.data, why.len);
    }
    osp_buf_puts(&b, ",\"checks\":{");
    if (srv->std.health_checks != NULL)
        srv->std.health_checks(srv->std.ctx, &b);
    osp_buf_puts(&b, "}}");
    osp_http_reply_buf(req, ok ? 200 : 503, "application/json", &b);
    osp_buf_fini(&why);
    osp_buf_fini(&b);
}

static void
h_ready(osp_http_req *req, void *ctx)
{
    osp_http_server *srv = ctx;
    osp_buf why;
    osp_buf_init(&why);
    if (is_ready(srv, &why)) {
        osp_http_reply(req, 200, NULL, OSP_LIT("ready\n"));
    } else {
        if (why.len == 0)
            osp_buf_puts(&why, "not ready");
        osp_buf_putc(&why, '\n');
        osp_http_reply_buf(req, 503, NULL, &why);
    }
    osp_buf_fini(&why);
}

static void
h_healthy(osp_http_req *req, void *ctx)
{
    (void)ctx;
    osp_http_reply(req, 200, NULL, OSP_LIT("healthy\n"));
}

static void
h_reload(osp_http_req *req, void *ctx)
{
    osp_http_server *srv = ctx;
    osp_buf msg;
    osp_buf_init(&msg);
    int rc = srv->std.reload(srv->std.ctx, &msg);
    if (rc == 0) {
        osp_log(OSP_LOG_INFO, "http", "configuration reloaded", "via", "POST /-/reload", NULL);
        osp_http_reply(req, 200, NULL, OSP_LIT("reloaded\n"));
    } else {
        if (msg.len == 0)
            osp_buf_puts(&msg, osp_err_str(rc));
        osp_buf_putc(&msg, '\n');
        osp_http_reply_buf(req, 500, NULL, &msg);
    }
    osp_buf_fini(&msg);
}

int
osp_http_add_std(osp_http_server *srv, const osp_http_std *std)
{
    srv->std = *std;
    srv->has_std = true;
    srv->start_ms = osp_now_ms();
    int rc = 0;
    if (std->metrics != NULL) {
        osp_http_server_set_metrics(srv, std->metrics);
        rc = osp_http_route(srv, OSP_HTTP_GET, "/metrics", false, h_metrics, srv);
    }
    if (rc == 0)
        rc = osp_http_route(srv, OSP_HTTP_GET, "/health", false, h_health, srv);
    if (rc == 0)
        rc = osp_http_route(srv, OSP_HTTP_GET, "/ready", false, h_ready, srv);
    if (rc == 0)
        rc = osp_http_route(srv, OSP_HTTP_GET, "/-/ready", false, h_ready, srv);
    if (rc == 0)
        rc = osp_http_route(srv, OSP_HTTP_GET, "/-/healthy", false, h_healthy, srv);
    if (rc == 0 && std->reload != NULL)
        rc = osp_http_route(srv, OSP_HTTP_POST | OSP_HTTP_PUT, "/-/reload", false, h_reload, srv);
    return rc;
}
