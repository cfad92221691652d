/* alert_notify.c - the notifier thread: dedup against the notification log,
 * claim, render, send through curl multi, retry with backoff, record.
 * Everything in this file but submit/free/the completion event runs on the
 * worker thread, which owns the jobs in flight and the in-memory log. */
#include "alert_notify.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_state.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define NFLOG_TTL_MS (120LL * 3600 * 1000)
#define BACKOFF_START_MS 500
#define BACKOFF_MAX_MS 60000

typedef enum stage { ST_NEW, ST_BACKOFF, ST_SENDING } stage;

typedef struct jstate {
    stage st;
    int attempts;
    int64_t next_ms;
    int64_t started_ns;
    CURL *easy;
    struct curl_slist *hdrs, *rcpt;
    osp_buf body, resp;
    size_t read_off;
    char claim_key[200];
    char nflog_key[200];
    char *firing, *resolved; /* comma-joined sorted fingerprints */
    char err[CURL_ERROR_SIZE];
    bool retryable;
    const char *why; /* last failure */
} jstate;

/* In-memory notification log entry (also the fallback when Redis is down). */
typedef struct nflog_ent {
    char *key;
    char *firing, *resolved;
    int64_t ts_ms;
    struct nflog_ent *next;
} nflog_ent;

struct alert_notifier {
    pthread_t thr;
    bool started;
    pthread_mutex_t mu;
    alert_notify_job **inq;
    size_t nin, capin;
    alert_notify_job **doneq;
    size_t ndone, capdone;
    bool stop;
    size_t pending;
    CURLM *multi;
    struct event *ev_done;
    alert_redis *redis;
    char *external_url;
    /* worker-owned */
    alert_notify_job **active;
    size_t nactive, capactive;
    nflog_ent *nflog[1024];
    osp_metric *m_total, *m_failed, *m_requests, *m_req_failed, *m_latency, *m_dedup;
};

static const char *kind_name[] = {"webhook", "slack", "email"};

void
alert_notify_job_free(alert_notify_job *job)
{
    if (job == NULL)
        return;
    jstate *s = job->priv;
    if (s) {
        osp_buf_fini(&s->body);
        osp_buf_fini(&s->resp);
        curl_slist_free_all(s->hdrs);
        curl_slist_free_all(s->rcpt);
        osp_free(s->firing);
        osp_free(s->resolved);
        osp_free(s);
    }
    for (size_t i = 0; i < job->nalerts; i++)
        alert_alert_unref(job->alerts[i]);
    osp_free(job->alerts);
    osp_labels_fini(&job->group_labels);
    osp_free(job->group_key);
    alert_am_config_unref(job->cfg);
    osp_free(job);
}

/* ---- shared helpers for renderers ---- */

void
alert_fmt_time(int64_t ms, char *out, size_t outsz)
{
    if (ms == 0) {
        snprintf(out, outsz, "0001-01-01T00:00:00Z");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac == 0) {
        snprintf(out, outsz, "%sZ", base);
    } else {
        char f[8];
        snprintf(f, sizeof(f), "%03d", frac);
        for (int k = 2; k > 0 && f[k] == '0'; k--)
            f[k] = 0;
        snprintf(out, outsz, "%s.%sZ", base, f);
    }
}

void
alert_labels_go(const osp_labels *ls, osp_buf *out)
{
    osp_buf_putc(out, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            osp_buf_puts(out, ", ");
        osp_buf_puts(out, ls->v[i].name);
        osp_buf_putc(out, '=');
        osp_buf_json_cstr(out, ls->v[i].value);
    }
    osp_buf_putc(out, '}');
}

bool
alert_notify_alert_firing(const alert_notify_data *d, const alert_alert *a)
{
    return !alert_alert_resolved(a, d->job->now_ms);
}

const char *
alert_notify_status(const alert_notify_data *d)
{
    return d->nfiring > 0 ? "firing" : "resolved";
}

