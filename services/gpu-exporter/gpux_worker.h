/* gpux_worker.h - the collection thread: runs a cycle every interval, keeps
 * the last collection rendered for /metrics, and publishes each collection as
 * a MetricBatch through the bus producer. The HTTP loop never waits on NVML. */
#ifndef GPUX_WORKER_H
#define GPUX_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "gpux_collect.h"
#include "metrics.h"
#include "osp_buf.h"
#include "osp_err.h"
#include "osp_labels.h"

typedef struct gpux_worker gpux_worker;

typedef struct gpux_worker_opts {
    gpux_collector *coll;   /* borrowed; used only by the worker's thread */
    osp_bus_producer *prod; /* borrowed; NULL = do not publish */
    int64_t interval_ms;
    const osp_labels *publish_labels; /* job, instance...; copied; may be NULL */
    osp_metrics *reg;                 /* self-metrics (osprey_gpux_*); borrowed */
} gpux_worker_opts;

/* gpux_worker_new: start the thread; the first collection starts at once.
 * *out only on success. Errors: OSP_EIO (thread creation failed). Main thread. */
int gpux_worker_new(const gpux_worker_opts *o, gpux_worker **out, osp_errinfo *ei);

/* gpux_worker_render: append the exposition text of the last collection to
 * out (nothing before the first one). Any thread; holds a lock for a copy. */
void gpux_worker_render(gpux_worker *w, osp_buf *out);

/* gpux_worker_done: collections finished so far. Any thread. */
uint64_t gpux_worker_done(gpux_worker *w);

/* gpux_worker_last_ms: wall-clock end of the last collection (0 before). */
int64_t gpux_worker_last_ms(gpux_worker *w);

/* gpux_worker_reconfigure: interval, publish labels, NVML options for the next
 * cycles (reload). Any thread. */
void gpux_worker_reconfigure(gpux_worker *w, int64_t interval_ms, const osp_labels *labels,
                             bool pcie, bool processes);

/* gpux_worker_free: stop and join the thread (waits for a running collection),
 * free. NULL-safe. Main thread. */
void gpux_worker_free(gpux_worker *w);

#endif
