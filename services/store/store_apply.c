/* store_apply.c - validation of incoming series, the one-transaction commit of
 * a group of envelopes, and the application of new batches to the head.
 * Order matters: the log row is durable (COMMIT) before the head changes and
 * before any ack, and a batch already in the log is never applied twice. */
#include "store_apply.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bus_pb.h"
#include "log.h"
#include "osp_arena.h"
#include "osp_mem.h"
#include "osp_time.h"
#include "store_logrec.h"

void
store_prep_init(store_prep *p)
{
    memset(p, 0, sizeof(*p));
}

void
store_prep_fini(store_prep *p)
{
    for (size_t i = 0; i < p->n; i++)
        osp_labels_fini(&p->v[i].labels);
    osp_free(p->v);
    for (size_t i = 0; i < p->n_meta; i++) {
        osp_free(p->meta[i].name);
        osp_free(p->meta[i].type);
        osp_free(p->meta[i].help);
        osp_free(p->meta[i].unit);
    }
    osp_free(p->meta);
    for (size_t i = 0; i < p->n_owned; i++)
        osp_free(p->owned[i]);
    osp_free(p->owned);
    memset(p, 0, sizeof(*p));
}

/* The full check of a series not in the cache. Strings are taken as
 * protobuf-c's C strings (up to the first NUL), so the verdicts are those of
 * the unpacking decoder. */
static bool
prep_full(store_prep *p, store_prep_series *ps, const osp_wire_series *ws)
{
    osp_labels_init(&ps->labels);
    bool has_name = false, bad = false;
    osp_wire_it it;
    osp_wire_it_init(&it, ws->msg);
    osp_wire_view nv, vv;
    while (osp_wire_next_label(&it, &nv, &vv)) {
        size_t nl = osp_wire_cstr_len(nv), vl = osp_wire_cstr_len(vv);
        if (vl == 0)
            continue; /* Prometheus: an empty value is an absent label */
        if (!osp_label_name_valid(nv.p, nl) || !osp_utf8_valid(vv.p, vl))
            bad = true;
        if (nl == 8 && memcmp(nv.p, "__name__", 8) == 0)
            has_name = true;
        osp_labels_add(&ps->labels, nv.p, nl, vv.p, vl);
    }
    if (!has_name) {
        p->rej_no_name += ws->n_samples;
        goto reject;
    }
    if (bad) {
        p->rej_bad_label += ws->n_samples;
        goto reject;
    }
    osp_labels_sort(&ps->labels);
    for (size_t i = 1; i < ps->labels.n; i++) {
        if (strcmp(ps->labels.v[i - 1].name, ps->labels.v[i].name) == 0) {
            p->rej_dup_label += ws->n_samples;
            goto reject;
        }
    }
    ps->id = osp_labels_hash(&ps->labels);
    return true;
reject:
    osp_labels_fini(&ps->labels);
    return false;
}

static void
prep_series(store_prep *p, osp_wire_view msg, store_cache *cache)
{
    osp_wire_series ws;
    osp_wire_series_scan(msg, &ws);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->v = osp_reallocarray(p->v, p->cap, sizeof(*p->v));
    }
    store_prep_series *ps = &p->v[p->n];
    memset(ps, 0, sizeof(*ps));
    ps->msg = msg;
    ps->n = ws.n_samples;
    if (ps->n == 1)
        osp_wire_sample(ws.sample, &ps->t, &ps->v);
    bool keyed = cache != NULL && ws.labels.p != NULL;
    uint64_t kh = 0;
    store_cache_ent *prev = p->n > 0 ? p->v[p->n - 1].ce : NULL;
    if (keyed) {
        store_cache_ent *e = store_cache_lookup(cache, prev, ws.labels.p, ws.labels.n, &kh);
        if (e != NULL) {
            /* the guess for the next series is one cache miss or more (~100 k
             * entries): start loading it while this one goes on */
            store_cache_prefetch(e->next);
            /* the same bytes passed the checks before: nothing to check;
             * the labels are read back from them only if needed (ps_labels) */
            osp_labels_init(&ps->labels);
            ps->id = e->id;
            ps->ce = e;
            p->cache_hits++;
            p->n++;
            return;
        }
        p->cache_misses++;
    }
    if (!prep_full(p, ps, &ws))
        return;
    if (keyed) {
        ps->ce = store_cache_put(cache, ws.labels.p, ws.labels.n, kh, ps->id);
        store_cache_follow(prev, ps->ce);
    }
    p->n++;
}

