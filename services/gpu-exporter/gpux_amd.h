/* gpux_amd.h - AMD GPUs through the amdgpu driver's sysfs and hwmon files
 * under <root>/sys/class/drm/card<N>/device/ (no ROCm needed). */
#ifndef GPUX_AMD_H
#define GPUX_AMD_H

#include "gpux_backend.h"
#include "gpux_snap.h"

typedef struct gpux_amd gpux_amd;

/* gpux_amd_new: a backend reading the tree under root ("/" on a real host; a
 * fake tree in tests). root is copied. Never NULL. Opens nothing yet. */
gpux_amd *gpux_amd_new(const char *root);

/* gpux_amd_collect: scan the DRM cards, keep those with vendor 0x1002 bound to
 * amdgpu, and append their samples to s. A card seen before and gone now is
 * reported as lost (gpu_stats_gpu_up 0, one log line). Unreadable files are
 * counted in st->errors and logged rate-limited; absent ones are skipped.
 * Never fails. One thread at a time (the collection thread). */
void gpux_amd_collect(gpux_amd *a, gpux_snap *s, gpux_backend_stats *st);

/* gpux_amd_free: NULL-safe. */
void gpux_amd_free(gpux_amd *a);

/* gpux_amd_parse_dpm: the active level of a pp_dpm_* file's text ("1: 1295Mhz *"),
 * in Hz. Returns 0, or OSP_ENOTFOUND when no level is marked active, or
 * OSP_EPARSE. Exposed for tests. */
int gpux_amd_parse_dpm(const char *text, double *hz);

#endif
