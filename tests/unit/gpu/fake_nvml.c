/* fake_nvml.c - a stand-in libnvidia-ml.so.1 for tests: implements the NVML
 * functions the exporter uses, answering from a "key value" file named by
 * $FAKE_NVML_CONFIG (re-read when it changes), so tests set GPU counts,
 * values, missing fields (-> NVML_ERROR_NOT_SUPPORTED), lost GPUs and failing
 * calls. Keys: init_error N, driver V, count N, gpuI.<field> V, gpuI.lost 1,
 * gpuI.fail.<function> CODE (see the README of services/gpu-exporter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpux_nvml_api.h"

#define MAXKV 1024
#define MAXDEV 16

struct nvmlDevice_st {
    unsigned int idx;
};

static struct nvmlDevice_st devs[MAXDEV];
static char *keys[MAXKV], *vals[MAXKV];
static int nkv;
static struct stat last_st;
static char last_path[4096];
static int inited;

static void
clear(void)
{
    for (int i = 0; i < nkv; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    nkv = 0;
    last_path[0] = 0;
    memset(&last_st, 0, sizeof(last_st));
}

/* dlclose of the library frees what the config took (leak checkers watch). */
__attribute__((destructor)) static void
fini(void)
{
    clear();
}

static void
load(void)
{
    const char *path = getenv("FAKE_NVML_CONFIG");
    struct stat st;
    if (!path || stat(path, &st) != 0) {
        memset(&st, 0, sizeof(st));
        path = "";
    }
    if (strcmp(path, last_path) == 0 && st.st_mtim.tv_sec == last_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == last_st.st_mtim.tv_nsec && st.st_size == last_st.st_size &&
        st.st_ino == last_st.st_ino)
        return;
    clear();
    snprintf(last_path, sizeof(last_path), "%s", path);
    last_st = st;
    FILE *f = *path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[1024];
    while (nkv < MAXKV && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp || line[0] == '#')
            continue;
        *sp = 0;
        keys[nkv] = strdup(line);
        vals[nkv] = strdup(sp + 1);
        nkv++;
    }
    fclose(f);
}

static const char *
get(const char *key)
{
    for (int i = nkv - 1; i >= 0; i--)
        if (strcmp(keys[i], key) == 0)
            return vals[i];
    return NULL;
}

static const char *
dget(nvmlDevice_t d, const char *field)
{
    char k[256];
    snprintf(k, sizeof(k), "gpu%u.%s", d->idx, field);
    return get(k);
}

/* pre: the common checks of a device call: init, handle, lost, forced failure. */
static nvmlReturn_t
pre(nvmlDevice_t d, const char *fn)
{
    if (!inited)
        return NVML_ERROR_UNINITIALIZED;
    if (!d || d < devs || d >= devs + MAXDEV)
        return NVML_ERROR_INVALID_ARGUMENT;
    const char *lost = dget(d, "lost");
    if (lost && atoi(lost))
        return NVML_ERROR_GPU_IS_LOST;
    char k[200];
    snprintf(k, sizeof(k), "fail.%s", fn);
    const char *f = dget(d, k);
    return f ? atoi(f) : NVML_SUCCESS;
}

static nvmlReturn_t
uint_field(nvmlDevice_t d, const char *fn, const char *field, unsigned int *out)
{
    nvmlReturn_t r = pre(d, fn);
    if (r)
        return r;
    const char *v = dget(d, field);
    if (!v)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = (unsigned int)strtoul(v, NULL, 10);
    return NVML_SUCCESS;
}

static nvmlReturn_t
ull_field(nvmlDevice_t d, const char *fn, const char *field, unsigned long long *out)
{
    nvmlReturn_t r = pre(d, fn);
    if (r)
        return r;
    const char *v = dget(d, field);
    if (!v)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = strtoull(v, NULL, 10);
    return NVML_SUCCESS;
}

