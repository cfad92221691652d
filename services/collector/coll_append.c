/* coll_append.c - the append path. A scrape cache keyed by the raw series text
 * (name and labels as exposed) maps each line to its final label set, so steady
 * state scrapes allocate nothing per sample: hash, lookup, add to the batch. */
#include "coll_append.h"

#include <stdio.h>
#include <string.h>

#include "osp_mem.h"
#include "osp_time.h"

enum { ENT_OK, ENT_DROPPED, ENT_LABEL_LIMIT };

/* One allocation per raw series: the raw key and, for ENT_OK, a reference to
 * its series, which holds the final labels encoded once as packed
 * Series.labels fields, copied into every batch (the label set itself is not
 * kept: resolving builds it in scratch). */
typedef struct cache_ent {
    coll_series *ser; /* ENT_OK only, else NULL */
    uint64_t gen;
    /* the entry of the line that followed this one in the last scrape (NULL:
     * none known): pages list their series in the same order every time, so
     * it is the first guess for the next line */
    struct cache_ent *next;
    uint32_t keylen;
    int state;
    char key[];
} cache_ent;

static const char *const synth_names[COLL_SYNTH_N] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "scrape_parse_errors",
};
static const char *const synth_help[COLL_SYNTH_N] = {
    "1 if the last scrape of the target succeeded, 0 if it failed",
    "Duration of the scrape",
    "Samples the target exposed",
    "Samples left after metric relabeling",
    "New series in this scrape",
    "Lines of the exposition that were rejected (bad syntax or duplicate series)",
};

static void
cache_ent_free(cache_ent *e)
{
    coll_series_unref(e->ser);
    osp_free(e);
}

static void
cache_clear(coll_map *m)
{
    size_t it = 0;
    void *v;
    while (coll_map_next(m, &it, NULL, &v))
        cache_ent_free(v);
    coll_map_fini(m);
    coll_map_init(m);
}

static void
meta_clear(coll_map *m)
{
    coll_map_fini(m);
    coll_map_init(m);
}

coll_tstate *
coll_tstate_new(const coll_tdef *def)
{
    coll_tstate *st = osp_calloc(1, sizeof(*st));
    osp_labels_init(&st->def.labels);
    osp_labels_copy(&st->def.labels, &def->labels);
    st->def.url = osp_strdup(def->url);
    st->def.interval_ms = def->interval_ms;
    st->def.timeout_ms = def->timeout_ms;
    st->def.key = def->key;
    st->def.job = def->job;
    coll_map_init(&st->cache);
    coll_map_init(&st->meta);
    coll_series_init(&st->series);
    for (int i = 0; i < COLL_SYNTH_N; i++) {
        osp_labels_init(&st->synth[i]);
        osp_labels_copy(&st->synth[i], &def->labels);
        osp_labels_set(&st->synth[i], "__name__", synth_names[i]);
        osp_labels_sort(&st->synth[i]);
    }
    osp_buf_init(&st->key);
    osp_buf_init(&st->s1);
    osp_buf_init(&st->s2);
    osp_buf_init(&st->s3);
    osp_labels_init(&st->tmp);
    osp_buf_init(&st->pb);
    return st;
}

void
coll_tstate_free(coll_tstate *st)
{
    if (!st)
        return;
    cache_clear(&st->cache);
    coll_map_fini(&st->cache);
    coll_map_fini(&st->meta);
    coll_series_fini(&st->series);
    for (int i = 0; i < COLL_SYNTH_N; i++)
        osp_labels_fini(&st->synth[i]);
    osp_buf_fini(&st->key);
    osp_buf_fini(&st->s1);
    osp_buf_fini(&st->s2);
    osp_buf_fini(&st->s3);
    osp_labels_fini(&st->tmp);
    osp_buf_fini(&st->pb);
    coll_tdef_fini(&st->def);
    osp_free(st);
}

void
coll_tstate_set_job(coll_tstate *st, const coll_job *job)
{
    st->def.job = job;
    cache_clear(&st->cache);
}

typedef struct actx {
    coll_tstate *st;
    osp_mbatch *b;
    coll_scrape_result *res;
    int64_t ts_ms;
    const char *fail; /* set when a limit fails the scrape */
    char failbuf[200];
    cache_ent *prev; /* the cache entry of the previous line, or NULL */
} actx;

static void
complain(actx *a, int line, const char *reason)
{
    uint64_t suppressed = 0;
    if (!osp_ratelim_fail(&a->st->err_rl, osp_now_ms(), &suppressed))
        return;
    char ln[24], sup[24];
    snprintf(ln, sizeof(ln), "%d", line);
    snprintf(sup, sizeof(sup), "%llu", (unsigned long long)suppressed);
    osp_log(OSP_LOG_WARN, "scrape", "skipping bad line", "job", a->st->def.job->name, "target",
            a->st->def.url, "line", ln, "reason", reason, "suppressed", sup, NULL);
}

