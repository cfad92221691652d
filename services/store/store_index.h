/* store_index.h - the in-memory inverted index of the head: label name ->
 * label value -> postings (sorted series refs). Not thread-safe: the head's
 * rwlock guards it (writes under the write lock, lookups under the read lock). */
#ifndef STORE_INDEX_H
#define STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_arena.h"
#include "osp_labels.h"
#include "promql.h"

typedef struct store_index store_index;

/* A sorted list of series refs (owned by the index). */
typedef struct store_postings {
    uint32_t *v;
    size_t n;
    size_t cap;
} store_postings;

/* store_index_new: an empty index (never NULL). store_index_free: NULL-safe. */
store_index *store_index_new(void);
void store_index_free(store_index *ix);

/* store_index_clear: drop every entry (before a rebuild). */
void store_index_clear(store_index *ix);

/* store_index_add: add series ref with labels ls. Refs must be added in
 * increasing order (postings stay sorted by appending). */
void store_index_add(store_index *ix, uint32_t ref, const osp_labels *ls);

/* store_index_postings: the postings of name=value, or NULL when none. */
const store_postings *store_index_postings(const store_index *ix, const char *name,
                                           const char *value);

/* store_index_each_name: fn(ctx, name) for every label name (unordered). */
void store_index_each_name(const store_index *ix, void (*fn)(void *ctx, const char *name),
                           void *ctx);

/* store_index_each_value: fn(ctx, value, postings) for every value of name
 * (unordered); nothing when the name is unknown. */
void store_index_each_value(const store_index *ix, const char *name,
                            void (*fn)(void *ctx, const char *value, const store_postings *p),
                            void *ctx);

/* store_index_candidates: the sorted refs (in arena a) of the series that
 * match the nm matchers the index applied, each marked in done[0..nm) (caller
 * storage). A matcher that does not accept "" keeps the series with a value it
 * accepts (the union of those values' postings); one that accepts "" removes
 * the series with a value it rejects. The smallest positive selection starts
 * (every ref below nall when there is none); a selection much larger than the
 * candidates left is not applied (done[i] false): the caller checks those
 * matchers on each candidate with osp_matcher_matches. */
void store_index_candidates(const store_index *ix, const osp_matcher *ms, size_t nm, uint32_t nall,
                            osp_arena *a, uint32_t **out, size_t *nout, bool *done);

#endif
