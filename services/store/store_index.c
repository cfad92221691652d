/* store_index.c - inverted index (name -> value -> postings) on open-addressing
 * string maps, and the selection of the series that match a set of matchers
 * through it; entries are never deleted one by one: the head clears and
 * rebuilds the index when it drops series. */
#include "store_index.h"

#include <stdlib.h>
#include <string.h>

#include "osp_buf.h"
#include "osp_mem.h"

typedef struct smap_ent {
    char *key; /* NULL = empty slot */
    uint64_t hash;
    void *val;
} smap_ent;

typedef struct smap {
    smap_ent *v;
    size_t cap; /* power of two or 0 */
    size_t n;
} smap;

typedef struct lname {
    char *name;
    smap values; /* value -> store_postings* */
} lname;

struct store_index {
    smap names; /* name -> lname* */
};

static uint64_t
shash(const char *s)
{
    return osp_hash64(s, strlen(s), 0x6f73707265790001ULL);
}

static smap_ent *
smap_find(const smap *m, const char *key, uint64_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        smap_ent *e = &m->v[i];
        if (e->key == NULL)
            return NULL;
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
}

static void
smap_grow(smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    smap_ent *nv = osp_calloc(ncap, sizeof(*nv));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->v[i].key == NULL)
            continue;
        size_t j = m->v[i].hash & (ncap - 1);
        while (nv[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        nv[j] = m->v[i];
    }
    osp_free(m->v);
    m->v = nv;
    m->cap = ncap;
}

/* smap_upsert: the entry for key, inserted with val NULL when missing. */
static smap_ent *
smap_upsert(smap *m, const char *key)
{
    uint64_t h = shash(key);
    smap_ent *e = smap_find(m, key, h);
    if (e != NULL)
        return e;
    if ((m->n + 1) * 4 > m->cap * 3)
        smap_grow(m);
    size_t i = h & (m->cap - 1);
    while (m->v[i].key != NULL)
        i = (i + 1) & (m->cap - 1);
    m->v[i].key = osp_strdup(key);
    m->v[i].hash = h;
    m->v[i].val = NULL;
    m->n++;
    return &m->v[i];
}

static void
postings_free(store_postings *p)
{
    if (p != NULL) {
        osp_free(p->v);
        osp_free(p);
    }
}

static void
lname_free(lname *ln)
{
    if (ln == NULL)
        return;
    for (size_t i = 0; i < ln->values.cap; i++) {
        if (ln->values.v[i].key != NULL) {
            osp_free(ln->values.v[i].key);
            postings_free(ln->values.v[i].val);
        }
    }
    osp_free(ln->values.v);
    osp_free(ln->name);
    osp_free(ln);
}

store_index *
store_index_new(void)
{
    return osp_calloc(1, sizeof(store_index));
}

void
store_index_clear(store_index *ix)
{
    for (size_t i = 0; i < ix->names.cap; i++) {
        if (ix->names.v[i].key != NULL) {
            osp_free(ix->names.v[i].key);
            lname_free(ix->names.v[i].val);
        }
    }
    osp_free(ix->names.v);
    memset(&ix->names, 0, sizeof(ix->names));
}

void
store_index_free(store_index *ix)
{
    if (ix == NULL)
        return;
    store_index_clear(ix);
    osp_free(ix);
}

void
store_index_add(store_index *ix, uint32_t ref, const osp_labels *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        smap_ent *ne = smap_upsert(&ix->names, ls->v[i].name);
        if (ne->val == NULL) {
            lname *ln = osp_calloc(1, sizeof(*ln));
            ln->name = osp_strdup(ls->v[i].name);
            ne->val = ln;
        }
        lname *ln = ne->val;
        smap_ent *ve = smap_upsert(&ln->values, ls->v[i].value);
        if (ve->val == NULL)
            ve->val = osp_calloc(1, sizeof(store_postings));
        store_postings *p = ve->val;
        if (p->n > 0 && p->v[p->n - 1] >= ref)
            continue; /* refs only grow; a repeated add is a no-op */
        if (p->n == p->cap) {
            p->cap = p->cap ? p->cap * 2 : 4;
            p->v = osp_reallocarray(p->v, p->cap, sizeof(*p->v));
        }
        p->v[p->n++] = ref;
    }
}

static const lname *
find_name(const store_index *ix, const char *name)
{
    smap_ent *e = smap_find(&ix->names, name, shash(name));
    return e ? e->val : NULL;
}

const store_postings *
store_index_postings(const store_index *ix, const char *name, const char *value)
{
    const lname *ln = find_name(ix, name);
    if (ln == NULL)
        return NULL;
    smap_ent *e = smap_find(&ln->values, value, shash(value));
    return e ? e->val : NULL;
}

