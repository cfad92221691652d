/* osp_arena.h - bump allocator for a unit of work (a request, a scrape, a query),
 * reset at its end, with cleanup callbacks for things that are not memory. */
#ifndef OSP_ARENA_H
#define OSP_ARENA_H

#include <stddef.h>

typedef struct osp_arena osp_arena;

osp_arena *osp_arena_new(size_t block_size);   /* 0 -> 64 KiB */
void osp_arena_free(osp_arena *a);             /* runs cleanups; NULL-safe */
void osp_arena_reset(osp_arena *a);            /* runs cleanups, keeps first block */
void *osp_arena_alloc(osp_arena *a, size_t n); /* 16-byte aligned, never NULL */
void *osp_arena_calloc(osp_arena *a, size_t n);
char *osp_arena_strndup(osp_arena *a, const char *s, size_t n);
/* osp_arena_defer: run fn(arg) at reset/free (LIFO). */
void osp_arena_defer(osp_arena *a, void (*fn)(void *), void *arg);

#endif
