/* alert_silence.c - silences kept in memory, written through to Redis and
 * reloaded from it periodically (the Redis copy is authoritative when present). */
#include "alert_silence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define RETENTION_MS (120LL * 3600 * 1000)
#define KEY "osprey:alerter:silences"

struct alert_silences {
    alert_silence **v;
    size_t n, cap;
    alert_redis *redis;
};

alert_silences *
alert_silences_new(alert_redis *redis)
{
    alert_silences *s = osp_calloc(1, sizeof(*s));
    s->redis = redis;
    return s;
}

static void
silence_free(alert_silence *si)
{
    if (si == NULL)
        return;
    alert_matchers_fini(&si->m);
    osp_free(si->is_regex);
    osp_free(si->is_equal);
    osp_free(si->created_by);
    osp_free(si->comment);
    osp_free(si);
}

static void
clear(alert_silences *s)
{
    for (size_t i = 0; i < s->n; i++)
        silence_free(s->v[i]);
    s->n = 0;
}

void
alert_silences_free(alert_silences *s)
{
    if (s == NULL)
        return;
    clear(s);
    osp_free(s->v);
    osp_free(s);
}

static void
add(alert_silences *s, alert_silence *si)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = osp_reallocarray(s->v, s->cap, sizeof(*s->v));
    }
    s->v[s->n++] = si;
}

static ssize_t
find(const alert_silences *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void
new_uuid(char *out)
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(b, 1, 16, f) != 16) {
        uint64_t x = (uint64_t)osp_mono_ns() ^ (uint64_t)osp_now_ms() << 20;
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    if (f)
        fclose(f);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static const char *
jstr(const alert_json *o, const char *k)
{
    const alert_json *v = alert_json_get(o, k);
    return v && v->type == ALERT_JSON_STR ? v->str : NULL;
}

static int
jtime(const alert_json *o, const char *k, int64_t *out, osp_errinfo *ei)
{
    const char *v = jstr(o, k);
    if (v == NULL) {
        *out = 0;
        return 0;
    }
    if (osp_parse_api_time(osp_str_c(v), out))
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "invalid %s: \"%s\" is not an RFC3339 time", k,
                               v);
    return 0;
}

/* Builds a silence from JSON (API body or the Redis copy). */
static int
from_json(const alert_json *body, alert_silence **out, osp_errinfo *ei)
{
    if (body == NULL || body->type != ALERT_JSON_OBJ)
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "silence must be a JSON object");
    alert_silence *si = osp_calloc(1, sizeof(*si));
    alert_matchers_init(&si->m);
    int rc;
    const alert_json *ms = alert_json_get(body, "matchers");
    if (ms == NULL || ms->type != ALERT_JSON_ARR || ms->n == 0) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "silence must have at least one matcher");
        goto fail;
    }
    si->is_regex = osp_calloc(ms->n, sizeof(bool));
    si->is_equal = osp_calloc(ms->n, sizeof(bool));
    bool any_nonempty = false;
    for (size_t i = 0; i < ms->n; i++) {
        const alert_json *m = ms->items[i];
        const char *name = jstr(m, "name"), *value = jstr(m, "value");
        const alert_json *re = alert_json_get(m, "isRegex"), *eq = alert_json_get(m, "isEqual");
        if (name == NULL || value == NULL || (re && re->type != ALERT_JSON_BOOL) ||
            (eq && eq->type != ALERT_JSON_BOOL)) {
            rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                                 "matcher %zu: name and value (strings) are required, isRegex "
                                 "and isEqual must be booleans",
                                 i);
            goto fail;
        }
        si->is_regex[i] = re && re->b;
        si->is_equal[i] = eq == NULL || eq->b;
        osp_match_type t = si->is_regex[i] ? (si->is_equal[i] ? OSP_MATCH_RE : OSP_MATCH_NRE)
                                           : (si->is_equal[i] ? OSP_MATCH_EQ : OSP_MATCH_NEQ);
        osp_errinfo e2;
        osp_errinfo_clear(&e2);
        if ((rc = alert_matchers_add(&si->m, t, name, value, &e2))) {
            rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "matcher %zu: %s", i, e2.msg);
            goto fail;
        }
        if (!osp_matcher_matches_empty(&si->m.v[si->m.n - 1]))
            any_nonempty = true;
    }
    if (!any_nonempty) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0,
                             "at least one matcher must not match the empty string");
        goto fail;
    }
    if ((rc = jtime(body, "startsAt", &si->starts_ms, ei)) ||
        (rc = jtime(body, "endsAt", &si->ends_ms, ei)) ||
        (rc = jtime(body, "updatedAt", &si->updated_ms, ei)))
        goto fail;
    if (si->ends_ms == 0) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "endsAt is required");
        goto fail;
    }
    if (si->ends_ms < si->starts_ms) {
        rc = osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "end time must not be before start time");
        goto fail;
    }
    const char *id = jstr(body, "id");
    if (id && strlen(id) < sizeof(si->id))
        snprintf(si->id, sizeof(si->id), "%s", id);
    si->created_by = osp_strdup(jstr(body, "createdBy") ? jstr(body, "createdBy") : "");
    si->comment = osp_strdup(jstr(body, "comment") ? jstr(body, "comment") : "");
    *out = si;
    return 0;
