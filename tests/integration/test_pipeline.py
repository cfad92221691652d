"""End to end: a fixture target is scraped by osprey-collector, published over NNG,
committed to PostgreSQL by osprey-store, and read back through the Prometheus API
(as Grafana and promtool call it)."""
import json
import math
import subprocess
import time

import osprey_harness as h

PAGE = """# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code="200",path="/api"} %(n)d
app_requests_total{code="500",path="/api"} %(half)d
# HELP app_temperature_celsius A gauge.
# TYPE app_temperature_celsius gauge
app_temperature_celsius{room="a b",note="q\\"x\\\\y"} %(temp)s
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} %(n)d
app_latency_seconds_bucket{le="1"} %(n2)d
app_latency_seconds_bucket{le="+Inf"} %(n2)d
app_latency_seconds_sum %(n)d.5
app_latency_seconds_count %(n2)d
"""


def page(n):
    return PAGE % {"n": n * 10, "half": n * 5, "temp": "%.2f" % (20 + n / 100.0),
                   "n2": n * 20}


CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: ["%s"]
        labels:
          env: test
"""


def setup():
    c = h.Cluster("pipe")
    t = h.FixtureTarget(page)
    c.collector(CONFIG % t.address)
    return c, t


def wait_up(c, job="app", timeout=30):
    def ok():
        d = c.store.query('up{job="%s"}' % job)
        return d["result"] and d["result"][0]["value"][1] == "1"
    h.wait_until(ok, timeout, what="up == 1")


def test_scrape_query_and_metadata():
    c, t = setup()
    try:
        wait_up(c)
        h.wait_until(lambda: len(t.served) >= 8, 30, what="8 scrapes")
        time.sleep(0.5)
        # values: the stored sample series equals what the target served, in order
        d = c.store.query('app_requests_total{code="200"}[1h]')
        assert d["resultType"] == "matrix", d
        s = d["result"][0]
        assert s["metric"] == {"__name__": "app_requests_total", "code": "200", "path": "/api",
                               "job": "app", "instance": t.address, "env": "test"}, s["metric"]
        vals = [float(v) for _, v in s["values"]]
        assert vals == [10.0 * i for i in range(1, len(vals) + 1)], vals
        # timestamps are the scrape slots (a start a few ms late keeps its slot's time), so
        # the interval between samples is exact, as Prometheus's are
        ms = [round(float(t) * 1000) for t, _ in s["values"]]
        deltas = [b - a for a, b in zip(ms, ms[1:])]
        assert sum(d == 1000 for d in deltas) * 2 > len(deltas), deltas
        # escaped label values survive the trip
        d = c.store.query('app_temperature_celsius')
        assert d["result"][0]["metric"]["note"] == 'q"x\\y', d
        assert d["result"][0]["metric"]["room"] == "a b"
        # le normalization: le="1" is stored as "1.0" as Prometheus does
        d = c.store.query('app_latency_seconds_bucket{le="1.0"}')
        assert len(d["result"]) == 1, d
        # all four matcher kinds
        assert len(c.store.query('app_requests_total{code!="200"}')["result"]) == 1
        assert len(c.store.query('app_requests_total{code=~"2.."}')["result"]) == 1
        assert len(c.store.query('app_requests_total{code!~"2.."}')["result"]) == 1
        assert len(c.store.query('{__name__=~"app_req.*",path="/api"}')["result"]) == 2
        # rate and sum by
        d = c.store.query('sum by (path) (rate(app_requests_total[5s]))')
        assert len(d["result"]) == 1 and d["result"][0]["metric"] == {"path": "/api"}, d
        r = float(d["result"][0]["value"][1])
        assert 10 < r < 20, r  # 10/s + 5/s at a 1 s interval
        # offset
        now = time.time()
        d = c.store.query('app_requests_total{code="200"} offset 2s', now)
        d2 = c.store.query('app_requests_total{code="200"}', now)
        assert float(d["result"][0]["value"][1]) < float(d2["result"][0]["value"][1])
        # synthetic series
        for name in ("scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added",
                     "scrape_parse_errors"):
            d = c.store.query('%s{job="app"}' % name)
            assert len(d["result"]) == 1, (name, d)
        assert c.store.query('scrape_samples_scraped{job="app"}')["result"][0]["value"][1] == "8"
        # query_range: GET and POST
        end = time.time()
        st, j = h.get_json(c.store.url + "/api/v1/query_range?query=up&start=%f&end=%f&step=1"
                           % (end - 10, end))
        assert st == 200 and j["data"]["resultType"] == "matrix", j
        st, j = h.post_form(c.store.url + "/api/v1/query_range",
                            {"query": "up", "start": end - 10, "end": end, "step": "1s"})
        assert st == 200 and j["data"]["result"][0]["values"], j
        # errors as Prometheus
        st, j = h.post_form(c.store.url + "/api/v1/query_range",
                            {"query": "up", "start": end, "end": end - 10, "step": "1"})
        assert st == 400 and j["errorType"] == "bad_data", j
        assert j["error"] == "end timestamp must not be before start time", j
        st, j = h.post_form(c.store.url + "/api/v1/query_range",
                            {"query": "up", "start": 0, "end": 100000, "step": "1"})
        assert st == 400 and "11,000 points" in j["error"], j
        st, j = h.post_form(c.store.url + "/api/v1/query", {"query": "sum(up"})
        assert st == 400 and j["errorType"] == "bad_data", j
        assert j["error"].startswith('invalid parameter "query"'), j
        # series, labels, values, metadata
        st, j = h.get_json(c.store.url + '/api/v1/series?match[]=app_requests_total&match[]=up')
        assert st == 200 and len(j["data"]) == 3, j
        st, j = h.post_form(c.store.url + "/api/v1/series", {"match[]": ['up{job="app"}']})
        assert st == 200 and j["data"] == [{"__name__": "up", "env": "test", "instance": t.address,
                                            "job": "app"}], j
        st, j = h.get_json(c.store.url + "/api/v1/series")
        assert st == 400 and j["error"] == "no match[] parameter provided", j
        st, j = h.get_json(c.store.url + "/api/v1/labels")
        assert {"__name__", "code", "env", "instance", "job", "le", "path"} <= set(j["data"]), j
        assert j["data"] == sorted(j["data"])
        st, j = h.get_json(c.store.url + "/api/v1/label/code/values")
        assert j["data"] == ["200", "500"], j
        st, j = h.get_json(c.store.url + "/api/v1/label/__name__/values")
        assert "app_requests_total" in j["data"] and "up" in j["data"], j
        st, j = h.get_json(c.store.url + "/api/v1/metadata")
        assert j["data"]["app_requests_total"] == [{"type": "counter", "help": "Requests served.",
                                                    "unit": ""}], j
        assert j["data"]["app_latency_seconds"][0]["type"] == "histogram", j
        st, j = h.get_json(c.store.url + "/api/v1/metadata?metric=app_temperature_celsius")
        assert list(j["data"].keys()) == ["app_temperature_celsius"], j
    finally:
        c.close()
        t.stop()


def test_grafana_health_and_buildinfo():
    c = h.Cluster("graf")
    try:
        st, _, body = h.http("POST", c.store.url + "/api/v1/query", b"query=1%2B1&time=4",
                             {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 200, body
        assert json.loads(body) == {"status": "success",
                                    "data": {"resultType": "scalar", "result": [4, "2"]}}, body
        st, j = h.get_json(c.store.url + "/api/v1/status/buildinfo")
        assert st == 200 and j["status"] == "success", j
        for k in ("version", "revision", "branch", "buildUser", "buildDate", "goVersion"):
            assert isinstance(j["data"][k], str), (k, j)
        assert "features" not in j["data"]
        st, j = h.get_json(c.store.url + "/api/v1/format_query?query=sum(rate(x[5m]))by(job)")
        assert st == 200 and isinstance(j["data"], str), j
    finally:
        c.close()


def test_promtool():
    c, t = setup()
    try:
        wait_up(c)
        r = subprocess.run(["promtool", "query", "instant", c.store.url, 'up{job="app"}'],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert 'up{env="test", instance="%s", job="app"} => 1' % t.address in r.stdout, r.stdout
        h.wait_until(lambda: len(t.served) >= 3, 20, what="3 scrapes")
        end = int(time.time()) + 1
        r = subprocess.run(["promtool", "query", "range", "--start=%d" % (end - 20),
                            "--end=%d" % end, "--step=1s", c.store.url, 'up{job="app"}'],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "1 @[" in r.stdout, r.stdout
        r = subprocess.run(["promtool", "query", "series", "--match=up", c.store.url],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "job=\"app\"" in r.stdout, (r.stdout, r.stderr)
        r = subprocess.run(["promtool", "query", "labels", c.store.url, "job"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "app" in r.stdout, (r.stdout, r.stderr)
    finally:
        c.close()
        t.stop()


def test_import_prometheus():
    c = h.Cluster("imp")
    try:
        now_ms = int(time.time() * 1000)
        lines = ["imported_metric{k=\"v%d\"} %d %d" % (i % 3, i, now_ms - 60000 + i * 1000)
                 for i in range(30)]
        c.store.import_text("\n".join(lines) + "\n")
        d = c.store.query('imported_metric{k="v1"}[2m]', now_ms / 1000.0)
        vals = [float(v) for _, v in d["result"][0]["values"]]
        assert vals == [float(i) for i in range(30) if i % 3 == 1], vals
        ts = [p[0] for p in d["result"][0]["values"]]
        assert abs(ts[0] - (now_ms - 59000) / 1000.0) < 0.0011, ts[0]
        # extra_label and default timestamp
        st, _, body = h.http("POST", c.store.url + "/api/v1/import/prometheus?extra_label=src=test"
                             "&timestamp=%d" % now_ms, b"extra_metric 7\n")
        assert st == 204, body
        d = c.store.query("extra_metric", now_ms / 1000.0)
        assert d["result"][0]["metric"] == {"__name__": "extra_metric", "src": "test"}, d
        assert d["result"][0]["value"] == [now_ms / 1000.0, "7"], d
        # a replay of the same lines is not stored twice
        c.store.import_text("\n".join(lines) + "\n")
        d = c.store.query('count_over_time(imported_metric{k="v1"}[2m])', now_ms / 1000.0)
        assert d["result"][0]["value"][1] == "10", d
        # a bad line is reported with its line number; good lines are kept
        st, _, body = h.http("POST", c.store.url + "/api/v1/import/prometheus",
                             b"good_one 1 %d\nbad line here\ngood_two 2 %d\n" % (now_ms, now_ms))
        assert st == 400 and b"2" in body, (st, body)
        assert c.store.query("good_two", now_ms / 1000.0)["result"], "good lines kept"
    finally:
        c.close()


def test_staleness_marker():
    state = {"gone": False}

    def pg(n):
        return "stay 1\n" + ("" if state["gone"] else "goes_away 1\n")
    c = h.Cluster("stale")
    t = h.FixtureTarget(pg)
    c.collector(CONFIG % t.address)
    try:
        h.wait_until(lambda: c.store.query("goes_away")["result"], 30, what="series")
        state["gone"] = True
        n = len(t.served)
        h.wait_until(lambda: len(t.served) >= n + 2, 20, what="2 more scrapes")
        time.sleep(1)
        # within the 5 m lookback, only a staleness marker makes it vanish at once
        assert c.store.query("goes_away")["result"] == [], "stale series still returned"
        assert c.store.query("stay")["result"], "live series lost"
        # the marker is not returned as a sample
        d = c.store.query("goes_away[1h]")
        assert all(not math.isnan(float(v)) for _, v in d["result"][0]["values"]), d
    finally:
        c.close()
        t.stop()


if __name__ == "__main__":
    h.run_tests([test_grafana_health_and_buildinfo, test_scrape_query_and_metadata,
                 test_promtool, test_import_prometheus, test_staleness_marker])
