"""The README's commands: scripts/up installs, builds and starts the suite with the
deploy/local configs, `up` then lists every configured target with value 1, and
scripts/down stops everything it started. Runs with its state in a temp dir
(OSP_VAR) and a free PostgreSQL port; the daemons use their fixed local ports."""
import os
import re
import subprocess
import time

import osprey_harness as h


def configured_jobs():
    text = open(os.path.join(h.SRC, "deploy", "local", "prometheus.yml")).read()
    return set(re.findall(r"job_name:\s*(\S+)", text))


def test_up_query_down():
    tmp = h.TempDir("up")
    env = dict(os.environ, OSP_VAR=os.path.join(tmp.path, "var"), OSP_PG_PORT=str(h.free_port()),
               OSP_REDIS_PORT=str(h.free_port()))
    log = open(os.path.join(tmp.path, "up.log"), "wb")
    up = subprocess.Popen([os.path.join(h.SRC, "scripts", "up")], stdout=log,
                          stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        h.wait_until(lambda: b"Osprey is up." in open(log.name, "rb").read() or up.poll() is not None,
                     600, interval=1, what="scripts/up")
        assert up.poll() is None, open(log.name, "rb").read().decode()[-3000:]
        jobs = configured_jobs()

        def all_up():
            st, j = h.get_json("http://127.0.0.1:9090/api/v1/query?query=up")
            got = {r["metric"]["job"]: r["value"][1] for r in j["data"]["result"]}
            return set(got) == jobs and all(v == "1" for v in got.values())
        h.wait_until(all_up, 90, interval=1, what="every configured target up == 1")

        # the alerter evaluates the shipped rules (deploy/rules) against the store
        shipped = set()
        for f in os.listdir(os.path.join(h.SRC, "deploy", "rules")):
            if f.endswith(".yml"):
                shipped |= set(re.findall(r"^\s*- name:\s*(\S+)",
                                          open(os.path.join(h.SRC, "deploy", "rules", f)).read(),
                                          re.M))

        def rules_ok():
            st, j = h.get_json("http://127.0.0.1:9093/api/v1/rules")
            groups = j["data"]["groups"]
            return {g["name"] for g in groups} == shipped and \
                all(r["health"] == "ok" for g in groups for r in g["rules"])
        h.wait_until(rules_ok, 90, interval=1, what="shipped rule groups evaluated, health ok")
        pids = {}
        run = os.path.join(env["OSP_VAR"], "run")
        for f in os.listdir(run):
            if f.endswith(".pid"):
                pids[f] = int(open(os.path.join(run, f)).read().split()[0])
        assert {"store.pid", "collector.pid", "postgres.pid", "redis.pid", "alerter.pid",
            "gpu-exporter.pid"} <= set(pids), pids
        r = subprocess.run([os.path.join(h.SRC, "scripts", "down")], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "Osprey stopped." in r.stdout, r.stdout + r.stderr
        up.wait(30)
        time.sleep(1)
        for name, pid in pids.items():
            assert not os.path.exists("/proc/%d" % pid) or \
                open("/proc/%d/stat" % pid).read().split()[2] == "Z", "%s still running" % name
    finally:
        if up.poll() is None:
            subprocess.run([os.path.join(h.SRC, "scripts", "down")], env=env, timeout=120)
            up.wait(30)
        log.close()
        tmp.cleanup()


if __name__ == "__main__":
    h.run_tests([test_up_query_down])
