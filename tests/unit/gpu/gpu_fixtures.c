/* gpu_fixtures.c - builds fake amdgpu sysfs trees (see gpu_fixtures.h). */
#include "gpu_fixtures.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
mkparents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
                abort();
            }
            *p = '/';
        }
    }
}

void
fx_mkdir(const char *root, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/", root, rel);
    mkparents(path);
}

void
fx_write(const char *root, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkparents(path);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "write %s: %s\n", path, strerror(errno));
        abort();
    }
    fputs(text, f);
    fclose(f);
}

void
fx_symlink(const char *root, const char *rel, const char *target)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    mkparents(path);
    if (symlink(target, path) != 0) {
        fprintf(stderr, "symlink %s: %s\n", path, strerror(errno));
        abort();
    }
}

void
fx_rx7800xt(const char *root, int card, const char *slot)
{
    char dev[512], rel[1024], buf[1024];
    /* /sys/devices/pci0000:00/0000:00:01.1/<slot> with drm/cardN inside */
    snprintf(dev, sizeof(dev), "sys/devices/pci0000:00/0000:00:01.1/%s", slot);
#define W(name, text)                                                                              \
    do {                                                                                           \
        snprintf(rel, sizeof(rel), "%s/%s", dev, name);                                            \
        fx_write(root, rel, text);                                                                 \
    } while (0)
    W("vendor", "0x1002\n");
    W("device", "0x747e\n");
    W("revision", "0xc8\n");
    W("subsystem_vendor", "0x1da2\n");
    W("subsystem_device", "0xe471\n");
    snprintf(buf, sizeof(buf),
             "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:747E\nPCI_SUBSYS_ID=1DA2:E471\n"
             "PCI_SLOT_NAME=%s\nMODALIAS=pci:v00001002d0000747Esv00001DA2sd0000E471bc03sc00i00\n",
             slot);
    W("uevent", buf);
    W("gpu_busy_percent", "37\n");
    W("mem_busy_percent", "12\n");
    W("mem_info_vram_total", "17163091968\n");
    W("mem_info_vram_used", "4294967296\n");
    W("mem_info_vis_vram_total", "17163091968\n");
    W("mem_info_vis_vram_used", "4190208000\n");
    W("mem_info_gtt_total", "16777216000\n");
    W("mem_info_gtt_used", "50331648\n");
    W("pp_dpm_sclk", "0: 500Mhz \n1: 2124Mhz *\n2: 2430Mhz \n");
    W("pp_dpm_mclk", "0: 96Mhz \n1: 456Mhz \n2: 772Mhz \n3: 1218Mhz *\n");
    W("pp_dpm_pcie", "0: 2.5GT/s, x1 310Mhz \n1: 16.0GT/s, x16 619Mhz *\n");
    W("power_dpm_force_performance_level", "auto\n");
    W("vbios_version", "113-APM6MBS-100\n");
    W("hwmon/hwmon2/name", "amdgpu\n");
    W("hwmon/hwmon2/temp1_input", "48000\n");
    W("hwmon/hwmon2/temp1_label", "edge\n");
    W("hwmon/hwmon2/temp1_crit", "100000\n");
    W("hwmon/hwmon2/temp1_crit_hyst", "-273150\n");
    W("hwmon/hwmon2/temp2_input", "63000\n");
    W("hwmon/hwmon2/temp2_label", "junction\n");
    W("hwmon/hwmon2/temp2_crit", "110000\n");
    W("hwmon/hwmon2/temp3_input", "56000\n");
    W("hwmon/hwmon2/temp3_label", "mem\n");
    W("hwmon/hwmon2/temp3_crit", "100000\n");
    W("hwmon/hwmon2/power1_input", "41000000\n");
    W("hwmon/hwmon2/power1_cap", "263000000\n");
    W("hwmon/hwmon2/power1_cap_max", "280000000\n");
    W("hwmon/hwmon2/power1_cap_min", "0\n");
    W("hwmon/hwmon2/power1_label", "PPT\n");
    W("hwmon/hwmon2/fan1_input", "1180\n");
    W("hwmon/hwmon2/fan1_min", "0\n");
    W("hwmon/hwmon2/fan1_max", "3300\n");
    W("hwmon/hwmon2/pwm1", "84\n");
    W("hwmon/hwmon2/pwm1_enable", "2\n");
    W("hwmon/hwmon2/freq1_input", "2124000000\n");
    W("hwmon/hwmon2/freq1_label", "sclk\n");
    W("hwmon/hwmon2/freq2_input", "1218000000\n");
    W("hwmon/hwmon2/freq2_label", "mclk\n");
    W("hwmon/hwmon2/in0_input", "693\n");
    W("hwmon/hwmon2/in0_label", "vddgfx\n");
#undef W
    snprintf(rel, sizeof(rel), "%s/driver", dev);
    fx_symlink(root, rel, "../../../../bus/pci/drivers/amdgpu");
    snprintf(rel, sizeof(rel), "%s/drm/card%d/device", dev, card);
    snprintf(buf, sizeof(buf), "../../../%s", slot);
    fx_symlink(root, rel, buf);
    snprintf(rel, sizeof(rel), "%s/drm/card%d-DP-1/status", dev, card);
    fx_write(root, rel, "connected\n");
    snprintf(rel, sizeof(rel), "sys/class/drm/card%d", card);
    snprintf(buf, sizeof(buf), "../../devices/pci0000:00/0000:00:01.1/%s/drm/card%d", slot, card);
    fx_symlink(root, rel, buf);
    snprintf(rel, sizeof(rel), "sys/class/drm/card%d-DP-1", card);
    snprintf(buf, sizeof(buf), "../../devices/pci0000:00/0000:00:01.1/%s/drm/card%d-DP-1", slot,
             card);
    fx_symlink(root, rel, buf);
    fx_write(root, "sys/class/drm/version", "drm 1.1.0 20060810\n");
}

void
fx_other_card(const char *root, int card)
{
    char rel[512];
    snprintf(rel, sizeof(rel), "sys/class/drm/card%d/device/vendor", card);
    fx_write(root, rel, "0x10de\n");
    snprintf(rel, sizeof(rel), "sys/class/drm/card%d/device/uevent", card);
    fx_write(root, rel, "DRIVER=nvidia\nPCI_SLOT_NAME=0000:81:00.0\n");
    snprintf(rel, sizeof(rel), "sys/class/drm/card%d/device/gpu_busy_percent", card);
    fx_write(root, rel, "99\n");
}
