/* gpux_nvml.c - NVML backend: dlopen/dlsym with versioned-name fallbacks,
 * per-device queries with NVML's unit conversions at the edge (mW, mJ, MHz,
 * KB/s), "not supported" skipped, lost GPUs reported, errors rate-limited. */
#include "gpux_nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "gpux_nvml_api.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

#define MAX_DEVS 64
#define PROC_STACK 64

typedef struct nvml_api {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    const char *(*error_string)(nvmlReturn_t);
    nvmlReturn_t (*driver_version)(char *, unsigned int);
    nvmlReturn_t (*count)(unsigned int *);
    nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*pci)(nvmlDevice_t, nvmlPciInfo_t *);
    nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t *);
    nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*mem_v2)(nvmlDevice_t, nvmlMemory_v2_t *);
    nvmlReturn_t (*temp)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*power_mgmt_limit)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*num_fans)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*fan_v2)(nvmlDevice_t, unsigned int, unsigned int *);
    nvmlReturn_t (*fan)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*ecc)(nvmlDevice_t, int, int, unsigned long long *);
    nvmlReturn_t (*pcie)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*pstate)(nvmlDevice_t, int *);
    nvmlReturn_t (*compute_procs)(nvmlDevice_t, unsigned int *, void *);
    nvmlReturn_t (*graphics_procs)(nvmlDevice_t, unsigned int *, void *);
    bool procs_v1; /* the process queries are the unversioned ones (16-byte elements) */
} nvml_api;

typedef struct nv_dev {
    gpux_gpu_id id;
    bool known;
    bool lost;
} nv_dev;

struct gpux_nvml {
    char *lib_path;
    char *root;
    bool pcie, processes;
    void *lib;
    nvml_api api;
    bool inited;
    char driver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    nv_dev devs[MAX_DEVS];
    osp_ratelim rl_load, rl_err;
    /* per device while collecting */
    gpux_backend_stats *st;
    bool cur_lost;
};

gpux_nvml *
gpux_nvml_new(const gpux_nvml_opts *o)
{
    gpux_nvml *n = osp_calloc(1, sizeof(*n));
    n->lib_path = osp_strdup(o->lib && *o->lib ? o->lib : "libnvidia-ml.so.1");
    size_t rl = strlen(o->root ? o->root : "");
    while (rl > 0 && o->root[rl - 1] == '/')
        rl--;
    n->root = osp_strndup(o->root ? o->root : "", rl);
    n->pcie = o->pcie;
    n->processes = o->processes;
    return n;
}

void
gpux_nvml_set_options(gpux_nvml *n, bool pcie, bool processes)
{
    n->pcie = pcie;
    n->processes = processes;
}

static void *
sym(void *lib, const char *a, const char *b, const char *c)
{
    void *p = dlsym(lib, a);
    if (!p && b)
        p = dlsym(lib, b);
    if (!p && c)
        p = dlsym(lib, c);
    return p;
}

#define LOAD(field, ...) (n->api.field = (__typeof__(n->api.field))sym(n->lib, __VA_ARGS__))

