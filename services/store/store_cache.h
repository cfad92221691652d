/* store_cache.h - the ingest series cache: the raw packed label bytes of a
 * Series (producers send byte-identical labels for a series every scrape) ->
 * its id and head ref (its labels are read back from the key when needed), so a known series skips
 * validation, copying, sorting, hashing and the head lookup. Single owner: the
 * ingest thread (or a test). */
#ifndef STORE_CACHE_H
#define STORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_labels.h"
#include "store_head.h"

typedef struct store_cache store_cache;

/* One cached series. */
typedef struct store_cache_ent {
    uint64_t hash; /* store_cache_hash of key */
    uint64_t id;   /* osp_labels_hash of the labels of key (store_cache_labels) */
    uint32_t ref;  /* head ref, set only after the head matched the labels (not
                    * just the id), or UINT32_MAX; checked before use */
    uint32_t keylen;
    /* the entry that came next in the last batch holding this one (NULL:
     * none known): producers send a target's series in the same order every
     * scrape, so it is the first guess for the next series */
    struct store_cache_ent *next;
    char key[]; /* raw label bytes */
} store_cache_ent;

/* store_cache_new: an empty cache holding at most max_entries (0: 1 << 22).
 * Never NULL. store_cache_free: NULL-safe. */
store_cache *store_cache_new(size_t max_entries);
void store_cache_free(store_cache *c);

/* store_cache_hash: the hash of raw label bytes used as the key. */
uint64_t store_cache_hash(const void *key, size_t len);

/* store_cache_get: the entry of exactly these key bytes (hash from
 * store_cache_hash), or NULL. */
store_cache_ent *store_cache_get(store_cache *c, const void *key, size_t len, uint64_t hash);

/* store_cache_lookup: as store_cache_get, trying first the entry that
 * followed prev (NULL: none) the last time, which spares the hash and the
 * probe; on a miss *hash receives the hash for store_cache_put. A hit becomes
 * prev's successor. */
store_cache_ent *store_cache_lookup(store_cache *c, store_cache_ent *prev, const void *key,
                                    size_t len, uint64_t *hash);

/* store_cache_follow: record e as the successor of prev (NULL-safe). */
static inline void
store_cache_follow(store_cache_ent *prev, store_cache_ent *e)
{
    if (prev != NULL)
        prev->next = e;
}

/* store_cache_prefetch: start loading e (NULL-safe) and the start of its
 * key: a hint, changes nothing. */
static inline void
store_cache_prefetch(const store_cache_ent *e)
{
    if (e != NULL) {
        __builtin_prefetch(e);
        __builtin_prefetch((const char *)e + 64);
        __builtin_prefetch((const char *)e + 128);
    }
}

/* store_cache_put: insert a copy of (key, id, labels) and return it; NULL when
 * the cache is full (see store_cache_trim). An existing entry of the same key
 * is returned unchanged. Entries stay valid until store_cache_trim or
 * store_cache_sweep. */
store_cache_ent *store_cache_put(store_cache *c, const void *key, size_t len, uint64_t hash,
                                 uint64_t id);

/* store_cache_labels: the labels of e's key bytes (validated when e was
 * put), sorted, empty values dropped, into out (initialised by the caller,
 * emptied first, owned). The entry keeps no label set of its own: a hit whose
 * ref is valid needs none, and the rest (a new series, refs moved by
 * retention) are rare. */
void store_cache_labels(const store_cache_ent *e, osp_labels *out);

/* store_cache_ref: the head ref of e when its cached ref still names its
 * series (refs move when retention compacts the head). Head lock held. */
bool store_cache_ref(const store_cache_ent *e, const store_head *h, uint32_t *ref);

/* store_cache_trim: empty the cache when it is full (call between commit
 * groups: it frees entries). Returns true when it emptied it. */
bool store_cache_trim(store_cache *c);

/* store_cache_sweep: after a head truncation, drop the entries whose series
 * left the head and refresh the refs of the others. Takes the read lock. */
void store_cache_sweep(store_cache *c, store_head *h);

/* store_cache_count: entries held. */
size_t store_cache_count(const store_cache *c);

#endif