/* ps_labels: ps's labels; a cache hit reads them back from the entry's key
 * the first time (a valid series has at least __name__, so none means not
 * read yet). */
static const osp_labels *
ps_labels(store_prep_series *ps)
{
    if (ps->labels.n == 0 && ps->ce != NULL)
        store_cache_labels(ps->ce, &ps->labels);
    return &ps->labels;
}

static char *
wire_strdup(osp_wire_view v)
{
    return osp_strndup(v.p, osp_wire_cstr_len(v));
}

static void
prep_meta(store_prep *p, osp_wire_view msg)
{
    osp_wire_view name, type, help, unit;
    osp_wire_metadata(msg, &name, &type, &help, &unit);
    if (osp_wire_cstr_len(name) == 0)
        return;
    if (p->n_meta == p->cap_meta) {
        p->cap_meta = p->cap_meta ? p->cap_meta * 2 : 8;
        p->meta = osp_reallocarray(p->meta, p->cap_meta, sizeof(*p->meta));
    }
    p->meta[p->n_meta++] = (store_prep_meta){wire_strdup(name), wire_strdup(type),
                                             wire_strdup(help), wire_strdup(unit)};
}

void
store_prep_wire(store_prep *p, osp_wire_view payload, store_cache *cache)
{
    /* room for the series at once (a Series is rarely under 64 bytes), not
     * grown by doubling, which copied the array ~8 times a batch */
    size_t guess = payload.n / 64 + 16;
    if (p->cap < guess) {
        p->cap = guess;
        p->v = osp_reallocarray(p->v, p->cap, sizeof(*p->v));
    }
    osp_wire_it it;
    osp_wire_it_init(&it, payload);
    int field;
    osp_wire_view msg;
    while (osp_wire_mbatch_next(&it, &field, &msg)) {
        if (field == 1)
            prep_series(p, msg, cache);
        else
            prep_meta(p, msg);
    }
}

void
store_prep_batch(store_prep *p, const Osprey__MetricBatch *mb)
{
    if (mb == NULL)
        return;
    size_t len = osprey__metric_batch__get_packed_size(mb);
    uint8_t *buf = osp_malloc(len ? len : 1);
    osprey__metric_batch__pack(mb, buf);
    p->owned = osp_reallocarray(p->owned, p->n_owned + 1, sizeof(*p->owned));
    p->owned[p->n_owned++] = buf;
    store_prep_wire(p, (osp_wire_view){(const char *)buf, len}, NULL);
}

/* series between two prefetch stages (store_head_prefetch) */
#define PREFETCH_AHEAD 4

