/* store_index.c - inverted index (name -> value -> postings) on open-addressing
 * string maps; entries are never deleted one by one: the head clears and
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

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
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

typedef struct union_ctx {
    const osp_matcher *m;
    uint32_t *v;
    size_t n, cap;
    osp_arena *a;
} union_ctx;

static void
union_value(void *ctx, const char *value, const store_postings *p)
{
    union_ctx *u = ctx;
    if (!osp_matcher_matches(u->m, value))
        return;
    if (u->n + p->n > u->cap) {
        size_t ncap = (u->cap + p->n) * 2;
        uint32_t *nv = osp_arena_alloc(u->a, ncap * sizeof(*nv));
        if (u->n > 0)
            memcpy(nv, u->v, u->n * sizeof(*nv));
        u->v = nv;
        u->cap = ncap;
    }
    memcpy(u->v + u->n, p->v, p->n * sizeof(*p->v));
    u->n += p->n;
}

void
store_index_candidates(const store_index *ix, const osp_matcher *ms, size_t nm, uint32_t nall,
                       osp_arena *a, uint32_t **out, size_t *nout)
{
    uint32_t *cur = NULL;
    size_t n = 0;
    bool have = false;
    for (size_t i = 0; i < nm; i++) {
        if (ms[i].type != OSP_MATCH_EQ || ms[i].value[0] == '\0')
            continue;
        const store_postings *p = store_index_postings(ix, ms[i].name, ms[i].value);
        if (p == NULL || p->n == 0) {
            *out = NULL;
            *nout = 0;
            return;
        }
        if (!have) {
            cur = osp_arena_alloc(a, p->n * sizeof(*cur));
            memcpy(cur, p->v, p->n * sizeof(*cur));
            n = p->n;
            have = true;
        } else {
            intersect(cur, &n, p);
        }
    }
    if (!have) {
        for (size_t i = 0; i < nm; i++) {
            if (osp_matcher_matches_empty(&ms[i]))
                continue;
            union_ctx u = {.m = &ms[i], .a = a};
            store_index_each_value(ix, ms[i].name, union_value, &u);
            if (u.n > 1)
                osp_qsort(u.v, u.n, sizeof(*u.v), cmp_u32);
            cur = u.v;
            n = u.n;
            have = true;
            break;
        }
    }
    if (!have) {
        cur = osp_arena_alloc(a, (nall ? nall : 1) * sizeof(*cur));
        for (uint32_t r = 0; r < nall; r++)
            cur[r] = r;
        n = nall;
    }
    *out = cur;
    *nout = n;
}
