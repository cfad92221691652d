"""The collector scrapes real exporters (Debian's prometheus-node-exporter and a
running Debian prometheus' own /metrics) through a recording proxy; every sample
of the first recorded page must be in the store with the right labels and value."""
import math
import os
import time
import urllib.request

import osprey_harness as h

CONFIG = """
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: ["%s"]
"""


def recording_proxy(upstream):
    def page(n):
        req = urllib.request.Request(upstream, headers={"Accept": "text/plain;version=0.0.4"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()
    return h.FixtureTarget(page)


def check_first_page(c, proxy, job):
    h.wait_until(lambda: len(proxy.served) >= 3, 60, what="3 scrapes of " + job)
    first = proxy.served[0][1].decode()
    expected = h.parse_exposition(first)
    assert len(expected) > 50, "exporter page too small: %d" % len(expected)

    def stored():
        d = c.store.query('{job="%s"}[10m]' % job)
        by = {}
        for s in d["result"]:
            m = dict(s["metric"])
            by[tuple(sorted(m.items()))] = s["values"]
        return by
    # wait until the first scrape's samples are all ingested
    h.wait_until(lambda: len(stored()) >= len(expected), 60, what="all series of " + job)
    got = stored()
    missing, wrong, first_ts = [], [], set()
    for name, labels, value in expected:
        lab = {k: v for k, v in labels.items() if v != ""}  # empty = absent
        for k in ("le", "quantile"):
            if k in lab:
                lab[k] = h.canon_le(lab[k])
        for k in ("job", "instance"):
            if k in lab:
                lab["exported_" + k] = lab.pop(k)
        lab.update({"__name__": name, "job": job, "instance": proxy.address})
        key = tuple(sorted(lab.items()))
        if key not in got:
            missing.append(key)
            continue
        first_ts.add(got[key][0][0])
        v = float(got[key][0][1])
        if not (v == value or (math.isnan(v) and math.isnan(value))):
            wrong.append((key, v, value))
    assert not missing, "missing %d series, e.g. %r" % (len(missing), missing[:3])
    assert not wrong, "wrong values: %r" % wrong[:5]
    # the first stored sample of every series has the first scrape's timestamp
    assert len(first_ts) == 1, "first samples of one scrape differ in time: %r" % first_ts
    h.log(job, "verified", len(expected), "samples of the first scrape")


def test_node_exporter():
    c = h.Cluster("nodeexp")
    port = h.free_port()
    ne = h.Proc("node-exporter", ["prometheus-node-exporter",
                                  "--web.listen-address=127.0.0.1:%d" % port,
                                  "--collector.disable-defaults", "--collector.cpu",
                                  "--collector.meminfo", "--collector.loadavg",
                                  "--collector.filesystem", "--collector.netdev",
                                  "--collector.diskstats", "--collector.stat",
                                  "--collector.vmstat", "--collector.uname"],
                os.path.join(c.tmp.path, "node-exporter.log"))
    proxy = None
    try:
        h.wait_until(lambda: h.http("GET", "http://127.0.0.1:%d/metrics" % port)[0] == 200, 20,
                     what="node exporter")
        proxy = recording_proxy("http://127.0.0.1:%d/metrics" % port)
        c.collector(CONFIG % ("node", proxy.address))
        check_first_page(c, proxy, "node")
    finally:
        c.close()
        ne.stop()
        if proxy:
            proxy.stop()


def test_prometheus_self_metrics():
    c = h.Cluster("promself")
    port = h.free_port()
    cfg = os.path.join(c.tmp.path, "prom.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    prom = h.Proc("prometheus", ["prometheus", "--config.file=" + cfg,
                                 "--storage.tsdb.path=" + c.tmp.sub("promdata"),
                                 "--web.listen-address=127.0.0.1:%d" % port],
                  os.path.join(c.tmp.path, "prometheus.log"))
    proxy = None
    try:
        h.wait_until(lambda: h.http("GET", "http://127.0.0.1:%d/-/ready" % port)[0] == 200, 60,
                     what="prometheus ready")
        proxy = recording_proxy("http://127.0.0.1:%d/metrics" % port)
        c.collector(CONFIG % ("prom", proxy.address))
        check_first_page(c, proxy, "prom")
    finally:
        c.close()
        prom.stop()
        if proxy:
            proxy.stop()


if __name__ == "__main__":
    h.run_tests([test_node_exporter, test_prometheus_self_metrics])