fail:
    silence_free(si);
    return rc;
}

static const char *
state(const alert_silence *si, int64_t now)
{
    if (si->ends_ms <= now)
        return "expired";
    if (si->starts_ms > now)
        return "pending";
    return "active";
}

static void
put_time(osp_buf *out, int64_t ms)
{
    char t[40];
    osp_format_rfc3339(ms, t, sizeof(t));
    osp_buf_json_cstr(out, t);
}

void
alert_silence_json(const alert_silence *si, int64_t now_ms, osp_buf *out)
{
    osp_buf_puts(out, "{\"id\":");
    osp_buf_json_cstr(out, si->id);
    osp_buf_printf(out, ",\"status\":{\"state\":\"%s\"},\"updatedAt\":", state(si, now_ms));
    put_time(out, si->updated_ms);
    osp_buf_puts(out, ",\"matchers\":[");
    for (size_t i = 0; i < si->m.n; i++) {
        if (i)
            osp_buf_putc(out, ',');
        osp_buf_puts(out, "{\"name\":");
        osp_buf_json_cstr(out, si->m.v[i].name);
        osp_buf_puts(out, ",\"value\":");
        osp_buf_json_cstr(out, si->m.v[i].value);
        osp_buf_printf(out, ",\"isRegex\":%s,\"isEqual\":%s}", si->is_regex[i] ? "true" : "false",
                       si->is_equal[i] ? "true" : "false");
    }
    osp_buf_puts(out, "],\"startsAt\":");
    put_time(out, si->starts_ms);
    osp_buf_puts(out, ",\"endsAt\":");
    put_time(out, si->ends_ms);
    osp_buf_puts(out, ",\"createdBy\":");
    osp_buf_json_cstr(out, si->created_by);
    osp_buf_puts(out, ",\"comment\":");
    osp_buf_json_cstr(out, si->comment);
    osp_buf_putc(out, '}');
}

static void
persist(alert_silences *s, const alert_silence *si)
{
    if (s->redis == NULL)
        return;
    osp_buf b;
    osp_buf_init(&b);
    alert_silence_json(si, 0, &b);
    const char *argv[] = {"HSET", KEY, si->id, osp_buf_cstr(&b)};
    redisReply *r = alert_redis_cmd(s->redis, 4, argv);
    if (r)
        freeReplyObject(r);
    else
        osp_log(OSP_LOG_WARN, "silences", "silence not persisted to Redis (kept in memory)", "id",
                si->id, NULL);
    osp_buf_fini(&b);
}

