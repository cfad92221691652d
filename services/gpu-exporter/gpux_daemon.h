/* gpux_daemon.h - the exporter daemon: libevent loop with the HTTP server
 * (/metrics from the last collection, /health, /ready, /-/reload), signals,
 * the bus producer and the collection thread. */
#ifndef GPUX_DAEMON_H
#define GPUX_DAEMON_H

#include "conf.h"
#include "gpux_config.h"
#include "osp_buf.h"
#include "osp_err.h"

typedef struct gpux_daemon gpux_daemon;

/* gpux_daemon_new: start everything for st (taken over: the daemon finis it;
 * the caller's struct is zeroed on success). cli and path (borrowed; must
 * outlive the daemon) are reapplied on reloads. *out only on success.
 * Errors: OSP_EIO/OSP_EINVAL with detail in ei (cannot listen, bad store
 * URL). Main thread. */
int gpux_daemon_new(gpux_settings *st, const char *path, const osp_cli *cli, gpux_daemon **out,
                    osp_errinfo *ei);

/* gpux_daemon_run: run the loop until SIGTERM/SIGINT, stop collecting, then
 * flush the producer (flush_timeout). Returns the exit code (0). Main thread. */
int gpux_daemon_run(gpux_daemon *d);

/* gpux_daemon_reload: re-read the config file and flags; interval, log level,
 * job/instance and the NVML options apply at once, the rest after a restart
 * (logged). On error the running settings stay and msg says why. Loop thread. */
int gpux_daemon_reload(gpux_daemon *d, osp_buf *msg);

/* gpux_daemon_free: NULL-safe; HTTP, worker, producer, backends in order. */
void gpux_daemon_free(gpux_daemon *d);

#endif
