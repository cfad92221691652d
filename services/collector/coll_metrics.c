/* coll_metrics.c - registration of the collector's self-metrics (the bus
 * producer's come from osp_daemon_export_producer). */
#include "coll_metrics.h"

#include <stddef.h>

#include "osp_buf.h"

void
coll_metrics_init(coll_metrics *m, osp_metrics *reg)
{
    static const char *const job[] = {"job"};
    m->reg = reg;
    m->scrapes = osp_metrics_counter_vec(reg, "osprey_collector_scrapes_total",
                                         "Scrapes done, by job", 1, job);
    m->failures = osp_metrics_counter_vec(reg, "osprey_collector_scrape_failures_total",
                                          "Scrapes that failed (up=0), by job", 1, job);
    m->targets = osp_metrics_gauge_vec(reg, "osprey_collector_targets",
                                       "Targets currently scraped, by job", 1, job);
    m->samples = osp_metrics_counter(reg, "osprey_collector_samples_scraped_total",
                                     "Samples read from targets");
    m->parse_errors =
        osp_metrics_counter(reg, "osprey_collector_parse_errors_total",
                            "Exposition lines rejected (bad syntax or duplicate series)");
    m->reloads = osp_metrics_counter(reg, "osprey_collector_config_reloads_total",
                                     "Successful configuration reloads");
    m->reload_failures = osp_metrics_counter(reg, "osprey_collector_config_reload_failures_total",
                                             "Configuration reloads that were rejected");
}
