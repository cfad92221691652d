/* main.c - osprey-alerter: flags, config, then the daemon loop. */
#include <curl/curl.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>

#include "alert_am_config.h"
#include "alert_conf.h"
#include "alert_daemon.h"
#include "conf.h"
#include "log.h"

int
main(int argc, char **argv)
{
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    char msg[1024];
    int code = 1;
    alert_conf conf = {0};
    alert_am_config *amc = NULL;
    alert_daemon *d = NULL;
    if (osp_cli_parse(&cli, argc, argv, alert_conf_flags, alert_conf_nflags, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        fprintf(stderr, "osprey-alerter: %s (try --help)\n", msg);
        code = 2;
        goto out;
    }
    if (cli.help) {
        osp_cli_usage(stdout, "osprey-alerter",
                      "Alertmanager-compatible alert dispatcher: API v2, routing, grouping, "
                      "silences, inhibition, webhook/Slack/email receivers.",
                      alert_conf_flags, alert_conf_nflags, alert_conf_schema, alert_conf_nschema);
        code = 0;
        goto out;
    }
    if (cli.version) {
        printf("osprey-alerter %s\n", OSPREY_VERSION);
        code = 0;
        goto out;
    }
    if (alert_conf_load(&conf, &cli, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        fprintf(stderr, "osprey-alerter: %s\n", msg);
        goto out;
    }
    osp_log_set_level(conf.log_level);
    if (alert_am_config_load(conf.alertmanager_config, &amc, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        fprintf(stderr, "osprey-alerter: %s\n", msg);
        osp_log(OSP_LOG_ERROR, "config", "invalid alertmanager configuration", "error", msg, NULL);
        goto out;
    }
    if (cli.check_config) {
        printf("%s: OK (%zu receivers, %zu routes, %zu inhibit rules)\n",
               amc->path ? amc->path : "(built-in)", amc->nreceivers, amc->nroutes_total,
               amc->ninhibits);
        code = 0;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (alert_daemon_new(&conf, &cli, amc, &d, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        osp_log(OSP_LOG_ERROR, "alerter", "cannot start", "error", msg, NULL);
        curl_global_cleanup();
        goto out;
    }
    code = alert_daemon_run(d);
    alert_daemon_free(d);
    curl_global_cleanup();
out:
    alert_am_config_unref(amc);
    alert_conf_fini(&conf);
    osp_cli_fini(&cli);
    return code;
}
