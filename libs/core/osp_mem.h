/* osp_mem.h - allocation wrappers. Osprey follows Redis: running out of memory
 * aborts the process with a message (a daemon that cannot allocate cannot keep
 * its promises), so these never return NULL. */
#ifndef OSP_MEM_H
#define OSP_MEM_H

#include <stddef.h>

void *osp_malloc(size_t n);
void *osp_calloc(size_t n, size_t size);
void *osp_realloc(void *p, size_t n);
/* osp_reallocarray: realloc for n*size with overflow check (aborts on overflow). */
void *osp_reallocarray(void *p, size_t n, size_t size);
char *osp_strdup(const char *s);
/* osp_strndup: copy n bytes of s (need not be NUL-terminated) plus a NUL. */
char *osp_strndup(const char *s, size_t n);
/* osp_free: free(p); NULL-safe. */
void osp_free(void *p);

/* osp_qsort: qsort that accepts an empty array with base NULL (C's qsort
 * makes that undefined) and skips arrays of one element. */
void osp_qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
