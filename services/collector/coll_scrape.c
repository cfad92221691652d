/* coll_scrape.c - scrape thread: curl multi + curl_multi_poll, a deadline per
 * target, appending and publishing on this thread. The loop thread only hands
 * over new target sets (coll_scraper_update) under a mutex and wakes us. */
#include "coll_scrape.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "coll_append.h"
#include "coll_map.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define ACCEPT_HEADER                                                                              \
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"             \
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

typedef struct starget {
    coll_tstate *st;
    CURL *easy;
    struct curl_slist *hdrs;
    osp_buf body;
    bool inflight;
    bool too_big;
    bool warned_ct;
    int64_t next_ms;
    int64_t start_ms;
    int64_t start_ns;
    char errbuf[CURL_ERROR_SIZE];
    osp_metric *m_scrapes, *m_failures;
} starget;

struct coll_scraper {
    coll_scraper_opts opts;
    CURLM *multi;
    pthread_t thread;
    bool started;
    atomic_bool running;
    pthread_mutex_t mu;
    bool stop;                /* under mu */
    coll_config *pending_cfg; /* under mu */
    coll_tset pending;        /* under mu */
    bool has_pending;         /* under mu */
    /* scrape thread only */
    coll_config *cfg;
    starget **t;
    size_t nt;
    osp_mbatch *batch;
    osp_ratelim pub_rl;
};