static nvmlReturn_t
str_field(nvmlDevice_t d, const char *fn, const char *field, char *out, unsigned int len)
{
    nvmlReturn_t r = pre(d, fn);
    if (r)
        return r;
    const char *v = dget(d, field);
    if (!v)
        return NVML_ERROR_NOT_SUPPORTED;
    if (strlen(v) + 1 > len)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, v, strlen(v) + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlInit_v2(void)
{
    load();
    const char *e = get("init_error");
    if (e && atoi(e))
        return atoi(e);
    inited = 1;
    for (unsigned int i = 0; i < MAXDEV; i++)
        devs[i].idx = i;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlInit(void)
{
    return nvmlInit_v2();
}

nvmlReturn_t
nvmlShutdown(void)
{
    inited = 0;
    clear();
    return NVML_SUCCESS;
}

const char *
nvmlErrorString(nvmlReturn_t r)
{
    switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

nvmlReturn_t
nvmlSystemGetDriverVersion(char *buf, unsigned int len)
{
    const char *v = get("driver");
    snprintf(buf, len, "%s", v ? v : "");
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!inited)
        return NVML_ERROR_UNINITIALIZED;
    load();
    const char *e = get("count_error");
    if (e && atoi(e))
        return atoi(e);
    const char *c = get("count");
    unsigned int n = c ? (unsigned int)atoi(c) : 0;
    *count = n > MAXDEV ? MAXDEV : n;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetHandleByIndex_v2(unsigned int idx, nvmlDevice_t *dev)
{
    if (!inited)
        return NVML_ERROR_UNINITIALIZED;
    if (idx >= MAXDEV)
        return NVML_ERROR_INVALID_ARGUMENT;
    *dev = &devs[idx];
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int len)
{
    return str_field(d, "nvmlDeviceGetName", "name", name, len);
}

nvmlReturn_t
nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int len)
{
    return str_field(d, "nvmlDeviceGetUUID", "uuid", uuid, len);
}

nvmlReturn_t
nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci)
{
    nvmlReturn_t r = pre(d, "nvmlDeviceGetPciInfo_v3");
    if (r)
        return r;
    const char *v = dget(d, "bus_id");
    if (!v)
        return NVML_ERROR_NOT_SUPPORTED;
    memset(pci, 0, sizeof(*pci));
    snprintf(pci->busId, sizeof(pci->busId), "%s", v);
    snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%.15s", v);
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    unsigned int g, m;
    nvmlReturn_t r = uint_field(d, "nvmlDeviceGetUtilizationRates", "util_gpu", &g);
    if (r == NVML_SUCCESS)
        r = uint_field(d, "nvmlDeviceGetUtilizationRates", "util_mem", &m);
    if (r == NVML_SUCCESS) {
        u->gpu = g;
        u->memory = m;
    }
    return r;
}

nvmlReturn_t
nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    unsigned long long t, u, f;
    nvmlReturn_t r = ull_field(d, "nvmlDeviceGetMemoryInfo", "mem_total", &t);
    if (!r)
        r = ull_field(d, "nvmlDeviceGetMemoryInfo", "mem_used", &u);
    if (!r)
        r = ull_field(d, "nvmlDeviceGetMemoryInfo", "mem_free", &f);
    if (!r) {
        m->total = t;
        m->used = u;
        m->free = f;
    }
    return r;
}

nvmlReturn_t
nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    if (m->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    unsigned long long t, u, f, res;
    nvmlReturn_t r = ull_field(d, "nvmlDeviceGetMemoryInfo_v2", "mem_total", &t);
    if (!r)
        r = ull_field(d, "nvmlDeviceGetMemoryInfo_v2", "mem_used", &u);
    if (!r)
        r = ull_field(d, "nvmlDeviceGetMemoryInfo_v2", "mem_free", &f);
    if (!r)
        r = ull_field(d, "nvmlDeviceGetMemoryInfo_v2", "mem_reserved", &res);
    if (!r) {
        m->total = t;
        m->used = u;
        m->free = f;
        m->reserved = res;
    }
    return r;
}

