/* gpux_collect.h - one collection cycle over the enabled vendor backends,
 * plus the exporter's per-vendor health series (gpu_stats_up, gpu_stats_gpus,
 * gpu_stats_collect_duration_seconds, gpu_stats_collect_errors_total). */
#ifndef GPUX_COLLECT_H
#define GPUX_COLLECT_H

#include <stdbool.h>

#include "gpux_snap.h"

typedef struct gpux_collector gpux_collector;

typedef struct gpux_collector_opts {
    const char *root;     /* sysfs/procfs root; "/" on a real host */
    const char *nvml_lib; /* dlopen name or path */
    bool nvidia, amd;     /* backends on */
    bool pcie;            /* NVML PCIe throughput */
    bool processes;       /* NVML per-process memory */
} gpux_collector_opts;

/* gpux_collector_new: backends as configured (strings copied). Never NULL;
 * nothing is opened before the first collection. */
gpux_collector *gpux_collector_new(const gpux_collector_opts *o);

/* gpux_collector_collect: reset s, run every enabled backend once and append
 * its samples and health series; s->ts_ms is the wall clock at the start.
 * Never fails (failures are series and log lines). May block as long as NVML
 * does. One thread at a time. */
void gpux_collector_collect(gpux_collector *c, gpux_snap *s);

/* gpux_collector_gpus: GPUs seen by the last collection (all vendors). */
unsigned gpux_collector_gpus(const gpux_collector *c);

/* gpux_collector_set_options: pcie/processes for the next collections (reload).
 * Same thread as collect, or while none runs. */
void gpux_collector_set_options(gpux_collector *c, bool pcie, bool processes);

/* gpux_collector_free: NULL-safe. */
void gpux_collector_free(gpux_collector *c);

#endif
