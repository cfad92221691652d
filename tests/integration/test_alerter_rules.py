"""Rule evaluation of osprey-alerter end to end: a FixtureTarget scraped by a
collector into the store, rules evaluated over the store's NNG query port,
alerts into the alerter's own dispatcher and a webhook sink; recording results
and ALERTS written back through the ingest path; `for` kept across kill -9;
--check-rules and reload with a bad rule."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from alerter_support import Sink, alerter, write_config  # noqa: E402
from osprey_harness import (BIN, Cluster, FixtureTarget, TempDir, free_port, http,  # noqa: E402
                            run_tests, wait_until)

AM = """route:
  receiver: hook
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
"""

RULES = """groups:
  - name: fx
    interval: 1s
    rules:
      - record: job:fx_temp:max
        expr: max by (job) (fx_temp)
      - alert: HotFixture
        expr: fx_temp > 50
        for: %s
        keep_firing_for: %s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is hot: {{ $value | humanize }}"
"""


def setup(c, state, for_="4s", keep="3s", redis=False):
    fx = FixtureTarget(lambda n: "# TYPE fx_temp gauge\nfx_temp %s\n" % state["v"])
    c.collector("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                "  - job_name: fx\n    static_configs:\n      - targets: ['%s']\n" % fx.address)
    sink = Sink()
    rules = write_config(c.tmp, RULES % (for_, keep), "rules.yml")
    conf = write_config(c.tmp, "resend_delay: 2s\n", "alerter.yml")
    args = ["-c", conf, "--rules", rules,
            "--store-query", "tcp://127.0.0.1:%d" % c.store.query_port,
            "--store-ingest", "tcp://127.0.0.1:%d" % c.store.ingest_port,
            "--store-ack", "tcp://127.0.0.1:%d" % c.store.ack_port,
            "--spool-dir", c.tmp.sub("alerter-spool")]
    if redis:
        args += ["--redis", c.redis.url]
    a = alerter(c.tmp, AM % sink.url(), extra=args)
    # the cluster stops them (in reverse order) when the test ends, failed or not
    c.others += [fx, a]
    return fx, sink, a


def series(c, q):
    return c.store.query(q)["result"]


def firing(sink, status="firing"):
    out = []
    for b in sink.bodies():
        for al in b["alerts"]:
            if al["labels"].get("alertname") == "HotFixture" and al["status"] == status:
                out.append((b, al))
    return out


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def get_v1(a, path):
    st, _, body = http("GET", a.url + path)
    j = json.loads(body)
    assert st == 200 and j["status"] == "success", (st, body)
    return j["data"]


def check_v1_api(a, rules_file, instance):
    """/api/v1/rules and /api/v1/alerts in Prometheus' exact shapes."""
    groups = get_v1(a, "/api/v1/rules")["groups"]
    assert len(groups) == 1, groups
    g = groups[0]
    assert list(g) == ["name", "file", "rules", "interval", "limit", "evaluationTime",
                       "lastEvaluation"], list(g)
    assert g["name"] == "fx" and g["file"] == rules_file and g["interval"] == 1, g
    assert g["limit"] == 0 and isinstance(g["evaluationTime"], (int, float)), g
    assert RFC3339.match(g["lastEvaluation"]) and not g["lastEvaluation"].startswith("0001"), g
    rec, al = g["rules"]
    assert list(rec) == ["name", "query", "labels", "health", "evaluationTime", "lastEvaluation",
                         "type"], list(rec)
    assert rec["name"] == "job:fx_temp:max" and rec["query"] == "max by (job) (fx_temp)", rec
    assert rec["labels"] == {} and rec["health"] == "ok" and rec["type"] == "recording", rec
    assert list(al) == ["state", "name", "query", "duration", "keepFiringFor", "labels",
                        "annotations", "alerts", "health", "evaluationTime", "lastEvaluation",
                        "type"], list(al)
    assert al["state"] == "firing" and al["name"] == "HotFixture" and al["type"] == "alerting", al
    assert al["query"] == "fx_temp > 50" and al["duration"] == 4 and al["keepFiringFor"] == 3, al
    assert al["labels"] == {"severity": "page"} and al["health"] == "ok", al
    assert al["annotations"] == {"summary": "{{ $labels.instance }} is hot: "
                                            "{{ $value | humanize }}"}, al
    assert len(al["alerts"]) == 1, al["alerts"]
    x = al["alerts"][0]
    assert list(x) == ["labels", "annotations", "state", "activeAt", "value"], list(x)
    assert x["labels"] == {"alertname": "HotFixture", "instance": instance, "job": "fx",
                           "severity": "page"}, x
    assert x["annotations"] == {"summary": "%s is hot: 1.5k" % instance}, x
    assert x["state"] == "firing" and x["value"] == "1.5e+03" and RFC3339.match(x["activeAt"]), x
    # type filters drop the other kind (and groups left empty)
    only = get_v1(a, "/api/v1/rules?type=alert")["groups"][0]["rules"]
    assert [r["type"] for r in only] == ["alerting"], only
    only = get_v1(a, "/api/v1/rules?type=record")["groups"][0]["rules"]
    assert [r["type"] for r in only] == ["recording"], only
    st, _, body = http("GET", a.url + "/api/v1/rules?type=bogus")
    assert st == 400 and json.loads(body)["errorType"] == "bad_data", (st, body)
    alerts = get_v1(a, "/api/v1/alerts")["alerts"]
    assert alerts == [x] or (len(alerts) == 1 and alerts[0]["labels"] == x["labels"]), alerts