static void
common_pairs(alert_alert **v, size_t n, bool annotations, osp_labels *out)
{
    osp_labels_reset(out);
    if (n == 0)
        return;
    const osp_labels *first = annotations ? &v[0]->annotations : &v[0]->labels;
    for (size_t i = 0; i < first->n; i++) {
        bool all = true;
        for (size_t k = 1; k < n && all; k++) {
            const char *x =
                osp_labels_get(annotations ? &v[k]->annotations : &v[k]->labels, first->v[i].name);
            all = x && strcmp(x, first->v[i].value) == 0;
        }
        if (all)
            osp_labels_addc(out, first->v[i].name, first->v[i].value);
    }
}

static bool
send_resolved(const alert_notify_job *j)
{
    switch (j->kind) {
    case ALERT_INT_WEBHOOK: return j->rcv->webhooks[j->idx].send_resolved;
    case ALERT_INT_SLACK: return j->rcv->slacks[j->idx].send_resolved;
    default: return j->rcv->emails[j->idx].send_resolved;
    }
}

/* ---- notification log ---- */

static uint64_t
strhash(const char *s)
{
    return osp_hash64(s, strlen(s), 0x5bd1e995);
}

static nflog_ent *
mem_get(alert_notifier *n, const char *key)
{
    for (nflog_ent *e = n->nflog[strhash(key) & 1023]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void
mem_put(alert_notifier *n, const char *key, const char *firing, const char *resolved, int64_t ts)
{
    nflog_ent *e = mem_get(n, key);
    if (e == NULL) {
        e = osp_calloc(1, sizeof(*e));
        e->key = osp_strdup(key);
        size_t b = strhash(key) & 1023;
        e->next = n->nflog[b];
        n->nflog[b] = e;
    }
    osp_free(e->firing);
    osp_free(e->resolved);
    e->firing = osp_strdup(firing);
    e->resolved = osp_strdup(resolved);
    e->ts_ms = ts;
}

/* Reads the entry for key: from Redis when configured and reachable, else
 * memory. Returns true when an entry exists; fills the three outputs (owned). */
static bool
nflog_get(alert_notifier *n, const char *key, char **firing, char **resolved, int64_t *ts)
{
    if (n->redis) {
        const char *argv[] = {"GET", key};
        redisReply *r = alert_redis_cmd(n->redis, 2, argv);
        if (r) {
            bool found = false;
            if (r->type == REDIS_REPLY_STRING) {
                /* "<ts>|<firing>|<resolved>" */
                char *p1 = strchr(r->str, '|');
                char *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
                if (p2) {
                    *ts = strtoll(r->str, NULL, 10);
                    *firing = osp_strndup(p1 + 1, (size_t)(p2 - p1 - 1));
                    *resolved = osp_strdup(p2 + 1);
                    found = true;
                }
            }
            freeReplyObject(r);
            return found;
        }
    }
    nflog_ent *e = mem_get(n, key);
    if (e == NULL)
        return false;
    *firing = osp_strdup(e->firing);
    *resolved = osp_strdup(e->resolved);
    *ts = e->ts_ms;
    return true;
}

static void
nflog_put(alert_notifier *n, const char *key, const char *firing, const char *resolved, int64_t ts)
{
    mem_put(n, key, firing, resolved, ts);
    if (n->redis == NULL)
        return;
    char val[64];
    snprintf(val, sizeof(val), "%lld|", (long long)ts);
    osp_buf b;
    osp_buf_init(&b);
    osp_buf_printf(&b, "%s%s|%s", val, firing, resolved);
    char px[32];
    snprintf(px, sizeof(px), "%lld", (long long)NFLOG_TTL_MS);
    const char *argv[] = {"SET", key, osp_buf_cstr(&b), "PX", px};
    redisReply *r = alert_redis_cmd(n->redis, 5, argv);
    if (r)
        freeReplyObject(r);
    osp_buf_fini(&b);
}

/* is every fingerprint of a (comma list) in b? */
static bool
subset(const char *a, const char *b)
{
    if (!*a)
        return true;
    size_t bl = strlen(b);
    const char *p = a;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        for (const char *q = b; q < b + bl;) {
            const char *qe = strchr(q, ',');
            size_t ql = qe ? (size_t)(qe - q) : strlen(q);
            if (ql == len && memcmp(p, q, len) == 0) {
                found = true;
                break;
            }
            q += ql + (qe ? 1 : 0);
        }
        if (!found)
            return false;
        p += len + (e ? 1 : 0);
    }
    return true;
}

/* Alertmanager's DedupStage.needsUpdate. */
static bool
needs_update(bool have, const char *ef, const char *er, int64_t ets, const char *firing,
             const char *resolved, bool send_res, int64_t repeat_ms, int64_t now)
{
    if (!have)
        return *firing != 0;
    if (!subset(firing, ef))
        return true;
    if (*firing == 0)
        return *ef != 0;
    if (send_res && !subset(resolved, er))
        return true;
    return ets + repeat_ms <= now;
}

/* ---- sending ---- */

static size_t
on_write(char *p, size_t sz, size_t nm, void *ud)
{
    jstate *s = ud;
    if (s->resp.len < 4096)
        osp_buf_append(&s->resp, p, sz * nm);
    return sz * nm;
}

static size_t
on_read(char *p, size_t sz, size_t nm, void *ud)
{
    jstate *s = ud;
    size_t left = s->body.len - s->read_off, want = sz * nm;
    if (want > left)
        want = left;
    memcpy(p, s->body.data + s->read_off, want);
    s->read_off += want;
    return want;
}

static void
apply_http_auth(CURL *e, jstate *s, const alert_http_auth *h)
{
    if (h->basic_user && *h->basic_user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, h->basic_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, h->basic_pass ? h->basic_pass : "");
    }
    if (h->bearer) {
        osp_buf hb;
        osp_buf_init(&hb);
        osp_buf_printf(&hb, "Authorization: Bearer %s", h->bearer);
        s->hdrs = curl_slist_append(s->hdrs, osp_buf_cstr(&hb));
        osp_buf_fini(&hb);
    }
    if (h->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
}

/* Address part of "Name <a@b>" or "a@b" into out. */
static void
addr_only(const char *s, size_t n, osp_buf *out)
{
    const char *lt = memchr(s, '<', n);
    if (lt) {
        const char *gt = memchr(lt, '>', (size_t)(s + n - lt));
        if (gt) {
            osp_buf_append(out, lt, (size_t)(gt - lt + 1));
            return;
        }
    }
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    osp_buf_putc(out, '<');
    osp_buf_append(out, s, n);
    osp_buf_putc(out, '>');
}

/* Builds the easy handle for one attempt. Returns 0 or an error (permanent). */
static int
prepare(alert_notifier *n, alert_notify_job *j, jstate *s, const alert_notify_data *d, int64_t now)
{
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    osp_buf_reset(&s->body);
    osp_buf_reset(&s->resp);
    curl_slist_free_all(s->hdrs);
    curl_slist_free_all(s->rcpt);
    s->hdrs = s->rcpt = NULL;
    s->read_off = 0;
    CURL *e = curl_easy_init();
    if (e == NULL)
        return OSP_EIO;
    s->easy = e;
    s->err[0] = 0;
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    int64_t timeout = j->deadline_ms - now;
    int64_t cfg_timeout = j->kind == ALERT_INT_WEBHOOK ? j->rcv->webhooks[j->idx].timeout_ms
                          : j->kind == ALERT_INT_SLACK ? j->rcv->slacks[j->idx].timeout_ms
                                                       : 0;
    if (cfg_timeout > 0 && cfg_timeout < timeout)
        timeout = cfg_timeout;
    if (timeout < 1000)
        timeout = 1000;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout < 5000 ? timeout : 5000));
    if (j->kind == ALERT_INT_EMAIL) {
        const alert_email_cfg *c = &j->rcv->emails[j->idx];
        int rc = alert_render_email(d, &s->body, &ei);
        if (rc) {
            s->why = "template error";
            osp_log(OSP_LOG_ERROR, "notify", "cannot render email", "receiver", j->rcv->name,
                    "error", ei.msg, NULL);
            return rc;
        }
        const char *colon = strrchr(c->smarthost, ':');
        bool implicit = c->force_implicit_tls == 1 ||
                        (c->force_implicit_tls == -1 && colon && strcmp(colon + 1, "465") == 0);
        osp_buf url;
        osp_buf_init(&url);
        osp_buf_printf(&url, "%s://%s/%s", implicit ? "smtps" : "smtp", c->smarthost,
                       c->hello ? c->hello : "localhost");
        curl_easy_setopt(e, CURLOPT_URL, osp_buf_cstr(&url));
        osp_buf_fini(&url);
        curl_easy_setopt(e, CURLOPT_USE_SSL,
                         (long)(implicit || c->require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
        if (c->insecure_skip_verify) {
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (c->ca_file)
            curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        if (c->auth_username && *c->auth_username) {
            curl_easy_setopt(e, CURLOPT_USERNAME, c->auth_username);
            curl_easy_setopt(e, CURLOPT_PASSWORD, c->auth_password ? c->auth_password : "");
            if (c->auth_identity && *c->auth_identity)
                curl_easy_setopt(e, CURLOPT_SASL_AUTHZID, c->auth_identity);
        }
        osp_buf a;
        osp_buf_init(&a);
        addr_only(c->from, strlen(c->from), &a);
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, osp_buf_cstr(&a));
        for (const char *p = c->to; *p;) {
            size_t len = strcspn(p, ",");
            osp_buf_reset(&a);
            addr_only(p, len, &a);
            if (a.len > 2)
                s->rcpt = curl_slist_append(s->rcpt, osp_buf_cstr(&a));
            p += len + (p[len] == ',');
        }
        osp_buf_fini(&a);
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, s->rcpt);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, s);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->body.len);
        return 0;
    }
    const char *url;
    const alert_http_auth *auth;
    if (j->kind == ALERT_INT_WEBHOOK) {
        alert_render_webhook(d, &s->body);
        url = j->rcv->webhooks[j->idx].url;
        auth = &j->rcv->webhooks[j->idx].http;
    } else {
        int rc = alert_render_slack(d, &s->body, &ei);
        if (rc) {
            s->why = "template error";
            osp_log(OSP_LOG_ERROR, "notify", "cannot render Slack message", "receiver",
                    j->rcv->name, "error", ei.msg, NULL);
            return rc;
        }
        url = j->rcv->slacks[j->idx].api_url;
        auth = &j->rcv->slacks[j->idx].http;
    }
    s->hdrs = curl_slist_append(s->hdrs, "Content-Type: application/json");
    s->hdrs = curl_slist_append(
        s->hdrs, "User-Agent: Alertmanager/0.27.0 (osprey-alerter " OSPREY_VERSION ")");
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    apply_http_auth(e, s, auth);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body.data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)s->body.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    return 0;
}

