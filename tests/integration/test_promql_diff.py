"""Differential PromQL test: the same generated data goes into Debian's prometheus 2.42 (blocks
written by `promtool tsdb create-blocks-from openmetrics`) and into the store (import endpoint);
a few hundred generated queries run on both through the HTTP API (instant at several times and
range), and the JSON results must agree: the same series (set equality by labels), the same
timestamps, values within 1e-6 relative (NaN equals NaN). A mismatch is a bug, not a skip;
ALLOWED below lists documented Prometheus quirks (empty today).
Bucket bounds are written in canonical float form (le="1.0"): the store's text parser
normalises le/quantile values (Prometheus 3 style), Prometheus 2.42 keeps them as written."""
import json
import math
import os
import random
import subprocess
import time

import osprey_harness as h

STEP_S = 15
HOURS = 2
SEED = int(os.environ.get("OSP_DIFF_SEED", "42"))

# query text -> reason; only for documented Prometheus behaviour we deliberately do not copy.
ALLOWED = {}


# ---------------------------------------------------------------- data

def gen_data(end_s):
    """[(name, labels dict, [(t_ms, value)])]: counters with resets, gauges with gaps and late
    starts, a classic histogram, up and an info metric. Per-series scrape offsets are multiples
    of 250 ms so that float-second OpenMetrics timestamps convert to ms exactly."""
    rnd = random.Random(SEED)
    start_s = end_s - HOURS * 3600
    n = HOURS * 3600 // STEP_S + 1
    out = []

    def times(off_ms, first=0, last=n):
        return [(start_s + i * STEP_S) * 1000 + off_ms for i in range(first, last)]

    insts = ["i0", "i1", "i2", "i3"]
    for job in ("api", "web"):
        for inst in insts:
            off = rnd.randrange(0, 12) * 250
            for method in ("GET", "POST"):
                for code in ("200", "500"):
                    v, pts = rnd.randrange(0, 1000), []
                    rate = rnd.uniform(0.1, 20) if code == "200" else rnd.uniform(0, 1)
                    for t in times(off):
                        if rnd.random() < 0.004:
                            v = rnd.randrange(0, 5)  # counter reset
                        else:
                            v += int(rate * STEP_S * rnd.uniform(0.5, 1.5))
                        pts.append((t, float(v)))
                    out.append(("http_requests_total", {"job": job, "instance": inst,
                                                        "method": method, "code": code}, pts))
            for zone in ("a", "b"):
                base = rnd.uniform(15, 30)
                pts = [(t, round(base + 5 * math.sin(i / 40.0) + rnd.uniform(-1, 1), 2))
                       for i, t in enumerate(times(off))]
                out.append(("temp_celsius", {"job": job, "instance": inst, "zone": zone}, pts))
            # gauges with gaps: late start, early end, a hole longer than the lookback
            first = rnd.choice([0, 0, 40, 200])
            last = rnd.choice([n, n, n - 30, n - 250])
            pts = [(t, float(rnd.randrange(0, 50))) for i, t in
                   enumerate(times(off, first, last), first) if not 100 <= i < 130]
            out.append(("queue_depth", {"job": job, "instance": inst}, pts))
            out.append(("up", {"job": job, "instance": inst},
                        [(t, 0.0 if rnd.random() < 0.05 else 1.0) for t in times(off)]))
            # classic histogram: cumulative buckets, sum and count
            les = ["0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"]  # canonical (see docstring)
            bk, s, c = [0.0] * len(les), 0.0, 0.0
            series = {le: [] for le in les}
            sums, counts = [], []
            speed = rnd.uniform(0.2, 2)
            for t in times(off):
                for _ in range(rnd.randrange(0, 12)):
                    x = rnd.expovariate(1 / (0.3 * speed))
                    s += x
                    c += 1
                    for j, le in enumerate(les):
                        if le == "+Inf" or x <= float(le):
                            bk[j] += 1
                for j, le in enumerate(les):
                    series[le].append((t, bk[j]))
                sums.append((t, round(s, 6)))
                counts.append((t, c))
            for le in les:
                out.append(("req_duration_seconds_bucket",
                            {"job": job, "instance": inst, "le": le}, series[le]))
            out.append(("req_duration_seconds_sum", {"job": job, "instance": inst}, sums))
            out.append(("req_duration_seconds_count", {"job": job, "instance": inst}, counts))
        out.append(("build_info", {"job": job, "version": "1.%d" % rnd.randrange(10)},
                    [(t, 1.0) for t in times(0)]))
    return out