def test_pending_firing_resolved():
    c = Cluster("rules", redis=True)
    ok = False
    try:
        state = {"v": 10}
        fx, sink, a = setup(c, state, redis=True)
        # recording rule result queryable in the store
        wait_until(lambda: series(c, "job:fx_temp:max"), 40, what="recording rule result")
        r = series(c, "job:fx_temp:max")
        assert r[0]["metric"] == {"__name__": "job:fx_temp:max", "job": "fx"}, r
        assert r[0]["value"][1] == "10", r
        state["v"] = 1500
        t_set = time.time()
        wait_until(lambda: series(c, 'ALERTS{alertname="HotFixture",alertstate="pending"}'), 20,
                   what="ALERTS pending")
        assert not firing(sink), "pending alerts must not be sent"
        wait_until(lambda: firing(sink), 30, what="firing notification")
        t_fire = firing(sink)[0][0]["t"] if "t" in firing(sink)[0][0] else time.time()
        body, al = firing(sink)[0]
        assert time.time() - t_set >= 4, "fired before `for` passed"
        assert al["annotations"]["summary"] == "%s is hot: 1.5k" % fx.address, al
        assert al["labels"]["severity"] == "page" and al["labels"]["instance"] == fx.address, al
        fs = series(c, 'ALERTS_FOR_STATE{alertname="HotFixture"}')
        assert fs and float(fs[0]["value"][1]) > t_set - 5, fs
        wait_until(lambda: series(c, 'ALERTS{alertname="HotFixture",alertstate="firing"}'), 20,
                   what="ALERTS firing")
        check_v1_api(a, os.path.join(c.tmp.path, "rules.yml"), fx.address)
        # back to normal: keep_firing_for holds it 3 s, then it resolves
        state["v"] = 10
        t_back = time.time()
        wait_until(lambda: firing(sink, "resolved"), 40, what="resolved notification")
        assert time.time() - t_back >= 3, "resolved before keep_firing_for passed"
        del t_fire
        # the rule evaluator never failed
        st, _, m = http("GET", a.url + "/metrics")
        assert b'osprey_alerter_rule_evaluations_total{rule_group="fx"}' in m, m[-2000:]
        ok = True
    finally:
        c.close(keep_on_failure=not ok)


