/* gpux_config.h - the exporter's settings: one flat YAML file through a
 * schema table (defaults < file < flags). */
#ifndef GPUX_CONFIG_H
#define GPUX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "log.h"
#include "osp_err.h"

typedef struct gpux_settings {
    char *listen;
    osp_log_level log_level;
    int64_t interval;     /* ms between collections */
    char *sysfs_root;     /* "/" on a real host */
    char *nvml_lib;       /* dlopen name or path */
    bool nvidia;          /* NVML backend on */
    bool amd;             /* amdgpu backend on */
    bool pcie_throughput; /* nvmlDeviceGetPcieThroughput (2 x 20 ms per GPU) */
    bool processes;       /* per-process GPU memory (NVML) */
    bool publish;         /* send each collection to the store over NNG */
    char *store_ingest;
    char *store_ack;
    char *spool_dir;
    size_t spool_max_bytes;
    char *producer_id;     /* default gpu-exporter@<hostname>-<http port> */
    char *job;             /* job label of published series */
    char *instance;        /* instance label of published series (default hostname) */
    int64_t flush_timeout; /* ms */
} gpux_settings;

extern const osp_conf_field gpux_settings_schema[];
extern const size_t gpux_settings_schema_len;

/* gpux_settings_load: defaults, then path (may be NULL), then the overrides
 * of cli (may be NULL) into *out (zeroed first). On error *out may be partly
 * set: call gpux_settings_fini in every case. Errors: OSP_EIO/OSP_EPARSE/
 * OSP_EINVAL with file:line:col and key in ei. Any thread. */
int gpux_settings_load(const char *path, const osp_cli *cli, gpux_settings *out, osp_errinfo *ei);

/* gpux_settings_fini: free the strings; safe on a zeroed struct. */
void gpux_settings_fini(gpux_settings *s);

#endif