void
store_apply_prep(store_head *h, store_prep *p, int64_t min_t, int64_t arrival_ms,
                 store_apply_res *res)
{
    store_head_wrlock(h);
    for (size_t i = 0; i < p->n; i++) {
        store_prep_series *ps = &p->v[i];
        uint32_t ref;
        bool created = false;
        if (ps->collide) {
            res->collisions += ps->n;
            continue;
        }
        /* the series, its head data and its chunk's tail are usually cache
         * misses (one series of ~100 k touched once a scrape): start them a
         * few series ahead, each stage after the one it reads */
        for (int st = 0; st < 3; st++) {
            size_t j = i + PREFETCH_AHEAD * (3 - (size_t)st);
            if (j < p->n && (p->v[j].has_ref || p->v[j].ce != NULL))
                store_head_prefetch(h, p->v[j].has_ref ? p->v[j].ref : p->v[j].ce->ref, st);
        }
        if (ps->has_ref) {
            ref = ps->ref;
        } else if (ps->ce == NULL || !store_cache_ref(ps->ce, h, &ref)) {
            if (store_head_get_or_create(h, ps->id, ps_labels(ps), &ref, &created) != 0) {
                res->collisions += ps->n;
                osp_log(OSP_LOG_ERROR, "store.head", "series id collision: series rejected",
                        "labels", ps->labels.n ? osp_labels_get(&ps->labels, "__name__") : "",
                        NULL);
                continue;
            }
            if (ps->ce != NULL)
                ps->ce->ref = ref;
        }
        if (created)
            res->series_created++;
        osp_wire_it it;
        osp_wire_it_init(&it, ps->msg);
        int64_t t = ps->t;
        double v = ps->v;
        for (size_t k = 0; ps->n == 1 ? k < 1 : osp_wire_next_sample(&it, &t, &v); k++) {
            if (t < min_t) {
                res->too_old++;
                continue;
            }
            switch (store_head_append(h, ref, t, v, arrival_ms)) {
            case STORE_APPEND_OK: res->samples++; break;
            case STORE_APPEND_DUP: res->duplicates++; break;
            case STORE_APPEND_CONFLICT: res->conflicts++; break;
            }
        }
    }
    store_head_unlock(h);
}

/* Prometheus reports the text format's "untyped" (and no TYPE) as "unknown". */
static const char *
norm_type(const char *t)
{
    if (t == NULL || t[0] == '\0' || strcmp(t, "untyped") == 0)
        return "unknown";
    return t;
}

void
store_apply_meta(store_head *h, const Osprey__MetricBatch *mb)
{
    if (mb == NULL || mb->n_metadata == 0)
        return;
    store_head_wrlock(h);
    for (size_t i = 0; i < mb->n_metadata; i++) {
        const Osprey__MetricMetadata *m = mb->metadata[i];
        if (m == NULL || m->name == NULL || m->name[0] == '\0')
            continue;
        store_head_meta_set(h, m->name, norm_type(m->type), m->help, m->unit);
    }
    store_head_unlock(h);
}

void
store_apply_prep_meta(store_head *h, const store_prep *p)
{
    if (p->n_meta == 0)
        return;
    store_head_wrlock(h);
    for (size_t i = 0; i < p->n_meta; i++) {
        const store_prep_meta *m = &p->meta[i];
        store_head_meta_set(h, m->name, norm_type(m->type), m->help, m->unit);
    }
    store_head_unlock(h);
}

static bool
is_metrics(const Osprey__Envelope *env)
{
    return env->payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS;
}

static bool
meta_changed(const store_head *h, const store_prep_meta *m)
{
    const store_meta *cur = store_head_meta_find(h, m->name);
    if (cur == NULL)
        return true;
    return strcmp(cur->type, norm_type(m->type)) != 0 || strcmp(cur->help, m->help) != 0 ||
           strcmp(cur->unit, m->unit) != 0;
}

