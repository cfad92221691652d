#!/usr/bin/env python3
"""bench/query.py - PromQL query benchmark: the same generated data (default 10 200 series x 6 h
at 15 s, about 14.7 M samples) is imported into osprey-store (POST /api/v1/import/prometheus, in
chunks) and into Debian's prometheus (promtool tsdb create-blocks-from openmetrics); then a
standard query set, instant and range, is timed against both HTTP APIs in the same run (warm-up,
then N runs each, alternating systems) and the median latency per query and the ratio
Osprey/Prometheus are printed. Results go to bench/out/query-<timestamp>.json. Stdlib only."""

import argparse
import datetime
import json
import math
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
import urllib.parse

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import osprey_harness as h  # noqa: E402

STEP_S = 15
LES = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
HANDLERS = ["/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
            "/api/v1/write", "/metrics", "/health", "/ready", "/-/reload", "/static/app.js",
            "/static/app.css", "/login", "/logout", "/users", "/users/:id", "/orders",
            "/orders/:id", "/search", "/upload", "/download"]
AREAS = ["heap", "stack", "rss", "cache", "buffers", "mapped", "anon", "shmem", "slab", "kernel",
         "page_tables", "vmalloc", "swap", "dirty", "writeback", "other"]


def log(*a):
    print("[query %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def series_defs(jobs, insts):
    """(kind, name, labels text) per series; 10 200 with the defaults (5 jobs x 40 instances):
    4 000 counters, 2 400 buckets + 400 sum/count, 3 200 gauges, 200 info."""
    out = []
    for j in range(jobs):
        for i in range(insts):
            base = 'instance="i%d",job="j%d"' % (i, j)
            for hd in HANDLERS:
                out.append(("counter", "bench_requests_total", 'handler="%s",%s' % (hd, base)))
            for le in LES:
                out.append(("bucket", "bench_latency_seconds_bucket", '%s,le="%s"' % (base, le)))
            out.append(("sum", "bench_latency_seconds_sum", base))
            out.append(("count", "bench_latency_seconds_count", base))
            for ar in AREAS:
                out.append(("gauge", "bench_mem_bytes", 'area="%s",%s' % (ar, base)))
            out.append(("info", "bench_instance_info", '%s,version="1.%d"' % (base, (i + j) % 7)))
    return out


def gen_values(kind, n, rnd):
    if kind in ("counter", "count", "sum", "bucket"):
        v, out, r = 0, [], rnd.uniform(0.5, 50)
        for _ in range(n):
            v += int(r * STEP_S * rnd.uniform(0.8, 1.2))
            out.append(v)
        return out
    if kind == "gauge":
        v, out = rnd.randrange(1 << 20, 1 << 30), []
        for _ in range(n):
            v = max(0, v + rnd.randrange(-1 << 16, 1 << 16))
            out.append(v)
        return out
    return [1] * n


def generate(tmp, defs, start_s, npts, seed):
    """Write data.om (OpenMetrics, float-second stamps) and import-<k>.txt chunks (ms stamps)
    of about 250 k lines (under the store's 64 MiB body limit). Histogram buckets are made cumulative per instance."""
    rnd = random.Random(seed)
    om_path = os.path.join(tmp, "data.om")
    chunks, cur, cur_lines = [], None, 0
    ts_s = ["%d" % (start_s + k * STEP_S) for k in range(npts)]
    ts_ms = [t + "000" for t in ts_s]
    buckets = None
    with open(om_path, "w") as om:
        for kind, name, lab in defs:
            if kind == "bucket":
                if lab.endswith('le="%s"' % LES[0]):
                    inc = [gen_values("counter", npts, rnd) for _ in LES]
                    buckets = [list(x) for x in inc]
                    for b in range(1, len(LES)):
                        buckets[b] = [a + c for a, c in zip(buckets[b - 1], inc[b])]
                vals = buckets[LES.index(lab.rsplit('le="', 1)[1][:-1])]
            else:
                vals = gen_values(kind, npts, rnd)
            key = "%s{%s}" % (name, lab)
            sv = [str(v) for v in vals]
            om.write("".join("%s %s %s\n" % (key, v, t) for v, t in zip(sv, ts_s)))
            if cur is None or cur_lines >= 250000:
                if cur:
                    cur.close()
                chunks.append(os.path.join(tmp, "import-%03d.txt" % len(chunks)))
                cur, cur_lines = open(chunks[-1], "w"), 0
            cur.write("".join("%s %s %s\n" % (key, v, t) for v, t in zip(sv, ts_ms)))
            cur_lines += npts
        om.write("# EOF\n")
    cur.close()
    return om_path, chunks


QUERIES = [
    ("selector", 'bench_mem_bytes{job="j1"}'),
    ("regex", 'bench_requests_total{handler=~"/api/v1/.*",job=~"j[12]"}'),
    ("sum_rate", "sum by (job) (rate(bench_requests_total[5m]))"),
    ("hist_quantile",
     "histogram_quantile(0.95, sum by (le) (rate(bench_latency_seconds_bucket[5m])))"),
    ("topk", "topk(10, rate(bench_requests_total[5m]))"),
    ("group_left",
     "rate(bench_requests_total[5m]) * on(job, instance) group_left(version) bench_instance_info"),
    ("count_all", 'count({__name__=~".+"})'),
]


def timed(url, path, fields):
    body = urllib.parse.urlencode(fields).encode()
    t0 = time.perf_counter()
    st, _, data = h.http("POST", url + path, body,
                         {"Content-Type": "application/x-www-form-urlencoded"}, timeout=300)
    dt = time.perf_counter() - t0
    if st != 200:
        raise AssertionError("%s %s: %d %s" % (url, fields["query"], st, data[:300]))
    return dt, data


def rss_mib(pid):
    """(VmRSS, VmHWM) of a process in MiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out.get("VmRSS", 0), out.get("VmHWM", 0)


def cache_stats(url):
    """The store's query cache metrics (empty when the cache is off)."""
    _, _, body = h.http("GET", url + "/metrics", timeout=30)
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("osprey_store_query_cache_"):
            k, v = line.split()
            out[k[len("osprey_store_query_cache_"):]] = float(v)
    return out


def result_digest(data):
    """Series count and point count of a response (cross-check between the systems)."""
    d = json.loads(data)["data"]
    r = d["result"]
    if d["resultType"] in ("scalar", "string"):
        return 1, 1
    return len(r), sum(len(s.get("values", [])) or 1 for s in r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=5)
    ap.add_argument("--instances", type=int, default=40, help="per job")
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=60,
                    help="stop a query's runs early after this much time per system (min 5 runs)")
    ap.add_argument("--range-step", default="60")
    ap.add_argument("--only", default="", help="comma-separated query names")
    ap.add_argument("--bin-dir", default=os.environ.get("OSP_BIN_DIR") or "")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store-args", default="", metavar="\"FLAGS\"",
                    help="extra flags appended to osprey-store's command line (shell-quoted, e.g. "
                         "--store-args=\"--query-cache 0\"); recorded in the JSON")
    a = ap.parse_args()
    store_args = shlex.split(a.store_args)
    for cand in (a.bin_dir, os.path.join(REPO, "build-bench", "bin"), os.path.join(REPO, "build", "bin")):
        if cand and os.path.exists(os.path.join(cand, "osprey-store")):
            h.BIN = cand
            break
    log("binaries from", h.BIN)
    end_s = (int(time.time()) // 3600) * 3600 - 3600
    npts = int(a.hours * 3600 / STEP_S) + 1
    start_s = end_s - (npts - 1) * STEP_S
    defs = series_defs(a.jobs, a.instances)
    log("%d series x %d points = %.1f M samples" % (len(defs), npts, len(defs) * npts / 1e6))
    c = h.Cluster("pqlbench", store_extra=["--retention", "0", "--query-timeout", "5m"] + store_args)
    prom = None
    ok = False
    try:
        t0 = time.monotonic()
        om, chunks = generate(c.tmp.path, defs, start_s, npts, a.seed)
        log("generated in %.1fs" % (time.monotonic() - t0))
        t0 = time.monotonic()
        tsdb = c.tmp.sub("prom-tsdb")
        r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, tsdb],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        t_blocks = time.monotonic() - t0
        log("promtool blocks in %.1fs" % t_blocks)
        os.unlink(om)
        t0 = time.monotonic()
        for p in chunks:
            with open(p, "rb") as f:
                body = f.read()
            st, _, resp = h.http("POST", c.store.url + "/api/v1/import/prometheus", body,
                                 timeout=600)
            assert st == 204, (st, resp[:500])
            os.unlink(p)
        t_import = time.monotonic() - t0
        log("store import in %.1fs" % t_import)
        cfg = os.path.join(c.tmp.path, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  evaluation_interval: 1m\nscrape_configs: []\n")
        pport = h.free_port()
        purl = "http://127.0.0.1:%d" % pport
        prom = h.Proc("prometheus", [
            "prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + tsdb,
            "--storage.tsdb.retention.time=3650d", "--web.listen-address=127.0.0.1:%d" % pport,
            "--log.level=warn", "--query.max-samples=200000000", "--query.timeout=5m"],
            os.path.join(c.tmp.path, "prometheus.log"))
        h.wait_until(lambda: h.http("GET", purl + "/-/ready", timeout=2)[0] == 200, 120,
                     what="prometheus ready")
        systems = [("osprey", c.store.url), ("prometheus", purl)]
        rows = []
        only = set(x for x in a.only.split(",") if x)
        for name, q in QUERIES:
            if only and name not in only:
                continue
            for kind in ("instant", "range"):
                if kind == "instant":
                    path, f = "/api/v1/query", {"query": q, "time": str(end_s)}
                else:
                    path, f = "/api/v1/query_range", {"query": q, "start": str(start_s),
                                                      "end": str(end_s), "step": a.range_step}
                digests = {}
                for sname, url in systems:
                    for _ in range(a.warmup):
                        _, data = timed(url, path, f)
                    digests[sname] = result_digest(data)
                times = {s: [] for s, _ in systems}
                spent = {s: 0.0 for s, _ in systems}
                for k in range(a.runs):
                    for sname, url in (systems if k % 2 == 0 else systems[::-1]):
                        dt, _ = timed(url, path, f)
                        times[sname].append(dt)
                        spent[sname] += dt
                    if k + 1 >= 5 and max(spent.values()) > a.max_seconds:
                        break
                med = {s: statistics.median(v) for s, v in times.items()}
                ratio = med["osprey"] / med["prometheus"] if med["prometheus"] > 0 else math.inf
                row = {"name": name, "kind": kind, "query": q, "runs": len(times["osprey"]),
                       "osprey_ms": med["osprey"] * 1e3, "prometheus_ms": med["prometheus"] * 1e3,
                       "ratio": ratio, "osprey_result": digests["osprey"],
                       "prometheus_result": digests["prometheus"]}
                rows.append(row)
                flag = "" if digests["osprey"] == digests["prometheus"] else "  RESULT DIFFERS %s vs %s" % (
                    digests["osprey"], digests["prometheus"])
                print("%-14s %-7s osprey %9.2f ms  prometheus %9.2f ms  ratio %5.2f  (%d runs; %d series, %d points)%s"
                      % (name, kind, row["osprey_ms"], row["prometheus_ms"], ratio, row["runs"],
                         digests["osprey"][0], digests["osprey"][1], flag), flush=True)
        mem = {"osprey": rss_mib(c.store.proc.pid), "prometheus": rss_mib(prom.pid),
               "query_cache": cache_stats(c.store.url)}
        print("RSS MiB now/peak: osprey %.0f/%.0f, prometheus %.0f/%.0f; query cache %s" % (
            mem["osprey"] + mem["prometheus"] + (json.dumps(mem["query_cache"]),)), flush=True)
        print("\n| query | kind | Osprey ms | Prometheus ms | ratio |\n| --- | --- | ---: | ---: | ---: |")
        for r in rows:
            print("| %s | %s | %.2f | %.2f | %.2f |" % (r["name"], r["kind"], r["osprey_ms"],
                                                       r["prometheus_ms"], r["ratio"]))
        os.makedirs(os.path.join(BENCH, "out"), exist_ok=True)
        out = os.path.join(BENCH, "out", "query-%s.json" %
                           datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
        with open(out, "w") as f:
            json.dump({"series": len(defs), "points_per_series": npts,
                       "samples": len(defs) * npts, "start": start_s, "end": end_s,
                       "range_step": a.range_step, "store_args": store_args, "memory": mem,
                       "promtool_seconds": t_blocks,
                       "import_seconds": t_import, "rows": rows}, f, indent=1)
        log("wrote", out)
        ok = True
    finally:
        if prom:
            prom.stop()
        c.close(keep_on_failure=a.keep or not ok)


if __name__ == "__main__":
    main()
