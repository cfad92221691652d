/* nvml_test.c - the NVML backend against the fake libnvidia-ml (fake_nvml.c):
 * every metric's value, unit conversion and labels; not-supported fields
 * omitted; NVML_ERROR_GPU_IS_LOST, failing calls, failed init and a missing
 * library reported without crashing. */
#include "osp_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_fixtures.h"
#include "gpux_collect.h"

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9 * (fabs((double)(b)) + 1))

static char *root;
static char cfg[4096];

/* H200-like GPU 0 (ECC, no fans, processes) and RTX 4090-like GPU 1 (no ECC,
 * no energy, two fans). */
static const char *const two_gpus = "driver 550.54.15\n"
                                    "count 2\n"
                                    "gpu0.name NVIDIA H200\n"
                                    "gpu0.uuid GPU-5f0a6d1e-1b2c-4d3e-8f90-123456789abc\n"
                                    "gpu0.bus_id 00000000:1B:00.0\n"
                                    "gpu0.util_gpu 87\n"
                                    "gpu0.util_mem 41\n"
                                    "gpu0.mem_total 150754820096\n"
                                    "gpu0.mem_used 80530636800\n"
                                    "gpu0.mem_free 69686411264\n"
                                    "gpu0.mem_reserved 537772032\n"
                                    "gpu0.temp 61\n"
                                    "gpu0.power_mw 512345\n"
                                    "gpu0.power_limit_mw 700000\n"
                                    "gpu0.energy_mj 987654321\n"
                                    "gpu0.clock_graphics 1980\n"
                                    "gpu0.clock_sm 1980\n"
                                    "gpu0.clock_mem 3201\n"
                                    "gpu0.ecc_corrected_volatile 3\n"
                                    "gpu0.ecc_corrected_aggregate 17\n"
                                    "gpu0.ecc_uncorrected_volatile 0\n"
                                    "gpu0.ecc_uncorrected_aggregate 1\n"
                                    "gpu0.pstate 0\n"
                                    "gpu0.pcie_tx_kbps 1500\n"
                                    "gpu0.pcie_rx_kbps 250000\n"
                                    "gpu0.procs 4242:21474836480,4343:na\n"
                                    "gpu0.gprocs \n"
                                    "gpu1.name NVIDIA GeForce RTX 4090\n"
                                    "gpu1.uuid GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
                                    "gpu1.bus_id 00000000:41:00.0\n"
                                    "gpu1.util_gpu 5\n"
                                    "gpu1.util_mem 2\n"
                                    "gpu1.mem_total 25757220864\n"
                                    "gpu1.mem_used 1073741824\n"
                                    "gpu1.mem_free 24146608128\n"
                                    "gpu1.mem_reserved 536870912\n"
                                    "gpu1.temp 38\n"
                                    "gpu1.power_mw 21500\n"
                                    "gpu1.power_limit_mw 450000\n"
                                    "gpu1.clock_graphics 210\n"
                                    "gpu1.clock_sm 210\n"
                                    "gpu1.clock_mem 405\n"
                                    "gpu1.fans 2\n"
                                    "gpu1.fan0 30\n"
                                    "gpu1.fan1 31\n"
                                    "gpu1.pstate 8\n";

static void
write_cfg(const char *text, const char *extra)
{
    static int gen;
    /* a new file each time: the fake re-reads when the inode/mtime changes */
    snprintf(cfg, sizeof(cfg), "%s/nvml-%d.cfg", root, ++gen);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(text, f);
    if (extra)
        fputs(extra, f);
    fclose(f);
    setenv("FAKE_NVML_CONFIG", cfg, 1);
}

static gpux_collector *
new_collector(const char *lib)
{
    gpux_collector_opts o = {
        .root = root, .nvml_lib = lib, .nvidia = true, .pcie = true, .processes = true};
    return gpux_collector_new(&o);
}

static double
val(const gpux_snap *s, gpux_metric m, const char *gpu, const char *k, const char *v)
{
    const gpux_sample *x = gpux_snap_find(s, m, "vendor", "nvidia", gpu ? "gpu" : k, gpu ? gpu : v,
                                          gpu ? k : NULL, v, NULL);
    if (!x) {
        fprintf(stderr, "missing %s{gpu=%s,%s=%s}\n", gpux_families[m].name, gpu ? gpu : "",
                k ? k : "", v ? v : "");
        fail();
    }
    return x->value;
}

