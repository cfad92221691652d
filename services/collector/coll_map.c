/* coll_map.c - linear probing with backward-shift deletion (no tombstones), so
 * lookups stay short however many series come and go. */
#include "coll_map.h"

#include <string.h>

#include "osp_mem.h"

void
coll_map_init(coll_map *m)
{
    memset(m, 0, sizeof(*m));
}

void
coll_map_fini(coll_map *m)
{
    osp_free(m->keys);
    osp_free(m->vals);
    osp_free(m->used);
    memset(m, 0, sizeof(*m));
}

static size_t
slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static void
grow(coll_map *m)
{
    coll_map old = *m;
    size_t cap = old.cap ? old.cap * 2 : 64;
    m->keys = osp_calloc(cap, sizeof(uint64_t));
    m->vals = osp_calloc(cap, sizeof(void *));
    m->used = osp_calloc(cap, 1);
    m->cap = cap;
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.used[i])
            coll_map_put(m, old.keys[i], old.vals[i]);
    osp_free(old.keys);
    osp_free(old.vals);
    osp_free(old.used);
}

void *
coll_map_get(const coll_map *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i])
            return NULL;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

void
coll_map_put(coll_map *m, uint64_t key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        grow(m);
    size_t i = slot_of(key, m->cap);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->used[i]) {
        m->used[i] = 1;
        m->keys[i] = key;
        m->n++;
    }
    m->vals[i] = val;
}

void *
coll_map_del(coll_map *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->used[i])
        return NULL;
    void *val = m->vals[i];
    /* Backward shift: move later members of the probe run into the hole when
     * their home slot does not lie cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->used[hole] = 0;
    m->vals[hole] = NULL;
    m->n--;
    return val;
}

bool
coll_map_next(const coll_map *m, size_t *it, uint64_t *key, void **val)
{
    for (; *it < m->cap; (*it)++) {
        if (m->used[*it]) {
            if (key)
                *key = m->keys[*it];
            if (val)
                *val = m->vals[*it];
            (*it)++;
            return true;
        }
    }
    return false;
}
