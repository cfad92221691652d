/* gpux_amd.c - amdgpu sysfs backend: discovery of amdgpu cards, identity
 * (PCI slot, unique_id, marketing name), and the utilization, memory, clock,
 * temperature, power, fan and voltage files of the device and its hwmon. */
#include "gpux_amd.h"

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "osp_err.h"
#include "osp_mem.h"
#include "osp_time.h"

#define MAX_CARDS 64

typedef struct amd_card {
    int card;
    char slot[32]; /* PCI address; identity is re-read when it changes */
    gpux_gpu_id id;
    char vbios[64];
    bool seen; /* in the current scan */
    bool lost; /* reported lost (logged once) */
} amd_card;

struct gpux_amd {
    char *root;
    amd_card cards[MAX_CARDS];
    size_t ncards;
    osp_ratelim rl_err;
    osp_ratelim rl_dir;
    /* per cycle */
    gpux_backend_stats *st;
};

/* Built-in names for cards without product_name when libdrm's amdgpu.ids is
 * not installed (containers): device id, revision, name. */
static const struct {
    unsigned dev, rev;
    const char *name;
} builtin_names[] = {
    {0x747e, 0xc8, "AMD Radeon RX 7800 XT"},
    {0x747e, 0xff, "AMD Radeon RX 7700 XT"},
    {0x744c, 0xc8, "AMD Radeon RX 7900 XTX"},
    {0x744c, 0xcc, "AMD Radeon RX 7900 XT"},
};

gpux_amd *
gpux_amd_new(const char *root)
{
    gpux_amd *a = osp_calloc(1, sizeof(*a));
    size_t n = strlen(root ? root : "");
    while (n > 1 && root[n - 1] == '/')
        n--;
    a->root = (n == 1 && root[0] == '/') || n == 0 ? osp_strdup("") : osp_strndup(root, n);
    return a;
}

void
gpux_amd_free(gpux_amd *a)
{
    if (!a)
        return;
    osp_free(a->root);
    osp_free(a);
}

/* fmt_path: format a file path; a path that does not fit becomes "" (which
 * reads as absent) rather than a truncated, wrong one. */
static bool fmt_path(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool
fmt_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = 0;
        return false;
    }
    return true;
}

static void
fail(gpux_amd *a, const char *path, int err)
{
    a->st->errors++;
    uint64_t suppressed = 0;
    if (osp_ratelim_fail(&a->rl_err, osp_now_ms(), &suppressed)) {
        char n[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)suppressed);
        osp_log(OSP_LOG_WARN, "amd", "cannot read an amdgpu sysfs file", "path", path, "error",
                strerror(err), "suppressed", n, NULL);
    }
}

/* rd_u64: true when the value was read; failures are counted. */
static bool
rd_u64(gpux_amd *a, const char *path, uint64_t *v)
{
    gpux_read r = gpux_read_u64(path, v);
    if (r == GPUX_READ_ERROR)
        fail(a, path, errno);
    return r == GPUX_READ_OK;
}

int
gpux_amd_parse_dpm(const char *text, double *hz)
{
    const char *line = text;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (memchr(line, '*', len)) {
            const char *p = memchr(line, ':', len);
            if (!p)
                return OSP_EPARSE;
            p++;
            while (*p == ' ')
                p++;
            char *end;
            double v = strtod(p, &end);
            if (end == p)
                return OSP_EPARSE;
            double mul = 1e6; /* "Mhz" is what amdgpu prints */
            if (strncasecmp(end, "ghz", 3) == 0)
                mul = 1e9;
            else if (strncasecmp(end, "khz", 3) == 0)
                mul = 1e3;
            else if (strncasecmp(end, "hz", 2) == 0)
                mul = 1;
            *hz = v * mul;
            return 0;
        }
        line = eol ? eol + 1 : NULL;
    }
    return OSP_ENOTFOUND;
}

static const char *
uevent_get(const char *uevent, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = uevent; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            snprintf(out, cap, "%.*s", (int)(len - kl - 1), p + kl + 1);
            return out;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* ids_lookup: libdrm's amdgpu.ids ("747E,\tC8,\tAMD Radeon RX 7800 XT"). */
static bool
ids_lookup(const char *root, unsigned dev, unsigned rev, char *out, size_t cap)
{
    char path[4096];
    fmt_path(path, sizeof(path), "%s/usr/share/libdrm/amdgpu.ids", root);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned d, r;
        int off = 0;
        if (line[0] == '#' || sscanf(line, "%x,%x,%n", &d, &r, &off) != 2 || off == 0)
            continue;
        if (d == dev && r == rev) {
            const char *p = line + off;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strcspn(p, "\r\n");
            snprintf(out, cap, "%.*s", (int)n, p);
            found = n > 0;
        }
    }
    fclose(f);
    return found;
}