def test_for_survives_kill9():
    c = Cluster("rulesr", redis=True)
    ok = False
    try:
        state = {"v": 10}
        fx, sink, a = setup(c, state, for_="12s", keep="0s", redis=True)
        wait_until(lambda: series(c, "job:fx_temp:max"), 40, what="recording rule result")
        state["v"] = 900
        wait_until(lambda: series(c, 'ALERTS{alertname="HotFixture",alertstate="pending"}'), 20,
                   what="ALERTS pending")
        fs = series(c, 'ALERTS_FOR_STATE{alertname="HotFixture"}')
        active_at = float(fs[0]["value"][1])
        time.sleep(4)
        a.kill9()
        time.sleep(1)
        a.start()
        wait_until(lambda: firing(sink), 40, what="firing notification after restart")
        t_fire = time.time()
        # restored: fires about active_at + 12 s, not restart + 12 s (~active_at + 17 s)
        assert t_fire < active_at + 12 + 4, (t_fire - active_at)
        assert t_fire >= active_at + 11, (t_fire - active_at)
        assert "restored `for` state" in a.output(), a.output()[-3000:]
        ok = True
    finally:
        c.close(keep_on_failure=not ok)


BAD = """groups:
  - name: broken
    rules:
      - alert: Fine
        expr: up == 0
      - alert: Broken
        expr: sum(rate(x[5m])
"""


def test_check_rules_and_bad_reload():
    tmp = TempDir("rulesbad")
    ok = False
    started = []
    try:
        good = write_config(tmp, RULES % ("1m", "0s"), "good.yml")
        bad = write_config(tmp, BAD, "bad.yml")
        exe = os.path.join(BIN, "osprey-alerter")
        p = subprocess.run([exe, "--check-rules", good], capture_output=True, text=True)
        assert p.returncode == 0 and "SUCCESS: 2 rules found" in p.stdout, (p.stdout, p.stderr)
        p = subprocess.run([exe, "--check-rules", bad], capture_output=True, text=True)
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "FAILED" in p.stdout, p.stdout
        assert bad + ":7:15:" in p.stderr and 'group "broken"' in p.stderr and \
            'rule 2 (alert "Broken")' in p.stderr, p.stderr
        # promtool agrees on the deploy rules
        root = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "rules")
        files = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".yml"))
        p = subprocess.run([exe, "--check-rules"] + files, capture_output=True, text=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        q = subprocess.run(["promtool", "check", "rules"] + files, capture_output=True, text=True)
        assert q.returncode == 0, (q.stdout, q.stderr)
        assert [l for l in p.stdout.splitlines() if "SUCCESS" in l] == \
            [l for l in q.stdout.splitlines() if "SUCCESS" in l], (p.stdout, q.stdout)
        # a running alerter (store away: evaluation fails, counted, no crash) keeps its
        # rules when a reload brings a bad one
        rules = write_config(tmp, RULES % ("1m", "0s"), "live.yml")
        a = alerter(tmp, None, extra=["--rules", rules, "--store-query",
                                      "tcp://127.0.0.1:%d" % free_port(),
                                      "-c", write_config(tmp, "query_timeout: 300ms\n")])
        started.append(a)

        def failures():
            st, _, m = http("GET", a.url + "/metrics")
            return b'osprey_alerter_rule_evaluation_failures_total{rule_group="fx"}' in m
        wait_until(failures, 20, what="failure counter")
        # Prometheus' API shows the failing rules with their error
        wait_until(lambda: get_v1(a, "/api/v1/rules")["groups"][0]["lastEvaluation"] !=
                   "0001-01-01T00:00:00Z", 20, what="a failed evaluation")
        for r in get_v1(a, "/api/v1/rules")["groups"][0]["rules"]:
            assert r["health"] == "err" and r["lastError"], r
        assert get_v1(a, "/api/v1/alerts") == {"alerts": []}
        with open(rules, "w") as f:
            f.write(BAD)
        st, _, body = http("POST", a.url + "/-/reload")
        assert st != 200 and b"Broken" in body, (st, body)
        assert a.proc.alive()
        st, _, _ = http("GET", a.url + "/-/healthy")
        assert st == 200
        ok = True
    finally:
        for d in started:
            d.stop()
        if ok:
            tmp.cleanup()


if __name__ == "__main__":
    run_tests([test_check_rules_and_bad_reload, test_pending_firing_resolved,
               test_for_survives_kill9])
