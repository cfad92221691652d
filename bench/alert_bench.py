#!/usr/bin/env python3
"""alert_bench - osprey-alerter vs Debian's prometheus-alertmanager in one run:
(1) alerts/s accepted on POST /api/v2/alerts (batches of 100, 4 client threads,
distinct alerts), (2) end-to-end latency POST -> webhook sink (group_wait 0s,
one new group per probe). Prints a table with the ratios. Not a test.
Usage: bench/alert_bench.py [--seconds 10] [--probes 30]"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from alerter_support import Sink  # noqa: E402
from osprey_harness import Daemon, Proc, TempDir, free_port, http, wait_until  # noqa: E402

CONFIG = """route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: "%s"}]
"""


def post(url, alerts):
    req = urllib.request.Request(url + "/api/v2/alerts", data=json.dumps(alerts).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        return r.status


def throughput(url, seconds, tag):
    count = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(w):
        i = 0
        while time.monotonic() < stop:
            batch = [{"labels": {"alertname": "Bench%d" % (i % 50), "instance": "%s-%d-%d" %
                                 (tag, w, i * 100 + k)}, "annotations": {"summary": "x"}}
                     for k in range(100)]
            post(url, batch)
            i += 1
            with lock:
                count[0] += 100

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return count[0] / (time.monotonic() - t0)


def latency(url, sink, probes, tag):
    out = []
    for i in range(probes):
        name = "Probe%s%d" % (tag, i)
        n0 = len(sink.posts)
        t0 = time.time()
        post(url, [{"labels": {"alertname": name}}])
        wait_until(lambda: any(p["body"]["groupLabels"].get("alertname") == name
                               for p in sink.posts[n0:]), 20, 0.001, "probe")
        t1 = next(p["t"] for p in sink.posts[n0:] if p["body"]["groupLabels"].get("alertname") == name)
        out.append((t1 - t0) * 1000)
        time.sleep(0.05)
    return statistics.median(out), sorted(out)[int(len(out) * 0.95) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--probes", type=int, default=30)
    args = ap.parse_args()
    tmp = TempDir("alert-bench")
    sink = Sink()
    cfg = os.path.join(tmp.path, "am.yml")
    with open(cfg, "w") as f:
        f.write(CONFIG % sink.url())
    osp = Daemon(tmp, "alerter", ["--alertmanager-config", cfg, "--log-level", "warn"])
    amport = free_port()
    am = Proc("alertmanager", ["prometheus-alertmanager", "--config.file", cfg, "--storage.path",
                               tmp.sub("am"), "--web.listen-address", "127.0.0.1:%d" % amport,
                               "--cluster.listen-address=", "--log.level=warn"],
              os.path.join(tmp.path, "am.log"))
    amurl = "http://127.0.0.1:%d" % amport
    wait_until(lambda: http("GET", amurl + "/-/ready")[0] == 200, 30, what="alertmanager")
    try:
        res = {}
        for name, url in (("osprey-alerter", osp.url), ("alertmanager", amurl)):
            # latency first, on an idle daemon; then load
            p50, p95 = latency(url, sink, args.probes, name[:3])
            tput = throughput(url, args.seconds, name[:3])
            res[name] = (tput, p50, p95)
        o, a = res["osprey-alerter"], res["alertmanager"]
        print("%-16s %14s %16s %16s" % ("", "alerts/s POST", "e2e p50 ms", "e2e p95 ms"))
        for n in ("osprey-alerter", "alertmanager"):
            t, p50, p95 = res[n]
            print("%-16s %14.0f %16.1f %16.1f" % (n, t, p50, p95))
        print("%-16s %14.2f %16.2f %16.2f" % ("ratio osp/am", o[0] / a[0], o[1] / a[1],
                                              o[2] / a[2]))
    finally:
        am.stop()
        osp.stop()
        sink.down()
        tmp.cleanup()


if __name__ == "__main__":
    main()
