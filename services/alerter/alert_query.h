/* alert_query.h - the alerter's client of the store's query server: NNG REQ
 * with a QueryRequest, QueryResponse decoded into alert_qresult. */
#ifndef ALERT_QUERY_H
#define ALERT_QUERY_H

#include <stdint.h>

#include "alert_eval.h"
#include "osp_err.h"

typedef struct alert_query alert_query;

/* alert_query_new: dial url in the background (the store need not be up).
 * Errors: OSP_EINVAL (malformed URL). *out only on success. */
int alert_query_new(const char *url, int64_t timeout_ms, alert_query **out, osp_errinfo *ei);

/* alert_query_instant: evaluate expr at t_ms on the store. Vectors fill out;
 * a scalar becomes one sample without labels; matrices and strings are
 * OSP_EINVAL. Errors: OSP_ETIMEDOUT / OSP_EIO / OSP_EUNAVAIL (store away or
 * starting), OSP_EPARSE (bad_data), OSP_EINVAL (execution); the store's
 * message in ei. Thread-safe. */
int alert_query_instant(alert_query *q, const char *expr, int64_t t_ms, alert_qresult *out,
                        osp_errinfo *ei);

/* alert_query_cancel: make a query in flight on the evaluator thread (and any
 * later one) fail at once; for shutdown. Any thread; NULL-safe. */
void alert_query_cancel(alert_query *q);
void alert_query_free(alert_query *q); /* NULL-safe */

#endif
