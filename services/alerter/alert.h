/* alert.h - the alert object of the dispatcher (immutable once published,
 * shared by reference between the alert store, aggregation groups and
 * notification jobs on the notifier thread) and the alert store (fingerprint ->
 * newest alert), which serves GET /api/v2/alerts and inhibition. */
#ifndef ALERT_H
#define ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osp_labels.h"

/* One alert. Fields are read-only after alert_alert_new returns it to the
 * caller that filled it; references are atomic, so any thread may hold one. */
typedef struct alert_alert {
    osp_labels labels;      /* sorted, no empty values */
    osp_labels annotations; /* sorted */
    int64_t starts_ms;
    int64_t ends_ms;    /* 0 = unknown */
    int64_t updated_ms; /* when this version was received */
    bool timeout;       /* ends_ms was derived from resolve_timeout */
    char *generator_url;
    uint64_t fp;
    int refs; /* private */
} alert_alert;

/* alert_alert_new: a zeroed alert with one reference (labels etc. inited). */
alert_alert *alert_alert_new(void);
/* alert_alert_ref / alert_alert_unref: atomic reference counting; the last
 * unref frees. unref is NULL-safe. Any thread. */
alert_alert *alert_alert_ref(alert_alert *a);
void alert_alert_unref(alert_alert *a);
/* alert_alert_seal: sort labels/annotations and compute fp. Call once, before sharing. */
void alert_alert_seal(alert_alert *a);
/* alert_alert_resolved: ends_ms set and <= now. */
bool alert_alert_resolved(const alert_alert *a, int64_t now_ms);

/* alert_fingerprint: Alertmanager's fingerprint of a sorted label set
 * (FNV-1a 64 over name 0xFF value 0xFF ...). */
uint64_t alert_fingerprint(const osp_labels *sorted);
/* alert_fp_str: "%016x" of fp into out (>= 17 bytes). */
void alert_fp_str(uint64_t fp, char *out);

/* ---- alert store (loop thread only) ---- */

typedef struct alert_store alert_store;

alert_store *alert_store_new(void);
/* alert_store_free: drop every reference; NULL-safe. */
void alert_store_free(alert_store *s);
/* alert_store_merge: merge incoming (a sealed alert; the store takes one
 * reference on success... always, the caller keeps its own) with the stored
 * alert of the same fingerprint the way Alertmanager does (an overlapping
 * older alert: startsAt = earliest, endsAt/annotations/URL from the newer
 * one; a resolved stored alert is replaced). *out gets the stored version
 * (borrowed: take a ref to keep it). */
void alert_store_merge(alert_store *s, alert_alert *incoming, int64_t now_ms, alert_alert **out);
/* alert_store_get: the alert with fp or NULL (borrowed). */
alert_alert *alert_store_get(const alert_store *s, uint64_t fp);
/* alert_store_count: number of alerts. */
size_t alert_store_count(const alert_store *s);
/* alert_store_each: call fn for every alert (order unspecified); fn must not change s. */
void alert_store_each(const alert_store *s, void (*fn)(void *ctx, alert_alert *a), void *ctx);
/* alert_store_gc: delete alerts resolved before now_ms - retention_ms; returns how many. */
size_t alert_store_gc(alert_store *s, int64_t now_ms, int64_t retention_ms);

#endif
