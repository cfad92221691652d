/* gpux_collect.c - a collection cycle: each enabled backend in turn, timed,
 * followed by its health series; cumulative error counts live here. */
#include "gpux_collect.h"

#include "gpux_amd.h"
#include "gpux_nvml.h"
#include "osp_mem.h"
#include "osp_time.h"

struct gpux_collector {
    gpux_nvml *nvml; /* NULL when off */
    gpux_amd *amd;   /* NULL when off */
    double nvml_errors, amd_errors;
    unsigned gpus;
};

gpux_collector *
gpux_collector_new(const gpux_collector_opts *o)
{
    gpux_collector *c = osp_calloc(1, sizeof(*c));
    if (o->nvidia) {
        gpux_nvml_opts no = {
            .lib = o->nvml_lib, .root = o->root, .pcie = o->pcie, .processes = o->processes};
        c->nvml = gpux_nvml_new(&no);
    }
    if (o->amd)
        c->amd = gpux_amd_new(o->root);
    return c;
}

void
gpux_collector_set_options(gpux_collector *c, bool pcie, bool processes)
{
    if (c->nvml)
        gpux_nvml_set_options(c->nvml, pcie, processes);
}

static void
health(gpux_snap *s, const char *vendor, const gpux_backend_stats *st, double *errors_total,
       double seconds)
{
    *errors_total += st->errors;
    bool up = st->available && st->errors == 0 && st->lost == 0;
    gpux_snap_add(s, GPUX_M_UP, NULL, up ? 1 : 0, "vendor", vendor, NULL);
    gpux_snap_add(s, GPUX_M_GPUS, NULL, st->gpus, "vendor", vendor, NULL);
    gpux_snap_add(s, GPUX_M_COLLECT_DURATION, NULL, seconds, "vendor", vendor, NULL);
    gpux_snap_add(s, GPUX_M_COLLECT_ERRORS, NULL, *errors_total, "vendor", vendor, NULL);
}

void
gpux_collector_collect(gpux_collector *c, gpux_snap *s)
{
    gpux_snap_reset(s);
    s->ts_ms = osp_now_ms();
    c->gpus = 0;
    gpux_backend_stats st;
    if (c->nvml) {
        int64_t t0 = osp_mono_ns();
        gpux_nvml_collect(c->nvml, s, &st);
        health(s, "nvidia", &st, &c->nvml_errors, (double)(osp_mono_ns() - t0) / 1e9);
        c->gpus += st.gpus;
    }
    if (c->amd) {
        int64_t t0 = osp_mono_ns();
        gpux_amd_collect(c->amd, s, &st);
        health(s, "amd", &st, &c->amd_errors, (double)(osp_mono_ns() - t0) / 1e9);
        c->gpus += st.gpus;
    }
}

unsigned
gpux_collector_gpus(const gpux_collector *c)
{
    return c->gpus;
}

void
gpux_collector_free(gpux_collector *c)
{
    if (!c)
        return;
    gpux_nvml_free(c->nvml);
    gpux_amd_free(c->amd);
    osp_free(c);
}
