/* alert_daemon.h - osprey-alerter's wiring: the libevent loop with the HTTP
 * server (API v2 + standard endpoints), the dispatcher, the notifier thread,
 * Redis-backed silences, timers (GC, silence sync), signals and reload. */
#ifndef ALERT_DAEMON_H
#define ALERT_DAEMON_H

#include "alert_am_config.h"
#include "alert_conf.h"
#include "conf.h"

typedef struct alert_daemon alert_daemon;

/* alert_daemon_new: start everything (listening, notifier thread). amc is
 * referenced; conf and cli are borrowed for the daemon's life. Errors:
 * OSP_EIO/OSP_EINVAL with ei. Main thread. */
int alert_daemon_new(const alert_conf *conf, const osp_cli *cli, alert_am_config *amc,
                     alert_daemon **out, osp_errinfo *ei);
/* alert_daemon_run: run the loop until SIGTERM/SIGINT. Returns the exit code. */
int alert_daemon_run(alert_daemon *d);
/* alert_daemon_free: stop and free; NULL-safe. */
void alert_daemon_free(alert_daemon *d);

#endif
