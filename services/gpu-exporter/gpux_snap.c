/* gpux_snap.c - the family table and a collection's samples, rendered as
 * text exposition for /metrics or as a MetricBatch for the bus. */
#include "gpux_snap.h"

#include <stdarg.h>
#include <string.h>

#include "expfmt.h"
#include "osp_mem.h"

const gpux_family gpux_families[GPUX_M__COUNT] = {
    [GPUX_M_UP] = {"gpu_stats_up", "gauge", "",
                   "1 when the vendor backend's last collection read every GPU without error, "
                   "else 0 (driver or library missing, GPU lost, unreadable file)"},
    [GPUX_M_GPUS] = {"gpu_stats_gpus", "gauge", "", "GPUs found by the vendor backend"},
    [GPUX_M_COLLECT_DURATION] = {"gpu_stats_collect_duration_seconds", "gauge", "seconds",
                                 "Duration of the vendor backend's last collection"},
    [GPUX_M_COLLECT_ERRORS] = {"gpu_stats_collect_errors_total", "counter", "",
                               "Failed reads (not 'not supported') since start, by vendor"},
    [GPUX_M_INFO] = {"gpu_stats_gpu_info", "gauge", "",
                     "Always 1; identity of the GPU in its labels"},
    [GPUX_M_GPU_UP] = {"gpu_stats_gpu_up", "gauge", "",
                       "1 when the GPU answered in the last collection, 0 when it is lost"},
    [GPUX_M_UTIL] = {"gpu_stats_gpu_utilization_percent", "gauge", "percent",
                     "Percent of time the GPU was busy over the driver's sample period"},
    [GPUX_M_MEM_UTIL] = {"gpu_stats_gpu_memory_utilization_percent", "gauge", "percent",
                         "Percent of time the memory controller was busy"},
    [GPUX_M_TEMP] = {"gpu_stats_gpu_temperature_celsius", "gauge", "celsius",
                     "Temperature by sensor (gpu; amdgpu: edge, junction, mem)"},
    [GPUX_M_TEMP_CRIT] = {"gpu_stats_gpu_temperature_critical_celsius", "gauge", "celsius",
                          "Critical temperature threshold by sensor"},
    [GPUX_M_MEM_USED] = {"gpu_stats_gpu_memory_usage_bytes", "gauge", "bytes",
                         "Used GPU memory (VRAM / framebuffer)"},
    [GPUX_M_MEM_TOTAL] = {"gpu_stats_gpu_memory_total_bytes", "gauge", "bytes",
                          "Total GPU memory (VRAM / framebuffer)"},
    [GPUX_M_MEM_FREE] = {"gpu_stats_gpu_memory_free_bytes", "gauge", "bytes", "Free GPU memory"},
    [GPUX_M_MEM_RESERVED] = {"gpu_stats_gpu_memory_reserved_bytes", "gauge", "bytes",
                             "GPU memory reserved by the driver"},
    [GPUX_M_GTT_USED] = {"gpu_stats_gpu_gtt_usage_bytes", "gauge", "bytes",
                         "Used GTT (system memory mapped for the GPU)"},
    [GPUX_M_GTT_TOTAL] = {"gpu_stats_gpu_gtt_total_bytes", "gauge", "bytes", "Total GTT"},
    [GPUX_M_POWER] = {"gpu_stats_gpu_power_draw_watts", "gauge", "watts", "Power draw"},
    [GPUX_M_POWER_LIMIT] = {"gpu_stats_gpu_power_limit_watts", "gauge", "watts",
                            "Enforced power limit (cap)"},
    [GPUX_M_ENERGY] = {"gpu_stats_gpu_energy_joules_total", "counter", "joules",
                       "Energy consumed since the driver was loaded"},
    [GPUX_M_CLOCK] = {"gpu_stats_gpu_clock_hertz", "gauge", "hertz",
                      "Current clock by domain (graphics, sm, memory)"},
    [GPUX_M_FAN_PCT] = {"gpu_stats_gpu_fan_speed_percent", "gauge", "percent",
                        "Fan speed in percent of its maximum (NVML may report over 100)"},
    [GPUX_M_FAN_RPM] = {"gpu_stats_gpu_fan_speed_rpm", "gauge", "rpm", "Fan speed"},
    [GPUX_M_ECC] = {"gpu_stats_gpu_ecc_errors_total", "counter", "",
                    "ECC errors by type (corrected, uncorrected) and counter (volatile: since "
                    "driver load, aggregate: lifetime)"},
    [GPUX_M_PCIE] = {"gpu_stats_gpu_pcie_throughput_bytes_per_second", "gauge", "bytes_per_second",
                     "PCIe throughput by direction (tx, rx) over a 20 ms window"},
    [GPUX_M_PSTATE] = {"gpu_stats_gpu_performance_state", "gauge", "",
                       "Performance state (0 = maximum ... 15 = minimum)"},
    [GPUX_M_VOLTAGE] = {"gpu_stats_gpu_voltage_volts", "gauge", "volts", "Voltage by sensor"},
    [GPUX_M_PROC_MEM] = {"gpu_stats_gpu_process_memory_usage_bytes", "gauge", "bytes",
                         "GPU memory used by a process"},
};

