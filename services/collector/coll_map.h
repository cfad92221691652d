/* coll_map.h - open-addressing hash map from 64-bit hashes to pointers: the
 * per-target scrape cache, series set and metadata set live in these. */
#ifndef COLL_MAP_H
#define COLL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caller storage; zero-initialised or coll_map_init'ed. Not thread-safe. Values
 * are borrowed pointers (the map never frees them). */
typedef struct coll_map {
    uint64_t *keys;
    void **vals;
    uint8_t *used;
    size_t cap; /* power of two or 0 */
    size_t n;
} coll_map;

void coll_map_init(coll_map *m);
/* coll_map_fini: free the table (not the values). */
void coll_map_fini(coll_map *m);
/* coll_map_get: value stored under key, or NULL. */
void *coll_map_get(const coll_map *m, uint64_t key);
/* coll_map_put: store val under key (replacing an earlier value). */
void coll_map_put(coll_map *m, uint64_t key, void *val);
/* coll_map_del: remove key; returns the value it had or NULL. */
void *coll_map_del(coll_map *m, uint64_t key);
/* coll_map_next: iterate: start with *it = 0; returns false at the end. The map
 * must not be changed while iterating (collect keys first, then delete). */
bool coll_map_next(const coll_map *m, size_t *it, uint64_t *key, void **val);

#endif
