/* eval_test.c - a range query equals its instant queries step by step: the range driver
 * remembers hashes, matching signatures and derived label sets per series across steps
 * (promql_lset.c), the instant path computes them afresh. The fixture has churn (series
 * that stop, go stale and come back, a one-side series replaced mid-range) so that the
 * remembered facts are tested where they change; errors must come at the same step. */
#include "osp_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "osp_buf.h"
#include "osp_labels.h"
#include "osp_mem.h"
#include "promql.h"

#define STEP_MS 15000
#define NPTS 240 /* one hour */

static void
add(osp_promql_memsource *ms, const char *const *kv, int from, int to, double v0, double slope)
{
    osp_labels l;
    osp_labels_init(&l);
    for (size_t i = 0; kv[i] != NULL; i += 2)
        osp_labels_addc(&l, kv[i], kv[i + 1]);
    for (int k = from; k < to; k++)
        osp_promql_memsource_add(ms, &l, (int64_t)k * STEP_MS, v0 + slope * k);
    if (to < NPTS) /* the series ends: a staleness marker as a scrape would write */
        osp_promql_memsource_add(ms, &l, (int64_t)to * STEP_MS, osp_promql_stale_nan());
    osp_labels_fini(&l);
}

static osp_promql_memsource *
fixture(void)
{
    osp_promql_memsource *ms = osp_promql_memsource_new();
    static const char *const jobs[] = {"a", "b"}, *const insts[] = {"i0", "i1", "i2"};
    static const char *const handlers[] = {"/x", "/y"};
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 3; i++) {
            for (int h = 0; h < 2; h++) {
                const char *kv[] = {"__name__", "req_total", "handler", handlers[h], "instance",
                                    insts[i],   "job",       jobs[j],   NULL};
                int n = j * 6 + i * 2 + h;
                if (n == 3) { /* gone for 20 minutes, then back */
                    add(ms, kv, 0, 60, 0, 3);
                    add(ms, kv, 140, NPTS, 500, 3);
                } else if (n == 7) { /* starts late */
                    add(ms, kv, 100, NPTS, 0, 1.5);
                } else {
                    add(ms, kv, 0, NPTS, 10 * n, 0.25 + n);
                }
            }
            const char *kv[] = {"__name__", "info",    "instance", insts[i], "job",
                                jobs[j],    "version", "1",        NULL};
            if (j == 0 && i == 0) { /* upgraded mid-range: the one side changes series */
                add(ms, kv, 0, 120, 1, 0);
                kv[7] = "2";
                add(ms, kv, 120, NPTS, 1, 0);
            } else {
                add(ms, kv, 0, NPTS, 1, 0);
            }
        }
    static const char *const les[] = {"0.1", "1", "+Inf"};
    for (int b = 0; b < 3; b++) {
        const char *kv[] = {"__name__", "hist_bucket", "job", "a", "le", les[b], NULL};
        add(ms, kv, 0, NPTS, 0, 1 + b);
    }
    const char *d1[] = {"__name__", "dup", "a", "x", "b", "1", NULL};
    const char *d2[] = {"__name__", "dup", "a", "x", "b", "2", NULL};
    add(ms, d1, 0, NPTS, 1, 0);
    add(ms, d2, 180, NPTS, 2, 0); /* label_replace dropping b collides from here */
    /* "Zone" sorts before "__name__": dropping the name rebuilds the array */
    const char *z1[] = {"__name__", "zoned", "Zone", "z1", "job", "a", NULL};
    const char *z2[] = {"__name__", "zoned", "Zone", "z2", "job", "a", NULL};
    add(ms, z1, 0, NPTS, 5, 2);
    add(ms, z2, 30, 200, 7, 3);
    return ms;
}

static void
labels_key(osp_buf *b, const osp_label *l, size_t n)
{
    osp_buf_reset(b);
    for (size_t i = 0; i < n; i++)
        osp_buf_printf(b, "%s=%s,", l[i].name, l[i].value);
}

