/* registry_test.c - exact exposition output of the self-metrics registry,
 * escaping, histograms, vec children, and concurrent updates. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "osp_test.h"

static void
render_eq(osp_metrics *reg, const char *want)
{
    osp_buf b;
    osp_buf_init(&b);
    osp_metrics_render(reg, &b);
    assert_string_equal(osp_buf_cstr(&b), want);
    osp_buf_fini(&b);
}

static void
test_counter_gauge(void **state)
{
    (void)state;
    osp_metrics *reg = osp_metrics_new();
    osp_metric *c = osp_metrics_counter(reg, "osprey_things_total", "Things done.");
    osp_metric *g = osp_metrics_gauge(reg, "osprey_queue_length", "Queue \\ length\nnow.");
    osp_metric_inc(c);
    osp_metric_add(c, 2.5);
    osp_metric_add(c, -1); /* ignored for counters */
    osp_metric_set(g, 1e6);
    osp_metric_dec(g);
    osp_metric_add(g, 1);
    assert_true(osp_metric_value(c) == 3.5);
    /* Registering again returns the same metric. */
    assert_ptr_equal(osp_metrics_counter(reg, "osprey_things_total", "x"), c);
    render_eq(reg, "# HELP osprey_queue_length Queue \\\\ length\\nnow.\n"
                   "# TYPE osprey_queue_length gauge\n"
                   "osprey_queue_length 1e+06\n"
                   "# HELP osprey_things_total Things done.\n"
                   "# TYPE osprey_things_total counter\n"
                   "osprey_things_total 3.5\n");
    osp_metrics_free(reg);
}

static void
test_vec_escaping_remove(void **state)
{
    (void)state;
    osp_metrics *reg = osp_metrics_new();
    const char *names[] = {"code", "path"};
    osp_metric *v = osp_metrics_counter_vec(reg, "osprey_req_total", "Requests.", 2, names);
    const char *a[] = {"200", "/a\"b\\c\nd"};
    const char *b[] = {"200", "/"};
    const char *c[] = {"404", "/x"};
    osp_metric *ma = osp_metric_with(v, a);
    assert_ptr_equal(osp_metric_with(v, a), ma);
    osp_metric_inc(ma);
    osp_metric_add(osp_metric_with(v, b), 2);
    osp_metric_inc(osp_metric_with(v, c));
    render_eq(reg, "# HELP osprey_req_total Requests.\n"
                   "# TYPE osprey_req_total counter\n"
                   "osprey_req_total{code=\"200\",path=\"/\"} 2\n"
                   "osprey_req_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1\n"
                   "osprey_req_total{code=\"404\",path=\"/x\"} 1\n");
    assert_true(osp_metric_remove(v, c));
    assert_false(osp_metric_remove(v, c));
    osp_metric_remove(v, a);
    osp_metric_remove(v, b);
    render_eq(reg, ""); /* a vec without visible children prints nothing */
    assert_ptr_equal(osp_metric_with(v, c), osp_metric_with(v, c));
    assert_true(osp_metric_value(osp_metric_with(v, c)) == 0); /* revived at 0 */
    osp_metrics_free(reg);
}

static void
test_histogram(void **state)
{
    (void)state;
    osp_metrics *reg = osp_metrics_new();
    const double bk[] = {0.005, 0.5, 1, 2.5};
    osp_metric *h = osp_metrics_histogram(reg, "osprey_lat_seconds", "Latency.", bk, 4);
    osp_metric_observe(h, 0.001);
    osp_metric_observe(h, 0.5);
    osp_metric_observe(h, 1);
    osp_metric_observe(h, 100);
    render_eq(reg, "# HELP osprey_lat_seconds Latency.\n"
                   "# TYPE osprey_lat_seconds histogram\n"
                   "osprey_lat_seconds_bucket{le=\"0.005\"} 1\n"
                   "osprey_lat_seconds_bucket{le=\"0.5\"} 2\n"
                   "osprey_lat_seconds_bucket{le=\"1\"} 3\n"
                   "osprey_lat_seconds_bucket{le=\"2.5\"} 3\n"
                   "osprey_lat_seconds_bucket{le=\"+Inf\"} 4\n"
                   "osprey_lat_seconds_sum 101.501\n"
                   "osprey_lat_seconds_count 4\n");
    const char *ln[] = {"handler"};
    osp_metric *hv = osp_metrics_histogram_vec(reg, "osprey_h", "H.", bk, 1, 1, ln);
    const char *lv[] = {"/q"};
    osp_metric_observe(osp_metric_with(hv, lv), 0.001);
    osp_buf b;
    osp_buf_init(&b);
    osp_metrics_render(reg, &b);
    assert_non_null(strstr(b.data, "osprey_h_bucket{handler=\"/q\",le=\"0.005\"} 1\n"
                                   "osprey_h_bucket{handler=\"/q\",le=\"+Inf\"} 1\n"
                                   "osprey_h_sum{handler=\"/q\"} 0.001\n"
                                   "osprey_h_count{handler=\"/q\"} 1\n"));
    osp_buf_fini(&b);
    osp_metrics_free(reg);
}