static int64_t
first_deadline(uint64_t key, int64_t interval, int64_t now)
{
    int64_t off = coll_target_offset(key, interval);
    int64_t base = now - now % interval + off;
    return base < now ? base + interval : base;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    starget *t = ud;
    size_t n = size * nmemb;
    uint64_t limit = t->st->def.job->body_size_limit;
    if (limit && t->body.len + n > limit) {
        t->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    osp_buf_append(&t->body, p, n);
    return n;
}

static void
publish(coll_scraper *s)
{
    if (osp_mbatch_series_count(s->batch) == 0)
        return;
    const void *a, *b;
    size_t alen, blen;
    osp_mbatch_view(s->batch, &a, &alen, &b, &blen);
    int rc = s->opts.publish(s->opts.publish_ctx, a, alen, b, blen);
    osp_mbatch_reset(s->batch);
    uint64_t sup = 0;
    if (rc && osp_ratelim_fail(&s->pub_rl, osp_now_ms(), &sup))
        osp_log(OSP_LOG_ERROR, "scrape", "cannot publish batch", "error", osp_err_str(rc), NULL);
    else if (!rc && osp_ratelim_ok(&s->pub_rl))
        osp_log(OSP_LOG_INFO, "scrape", "publishing works again", NULL);
}

static void
target_metrics(coll_scraper *s, starget *t)
{
    if (!s->opts.metrics)
        return;
    const char *job[] = {t->st->def.job->name};
    t->m_scrapes = osp_metric_with(s->opts.metrics->scrapes, job);
    t->m_failures = osp_metric_with(s->opts.metrics->failures, job);
}

static starget *
target_new(coll_scraper *s, const coll_tdef *def, int64_t now)
{
    starget *t = osp_calloc(1, sizeof(*t));
    t->st = coll_tstate_new(def);
    t->easy = curl_easy_init();
    osp_buf_init(&t->body);
    t->next_ms = first_deadline(def->key, def->interval_ms, now);
    target_metrics(s, t);
    return t;
}

static void
target_free(coll_scraper *s, starget *t, int64_t now)
{
    if (t->inflight)
        curl_multi_remove_handle(s->multi, t->easy);
    coll_append_stale_all(t->st, now, s->batch);
    publish(s);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    osp_buf_fini(&t->body);
    coll_tstate_free(t->st);
    osp_free(t);
}

/* read_secret: first line-trimmed content of a credentials file into out. */
static bool
read_secret(const char *path, char *out, size_t outsz)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(out, 1, outsz - 1, f);
    fclose(f);
    out[n] = 0;
    while (n &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = 0;
    return true;
}

static bool
start(coll_scraper *s, starget *t, int64_t now)
{
    const coll_job *job = t->st->def.job;
    CURL *e = t->easy;
    char hdr[8192];
    curl_slist_free_all(t->hdrs);
    t->hdrs = curl_slist_append(NULL, ACCEPT_HEADER);
    snprintf(hdr, sizeof(hdr), "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)t->st->def.timeout_ms / 1000.0);
    t->hdrs = curl_slist_append(t->hdrs, hdr);
    curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
    if (job->auth_type) {
        char cred[4096] = "";
        if (job->auth_credentials)
            snprintf(cred, sizeof(cred), "%s", job->auth_credentials);
        else if (!read_secret(job->auth_credentials_file, cred, sizeof(cred)))
            return false;
        snprintf(hdr, sizeof(hdr), "Authorization: %s %s", job->auth_type, cred);
        t->hdrs = curl_slist_append(t->hdrs, hdr);
        memset(cred, 0, sizeof(cred));
        memset(hdr, 0, sizeof(hdr));
    } else if (job->basic_user) {
        char pass[4096] = "";
        if (job->basic_pass)
            snprintf(pass, sizeof(pass), "%s", job->basic_pass);
        else if (job->basic_pass_file && !read_secret(job->basic_pass_file, pass, sizeof(pass)))
            return false;
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, job->basic_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass); /* curl copies */
        memset(pass, 0, sizeof(pass));
    }
    curl_easy_setopt(e, CURLOPT_URL, t->st->def.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "Osprey/" OSPREY_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->st->def.timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    t->errbuf[0] = 0;
    osp_buf_reset(&t->body);
    t->too_big = false;
    t->start_ms = now;
    t->start_ns = osp_mono_ns();
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return false;
    t->inflight = true;
    return true;
}

static void
finish(coll_scraper *s, starget *t, CURLcode code)
{
    coll_tstate *st = t->st;
    const coll_job *job = st->def.job;
    double dur = (double)(osp_mono_ns() - t->start_ns) / 1e9;
    char why[512] = "";
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (t->too_big)
        snprintf(why, sizeof(why), "body_size_limit exceeded: response body larger than %llu bytes",
                 (unsigned long long)job->body_size_limit);
    else if (code != CURLE_OK)
        snprintf(why, sizeof(why), "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(code));
    else if (status < 200 || status > 299)
        snprintf(why, sizeof(why), "server returned HTTP status %ld", status);
    coll_scrape_result res;
    if (why[0]) {
        coll_append_failure(st, t->start_ms, dur, why, s->batch, &res);
    } else {
        osp_expfmt_dialect d;
        if (ct && *ct) {
            d = osp_expfmt_dialect_from_content_type(ct);
        } else {
            d = job->fallback_dialect >= 0 ? (osp_expfmt_dialect)job->fallback_dialect
                                           : OSP_EXPFMT_TEXT;
            if (job->fallback_dialect < 0 && !t->warned_ct) {
                t->warned_ct = true;
                osp_log(OSP_LOG_WARN, "scrape",
                        "response has no Content-Type; parsing it as text 0.0.4 (set "
                        "fallback_scrape_protocol to choose)",
                        "job", job->name, "target", st->def.url, NULL);
            }
        }
        coll_append_page(st, d, t->body.data ? t->body.data : "", t->body.len, t->start_ms, dur,
                         s->batch, &res);
    }
    if (s->opts.metrics) {
        osp_metric_inc(t->m_scrapes);
        if (!res.up)
            osp_metric_inc(t->m_failures);
        osp_metric_add(s->opts.metrics->samples, (double)res.scraped);
        osp_metric_add(s->opts.metrics->parse_errors, (double)res.parse_errors);
    }
    publish(s);
    /* Big one-off pages should not pin memory forever. */
    if (t->body.cap > (64u << 20))
        osp_buf_fini(&t->body);
}

static void
set_target_gauges(coll_scraper *s, coll_config *old)
{
    if (!s->opts.metrics)
        return;
    for (size_t j = 0; old && j < old->njobs; j++) {
        const char *job[] = {old->jobs[j].name};
        osp_metric_remove(s->opts.metrics->targets, job);
    }
    for (size_t j = 0; s->cfg && j < s->cfg->njobs; j++) {
        const char *job[] = {s->cfg->jobs[j].name};
        size_t n = 0;
        for (size_t i = 0; i < s->nt; i++)
            n += strcmp(s->t[i]->st->def.job->name, job[0]) == 0;
        osp_metric_set(osp_metric_with(s->opts.metrics->targets, job), (double)n);
    }
}

/* apply: swap in a new target set, keeping the state of targets that stay. */
static void
apply(coll_scraper *s, coll_config *cfg, coll_tset *set)
{
    int64_t now = osp_now_ms();
    coll_map old;
    coll_map_init(&old);
    for (size_t i = 0; i < s->nt; i++)
        coll_map_put(&old, s->t[i]->st->def.key, s->t[i]);
    starget **nt = osp_calloc(set->n ? set->n : 1, sizeof(*nt));
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        const coll_tdef *d = &set->v[i];
        starget *t = coll_map_del(&old, d->key);
        if (t) {
            if (t->inflight) { /* its job may go away with the old config */
                curl_multi_remove_handle(s->multi, t->easy);
                t->inflight = false;
            }
            coll_tstate_set_job(t->st, d->job);
            if (t->st->def.interval_ms != d->interval_ms)
                t->next_ms = first_deadline(d->key, d->interval_ms, now);
            t->st->def.interval_ms = d->interval_ms;
            t->st->def.timeout_ms = d->timeout_ms;
            target_metrics(s, t);
        } else {
            t = target_new(s, d, now);
        }
        nt[n++] = t;
    }
    size_t it = 0;
    void *v;
    while (coll_map_next(&old, &it, NULL, &v))
        target_free(s, v, now);
    coll_map_fini(&old);
    osp_free(s->t);
    s->t = nt;
    s->nt = n;
    coll_config *prev = s->cfg;
    s->cfg = cfg;
    set_target_gauges(s, prev);
    coll_config_unref(prev);
    coll_tset_fini(set);
    char num[24];
    snprintf(num, sizeof(num), "%zu", n);
    osp_log(OSP_LOG_INFO, "scrape", "target set updated", "targets", num, NULL);
}

static void *
run(void *arg)
{
    coll_scraper *s = arg;
    atomic_store(&s->running, true);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stop;
        coll_config *cfg = NULL;
        coll_tset set = {0};
        if (s->has_pending) {
            cfg = s->pending_cfg;
            set = s->pending;
            s->pending_cfg = NULL;
            memset(&s->pending, 0, sizeof(s->pending));
            s->has_pending = false;
        }
        pthread_mutex_unlock(&s->mu);
        if (cfg)
            apply(s, cfg, &set);
        if (stop)
            break;
        int64_t now = osp_now_ms();
        for (size_t i = 0; i < s->nt; i++) {
            starget *t = s->t[i];
            if (t->inflight || now < t->next_ms)
                continue;
            /* skip missed slots instead of scraping in a burst */
            int64_t slot = t->next_ms;
            while (t->next_ms <= now) {
                slot = t->next_ms;
                t->next_ms += t->st->def.interval_ms;
            }
            /* Stamped with the slot when the start was only a wake-up late, as
             * Prometheus does (2 ms there): regular timestamps cost ~1 bit. */
            int64_t ts = now - slot <= s->opts.ts_tolerance_ms ? slot : now;
            if (!start(s, t, ts)) {
                coll_scrape_result res;
                coll_append_failure(t->st, ts, 0, "cannot start request (credentials file?)",
                                    s->batch, &res);
                publish(s);
            }
        }
        int running = 0;
        curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            starget *t = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            CURLcode code = m->data.result;
            curl_multi_remove_handle(s->multi, m->easy_handle);
            t->inflight = false;
            finish(s, t, code);
        }
        now = osp_now_ms();
        int64_t wait = 1000;
        for (size_t i = 0; i < s->nt; i++)
            if (!s->t[i]->inflight && s->t[i]->next_ms - now < wait)
                wait = s->t[i]->next_ms - now;
        if (wait < 0)
            wait = 0;
        curl_multi_poll(s->multi, NULL, 0, (int)wait, NULL);
    }
    /* end-of-run staleness, as Prometheus does on shutdown */
    int64_t now = osp_now_ms();
    for (size_t i = 0; i < s->nt; i++)
        target_free(s, s->t[i], now);
    osp_free(s->t);
    s->t = NULL;
    s->nt = 0;
    atomic_store(&s->running, false);
    return NULL;
}

