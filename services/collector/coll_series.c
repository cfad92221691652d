/* coll_series.c - per-target series set with generations: an entry's `gen` is
 * the last scrape that saw it, `born` the scrape that added it. One
 * allocation per series: a few words plus its encoded labels (an owned
 * osp_labels would cost a dozen allocations). */
#include "coll_series.h"

#include <string.h>

#include "osp_mem.h"

double
coll_stale_nan(void)
{
    uint64_t bits = COLL_STALE_NAN_BITS;
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

bool
coll_is_stale_nan(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits == COLL_STALE_NAN_BITS;
}

void
coll_series_init(coll_series_set *s)
{
    coll_map_init(&s->m);
    s->gen = 0;
    s->nseen = 0;
}

void
coll_series_unref(coll_series *e)
{
    if (e != NULL && --e->refs == 0)
        osp_free(e);
}

/* leave: e leaves the set (the set's reference goes). */
static void
leave(coll_series_set *s, coll_series *e)
{
    (void)coll_map_del(&s->m, e->hash);
    e->in_set = false;
    coll_series_unref(e);
}

void
coll_series_fini(coll_series_set *s)
{
    size_t it = 0;
    void *v;
    while (coll_map_next(&s->m, &it, NULL, &v)) {
        ((coll_series *)v)->in_set = false;
        coll_series_unref(v);
    }
    coll_map_fini(&s->m);
}

void
coll_series_begin(coll_series_set *s)
{
    s->gen++;
    s->nseen = 0;
}

coll_series *
coll_series_ref(coll_series_set *s, const void *labels_pb, size_t len, uint64_t hash)
{
    coll_series *e = coll_map_get(&s->m, hash);
    if (e == NULL) {
        e = osp_malloc(sizeof(*e) + len);
        e->hash = hash;
        e->gen = e->born = 0;
        e->refs = 0;
        e->pblen = (uint32_t)len;
        e->in_set = false;
        e->explicit_ts = false;
        memcpy(e->pb, labels_pb, len);
    }
    e->refs++;
    return e;
}

int
coll_series_see(coll_series_set *s, coll_series **ep, bool explicit_ts)
{
    coll_series *e = *ep;
    if (!e->in_set) {
        /* it left the set; the labels may have joined again under another entry */
        coll_series *cur = coll_map_get(&s->m, e->hash);
        if (cur != NULL) {
            cur->refs++;
            coll_series_unref(e);
            *ep = e = cur;
        } else {
            e->refs++; /* the set's */
            e->in_set = true;
            e->born = e->gen = s->gen;
            e->explicit_ts = explicit_ts;
            coll_map_put(&s->m, e->hash, e);
            s->nseen++;
            return 1;
        }
    }
    if (e->gen == s->gen)
        return -1;
    s->nseen++;
    e->gen = s->gen;
    e->explicit_ts = explicit_ts;
    return 0;
}

static void
mark(osp_mbatch *b, const coll_series *e, int64_t ts_ms)
{
    if (!b)
        return;
    double v = coll_stale_nan();
    osp_mbatch_add_series_pb(b, e->pb, e->pblen, &ts_ms, &v, 1);
}

/* sweep: remove entries for which drop(e) holds, staling those that stale(e). */
static size_t
sweep(coll_series_set *s, int mode, int64_t ts_ms, osp_mbatch *b)
{
    if (mode == 0 && s->nseen == s->m.n)
        return 0; /* the scrape saw every series: none to visit */
    size_t ndrop = 0, it = 0, marked = 0;
    void *v;
    coll_series **drop = osp_calloc(s->m.n ? s->m.n : 1, sizeof(*drop));
    while (coll_map_next(&s->m, &it, NULL, &v)) {
        coll_series *e = v;
        if (mode != 0 || e->gen != s->gen) /* mode 0: ok scrape */
            drop[ndrop++] = e;
    }
    for (size_t i = 0; i < ndrop; i++) {
        coll_series *e = drop[i];
        bool silent = e->explicit_ts || (mode == 1 && e->born == s->gen);
        if (!silent) {
            mark(b, e, ts_ms);
            marked++;
        }
        leave(s, e);
    }
    osp_free(drop);
    return marked;
}

size_t
coll_series_end(coll_series_set *s, bool ok, int64_t ts_ms, osp_mbatch *b)
{
    return sweep(s, ok ? 0 : 1, ts_ms, b);
}

size_t
coll_series_stale_all(coll_series_set *s, int64_t ts_ms, osp_mbatch *b)
{
    return sweep(s, 2, ts_ms, b);
}

size_t
coll_series_count(const coll_series_set *s)
{
    return s->m.n;
}
