/* amd_test.c - the amdgpu sysfs backend on a fake RX 7800 XT tree: every
 * metric's value, unit conversion and labels; other vendors and connectors
 * ignored; unreadable files, a vanished card and a missing DRM class. */
#include "osp_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu_fixtures.h"
#include "gpux_amd.h"
#include "gpux_collect.h"
#include "osp_err.h"

#define SLOT "0000:03:00.0"

static double
val(const gpux_snap *s, gpux_metric m, const char *k, const char *v)
{
    const gpux_sample *x = k ? gpux_snap_find(s, m, "vendor", "amd", k, v, NULL)
                             : gpux_snap_find(s, m, "vendor", "amd", NULL);
    if (!x) {
        fprintf(stderr, "missing %s{%s=%s}\n", gpux_families[m].name, k ? k : "", v ? v : "");
        fail();
    }
    return x->value;
}

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9 * (fabs((double)(b)) + 1))

static void
test_rx7800xt_values(void **state)
{
    char *root = osp_test_tmpdir("gpu-amd");
    fx_rx7800xt(root, 0, SLOT);
    fx_other_card(root, 1);
    gpux_amd *a = gpux_amd_new(root);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_backend_stats st;
    gpux_amd_collect(a, &s, &st);
    assert_true(st.available);
    assert_int_equal(st.gpus, 1);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.lost, 0);

    /* identity labels on every per-GPU series */
    const gpux_sample *u = gpux_snap_find(&s, GPUX_M_UTIL, NULL);
    assert_non_null(u);
    assert_string_equal(osp_labels_get(&u->labels, "gpu"), "0");
    assert_string_equal(osp_labels_get(&u->labels, "uuid"), SLOT);
    assert_string_equal(osp_labels_get(&u->labels, "name"), "AMD Radeon RX 7800 XT");
    assert_string_equal(osp_labels_get(&u->labels, "vendor"), "amd");
    assert_int_equal(u->labels.n, 4);
    for (size_t i = 0; i < s.n; i++) { /* card1 is NVIDIA's: not read here */
        const char *g = osp_labels_get(&s.v[i].labels, "gpu");
        assert_true(!g || strcmp(g, "1") != 0);
    }

    NEAR(val(&s, GPUX_M_GPU_UP, NULL, NULL), 1);
    const gpux_sample *info = gpux_snap_find(&s, GPUX_M_INFO, NULL);
    assert_non_null(info);
    assert_string_equal(osp_labels_get(&info->labels, "pci_bus_id"), SLOT);
    assert_string_equal(osp_labels_get(&info->labels, "driver"), "amdgpu");
    assert_string_equal(osp_labels_get(&info->labels, "vbios_version"), "113-APM6MBS-100");
    NEAR(val(&s, GPUX_M_UTIL, NULL, NULL), 37);
    NEAR(val(&s, GPUX_M_MEM_UTIL, NULL, NULL), 12);
    NEAR(val(&s, GPUX_M_MEM_USED, NULL, NULL), 4294967296.0);
    NEAR(val(&s, GPUX_M_MEM_TOTAL, NULL, NULL), 17163091968.0);
    NEAR(val(&s, GPUX_M_MEM_FREE, NULL, NULL), 17163091968.0 - 4294967296.0);
    NEAR(val(&s, GPUX_M_GTT_USED, NULL, NULL), 50331648.0);
    NEAR(val(&s, GPUX_M_GTT_TOTAL, NULL, NULL), 16777216000.0);
    NEAR(val(&s, GPUX_M_TEMP, "sensor", "edge"), 48);
    NEAR(val(&s, GPUX_M_TEMP, "sensor", "junction"), 63);
    NEAR(val(&s, GPUX_M_TEMP, "sensor", "mem"), 56);
    NEAR(val(&s, GPUX_M_TEMP_CRIT, "sensor", "edge"), 100);
    NEAR(val(&s, GPUX_M_TEMP_CRIT, "sensor", "junction"), 110);
    NEAR(val(&s, GPUX_M_POWER, NULL, NULL), 41.0); /* power1_input: no power1_average here */
    NEAR(val(&s, GPUX_M_POWER_LIMIT, NULL, NULL), 263.0);
    NEAR(val(&s, GPUX_M_CLOCK, "clock", "graphics"), 2124e6);
    NEAR(val(&s, GPUX_M_CLOCK, "clock", "memory"), 1218e6);
    NEAR(val(&s, GPUX_M_FAN_RPM, "fan", "0"), 1180);
    NEAR(val(&s, GPUX_M_FAN_PCT, "fan", "0"), 84 * 100.0 / 255.0);
    NEAR(val(&s, GPUX_M_VOLTAGE, "sensor", "vddgfx"), 0.693);
    /* NVIDIA-only families are absent, not zero */
    assert_null(gpux_snap_find(&s, GPUX_M_ENERGY, NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_ECC, NULL));

    gpux_snap_fini(&s);
    gpux_amd_free(a);
    osp_test_rmtree(root);
    free(root);
}