static void
identify(gpux_amd *a, amd_card *c, const char *dev, const char *slot)
{
    char path[4096];
    memset(&c->id, 0, sizeof(c->id));
    c->id.vendor = "amd";
    snprintf(c->id.gpu, sizeof(c->id.gpu), "%d", c->card);
    snprintf(c->slot, sizeof(c->slot), "%s", slot);
    fmt_path(path, sizeof(path), "%s/unique_id", dev);
    if (gpux_read_file(path, c->id.uuid, sizeof(c->id.uuid)) != GPUX_READ_OK || !c->id.uuid[0])
        snprintf(c->id.uuid, sizeof(c->id.uuid), "%s", slot);
    fmt_path(path, sizeof(path), "%s/product_name", dev);
    if (gpux_read_file(path, c->id.name, sizeof(c->id.name)) != GPUX_READ_OK || !c->id.name[0]) {
        uint64_t did = 0, rev = 0;
        fmt_path(path, sizeof(path), "%s/device", dev);
        (void)gpux_read_u64(path, &did);
        fmt_path(path, sizeof(path), "%s/revision", dev);
        (void)gpux_read_u64(path, &rev);
        bool named =
            ids_lookup(a->root, (unsigned)did, (unsigned)rev, c->id.name, sizeof(c->id.name));
        for (size_t i = 0; !named && i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++) {
            if (builtin_names[i].dev == did && builtin_names[i].rev == rev) {
                snprintf(c->id.name, sizeof(c->id.name), "%s", builtin_names[i].name);
                named = true;
            }
        }
        if (!named)
            snprintf(c->id.name, sizeof(c->id.name), "AMD GPU 1002:%04x", (unsigned)did);
    }
    fmt_path(path, sizeof(path), "%s/vbios_version", dev);
    if (gpux_read_file(path, c->vbios, sizeof(c->vbios)) != GPUX_READ_OK)
        c->vbios[0] = 0;
}

static amd_card *
card_slot(gpux_amd *a, int card)
{
    for (size_t i = 0; i < a->ncards; i++)
        if (a->cards[i].card == card)
            return &a->cards[i];
    if (a->ncards == MAX_CARDS)
        return NULL;
    amd_card *c = &a->cards[a->ncards++];
    memset(c, 0, sizeof(*c));
    c->card = card;
    return c;
}

static void
hwmon_collect(gpux_amd *a, amd_card *c, const char *hw, gpux_snap *s)
{
    const gpux_gpu_id *id = &c->id;
    char path[4096], label[64];
    uint64_t v;
    int64_t iv;
    for (int i = 1; i <= 8; i++) {
        fmt_path(path, sizeof(path), "%s/temp%d_input", hw, i);
        gpux_read r = gpux_read_i64(path, &iv);
        if (r == GPUX_READ_ABSENT)
            break; /* hwmon numbers channels from 1 without gaps */
        if (r == GPUX_READ_ERROR) {
            fail(a, path, errno);
            continue;
        }
        fmt_path(path, sizeof(path), "%s/temp%d_label", hw, i);
        if (gpux_read_file(path, label, sizeof(label)) != GPUX_READ_OK || !label[0])
            snprintf(label, sizeof(label), "temp%d", i);
        gpux_snap_add(s, GPUX_M_TEMP, id, (double)iv / 1000.0, "sensor", label, NULL);
        fmt_path(path, sizeof(path), "%s/temp%d_crit", hw, i);
        if (gpux_read_i64(path, &iv) == GPUX_READ_OK)
            gpux_snap_add(s, GPUX_M_TEMP_CRIT, id, (double)iv / 1000.0, "sensor", label, NULL);
    }
    /* power1_average is the driver's average; newer ASICs only have power1_input. */
    fmt_path(path, sizeof(path), "%s/power1_average", hw);
    bool have = rd_u64(a, path, &v);
    if (!have) {
        fmt_path(path, sizeof(path), "%s/power1_input", hw);
        have = rd_u64(a, path, &v);
    }
    if (have)
        gpux_snap_add(s, GPUX_M_POWER, id, (double)v / 1e6, NULL);
    fmt_path(path, sizeof(path), "%s/power1_cap", hw);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_POWER_LIMIT, id, (double)v / 1e6, NULL);
    fmt_path(path, sizeof(path), "%s/fan1_input", hw);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_FAN_RPM, id, (double)v, "fan", "0", NULL);
    fmt_path(path, sizeof(path), "%s/pwm1", hw);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_FAN_PCT, id, (double)v * 100.0 / 255.0, "fan", "0", NULL);
    for (int i = 0; i <= 3; i++) {
        fmt_path(path, sizeof(path), "%s/in%d_input", hw, i);
        gpux_read r = gpux_read_u64(path, &v);
        if (r == GPUX_READ_ABSENT)
            break;
        if (r == GPUX_READ_ERROR) {
            fail(a, path, errno);
            continue;
        }
        fmt_path(path, sizeof(path), "%s/in%d_label", hw, i);
        if (gpux_read_file(path, label, sizeof(label)) != GPUX_READ_OK || !label[0])
            snprintf(label, sizeof(label), "in%d", i);
        gpux_snap_add(s, GPUX_M_VOLTAGE, id, (double)v / 1000.0, "sensor", label, NULL);
    }
}

