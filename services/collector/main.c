/* main.c - osprey-collector: flags, config, then the daemon loop. */
#include <curl/curl.h>
#include <stdio.h>

#include "coll_config.h"
#include "coll_daemon.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"

static const osp_cli_flag flags[] = {
    {.name = "store-ingest", .key = "store_ingest", .arg = "URL", .help = "store ingest URL(s)"},
    {.name = "store-ack", .key = "store_ack", .arg = "URL", .help = "store ack URL(s)"},
    {.name = "store-acks-required",
     .key = "store_acks_required",
     .arg = "IDS",
     .help = "store ids that must all ack (replicas)"},
    {.name = "spool-dir", .key = "spool_dir", .arg = "DIR", .help = "spool directory"},
    {.name = "spool-max-bytes", .key = "spool_max_bytes", .arg = "N", .help = "spool bound"},
    {.name = "redis", .key = "redis", .arg = "URL", .help = "Redis URL for sharding"},
    {.name = "scrape-timestamp-tolerance",
     .key = "scrape_timestamp_tolerance",
     .arg = "DURATION",
     .help = "stamp a scrape with its slot's time when it starts this late (10ms)"},
    {.name = "collector-id", .key = "collector_id", .arg = "ID", .help = "producer id on the bus"},
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

int
main(int argc, char **argv)
{
    const osp_daemon_info info = {
        .prog = "osprey-collector",
        .summary = "Scrapes Prometheus targets from a prometheus.yml and publishes samples "
                   "to the Osprey store.",
        .flags = flags,
        .nflags = NFLAGS,
        .schema = coll_settings_schema,
        .nschema = coll_settings_schema_len,
    };
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    int code = 1;
    coll_config *cfg = NULL;
    coll_daemon *d = NULL;
    if (!osp_daemon_cli(&info, argc, argv, &cli, &code))
        goto out;
    if (coll_config_load(cli.config, &cli, &cfg, &ei) != 0) {
        osp_daemon_config_error(info.prog, &ei);
        goto out;
    }
    if (cli.check_config) {
        printf("%s: OK (%zu scrape configs)\n", cli.config ? cli.config : "(no file)", cfg->njobs);
        code = 0;
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (coll_daemon_new(cfg, &cli, &d, &ei) != 0) {
        char msg[1024];
        osp_errinfo_format(&ei, msg, sizeof(msg));
        osp_log(OSP_LOG_ERROR, "collector", "cannot start", "error", msg, NULL);
        curl_global_cleanup();
        goto out;
    }
    code = coll_daemon_run(d);
    coll_daemon_free(d);
    curl_global_cleanup();
out:
    coll_config_unref(cfg);
    osp_cli_fini(&cli);
    return code;
}
