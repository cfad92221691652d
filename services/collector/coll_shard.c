/* coll_shard.c - collector membership in Redis and rendezvous hashing of
 * targets. Heartbeats run as one Lua script so the timestamps are Redis' own
 * clock (collectors' clocks may disagree); the set is a sorted set scored by
 * the last heartbeat, trimmed of members older than the TTL. */
#include "coll_shard.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "osp_buf.h"
#include "osp_mem.h"
#include "osp_time.h"

#define SHARD_KEY "osprey:collectors"

static const char beat_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))\n"
    "return redis.call('ZRANGE', KEYS[1], 0, -1)\n";

struct coll_shard {
    struct event_base *base;
    struct event *timer;
    redisAsyncContext *ac;
    bool connected;
    bool pending; /* a heartbeat is in flight */
    char *host;   /* NULL with a unix socket */
    int port;
    char *unix_path;
    char *password;
    int db;
    char *member;
    char **members; /* sorted, owned */
    size_t nmembers;
    bool known;
    void (*on_change)(void *ctx);
    void *ctx;
    osp_ratelim rl;
};

static int
parse_url(coll_shard *s, const char *url, osp_errinfo *ei)
{
    if (strncmp(url, "unix:", 5) == 0) {
        s->unix_path = osp_strdup(url + 5);
        return 0;
    }
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        s->password = osp_strndup(pw, (size_t)(at - pw));
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hl);
    s->port = 6379;
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != p + hl || port <= 0 || port > 65535)
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "redis: invalid port in URL");
        s->port = (int)port;
        hl = (size_t)(colon - p);
    }
    if (hl == 0)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "redis: no host in URL");
    s->host = osp_strndup(p, hl);
    if (slash != NULL && slash[1] != '\0') {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end != '\0' || db < 0)
            return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "redis: invalid database in URL");
        s->db = (int)db;
    }
    return 0;
}

