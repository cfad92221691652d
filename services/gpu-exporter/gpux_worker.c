/* gpux_worker.c - the collection thread: cycle, render, swap under a mutex,
 * publish; sleeps on a condition variable (monotonic clock) until the next
 * deadline so that stopping is immediate. */
#include "gpux_worker.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "osp_mem.h"
#include "osp_time.h"

struct gpux_worker {
    gpux_collector *coll;
    osp_bus_producer *prod;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    bool stop;
    int64_t interval_ms;
    osp_labels labels;
    bool opts_changed, pcie, processes;
    osp_buf text;
    uint64_t done;
    int64_t last_ms;
    /* self-metrics */
    osp_metric *m_collections, *m_publish_errors, *m_series;
};

static void
publish(gpux_worker *w, const gpux_snap *s, const osp_labels *labels, osp_mbatch *b, osp_buf *pb)
{
    osp_mbatch_reset(b);
    osp_buf_reset(pb);
    gpux_snap_to_batch(s, labels, b);
    osp_mbatch_encode(b, pb);
    int rc = osp_bus_producer_send(w->prod, 'm', pb->data, pb->len);
    if (rc) {
        osp_metric_inc(w->m_publish_errors);
        osp_log(OSP_LOG_WARN, "gpu-exporter", "cannot publish a collection", "error",
                osp_err_str(rc), NULL);
    }
}

static void *
run(void *arg)
{
    gpux_worker *w = arg;
    gpux_snap s;
    gpux_snap_init(&s);
    osp_buf text, pb;
    osp_buf_init(&text);
    osp_buf_init(&pb);
    osp_labels labels;
    osp_labels_init(&labels);
    osp_mbatch *b = osp_mbatch_new();
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        int64_t interval = w->interval_ms;
        osp_labels_copy(&labels, &w->labels);
        if (w->opts_changed) {
            gpux_collector_set_options(w->coll, w->pcie, w->processes);
            w->opts_changed = false;
        }
        pthread_mutex_unlock(&w->mu);

        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        gpux_collector_collect(w->coll, &s);
        osp_buf_reset(&text);
        gpux_snap_render(&s, &text);
        osp_metric_inc(w->m_collections);
        osp_metric_set(w->m_series, (double)s.n);

        pthread_mutex_lock(&w->mu);
        osp_buf tmp = w->text;
        w->text = text;
        text = tmp;
        w->done++;
        w->last_ms = osp_now_ms();
        pthread_mutex_unlock(&w->mu);

        if (w->prod)
            publish(w, &s, &labels, b, &pb);

        struct timespec dl = t0;
        osp_timespec_add_ms(&dl, interval);
        pthread_mutex_lock(&w->mu);
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &dl) == 0)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    osp_mbatch_free(b);
    osp_labels_fini(&labels);
    osp_buf_fini(&pb);
    osp_buf_fini(&text);
    gpux_snap_fini(&s);
    return NULL;
}

int
gpux_worker_new(const gpux_worker_opts *o, gpux_worker **out, osp_errinfo *ei)
{
    gpux_worker *w = osp_calloc(1, sizeof(*w));
    w->coll = o->coll;
    w->prod = o->prod;
    w->interval_ms = o->interval_ms > 0 ? o->interval_ms : 5000;
    osp_labels_init(&w->labels);
    if (o->publish_labels)
        osp_labels_copy(&w->labels, o->publish_labels);
    osp_buf_init(&w->text);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->m_collections =
        osp_metrics_counter(o->reg, "osprey_gpux_collections_total", "GPU collections done");
    w->m_publish_errors =
        osp_metrics_counter(o->reg, "osprey_gpux_publish_errors_total",
                            "Collections that could not be handed to the producer");
    w->m_series =
        osp_metrics_gauge(o->reg, "osprey_gpux_series", "Series in the last GPU collection");
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        osp_errinfo_set(ei, OSP_EIO, 0, 0, "cannot start the collection thread");
        gpux_worker_free(w);
        return OSP_EIO;
    }
    w->started = true;
    *out = w;
    return 0;
}

void
gpux_worker_render(gpux_worker *w, osp_buf *out)
{
    pthread_mutex_lock(&w->mu);
    osp_buf_append(out, w->text.data, w->text.len);
    pthread_mutex_unlock(&w->mu);
}

uint64_t
gpux_worker_done(gpux_worker *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t d = w->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

int64_t
gpux_worker_last_ms(gpux_worker *w)
{
    pthread_mutex_lock(&w->mu);
    int64_t t = w->last_ms;
    pthread_mutex_unlock(&w->mu);
    return t;
}

void
gpux_worker_reconfigure(gpux_worker *w, int64_t interval_ms, const osp_labels *labels, bool pcie,
                        bool processes)
{
    pthread_mutex_lock(&w->mu);
    if (interval_ms > 0)
        w->interval_ms = interval_ms;
    osp_labels_reset(&w->labels);
    if (labels)
        osp_labels_copy(&w->labels, labels);
    w->pcie = pcie;
    w->processes = processes;
    w->opts_changed = true;
    pthread_mutex_unlock(&w->mu);
}

void
gpux_worker_free(gpux_worker *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    osp_labels_fini(&w->labels);
    osp_buf_fini(&w->text);
    osp_free(w);
}