/* find_hwmon: the first hwmon<M> directory under dev/hwmon. */
static bool
find_hwmon(const char *dev, char *out, size_t cap)
{
    char path[4096];
    fmt_path(path, sizeof(path), "%s/hwmon", dev);
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "hwmon", 5) == 0 && isdigit((unsigned char)e->d_name[5])) {
            found = fmt_path(out, cap, "%s/%s", path, e->d_name);
        }
    }
    closedir(d);
    return found;
}

static void
clock_collect(gpux_amd *a, const char *dev, const char *hw, const char *file, const char *hwlabel,
              const char *clock, const gpux_gpu_id *id, gpux_snap *s)
{
    char path[4096], buf[1024];
    double hz;
    fmt_path(path, sizeof(path), "%s/%s", dev, file);
    gpux_read r = gpux_read_file(path, buf, sizeof(buf));
    if (r == GPUX_READ_OK) {
        int rc = gpux_amd_parse_dpm(buf, &hz);
        if (rc == 0)
            gpux_snap_add(s, GPUX_M_CLOCK, id, hz, "clock", clock, NULL);
        else if (rc == OSP_EPARSE)
            fail(a, path, EBADMSG);
        return;
    }
    if (r == GPUX_READ_ERROR) {
        fail(a, path, errno);
        return;
    }
    /* no pp_dpm file: hwmon freqN_input (Hz) with the matching label */
    for (int i = 1; hw && i <= 2; i++) {
        fmt_path(path, sizeof(path), "%s/freq%d_label", hw, i);
        if (gpux_read_file(path, buf, sizeof(buf)) != GPUX_READ_OK || strcmp(buf, hwlabel) != 0)
            continue;
        uint64_t v;
        fmt_path(path, sizeof(path), "%s/freq%d_input", hw, i);
        if (rd_u64(a, path, &v))
            gpux_snap_add(s, GPUX_M_CLOCK, id, (double)v, "clock", clock, NULL);
    }
}

static void
card_collect(gpux_amd *a, amd_card *c, const char *dev, gpux_snap *s)
{
    const gpux_gpu_id *id = &c->id;
    char path[4096], hw[4096];
    uint64_t v, total = 0, used = 0;
    bool have_total = false, have_used = false;
    gpux_snap_add(s, GPUX_M_GPU_UP, id, 1, NULL);
    gpux_snap_add(s, GPUX_M_INFO, id, 1, "pci_bus_id", c->slot, "driver", "amdgpu", "vbios_version",
                  c->vbios, NULL);
    fmt_path(path, sizeof(path), "%s/gpu_busy_percent", dev);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_UTIL, id, (double)v, NULL);
    fmt_path(path, sizeof(path), "%s/mem_busy_percent", dev);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_MEM_UTIL, id, (double)v, NULL);
    fmt_path(path, sizeof(path), "%s/mem_info_vram_used", dev);
    if ((have_used = rd_u64(a, path, &used)))
        gpux_snap_add(s, GPUX_M_MEM_USED, id, (double)used, NULL);
    fmt_path(path, sizeof(path), "%s/mem_info_vram_total", dev);
    if ((have_total = rd_u64(a, path, &total)))
        gpux_snap_add(s, GPUX_M_MEM_TOTAL, id, (double)total, NULL);
    if (have_used && have_total)
        gpux_snap_add(s, GPUX_M_MEM_FREE, id, total >= used ? (double)(total - used) : 0, NULL);
    fmt_path(path, sizeof(path), "%s/mem_info_gtt_used", dev);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_GTT_USED, id, (double)v, NULL);
    fmt_path(path, sizeof(path), "%s/mem_info_gtt_total", dev);
    if (rd_u64(a, path, &v))
        gpux_snap_add(s, GPUX_M_GTT_TOTAL, id, (double)v, NULL);
    bool have_hw = find_hwmon(dev, hw, sizeof(hw));
    clock_collect(a, dev, have_hw ? hw : NULL, "pp_dpm_sclk", "sclk", "graphics", id, s);
    clock_collect(a, dev, have_hw ? hw : NULL, "pp_dpm_mclk", "mclk", "memory", id, s);
    if (have_hw)
        hwmon_collect(a, c, hw, s);
}