static int
cmp_series_id(const void *a, const void *b)
{
    const store_pg_series *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct meta_ord {
    store_pg_meta m;
    size_t ord;
} meta_ord;

static int
cmp_meta_ord(const void *a, const void *b)
{
    const meta_ord *x = a, *y = b;
    int c = strcmp(x->m.metric, y->m.metric);
    return c ? c : (x->ord < y->ord ? -1 : x->ord > y->ord);
}

/* A series of the group the head does not know yet. */
typedef struct new_series {
    store_prep_series *ps;
    size_t ord; /* position in the group: the first one of an id wins */
} new_series;

static int
cmp_new_series(const void *a, const void *b)
{
    const new_series *x = a, *y = b;
    if (x->ps->id != y->ps->id)
        return x->ps->id < y->ps->id ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* series between the two prefetch stages of mark_collisions */
#define MARK_AHEAD 8

/* mark_collisions: flag the series whose id belongs to other labels, in the
 * head or earlier in the group, as apply would find them (the log holds only
 * ids, so such a series must be left out of it as well as out of the head).
 * The items of the group that will be logged have their preps filled. */
static void
mark_collisions(store_head *h, store_prep *preps, size_t n)
{
    new_series *nv = NULL;
    size_t nn = 0, cap = 0;
    store_head_rdlock(h);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < preps[i].n; j++) {
            /* the first touch of each series in the group: load the cache
             * entries MARK_AHEAD * 2 ahead, their series MARK_AHEAD ahead */
            if (j + 2 * MARK_AHEAD < preps[i].n)
                store_cache_prefetch(preps[i].v[j + 2 * MARK_AHEAD].ce);
            if (j + MARK_AHEAD < preps[i].n && preps[i].v[j + MARK_AHEAD].ce != NULL)
                store_head_prefetch(h, preps[i].v[j + MARK_AHEAD].ce->ref, 0);
            store_prep_series *ps = &preps[i].v[j];
            uint32_t ref;
            if (ps->ce != NULL && store_cache_ref(ps->ce, h, &ref)) {
                /* the cache checked the labels against the head */
                ps->has_ref = true;
                ps->ref = ref;
                continue;
            }
            int rc = store_head_find(h, ps->id, ps_labels(ps), &ref);
            if (rc == 0) {
                ps->has_ref = true;
                ps->ref = ref;
                if (ps->ce != NULL)
                    ps->ce->ref = ref; /* the head matched its labels */
            } else if (rc == OSP_EEXIST) {
                ps->collide = true;
            } else if (rc == OSP_ENOTFOUND) {
                if (nn == cap) {
                    cap = cap ? cap * 2 : 64;
                    nv = osp_reallocarray(nv, cap, sizeof(*nv));
                }
                nv[nn] = (new_series){ps, nn};
                nn++;
            }
        }
    }
    store_head_unlock(h);
    if (nn > 1)
        osp_qsort(nv, nn, sizeof(*nv), cmp_new_series);
    for (size_t k = 1, first = 0; k < nn; k++) {
        if (nv[k].ps->id != nv[first].ps->id)
            first = k;
        else if (!osp_labels_equal(&nv[k].ps->labels, &nv[first].ps->labels))
            nv[k].ps->collide = true;
    }
    osp_free(nv);
}

/* log_record: p as a compact log record in out (store_logrec.h). */
static void
log_record(const store_prep *p, osp_buf *out)
{
    store_logrec_w w;
    /* ~14 bytes a sample: id, count, time delta, value; grown past it if need be */
    osp_buf_reserve(out, 16 + p->n * 16);
    store_logrec_begin(&w, out);
    for (size_t i = 0; i < p->n; i++) {
        const store_prep_series *ps = &p->v[i];
        if (ps->collide || ps->n == 0)
            continue;
        store_logrec_series(&w, ps->id, ps->n);
        if (ps->n == 1) {
            store_logrec_sample(&w, ps->t, ps->v);
            continue;
        }
        /* on validated input the scan counted exactly the samples read here */
        osp_wire_it it;
        osp_wire_it_init(&it, ps->msg);
        int64_t t;
        double v;
        while (osp_wire_next_sample(&it, &t, &v))
            store_logrec_sample(&w, t, v);
    }
}

/* Collects rows for series the head lacks and for changed metadata of the new
 * items, deduplicated (series by id; metadata by metric, the last one wins). */