static int
setup(void **state)
{
    root = osp_test_tmpdir("gpu-nvml");
    fx_write(root, "proc/4242/comm", "llama-server\n");
    return 0;
}

static int
teardown(void **state)
{
    osp_test_rmtree(root);
    free(root);
    return 0;
}

static void
test_values_and_labels(void **state)
{
    write_cfg(two_gpus, NULL);
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL, NULL), 2);
    NEAR(val(&s, GPUX_M_COLLECT_ERRORS, NULL, NULL, NULL), 0);

    const gpux_sample *t = gpux_snap_find(&s, GPUX_M_TEMP, "gpu", "0", NULL);
    assert_non_null(t);
    assert_string_equal(osp_labels_get(&t->labels, "uuid"),
                        "GPU-5f0a6d1e-1b2c-4d3e-8f90-123456789abc");
    assert_string_equal(osp_labels_get(&t->labels, "name"), "NVIDIA H200");
    assert_string_equal(osp_labels_get(&t->labels, "vendor"), "nvidia");
    assert_string_equal(osp_labels_get(&t->labels, "sensor"), "gpu");
    assert_int_equal(t->labels.n, 5);
    NEAR(t->value, 61);
    const gpux_sample *info = gpux_snap_find(&s, GPUX_M_INFO, "gpu", "0", NULL);
    assert_non_null(info);
    assert_string_equal(osp_labels_get(&info->labels, "pci_bus_id"), "00000000:1B:00.0");
    assert_string_equal(osp_labels_get(&info->labels, "driver_version"), "550.54.15");

    NEAR(val(&s, GPUX_M_GPU_UP, "0", NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_UTIL, "0", NULL, NULL), 87);
    NEAR(val(&s, GPUX_M_MEM_UTIL, "0", NULL, NULL), 41);
    NEAR(val(&s, GPUX_M_MEM_USED, "0", NULL, NULL), 80530636800.0);
    NEAR(val(&s, GPUX_M_MEM_TOTAL, "0", NULL, NULL), 150754820096.0);
    NEAR(val(&s, GPUX_M_MEM_FREE, "0", NULL, NULL), 69686411264.0);
    NEAR(val(&s, GPUX_M_MEM_RESERVED, "0", NULL, NULL), 537772032.0);
    NEAR(val(&s, GPUX_M_POWER, "0", NULL, NULL), 512.345); /* mW -> W */
    NEAR(val(&s, GPUX_M_POWER_LIMIT, "0", NULL, NULL), 700.0);
    NEAR(val(&s, GPUX_M_ENERGY, "0", NULL, NULL), 987654.321); /* mJ -> J */
    NEAR(val(&s, GPUX_M_CLOCK, "0", "clock", "sm"), 1980e6);   /* MHz -> Hz */
    NEAR(val(&s, GPUX_M_CLOCK, "0", "clock", "graphics"), 1980e6);
    NEAR(val(&s, GPUX_M_CLOCK, "0", "clock", "memory"), 3201e6);
    assert_non_null(gpux_snap_find(&s, GPUX_M_ECC, "gpu", "0", "type", "corrected", "counter",
                                   "volatile", NULL));
    NEAR(gpux_snap_find(&s, GPUX_M_ECC, "gpu", "0", "type", "corrected", "counter", "aggregate",
                        NULL)
             ->value,
         17);
    NEAR(gpux_snap_find(&s, GPUX_M_ECC, "gpu", "0", "type", "uncorrected", "counter", "aggregate",
                        NULL)
             ->value,
         1);
    NEAR(val(&s, GPUX_M_PSTATE, "0", NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_PCIE, "0", "direction", "tx"), 1500 * 1024.0); /* KB/s -> B/s */
    NEAR(val(&s, GPUX_M_PCIE, "0", "direction", "rx"), 250000 * 1024.0);
    const gpux_sample *p = gpux_snap_find(&s, GPUX_M_PROC_MEM, "gpu", "0", "pid", "4242", NULL);
    assert_non_null(p);
    NEAR(p->value, 21474836480.0);
    assert_string_equal(osp_labels_get(&p->labels, "process"), "llama-server");
    assert_string_equal(osp_labels_get(&p->labels, "type"), "compute");
    /* usedGpuMemory not available: no series */
    assert_null(gpux_snap_find(&s, GPUX_M_PROC_MEM, "pid", "4343", NULL));
    /* no fans on GPU 0 (NOT_SUPPORTED): omitted, not 0 */
    assert_null(gpux_snap_find(&s, GPUX_M_FAN_PCT, "gpu", "0", NULL));

    /* GPU 1: fans, no ECC, no energy, no PCIe, no processes */
    NEAR(val(&s, GPUX_M_FAN_PCT, "1", "fan", "0"), 30);
    NEAR(val(&s, GPUX_M_FAN_PCT, "1", "fan", "1"), 31);
    NEAR(val(&s, GPUX_M_POWER, "1", NULL, NULL), 21.5);
    NEAR(val(&s, GPUX_M_PSTATE, "1", NULL, NULL), 8);
    assert_null(gpux_snap_find(&s, GPUX_M_ECC, "gpu", "1", NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_ENERGY, "gpu", "1", NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_PCIE, "gpu", "1", NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_PROC_MEM, "gpu", "1", NULL));
    const gpux_sample *n1 = gpux_snap_find(&s, GPUX_M_UTIL, "gpu", "1", NULL);
    assert_string_equal(osp_labels_get(&n1->labels, "name"), "NVIDIA GeForce RTX 4090");

    /* text exposition of the collection */
    osp_buf out;
    osp_buf_init(&out);
    gpux_snap_render(&s, &out);
    assert_non_null(strstr(out.data, "# TYPE gpu_stats_gpu_energy_joules_total counter\n"));
    assert_non_null(strstr(out.data,
                           "gpu_stats_gpu_power_draw_watts{gpu=\"0\",name=\"NVIDIA H200\","
                           "uuid=\"GPU-5f0a6d1e-1b2c-4d3e-8f90-123456789abc\",vendor=\"nvidia\"} "
                           "512.345\n"));
    osp_buf_fini(&out);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_gpu_lost(void **state)
{
    write_cfg(two_gpus, NULL);
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_GPU_UP, "1", NULL, NULL), 1);
    write_cfg(two_gpus, "gpu1.lost 1\n");
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 0);
    /* the lost GPU keeps the identity it had */
    const gpux_sample *up = gpux_snap_find(&s, GPUX_M_GPU_UP, "gpu", "1", "uuid",
                                           "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", NULL);
    assert_non_null(up);
    NEAR(up->value, 0);
    assert_null(gpux_snap_find(&s, GPUX_M_TEMP, "gpu", "1", NULL));
    assert_null(gpux_snap_find(&s, GPUX_M_INFO, "gpu", "1", NULL));
    NEAR(val(&s, GPUX_M_TEMP, "0", NULL, NULL), 61); /* the other GPU goes on */
    NEAR(val(&s, GPUX_M_COLLECT_ERRORS, NULL, NULL, NULL), 0);
    write_cfg(two_gpus, NULL);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_GPU_UP, "1", NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_TEMP, "1", NULL, NULL), 38);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_lost_from_start(void **state)
{
    write_cfg(two_gpus, "gpu0.lost 1\n");
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    const gpux_sample *up = gpux_snap_find(&s, GPUX_M_GPU_UP, "gpu", "0", NULL);
    assert_non_null(up);
    NEAR(up->value, 0);
    NEAR(val(&s, GPUX_M_GPU_UP, "1", NULL, NULL), 1);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_failing_and_unsupported_calls(void **state)
{
    write_cfg(two_gpus, "gpu0.fail.nvmlDeviceGetTemperature 999\n"
                        "gpu0.fail.nvmlDeviceGetPowerUsage 3\n"
                        "gpu1.fail.nvmlDeviceGetMemoryInfo_v2 13\n");
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    /* 999 (unknown) is a failure: counted, up 0, series absent */
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_COLLECT_ERRORS, NULL, NULL, NULL), 1);
    assert_null(gpux_snap_find(&s, GPUX_M_TEMP, "gpu", "0", NULL));
    /* 3 (not supported) is silent */
    assert_null(gpux_snap_find(&s, GPUX_M_POWER, "gpu", "0", NULL));
    NEAR(val(&s, GPUX_M_UTIL, "0", NULL, NULL), 87);
    /* memory v2 missing: v1 fallback (no reserved) */
    NEAR(val(&s, GPUX_M_MEM_USED, "1", NULL, NULL), 1073741824.0);
    assert_null(gpux_snap_find(&s, GPUX_M_MEM_RESERVED, "gpu", "1", NULL));
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_init_failure_then_recovery(void **state)
{
    write_cfg(two_gpus, "init_error 9\n");
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL, NULL), 0);
    assert_null(gpux_snap_find(&s, GPUX_M_GPU_UP, NULL));
    write_cfg(two_gpus, NULL);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 1);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL, NULL), 2);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_no_gpu_and_no_library(void **state)
{
    write_cfg("driver 550.54.15\ncount 0\n", NULL);
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 1); /* no GPU is a normal state */
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL, NULL), 0);
    gpux_collector_free(c);
    c = new_collector("/nonexistent/libnvidia-ml.so.1");
    gpux_collector_collect(c, &s);
    NEAR(val(&s, GPUX_M_UP, NULL, NULL, NULL), 0);
    NEAR(val(&s, GPUX_M_GPUS, NULL, NULL, NULL), 0);
    assert_non_null(gpux_snap_find(&s, GPUX_M_COLLECT_DURATION, "vendor", "nvidia", NULL));
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

