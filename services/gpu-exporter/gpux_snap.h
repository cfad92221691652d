/* gpux_snap.h - one collection's GPU samples: the metric families the
 * exporter knows (name, type, unit, help), samples with their labels, and the
 * two ways out: text exposition for /metrics and a MetricBatch for the bus. */
#ifndef GPUX_SNAP_H
#define GPUX_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "bus_pb.h"
#include "osp_buf.h"
#include "osp_labels.h"

/* Every family the exporter can emit, in rendering order. */
typedef enum gpux_metric {
    GPUX_M_UP = 0,           /* gpu_stats_up{vendor} */
    GPUX_M_GPUS,             /* gpu_stats_gpus{vendor} */
    GPUX_M_COLLECT_DURATION, /* gpu_stats_collect_duration_seconds{vendor} */
    GPUX_M_COLLECT_ERRORS,   /* gpu_stats_collect_errors_total{vendor} */
    GPUX_M_INFO,             /* gpu_stats_gpu_info{..., pci_bus_id, driver_version} */
    GPUX_M_GPU_UP,           /* gpu_stats_gpu_up */
    GPUX_M_UTIL,
    GPUX_M_MEM_UTIL,
    GPUX_M_TEMP,      /* {sensor} */
    GPUX_M_TEMP_CRIT, /* {sensor} */
    GPUX_M_MEM_USED,
    GPUX_M_MEM_TOTAL,
    GPUX_M_MEM_FREE,
    GPUX_M_MEM_RESERVED,
    GPUX_M_GTT_USED,
    GPUX_M_GTT_TOTAL,
    GPUX_M_POWER,
    GPUX_M_POWER_LIMIT,
    GPUX_M_ENERGY,
    GPUX_M_CLOCK,   /* {clock} */
    GPUX_M_FAN_PCT, /* {fan} */
    GPUX_M_FAN_RPM, /* {fan} */
    GPUX_M_ECC,     /* {type, counter} */
    GPUX_M_PCIE,    /* {direction} */
    GPUX_M_PSTATE,
    GPUX_M_VOLTAGE,  /* {sensor} */
    GPUX_M_PROC_MEM, /* {pid, process, type} */
    GPUX_M__COUNT
} gpux_metric;

typedef struct gpux_family {
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *unit; /* OpenMetrics unit ("" when none) */
    const char *help;
} gpux_family;

/* gpux_families: the table, indexed by gpux_metric. */
extern const gpux_family gpux_families[GPUX_M__COUNT];

/* Identity of one GPU: the labels every per-GPU series carries. */
typedef struct gpux_gpu_id {
    char gpu[16];       /* NVML index or DRM card number */
    char uuid[128];     /* NVML UUID; amdgpu unique_id or the PCI address */
    char name[128];     /* marketing name */
    const char *vendor; /* "nvidia" or "amd" (static) */
} gpux_gpu_id;

typedef struct gpux_sample {
    gpux_metric m;
    osp_labels labels; /* sorted by name, without __name__ */
    double value;
} gpux_sample;

/* A collection: samples in the order added. Caller storage. */
typedef struct gpux_snap {
    gpux_sample *v;
    size_t n, cap;
    int64_t ts_ms; /* wall-clock time of the collection */
} gpux_snap;

void gpux_snap_init(gpux_snap *s);
void gpux_snap_fini(gpux_snap *s);
/* gpux_snap_reset: drop all samples (memory of the array is kept). */
void gpux_snap_reset(gpux_snap *s);

/* gpux_snap_truncate: drop the samples from index n on (n <= s->n). */
void gpux_snap_truncate(gpux_snap *s, size_t n);

/* gpux_snap_add: append sample m = v with the labels of id (gpu, uuid, name,
 * vendor; empty values are left out; id may be NULL) plus the NULL-terminated
 * name/value pairs that follow (e.g. "sensor", "edge", NULL). Copies all. */
void gpux_snap_add(gpux_snap *s, gpux_metric m, const gpux_gpu_id *id, double v, ...)
    __attribute__((sentinel));

/* gpux_snap_find: the first sample of m whose labels contain every given
 * name/value pair (NULL-terminated), or NULL. For tests and the bench. */
const gpux_sample *gpux_snap_find(const gpux_snap *s, gpux_metric m, ...) __attribute__((sentinel));

/* gpux_snap_render: append the text exposition 0.0.4 of s to out: per family
 * present, HELP and TYPE, then its samples in the order added. */
void gpux_snap_render(const gpux_snap *s, osp_buf *out);

/* gpux_snap_to_batch: add every sample of s to b as a Series with __name__,
 * the extra labels (job, instance...; NULL or empty values are skipped) and one
 * sample at s->ts_ms, plus one metadata entry per family present. */
void gpux_snap_to_batch(const gpux_snap *s, const osp_labels *extra, osp_mbatch *b);

#endif
