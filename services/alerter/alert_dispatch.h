/* alert_dispatch.h - Alertmanager's dispatcher: routes each alert to its
 * aggregation groups (route + group_by labels), flushes a group after
 * group_wait and then every group_interval: mutes inhibited and silenced
 * alerts, and submits one notification job per receiver integration. Loop
 * thread only. */
#ifndef ALERT_DISPATCH_H
#define ALERT_DISPATCH_H

#include <stddef.h>

#include "alert.h"
#include "alert_am_config.h"
#include "alert_notify.h"
#include "alert_silence.h"

struct event_base;

typedef struct alert_dispatch alert_dispatch;

/* alert_dispatch_new: all pointers are borrowed and must outlive d; cfg is
 * referenced. Never fails (aborts on OOM). */
alert_dispatch *alert_dispatch_new(struct event_base *base, alert_am_config *cfg,
                                   alert_store *store, alert_silences *silences,
                                   alert_notifier *notifier);
/* alert_dispatch_free: cancel timers, drop groups (jobs in flight finish
 * without touching d: call before alert_notifier_free only when the loop no
 * longer runs). NULL-safe. */
void alert_dispatch_free(alert_dispatch *d);

/* alert_dispatch_put: route a (new version of an) alert, already merged into
 * the store (borrowed; groups take references). */
void alert_dispatch_put(alert_dispatch *d, alert_alert *a);

/* alert_dispatch_set_config: switch to cfg (referenced) and rebuild the
 * groups from the store, as Alertmanager does on reload; the notification log
 * prevents repeated notifications. */
void alert_dispatch_set_config(alert_dispatch *d, alert_am_config *cfg);

/* alert_dispatch_groups: current number of aggregation groups. */
size_t alert_dispatch_groups(const alert_dispatch *d);

/* alert_dispatch_receivers: names of the receivers whose routes take ls
 * (for the API's receivers field); writes up to max pointers (borrowed from
 * the config), returns the count. */
size_t alert_dispatch_receivers(const alert_dispatch *d, const osp_labels *ls, const char **out,
                                size_t max);

/* alert_dispatch_muted: silence ids (up to max into ids, count in *nsil) and
 * the inhibiting fingerprint (*inhibited_by, 0 when none) of a. Returns true
 * when a is muted. */
bool alert_dispatch_muted(const alert_dispatch *d, const alert_alert *a, int64_t now_ms,
                          const char **ids, size_t max, size_t *nsil, uint64_t *inhibited_by);

#endif
