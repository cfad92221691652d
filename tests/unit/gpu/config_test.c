/* config_test.c - the exporter's settings: defaults, file, flags over file,
 * errors with position; and the text exposition of a collection. */
#include "osp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpux_config.h"
#include "gpux_snap.h"

static void
test_defaults(void **state)
{
    gpux_settings st;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(gpux_settings_load(NULL, NULL, &st, &ei), 0);
    assert_string_equal(st.listen, "127.0.0.1:9202");
    assert_string_equal(st.sysfs_root, "/");
    assert_string_equal(st.nvml_lib, "libnvidia-ml.so.1");
    assert_int_equal(st.interval, 5000);
    assert_true(st.publish && st.nvidia && st.amd && st.processes && st.pcie_throughput);
    assert_string_equal(st.job, "gpu-exporter");
    assert_null(st.instance);
    gpux_settings_fini(&st);
}

static void
test_file_and_flags(void **state)
{
    char *dir = osp_test_tmpdir("gpu-conf");
    char path[4096];
    snprintf(path, sizeof(path), "%s/gpu.yml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("interval: 2s\nsysfs_root: /srv/fake\nnvidia: false\npublish: on\njob: gpu\n", f);
    fclose(f);
    static const osp_cli_flag flags[] = {
        {.name = "publish", .key = "publish", .arg = "on|off"},
        {.name = "interval", .key = "interval", .arg = "D"},
    };
    char *argv[] = {"x", "-c", path, "--publish", "off", "--interval", "250ms", NULL};
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    assert_int_equal(osp_cli_parse(&cli, 7, argv, flags, 2, &ei), 0);
    gpux_settings st;
    assert_int_equal(gpux_settings_load(cli.config, &cli, &st, &ei), 0);
    assert_int_equal(st.interval, 250);
    assert_false(st.publish);
    assert_false(st.nvidia);
    assert_true(st.amd);
    assert_string_equal(st.sysfs_root, "/srv/fake");
    assert_string_equal(st.job, "gpu");
    gpux_settings_fini(&st);
    osp_cli_fini(&cli);

    f = fopen(path, "w");
    fputs("interval: 2s\nbogus: 1\n", f);
    fclose(f);
    assert_int_equal(gpux_settings_load(path, NULL, &st, &ei), OSP_EINVAL);
    assert_int_equal(ei.line, 2);
    gpux_settings_fini(&st);
    f = fopen(path, "w");
    fputs("interval: 10ms\n", f);
    fclose(f);
    assert_int_equal(gpux_settings_load(path, NULL, &st, &ei), OSP_EINVAL);
    gpux_settings_fini(&st);
    osp_test_rmtree(dir);
    free(dir);
}

static void
test_render(void **state)
{
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_gpu_id id = {.gpu = "0", .uuid = "u-1", .name = "Card \"X\"", .vendor = "amd"};
    gpux_snap_add(&s, GPUX_M_TEMP, &id, 48.5, "sensor", "edge", NULL);
    gpux_snap_add(&s, GPUX_M_UP, NULL, 1, "vendor", "amd", NULL);
    gpux_snap_add(&s, GPUX_M_TEMP, &id, 63, "sensor", "junction", NULL);
    osp_buf out;
    osp_buf_init(&out);
    gpux_snap_render(&s, &out);
    const char *want =
        "# HELP gpu_stats_up 1 when the vendor backend's last collection read every GPU without "
        "error, else 0 (driver or library missing, GPU lost, unreadable file)\n"
        "# TYPE gpu_stats_up gauge\n"
        "gpu_stats_up{vendor=\"amd\"} 1\n"
        "# HELP gpu_stats_gpu_temperature_celsius Temperature by sensor (gpu; amdgpu: edge, "
        "junction, mem)\n"
        "# TYPE gpu_stats_gpu_temperature_celsius gauge\n"
        "gpu_stats_gpu_temperature_celsius{gpu=\"0\",name=\"Card \\\"X\\\"\",sensor=\"edge\","
        "uuid=\"u-1\",vendor=\"amd\"} 48.5\n"
        "gpu_stats_gpu_temperature_celsius{gpu=\"0\",name=\"Card \\\"X\\\"\",sensor=\"junction\","
        "uuid=\"u-1\",vendor=\"amd\"} 63\n";
    assert_string_equal(out.data, want);
    osp_buf_fini(&out);
    gpux_snap_truncate(&s, 1);
    assert_int_equal(s.n, 1);
    gpux_snap_fini(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
