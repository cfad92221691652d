"""What every daemon offers: --help, --version, /metrics, /health, /ready, JSON logs,
reload, clean SIGTERM."""
import json
import os
import signal
import subprocess
import time

import osprey_harness as h


def test_flags():
    for name in ("store", "collector"):
        exe = os.path.join(h.BIN, "osprey-" + name)
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and r.stdout.strip(), (name, r.stdout, r.stderr)
        r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and "--listen" in r.stdout + r.stderr, (name, r.stdout)
    r = subprocess.run([os.path.join(h.BIN, "osprey-store"), "--help"], capture_output=True,
                       text=True, timeout=10)
    for flag in ("--pg", "--retention", "--ingest", "--ack", "--query", "--config",
                 "--log-level", "--check-config"):
        assert flag in r.stdout + r.stderr, flag
    r = subprocess.run([os.path.join(h.BIN, "osprey-collector"), "--help"], capture_output=True,
                       text=True, timeout=10)
    for flag in ("--store-ingest", "--store-ack", "--spool-dir", "--spool-max-bytes", "--redis"):
        assert flag in r.stdout + r.stderr, flag


def check_std(d):
    st, hdrs, body = h.http("GET", d.url + "/metrics")
    assert st == 200 and b"osprey_" in body and b"process_resident_memory_bytes" in body, body[:300]
    st, j = h.get_json(d.url + "/health")
    assert st == 200 and j["status"] == "ok" and "version" in j and "uptime_seconds" in j, j
    assert isinstance(j["checks"], dict), j
    assert h.http("GET", d.url + "/ready")[0] == 200
    assert h.http("GET", d.url + "/-/healthy")[0] == 200
    return j


def test_standard_endpoints_logs_reload_and_sigterm():
    c = h.Cluster("std")
    t = h.FixtureTarget(lambda n: "m 1\n")
    try:
        col = c.collector("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                          "  - job_name: a\n    static_configs:\n      - targets: ['%s']\n"
                          % t.address)
        j = check_std(c.store)
        assert j["checks"].get("postgres") == "ok", j
        check_std(col)
        # reload: add a job through the config file and POST /-/reload
        with open(col.cfg, "a") as f:
            f.write("  - job_name: b\n    static_configs:\n      - targets: ['%s']\n" % t.address)
        st, _, body = h.http("POST", col.url + "/-/reload")
        assert st == 200, body
        h.wait_until(lambda: c.store.query('up{job="b"}')["result"], 30, what="reloaded job")
        # a broken reload keeps the old config
        with open(col.cfg, "a") as f:
            f.write("  - job_nme: broken\n")
        st, _, body = h.http("POST", col.url + "/-/reload")
        assert st >= 400, body
        assert h.http("GET", col.url + "/ready")[0] == 200
        # SIGHUP reload path does not kill it either
        col.proc.signal(signal.SIGHUP)
        time.sleep(1)
        assert col.proc.alive()
        # logs are JSON lines with ts, level, component, msg
        for d in (c.store, col):
            lines = [ln for ln in d.output().splitlines() if ln.strip()]
            assert lines, d.name
            for ln in lines[:20]:
                rec = json.loads(ln)
                assert {"ts", "level", "msg"} <= set(rec), rec
        # secrets are never logged
        assert "password=" not in c.store.output()
        # SIGTERM: clean exit 0, in order
        assert col.stop() == 0, col.output()[-2000:]
        assert c.store.stop() == 0, c.store.output()[-2000:]
    finally:
        c.close()
        t.stop()


if __name__ == "__main__":
    h.run_tests([test_flags, test_standard_endpoints_logs_reload_and_sigterm])
