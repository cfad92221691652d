/* coll_metrics.c - registration of self-metrics; bus producer stats are read
 * at render time through function metrics and a collector for the histogram. */
#include "coll_metrics.h"

#include <stddef.h>

#include "expfmt.h"
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
    m->parse_errors = osp_metrics_counter(reg, "osprey_collector_parse_errors_total",
                                          "Exposition lines rejected (bad syntax or duplicate series)");
    m->reloads = osp_metrics_counter(reg, "osprey_collector_config_reloads_total",
                                     "Successful configuration reloads");
    m->reload_failures = osp_metrics_counter(reg, "osprey_collector_config_reload_failures_total",
                                             "Configuration reloads that were rejected");
}

static osp_bus_producer_stats
snap(void *ctx)
{
    osp_bus_producer_stats s;
    osp_bus_producer_get_stats(ctx, &s);
    return s;
}

#define STAT_FN(field)                                                                             \
    static double stat_##field(void *ctx) { return (double)snap(ctx).field; }
STAT_FN(spool_bytes)
STAT_FN(spool_entries)
STAT_FN(resends)
STAT_FN(dropped_batches)
STAT_FN(dropped_bytes)
STAT_FN(sent_batches)
STAT_FN(acked_batches)
STAT_FN(publish_errors)
STAT_FN(spool_file_errors)

static void
render_latency(void *ctx, osp_buf *out)
{
    osp_bus_producer_stats s = snap(ctx);
    const char *name = "osprey_bus_ack_latency_seconds";
    osp_expfmt_write_help(out, name, "Time from the first publish of a batch to its ack");
    osp_expfmt_write_type(out, name, "histogram");
    for (int i = 0; i < OSP_BUS_LAT_BUCKETS; i++) {
        char le[32];
        osp_expfmt_format_float_label(le, osp_bus_ack_latency_bounds[i]);
        osp_buf_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name, le,
                       (unsigned long long)s.ack_latency_bucket[i]);
    }
    osp_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                   (unsigned long long)s.ack_latency_count);
    char v[32];
    osp_fmt_double_expfmt(v, s.ack_latency_sum);
    osp_buf_printf(out, "%s_sum %s\n%s_count %llu\n", name, v, name,
                   (unsigned long long)s.ack_latency_count);
}

void
coll_metrics_add_bus(osp_metrics *reg, osp_bus_producer *p)
{
    osp_metrics_gauge_func(reg, "osprey_bus_spool_bytes", "Bytes of unacked batches in the spool",
                           stat_spool_bytes, p);
    osp_metrics_gauge_func(reg, "osprey_bus_spool_entries", "Unacked batches in the spool",
                           stat_spool_entries, p);
    osp_metrics_counter_func(reg, "osprey_bus_resends_total", "Batches published again",
                             stat_resends, p);
    osp_metrics_counter_func(reg, "osprey_bus_dropped_batches_total",
                             "Batches dropped because the spool was full", stat_dropped_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_dropped_bytes_total",
                             "Bytes dropped because the spool was full", stat_dropped_bytes, p);
    osp_metrics_counter_func(reg, "osprey_bus_sent_batches_total", "Batches sent",
                             stat_sent_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_acked_batches_total", "Batches acked by a store",
                             stat_acked_batches, p);
    osp_metrics_counter_func(reg, "osprey_bus_publish_errors_total",
                             "Failed publishes (the batch is resent later)", stat_publish_errors, p);
    osp_metrics_counter_func(reg, "osprey_bus_spool_file_errors_total",
                             "Failed spool file writes or reads", stat_spool_file_errors, p);
    osp_metrics_add_collector(reg, render_latency, p);
}