/* is_amdgpu: vendor 0x1002 and bound to the amdgpu driver; *slot gets the
 * PCI address (from uevent, else the device link's name). */
static bool
is_amdgpu(const char *dev, char *slot, size_t cap)
{
    char path[4096], buf[1024], drv[64] = "", tmp[4096];
    uint64_t vendor = 0;
    fmt_path(path, sizeof(path), "%s/vendor", dev);
    if (gpux_read_u64(path, &vendor) != GPUX_READ_OK || vendor != 0x1002)
        return false;
    slot[0] = 0;
    fmt_path(path, sizeof(path), "%s/uevent", dev);
    if (gpux_read_file(path, buf, sizeof(buf)) == GPUX_READ_OK) {
        uevent_get(buf, "DRIVER", drv, sizeof(drv));
        uevent_get(buf, "PCI_SLOT_NAME", slot, cap);
    }
    if (!drv[0]) {
        fmt_path(path, sizeof(path), "%s/driver", dev);
        ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
        if (n > 0) {
            tmp[n] = 0;
            const char *b = strrchr(tmp, '/');
            fmt_path(drv, sizeof(drv), "%s", b ? b + 1 : tmp);
        }
    }
    if (!slot[0]) {
        ssize_t n = readlink(dev, tmp, sizeof(tmp) - 1);
        if (n > 0) {
            tmp[n] = 0;
            const char *b = strrchr(tmp, '/');
            fmt_path(slot, cap, "%s", b ? b + 1 : tmp);
        }
    }
    return strcmp(drv, "amdgpu") == 0;
}

static int
card_number(const char *name)
{
    if (strncmp(name, "card", 4) != 0 || !name[4])
        return -1;
    int n = 0;
    for (const char *p = name + 4; *p; p++) {
        if (!isdigit((unsigned char)*p) || n > 100000)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

static int
cmp_card(const void *x, const void *y)
{
    return ((const amd_card *)x)->card - ((const amd_card *)y)->card;
}

void
gpux_amd_collect(gpux_amd *a, gpux_snap *s, gpux_backend_stats *st)
{
    memset(st, 0, sizeof(*st));
    a->st = st;
    char drm[4096];
    fmt_path(drm, sizeof(drm), "%s/sys/class/drm", a->root);
    DIR *d = opendir(drm);
    if (!d) {
        int err = errno;
        uint64_t sup = 0;
        if (osp_ratelim_fail(&a->rl_dir, osp_now_ms(), &sup))
            osp_log(OSP_LOG_WARN, "amd", "cannot list DRM devices; AMD GPUs are not collected",
                    "path", drm, "error", strerror(err), NULL);
    } else {
        if (osp_ratelim_ok(&a->rl_dir))
            osp_log(OSP_LOG_INFO, "amd", "DRM devices readable again", "path", drm, NULL);
        st->available = true;
    }
    for (size_t i = 0; i < a->ncards; i++)
        a->cards[i].seen = false;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        int n = card_number(e->d_name);
        if (n < 0)
            continue;
        char dev[4096], slot[32];
        fmt_path(dev, sizeof(dev), "%s/%s/device", drm, e->d_name);
        if (!is_amdgpu(dev, slot, sizeof(slot)))
            continue;
        amd_card *c = card_slot(a, n);
        if (!c)
            continue;
        if (!c->id.vendor || strcmp(c->slot, slot) != 0)
            identify(a, c, dev, slot);
        c->seen = true;
    }
    if (d)
        closedir(d);
    osp_qsort(a->cards, a->ncards, sizeof(a->cards[0]), cmp_card);
    for (size_t i = 0; i < a->ncards; i++) {
        amd_card *c = &a->cards[i];
        st->gpus++;
        if (!c->seen) {
            st->lost++;
            gpux_snap_add(s, GPUX_M_GPU_UP, &c->id, 0, NULL);
            if (!c->lost)
                osp_log(OSP_LOG_ERROR, "amd", "GPU disappeared", "gpu", c->id.gpu, "uuid",
                        c->id.uuid, "name", c->id.name, NULL);
            c->lost = true;
            continue;
        }
        if (c->lost)
            osp_log(OSP_LOG_INFO, "amd", "GPU is back", "gpu", c->id.gpu, "uuid", c->id.uuid, NULL);
        c->lost = false;
        char link[4096], dev[PATH_MAX];
        fmt_path(link, sizeof(link), "%s/card%d/device", drm, c->card);
        /* resolve the class/drm -> devices symlinks once, not on every open */
        if (!realpath(link, dev))
            fmt_path(dev, sizeof(dev), "%s", link);
        card_collect(a, c, dev, s);
    }
    if (st->errors == 0 && osp_ratelim_ok(&a->rl_err))
        osp_log(OSP_LOG_INFO, "amd", "amdgpu sysfs files readable again", NULL);
    a->st = NULL;
}