nvmlReturn_t
nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t)
{
    if (sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    return uint_field(d, "nvmlDeviceGetTemperature", "temp", t);
}

nvmlReturn_t
nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    return uint_field(d, "nvmlDeviceGetPowerUsage", "power_mw", mw);
}

nvmlReturn_t
nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw)
{
    return uint_field(d, "nvmlDeviceGetEnforcedPowerLimit", "power_limit_mw", mw);
}

nvmlReturn_t
nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj)
{
    return ull_field(d, "nvmlDeviceGetTotalEnergyConsumption", "energy_mj", mj);
}

nvmlReturn_t
nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
    static const char *const f[] = {"clock_graphics", "clock_sm", "clock_mem", "clock_video"};
    if (type < 0 || type > 3)
        return NVML_ERROR_INVALID_ARGUMENT;
    return uint_field(d, "nvmlDeviceGetClockInfo", f[type], mhz);
}

nvmlReturn_t
nvmlDeviceGetNumFans(nvmlDevice_t d, unsigned int *n)
{
    return uint_field(d, "nvmlDeviceGetNumFans", "fans", n);
}

nvmlReturn_t
nvmlDeviceGetFanSpeed_v2(nvmlDevice_t d, unsigned int fan, unsigned int *pct)
{
    char k[32];
    snprintf(k, sizeof(k), "fan%u", fan);
    return uint_field(d, "nvmlDeviceGetFanSpeed_v2", k, pct);
}

nvmlReturn_t
nvmlDeviceGetFanSpeed(nvmlDevice_t d, unsigned int *pct)
{
    return uint_field(d, "nvmlDeviceGetFanSpeed", "fan0", pct);
}

nvmlReturn_t
nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int etype, int ctype, unsigned long long *n)
{
    char k[64];
    snprintf(k, sizeof(k), "ecc_%s_%s", etype ? "uncorrected" : "corrected",
             ctype ? "aggregate" : "volatile");
    return ull_field(d, "nvmlDeviceGetTotalEccErrors", k, n);
}

nvmlReturn_t
nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *kbps)
{
    return uint_field(d, "nvmlDeviceGetPcieThroughput", counter ? "pcie_rx_kbps" : "pcie_tx_kbps",
                      kbps);
}

nvmlReturn_t
nvmlDeviceGetPerformanceState(nvmlDevice_t d, int *p)
{
    unsigned int v;
    nvmlReturn_t r = uint_field(d, "nvmlDeviceGetPerformanceState", "pstate", &v);
    if (!r)
        *p = (int)v;
    return r;
}

/* procs: "pid:bytes,pid:bytes" ("pid:na" = NVML_VALUE_NOT_AVAILABLE). */
static nvmlReturn_t
procs(nvmlDevice_t d, const char *fn, const char *field, unsigned int *count,
      nvmlProcessInfo_t *infos)
{
    nvmlReturn_t r = pre(d, fn);
    if (r)
        return r;
    const char *v = dget(d, field);
    if (!v)
        return NVML_ERROR_NOT_SUPPORTED;
    unsigned int n = 0;
    nvmlProcessInfo_t tmp[64];
    for (const char *p = v; *p && n < 64;) {
        char *end;
        tmp[n].pid = (unsigned int)strtoul(p, &end, 10);
        tmp[n].usedGpuMemory = *end == ':' && strncmp(end + 1, "na", 2) == 0
                                   ? NVML_VALUE_NOT_AVAILABLE
                                   : strtoull(end + 1, &end, 10);
        tmp[n].gpuInstanceId = tmp[n].computeInstanceId = 0xFFFFFFFFu;
        n++;
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    if (*count < n) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(infos, tmp, n * sizeof(tmp[0]));
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                        nvmlProcessInfo_t *infos)
{
    return procs(d, "nvmlDeviceGetComputeRunningProcesses_v3", "procs", count, infos);
}

nvmlReturn_t
nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                         nvmlProcessInfo_t *infos)
{
    return procs(d, "nvmlDeviceGetGraphicsRunningProcesses_v3", "gprocs", count, infos);
}
