"""Several collectors share the targets through Redis: each target is scraped by
exactly one collector; when a collector dies its targets move to the others
within the membership TTL; without Redis one collector scrapes all."""
import signal
import time

import osprey_harness as h

N_TARGETS = 12


def config(targets):
    return ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
            "  - job_name: shard\n    static_configs:\n      - targets: [%s]\n"
            % ", ".join('"%s"' % t.address for t in targets))


def rate_per_target(targets, window):
    """Requests each target got during the last `window` seconds."""
    now = time.time()
    return [sum(1 for s in t.served if s[0] > now - window) for t in targets]


def targets_metric(col):
    _, _, body = h.http("GET", col.url + "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("osprey_collector_targets"):
            total += float(line.split()[-1])
    return total


def test_two_collectors_share_then_fail_over():
    c = h.Cluster("shard", redis=True)
    targets = [h.FixtureTarget(lambda n: "shard_metric 1\n") for _ in range(N_TARGETS)]
    try:
        cfg = config(targets)
        a = c.collector(cfg, extra=["--redis", c.redis.url])
        b = c.collector(cfg, extra=["--redis", c.redis.url])
        h.wait_until(lambda: targets_metric(a) + targets_metric(b) == N_TARGETS and
                     targets_metric(a) > 0 and targets_metric(b) > 0, 30,
                     what="targets split between two collectors")
        time.sleep(6)
        counts = rate_per_target(targets, 5)
        # each target scraped once per second by one collector, not twice
        assert all(3 <= n <= 7 for n in counts), counts
        d = c.store.query("count(up{job='shard'} == 1)")
        assert d["result"][0]["value"][1] == str(N_TARGETS), d
        # collector a dies without leaving: b takes its targets within the TTL
        a.proc.signal(signal.SIGKILL)
        a.proc.p.wait()
        h.wait_until(lambda: targets_metric(b) == N_TARGETS, 30, what="failover to b")
        time.sleep(4)
        counts = rate_per_target(targets, 3)
        assert all(n >= 2 for n in counts), counts
    finally:
        c.close()
        for t in targets:
            t.stop()


def test_redis_down_keeps_last_membership():
    c = h.Cluster("shardr", redis=True)
    targets = [h.FixtureTarget(lambda n: "m 1\n") for _ in range(4)]
    try:
        col = c.collector(config(targets), extra=["--redis", c.redis.url])
        h.wait_until(lambda: targets_metric(col) == 4, 30, what="sole member owns all")
        c.redis.stop()
        time.sleep(5)
        assert col.proc.alive()
        counts = rate_per_target(targets, 3)
        assert all(n >= 2 for n in counts), counts
        assert h.http("GET", col.url + "/ready")[0] == 200
    finally:
        c.redis = None
        c.close()
        for t in targets:
            t.stop()


if __name__ == "__main__":
    h.run_tests([test_two_collectors_share_then_fail_over, test_redis_down_keeps_last_membership])
