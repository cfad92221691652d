/* store_qcache.c - the query cache of persisted samples: a chained hash table
 * on series id with an LRU list, entries holding one osp_chunk encoding. */
#include "store_qcache.h"

#include <pthread.h>
#include <string.h>

#include "osp_chunk.h"
#include "osp_mem.h"

typedef struct qent {
    int64_t id;
    int64_t lo, hi; /* every persisted sample of the series in [lo, hi] is here */
    int64_t born_ms;
    struct qent *hnext;         /* hash chain */
    struct qent *lprev, *lnext; /* LRU list, most recent first */
    uint32_t n, len;
    uint8_t data[]; /* osp_chunk encoding of the n samples */
} qent;

/* malloc's own overhead per entry, counted against the budget */
#define ENT_OVERHEAD 16

struct store_qcache {
    pthread_mutex_t mu;
    qent **b; /* buckets, nb a power of two */
    size_t nb;
    qent *first, *last; /* LRU ends */
    size_t max_bytes, bytes, entries;
    uint64_t epoch;
    store_qcache_stats st;
};

static size_t
ent_bytes(const qent *e)
{
    return sizeof(*e) + e->len + ENT_OVERHEAD;
}

static size_t
bucket_of(const store_qcache *c, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL; /* ids are hashes already; spread them */
    return (size_t)(h >> 32) & (c->nb - 1);
}

store_qcache *
store_qcache_new(size_t max_bytes)
{
    store_qcache *c = osp_calloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->nb = 1024;
    c->b = osp_calloc(c->nb, sizeof(*c->b));
    c->max_bytes = max_bytes;
    c->bytes = c->nb * sizeof(*c->b);
    return c;
}

static void
free_all(store_qcache *c)
{
    for (qent *e = c->first, *next; e != NULL; e = next) {
        next = e->lnext;
        osp_free(e);
    }
    memset(c->b, 0, c->nb * sizeof(*c->b));
    c->first = c->last = NULL;
    c->bytes = c->nb * sizeof(*c->b);
    c->entries = 0;
}

void
store_qcache_free(store_qcache *c)
{
    if (c == NULL)
        return;
    free_all(c);
    osp_free(c->b);
    pthread_mutex_destroy(&c->mu);
    osp_free(c);
}

static qent *
find(const store_qcache *c, int64_t id)
{
    qent *e = c->b[bucket_of(c, id)];
    while (e != NULL && e->id != id)
        e = e->hnext;
    return e;
}

static void
lru_unlink(store_qcache *c, qent *e)
{
    if (e->lprev != NULL)
        e->lprev->lnext = e->lnext;
    else
        c->first = e->lnext;
    if (e->lnext != NULL)
        e->lnext->lprev = e->lprev;
    else
        c->last = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void
lru_push_front(store_qcache *c, qent *e)
{
    e->lprev = NULL;
    e->lnext = c->first;
    if (c->first != NULL)
        c->first->lprev = e;
    c->first = e;
    if (c->last == NULL)
        c->last = e;
}

static void
remove_ent(store_qcache *c, qent *e)
{
    qent **p = &c->b[bucket_of(c, e->id)];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(c, e);
    c->bytes -= ent_bytes(e);
    c->entries--;
    osp_free(e);
}

static void
grow(store_qcache *c)
{
    size_t nb = c->nb * 2;
    qent **b = osp_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < c->nb; i++)
        for (qent *e = c->b[i], *next; e != NULL; e = next) {
            next = e->hnext;
            uint64_t h = (uint64_t)e->id * 0x9e3779b97f4a7c15ULL;
            size_t j = (size_t)(h >> 32) & (nb - 1);
            e->hnext = b[j];
            b[j] = e;
        }
    osp_free(c->b);
    c->bytes += (nb - c->nb) * sizeof(*b);
    c->b = b;
    c->nb = nb;
}

uint64_t
store_qcache_epoch(store_qcache *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t e = c->epoch;
    pthread_mutex_unlock(&c->mu);
    return e;
}

