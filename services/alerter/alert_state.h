/* alert_state.h - the alerter's Redis link: a synchronous hiredis connection
 * with short timeouts, lazy reconnects and rate-limited complaints. Each
 * thread that keeps state in Redis (the loop for silences, the notifier for
 * the notification log, the rule evaluator for `for` state) owns one.
 * Keys: osprey:alerter:silences (hash id -> JSON), osprey:alerter:nflog:<h>,
 * osprey:alerter:claim:<h>:<set>:<ts>, osprey:alerter:for:<group hash>. */
#ifndef ALERT_STATE_H
#define ALERT_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "osp_err.h"

typedef struct alert_redis alert_redis;

/* alert_redis_new: parse url ("redis://[:password@]host:port[/db]" or
 * "unix:///path") and connect lazily; a Redis that is down at start is not an
 * error (commands fail until it is back). who names the user in logs.
 * Errors: OSP_EINVAL for a malformed URL. Single thread per object. */
int alert_redis_new(const char *url, const char *who, alert_redis **out, osp_errinfo *ei);

/* alert_redis_cmd: run one command (hiredis redisCommandArgv semantics);
 * returns the reply (caller frees with freeReplyObject) or NULL when Redis is
 * unavailable or answered an error (logged once, then at growing intervals). */
redisReply *alert_redis_cmd(alert_redis *r, int argc, const char **argv);

/* alert_redis_up: whether the last command reached Redis. */
bool alert_redis_up(const alert_redis *r);

/* alert_redis_free: close; NULL-safe. */
void alert_redis_free(alert_redis *r);

#endif