static void
collect_rows(store_head *h, store_item *items, size_t n, store_prep *preps, osp_arena *a,
             int64_t now, store_pg_series **srows, size_t *nsrows, store_pg_meta **mrows,
             size_t *nmrows)
{
    size_t ns = 0, caps = 0, nm = 0, capm = 0;
    store_pg_series *sr = NULL;
    store_pg_meta *mr = NULL;
    osp_buf json;
    osp_buf_init(&json);
    store_head_rdlock(h);
    for (size_t i = 0; i < n; i++) {
        if (!items[i].is_new || !is_metrics(items[i].env))
            continue;
        for (size_t j = 0; j < preps[i].n; j++) {
            store_prep_series *ps = &preps[i].v[j];
            uint32_t ref;
            if (ps->collide || ps->has_ref)
                continue; /* in the head, so in PostgreSQL */
            if (ps->ce != NULL && store_cache_ref(ps->ce, h, &ref))
                continue;
            if (store_head_find(h, ps->id, ps_labels(ps), &ref) != OSP_ENOTFOUND)
                continue;
            if (ns == caps) {
                caps = caps ? caps * 2 : 64;
                sr = osp_reallocarray(sr, caps, sizeof(*sr));
            }
            osp_buf_reset(&json);
            osp_labels_json(&ps->labels, &json);
            sr[ns].id = (int64_t)ps->id;
            sr[ns].labels_json = osp_arena_strndup(a, json.data, json.len);
            sr[ns].metric = osp_labels_get(&ps->labels, "__name__");
            sr[ns].first_seen_ms = now;
            ns++;
        }
        for (size_t j = 0; j < preps[i].n_meta; j++) {
            const store_prep_meta *m = &preps[i].meta[j];
            if (!meta_changed(h, m))
                continue;
            if (nm == capm) {
                capm = capm ? capm * 2 : 16;
                mr = osp_reallocarray(mr, capm, sizeof(*mr));
            }
            mr[nm++] = (store_pg_meta){m->name, norm_type(m->type), m->help, m->unit};
        }
    }
    store_head_unlock(h);
    osp_buf_fini(&json);
    if (ns > 1) {
        osp_qsort(sr, ns, sizeof(*sr), cmp_series_id);
        size_t k = 1;
        for (size_t i = 1; i < ns; i++)
            if (sr[i].id != sr[k - 1].id)
                sr[k++] = sr[i];
        ns = k;
    }
    if (nm > 1) {
        /* sort by (metric, arrival) and keep the last of each run: the newest wins */
        meta_ord *o = osp_calloc(nm, sizeof(*o));
        for (size_t i = 0; i < nm; i++)
            o[i] = (meta_ord){mr[i], i};
        osp_qsort(o, nm, sizeof(*o), cmp_meta_ord);
        size_t k = 0;
        for (size_t i = 0; i < nm; i++)
            if (i + 1 == nm || strcmp(o[i].m.metric, o[i + 1].m.metric) != 0)
                mr[k++] = o[i].m;
        osp_free(o);
        nm = k;
    }
    *srows = sr;
    *nsrows = ns;
    *mrows = mr;
    *nmrows = nm;
}

static void
count(store_stats *st, const store_prep *p, const store_apply_res *r)
{
    if (st == NULL)
        return;
    osp_metric_add(st->samples_ingested, (double)r->samples);
    osp_metric_add(st->series_created, (double)r->series_created);
    store_stats_reject(st, "no_name", (double)p->rej_no_name);
    store_stats_reject(st, "invalid_label", (double)p->rej_bad_label);
    store_stats_reject(st, "duplicate_label", (double)p->rej_dup_label);
    store_stats_reject(st, "duplicate_timestamp", (double)r->conflicts);
    store_stats_reject(st, "hash_collision", (double)r->collisions);
    store_stats_reject(st, "too_old", (double)r->too_old);
}

/* prep_item: the series of a packed Envelope that was validated on receipt
 * (bus consumer) or built here (import). */
static void
prep_item(store_prep *p, const void *raw, size_t len, store_cache *c)
{
    osp_wire_env w;
    if (osp_wire_envelope_header(raw, len, &w) != 0) {
        osp_log(OSP_LOG_ERROR, "store.ingest", "undecodable batch not applied", NULL);
        return;
    }
    if (w.payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS)
        store_prep_wire(p, w.payload, c);
}

static int64_t received_last; /* atomic: the newest received_ms handed out or replayed */