bool
store_qcache_get(store_qcache *c, int64_t id, int64_t mint, int64_t maxt, int64_t now_ms,
                 size_t extra, osp_arena *a, osp_promql_point **pts, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    qent *e = find(c, id);
    if (e == NULL || e->lo > mint || e->hi < maxt ||
        now_ms - e->born_ms > STORE_QCACHE_MAX_AGE_MS) {
        c->st.misses++;
        pthread_mutex_unlock(&c->mu);
        return false;
    }
    c->st.hits++;
    lru_unlink(c, e);
    lru_push_front(c, e);
    osp_promql_point *p = osp_arena_alloc(a, (e->n + extra ? e->n + extra : 1) * sizeof(*p));
    size_t k = 0;
    osp_chunk_it it;
    osp_chunk_it_init(&it, e->data, e->len);
    int64_t t;
    double v;
    while (k < e->n && osp_chunk_it_next(&it, &t, &v) == 1 && t <= maxt)
        if (t >= mint)
            p[k++] = (osp_promql_point){t, v};
    pthread_mutex_unlock(&c->mu);
    *pts = p;
    *n = k;
    return true;
}

void
store_qcache_put(store_qcache *c, int64_t id, int64_t mint, int64_t maxt, int64_t now_ms,
                 const osp_promql_point *pts, size_t n, uint64_t epoch)
{
    if (n > STORE_QCACHE_MAX_SAMPLES)
        return;
    int64_t ts[STORE_QCACHE_MAX_SAMPLES];
    double vs[STORE_QCACHE_MAX_SAMPLES];
    for (size_t i = 0; i < n; i++) {
        ts[i] = pts[i].t;
        vs[i] = pts[i].v;
    }
    uint8_t *enc = NULL;
    size_t len = 0;
    if (n > 0 && osp_chunk_encode(ts, vs, n, &enc, &len) != 0)
        return;
    qent *ne = osp_malloc(sizeof(*ne) + len);
    *ne = (qent){.id = id,
                 .lo = mint,
                 .hi = maxt,
                 .born_ms = now_ms,
                 .n = (uint32_t)n,
                 .len = (uint32_t)len};
    if (len > 0)
        memcpy(ne->data, enc, len);
    osp_free(enc);
    pthread_mutex_lock(&c->mu);
    if (epoch != c->epoch || ent_bytes(ne) > c->max_bytes / 16) {
        c->st.refused++;
        pthread_mutex_unlock(&c->mu);
        osp_free(ne);
        return;
    }
    qent *old = find(c, id);
    if (old != NULL)
        remove_ent(c, old);
    if (c->entries >= c->nb)
        grow(c);
    size_t bi = bucket_of(c, id);
    ne->hnext = c->b[bi];
    c->b[bi] = ne;
    lru_push_front(c, ne);
    c->bytes += ent_bytes(ne);
    c->entries++;
    c->st.puts++;
    while (c->bytes > c->max_bytes && c->last != NULL && c->last != ne) {
        remove_ent(c, c->last);
        c->st.evicted++;
    }
    pthread_mutex_unlock(&c->mu);
}

void
store_qcache_persisted(store_qcache *c, int64_t id, int64_t min_t, int64_t max_t)
{
    pthread_mutex_lock(&c->mu);
    c->epoch++;
    qent *e = find(c, id);
    if (e != NULL && min_t <= e->hi && max_t >= e->lo) {
        remove_ent(c, e);
        c->st.dropped++;
    }
    pthread_mutex_unlock(&c->mu);
}

void
store_qcache_clear(store_qcache *c)
{
    pthread_mutex_lock(&c->mu);
    c->epoch++;
    c->st.dropped += c->entries;
    free_all(c);
    pthread_mutex_unlock(&c->mu);
}

void
store_qcache_stats_get(store_qcache *c, store_qcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->entries = c->entries;
    out->bytes = c->bytes;
    pthread_mutex_unlock(&c->mu);
}