static void
complain(coll_shard *s, const char *msg, const char *detail)
{
    uint64_t skipped;
    if (osp_ratelim_fail(&s->rl, osp_now_ms(), &skipped))
        osp_log(OSP_LOG_WARN, "shard", msg, "error", detail ? detail : "", NULL);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_members(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        osp_free(v[i]);
    osp_free(v);
}

static void
on_beat(redisAsyncContext *ac, void *r, void *priv)
{
    coll_shard *s = priv;
    redisReply *reply = r;
    s->pending = false;
    if (reply == NULL)
        return; /* disconnected or freed */
    if (reply->type != REDIS_REPLY_ARRAY) {
        complain(s, "Redis heartbeat failed; keeping the last membership",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    if (osp_ratelim_ok(&s->rl))
        osp_log(OSP_LOG_INFO, "shard", "Redis heartbeat works again", NULL);
    char **v = osp_calloc(reply->elements ? reply->elements : 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type == REDIS_REPLY_STRING)
            v[n++] = osp_strndup(reply->element[i]->str, reply->element[i]->len);
    osp_qsort(v, n, sizeof(char *), cmp_str);
    bool same = s->known && n == s->nmembers;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(v[i], s->members[i]) == 0;
    if (same) {
        free_members(v, n);
        return;
    }
    free_members(s->members, s->nmembers);
    s->members = v;
    s->nmembers = n;
    s->known = true;
    char cnt[24];
    snprintf(cnt, sizeof(cnt), "%zu", n);
    osp_log(OSP_LOG_INFO, "shard", "collector membership changed", "members", cnt, "self",
            s->member, NULL);
    s->on_change(s->ctx);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    coll_shard *s = ac->data;
    if (status != REDIS_OK) {
        complain(s, "cannot connect to Redis", ac->errstr);
        s->ac = NULL; /* hiredis frees the context after a failed connect */
        return;
    }
    s->connected = true;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    coll_shard *s = ac->data;
    if (status != REDIS_OK)
        complain(s, "lost the Redis connection", ac->errstr);
    s->ac = NULL;
    s->connected = false;
    s->pending = false;
}

static void
connect_async(coll_shard *s)
{
    redisAsyncContext *ac =
        s->unix_path ? redisAsyncConnectUnix(s->unix_path) : redisAsyncConnect(s->host, s->port);
    if (ac == NULL || ac->err) {
        complain(s, "cannot connect to Redis", ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return;
    }
    ac->data = s;
    redisLibeventAttach(ac, s->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    /* Commands queue until the connection is up. */
    if (s->password != NULL)
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->password);
    if (s->db != 0)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", s->db);
}

static void
beat(coll_shard *s)
{
    if (s->ac == NULL)
        connect_async(s);
    if (s->ac == NULL || s->pending)
        return;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%d", COLL_SHARD_TTL_MS);
    if (redisAsyncCommand(s->ac, on_beat, s, "EVAL %s 1 %s %s %s", beat_script, SHARD_KEY,
                          s->member, ttl) == REDIS_OK)
        s->pending = true;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    beat(arg);
}

int
coll_shard_new(struct event_base *base, const char *redis_url, const char *member_id,
               void (*on_change)(void *ctx), void *ctx, coll_shard **out, osp_errinfo *ei)
{
    coll_shard *s = osp_calloc(1, sizeof(*s));
    s->base = base;
    s->member = osp_strdup(member_id);
    s->on_change = on_change;
    s->ctx = ctx;
    int rc = parse_url(s, redis_url, ei);
    if (rc)
        goto fail;
    s->timer = event_new(base, -1, EV_PERSIST, on_timer, s);
    struct timeval tv = {COLL_SHARD_BEAT_MS / 1000, (COLL_SHARD_BEAT_MS % 1000) * 1000};
    if (s->timer == NULL || event_add(s->timer, &tv) != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot add the shard timer");
        goto fail;
    }
    beat(s);
    *out = s;
    return 0;
fail:
    coll_shard_free(s);
    return rc;
}

int
coll_shard_pick(const char *const *members, size_t n, uint64_t key)
{
    int best = -1;
    uint64_t best_score = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t score = osp_hash64(members[i], strlen(members[i]), key);
        if (best < 0 || score > best_score ||
            (score == best_score && strcmp(members[i], members[best]) < 0)) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

bool
coll_shard_owns(const coll_shard *s, uint64_t key)
{
    if (!s->known)
        return false;
    int i = coll_shard_pick((const char *const *)s->members, s->nmembers, key);
    return i >= 0 && strcmp(s->members[i], s->member) == 0;
}

size_t
coll_shard_members(const coll_shard *s)
{
    return s->nmembers;
}

static void
leave(coll_shard *s)
{
    struct timeval tv = {1, 0};
    redisContext *c = s->unix_path ? redisConnectUnixWithTimeout(s->unix_path, tv)
                                   : redisConnectWithTimeout(s->host, s->port, tv);
    if (c == NULL || c->err) {
        if (c != NULL)
            redisFree(c);
        return;
    }
    redisSetTimeout(c, tv);
    redisReply *r;
    if (s->password != NULL && (r = redisCommand(c, "AUTH %s", s->password)) != NULL)
        freeReplyObject(r);
    if (s->db != 0 && (r = redisCommand(c, "SELECT %d", s->db)) != NULL)
        freeReplyObject(r);
    if ((r = redisCommand(c, "ZREM %s %s", SHARD_KEY, s->member)) != NULL)
        freeReplyObject(r);
    redisFree(c);
}

void
coll_shard_free(coll_shard *s)
{
    if (s == NULL)
        return;
    if (s->timer != NULL)
        event_free(s->timer);
    if (s->known)
        leave(s);
    if (s->ac != NULL) {
        s->ac->data = s;
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        ac->onDisconnect = NULL; /* s is going away */
        redisAsyncFree(ac);
    }
    free_members(s->members, s->nmembers);
    osp_free(s->host);
    osp_free(s->unix_path);
    osp_free(s->password);
    osp_free(s->member);
    osp_free(s);
}
