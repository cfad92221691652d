/* gpux_config.c - the exporter's schema table: every default lives here. */
#include "gpux_config.h"

#include <string.h>

const osp_conf_field gpux_settings_schema[] = {
    {.key = "listen",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, listen),
     .def = "127.0.0.1:9202",
     .help = "HTTP listen address (/metrics, /health, /ready, /-/reload)"},
    {.key = "log_level",
     .type = OSP_CONF_LOGLEVEL,
     .offset = offsetof(gpux_settings, log_level),
     .def = "info",
     .help = "debug, info, warn or error"},
    {.key = "interval",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(gpux_settings, interval),
     .def = "5s",
     .min = 100,
     .max = 3600000,
     .help = "time between collections (each one is also published)"},
    {.key = "sysfs_root",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, sysfs_root),
     .def = "/",
     .help = "root under which sys/class/drm and proc are read (a fake tree in tests)"},
    {.key = "nvml_lib",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, nvml_lib),
     .def = "libnvidia-ml.so.1",
     .help = "NVML library to dlopen (soname or path)"},
    {.key = "nvidia",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(gpux_settings, nvidia),
     .def = "true",
     .help = "collect NVIDIA GPUs through NVML"},
    {.key = "amd",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(gpux_settings, amd),
     .def = "true",
     .help = "collect AMD GPUs through amdgpu sysfs"},
    {.key = "pcie_throughput",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(gpux_settings, pcie_throughput),
     .def = "true",
     .help = "NVIDIA PCIe throughput (each read blocks about 20 ms per direction and GPU)"},
    {.key = "processes",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(gpux_settings, processes),
     .def = "true",
     .help = "per-process GPU memory (NVIDIA)"},
    {.key = "publish",
     .type = OSP_CONF_BOOL,
     .offset = offsetof(gpux_settings, publish),
     .def = "true",
     .help = "publish every collection to the store over NNG (with the spool)"},
    {.key = "store_ingest",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, store_ingest),
     .def = "tcp://127.0.0.1:7201",
     .help = "store ingest URL(s), comma-separated (NNG PUB dials)"},
    {.key = "store_ack",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, store_ack),
     .def = "tcp://127.0.0.1:7202",
     .help = "store ack URL(s), comma-separated (NNG SUB dials)"},
    {.key = "spool_dir",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, spool_dir),
     .help = "directory for unacked batches (empty: memory only)"},
    {.key = "spool_max_bytes",
     .type = OSP_CONF_BYTES,
     .offset = offsetof(gpux_settings, spool_max_bytes),
     .def = "64MiB",
     .help = "bound of the spool; the oldest batches are dropped beyond it"},
    {.key = "producer_id",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, producer_id),
     .help = "producer id on the bus (default: gpu-exporter@<hostname>-<http port>)"},
    {.key = "job",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, job),
     .def = "gpu-exporter",
     .help = "job label added to published series (empty: none)"},
    {.key = "instance",
     .type = OSP_CONF_STR,
     .offset = offsetof(gpux_settings, instance),
     .help = "instance label added to published series (default: the hostname)"},
    {.key = "flush_timeout",
     .type = OSP_CONF_DURATION,
     .offset = offsetof(gpux_settings, flush_timeout),
     .def = "5s",
     .help = "how long shutdown waits for the store to ack spooled batches"},
};
const size_t gpux_settings_schema_len =
    sizeof(gpux_settings_schema) / sizeof(gpux_settings_schema[0]);

int
gpux_settings_load(const char *path, const osp_cli *cli, gpux_settings *out, osp_errinfo *ei)
{
    memset(out, 0, sizeof(*out));
    osp_cli none;
    memset(&none, 0, sizeof(none));
    if (!cli) {
        cli = &none;
    }
    osp_cli c = *cli;
    c.config = path;
    return osp_conf_load(gpux_settings_schema, gpux_settings_schema_len, out, &c, 0, NULL, ei);
}

void
gpux_settings_fini(gpux_settings *s)
{
    osp_conf_fini(gpux_settings_schema, gpux_settings_schema_len, s);
}
