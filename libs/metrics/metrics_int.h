/* metrics_int.h - layout of the registry, shared by metrics.c (registration,
 * updates) and metrics_render.c (exposition, process metrics). */
#ifndef OSP_METRICS_INT_H
#define OSP_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "metrics.h"

typedef enum osp_mkind { OSP_MK_COUNTER = 0, OSP_MK_GAUGE, OSP_MK_HISTOGRAM } osp_mkind;

typedef struct osp_family osp_family;

/* One series (or the head of a vec). Values are atomic double bit patterns. */
struct osp_metric {
    osp_family *fam;
    bool is_vec;              /* the head of a labelled family: not updatable */
    char **values;            /* label values of a vec child (fam->nlabels), owned */
    _Atomic bool hidden;      /* removed child: not rendered */
    _Atomic uint64_t val;     /* counter/gauge */
    _Atomic uint64_t sum;     /* histogram sum */
    _Atomic uint64_t count;   /* histogram count */
    _Atomic uint64_t *counts; /* histogram: nb + 1 per-bucket counts (last: +Inf) */
};

struct osp_family {
    osp_metrics *reg;
    char *name;
    char *help;
    osp_mkind kind;
    bool is_vec;
    size_t nlabels;
    char **label_names;
    double *buckets; /* histogram upper bounds, without +Inf */
    size_t nb;
    double (*fn)(void *ctx); /* computed at render time */
    void *ctx;
    osp_metric head;       /* the series of an unlabelled family / the vec handle */
    osp_metric **children; /* vec children sorted by label values */
    size_t nchildren, capchildren;
};

struct osp_collector {
    void (*fn)(void *ctx, osp_buf *out);
    void *ctx;
};

struct osp_metrics {
    pthread_mutex_t mu; /* guards fams, children arrays, collectors */
    osp_family **fams;  /* sorted by name; never removed before free */
    size_t nfams, capfams;
    struct osp_collector *collectors;
    size_t ncollectors;
    bool process; /* osp_metrics_add_process done */
};

/* u2d_load: read an atomic double. */
static inline double
u2d_load(_Atomic uint64_t *p)
{
    uint64_t u = atomic_load_explicit(p, memory_order_relaxed);
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

#endif