/* received_at_least: raise received_last to ms; returns the value after. */
static int64_t
received_at_least(int64_t ms)
{
    int64_t prev = __atomic_load_n(&received_last, __ATOMIC_RELAXED);
    for (;;) {
        if (ms <= prev)
            return prev; /* the clock stepped back: keep the log in commit order */
        if (__atomic_compare_exchange_n(&received_last, &prev, ms, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return ms;
    }
}

int64_t
store_received_now(void)
{
    return received_at_least(osp_now_ms());
}

int
store_commit_group(store_pg *pg, store_head *h, store_stats *st, store_item *items, size_t n,
                   int64_t min_t, osp_errinfo *ei)
{
    return store_commit_group_cached(pg, h, st, NULL, items, n, min_t, ei);
}

int
store_commit_group_cached(store_pg *pg, store_head *h, store_stats *st, store_cache *c,
                          store_item *items, size_t n, int64_t min_t, osp_errinfo *ei)
{
    int64_t t0 = osp_mono_ns(), now = store_received_now();
    store_pg_batch *rows = osp_calloc(n ? n : 1, sizeof(*rows));
    store_prep *preps = osp_calloc(n ? n : 1, sizeof(*preps));
    osp_arena *a = osp_arena_new(0);
    store_pg_series *srows = NULL;
    store_pg_meta *mrows = NULL;
    size_t nrows = 0, nsrows = 0, nmrows = 0;
    bool solo = false; /* the group is one INSERT, no explicit transaction */
    size_t *row_of = osp_calloc(n ? n : 1, sizeof(*row_of));
    osp_buf *recs = osp_calloc(n ? n : 1, sizeof(*recs)); /* per row; zeroed = inited */
    int rc;

    if (c != NULL)
        (void)store_cache_trim(c); /* no entry of it is borrowed between groups */
    /* a resend may sit in the same group as the original: insert each pair once */
    for (size_t i = 0; i < n; i++) {
        const Osprey__Envelope *e = items[i].env;
        items[i].is_new = false;
        row_of[i] = SIZE_MAX;
        for (size_t k = 0; k < nrows; k++)
            if (rows[k].seq == e->seq && strcmp(rows[k].producer_id, e->producer_id) == 0) {
                row_of[i] = k;
                break;
            }
        if (row_of[i] != SIZE_MAX) {
            row_of[i] = SIZE_MAX; /* a duplicate inside the group is never new */
            continue;
        }
        rows[nrows] = (store_pg_batch){.producer_id = e->producer_id,
                                       .seq = e->seq,
                                       .received_ms = now,
                                       .kind = is_metrics(e) ? 'm' : 'l',
                                       .payload = items[i].raw,
                                       .len = items[i].raw_len};
        row_of[i] = nrows++;
    }
    /* a metrics batch is logged as the compact record of its validated
     * series, so every one is read before the insert (a resend already in
     * the log is read in vain; resends are rare) */
    for (size_t i = 0; i < n; i++)
        if (row_of[i] != SIZE_MAX && is_metrics(items[i].env))
            prep_item(&preps[i], items[i].raw, items[i].raw_len, c);
    mark_collisions(h, preps, n);
    for (size_t i = 0; i < n; i++) {
        if (row_of[i] == SIZE_MAX || !is_metrics(items[i].env))
            continue;
        store_pg_batch *r = &rows[row_of[i]];
        log_record(&preps[i], &recs[row_of[i]]);
        r->kind = 'c';
        r->payload = recs[row_of[i]].data;
        r->len = recs[row_of[i]].len;
    }
    /* A group whose batches bring no new series and no changed metadata (the
     * usual one) is a single INSERT in its own transaction: no BEGIN and
     * COMMIT round trips. Whether it is one is known before the insert by
     * counting every row as new (a superset of the rows that turn out new). */
    for (size_t i = 0; i < n; i++)
        items[i].is_new = row_of[i] != SIZE_MAX;
    collect_rows(h, items, n, preps, a, now, &srows, &nsrows, &mrows, &nmrows);
    solo = nsrows == 0 && nmrows == 0;
    if (!solo && (rc = store_pg_exec(pg, "BEGIN", ei)) != 0)
        goto rollback;
    if ((rc = store_pg_insert_batches(pg, rows, nrows, ei)) != 0)
        goto rollback; /* solo: the outcome of a failed INSERT is unknown; the resend will tell */
    for (size_t i = 0; i < n; i++)
        items[i].is_new = row_of[i] != SIZE_MAX && rows[row_of[i]].inserted;
    if (!solo) {
        osp_free(srows);
        osp_free(mrows);
        srows = NULL;
        mrows = NULL;
        collect_rows(h, items, n, preps, a, now, &srows, &nsrows, &mrows, &nmrows);
        if (nsrows > 0 && (rc = store_pg_insert_series(pg, srows, nsrows, ei)) != 0)
            goto rollback;
        if (nmrows > 0 && (rc = store_pg_upsert_meta(pg, mrows, nmrows, now, ei)) != 0)
            goto rollback;
        if ((rc = store_pg_exec(pg, "COMMIT", ei)) != 0)
            goto rollback; /* the outcome of a failed COMMIT is unknown: the resend will tell */
    }
    if (st != NULL)
        osp_metric_observe(st->commit_duration, (double)(osp_mono_ns() - t0) / 1e9);
    int64_t newest_sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].is_new) {
            if (st != NULL)
                osp_metric_inc(st->batches_duplicate);
            continue;
        }
        store_apply_res res = {0};
        store_apply_prep(h, &preps[i], min_t, now, &res);
        store_apply_prep_meta(h, &preps[i]);
        count(st, &preps[i], &res);
        if (st != NULL)
            osp_metric_inc(st->batches_ingested);
        if (items[i].env->sent_ms > newest_sent)
            newest_sent = items[i].env->sent_ms;
    }
    if (st != NULL && newest_sent > 0)
        osp_metric_set(st->ingest_lag, (double)(osp_now_ms() - newest_sent) / 1000.0);
    goto out;