int
coll_scraper_new(const coll_scraper_opts *opts, coll_scraper **out, osp_errinfo *ei)
{
    coll_scraper *s = osp_calloc(1, sizeof(*s));
    s->opts = *opts;
    pthread_mutex_init(&s->mu, NULL);
    s->batch = osp_mbatch_new();
    s->multi = curl_multi_init();
    if (!s->multi) {
        coll_scraper_free(s);
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "curl_multi_init failed");
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        coll_scraper_free(s);
        return osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot start the scrape thread");
    }
    s->started = true;
    *out = s;
    return 0;
}

void
coll_scraper_update(coll_scraper *s, coll_config *cfg, coll_tset *set)
{
    pthread_mutex_lock(&s->mu);
    if (s->has_pending) {
        coll_config_unref(s->pending_cfg);
        coll_tset_fini(&s->pending);
    }
    s->pending_cfg = coll_config_ref(cfg);
    s->pending = *set;
    memset(set, 0, sizeof(*set));
    s->has_pending = true;
    pthread_mutex_unlock(&s->mu);
    curl_multi_wakeup(s->multi);
}

bool
coll_scraper_running(coll_scraper *s)
{
    return s && atomic_load(&s->running);
}

void
coll_scraper_stop(coll_scraper *s)
{
    if (!s || !s->started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    curl_multi_wakeup(s->multi);
    pthread_join(s->thread, NULL);
    s->started = false;
}

void
coll_scraper_free(coll_scraper *s)
{
    if (!s)
        return;
    coll_scraper_stop(s);
    if (s->has_pending) {
        coll_config_unref(s->pending_cfg);
        coll_tset_fini(&s->pending);
    }
    coll_config_unref(s->cfg);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    osp_mbatch_free(s->batch);
    pthread_mutex_destroy(&s->mu);
    osp_free(s);
}
