/* main.c - osprey-alerter: flags, config, then the daemon loop;
 * `--check-rules FILE...` validates rule files like `promtool check rules`. */
#include <curl/curl.h>
#include <event2/thread.h>
#include <stdio.h>
#include <string.h>

#include "alert_am_config.h"
#include "alert_conf.h"
#include "alert_daemon.h"
#include "alert_rules.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"

/* check_rules: promtool's output ("Checking F", "  SUCCESS: N rules found",
 * or "  FAILED:" and the error); 0 when every file is valid, else 1. */
static int
check_rules(int n, char **files)
{
    int code = 0;
    if (n == 0) {
        fprintf(stderr, "osprey-alerter: --check-rules needs at least one FILE\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        alert_ruleset *rs = alert_ruleset_new();
        osp_errinfo ei;
        osp_errinfo_clear(&ei);
        printf("Checking %s\n", files[i]);
        if (alert_rules_load_file(rs, files[i], 60000, &ei) != 0) {
            char msg[1024];
            osp_errinfo_format(&ei, msg, sizeof(msg));
            printf("  FAILED:\n");
            fprintf(stderr, "%s\n", msg);
            code = 1;
        } else {
            printf("  SUCCESS: %zu rules found\n", rs->nrules);
        }
        printf("\n");
        alert_ruleset_free(rs);
    }
    return code;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--check-rules") == 0)
        return check_rules(argc - 2, argv + 2);
    const osp_daemon_info info = {
        .prog = "osprey-alerter",
        .summary = "Evaluates Prometheus alerting and recording rules against the Osprey store "
                   "and dispatches alerts like Alertmanager: API v2, routing, grouping, "
                   "silences, inhibition, webhook/Slack/email receivers. "
                   "`osprey-alerter --check-rules FILE...` validates rule files.",
        .flags = alert_conf_flags,
        .nflags = alert_conf_nflags,
        .schema = alert_conf_schema,
        .nschema = alert_conf_nschema,
    };
    osp_cli cli;
    osp_errinfo ei;
    osp_errinfo_clear(&ei);
    char msg[1024];
    int code = 1;
    alert_conf conf = {0};
    alert_am_config *amc = NULL;
    alert_daemon *d = NULL;
    if (!osp_daemon_cli(&info, argc, argv, &cli, &code))
        goto out;
    code = 1;
    if (alert_conf_load(&conf, &cli, &ei) != 0) {
        osp_daemon_config_error(info.prog, &ei);
        goto out;
    }
    osp_log_set_level(conf.log_level);
    if (alert_am_config_load(conf.alertmanager_config, &amc, &ei) != 0) {
        osp_daemon_config_error(info.prog, &ei);
        goto out;
    }
    if (cli.check_config) {
        alert_ruleset *rs = NULL;
        if (conf.rule_files.n &&
            alert_rules_load((const char *const *)conf.rule_files.v, conf.rule_files.n,
                             conf.evaluation_interval_ms, &rs, &ei) != 0) {
            osp_daemon_config_error(info.prog, &ei);
            goto out;
        }
        printf("%s: OK (%zu receivers, %zu routes, %zu inhibit rules, %zu rules)\n",
               amc->path ? amc->path : "(built-in)", amc->nreceivers, amc->nroutes_total,
               amc->ninhibits, rs ? rs->nrules : 0);
        alert_ruleset_free(rs);
        code = 0;
        goto out;
    }
    evthread_use_pthreads();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (alert_daemon_new(&conf, &cli, amc, &d, &ei) != 0) {
        osp_errinfo_format(&ei, msg, sizeof(msg));
        fprintf(stderr, "osprey-alerter: %s\n", msg);
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