void
gpux_snap_init(gpux_snap *s)
{
    memset(s, 0, sizeof(*s));
}

void
gpux_snap_truncate(gpux_snap *s, size_t n)
{
    for (size_t i = n; i < s->n; i++)
        osp_labels_fini(&s->v[i].labels);
    if (n < s->n)
        s->n = n;
}

void
gpux_snap_reset(gpux_snap *s)
{
    gpux_snap_truncate(s, 0);
    s->ts_ms = 0;
}

void
gpux_snap_fini(gpux_snap *s)
{
    gpux_snap_reset(s);
    osp_free(s->v);
    memset(s, 0, sizeof(*s));
}

static void
add_pair(osp_labels *ls, const char *name, const char *value)
{
    if (value && *value)
        osp_labels_addc(ls, name, value);
}

void
gpux_snap_add(gpux_snap *s, gpux_metric m, const gpux_gpu_id *id, double v, ...)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = osp_reallocarray(s->v, s->cap, sizeof(*s->v));
    }
    gpux_sample *x = &s->v[s->n++];
    x->m = m;
    x->value = v;
    osp_labels_init(&x->labels);
    if (id) {
        add_pair(&x->labels, "gpu", id->gpu);
        add_pair(&x->labels, "name", id->name);
        add_pair(&x->labels, "uuid", id->uuid);
        add_pair(&x->labels, "vendor", id->vendor);
    }
    va_list ap;
    va_start(ap, v);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        add_pair(&x->labels, k, val);
    }
    va_end(ap);
    osp_labels_sort(&x->labels);
}

const gpux_sample *
gpux_snap_find(const gpux_snap *s, gpux_metric m, ...)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].m != m)
            continue;
        bool ok = true;
        va_list ap;
        va_start(ap, m);
        const char *k;
        while (ok && (k = va_arg(ap, const char *)) != NULL) {
            const char *want = va_arg(ap, const char *);
            const char *got = osp_labels_get(&s->v[i].labels, k);
            ok = got && want && strcmp(got, want) == 0;
        }
        va_end(ap);
        if (ok)
            return &s->v[i];
    }
    return NULL;
}

void
gpux_snap_render(const gpux_snap *s, osp_buf *out)
{
    for (int m = 0; m < GPUX_M__COUNT; m++) {
        bool header = false;
        for (size_t i = 0; i < s->n; i++) {
            if ((int)s->v[i].m != m)
                continue;
            const gpux_family *f = &gpux_families[m];
            if (!header) {
                osp_expfmt_write_help(out, f->name, f->help);
                osp_expfmt_write_type(out, f->name, f->type);
                header = true;
            }
            osp_expfmt_write_sample(out, f->name, &s->v[i].labels, s->v[i].value, false, 0);
        }
    }
}

void
gpux_snap_to_batch(const gpux_snap *s, const osp_labels *extra, osp_mbatch *b)
{
    bool present[GPUX_M__COUNT] = {false};
    osp_labels ls;
    osp_labels_init(&ls);
    for (size_t i = 0; i < s->n; i++) {
        const gpux_sample *x = &s->v[i];
        present[x->m] = true;
        osp_labels_copy(&ls, &x->labels);
        osp_labels_addc(&ls, "__name__", gpux_families[x->m].name);
        for (size_t j = 0; extra && j < extra->n; j++)
            if (extra->v[j].value && *extra->v[j].value && !osp_labels_get(&ls, extra->v[j].name))
                osp_labels_addc(&ls, extra->v[j].name, extra->v[j].value);
        osp_labels_sort(&ls);
        osp_mbatch_add_series(b, &ls, &s->ts_ms, &x->value, 1);
    }
    osp_labels_fini(&ls);
    for (int m = 0; m < GPUX_M__COUNT; m++)
        if (present[m])
            osp_mbatch_add_meta(b, gpux_families[m].name, gpux_families[m].type,
                                gpux_families[m].help, gpux_families[m].unit);
}