void
store_index_each_name(const store_index *ix, void (*fn)(void *ctx, const char *name), void *ctx)
{
    for (size_t i = 0; i < ix->names.cap; i++)
        if (ix->names.v[i].key != NULL)
            fn(ctx, ix->names.v[i].key);
}

void
store_index_each_value(const store_index *ix, const char *name,
                       void (*fn)(void *ctx, const char *value, const store_postings *p), void *ctx)
{
    const lname *ln = find_name(ix, name);
    if (ln == NULL)
        return;
    for (size_t i = 0; i < ln->values.cap; i++)
        if (ln->values.v[i].key != NULL)
            fn(ctx, ln->values.v[i].key, ln->values.v[i].val);
}

/* Intersects sorted cur[0..*n) with sorted p in place. */
static void
intersect(uint32_t *cur, size_t *n, const store_postings *p)
{
    size_t i = 0, j = 0, k = 0;
    while (i < *n && j < p->n) {
        if (cur[i] < p->v[j])
            i++;
        else if (cur[i] > p->v[j])
            j++;
        else {
            cur[k++] = cur[i];
            i++, j++;
        }
    }
    *n = k;
}

/* Removes from sorted cur[0..*n) the refs in sorted p, in place. */
static void
subtract(uint32_t *cur, size_t *n, const store_postings *p)
{
    size_t i = 0, j = 0, k = 0;
    while (i < *n) {
        while (j < p->n && p->v[j] < cur[i])
            j++;
        if (j == p->n || p->v[j] != cur[i])
            cur[k++] = cur[i];
        i++;
    }
    *n = k;
}

/* The postings one matcher selects through the index: the lists of the values
 * it accepts (pos) or, for a matcher that accepts "" (and so series lacking
 * the label), the lists of the values it rejects (the series to remove). The
 * lists of one name are disjoint: a series has one value per name. A direct
 * matcher (= with a value, != with a value) names its one list; the others
 * are matched against every value of their label name, so they are built
 * only when that costs less than checking the candidates left one by one. */
typedef struct msel {
    const osp_matcher *m;
    bool pos, direct, built;
    const lname *ln; /* not direct: the label name's values (NULL: none) */
    const store_postings **p;
    size_t np, cap;
    size_t total; /* refs over p */
} msel;

static void
msel_add(msel *s, const store_postings *p, osp_arena *a)
{
    if (p == NULL || p->n == 0)
        return;
    if (s->np == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        const store_postings **nv = osp_arena_alloc(a, ncap * sizeof(*nv));
        if (s->np > 0)
            memcpy(nv, s->p, s->np * sizeof(*nv));
        s->p = nv;
        s->cap = ncap;
    }
    s->p[s->np++] = p;
    s->total += p->n;
}

/* Whether m accepts every non-empty value (".+", ".*"): no per-value check. */
static bool
accepts_all_nonempty(const osp_matcher *m)
{
    return m->type == OSP_MATCH_RE && (strcmp(m->value, ".+") == 0 || strcmp(m->value, ".*") == 0);
}

static void
msel_init(const store_index *ix, const osp_matcher *m, osp_arena *a, msel *s)
{
    memset(s, 0, sizeof(*s));
    s->m = m;
    s->pos = !osp_matcher_matches_empty(m);
    s->direct = (m->type == OSP_MATCH_EQ && s->pos) || (m->type == OSP_MATCH_NEQ && !s->pos);
    if (s->direct) {
        msel_add(s, store_index_postings(ix, m->name, m->value), a);
        s->built = true;
    } else {
        s->ln = find_name(ix, m->name);
        s->built = s->ln == NULL; /* no values: nothing to select or remove */
    }
}

/* nvalues: what building s costs (matches against its name's values). */
static size_t
nvalues(const msel *s)
{
    return s->built ? 0 : s->ln->values.n;
}

static void
msel_build(msel *s, osp_arena *a)
{
    if (s->built)
        return;
    s->built = true;
    bool all = accepts_all_nonempty(s->m);
    for (size_t i = 0; i < s->ln->values.cap; i++) {
        const smap_ent *e = &s->ln->values.v[i];
        if (e->key == NULL)
            continue;
        /* positive: the values m accepts; negative: the values it rejects */
        if (all ? s->pos : osp_matcher_matches(s->m, e->key) == s->pos)
            msel_add(s, e->val, a);
    }
}

/* Order of application: direct positives, smallest first (intersections
 * shrink the candidates most cheaply), direct negatives, then the others by
 * their number of values. */