rollback:
    if (!solo && store_pg_ok(pg))
        store_pg_exec(pg, "ROLLBACK", NULL);
    for (size_t i = 0; i < n; i++)
        items[i].is_new = false;
out:
    if (rc != 0 && st != NULL)
        osp_metric_inc(st->commit_errors);
    for (size_t i = 0; i < n; i++)
        store_prep_fini(&preps[i]);
    osp_free(preps);
    for (size_t i = 0; i < nrows; i++)
        osp_buf_fini(&recs[i]);
    osp_free(recs);
    osp_free(rows);
    osp_free(row_of);
    osp_free(srows);
    osp_free(mrows);
    osp_arena_free(a);
    return rc;
}

int
store_replay_one(store_head *h, int64_t received_ms, const void *payload, size_t len)
{
    return store_replay_one_cached(h, NULL, received_ms, payload, len);
}

int
store_replay_one_cached(store_head *h, store_cache *c, int64_t received_ms, const void *payload,
                        size_t len)
{
    (void)received_at_least(received_ms);
    osp_wire_env w;
    if (osp_wire_envelope(payload, len, &w) != 0)
        return OSP_EPARSE;
    if (w.payload_case == OSPREY__ENVELOPE__PAYLOAD_METRICS) {
        store_prep p;
        store_prep_init(&p);
        store_prep_wire(&p, w.payload, c);
        store_apply_res res = {0};
        store_apply_prep(h, &p, INT64_MIN, received_ms, &res);
        store_apply_prep_meta(h, &p);
        store_prep_fini(&p);
    }
    return 0;
}

int
store_replay_record(store_head *h, int64_t received_ms, const void *rec, size_t len,
                    size_t *unknown)
{
    (void)received_at_least(received_ms);
    store_logrec_it it;
    if (store_logrec_it_init(&it, rec, len) != 0)
        return OSP_EPARSE;
    uint64_t id, n;
    int64_t t;
    double v;
    store_head_wrlock(h);
    while (store_logrec_next_series(&it, &id, &n)) {
        uint32_t ref;
        if (store_head_find_id(h, id, &ref) != 0) {
            if (unknown != NULL)
                *unknown += n;
            continue; /* next_series skips its samples */
        }
        while (store_logrec_next_sample(&it, &t, &v))
            (void)store_head_append(h, ref, t, v, received_ms);
    }
    store_head_unlock(h);
    return it.bad ? OSP_EPARSE : 0;
}