static double
fortytwo(void *ctx)
{
    return *(double *)ctx;
}

static void
extra(void *ctx, osp_buf *out)
{
    (void)ctx;
    osp_buf_puts(out, "# TYPE gpu_x gauge\ngpu_x{gpu=\"0\"} 1\n");
}

static void
test_func_collector_process(void **state)
{
    (void)state;
    osp_metrics *reg = osp_metrics_new();
    double v = 42;
    osp_metrics_gauge_func(reg, "osprey_answer", "The answer.", fortytwo, &v);
    osp_metrics_counter_func(reg, "osprey_drops_total", "Drops.", fortytwo, &v);
    osp_metrics_add_collector(reg, extra, NULL);
    render_eq(reg, "# HELP osprey_answer The answer.\n# TYPE osprey_answer gauge\n"
                   "osprey_answer 42\n"
                   "# HELP osprey_drops_total Drops.\n# TYPE osprey_drops_total counter\n"
                   "osprey_drops_total 42\n"
                   "# TYPE gpu_x gauge\ngpu_x{gpu=\"0\"} 1\n");
    osp_metrics_add_process(reg);
    osp_metrics_add_process(reg);
    osp_buf b;
    osp_buf_init(&b);
    osp_metrics_render(reg, &b);
    assert_non_null(strstr(b.data, "\nprocess_cpu_seconds_total "));
    assert_non_null(strstr(b.data, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(b.data, "\nprocess_start_time_seconds "));
    assert_non_null(strstr(b.data, "\nprocess_open_fds "));
    char *p = strstr(b.data, "\nprocess_cpu_seconds_total ");
    assert_ptr_equal(strstr(p + 1, "\nprocess_cpu_seconds_total "), NULL); /* only once */
    osp_buf_fini(&b);
    osp_metrics_free(reg);
}

#define THREADS 4
#define ITERS 100000

typedef struct {
    osp_metrics *reg;
    int id;
} worker_arg;

static void *
worker(void *p)
{
    worker_arg *w = p;
    osp_metric *c = osp_metrics_counter(w->reg, "osprey_c_total", "C.");
    osp_metric *h = osp_metrics_histogram(w->reg, "osprey_h_seconds", "H.", NULL, 0);
    const char *names[] = {"worker"};
    osp_metric *v = osp_metrics_counter_vec(w->reg, "osprey_v_total", "V.", 1, names);
    char id[8];
    snprintf(id, sizeof(id), "%d", w->id % 2);
    const char *vals[] = {id};
    for (int i = 0; i < ITERS; i++) {
        osp_metric_inc(c);
        osp_metric_observe(h, 0.1);
        osp_metric_inc(osp_metric_with(v, vals));
    }
    return NULL;
}

static void
test_concurrent(void **state)
{
    (void)state;
    osp_metrics *reg = osp_metrics_new();
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){reg, i};
        pthread_create(&t[i], NULL, worker, &args[i]);
    }
    osp_buf b;
    osp_buf_init(&b);
    for (int i = 0; i < 20; i++) { /* render while updating */
        osp_buf_reset(&b);
        osp_metrics_render(reg, &b);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(osp_metric_value(osp_metrics_counter(reg, "osprey_c_total", "C.")) ==
                THREADS * ITERS);
    assert_true(osp_metric_value(osp_metrics_histogram(reg, "osprey_h_seconds", "H.", NULL, 0)) ==
                THREADS * ITERS);
    osp_buf_reset(&b);
    osp_metrics_render(reg, &b);
    assert_non_null(strstr(b.data, "osprey_v_total{worker=\"0\"} 200000\n"));
    assert_non_null(strstr(b.data, "osprey_h_seconds_count 400000\n"));
    osp_buf_fini(&b);
    osp_metrics_free(reg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge), cmocka_unit_test(test_vec_escaping_remove),
        cmocka_unit_test(test_histogram),     cmocka_unit_test(test_func_collector_process),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