static const char *
err_str(gpux_nvml *n, nvmlReturn_t r)
{
    if (n->api.error_string) {
        const char *s = n->api.error_string(r);
        if (s)
            return s;
    }
    switch (r) {
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

static bool
load(gpux_nvml *n)
{
    dlerror();
    n->lib = dlopen(n->lib_path, RTLD_LAZY | RTLD_LOCAL);
    if (!n->lib) {
        const char *why = dlerror();
        uint64_t sup = 0;
        if (osp_ratelim_fail(&n->rl_load, osp_now_ms(), &sup))
            osp_log(OSP_LOG_WARN, "nvml",
                    "NVML library not available; NVIDIA GPUs are not collected", "lib", n->lib_path,
                    "error", why ? why : "dlopen failed", NULL);
        return false;
    }
    memset(&n->api, 0, sizeof(n->api));
    LOAD(init, "nvmlInit_v2", "nvmlInit", NULL);
    LOAD(shutdown, "nvmlShutdown", NULL, NULL);
    LOAD(count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount", NULL);
    LOAD(handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex", NULL);
    if (!n->api.init || !n->api.count || !n->api.handle) {
        uint64_t sup = 0;
        if (osp_ratelim_fail(&n->rl_load, osp_now_ms(), &sup))
            osp_log(OSP_LOG_ERROR, "nvml",
                    "library lacks nvmlInit/nvmlDeviceGetCount/GetHandleByIndex", "lib",
                    n->lib_path, NULL);
        dlclose(n->lib);
        n->lib = NULL;
        return false;
    }
    LOAD(error_string, "nvmlErrorString", NULL, NULL);
    LOAD(driver_version, "nvmlSystemGetDriverVersion", NULL, NULL);
    LOAD(name, "nvmlDeviceGetName", NULL, NULL);
    LOAD(uuid, "nvmlDeviceGetUUID", NULL, NULL);
    LOAD(pci, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo");
    LOAD(util, "nvmlDeviceGetUtilizationRates", NULL, NULL);
    LOAD(mem, "nvmlDeviceGetMemoryInfo", NULL, NULL);
    LOAD(mem_v2, "nvmlDeviceGetMemoryInfo_v2", NULL, NULL);
    LOAD(temp, "nvmlDeviceGetTemperature", NULL, NULL);
    LOAD(power, "nvmlDeviceGetPowerUsage", NULL, NULL);
    LOAD(power_limit, "nvmlDeviceGetEnforcedPowerLimit", NULL, NULL);
    LOAD(power_mgmt_limit, "nvmlDeviceGetPowerManagementLimit", NULL, NULL);
    LOAD(energy, "nvmlDeviceGetTotalEnergyConsumption", NULL, NULL);
    LOAD(clock, "nvmlDeviceGetClockInfo", NULL, NULL);
    LOAD(num_fans, "nvmlDeviceGetNumFans", NULL, NULL);
    LOAD(fan_v2, "nvmlDeviceGetFanSpeed_v2", NULL, NULL);
    LOAD(fan, "nvmlDeviceGetFanSpeed", NULL, NULL);
    LOAD(ecc, "nvmlDeviceGetTotalEccErrors", NULL, NULL);
    LOAD(pcie, "nvmlDeviceGetPcieThroughput", NULL, NULL);
    LOAD(pstate, "nvmlDeviceGetPerformanceState", NULL, NULL);
    LOAD(compute_procs, "nvmlDeviceGetComputeRunningProcesses_v3",
         "nvmlDeviceGetComputeRunningProcesses_v2", NULL);
    LOAD(graphics_procs, "nvmlDeviceGetGraphicsRunningProcesses_v3",
         "nvmlDeviceGetGraphicsRunningProcesses_v2", NULL);
    if (!n->api.compute_procs && !n->api.graphics_procs) {
        LOAD(compute_procs, "nvmlDeviceGetComputeRunningProcesses", NULL, NULL);
        LOAD(graphics_procs, "nvmlDeviceGetGraphicsRunningProcesses", NULL, NULL);
        n->api.procs_v1 = true;
    }
    if (osp_ratelim_ok(&n->rl_load))
        osp_log(OSP_LOG_INFO, "nvml", "NVML library loaded", "lib", n->lib_path, NULL);
    return true;
}

/* ok: classify an NVML return of the current device: true on success; "not
 * supported" and friends are silent; a lost GPU marks the device; anything
 * else is counted and logged (rate-limited). */
static bool
ok(gpux_nvml *n, nvmlReturn_t r, const char *what, const gpux_gpu_id *id)
{
    if (r == NVML_SUCCESS)
        return true;
    if (r == NVML_ERROR_NOT_SUPPORTED || r == NVML_ERROR_FUNCTION_NOT_FOUND ||
        r == NVML_ERROR_NO_PERMISSION || r == NVML_ERROR_NOT_FOUND)
        return false;
    if (r == NVML_ERROR_GPU_IS_LOST) {
        n->cur_lost = true;
        return false;
    }
    if (r == NVML_ERROR_UNINITIALIZED)
        n->inited = false;
    n->st->errors++;
    uint64_t sup = 0;
    if (osp_ratelim_fail(&n->rl_err, osp_now_ms(), &sup)) {
        char code[16], s[24];
        snprintf(code, sizeof(code), "%d", r);
        snprintf(s, sizeof(s), "%llu", (unsigned long long)sup);
        osp_log(OSP_LOG_WARN, "nvml", "NVML call failed", "call", what, "gpu", id ? id->gpu : "",
                "code", code, "error", err_str(n, r), "suppressed", s, NULL);
    }
    return false;
}

#define CALL(fn, what, ...) (n->api.fn && !n->cur_lost && ok(n, n->api.fn(__VA_ARGS__), what, id))

static void
proc_name(gpux_nvml *n, unsigned int pid, char *out, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/proc/%u/comm", n->root, pid);
    if (gpux_read_file(path, out, cap) != GPUX_READ_OK)
        out[0] = 0;
}

static void
procs_collect(gpux_nvml *n, nvmlDevice_t dev, const gpux_gpu_id *id, bool compute, gpux_snap *s)
{
    nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int *, void *) =
        compute ? n->api.compute_procs : n->api.graphics_procs;
    if (!fn || n->cur_lost)
        return;
    size_t esz = n->api.procs_v1 ? sizeof(nvmlProcessInfo_v1_t) : sizeof(nvmlProcessInfo_t);
    nvmlProcessInfo_t stackbuf[PROC_STACK];
    void *buf = stackbuf;
    unsigned int cnt = PROC_STACK;
    nvmlReturn_t r = fn(dev, &cnt, buf);
    if (r == NVML_ERROR_INSUFFICIENT_SIZE && cnt > 0 && cnt < 1u << 20) {
        cnt += 16;
        buf = osp_calloc(cnt, esz);
        r = fn(dev, &cnt, buf);
    }
    if (ok(n, r,
           compute ? "nvmlDeviceGetComputeRunningProcesses"
                   : "nvmlDeviceGetGraphicsRunningProcesses",
           id)) {
        for (unsigned int i = 0; i < cnt; i++) {
            unsigned int pid;
            unsigned long long used;
            if (n->api.procs_v1) {
                const nvmlProcessInfo_v1_t *p = (const nvmlProcessInfo_v1_t *)buf + i;
                pid = p->pid;
                used = p->usedGpuMemory;
            } else {
                const nvmlProcessInfo_t *p = (const nvmlProcessInfo_t *)buf + i;
                pid = p->pid;
                used = p->usedGpuMemory;
            }
            if (used == NVML_VALUE_NOT_AVAILABLE)
                continue;
            char spid[16], comm[64];
            snprintf(spid, sizeof(spid), "%u", pid);
            proc_name(n, pid, comm, sizeof(comm));
            gpux_snap_add(s, GPUX_M_PROC_MEM, id, (double)used, "pid", spid, "process", comm,
                          "type", compute ? "compute" : "graphics", NULL);
        }
    }
    if (buf != stackbuf)
        osp_free(buf);
}

static void
memory_collect(gpux_nvml *n, nvmlDevice_t dev, const gpux_gpu_id *id, gpux_snap *s)
{
    if (n->api.mem_v2 && !n->cur_lost) {
        nvmlMemory_v2_t m;
        memset(&m, 0, sizeof(m));
        m.version = nvmlMemory_v2;
        nvmlReturn_t r = n->api.mem_v2(dev, &m);
        if (r == NVML_SUCCESS) {
            gpux_snap_add(s, GPUX_M_MEM_USED, id, (double)m.used, NULL);
            gpux_snap_add(s, GPUX_M_MEM_TOTAL, id, (double)m.total, NULL);
            gpux_snap_add(s, GPUX_M_MEM_FREE, id, (double)m.free, NULL);
            gpux_snap_add(s, GPUX_M_MEM_RESERVED, id, (double)m.reserved, NULL);
            return;
        }
        if (r == NVML_ERROR_GPU_IS_LOST) {
            n->cur_lost = true;
            return;
        }
        /* older driver or version mismatch: fall back to v1 */
    }
    nvmlMemory_t m;
    if (CALL(mem, "nvmlDeviceGetMemoryInfo", dev, &m)) {
        gpux_snap_add(s, GPUX_M_MEM_USED, id, (double)m.used, NULL);
        gpux_snap_add(s, GPUX_M_MEM_TOTAL, id, (double)m.total, NULL);
        gpux_snap_add(s, GPUX_M_MEM_FREE, id, (double)m.free, NULL);
    }
}

static void
device_collect(gpux_nvml *n, nvmlDevice_t dev, const gpux_gpu_id *id, gpux_snap *s)
{
    unsigned int u;
    unsigned long long ull;
    nvmlPciInfo_t pci_info[4]; /* room for a newer, larger struct */
    char bus[64] = "";
    memset(pci_info, 0, sizeof(pci_info));
    if (CALL(pci, "nvmlDeviceGetPciInfo", dev, pci_info))
        snprintf(bus, sizeof(bus), "%.*s", (int)sizeof(pci_info[0].busId), pci_info[0].busId);
    gpux_snap_add(s, GPUX_M_GPU_UP, id, 1, NULL);
    gpux_snap_add(s, GPUX_M_INFO, id, 1, "pci_bus_id", bus, "driver", "nvidia", "driver_version",
                  n->driver, NULL);
    nvmlUtilization_t ut;
    if (CALL(util, "nvmlDeviceGetUtilizationRates", dev, &ut)) {
        gpux_snap_add(s, GPUX_M_UTIL, id, ut.gpu, NULL);
        gpux_snap_add(s, GPUX_M_MEM_UTIL, id, ut.memory, NULL);
    }
    memory_collect(n, dev, id, s);
    if (CALL(temp, "nvmlDeviceGetTemperature", dev, NVML_TEMPERATURE_GPU, &u))
        gpux_snap_add(s, GPUX_M_TEMP, id, u, "sensor", "gpu", NULL);
    if (CALL(power, "nvmlDeviceGetPowerUsage", dev, &u))
        gpux_snap_add(s, GPUX_M_POWER, id, u / 1000.0, NULL);
    if (CALL(power_limit, "nvmlDeviceGetEnforcedPowerLimit", dev, &u) ||
        (!n->api.power_limit &&
         CALL(power_mgmt_limit, "nvmlDeviceGetPowerManagementLimit", dev, &u)))
        gpux_snap_add(s, GPUX_M_POWER_LIMIT, id, u / 1000.0, NULL);
    if (CALL(energy, "nvmlDeviceGetTotalEnergyConsumption", dev, &ull))
        gpux_snap_add(s, GPUX_M_ENERGY, id, (double)ull / 1000.0, NULL);
    static const struct {
        int type;
        const char *label;
    } clocks[] = {
        {NVML_CLOCK_GRAPHICS, "graphics"}, {NVML_CLOCK_SM, "sm"}, {NVML_CLOCK_MEM, "memory"}};
    for (size_t i = 0; i < 3; i++)
        if (CALL(clock, "nvmlDeviceGetClockInfo", dev, clocks[i].type, &u))
            gpux_snap_add(s, GPUX_M_CLOCK, id, u * 1e6, "clock", clocks[i].label, NULL);
    unsigned int nf = 0;
    if (n->api.num_fans && n->api.fan_v2) {
        if (CALL(num_fans, "nvmlDeviceGetNumFans", dev, &nf)) {
            for (unsigned int f = 0; f < nf && f < 32; f++) {
                char fl[12];
                snprintf(fl, sizeof(fl), "%u", f);
                if (CALL(fan_v2, "nvmlDeviceGetFanSpeed_v2", dev, f, &u))
                    gpux_snap_add(s, GPUX_M_FAN_PCT, id, u, "fan", fl, NULL);
            }
        }
    } else if (CALL(fan, "nvmlDeviceGetFanSpeed", dev, &u)) {
        gpux_snap_add(s, GPUX_M_FAN_PCT, id, u, "fan", "0", NULL);
    }
    static const char *const etype[] = {"corrected", "uncorrected"};
    static const char *const ecnt[] = {"volatile", "aggregate"};
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 2; c++)
            if (CALL(ecc, "nvmlDeviceGetTotalEccErrors", dev, t, c, &ull))
                gpux_snap_add(s, GPUX_M_ECC, id, (double)ull, "type", etype[t], "counter", ecnt[c],
                              NULL);
    int ps;
    if (CALL(pstate, "nvmlDeviceGetPerformanceState", dev, &ps) && ps >= 0 && ps <= 15)
        gpux_snap_add(s, GPUX_M_PSTATE, id, ps, NULL);
    if (n->pcie) {
        if (CALL(pcie, "nvmlDeviceGetPcieThroughput", dev, NVML_PCIE_UTIL_TX_BYTES, &u))
            gpux_snap_add(s, GPUX_M_PCIE, id, u * 1024.0, "direction", "tx", NULL);
        if (CALL(pcie, "nvmlDeviceGetPcieThroughput", dev, NVML_PCIE_UTIL_RX_BYTES, &u))
            gpux_snap_add(s, GPUX_M_PCIE, id, u * 1024.0, "direction", "rx", NULL);
    }
    if (n->processes) {
        procs_collect(n, dev, id, true, s);
        procs_collect(n, dev, id, false, s);
    }
}

static bool
init(gpux_nvml *n)
{
    if (!n->lib && !load(n))
        return false;
    if (n->inited)
        return true;
    nvmlReturn_t r = n->api.init();
    if (r != NVML_SUCCESS) {
        uint64_t sup = 0;
        if (osp_ratelim_fail(&n->rl_load, osp_now_ms(), &sup)) {
            char code[16];
            snprintf(code, sizeof(code), "%d", r);
            osp_log(OSP_LOG_WARN, "nvml", "nvmlInit failed; NVIDIA GPUs are not collected", "code",
                    code, "error", err_str(n, r), NULL);
        }
        return false;
    }
    n->inited = true;
    n->driver[0] = 0;
    if (n->api.driver_version &&
        n->api.driver_version(n->driver, sizeof(n->driver)) != NVML_SUCCESS)
        n->driver[0] = 0;
    if (osp_ratelim_ok(&n->rl_load))
        osp_log(OSP_LOG_INFO, "nvml", "NVML initialised", "driver_version", n->driver, NULL);
    return true;
}

static void
identify(gpux_nvml *n, nvmlDevice_t dev, unsigned int idx, nv_dev *d)
{
    const gpux_gpu_id *id = &d->id; /* for CALL's logging */
    char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE + 32];
    d->id.vendor = "nvidia";
    snprintf(d->id.gpu, sizeof(d->id.gpu), "%u", idx);
    if (CALL(uuid, "nvmlDeviceGetUUID", dev, buf, NVML_DEVICE_UUID_V2_BUFFER_SIZE)) {
        buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE - 1] = 0;
        snprintf(d->id.uuid, sizeof(d->id.uuid), "%s", buf);
    }
    if (CALL(name, "nvmlDeviceGetName", dev, buf, NVML_DEVICE_NAME_V2_BUFFER_SIZE)) {
        buf[NVML_DEVICE_NAME_V2_BUFFER_SIZE - 1] = 0;
        snprintf(d->id.name, sizeof(d->id.name), "%s", buf);
    }
    if (!n->cur_lost)
        d->known = true;
}

void
gpux_nvml_collect(gpux_nvml *n, gpux_snap *s, gpux_backend_stats *st)
{
    memset(st, 0, sizeof(*st));
    n->st = st;
    if (!init(n))
        goto out;
    st->available = true;
    unsigned int cnt = 0;
    n->cur_lost = false;
    const gpux_gpu_id *id = NULL;
    if (!CALL(count, "nvmlDeviceGetCount", &cnt))
        goto out;
    if (cnt > MAX_DEVS)
        cnt = MAX_DEVS;
    st->gpus = cnt;
    for (unsigned int i = 0; i < cnt; i++) {
        nv_dev *d = &n->devs[i];
        n->cur_lost = false;
        size_t mark = s->n;
        nvmlDevice_t dev = NULL;
        id = &d->id;
        if (!d->known) {
            d->id.vendor = "nvidia";
            snprintf(d->id.gpu, sizeof(d->id.gpu), "%u", i);
        }
        if (CALL(handle, "nvmlDeviceGetHandleByIndex", i, &dev)) {
            identify(n, dev, i, d);
            device_collect(n, dev, &d->id, s);
        } else if (!n->cur_lost) {
            /* a failed handle lookup (not lost) gets no series but the error */
            continue;
        }
        if (n->cur_lost) {
            gpux_snap_truncate(s, mark);
            gpux_snap_add(s, GPUX_M_GPU_UP, &d->id, 0, NULL);
            st->lost++;
            if (!d->lost)
                osp_log(OSP_LOG_ERROR, "nvml", "GPU is lost (NVML_ERROR_GPU_IS_LOST)", "gpu",
                        d->id.gpu, "uuid", d->id.uuid, "name", d->id.name, NULL);
            d->lost = true;
        } else if (d->lost) {
            osp_log(OSP_LOG_INFO, "nvml", "GPU answers again", "gpu", d->id.gpu, "uuid", d->id.uuid,
                    NULL);
            d->lost = false;
        }
    }
    n->cur_lost = false;
out:
    if (st->available && st->errors == 0 && osp_ratelim_ok(&n->rl_err))
        osp_log(OSP_LOG_INFO, "nvml", "NVML calls succeed again", NULL);
    n->st = NULL;
}

void
gpux_nvml_free(gpux_nvml *n)
{
    if (!n)
        return;
    if (n->inited && n->api.shutdown)
        n->api.shutdown();
    if (n->lib)
        dlclose(n->lib);
    osp_free(n->lib_path);
    osp_free(n->root);
    osp_free(n);
}
