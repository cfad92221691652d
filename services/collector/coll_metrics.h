/* coll_metrics.h - the collector's self-metrics (osprey_collector_*) and the
 * bus producer's (osprey_bus_*), registered in the daemon's registry. */
#ifndef COLL_METRICS_H
#define COLL_METRICS_H

#include "bus.h"
#include "metrics.h"

typedef struct coll_metrics {
    osp_metrics *reg;            /* borrowed */
    osp_metric *scrapes;         /* counter vec {job} */
    osp_metric *failures;        /* counter vec {job} */
    osp_metric *targets;         /* gauge vec {job} */
    osp_metric *samples;         /* counter */
    osp_metric *parse_errors;    /* counter */
    osp_metric *reloads;         /* counter */
    osp_metric *reload_failures; /* counter */
} coll_metrics;

/* coll_metrics_init: register the collector's metrics in reg (borrowed). */
void coll_metrics_init(coll_metrics *m, osp_metrics *reg);

#endif