static void
finish(alert_notifier *n, alert_notify_job *j, bool ok)
{
    pthread_mutex_lock(&n->mu);
    if (n->ndone == n->capdone) {
        n->capdone = n->capdone ? n->capdone * 2 : 64;
        n->doneq = osp_reallocarray(n->doneq, n->capdone, sizeof(*n->doneq));
    }
    j->tag = (j->tag & ~1ULL) | (ok ? 1 : 0); /* low bit carries ok back to the loop */
    n->doneq[n->ndone++] = j;
    pthread_mutex_unlock(&n->mu);
    event_active(n->ev_done, EV_READ, 0);
}

static void
release_claim(alert_notifier *n, jstate *s)
{
    if (n->redis && s->claim_key[0]) {
        const char *argv[] = {"DEL", s->claim_key};
        redisReply *r = alert_redis_cmd(n->redis, 2, argv);
        if (r)
            freeReplyObject(r);
        s->claim_key[0] = 0;
    }
}

static void
data_init(alert_notify_data *d, const alert_notify_job *j)
{
    memset(d, 0, sizeof(*d));
    d->job = j;
    osp_labels_init(&d->common_labels);
    osp_labels_init(&d->common_annotations);
    bool sr = send_resolved(j);
    d->alerts = osp_calloc(j->nalerts ? j->nalerts : 1, sizeof(*d->alerts));
    for (size_t i = 0; i < j->nalerts; i++) {
        bool firing = !alert_alert_resolved(j->alerts[i], j->now_ms);
        if (firing)
            d->nfiring++;
        else
            d->nresolved++;
        if (firing || sr)
            d->alerts[d->n++] = j->alerts[i];
    }
    if (!sr)
        d->nresolved = 0;
    common_pairs(d->alerts, d->n, false, &d->common_labels);
    common_pairs(d->alerts, d->n, true, &d->common_annotations);
    if (j->kind == ALERT_INT_WEBHOOK) {
        int max = j->rcv->webhooks[j->idx].max_alerts;
        if (max > 0 && d->n > (size_t)max) {
            d->truncated = d->n - (size_t)max;
            d->n = (size_t)max;
        }
    }
}

