/* core_arena.c - bump allocator with deferred cleanups (see osp_arena.h). */
#include "osp_arena.h"

#include <string.h>

#include "osp_mem.h"

typedef struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
} block;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup;

struct osp_arena {
    block *head;
    size_t block_size;
    cleanup *cleanups;
};

static block *
block_new(size_t size)
{
    block *b = osp_malloc(sizeof(block) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

osp_arena *
osp_arena_new(size_t block_size)
{
    osp_arena *a = osp_calloc(1, sizeof(*a));
    a->block_size = block_size ? block_size : 64 * 1024;
    a->head = block_new(a->block_size);
    return a;
}

static void
run_cleanups(osp_arena *a)
{
    while (a->cleanups != NULL) {
        cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
    }
}

void
osp_arena_reset(osp_arena *a)
{
    run_cleanups(a);
    block *b = a->head;
    while (b->next != NULL) {
        block *n = b->next;
        osp_free(b);
        b = n;
    }
    /* keep the oldest (last) block, which has the default size */
    a->head = b;
    b->used = 0;
}

void
osp_arena_free(osp_arena *a)
{
    if (a == NULL)
        return;
    run_cleanups(a);
    block *b = a->head;
    while (b != NULL) {
        block *n = b->next;
        osp_free(b);
        b = n;
    }
    osp_free(a);
}

void *
osp_arena_alloc(osp_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->head->used + n > a->head->size) {
        size_t sz = n > a->block_size ? n : a->block_size;
        block *b = block_new(sz);
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void *
osp_arena_calloc(osp_arena *a, size_t n)
{
    void *p = osp_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *
osp_arena_strndup(osp_arena *a, const char *s, size_t n)
{
    char *p = osp_arena_alloc(a, n + 1);
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
osp_arena_defer(osp_arena *a, void (*fn)(void *), void *arg)
{
    cleanup *c = osp_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}