static void
on_error(void *ctx, const osp_expfmt_error *e)
{
    actx *a = ctx;
    a->res->parse_errors++;
    complain(a, e->line, e->msg);
}

/* raw_key: name and labels as exposed, with separators that cannot occur in
 * UTF-8 text, so distinct lines give distinct keys. */
static void
raw_key(osp_buf *k, const osp_expfmt_sample *s)
{
    osp_buf_reset(k);
    osp_buf_append(k, s->name.p, s->name.n);
    for (size_t i = 0; i < s->nlabels; i++) {
        osp_buf_putc(k, (char)0xff);
        osp_buf_append(k, s->labels[i].name.p, s->labels[i].name.n);
        osp_buf_putc(k, (char)0xfe);
        osp_buf_append(k, s->labels[i].value.p, s->labels[i].value.n);
    }
}

/* key_matches: e's key is raw_key(s), compared without building it. */
static bool
key_matches(const cache_ent *e, const osp_expfmt_sample *s)
{
    const char *k = e->key, *end = e->key + e->keylen;
    if ((size_t)(end - k) < s->name.n || memcmp(k, s->name.p, s->name.n) != 0)
        return false;
    k += s->name.n;
    for (size_t i = 0; i < s->nlabels; i++) {
        size_t nn = s->labels[i].name.n, vn = s->labels[i].value.n;
        if ((size_t)(end - k) < nn + vn + 2 || (unsigned char)k[0] != 0xff ||
            memcmp(k + 1, s->labels[i].name.p, nn) != 0 || (unsigned char)k[1 + nn] != 0xfe ||
            memcmp(k + 2 + nn, s->labels[i].value.p, vn) != 0)
            return false;
        k += nn + vn + 2;
    }
    return k == end;
}

/* resolve: the final labels of a raw series, into st->tmp; on ENT_OK their
 * packed encoding is in st->pb and *shash their hash. Returns the state. */
static int
resolve(coll_tstate *st, const osp_expfmt_sample *s, uint64_t *shash)
{
    const coll_job *job = st->def.job;
    osp_labels *ls = &st->tmp;
    osp_labels_reset(ls);
    osp_labels_add(ls, "__name__", 8, s->name.p, s->name.n);
    for (size_t i = 0; i < s->nlabels; i++)
        osp_labels_add(ls, s->labels[i].name.p, s->labels[i].name.n, s->labels[i].value.p,
                       s->labels[i].value.n);
    coll_labels_merge_target(ls, &st->def.labels, job->honor_labels);
    if (!coll_relabel_apply(job->mrelabel, job->nmrelabel, ls) || !osp_labels_get(ls, "__name__"))
        return ENT_DROPPED;
    osp_labels_sort(ls);
    *shash = osp_labels_hash(ls);
    osp_buf_reset(&st->pb);
    osp_pb_encode_labels(ls, &st->pb);
    if (job->label_limit && ls->n > job->label_limit)
        return ENT_LABEL_LIMIT;
    return ENT_OK;
}

/* cache_new: resolve a line whose key (st->key, hash h) is not cached into a
 * new entry under h. */
static cache_ent *
cache_new(coll_tstate *st, const osp_expfmt_sample *s, uint64_t h)
{
    uint64_t shash = 0;
    int state = resolve(st, s, &shash);
    cache_ent *e = osp_malloc(sizeof(*e) + st->key.len);
    e->ser = state == ENT_OK ? coll_series_ref(&st->series, st->pb.data, st->pb.len, shash) : NULL;
    e->gen = st->series.gen;
    st->cache_used++;
    e->next = NULL;
    e->keylen = (uint32_t)st->key.len;
    e->state = state;
    memcpy(e->key, st->key.data, st->key.len);
    coll_map_put(&st->cache, h, e);
    return e;
}