int
alert_silences_post(alert_silences *s, const alert_json *body, int64_t now_ms, char *id_out,
                    osp_errinfo *ei)
{
    alert_silence *si = NULL;
    int rc = from_json(body, &si, ei);
    if (rc)
        return rc;
    if (si->starts_ms < now_ms)
        si->starts_ms = now_ms;
    if (si->ends_ms <= now_ms) {
        silence_free(si);
        return osp_errinfo_set(ei, OSP_EINVAL, 0, 0, "end time can't be in the past");
    }
    si->updated_ms = now_ms;
    if (si->id[0]) {
        ssize_t k = find(s, si->id);
        if (k < 0) {
            silence_free(si);
            return osp_errinfo_set(ei, OSP_ENOTFOUND, 0, 0, "silence not found");
        }
        silence_free(s->v[k]);
        s->v[k] = si;
    } else {
        new_uuid(si->id);
        add(s, si);
    }
    persist(s, si);
    snprintf(id_out, 40, "%s", si->id);
    return 0;
}

int
alert_silences_expire(alert_silences *s, const char *id, int64_t now_ms)
{
    ssize_t k = find(s, id);
    if (k < 0)
        return OSP_ENOTFOUND;
    alert_silence *si = s->v[k];
    if (si->ends_ms <= now_ms)
        return OSP_EINVAL;
    if (si->starts_ms > now_ms)
        si->starts_ms = now_ms;
    si->ends_ms = now_ms;
    si->updated_ms = now_ms;
    persist(s, si);
    return 0;
}

const alert_silence *
alert_silences_get(const alert_silences *s, const char *id)
{
    ssize_t k = find(s, id);
    return k < 0 ? NULL : s->v[k];
}

size_t
alert_silences_muting(const alert_silences *s, const osp_labels *ls, int64_t now_ms,
                      const char **ids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const alert_silence *si = s->v[i];
        if (si->starts_ms <= now_ms && now_ms < si->ends_ms && alert_matchers_match(&si->m, ls)) {
            if (n < max)
                ids[n] = si->id;
            n++;
        }
    }
    return n;
}

size_t
alert_silences_active(const alert_silences *s, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += strcmp(state(s->v[i], now_ms), "active") == 0;
    return n;
}

void
alert_silences_sync(alert_silences *s, int64_t now_ms)
{
    if (s->redis == NULL)
        return;
    const char *argv[] = {"HGETALL", KEY};
    redisReply *r = alert_redis_cmd(s->redis, 2, argv);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return;
    }
    clear(s);
    osp_arena *a = osp_arena_new(0);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *v = r->element[i + 1];
        alert_json *j;
        alert_silence *si;
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        if (v->type != REDIS_REPLY_STRING || alert_json_parse(v->str, v->len, a, &j, &ei) ||
            from_json(j, &si, &ei)) {
            osp_log(OSP_LOG_WARN, "silences", "skipping a malformed silence in Redis", "id",
                    r->element[i]->str, "error", ei.msg, NULL);
            continue;
        }
        if (si->ends_ms + RETENTION_MS < now_ms) {
            const char *dv[] = {"HDEL", KEY, si->id};
            redisReply *d = alert_redis_cmd(s->redis, 3, dv);
            if (d)
                freeReplyObject(d);
            silence_free(si);
            continue;
        }
        add(s, si);
    }
    osp_arena_free(a);
    freeReplyObject(r);
}

void
alert_silences_json(const alert_silences *s, const alert_matchers *filter, int64_t now_ms,
                    osp_buf *out)
{
    osp_buf_putc(out, '[');
    bool first = true;
    for (size_t i = 0; i < s->n; i++) {
        const alert_silence *si = s->v[i];
        if (filter && filter->n) {
            /* Alertmanager: a silence passes when the filter matches the
             * label set formed by its equality matchers. */
            osp_labels ls;
            osp_labels_init(&ls);
            for (size_t k = 0; k < si->m.n; k++)
                if (si->m.v[k].type == OSP_MATCH_EQ)
                    osp_labels_addc(&ls, si->m.v[k].name, si->m.v[k].value);
            bool ok = alert_matchers_match(filter, &ls);
            osp_labels_fini(&ls);
            if (!ok)
                continue;
        }
        if (!first)
            osp_buf_putc(out, ',');
        first = false;
        alert_silence_json(si, now_ms, out);
    }
    osp_buf_putc(out, ']');
}