static void
test_average_unique_id_product_name(void **state)
{
    char *root = osp_test_tmpdir("gpu-amd");
    fx_rx7800xt(root, 2, SLOT);
    const char *dev = "sys/devices/pci0000:00/0000:00:01.1/" SLOT;
    char rel[512];
    snprintf(rel, sizeof(rel), "%s/hwmon/hwmon2/power1_average", dev);
    fx_write(root, rel, "212500000\n");
    snprintf(rel, sizeof(rel), "%s/unique_id", dev);
    fx_write(root, rel, "4a1b2c3d4e5f6071\n");
    snprintf(rel, sizeof(rel), "%s/product_name", dev);
    fx_write(root, rel, "Radeon RX 7800 XT Pulse\n");
    /* no pp_dpm_sclk: the hwmon sclk frequency is used */
    snprintf(rel, sizeof(rel), "%s/%s/pp_dpm_sclk", root, dev);
    assert_int_equal(unlink(rel), 0);
    gpux_amd *a = gpux_amd_new(root);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_backend_stats st;
    gpux_amd_collect(a, &s, &st);
    assert_int_equal(st.errors, 0);
    const gpux_sample *p = gpux_snap_find(&s, GPUX_M_POWER, "gpu", "2", NULL);
    assert_non_null(p);
    NEAR(p->value, 212.5);
    assert_string_equal(osp_labels_get(&p->labels, "uuid"), "4a1b2c3d4e5f6071");
    assert_string_equal(osp_labels_get(&p->labels, "name"), "Radeon RX 7800 XT Pulse");
    NEAR(val(&s, GPUX_M_CLOCK, "clock", "graphics"), 2124e6);
    gpux_snap_fini(&s);
    gpux_amd_free(a);
    osp_test_rmtree(root);
    free(root);
}

static void
test_unreadable_file(void **state)
{
    char *root = osp_test_tmpdir("gpu-amd");
    fx_rx7800xt(root, 0, SLOT);
    char rel[512];
    /* a directory where a value file should be: open works, read fails (EISDIR),
     * also for root, unlike chmod 000 */
    snprintf(rel, sizeof(rel), "%s/sys/devices/pci0000:00/0000:00:01.1/" SLOT "/gpu_busy_percent",
             root);
    assert_int_equal(unlink(rel), 0);
    assert_int_equal(mkdir(rel, 0755), 0);
    snprintf(rel, sizeof(rel),
             "sys/devices/pci0000:00/0000:00:01.1/" SLOT "/hwmon/hwmon2/temp2_input");
    fx_write(root, rel, "garbage\n");
    gpux_collector_opts o = {.root = root, .amd = true};
    gpux_collector *c = gpux_collector_new(&o);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_COLLECT_ERRORS, NULL, NULL), 2);
    assert_null(gpux_snap_find(&s, GPUX_M_UTIL, NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_TEMP, "sensor", "junction", NULL));
    NEAR(val(&s, GPUX_M_TEMP, "sensor", "edge"), 48);
    NEAR(val(&s, GPUX_M_GPU_UP, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_MEM_USED, NULL, NULL), 4294967296.0);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_COLLECT_ERRORS, NULL, NULL), 4); /* cumulative */
    gpux_snap_fini(&s);
    gpux_collector_free(c);
    osp_test_rmtree(root);
    free(root);
}

static void
test_card_disappears(void **state)
{
    char *root = osp_test_tmpdir("gpu-amd");
    fx_rx7800xt(root, 0, SLOT);
    gpux_collector_opts o = {.root = root, .amd = true};
    gpux_collector *c = gpux_collector_new(&o);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 1);
    char from[4096], to[4096];
    snprintf(from, sizeof(from), "%s/sys/class/drm/card0", root);
    snprintf(to, sizeof(to), "%s/sys/class/drm/gone", root);
    assert_int_equal(rename(from, to), 0);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL), 1);
    const gpux_sample *up = gpux_snap_find(&s, GPUX_M_GPU_UP, "gpu", "0", "uuid", SLOT, "name",
                                           "AMD Radeon RX 7800 XT", NULL);
    assert_non_null(up);
    NEAR(up->value, 0);
    assert_null(gpux_snap_find(&s, GPUX_M_UTIL, NULL));
    assert_int_equal(rename(to, from), 0);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_GPU_UP, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_UTIL, NULL, NULL), 37);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
    osp_test_rmtree(root);
    free(root);
}

static void
test_no_drm(void **state)
{
    char *root = osp_test_tmpdir("gpu-amd");
    gpux_collector_opts o = {.root = root, .amd = true};
    gpux_collector *c = gpux_collector_new(&o);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL), 0);
    assert_non_null(gpux_snap_find(&s, GPUX_M_COLLECT_DURATION, "vendor", "amd", NULL));
    /* an empty DRM class (no GPU) is a normal state: up */
    fx_mkdir(root, "sys/class/drm");
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL), 0);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
    osp_test_rmtree(root);
    free(root);
}

static void
test_parse_dpm(void **state)
{
    static const struct {
        const char *text;
        int rc;
        double hz;
    } cases[] = {
        {"0: 500Mhz \n1: 2124Mhz *\n2: 2430Mhz \n", 0, 2124e6},
        {"0: 96Mhz *\n1: 456Mhz \n", 0, 96e6},
        {"0: 1.2GHz *\n", 0, 1.2e9},
        {"0: 500Mhz\n1: 800Mhz\n", OSP_ENOTFOUND, 0},
        {"", OSP_ENOTFOUND, 0},
        {"garbage *\n", OSP_EPARSE, 0},
        {"1: x *\n", OSP_EPARSE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double hz = 0;
        assert_int_equal(gpux_amd_parse_dpm(cases[i].text, &hz), cases[i].rc);
        if (cases[i].rc == 0)
            NEAR(hz, cases[i].hz);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rx7800xt_values),
        cmocka_unit_test(test_average_unique_id_product_name),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_card_disappears),
        cmocka_unit_test(test_no_drm),
        cmocka_unit_test(test_parse_dpm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
