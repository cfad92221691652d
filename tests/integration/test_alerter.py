"""Integration tests of osprey-alerter as an Alertmanager replacement: API v2,
grouping and timing, routing, inhibition, silences, resolved notifications,
receiver outage, bad input, Redis state across kill -9 and two alerters.
Timings use group_wait 1s / group_interval 2s to keep the suite fast."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from alerter_support import (ROUTE_FAST, Sink, alert, alerter, get_alerts,  # noqa: E402
                             post_alerts, write_config)
from osprey_harness import BIN, Redis, TempDir, http, run_tests  # noqa: E402


def simple_config(sink, route_extra="", receivers_extra="", top_extra="", send_resolved=True):
    return """route:
  receiver: hook
  group_by: [alertname]
%s%s
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: %s
%s
%s""" % (ROUTE_FAST, route_extra, sink.url(), "true" if send_resolved else "false",
         receivers_extra, top_extra)


class Env:
    def __init__(self, redis=False):
        self.tmp = TempDir("alert")
        self.redis = Redis(self.tmp) if redis else None
        self.daemons = []
        self.sinks = []

    def sink(self, **kw):
        s = Sink(**kw)
        self.sinks.append(s)
        return s

    def alerter(self, cfg, extra=(), **kw):
        extra = list(extra)
        if self.redis:
            extra += ["--redis", self.redis.url]
        d = alerter(self.tmp, cfg, extra, **kw)
        self.daemons.append(d)
        return d

    def close(self):
        for d in self.daemons:
            d.stop()
        for s in self.sinks:
            try:
                s.down()
            except Exception:  # noqa: BLE001 - already down
                pass
        if self.redis:
            self.redis.stop()
        self.tmp.cleanup()


def test_grouping_two_alerts_one_notification():
    e = Env()
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        st, _, _ = post_alerts(a.url, [alert("HighLoad", instance="a"),
                                       alert("HighLoad", instance="b")])
        assert st == 200
        b = s.wait(1)[0]
        time.sleep(2.5)
        assert len(s.bodies()) == 1, s.bodies()
        assert b["version"] == "4" and b["status"] == "firing" and b["receiver"] == "hook"
        assert len(b["alerts"]) == 2
        assert b["groupLabels"] == {"alertname": "HighLoad"}
        assert b["commonLabels"] == {"alertname": "HighLoad"}
        assert b["groupKey"] == '{}:{alertname="HighLoad"}'
        assert all(x["endsAt"] == "0001-01-01T00:00:00Z" for x in b["alerts"])
        assert all(len(x["fingerprint"]) == 16 for x in b["alerts"])
    finally:
        e.close()


def test_group_interval_and_repeat_interval():
    e = Env()
    try:
        s = e.sink()
        cfg = simple_config(s).replace("repeat_interval: 1h", "repeat_interval: 4s")
        a = e.alerter(cfg)
        post_alerts(a.url, [alert("Disk", instance="a")])
        s.wait(1)
        t1 = s.posts[0]["t"]
        post_alerts(a.url, [alert("Disk", instance="b")])  # joins the group
        s.wait(2)
        t2 = s.posts[1]["t"]
        assert 1.5 <= t2 - t1 <= 3.5, t2 - t1  # the next group_interval tick, not at once
        assert len(s.bodies()[1]["alerts"]) == 2
        # unchanged group: resent after repeat_interval (4s), not at every tick
        s.wait(3, timeout=10)
        t3 = s.posts[2]["t"]
        assert 3.5 <= t3 - t2 <= 6.5, t3 - t2
    finally:
        e.close()


def test_routing_with_continue():
    e = Env()
    try:
        s = e.sink()
        cfg = """route:
  receiver: default
  group_by: [alertname]
%s  routes:
    - matchers: ['team="ai"']
      receiver: ai
      continue: true
    - match_re: {severity: "crit.*"}
      receiver: oncall
    - matchers: ['{team="web"}']
      receiver: web
receivers:
  - name: default
    webhook_configs: [{url: "%s"}]
  - name: ai
    webhook_configs: [{url: "%s"}]
  - name: oncall
    webhook_configs: [{url: "%s"}]
  - name: web
    webhook_configs: [{url: "%s"}]
""" % (ROUTE_FAST, s.url("/default"), s.url("/ai"), s.url("/oncall"), s.url("/web"))
        a = e.alerter(cfg)
        post_alerts(a.url, [alert("SlowAI", team="ai", severity="critical"),
                            alert("Other", team="db"),
                            alert("WebDown", team="web", severity="critical")])
        s.wait(1, "/ai")
        s.wait(2, "/oncall")
        s.wait(1, "/default")
        time.sleep(1.5)
        assert [b["alerts"][0]["labels"]["alertname"] for b in s.bodies("/ai")] == ["SlowAI"]
        oncall = sorted(b["alerts"][0]["labels"]["alertname"] for b in s.bodies("/oncall"))
        assert oncall == ["SlowAI", "WebDown"], oncall  # continue let SlowAI reach oncall
        assert s.bodies("/web") == []  # first match (oncall) wins without continue
        assert [b["alerts"][0]["labels"]["alertname"] for b in s.bodies("/default")] == ["Other"]
        assert s.bodies("/ai")[0]["groupKey"] == '{}/{team="ai"}:{alertname="SlowAI"}'
        r = get_alerts(a.url, "?filter=alertname%3D%22SlowAI%22")
        assert sorted(x["name"] for x in r[0]["receivers"]) == ["ai", "oncall"]
    finally:
        e.close()


def test_inhibition():
    e = Env()
    try:
        s = e.sink()
        cfg = simple_config(s, top_extra="""inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [service]
