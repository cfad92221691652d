/* gpux_nvml.h - NVIDIA GPUs through NVML, loaded with dlopen at run time
 * (no CUDA or NVML headers at build time; see gpux_nvml_api.h). */
#ifndef GPUX_NVML_H
#define GPUX_NVML_H

#include <stdbool.h>

#include "gpux_backend.h"
#include "gpux_snap.h"

typedef struct gpux_nvml gpux_nvml;

typedef struct gpux_nvml_opts {
    const char *lib;  /* path or soname, e.g. "libnvidia-ml.so.1"; copied */
    const char *root; /* root for /proc/<pid>/comm of GPU processes; copied */
    bool pcie;        /* nvmlDeviceGetPcieThroughput (blocks ~20 ms per call) */
    bool processes;   /* per-process GPU memory */
} gpux_nvml_opts;

/* gpux_nvml_new: a backend; the library is loaded and nvmlInit called on the
 * first collection (and retried on later ones while that fails). Never NULL. */
gpux_nvml *gpux_nvml_new(const gpux_nvml_opts *o);

/* gpux_nvml_set_options: change pcie/processes (reload). Collection thread
 * or with no collection running. */
void gpux_nvml_set_options(gpux_nvml *n, bool pcie, bool processes);

/* gpux_nvml_collect: enumerate the devices and append their samples to s.
 * Missing library or failed init: st->available false, logged rate-limited.
 * NVML_ERROR_NOT_SUPPORTED (and a missing optional symbol) omits the series;
 * NVML_ERROR_GPU_IS_LOST reports the GPU with gpu_stats_gpu_up 0 only; other
 * errors are counted in st->errors and logged rate-limited. May block as long
 * as NVML does: call it from the collection thread, never the HTTP loop. */
void gpux_nvml_collect(gpux_nvml *n, gpux_snap *s, gpux_backend_stats *st);

/* gpux_nvml_free: nvmlShutdown when initialised, dlclose; NULL-safe. */
void gpux_nvml_free(gpux_nvml *n);

#endif
