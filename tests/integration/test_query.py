"""Query path over data older than the head window, with real processes: the
samples come from PostgreSQL chunks, a repeated query from the query cache;
samples backfilled into that time range later show at once (from memory) and
still after they are persisted and evicted (the cache entry they make stale is
dropped), and a store with the cache off answers the same."""
import re
import time

import osprey_harness as h

DAY = 86400 * 1000
STEP = 15000


def metric(store, name):
    st, _, body = h.http("GET", store.url + "/metrics")
    assert st == 200
    for line in body.decode().splitlines():
        m = re.match(r"^%s (\S+)$" % re.escape(name), line)
        if m:
            return float(m.group(1))
    return None


def samples_in_pg(pg):
    return int(pg.sql("SELECT coalesce(sum(samples), 0) FROM osprey_chunks"))


def answers(store, t_s):
    """count_over_time and the last value of each series, instant at t_s."""
    out = {}
    for q in ("count_over_time(qc[1h])", "qc"):
        d = store.query(q, t=t_s)
        out[q] = sorted((s["metric"].get("k"), s["value"][1]) for s in d["result"])
    return out


def test_cache_and_backfill():
    t0 = (int(time.time() * 1000) - DAY) // 60000 * 60000
    t_s = (t0 + 40 * STEP) / 1000
    c = h.Cluster("qry-cache", store_extra=("--chunk-max-age", "1s", "--head-window", "0s",
                                            "--retention", "30d"))
    try:
        # every other 15 s slot of 10 minutes, a day ago, for two series
        c.store.import_text("".join('qc{k="%s"} %d %d\n' % (k, i, t0 + i * STEP)
                                    for k in ("a", "b") for i in range(0, 40, 2)))
        h.wait_until(lambda: samples_in_pg(c.pg) == 40, 30, what="chunks persisted")
        time.sleep(1.5)  # evicted: the memory cut passes them
        want = {"count_over_time(qc[1h])": [("a", "20"), ("b", "20")],
                "qc": [("a", "38"), ("b", "38")]}
        hits0 = metric(c.store, "osprey_store_query_cache_hits_total")
        for _ in range(3):
            assert answers(c.store, t_s) == want
        assert metric(c.store, "osprey_store_query_cache_hits_total") > hits0, "cache unused"
        # backfill the odd slots of series a: visible from memory at once, then from
        # PostgreSQL; the cached copy of the old range never hides them
        c.store.import_text("".join('qc{k="a"} %d %d\n' % (i, t0 + i * STEP)
                                    for i in range(1, 40, 2)))
        want = {"count_over_time(qc[1h])": [("a", "40"), ("b", "20")],
                "qc": [("a", "39"), ("b", "38")]}
        deadline = time.time() + 4
        while time.time() < deadline:
            assert answers(c.store, t_s) == want
        assert samples_in_pg(c.pg) == 60
        for _ in range(3):
            assert answers(c.store, t_s) == want
        # a store with the cache off (same database) agrees
        c.store.stop()
        c.store.args += ["--query-cache", "0"]
        c.store.start()
        assert metric(c.store, "osprey_store_query_cache_hits_total") is None
        assert answers(c.store, t_s) == want
    finally:
        c.close()


if __name__ == "__main__":
    h.run_tests([test_cache_and_backfill])
