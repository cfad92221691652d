"""Fault tests with real processes: kill -9 the store during steady ingest; stop
and restart PostgreSQL; cut the collector<->store link for 30 s. After each, every
scraped sample is in the store exactly once: the target serves a counter equal to
the scrape number, so the stored values must be exactly 1..N, each once."""
import time

import osprey_harness as h

SERIES = 50


class Counter:
    """A target whose n-th successful scrape serves value n on every series;
    `frozen` makes it answer 503 (a failed scrape, no samples)."""

    def __init__(self):
        self.frozen = False
        self.ok = 0
        self.target = h.FixtureTarget(self.page)

    def page(self, n):
        if self.frozen:
            return None
        self.ok += 1
        lines = ["fault_counter %d" % self.ok]
        lines += ['fault_series{i="%d"} %d' % (i, self.ok) for i in range(SERIES)]
        return "\n".join(lines) + "\n"


CONFIG = """
global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
scrape_configs:
  - job_name: fault
    static_configs:
      - targets: ["%s"]
"""


def start(prefix, via_proxy=False, store_extra=()):
    c = h.Cluster(prefix, store_extra=store_extra)
    tgt = Counter()
    proxies = None
    ing, ack = c.store.ingest_port, c.store.ack_port
    if via_proxy:
        proxies = (h.TcpProxy(ing), h.TcpProxy(ack))
        ing, ack = proxies[0].port, proxies[1].port
    col = h.Collector(c.tmp, CONFIG % tgt.target.address, ing, ack)
    c.others.append(col)
    h.wait_until(lambda: tgt.ok >= 5, 30, what="scrapes running")
    return c, tgt, col, proxies


def verify_exactly_once(c, tgt, timeout=120):
    tgt.frozen = True
    time.sleep(1.5)  # let an in-flight scrape finish
    n = tgt.ok
    h.log("target served", n, "successful scrapes; waiting for all in the store")

    def counts():
        d = c.store.query("count_over_time(fault_counter[1h])")
        return int(d["result"][0]["value"][1]) if d["result"] else 0
    h.wait_until(lambda: counts() >= n, timeout, interval=0.5,
                 what="%d samples of fault_counter (have %s)" % (n, "?"))
    d = c.store.query("fault_counter[1h]")
    vals = [int(float(v)) for _, v in d["result"][0]["values"]]
    assert vals == list(range(1, n + 1)), "not exactly once: %d values, first gaps/dups %r" % (
        len(vals), [(i + 1, v) for i, v in enumerate(vals) if v != i + 1][:5])
    d = c.store.query("count_over_time(fault_series[1h])")
    assert len(d["result"]) == SERIES
    assert all(s["value"][1] == str(n) for s in d["result"]), d["result"][:3]
    # PostgreSQL holds them too: restart the store and ask again
    c.store.stop()
    c.store.start()
    d = c.store.query("count_over_time(fault_counter[1h])")
    assert d["result"][0]["value"][1] == str(n), d
    return n


def test_kill9_store():
    c, tgt, col, _ = start("f-kill")
    try:
        for _ in range(2):
            time.sleep(3)
            c.store.kill9()
            h.log("store killed at scrape", tgt.ok)
            time.sleep(3)
            c.store.start()
        time.sleep(3)
        n = verify_exactly_once(c, tgt)
        h.log("kill -9: %d scrapes, all exactly once" % n)
    finally:
        c.close()
        tgt.target.stop()


def test_kill9_store_with_chunks():
    """As test_kill9_store, with chunks persisted every second and none kept in
    memory: the restart merges PostgreSQL chunks, the trimmed log's replay and
    the resends."""
    c, tgt, col, _ = start("f-kill-ch", store_extra=("--chunk-max-age", "1s",
                                                     "--head-window", "0s"))
    try:
        for _ in range(2):
            time.sleep(4)
            c.store.kill9()
            h.log("store killed at scrape", tgt.ok)
            time.sleep(2)
            c.store.start()
        time.sleep(3)
        n = verify_exactly_once(c, tgt)
        assert int(c.pg.sql("SELECT count(*) FROM osprey_chunks")) > 0
        h.log("kill -9 with chunks: %d scrapes, all exactly once" % n)
    finally:
        c.close()
        tgt.target.stop()


def test_postgres_down_2min():
    """PostgreSQL away for 2 minutes: the store says not ready, the collector
    spools, nothing acked is lost, and ingestion catches up (timed)."""
    outage = float(h.os.environ.get("OSP_PG_OUTAGE_S", "120"))
    c, tgt, col, _ = start("f-pg2", store_extra=("--chunk-max-age", "5s"))
    try:
        time.sleep(2)
        c.pg.stop()
        at = tgt.ok
        h.log("postgres stopped at scrape", at)
        h.wait_until(lambda: h.http("GET", c.store.url + "/ready")[0] == 503, 30,
                     what="store reports not ready without PostgreSQL")
        time.sleep(outage)
        assert tgt.ok > at + outage, "collector kept scraping during the outage"
        c.pg.start()
        t0 = time.monotonic()
        want = tgt.ok

        def have():
            d = c.store.query("count_over_time(fault_counter[1h])")
            return int(d["result"][0]["value"][1]) if d["result"] else 0
        h.wait_until(lambda: h.http("GET", c.store.url + "/ready")[0] == 200 and have() >= want,
                     120, interval=0.5, what="ingestion caught up")
        h.log("caught up with %d scrapes (%d during the outage) %.1f s after PostgreSQL returned"
              % (want, want - at, time.monotonic() - t0))
        n = verify_exactly_once(c, tgt)
        h.log("postgres down %.0f s: %d scrapes, all exactly once" % (outage, n))
    finally:
        c.close()
        tgt.target.stop()


def test_postgres_restart():
    c, tgt, col, _ = start("f-pg")
    try:
        time.sleep(2)
        c.pg.stop()
        h.log("postgres stopped at scrape", tgt.ok)
        h.wait_until(lambda: h.http("GET", c.store.url + "/ready")[0] == 503, 30,
                     what="store reports not ready without PostgreSQL")
        time.sleep(8)
        c.pg.start()
        h.wait_until(lambda: h.http("GET", c.store.url + "/ready")[0] == 200, 60,
                     what="store ready again")
        n = verify_exactly_once(c, tgt)
        h.log("postgres restart: %d scrapes, all exactly once" % n)
    finally:
        c.close()
        tgt.target.stop()


def test_link_drop_30s():
    c, tgt, col, proxies = start("f-link", via_proxy=True)
    try:
        time.sleep(2)
        for p in proxies:
            p.cut()
        at = tgt.ok
        time.sleep(30)
        assert tgt.ok > at + 30, "collector kept scraping during the outage"
        st, _, body = h.http("GET", col.url + "/metrics")
        assert b"osprey_bus_spool" in body, "spool metrics exported"
        for p in proxies:
            p.restore()
        n = verify_exactly_once(c, tgt)
        h.log("30 s link drop: %d scrapes, all exactly once" % n)
    finally:
        c.close()
        for p in proxies or ():
            p.stop()
        tgt.target.stop()


if __name__ == "__main__":
    h.run_tests([test_kill9_store, test_kill9_store_with_chunks, test_postgres_restart,
                 test_postgres_down_2min, test_link_drop_30s])