static bool
same_value(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* check_query: the range result (or error) over [start, end] equals the instant results
 * (or the first instant error) at every step. */
static void
check_query(osp_promql_memsource *ms, const char *q, int64_t start, int64_t end, int64_t step)
{
    osp_promql_expr *e;
    osp_errinfo ei;
    if (osp_promql_parse(q, strlen(q), &e, &ei) != 0)
        fail_msg("%s: %s", q, ei.msg);
    osp_promql_source src = osp_promql_memsource_source(ms);
    osp_promql_result *rr = NULL;
    osp_errinfo rei = {0};
    int rrc = osp_promql_eval_range(e, &src, start, end, step, NULL, &rr, &rei);
    osp_buf k1, k2;
    osp_buf_init(&k1);
    osp_buf_init(&k2);
    size_t *seen = NULL; /* points of each range series matched so far */
    if (rrc == 0)
        seen = osp_calloc(rr->nseries + 1, sizeof(*seen));
    size_t total = 0;
    for (int64_t t = start; t <= end; t += step) {
        osp_promql_result *ir;
        int irc = osp_promql_eval_instant(e, &src, t, NULL, &ir, &ei);
        if (irc != 0) {
            if (rrc == 0)
                fail_msg("%s: instant error at %lld (%s), range succeeded", q, (long long)t,
                         ei.msg);
            if (rrc != irc || strcmp(rei.msg, ei.msg) != 0)
                fail_msg("%s: range error %d %s, instant at %lld %d %s", q, rrc, rei.msg,
                         (long long)t, irc, ei.msg);
            osp_promql_expr_free(e);
            osp_buf_fini(&k1);
            osp_buf_fini(&k2);
            return;
        }
        if (rrc != 0) { /* the range query must fail at a later step */
            osp_promql_result_free(ir);
            continue;
        }
        size_t n = ir->type == OSP_PROMQL_SCALAR ? 1 : ir->nseries;
        for (size_t i = 0; i < n; i++) {
            double v = ir->type == OSP_PROMQL_SCALAR ? ir->scalar : ir->series[i].pts[0].v;
            if (ir->type == OSP_PROMQL_SCALAR)
                labels_key(&k1, NULL, 0);
            else
                labels_key(&k1, ir->series[i].labels, ir->series[i].nlabels);
            size_t j = 0;
            for (; j < rr->nseries; j++) {
                labels_key(&k2, rr->series[j].labels, rr->series[j].nlabels);
                if (strcmp(osp_buf_cstr(&k1), osp_buf_cstr(&k2)) == 0)
                    break;
            }
            if (j == rr->nseries)
                fail_msg("%s: at %lld the range result lacks {%s}", q, (long long)t,
                         osp_buf_cstr(&k1));
            const osp_promql_series *s = &rr->series[j];
            if (seen[j] >= s->npts || s->pts[seen[j]].t != t || !same_value(s->pts[seen[j]].v, v))
                fail_msg("%s: {%s} at %lld: instant %.17g, range differs", q, osp_buf_cstr(&k1),
                         (long long)t, v);
            seen[j]++;
            total++;
        }
        osp_promql_result_free(ir);
    }
    if (rrc != 0)
        fail_msg("%s: range error %s, every instant fine", q, rei.msg);
    size_t rtotal = 0;
    for (size_t j = 0; j < rr->nseries; j++)
        rtotal += rr->series[j].npts;
    if (rtotal != total)
        fail_msg("%s: range has %zu points, instants %zu", q, rtotal, total);
    osp_free(seen);
    osp_promql_result_free(rr);
    osp_promql_expr_free(e);
    osp_buf_fini(&k1);
    osp_buf_fini(&k2);
}

static const char *const queries[] = {
    "req_total",
    "-req_total",
    "req_total * 2",
    "req_total == bool 20",
    "abs(req_total) > 100",
    "rate(req_total[5m])",
    "rate(req_total[5m:1m])",
    "rate(req_total[5m]) * on(job, instance) group_left(version) info",
    "req_total * on(job, instance) group_left(version) info",
    "info * on(job, instance) group_right(version) rate(req_total[5m])",
    "req_total / ignoring(handler) group_left sum without (handler) (req_total)",
    "req_total > on(job, instance, handler) req_total offset 1m",
    "req_total - ignoring(version) req_total",
    "req_total > bool on(job, instance, handler) req_total offset 2m",
    "req_total and on(instance) info",
    "req_total unless on(job, instance) info{version=\"2\"}",
    "req_total or info",
    "info * on(job, instance) info",
    "sum by (job) (rate(req_total[5m]))",
    "sum without (instance) (req_total)",
    "sum by (job) (rate(req_total[5m])) / on(job) group_left count by (job) (info)",
    "avg by (handler) (req_total) + on(handler) group_right sum by (handler, job) (req_total)",
    "count_values(\"v\", info)",
    "count_values(\"handler\", req_total)",
    "topk(2, rate(req_total[5m]))",
    "bottomk(1, req_total) by (job)",
    "quantile by (job) (0.5, req_total)",
    "histogram_quantile(0.9, sum by (le) (rate(hist_bucket[5m])))",
    "histogram_quantile(0.5, rate(hist_bucket[5m]))",
    "label_replace(req_total, \"handler\", \"z\", \"handler\", \"/x\")",
    "label_replace(dup, \"b\", \"\", \"\", \"\")",
    "req_total * on(job) group_left info",
    "sum by (instance) (req_total) * on(instance) info",
    "scalar(sum(req_total))",
    "time()",
    "timestamp(req_total)",
    "absent(nope)",
    "last_over_time(info[10m])",
    "topk(3, req_total) by (job) / on(job, instance, handler) req_total",
    "sum by (job) (topk(2, req_total) by (instance))",
    "-zoned",
    "zoned * 2",
    "abs(zoned)",
    "rate(zoned[5m])",
    "rate(zoned[5m]) + on(Zone) group_left zoned",
};

static void
test_range_equals_instants(void **state)
{
    (void)state;
    osp_promql_memsource *ms = fixture();
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        check_query(ms, queries[i], 0, (NPTS - 1) * STEP_MS, 60000);
        check_query(ms, queries[i], 7000, (NPTS - 1) * STEP_MS, 45000);
    }
    osp_promql_memsource_free(ms);
}

/* The range error for a labelset collision names the same fault as the instant one and
 * comes at the first colliding step, not before. */
static void
test_range_duplicate_labelset(void **state)
{
    (void)state;
    osp_promql_memsource *ms = fixture();
    const char *q = "label_replace(dup, \"b\", \"\", \"\", \"\")";
    osp_promql_expr *e;
    osp_errinfo ei;
    assert_int_equal(osp_promql_parse(q, strlen(q), &e, &ei), 0);
    osp_promql_source src = osp_promql_memsource_source(ms);
    osp_promql_result *r;
    assert_int_equal(osp_promql_eval_range(e, &src, 0, 170 * STEP_MS, 60000, NULL, &r, &ei), 0);
    assert_int_equal(r->nseries, 1);
    osp_promql_result_free(r);
    assert_int_equal(osp_promql_eval_range(e, &src, 0, 200 * STEP_MS, 60000, NULL, &r, &ei),
                     OSP_EINVAL);
    assert_string_equal(ei.msg, "vector cannot contain metrics with the same labelset");
    osp_promql_expr_free(e);
    osp_promql_memsource_free(ms);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_range_equals_instants),
                                       cmocka_unit_test(test_range_duplicate_labelset)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