static void
data_fini(alert_notify_data *d)
{
    osp_free(d->alerts);
    osp_labels_fini(&d->common_labels);
    osp_labels_fini(&d->common_annotations);
}

static const char *
metric_labels(const alert_notify_job *j, const char **lv)
{
    lv[0] = j->rcv->name;
    lv[1] = kind_name[j->kind];
    return NULL;
}

/* First look at a job: dedup, claim. Returns true when it should be sent. */
static bool
admit(alert_notifier *n, alert_notify_job *j, jstate *s)
{
    osp_buf f, r;
    osp_buf_init(&f);
    osp_buf_init(&r);
    for (size_t i = 0; i < j->nalerts; i++) {
        osp_buf *b = alert_alert_resolved(j->alerts[i], j->now_ms) ? &r : &f;
        char fp[17];
        alert_fp_str(j->alerts[i]->fp, fp);
        if (b->len)
            osp_buf_putc(b, ',');
        osp_buf_puts(b, fp);
    }
    s->firing = osp_buf_steal(&f, NULL);
    s->resolved = osp_buf_steal(&r, NULL);
    uint64_t kh = strhash(j->group_key);
    snprintf(s->nflog_key, sizeof(s->nflog_key), "osprey:alerter:nflog:%s:%s:%zu:%016llx",
             j->rcv->name, kind_name[j->kind], j->idx, (unsigned long long)kh);
    char *ef = NULL, *er = NULL;
    int64_t ets = 0;
    bool have = nflog_get(n, s->nflog_key, &ef, &er, &ets);
    bool sr = send_resolved(j);
    bool need = needs_update(have, ef ? ef : "", er ? er : "", ets, s->firing, s->resolved, sr,
                             j->repeat_ms, j->now_ms);
    osp_free(ef);
    osp_free(er);
    if (!need) {
        osp_metric_inc(n->m_dedup);
        return false;
    }
    /* all resolved but this integration does not send resolved: clear the log only */
    if (*s->firing == 0 && !sr) {
        nflog_put(n, s->nflog_key, s->firing, s->resolved, j->now_ms);
        return false;
    }
    if (n->redis) {
        uint64_t sh = strhash(s->firing) ^ (strhash(s->resolved) * 31);
        snprintf(s->claim_key, sizeof(s->claim_key),
                 "osprey:alerter:claim:%016llx:%s:%zu:%016llx:%lld", (unsigned long long)kh,
                 kind_name[j->kind], j->idx, (unsigned long long)sh, (long long)ets);
        char px[32];
        int64_t ttl = j->deadline_ms - j->now_ms + 5000;
        snprintf(px, sizeof(px), "%lld", (long long)(ttl > 5000 ? ttl : 5000));
        const char *argv[] = {"SET", s->claim_key, "1", "NX", "PX", px};
        redisReply *rep = alert_redis_cmd(n->redis, 6, argv);
        if (rep) {
            bool won = rep->type == REDIS_REPLY_STATUS;
            freeReplyObject(rep);
            if (!won) {
                s->claim_key[0] = 0;
                osp_metric_inc(n->m_dedup);
                osp_log(OSP_LOG_DEBUG, "notify", "another alerter sends this notification",
                        "receiver", j->rcv->name, "group", j->group_key, NULL);
                return false;
            }
        } else {
            s->claim_key[0] = 0; /* Redis down: fail open (at least once) */
        }
    }
    return true;
}

