/* store_cache.c - the ingest series cache: an open-addressing table of entry
 * pointers keyed by the hash of the raw label bytes, compared byte for byte. */
#include "store_cache.h"

#include <string.h>

#include "osp_buf.h"
#include "osp_err.h"
#include "osp_mem.h"
#include "bus_wire.h"

typedef struct slot {
    uint64_t hash;        /* of ent, kept here so a probe touches one cache line */
    store_cache_ent *ent; /* NULL = empty */
} slot;

struct store_cache {
    slot *slots; /* linear probing, no tombstones */
    size_t cap;  /* power of two */
    size_t n, max;
};

store_cache *
store_cache_new(size_t max_entries)
{
    store_cache *c = osp_calloc(1, sizeof(*c));
    c->max = max_entries ? max_entries : (size_t)1 << 22;
    c->cap = 1024;
    c->slots = osp_calloc(c->cap, sizeof(*c->slots));
    return c;
}

static void
ent_free(store_cache_ent *e)
{
    osp_free(e);
}

static void
clear(store_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].ent != NULL)
            ent_free(c->slots[i].ent);
        c->slots[i].ent = NULL;
    }
    c->n = 0;
}

void
store_cache_free(store_cache *c)
{
    if (c == NULL)
        return;
    clear(c);
    osp_free(c->slots);
    osp_free(c);
}

uint64_t
store_cache_hash(const void *key, size_t len)
{
    return osp_hash64(key, len, 0x6c61626cULL);
}

store_cache_ent *
store_cache_get(store_cache *c, const void *key, size_t len, uint64_t hash)
{
    size_t mask = c->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        store_cache_ent *e = c->slots[i].ent;
        if (e == NULL)
            return NULL;
        if (c->slots[i].hash == hash && e->keylen == len && memcmp(e->key, key, len) == 0)
            return e;
    }
}

store_cache_ent *
store_cache_lookup(store_cache *c, store_cache_ent *prev, const void *key, size_t len,
                   uint64_t *hash)
{
    store_cache_ent *e = prev != NULL ? prev->next : NULL;
    if (e != NULL && e->keylen == len && memcmp(e->key, key, len) == 0)
        return e;
    *hash = store_cache_hash(key, len);
    e = store_cache_get(c, key, len, *hash);
    if (e != NULL)
        store_cache_follow(prev, e);
    return e;
}

static void
insert_slot(store_cache *c, store_cache_ent *e)
{
    size_t mask = c->cap - 1;
    size_t i = (size_t)e->hash & mask;
    while (c->slots[i].ent != NULL)
        i = (i + 1) & mask;
    c->slots[i] = (slot){e->hash, e};
}

static void
grow(store_cache *c)
{
    slot *old = c->slots;
    size_t ocap = c->cap;
    c->cap *= 2;
    c->slots = osp_calloc(c->cap, sizeof(*c->slots));
    for (size_t i = 0; i < ocap; i++)
        if (old[i].ent != NULL)
            insert_slot(c, old[i].ent);
    osp_free(old);
}

store_cache_ent *
store_cache_put(store_cache *c, const void *key, size_t len, uint64_t hash, uint64_t id)
{
    store_cache_ent *e = store_cache_get(c, key, len, hash);
    if (e != NULL)
        return e;
    if (c->n >= c->max || len > UINT32_MAX)
        return NULL;
    if ((c->n + 1) * 2 > c->cap)
        grow(c);
    e = osp_malloc(sizeof(*e) + len);
    e->hash = hash;
    if (len)
        memcpy(e->key, key, len);
    e->keylen = (uint32_t)len;
    e->id = id;
    e->ref = UINT32_MAX;
    e->next = NULL;
    insert_slot(c, e);
    c->n++;
    return e;
}

void
store_cache_labels(const store_cache_ent *e, osp_labels *out)
{
    osp_labels_reset(out);
    osp_wire_it it;
    osp_wire_it_init(&it, (osp_wire_view){e->key, e->keylen});
    osp_wire_view nv, vv;
    while (osp_wire_next_label(&it, &nv, &vv)) {
        size_t vl = osp_wire_cstr_len(vv);
        if (vl > 0) /* Prometheus: an empty value is an absent label */
            osp_labels_add(out, nv.p, osp_wire_cstr_len(nv), vv.p, vl);
    }
    osp_labels_sort(out);
}

bool
store_cache_ref(const store_cache_ent *e, const store_head *h, uint32_t *ref)
{
    /* e->ref was set when the head matched e's labels, and ids are unique in
     * the head, so a series with e->id at e->ref is e's series */
    if (e->ref == UINT32_MAX || e->ref >= store_head_nseries(h) ||
        store_head_series(h, e->ref)->id != e->id)
        return false;
    *ref = e->ref;
    return true;
}

bool
store_cache_trim(store_cache *c)
{
    if (c->n < c->max)
        return false;
    clear(c);
    return true;
}

void
store_cache_sweep(store_cache *c, store_head *h)
{
    store_head_rdlock(h);
    store_cache_ent **keep = osp_calloc(c->n ? c->n : 1, sizeof(*keep));
    size_t nk = 0;
    osp_labels ls;
    osp_labels_init(&ls);
    for (size_t i = 0; i < c->cap; i++) {
        store_cache_ent *e = c->slots[i].ent;
        if (e == NULL)
            continue;
        c->slots[i].ent = NULL;
        uint32_t ref;
        e->next = NULL; /* it may be freed below */
        osp_labels_reset(&ls);
        if (e->ref != UINT32_MAX)
            store_cache_labels(e, &ls);
        if (e->ref != UINT32_MAX && store_head_find(h, e->id, &ls, &ref) == 0) {
            e->ref = ref;
            keep[nk++] = e;
        } else {
            ent_free(e); /* gone, or never matched: a miss makes it again */
        }
    }
    store_head_unlock(h);
    osp_labels_fini(&ls);
    c->n = nk;
    for (size_t i = 0; i < nk; i++)
        insert_slot(c, keep[i]);
    osp_free(keep);
}

size_t
store_cache_count(const store_cache *c)
{
    return c->n;
}