static void
test_batch(void **state)
{
    write_cfg(two_gpus, NULL);
    gpux_collector *c = new_collector(FAKE_NVML_PATH);
    gpux_snap s;
    gpux_snap_init(&s);
    gpux_collector_collect(c, &s);
    osp_labels extra;
    osp_labels_init(&extra);
    osp_labels_addc(&extra, "job", "gpu-exporter");
    osp_labels_addc(&extra, "instance", "host1");
    osp_mbatch *b = osp_mbatch_new();
    gpux_snap_to_batch(&s, &extra, b);
    assert_int_equal(osp_mbatch_series_count(b), s.n);
    osp_buf pb;
    osp_buf_init(&pb);
    osp_mbatch_encode(b, &pb);
    Osprey__MetricBatch *mb = osprey__metric_batch__unpack(NULL, pb.len, (const uint8_t *)pb.data);
    assert_non_null(mb);
    bool found = false;
    for (size_t i = 0; i < mb->n_series; i++) {
        Osprey__Series *se = mb->series[i];
        assert_int_equal(se->n_samples, 1);
        assert_int_equal(se->samples[0]->timestamp_ms, s.ts_ms);
        assert_string_equal(se->labels[0]->name, "__name__");
        for (size_t j = 1; j < se->n_labels; j++)
            assert_true(strcmp(se->labels[j - 1]->name, se->labels[j]->name) < 0);
        if (strcmp(se->labels[0]->value, "gpu_stats_gpu_temperature_celsius") == 0 &&
            se->samples[0]->value == 61) {
            osp_labels ls;
            osp_labels_init(&ls);
            osp_pb_labels(se->labels, se->n_labels, &ls);
            assert_string_equal(osp_labels_get(&ls, "job"), "gpu-exporter");
            assert_string_equal(osp_labels_get(&ls, "instance"), "host1");
            assert_string_equal(osp_labels_get(&ls, "gpu"), "0");
            osp_labels_fini(&ls);
            found = true;
        }
    }
    assert_true(found);
    bool unit = false;
    for (size_t i = 0; i < mb->n_metadata; i++)
        if (strcmp(mb->metadata[i]->name, "gpu_stats_gpu_power_draw_watts") == 0)
            unit = strcmp(mb->metadata[i]->unit, "watts") == 0;
    assert_true(unit);
    osprey__metric_batch__free_unpacked(mb, NULL);
    osp_buf_fini(&pb);
    osp_mbatch_free(b);
    osp_labels_fini(&extra);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_labels),
        cmocka_unit_test(test_gpu_lost),
        cmocka_unit_test(test_lost_from_start),
        cmocka_unit_test(test_failing_and_unsupported_calls),
        cmocka_unit_test(test_init_failure_then_recovery),
        cmocka_unit_test(test_no_gpu_and_no_library),
        cmocka_unit_test(test_batch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
