/* main.c - osprey-gpu-exporter: flags, config, then the daemon loop; or
 * --bench-collect N: time N collection cycles and print the cost per GPU. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "daemon.h"
#include "gpux_collect.h"
#include "gpux_config.h"
#include "gpux_daemon.h"
#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

static const osp_cli_flag flags[] = {
    {.name = "interval", .key = "interval", .arg = "DURATION", .help = "time between collections"},
    {.name = "sysfs-root", .key = "sysfs_root", .arg = "DIR", .help = "root of sys/ and proc/"},
    {.name = "nvml-lib", .key = "nvml_lib", .arg = "PATH", .help = "NVML library to dlopen"},
    {.name = "publish", .key = "publish", .arg = "on|off", .help = "publish to the store"},
    {.name = "store-ingest", .key = "store_ingest", .arg = "URL", .help = "store ingest URL(s)"},
    {.name = "store-ack", .key = "store_ack", .arg = "URL", .help = "store ack URL(s)"},
    {.name = "spool-dir", .key = "spool_dir", .arg = "DIR", .help = "spool directory"},
    {.name = "spool-max-bytes", .key = "spool_max_bytes", .arg = "N", .help = "spool bound"},
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* bench: N cycles on the configured sources, printed as us per cycle and per GPU. */
static int
bench(const gpux_settings *st, long n)
{
    gpux_collector_opts co = {.root = st->sysfs_root,
                              .nvml_lib = st->nvml_lib,
                              .nvidia = st->nvidia,
                              .amd = st->amd,
                              .pcie = st->pcie_throughput,
                              .processes = st->processes};
    gpux_collector *c = gpux_collector_new(&co);
    gpux_snap s;
    gpux_snap_init(&s);
    osp_buf text;
    osp_buf_init(&text);
    gpux_collector_collect(c, &s); /* warm-up: dlopen, nvmlInit, first scan */
    int64_t t0 = osp_mono_ns();
    for (long i = 0; i < n; i++)
        gpux_collector_collect(c, &s);
    int64_t t1 = osp_mono_ns();
    for (long i = 0; i < n; i++) {
        osp_buf_reset(&text);
        gpux_snap_render(&s, &text);
    }
    int64_t t2 = osp_mono_ns();
    unsigned gpus = gpux_collector_gpus(c);
    double us = (double)(t1 - t0) / 1e3 / (double)n;
    double rus = (double)(t2 - t1) / 1e3 / (double)n;
    printf("bench-collect: %ld cycles, %u GPUs, %zu series: %.1f us per cycle, %.1f us per GPU "
           "(render %.1f us)\n",
           n, gpus, s.n, us, gpus ? us / gpus : us, rus);
    printf("{\"cycles\":%ld,\"gpus\":%u,\"series\":%zu,\"us_per_cycle\":%.2f,"
           "\"us_per_gpu\":%.2f,\"render_us\":%.2f}\n",
           n, gpus, s.n, us, gpus ? us / gpus : us, rus);
    osp_buf_fini(&text);
    gpux_snap_fini(&s);
    gpux_collector_free(c);
    return 0;
}

int
main(int argc, char **argv)
{
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    char msg[1024];
    int code = 1;
    long bench_n = 0;
    gpux_settings st;
    memset(&st, 0, sizeof(st));
    gpux_daemon *d = NULL;
    /* --bench-collect N is not a setting: take it out before the common parser */
    char **av = osp_calloc((size_t)argc + 1, sizeof(char *));
    int ac = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strncmp(argv[i], "--bench-collect", 15) == 0 &&
            (argv[i][15] == 0 || argv[i][15] == '=')) {
            const char *v = argv[i][15] == '=' ? argv[i] + 16 : (i + 1 < argc ? argv[++i] : "");
            bench_n = strtol(v, NULL, 10);
            if (bench_n <= 0) {
                fprintf(stderr, "osprey-gpu-exporter: --bench-collect needs a count > 0\n");
                osp_free(av);
                return 2;
            }
            continue;
        }
        av[ac++] = argv[i];
    }
    const osp_daemon_info info = {
        .prog = "osprey-gpu-exporter",
        .summary =
            "Reads NVIDIA GPUs through NVML (dlopen) and AMD GPUs through amdgpu sysfs, "
            "serves /metrics and publishes every collection to the Osprey store.\n"
            "  --bench-collect N  time N collection cycles, print us per cycle and GPU, exit",
        .flags = flags,
        .nflags = NFLAGS,
        .schema = gpux_settings_schema,
        .nschema = gpux_settings_schema_len,
    };
    if (!osp_daemon_cli(&info, ac, av, &cli, &code))
        goto out;
    if (gpux_settings_load(cli.config, &cli, &st, &ei) != 0) {
        osp_daemon_config_error(info.prog, &ei);
        goto out;
    }
    if (cli.check_config) {
        printf("%s: OK\n", cli.config ? cli.config : "(no file)");
        code = 0;
        goto out;
    }
    osp_log_set_level(st.log_level);
    if (bench_n > 0) {
        code = bench(&st, bench_n);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (gpux_daemon_new(&st, cli.config, &cli, &d, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        osp_log(OSP_LOG_ERROR, "gpu-exporter", "cannot start", "error", msg, NULL);
        goto out;
    }
    code = gpux_daemon_run(d);
    gpux_daemon_free(d);
out:
    gpux_settings_fini(&st);
    osp_cli_fini(&cli);
    osp_free(av);
    return code;
}