""").replace("group_by: [alertname]", "group_by: [alertname, service]")
        a = e.alerter(cfg)
        post_alerts(a.url, [alert("ServiceDown", service="tts", severity="critical"),
                            alert("SlowTTS", service="tts", severity="warning"),
                            alert("SlowTTS", service="llm", severity="warning")])
        time.sleep(3.5)
        names = sorted((b["alerts"][0]["labels"]["alertname"], b["alerts"][0]["labels"]["service"])
                       for b in s.bodies())
        assert names == [("ServiceDown", "tts"), ("SlowTTS", "llm")], names
        inh = get_alerts(a.url, "?filter=alertname%3D%22SlowTTS%22&filter=service%3D%22tts%22")
        assert inh[0]["status"]["state"] == "suppressed" and len(inh[0]["status"]["inhibitedBy"]) == 1
        assert get_alerts(a.url, "?inhibited=false&filter=service%3D%22tts%22")[0]["labels"][
            "alertname"] == "ServiceDown"
    finally:
        e.close()


def make_silence(url, matchers, seconds=3600, sid=None):
    now = time.time()
    from alerter_support import rfc3339
    body = {"matchers": matchers, "startsAt": rfc3339(now), "endsAt": rfc3339(now + seconds),
            "createdBy": "test", "comment": "maintenance"}
    if sid:
        body["id"] = sid
    return http("POST", url + "/api/v2/silences", json.dumps(body).encode(),
                {"Content-Type": "application/json"})


def test_silence_create_and_expire():
    e = Env()
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        st, _, body = make_silence(a.url, [{"name": "alertname", "value": "Noisy",
                                            "isRegex": False}])
        assert st == 200, body
        sid = json.loads(body)["silenceID"]
        post_alerts(a.url, [alert("Noisy", instance="x")])
        time.sleep(2.5)
        assert s.bodies() == []
        got = get_alerts(a.url)
        assert got[0]["status"]["state"] == "suppressed" and got[0]["status"]["silencedBy"] == [sid]
        st, _, body = http("GET", a.url + "/api/v2/silence/" + sid)
        assert st == 200 and json.loads(body)["status"]["state"] == "active"
        st, _, _ = http("DELETE", a.url + "/api/v2/silence/" + sid)
        assert st == 200
        st, _, body = http("GET", a.url + "/api/v2/silences")
        assert json.loads(body)[0]["status"]["state"] == "expired"
        b = s.wait(1, timeout=6)[0]  # next group_interval tick after the expiry
        assert b["alerts"][0]["labels"]["alertname"] == "Noisy"
        assert http("DELETE", a.url + "/api/v2/silence/nope")[0] == 404
        st, _, body = make_silence(a.url, [{"name": "x", "value": ".*", "isRegex": True}])
        assert st == 400 and b"empty string" in body, body
    finally:
        e.close()


def test_resolved_notification():
    e = Env()
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        post_alerts(a.url, [alert("Flappy", instance="x")])
        s.wait(1)
        post_alerts(a.url, [alert("Flappy", instance="x", ends=time.time() - 1)])
        b = s.wait(2, timeout=6)[1]
        assert b["status"] == "resolved" and b["alerts"][0]["status"] == "resolved"
        assert b["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        time.sleep(2.5)
        assert len(s.bodies()) == 2  # resolved once, then the group is gone
        assert get_alerts(a.url) == []
    finally:
        e.close()


def test_receiver_down_then_back():
    """The issue's case: the receiver is down for a full minute, then back; the
    notification is delivered, once. Retries back off to at most the 2 s
    group_interval here, so the minute covers many failed flushes."""
    e = Env()
    try:
        s = e.sink()
        s.down()
        a = e.alerter(simple_config(s))
        post_alerts(a.url, [alert("Outage", instance="x")])
        t0 = time.time()
        time.sleep(60)
        assert s.bodies() == []
        st, _, m = http("GET", a.url + "/metrics")
        failed = [float(l.split()[-1]) for l in m.decode().splitlines()
                  if l.startswith("osprey_alerter_notification_requests_failed_total")]
        assert failed and sum(failed) >= 10, failed  # it kept trying during the minute
        s.up()
        s.wait(1, timeout=10)
        assert time.time() - t0 >= 60
        time.sleep(6)  # three more group intervals: nothing is sent again
        assert len(s.bodies()) == 1, s.bodies()
        assert s.bodies()[0]["alerts"][0]["labels"]["alertname"] == "Outage"
        st, _, m = http("GET", a.url + "/metrics")
        m = m.decode()
        assert 'osprey_alerter_notifications_total{receiver="hook",integration="webhook"} 1' in m
    finally:
        e.close()


def test_bad_input():
    e = Env()
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        st, _, body = post_alerts(a.url, None) if False else http(
            "POST", a.url + "/api/v2/alerts", b'[{"labels": {"a": "b"}', {})
        assert st == 400 and b"line 1 column" in body, body
        st, _, body = post_alerts(a.url, [alert("Good", instance="1"), {"labels": {"bad-name": "x"}},
                                          {"annotations": {}}, alert("Good", instance="2")])
        assert st == 400 and b"alert 1" in body and b"alert 2" in body, body
        assert sorted(x["labels"]["instance"] for x in get_alerts(a.url)) == ["1", "2"]
        st, _, body = post_alerts(a.url, [{"labels": {"alertname": "x"},
                                           "startsAt": "yesterday"}])
        assert st == 400 and b"startsAt" in body
        # unknown receiver: --check-config fails naming it; a reload keeps the old config
        bad = simple_config(s).replace("receiver: hook", "receiver: nobody", 1)
        path = write_config(e.tmp, bad)
        r = subprocess.run([os.path.join(BIN, "osprey-alerter"), "--alertmanager-config", path,
                            "--check-config"], capture_output=True, text=True)
        assert r.returncode != 0 and 'undefined receiver "nobody" used in route' in r.stderr, r
        assert ":2:" in r.stderr or ":3:" in r.stderr, r.stderr  # file:line:col
        with open(a.args[a.args.index("--alertmanager-config") + 1], "w") as f:
            f.write(bad)
        st, _, body = http("POST", a.url + "/-/reload")
        assert st == 500 and b"nobody" in body, (st, body)
        assert http("GET", a.url + "/-/healthy")[0] == 200
        assert a.proc.alive()
        s.wait(1)
    finally:
        e.close()


def test_kill9_restart_no_duplicate():
    e = Env(redis=True)
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        batch = [alert("Persistent", instance="x")]
        post_alerts(a.url, batch)
        s.wait(1)
        st, _, body = make_silence(a.url, [{"name": "alertname", "value": "Muted",
                                            "isRegex": False}])
        sid = json.loads(body)["silenceID"]
        a.kill9()
        a.start()
        # Prometheus re-sends its firing alerts after the restart
        post_alerts(a.url, batch + [alert("Muted", instance="y")])
        time.sleep(4)
        assert len(s.bodies()) == 1, s.bodies()  # neither re-notified nor the silenced one
        st, _, body = http("GET", a.url + "/api/v2/silence/" + sid)
        assert st == 200 and json.loads(body)["status"]["state"] == "active"
    finally:
        e.close()


def test_two_alerters_one_redis():
    e = Env(redis=True)
    try:
        s = e.sink()
        cfg = simple_config(s)
        a = e.alerter(cfg)
        b = e.alerter(cfg)
        for i in range(3):
            batch = [alert("Shared%d" % i, instance="x")]
            post_alerts(a.url, batch)
            post_alerts(b.url, batch)
        time.sleep(5)
        names = sorted(x["alerts"][0]["labels"]["alertname"] for x in s.bodies())
        assert names == ["Shared0", "Shared1", "Shared2"], names
        # a silence made on one alerter mutes on the other
        make_silence(a.url, [{"name": "alertname", "value": "Later", "isRegex": False}])
        time.sleep(1.5)
        post_alerts(b.url, [alert("Later", instance="z")])
        time.sleep(3)
        assert len(s.bodies()) == 3
    finally:
        e.close()


def test_status_and_health():
    e = Env()
    try:
        s = e.sink()
        a = e.alerter(simple_config(s))
        st, _, body = http("GET", a.url + "/api/v2/status")
        j = json.loads(body)
        assert st == 200 and j["cluster"]["status"] == "disabled" and "receiver: hook" in j[
            "config"]["original"]
        assert json.loads(http("GET", a.url + "/api/v2/receivers")[2]) == [{"name": "hook"}]
        for p in ("/-/healthy", "/-/ready", "/ready", "/health", "/metrics"):
            assert http("GET", a.url + p)[0] == 200, p
        # no config at all: a plain API-only alerter
        d = alerter(e.tmp)
        e.daemons.append(d)
        assert post_alerts(d.url, [alert("X")])[0] == 200 and len(get_alerts(d.url)) == 1
        # without rule files Prometheus' rules API answers empty lists
        assert json.loads(http("GET", d.url + "/api/v1/rules")[2]) == {
            "status": "success", "data": {"groups": []}}
        assert json.loads(http("GET", d.url + "/api/v1/alerts")[2]) == {
            "status": "success", "data": {"alerts": []}}
    finally:
        e.close()


if __name__ == "__main__":
    run_tests([test_grouping_two_alerts_one_notification, test_group_interval_and_repeat_interval,
               test_routing_with_continue, test_inhibition, test_silence_create_and_expire,
               test_resolved_notification, test_receiver_down_then_back, test_bad_input,
               test_kill9_restart_no_duplicate, test_two_alerters_one_redis,
               test_status_and_health])