static void
start_attempt(alert_notifier *n, alert_notify_job *j, jstate *s, int64_t now)
{
    alert_notify_data d;
    data_init(&d, j);
    int rc = prepare(n, j, s, &d, now);
    data_fini(&d);
    const char *lv[2];
    metric_labels(j, lv);
    if (rc) {
        if (s->easy)
            curl_easy_cleanup(s->easy);
        s->easy = NULL;
        osp_metric_inc(osp_metric_with(n->m_failed, lv));
        release_claim(n, s);
        finish(n, j, false);
        return;
    }
    s->attempts++;
    s->st = ST_SENDING;
    s->started_ns = osp_mono_ns();
    curl_multi_add_handle(n->multi, s->easy);
}

static void
remove_active(alert_notifier *n, size_t i)
{
    n->active[i] = n->active[--n->nactive];
}

static void
on_complete(alert_notifier *n, alert_notify_job *j, CURLcode cc)
{
    jstate *s = j->priv;
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(n->multi, s->easy);
    curl_easy_cleanup(s->easy);
    s->easy = NULL;
    const char *lv[2];
    metric_labels(j, lv);
    osp_metric_inc(osp_metric_with(n->m_requests, lv));
    double secs = (double)(osp_mono_ns() - s->started_ns) / 1e9;
    bool ok, retry;
    char why[CURL_ERROR_SIZE + 64];
    if (j->kind == ALERT_INT_EMAIL) {
        ok = cc == CURLE_OK;
        retry = !ok;
        snprintf(why, sizeof(why), "%s", s->err[0] ? s->err : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        ok = false;
        retry = true;
        snprintf(why, sizeof(why), "%s", s->err[0] ? s->err : curl_easy_strerror(cc));
    } else {
        ok = code >= 200 && code < 300;
        retry = code >= 500;
        snprintf(why, sizeof(why), "unexpected status code %ld: %.200s", code,
                 osp_buf_cstr(&s->resp));
    }
    osp_metric_observe(osp_metric_with(n->m_latency, lv), secs);
    size_t idx;
    for (idx = 0; idx < n->nactive && n->active[idx] != j; idx++)
        ;
    if (ok) {
        osp_metric_inc(osp_metric_with(n->m_total, lv));
        nflog_put(n, s->nflog_key, s->firing, s->resolved, j->now_ms);
        if (s->attempts > 1)
            osp_log(OSP_LOG_INFO, "notify", "notification delivered after retries", "receiver",
                    j->rcv->name, "integration", kind_name[j->kind], NULL);
        remove_active(n, idx);
        finish(n, j, true);
        return;
    }
    osp_metric_inc(osp_metric_with(n->m_req_failed, lv));
    int64_t now = osp_now_ms();
    int64_t backoff = BACKOFF_START_MS;
    for (int k = 1; k < s->attempts && backoff < BACKOFF_MAX_MS; k++)
        backoff = backoff * 3 / 2;
    if (backoff > BACKOFF_MAX_MS)
        backoff = BACKOFF_MAX_MS;
    backoff += rand() % (backoff / 5 + 1);
    char att[16];
    snprintf(att, sizeof(att), "%d", s->attempts);
    if (retry && now + backoff < j->deadline_ms) {
        osp_log(s->attempts == 1 ? OSP_LOG_WARN : OSP_LOG_DEBUG, "notify",
                "notify attempt failed; retrying", "receiver", j->rcv->name, "integration",
                kind_name[j->kind], "attempt", att, "error", why, NULL);
        s->st = ST_BACKOFF;
        s->next_ms = now + backoff;
        return;
    }
    osp_log(OSP_LOG_ERROR, "notify",
            retry ? "notify failed; giving up until the next group_interval"
                  : "notify failed permanently for this attempt",
            "receiver", j->rcv->name, "integration", kind_name[j->kind], "attempts", att, "error",
            why, NULL);
    osp_metric_inc(osp_metric_with(n->m_failed, lv));
    release_claim(n, s);
    remove_active(n, idx);
    finish(n, j, false);
}

static void *
worker(void *arg)
{
    alert_notifier *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        bool stop = n->stop;
        alert_notify_job **in = n->inq;
        size_t nin = n->nin;
        n->inq = NULL;
        n->nin = n->capin = 0;
        pthread_mutex_unlock(&n->mu);
        if (stop) {
            for (size_t i = 0; i < nin; i++)
                alert_notify_job_free(in[i]);
            osp_free(in);
            break;
        }
        int64_t now = osp_now_ms();
        for (size_t i = 0; i < nin; i++) {
            alert_notify_job *j = in[i];
            jstate *s = osp_calloc(1, sizeof(*s));
            osp_buf_init(&s->body);
            osp_buf_init(&s->resp);
            j->priv = s;
            if (!admit(n, j, s)) {
                finish(n, j, true);
                continue;
            }
            if (n->nactive == n->capactive) {
                n->capactive = n->capactive ? n->capactive * 2 : 64;
                n->active = osp_reallocarray(n->active, n->capactive, sizeof(*n->active));
            }
            n->active[n->nactive++] = j;
            start_attempt(n, j, s, now);
            if (s->st != ST_SENDING) { /* failed to prepare: already finished */
                n->nactive--;
            }
        }
        osp_free(in);
        int64_t next = now + 1000;
        for (size_t i = 0; i < n->nactive; i++) {
            jstate *s = n->active[i]->priv;
            if (s->st == ST_BACKOFF) {
                if (s->next_ms <= now) {
                    alert_notify_job *j = n->active[i];
                    start_attempt(n, j, s, now);
                    if (s->st != ST_SENDING) {
                        remove_active(n, i);
                        i--;
                    }
                } else if (s->next_ms < next) {
                    next = s->next_ms;
                }
            }
        }
        int running = 0;
        curl_multi_perform(n->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(n->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            alert_notify_job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            on_complete(n, j, m->data.result);
        }
        int64_t wait = next - osp_now_ms();
        if (wait < 0)
            wait = 0;
        if (wait > 1000)
            wait = 1000;
        curl_multi_poll(n->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
    alert_notifier *n = arg;
    pthread_mutex_lock(&n->mu);
    alert_notify_job **v = n->doneq;
    size_t k = n->ndone;
    n->doneq = NULL;
    n->ndone = n->capdone = 0;
    n->pending -= k;
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < k; i++) {
        alert_notify_job *j = v[i];
        if (j->done)
            j->done(j->done_ctx, j, (j->tag & 1) != 0);
        alert_notify_job_free(j);
    }
    osp_free(v);
}

int
alert_notifier_new(const alert_notifier_opts *o, alert_notifier **out, osp_errinfo *ei)
{
    alert_notifier *n = osp_calloc(1, sizeof(*n));
    pthread_mutex_init(&n->mu, NULL);
    int rc;
    if (o->redis_url && *o->redis_url &&
        (rc = alert_redis_new(o->redis_url, "notification log", &n->redis, ei)))
        goto fail;
    n->external_url = osp_strdup(o->external_url ? o->external_url : "");
    n->multi = curl_multi_init();
    n->ev_done = event_new(o->base, -1, 0, on_done, n);
    if (n->multi == NULL || n->ev_done == NULL) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot create the notifier");
        goto fail;
    }
    const char *ln[] = {"receiver", "integration"};
    n->m_total = osp_metrics_counter_vec(o->metrics, "osprey_alerter_notifications_total",
                                         "Notifications delivered.", 2, ln);
    n->m_failed = osp_metrics_counter_vec(o->metrics, "osprey_alerter_notifications_failed_total",
                                          "Notifications that failed after all retries.", 2, ln);
    n->m_requests =
        osp_metrics_counter_vec(o->metrics, "osprey_alerter_notification_requests_total",
                                "Notification attempts (requests) made.", 2, ln);
    n->m_req_failed =
        osp_metrics_counter_vec(o->metrics, "osprey_alerter_notification_requests_failed_total",
                                "Notification attempts that failed.", 2, ln);
    n->m_latency =
        osp_metrics_histogram_vec(o->metrics, "osprey_alerter_notification_latency_seconds",
                                  "Latency of notification attempts.", NULL, 0, 2, ln);
    n->m_dedup = osp_metrics_counter(o->metrics, "osprey_alerter_notifications_deduplicated_total",
                                     "Flushes that needed no notification (already sent, by "
                                     "this or another alerter).");
    if (pthread_create(&n->thr, NULL, worker, n) != 0) {
        rc = osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot start the notifier thread");
        goto fail;
    }
    n->started = true;
    *out = n;
    return 0;
fail:
    alert_notifier_free(n);
    return rc;
}

void
alert_notifier_submit(alert_notifier *n, alert_notify_job *job)
{
    job->external_url = n->external_url;
    pthread_mutex_lock(&n->mu);
    if (n->nin == n->capin) {
        n->capin = n->capin ? n->capin * 2 : 64;
        n->inq = osp_reallocarray(n->inq, n->capin, sizeof(*n->inq));
    }
    n->inq[n->nin++] = job;
    n->pending++;
    pthread_mutex_unlock(&n->mu);
    curl_multi_wakeup(n->multi);
}

size_t
alert_notifier_pending(alert_notifier *n)
{
    pthread_mutex_lock(&n->mu);
    size_t p = n->pending;
    pthread_mutex_unlock(&n->mu);
    return p;
}

void
alert_notifier_free(alert_notifier *n)
{
    if (n == NULL)
        return;
    if (n->started) {
        pthread_mutex_lock(&n->mu);
        n->stop = true;
        pthread_mutex_unlock(&n->mu);
        curl_multi_wakeup(n->multi);
        pthread_join(n->thr, NULL);
    }
    for (size_t i = 0; i < n->nactive; i++) {
        jstate *s = n->active[i]->priv;
        if (s->easy) {
            curl_multi_remove_handle(n->multi, s->easy);
            curl_easy_cleanup(s->easy);
            s->easy = NULL;
        }
        alert_notify_job_free(n->active[i]);
    }
    osp_free(n->active);
    for (size_t i = 0; i < n->ndone; i++)
        alert_notify_job_free(n->doneq[i]);
    osp_free(n->doneq);
    for (size_t i = 0; i < n->nin; i++)
        alert_notify_job_free(n->inq[i]);
    osp_free(n->inq);
    for (size_t b = 0; b < 1024; b++)
        for (nflog_ent *e = n->nflog[b], *nx; e; e = nx) {
            nx = e->next;
            osp_free(e->key);
            osp_free(e->firing);
            osp_free(e->resolved);
            osp_free(e);
        }
    if (n->multi)
        curl_multi_cleanup(n->multi);
    if (n->ev_done)
        event_free(n->ev_done);
    alert_redis_free(n->redis);
    osp_free(n->external_url);
    pthread_mutex_destroy(&n->mu);
    osp_free(n);
}
