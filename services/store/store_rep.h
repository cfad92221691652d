/* store_rep.h - the store's NNG query server (DESIGN "Wire protocol"): a REP
 * socket on the configured `query` URL answering QueryRequest with
 * QueryResponse, evaluated by libs/promql over the head like /api/v1/query
 * and /api/v1/query_range. The alerter's rule evaluation is its client. */
#ifndef STORE_REP_H
#define STORE_REP_H

#include <stdint.h>

#include "osp_err.h"
#include "store_head.h"
#include "store_ingest.h"
#include "store_pg.h"
#include "store_stats.h"

typedef struct store_rep store_rep;

/* Settings of the query server. head (and ingest, stats when not NULL) are
 * borrowed and must outlive the server. */
typedef struct store_rep_opts {
    const char *url;          /* REP listen URL, e.g. "tcp://127.0.0.1:7203" */
    store_head *head;         /* evaluated over */
    const char *conninfo;     /* PostgreSQL, for chunks older than the head window
                               * (the server thread's own connection); NULL: memory only */
    store_ingest *ingest;     /* readiness (head replayed); NULL = always ready */
    store_stats *stats;       /* counts queries; may be NULL */
    int64_t lookback_ms;      /* as store_api */
    int64_t query_timeout_ms; /* cap of the request's timeout_ms; 0 = none */
    uint64_t max_samples;
} store_rep_opts;

/* store_rep_start: listen on o->url and start the server thread. *out only on
 * success. Errors: OSP_EINVAL (malformed URL), OSP_EIO (cannot listen; ei
 * says why). Main thread. */
int store_rep_start(const store_rep_opts *o, store_rep **out, osp_errinfo *ei);

/* store_rep_set_limits: change lookback, timeout cap and max_samples (reload);
 * applied to the next request. Any thread. */
void store_rep_set_limits(store_rep *r, int64_t lookback_ms, int64_t query_timeout_ms,
                          uint64_t max_samples);

/* store_rep_stop: stop the thread (a query being evaluated finishes first),
 * close the socket, free r. NULL-safe. Main thread. */
void store_rep_stop(store_rep *r);

#endif