static int
msel_cmp(const void *a, const void *b)
{
    const msel *x = a, *y = b;
    int kx = x->direct ? (x->pos ? 0 : 1) : 2, ky = y->direct ? (y->pos ? 0 : 1) : 2;
    if (kx != ky)
        return kx - ky;
    size_t cx = x->direct ? x->total : nvalues(x), cy = y->direct ? y->total : nvalues(y);
    return cx < cy ? -1 : cx > cy;
}

/* bits_of: a bitmap of nall bits (arena) with the refs of s set. */
static uint64_t *
bits_of(const msel *s, uint32_t nall, osp_arena *a)
{
    size_t words = ((size_t)nall + 63) / 64;
    uint64_t *b = osp_arena_calloc(a, (words ? words : 1) * sizeof(*b));
    for (size_t i = 0; i < s->np; i++)
        for (size_t j = 0; j < s->p[i]->n; j++) {
            uint32_t r = s->p[i]->v[j];
            if (r < nall)
                b[r / 64] |= (uint64_t)1 << (r % 64);
        }
    return b;
}

/* materialize: the sorted union of a positive selection (disjoint lists). */
static uint32_t *
materialize(const msel *s, uint32_t nall, osp_arena *a, size_t *n)
{
    uint32_t *v = osp_arena_alloc(a, (s->total ? s->total : 1) * sizeof(*v));
    if (s->np == 1) {
        memcpy(v, s->p[0]->v, s->total * sizeof(*v));
        *n = s->total;
        return v;
    }
    uint64_t *b = bits_of(s, nall, a);
    size_t k = 0;
    for (size_t w = 0; w < ((size_t)nall + 63) / 64; w++)
        for (uint64_t x = b[w]; x != 0; x &= x - 1)
            v[k++] = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
    *n = k;
    return v;
}

/* apply: narrow the sorted candidates cur[0..*n) by the built selection s. */
static void
apply(const msel *s, uint32_t nall, uint32_t *cur, size_t *n, osp_arena *a)
{
    if (s->np == 0) {
        if (s->pos)
            *n = 0;
    } else if (s->np == 1) {
        if (s->pos)
            intersect(cur, n, s->p[0]);
        else
            subtract(cur, n, s->p[0]);
    } else {
        uint64_t *b = bits_of(s, nall, a);
        size_t k = 0;
        for (size_t j = 0; j < *n; j++)
            if (((b[cur[j] / 64] >> (cur[j] % 64)) & 1) == s->pos)
                cur[k++] = cur[j];
        *n = k;
    }
}

/* Applying a selection costs about its postings (or, to build one, a match
 * per value of its label name); checking the labels of each candidate left
 * costs a lookup and a match per candidate. */
#define APPLY_PER_CANDIDATE 32

void
store_index_candidates(const store_index *ix, const osp_matcher *ms, size_t nm, uint32_t nall,
                       osp_arena *a, uint32_t **out, size_t *nout, bool *done)
{
    msel *sel = osp_arena_alloc(a, (nm ? nm : 1) * sizeof(*sel));
    for (size_t i = 0; i < nm; i++) {
        done[i] = false;
        msel_init(ix, &ms[i], a, &sel[i]);
        if (sel[i].pos && sel[i].built && sel[i].total == 0) {
            /* a value no series has, or a label name no series has */
            for (size_t j = 0; j < nm; j++)
                done[j] = true;
            *out = NULL;
            *nout = 0;
            return;
        }
    }
    if (nm > 1)
        osp_qsort(sel, nm, sizeof(*sel), msel_cmp);
    /* start from the smallest positive: a direct one, else the regex one
     * with the fewest values (its union) */
    size_t first = nm;
    for (size_t i = 0; i < nm && first == nm; i++)
        if (sel[i].pos)
            first = i;
    uint32_t *cur;
    size_t n;
    if (first < nm) {
        msel_build(&sel[first], a);
        cur = materialize(&sel[first], nall, a, &n);
        done[sel[first].m - ms] = true;
    } else {
        cur = osp_arena_alloc(a, (nall ? nall : 1) * sizeof(*cur));
        for (uint32_t r = 0; r < nall; r++)
            cur[r] = r;
        n = nall;
    }
    for (size_t i = 0; i < nm && n > 0; i++) {
        msel *s = &sel[i];
        if (i == first)
            continue;
        if (nvalues(s) > n)
            continue; /* matching every value costs more than the candidates */
        msel_build(s, a);
        if (s->total > APPLY_PER_CANDIDATE * n)
            continue; /* cheaper to check the labels of the few candidates */
        apply(s, nall, cur, &n, a);
        done[s->m - ms] = true;
    }
    *out = cur;
    *nout = n;
}