def fmt_labels(name, labels):
    inner = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
    return "%s{%s}" % (name, inner) if inner else name


def openmetrics(data):
    """One family after the other, each series' samples in time order, float-second stamps."""
    lines = []
    for name, labels, pts in data:
        key = fmt_labels(name, labels)
        for t, v in pts:
            lines.append("%s %r %d.%03d" % (key, v, t // 1000, t % 1000))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def import_lines(data):
    for name, labels, pts in data:
        key = fmt_labels(name, labels)
        for t, v in pts:
            yield "%s %r %d" % (key, v, t)


# ---------------------------------------------------------------- prometheus

class Prometheus:
    def __init__(self, tmp, data):
        om = os.path.join(tmp.path, "data.om")
        with open(om, "w") as f:
            f.write(openmetrics(data))
        self.dir = tmp.sub("prom-tsdb")
        r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, self.dir],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        cfg = os.path.join(tmp.path, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  evaluation_interval: 1m\nscrape_configs: []\n")
        self.port = h.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = h.Proc("prometheus", [
            "prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + self.dir,
            "--storage.tsdb.retention.time=3650d", "--web.listen-address=127.0.0.1:%d" % self.port,
            "--log.level=warn"], os.path.join(tmp.path, "prometheus.log"))
        h.wait_until(lambda: h.http("GET", self.url + "/-/ready", timeout=2)[0] == 200, 60,
                     what="prometheus ready")

    def stop(self):
        self.proc.stop()


# ---------------------------------------------------------------- queries

def gen_queries(t_end):
    ctr = ['http_requests_total', 'http_requests_total{job="api"}',
           'http_requests_total{code=~"5.."}', 'http_requests_total{method!="GET",instance!~"i[01]"}',
           'req_duration_seconds_count']
    gauge = ['temp_celsius', 'queue_depth', 'temp_celsius{zone="b",job=~"a.*"}',
             '{__name__=~"temp_celsius|queue_depth"}', 'up']
    wins = ["1m", "5m", "10m"]
    q = []
    q += ctr + gauge + ['req_duration_seconds_bucket{le=~"0.5|\\\\+Inf"}', 'build_info',
                        'nonexistent_metric', '{job="web",instance="i2"}']
    for s in ctr:
        for fn in ("rate", "irate", "increase", "resets", "changes"):
            for w in wins:
                q.append("%s(%s[%s])" % (fn, s, w))
    for s in gauge:
        for fn in ("delta", "idelta", "deriv", "avg_over_time", "min_over_time", "max_over_time",
                   "sum_over_time", "count_over_time", "last_over_time", "stddev_over_time",
                   "stdvar_over_time", "present_over_time", "changes"):
            q.append("%s(%s[5m])" % (fn, s))
        q.append("quantile_over_time(0.9, %s[10m])" % s)
        q.append("predict_linear(%s[10m], 600)" % s)
        q.append("holt_winters(%s[10m], 0.5, 0.3)" % s)
        q.append("absent_over_time(%s[1m])" % s)
    rate = 'rate(http_requests_total[5m])'
    for agg in ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"):
        q.append("%s(%s)" % (agg, rate))
        q.append("%s by (job) (%s)" % (agg, rate))
        q.append("%s without (instance, method) (%s)" % (agg, rate))
        q.append("%s by (zone) (temp_celsius)" % agg)
    q += ["topk(3, %s)" % rate, "bottomk(2, temp_celsius)", "topk by (job) (2, temp_celsius)",
          "bottomk without (zone) (1, temp_celsius)", "quantile(0.5, %s)" % rate,
          "quantile by (job) (0.9, temp_celsius)", 'count_values("v", up)',
          'count_values by (job) ("value", queue_depth)', "sum(up) by (job)",
          "count(up == 1)", "topk(5, queue_depth) > 10", "quantile(2, temp_celsius)"]
    for p in ("0.5", "0.9", "0.99"):
        q.append("histogram_quantile(%s, sum by (le) (rate(req_duration_seconds_bucket[5m])))" % p)
        q.append("histogram_quantile(%s, sum by (le, job) (rate(req_duration_seconds_bucket[10m])))"
                 % p)
    q += ["histogram_quantile(0.9, req_duration_seconds_bucket)",
          "rate(req_duration_seconds_sum[5m]) / rate(req_duration_seconds_count[5m])"]
    q += [
        "%s / on(job, instance) group_left sum by (job, instance) (%s)" % (rate, rate),
        "%s / ignoring(code) group_left sum without (code) (%s)" % (rate, rate),
        "sum by (job, instance) (%s) / on(job, instance) group_right sum by (job, instance, code) (%s)"
        % (rate, rate),
        "temp_celsius - on(job, instance) group_left queue_depth",
        "temp_celsius * on(job, instance) group_left(version) group by (job, instance) (up) "
        "* 0 + 1",
        "up * on(job) group_left(version) build_info",
        "temp_celsius > 20", "temp_celsius > bool 20", "up == 1", "up != bool 0",
        "queue_depth < 10 or temp_celsius > 28", "temp_celsius and on(job) queue_depth > 25",
        "temp_celsius unless on(instance) queue_depth", "up and up offset 30m",
        "-temp_celsius", "2 ^ up", "temp_celsius % 7", "temp_celsius / 0", "queue_depth / queue_depth",
        "temp_celsius atan2 on(job, instance) group_left queue_depth",
        "1 + 2 * 3 ^ 2 ^ 0.5 - 4 / 2", "(1 > bool 0) * 10", "sum(up) > 5", "scalar(sum(up)) * up",
        "temp_celsius == on(zone) group_left max by (zone) (temp_celsius)",
        "queue_depth >= 10 <= 40",
    ]
    for fn in ("abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10", "sgn",
               "timestamp", "sort", "sort_desc", "sin", "cos", "tan", "asin", "acos", "atan",
               "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad", "minute", "hour",
               "day_of_week", "day_of_month", "day_of_year", "days_in_month", "month", "year"):
        q.append("%s(temp_celsius / 40)" % fn if fn in ("asin", "acos", "atanh")
                 else "%s(temp_celsius)" % fn)
    q += ["round(temp_celsius, 0.5)", "clamp(temp_celsius, 18, 25)", "clamp_min(queue_depth, 20)",
          "clamp_max(queue_depth, 20)", "clamp(temp_celsius, 30, 20)",
          'label_replace(up, "foo", "$1", "instance", "i(.*)")',
          'label_replace(up, "instance", "", "instance", ".*")',
          'label_replace(temp_celsius, "z", "$1-$2", "zone", "(.)(.*)")',
          'label_join(up, "ji", "/", "job", "instance")', "absent(nonexistent_metric)",
          'absent(nonexistent{job="x"})', "absent(up)", "vector(1)", "time()", "scalar(up)",
          "pi()", "minute()", "hour(vector(%d))" % t_end, "timestamp(queue_depth offset 1m)",
          "sort(sum by (job) (%s))" % rate, "vector(time()) - timestamp(up)"]
    q += ["max_over_time(rate(http_requests_total[1m])[10m:1m])",
          "avg_over_time(temp_celsius[15m:30s])", "rate(sum(http_requests_total)[5m:])",
          "min_over_time(sum by (job) (temp_celsius)[20m:2m] offset 5m)",
          "deriv(avg(temp_celsius)[10m:15s])", "max_over_time(queue_depth[1h:5m])",
          "sum_over_time(up[7m:45s])", "last_over_time(temp_celsius[5m:1m])"]
    q += ["http_requests_total offset 10m", "rate(http_requests_total[5m] offset 30m)",
          "temp_celsius @ %d" % (t_end - 1800), "temp_celsius @ %d.5 offset 1m" % (t_end - 900),
          "rate(http_requests_total[5m] @ %d)" % (t_end - 3600), "temp_celsius @ end()",
          "sum(rate(http_requests_total[5m] @ start()))", "queue_depth offset -5m",
          "avg_over_time(temp_celsius[10m] @ end() offset 10m)"]
    q += ["sum by (job) (rate(http_requests_total[5m])) # comment",
          "sum(\n  rate(http_requests_total{job=\"api\"}[2m])\n)"]
    return q


# ---------------------------------------------------------------- compare

def api(url, path, fields):
    st, j = h.post_form(url + path, fields, timeout=60)
    return st, j


def norm(data):
    rt = data["resultType"]
    if rt in ("scalar", "string"):
        return rt, {(): [data["result"]]}
    res = {}
    for s in data["result"]:
        key = tuple(sorted(s["metric"].items()))
        res[key] = [s["value"]] if rt == "vector" else s["values"]
    return rt, res


def close(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return abs(x - y) <= 1e-6 * max(abs(x), abs(y)) or abs(x - y) < 1e-9


def diff(p, o):
    prt, pres = norm(p)
    ort, ores = norm(o)
    if prt != ort:
        return "resultType %s vs %s" % (prt, ort)
    if set(pres) != set(ores):
        only_p = sorted(set(pres) - set(ores))[:3]
        only_o = sorted(set(ores) - set(pres))[:3]
        return "series differ: %d vs %d; only prometheus %s; only osprey %s" % (
            len(pres), len(ores), only_p, only_o)
    for k, pp in pres.items():
        op = ores[k]
        if len(pp) != len(op):
            pt = [x[0] for x in pp]
            ot = [x[0] for x in op]
            return "%s: %d vs %d points; only prometheus %s; only osprey %s" % (
                dict(k), len(pp), len(op), sorted(set(pt) - set(ot))[:5],
                sorted(set(ot) - set(pt))[:5])
        for a, b in zip(pp, op):
            if abs(float(a[0]) - float(b[0])) > 1e-9:
                return "%s: timestamp %s vs %s" % (dict(k), a[0], b[0])
            if not close(a[1], b[1]):
                return "%s @%s: value %s vs %s" % (dict(k), a[0], a[1], b[1])
    return None


def compare(prom, store, path, fields):
    pst, pj = api(prom, path, fields)
    ost, oj = api(store, path, fields)
    if pj is None or oj is None:
        return "no JSON (%s, %s)" % (pst, ost)
    if pj["status"] != "success" or oj["status"] != "success":
        if pj["status"] == oj["status"] and pj.get("errorType") == oj.get("errorType") \
                and pst == ost:
            return None
        return "status prometheus %s %s %s / osprey %s %s %s" % (
            pst, pj.get("errorType"), pj.get("error"), ost, oj.get("errorType"), oj.get("error"))
    return diff(pj["data"], oj["data"])


def test_promql_diff():
    end_s = (int(time.time()) // 3600) * 3600 - 3600
    start_s = end_s - HOURS * 3600
    data = gen_data(end_s)
    nsamples = sum(len(p) for _, _, p in data)
    c = h.Cluster("pqldiff", store_extra=["--retention", "0"])
    prom = None
    try:
        t0 = time.monotonic()
        prom = Prometheus(c.tmp, data)
        h.log("prometheus blocks + start: %.1fs" % (time.monotonic() - t0))
        t0 = time.monotonic()
        batch = []
        for line in import_lines(data):
            batch.append(line)
            if len(batch) >= 20000:
                c.store.import_text("\n".join(batch) + "\n")
                batch = []
        if batch:
            c.store.import_text("\n".join(batch) + "\n")
        h.log("imported %d series, %d samples into the store in %.1fs" % (
            len(data), nsamples, time.monotonic() - t0))
        queries = gen_queries(end_s)
        instants = [end_s, end_s - 1800 + 7.5, start_s + 600, end_s + 180, end_s + 600]
        ranges = [(start_s, end_s, 60), (end_s - 1800, end_s + 400, 37)]
        checks = failures = allowed = 0
        for q in queries:
            cases = [("/api/v1/query", {"query": q, "time": str(t)}) for t in instants]
            cases += [("/api/v1/query_range", {"query": q, "start": str(a), "end": str(b),
                                               "step": str(s)}) for a, b, s in ranges]
            for path, f in cases:
                checks += 1
                why = compare(prom.url, c.store.url, path, f)
                if why is None:
                    continue
                if q in ALLOWED:
                    allowed += 1
                    continue
                failures += 1
                print("MISMATCH %s %s: %s" % (path, json.dumps(f), why[:600]), flush=True)
        print("promql diff: %d queries, %d comparisons, %d mismatches, %d allowed"
              % (len(queries), checks, failures, allowed), flush=True)
        assert failures == 0, "%d mismatches" % failures
    finally:
        if prom:
            prom.stop()
        c.close()


if __name__ == "__main__":
    h.run_tests([test_promql_diff])