static int
on_sample(void *ctx, const osp_expfmt_sample *s)
{
    actx *a = ctx;
    coll_tstate *st = a->st;
    const coll_job *job = st->def.job;
    a->res->scraped++;
    cache_ent *e = a->prev != NULL ? a->prev->next : NULL;
    if (e == NULL || !key_matches(e, s)) {
        raw_key(&st->key, s);
        uint64_t h = osp_hash64(st->key.data, st->key.len, 0x72617773ULL);
        e = coll_map_get(&st->cache, h);
        if (e == NULL)
            e = cache_new(st, s, h);
        else if (e->keylen != st->key.len || memcmp(e->key, st->key.data, e->keylen) != 0)
            e = NULL; /* another line holds h: resolved below, not cached */
        if (e != NULL && a->prev != NULL)
            a->prev->next = e;
    }
    a->prev = e;
    int state;
    coll_series *ser = NULL; /* uncached: a reference of this call's own */
    if (e) {
        state = e->state;
        if (e->gen != st->series.gen) {
            e->gen = st->series.gen;
            st->cache_used++;
        }
    } else { /* a 64-bit collision of two raw lines */
        uint64_t shash = 0;
        state = resolve(st, s, &shash);
        if (state == ENT_OK)
            ser = coll_series_ref(&st->series, st->pb.data, st->pb.len, shash);
    }
    if (state == ENT_DROPPED)
        return 0;
    if (state == ENT_LABEL_LIMIT) {
        snprintf(a->failbuf, sizeof(a->failbuf), "label_limit %llu exceeded (metric %.*s)",
                 (unsigned long long)job->label_limit, (int)s->name.n, s->name.p);
        a->fail = a->failbuf;
        return OSP_ELIMIT;
    }
    a->res->post_relabel++;
    if (job->sample_limit && a->res->post_relabel > job->sample_limit) {
        snprintf(a->failbuf, sizeof(a->failbuf), "sample_limit %llu exceeded",
                 (unsigned long long)job->sample_limit);
        a->fail = a->failbuf;
        coll_series_unref(ser);
        return OSP_ELIMIT;
    }
    bool honour_ts = job->honor_timestamps && s->has_ts;
    coll_series **sp = e ? &e->ser : &ser;
    int seen = coll_series_see(&st->series, sp, honour_ts);
    const coll_series *se = *sp;
    coll_series_unref(ser); /* the set or the cache holds the series on */
    if (seen < 0) {
        a->res->post_relabel--;
        a->res->parse_errors++;
        complain(a, s->line, "duplicate series in the same scrape (first one kept)");
        return 0;
    }
    a->res->added += (size_t)seen;
    int64_t ts = honour_ts ? s->ts_ms : a->ts_ms;
    osp_mbatch_add_series_pb(a->b, se->pb, se->pblen, &ts, &s->value, 1);
    return 0;
}

static void
add_meta(coll_tstate *st, osp_mbatch *b, const char *name, size_t nlen, const char *type,
         const char *help, size_t hlen, const char *unit, size_t ulen)
{
    uint64_t fh = osp_hash64(name, nlen, 0x6d657461ULL);
    uint64_t ch = osp_hash64(type, strlen(type), 1);
    ch = osp_hash64(help, hlen, ch);
    ch = osp_hash64(unit, ulen, ch);
    ch |= 1; /* never NULL as a pointer value */
    if ((uint64_t)(uintptr_t)coll_map_get(&st->meta, fh) == ch)
        return;
    coll_map_put(&st->meta, fh, (void *)(uintptr_t)ch);
    osp_buf_reset(&st->s1);
    osp_buf_append(&st->s1, name, nlen);
    osp_buf_reset(&st->s2);
    osp_buf_append(&st->s2, help, hlen);
    osp_buf_reset(&st->s3);
    osp_buf_append(&st->s3, unit, ulen);
    osp_mbatch_add_meta(b, osp_buf_cstr(&st->s1), type, osp_buf_cstr(&st->s2),
                        osp_buf_cstr(&st->s3));
}

static int
on_meta(void *ctx, const osp_expfmt_meta *m)
{
    actx *a = ctx;
    const char *type = m->type != OSP_EXPFMT_TYPE_NONE ? osp_expfmt_type_name(m->type) : "unknown";
    add_meta(a->st, a->b, m->name.p, m->name.n, type, m->has_help ? m->help.p : "",
             m->has_help ? m->help.n : 0, m->unit.p ? m->unit.p : "", m->unit.n);
    return 0;
}

static void
write_synth(coll_tstate *st, int64_t ts_ms, double duration_s, const coll_scrape_result *res,
            osp_mbatch *b)
{
    double v[COLL_SYNTH_N] = {
        res->up ? 1 : 0,           duration_s,         (double)res->scraped,
        (double)res->post_relabel, (double)res->added, (double)res->parse_errors,
    };
    for (int i = 0; i < COLL_SYNTH_N; i++) {
        osp_mbatch_add_series(b, &st->synth[i], &ts_ms, &v[i], 1);
        add_meta(st, b, synth_names[i], strlen(synth_names[i]), "gauge", synth_help[i],
                 strlen(synth_help[i]), "", 0);
    }
    st->synth_published = true;
}

