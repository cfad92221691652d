/* alert_state.c - synchronous Redis access with reconnects. Timeouts are
 * short (Redis is local or near); a thread blocks at most ~1 s per command. */
#include "alert_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

struct alert_redis {
    char *host; /* NULL for unix */
    char *path;
    int port, db;
    char *password;
    char who[32];
    redisContext *c;
    bool up;
    osp_ratelim rl;
    int64_t next_try_ms;
};

int
alert_redis_new(const char *url, const char *who, alert_redis **out, osp_errinfo *ei)
{
    alert_redis *r = osp_calloc(1, sizeof(*r));
    snprintf(r->who, sizeof(r->who), "%s", who);
    r->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        r->path = osp_strdup(url + 7);
    } else if (strncmp(url, "redis://", 8) == 0) {
        const char *p = url + 8;
        const char *at = strchr(p, '@');
        if (at) {
            const char *colon = memchr(p, ':', (size_t)(at - p));
            if (colon)
                r->password = osp_strndup(colon + 1, (size_t)(at - colon - 1));
            p = at + 1;
        }
        const char *end = p + strcspn(p, ":/");
        r->host = osp_strndup(p, (size_t)(end - p));
        if (*end == ':') {
            char *e2;
            long port = strtol(end + 1, &e2, 10);
            if (port <= 0 || port > 65535) {
                alert_redis_free(r);
                return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid port in Redis URL");
            }
            r->port = (int)port;
            end = e2;
        }
        if (*end == '/' && end[1])
            r->db = atoi(end + 1);
        if (!*r->host) {
            alert_redis_free(r);
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "missing host in Redis URL");
        }
    } else {
        alert_redis_free(r);
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                               "invalid Redis URL (want redis://host:port or unix:///path)");
    }
    *out = r;
    return 0;
}

static void
fail(alert_redis *r, const char *what)
{
    uint64_t sup = 0;
    r->up = false;
    if (osp_ratelim_fail(&r->rl, osp_now_ms(), &sup))
        osp_log(OSP_LOG_WARN, "redis", "Redis unavailable; state kept in memory meanwhile", "user",
                r->who, "error", what, NULL);
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
    r->next_try_ms = osp_now_ms() + 500;
}

static bool
connect_now(alert_redis *r)
{
    if (r->c)
        return true;
    if (osp_now_ms() < r->next_try_ms)
        return false;
    struct timeval tv = {1, 0};
    r->c = r->path ? redisConnectUnixWithTimeout(r->path, tv)
                   : redisConnectWithTimeout(r->host, r->port, tv);
    if (r->c == NULL || r->c->err) {
        fail(r, r->c ? r->c->errstr : "cannot allocate context");
        return false;
    }
    redisSetTimeout(r->c, tv);
    if (r->password) {
        redisReply *rep = redisCommand(r->c, "AUTH %s", r->password);
        bool ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (rep)
            freeReplyObject(rep);
        if (!ok) {
            fail(r, "AUTH failed");
            return false;
        }
    }
    if (r->db) {
        redisReply *rep = redisCommand(r->c, "SELECT %d", r->db);
        if (rep)
            freeReplyObject(rep);
    }
    return true;
}

redisReply *
alert_redis_cmd(alert_redis *r, int argc, const char **argv)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!connect_now(r))
            return NULL;
        redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
        if (rep == NULL) {
            fail(r, r->c->errstr[0] ? r->c->errstr : "connection lost");
            r->next_try_ms = 0; /* one immediate reconnect attempt */
            continue;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            osp_log(OSP_LOG_WARN, "redis", "Redis command failed", "command", argv[0], "error",
                    rep->str, NULL);
            freeReplyObject(rep);
            return NULL;
        }
        if (osp_ratelim_ok(&r->rl))
            osp_log(OSP_LOG_INFO, "redis", "Redis is back", "user", r->who, NULL);
        r->up = true;
        return rep;
    }
    return NULL;
}

bool
alert_redis_up(const alert_redis *r)
{
    return r && r->up;
}

void
alert_redis_free(alert_redis *r)
{
    if (r == NULL)
        return;
    if (r->c)
        redisFree(r->c);
    osp_free(r->host);
    osp_free(r->path);
    osp_free(r->password);
    osp_free(r);
}
