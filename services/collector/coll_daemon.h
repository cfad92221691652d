/* coll_daemon.h - the collector daemon: event loop, HTTP endpoints, signals,
 * bus producer, file_sd timer, reloads; owns the scrape thread. */
#ifndef COLL_DAEMON_H
#define COLL_DAEMON_H

#include "coll_config.h"
#include "conf.h"
#include "osp_buf.h"
#include "osp_err.h"

typedef struct coll_daemon coll_daemon;

/* coll_daemon_new: start everything for cfg (a reference is taken): HTTP
 * server, producer, scrape thread, first target set. cli (borrowed; must
 * outlive the daemon) is reapplied on reloads. *out only on success. Errors:
 * OSP_EIO/OSP_EINVAL with detail in ei (cannot listen, bad store URL...).
 * Main thread. */
int coll_daemon_new(coll_config *cfg, const osp_cli *cli, coll_daemon **out, osp_errinfo *ei);

/* coll_daemon_run: run the loop until SIGTERM/SIGINT, then stop scraping
 * (end-of-run stale markers) and flush the producer (flush_timeout). Returns
 * the process exit code (0). Main thread. */
int coll_daemon_run(coll_daemon *d);

/* coll_daemon_reload: reload the config file: build and validate a new
 * config, then swap it in; on error keep the old one and put why into msg
 * (returns the osp_err). Loop thread (SIGHUP and POST /-/reload call it). */
int coll_daemon_reload(coll_daemon *d, osp_buf *msg);

/* coll_daemon_free: NULL-safe; frees in order (HTTP, scraper, producer). */
void coll_daemon_free(coll_daemon *d);

#endif
