/* metrics.h - self-metrics registry of every daemon: counters, gauges and
 * histograms (optionally labelled), updated from any thread, rendered as the
 * Prometheus text exposition format 0.0.4 on the HTTP loop. */
#ifndef OSP_METRICS_H
#define OSP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "osp_buf.h"

typedef struct osp_metrics osp_metrics; /* a registry */
typedef struct osp_metric osp_metric;   /* one series, or a vec (family with labels) */

/* osp_metrics_new: an empty registry. Never NULL (aborts on OOM). The registry
 * owns every metric created through it; free it after all users are gone. */
osp_metrics *osp_metrics_new(void);

/* osp_metrics_free: free the registry and all its metrics; NULL-safe. No other
 * thread may use the registry or any of its metrics during or after the call. */
void osp_metrics_free(osp_metrics *reg);

/* Registration (any thread; takes the registry lock).
 * name must be a valid metric name, help any text (escaped on output), label
 * names valid and not "le" for histograms. Registering a name again with the
 * same type and label names returns the existing metric (so modules may
 * register idempotently); a conflicting type, label set or an invalid name is
 * a programming error and aborts with a message. The returned pointer is owned
 * by the registry and stays valid until osp_metrics_free. */

/* osp_metrics_counter: a monotonic counter (render: TYPE counter). */
osp_metric *osp_metrics_counter(osp_metrics *reg, const char *name, const char *help);
/* osp_metrics_gauge: a gauge that can go up and down. */
osp_metric *osp_metrics_gauge(osp_metrics *reg, const char *name, const char *help);
/* osp_metrics_histogram: a histogram with nb upper bounds (strictly increasing,
 * copied; +Inf is implicit and must not be given). buckets NULL or nb 0 ->
 * osp_metrics_default_buckets (client_golang's DefBuckets). */
osp_metric *osp_metrics_histogram(osp_metrics *reg, const char *name, const char *help,
                                  const double *buckets, size_t nb);

/* osp_metrics_counter_vec / gauge_vec / histogram_vec: families with label
 * names (copied). Use osp_metric_with to get a child series. A vec itself
 * cannot be incremented (aborts). */
osp_metric *osp_metrics_counter_vec(osp_metrics *reg, const char *name, const char *help,
                                    size_t nlabels, const char *const *label_names);
osp_metric *osp_metrics_gauge_vec(osp_metrics *reg, const char *name, const char *help,
                                  size_t nlabels, const char *const *label_names);
osp_metric *osp_metrics_histogram_vec(osp_metrics *reg, const char *name, const char *help,
                                      const double *buckets, size_t nb, size_t nlabels,
                                      const char *const *label_names);

/* osp_metric_with: get or create the child of vec with the given label values
 * (nlabels strings, copied; any bytes, escaped on output). The child stays
 * valid until osp_metrics_free, so callers on hot paths should keep it. Any
 * thread (takes the registry lock; cheap but not free). */
osp_metric *osp_metric_with(osp_metric *vec, const char *const *label_values);

/* osp_metric_remove: stop rendering the child of vec with these label values
 * (a target that went away). Its memory and pointer stay valid; a later
 * osp_metric_with with the same values revives it with its value reset to 0.
 * Returns true when such a child existed. Any thread. */
bool osp_metric_remove(osp_metric *vec, const char *const *label_values);

/* Updates: lock-free atomics, any thread. m must be a non-vec metric (or a
 * child) of a fitting type, else the process aborts (programming error). */

/* osp_metric_inc: counter or gauge += 1. */
void osp_metric_inc(osp_metric *m);
/* osp_metric_add: counter += v (v >= 0, negative is ignored for counters) or gauge += v. */
void osp_metric_add(osp_metric *m, double v);
/* osp_metric_dec: gauge -= 1. */
void osp_metric_dec(osp_metric *m);
/* osp_metric_set: gauge = v (also allowed on counters, for values mirrored from
 * another counter, e.g. NNG's drop counts). */
void osp_metric_set(osp_metric *m, double v);
/* osp_metric_observe: histogram observation (v counted in every bucket >= v). */
void osp_metric_observe(osp_metric *m, double v);
/* osp_metric_value: current value of a counter/gauge, or the observation count
 * of a histogram (tests, internal decisions). */
double osp_metric_value(const osp_metric *m);

/* osp_metrics_gauge_func / osp_metrics_counter_func: a metric whose value is
 * computed at render time by fn(ctx), called on the rendering thread with the
 * registry lock NOT held (fn may use other metrics). ctx is borrowed and must
 * outlive the registry (or the registry must be freed first). */
void osp_metrics_gauge_func(osp_metrics *reg, const char *name, const char *help,
                            double (*fn)(void *ctx), void *ctx);
void osp_metrics_counter_func(osp_metrics *reg, const char *name, const char *help,
                              double (*fn)(void *ctx), void *ctx);

/* osp_metrics_add_collector: fn(ctx, out) appends complete exposition text
 * (HELP/TYPE/samples, e.g. per-GPU metrics with dynamic label sets) to out at
 * render time, after the registry's own families. Called on the rendering
 * thread without the registry lock. */
void osp_metrics_add_collector(osp_metrics *reg, void (*fn)(void *ctx, osp_buf *out), void *ctx);

/* osp_metrics_add_process: register process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_start_time_seconds, process_open_fds and process_max_fds, read from
 * /proc/self at render time (absent values are skipped, not errors). Idempotent. */
void osp_metrics_add_process(osp_metrics *reg);

/* osp_metrics_render: append the text exposition 0.0.4 of every family to out,
 * families sorted by name, children by label values: "# HELP", "# TYPE", then
 * samples; values in Go 'g' style (osp_fmt_double_expfmt); histograms as
 * _bucket{le="..."} (cumulative, ending with le="+Inf"), _sum and _count.
 * Label values are escaped (\\, \", \n), HELP text too (\\, \n). Any thread
 * (usually the HTTP loop); a concurrent update is seen or not, never torn. */
void osp_metrics_render(osp_metrics *reg, osp_buf *out);

/* OSP_METRICS_CONTENT_TYPE: the Content-Type of osp_metrics_render's output. */
#define OSP_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* osp_metrics_default_buckets: {.005,.01,.025,.05,.1,.25,.5,1,2.5,5,10}; *nb gets 11. */
const double *osp_metrics_default_buckets(size_t *nb);

#endif