static void
log_failure(coll_tstate *st, const char *why)
{
    uint64_t suppressed = 0;
    if (osp_ratelim_fail(&st->fail_rl, osp_now_ms(), &suppressed)) {
        char sup[24];
        snprintf(sup, sizeof(sup), "%llu", (unsigned long long)suppressed);
        osp_log(OSP_LOG_WARN, "scrape", "scrape failed", "job", st->def.job->name, "target",
                st->def.url, "error", why, "suppressed", sup, NULL);
    }
}

static void
log_success(coll_tstate *st)
{
    if (osp_ratelim_ok(&st->fail_rl))
        osp_log(OSP_LOG_INFO, "scrape", "target is up again", "job", st->def.job->name, "target",
                st->def.url, NULL);
}

static void
evict_cache(coll_tstate *st)
{
    /* Entries unused for two scrapes go: the page changed shape. */
    if (st->cache_used == st->cache.n)
        return; /* this scrape used every entry: none to visit */
    uint64_t gen = st->series.gen;
    size_t it = 0, n = 0;
    uint64_t key;
    void *v;
    uint64_t *keys = NULL;
    size_t cap = 0;
    while (coll_map_next(&st->cache, &it, &key, &v)) {
        cache_ent *e = v;
        if (e->gen + 1 < gen) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                keys = osp_reallocarray(keys, cap, sizeof(*keys));
            }
            keys[n++] = key;
        }
    }
    for (size_t i = 0; i < n; i++)
        cache_ent_free(coll_map_del(&st->cache, keys[i]));
    osp_free(keys);
    if (n > 0) { /* successor guesses may name freed entries */
        it = 0;
        while (coll_map_next(&st->cache, &it, NULL, &v))
            ((cache_ent *)v)->next = NULL;
    }
}

void
coll_append_page(coll_tstate *st, osp_expfmt_dialect d, const char *page, size_t len, int64_t ts_ms,
                 double duration_s, osp_mbatch *b, coll_scrape_result *res)
{
    memset(res, 0, sizeof(*res));
    coll_series_begin(&st->series);
    st->cache_used = 0;
    actx a = {.st = st, .b = b, .res = res, .ts_ms = ts_ms};
    osp_expfmt_handler h = {.ctx = &a, .sample = on_sample, .meta = on_meta, .error = on_error};
    osp_expfmt_stats stats;
    int rc = osp_expfmt_parse(d, page, len, &h, &stats);
    if (rc != 0 || a.fail) {
        /* A limit failed the whole scrape: nothing of it is published. */
        osp_mbatch_reset(b);
        meta_clear(&st->meta);
        size_t scraped = res->scraped;
        memset(res, 0, sizeof(*res));
        res->scraped = scraped;
        snprintf(res->err, sizeof(res->err), "%s", a.fail ? a.fail : osp_err_str(rc));
        res->stale = coll_series_end(&st->series, false, ts_ms, b);
        log_failure(st, res->err);
        write_synth(st, ts_ms, duration_s, res, b);
        return;
    }
    res->up = !(res->parse_errors > 0 && res->scraped == 0);
    if (!res->up)
        snprintf(res->err, sizeof(res->err), "no valid sample in the exposition (%zu bad lines)",
                 res->parse_errors);
    if (res->parse_errors == 0)
        (void)osp_ratelim_ok(&st->err_rl);
    res->stale = coll_series_end(&st->series, true, ts_ms, b);
    evict_cache(st);
    if (res->up)
        log_success(st);
    else
        log_failure(st, res->err);
    write_synth(st, ts_ms, duration_s, res, b);
}

void
coll_append_failure(coll_tstate *st, int64_t ts_ms, double duration_s, const char *why,
                    osp_mbatch *b, coll_scrape_result *res)
{
    memset(res, 0, sizeof(*res));
    snprintf(res->err, sizeof(res->err), "%s", why ? why : "scrape failed");
    coll_series_begin(&st->series);
    res->stale = coll_series_end(&st->series, false, ts_ms, b);
    log_failure(st, res->err);
    write_synth(st, ts_ms, duration_s, res, b);
}

size_t
coll_append_stale_all(coll_tstate *st, int64_t ts_ms, osp_mbatch *b)
{
    size_t n = coll_series_stale_all(&st->series, ts_ms, b);
    if (st->synth_published) {
        double v = coll_stale_nan();
        for (int i = 0; i < COLL_SYNTH_N; i++)
            osp_mbatch_add_series(b, &st->synth[i], &ts_ms, &v, 1);
        n += COLL_SYNTH_N;
        st->synth_published = false;
    }
    return n;
}
