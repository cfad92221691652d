"""Storage engine tests with real processes (issue: compressed chunks in
time-partitioned tables). Backfill of last week's data, out of order; exact
duplicates ignored and conflicts rejected and counted; compaction merges the
chunks and a kill -9 in the middle of it loses nothing; a restart rebuilds the
head from the chunks and the log; retention drops whole partitions; a replica
store holds a full copy."""
import re
import time

import osprey_harness as h

DAY = 86400 * 1000
STEP = 15000


def metric(store, name):
    st, _, body = h.http("GET", store.url + "/metrics")
    assert st == 200
    total = 0.0
    for line in body.decode().splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), line)
        if m:
            total += float(m.group(2))
    return total


def backfill_text(nseries, start_ms, n, first_half_only=None):
    """Counter series bf{i} with value i*1000 + k at start + k*STEP; first_half_only
    True/False selects one half of the samples (to import out of order)."""
    lines = []
    for i in range(nseries):
        for k in range(n):
            if first_half_only is True and k >= n // 2:
                continue
            if first_half_only is False and k < n // 2:
                continue
            lines.append('bf{i="%d",job="backfill"} %d %d' % (i, i * 1000 + k, start_ms + k * STEP))
    return "\n".join(lines) + "\n"


def snapshot(store, end_s, span_s):
    """Answers that must not change across compaction, crash and restart."""
    out = []
    for q in ("sum(bf)", "count(bf)", "max(bf)"):
        st, j = h.post_form(store.url + "/api/v1/query_range",
                            {"query": q, "start": str(end_s - span_s), "end": str(end_s),
                             "step": "60"})
        assert st == 200 and j["status"] == "success", j
        out.append(j["data"]["result"])
    d = store.query("count_over_time(bf[%ds])" % span_s, t=end_s)
    out.append(sorted((s["metric"]["i"], s["value"][1]) for s in d["result"]))
    return out


def uncompacted(pg, window_ms):
    return int(pg.sql("SELECT count(*) FROM (SELECT series_id FROM osprey_chunks"
                      " GROUP BY series_id, min_t / %d HAVING bool_or(level = 0)"
                      " AND count(*) > 1) x" % window_ms))


def level1_samples(pg):
    return int(pg.sql("SELECT coalesce(sum(samples), 0) FROM osprey_chunks WHERE level = 1"))


def test_backfill_compaction_and_kill9():
    nseries, n = 1200, 960  # 4 h at 15 s, two days ago: ~50 compaction transactions
    start = (int(time.time() * 1000) - 2 * DAY) // 3600000 * 3600000
    c = h.Cluster("st-bf", store_extra=("--chunk-max-age", "2s", "--head-window", "10m",
                                        "--retention", "30d", "--compaction-window", "1h"))
    lock = None
    try:
        # A second connection holds bf{i="0"}'s rows of the first hour locked, as a second
        # store compacting the same database would: compaction does not wait for them but
        # merges the other series and windows, so the kill -9 below comes while the first
        # hour is compacted in part, however fast the machine is.
        c.store.import_text('bf{i="0",job="backfill"} 0 %d\n' % start)
        sid = h.wait_until(lambda: c.pg.sql("SELECT series_id FROM osprey_series"
                                            " WHERE labels->>'i' = '0'"), 30, what="bf{i=0}")
        lock = c.pg.session()

        def locked():
            lock.run("BEGIN")
            got = int(lock.run("SELECT count(*) FROM (SELECT 1 FROM osprey_chunks"
                               " WHERE series_id = %s AND min_t >= %d AND min_t < %d"
                               " FOR UPDATE) x" % (sid, start, start + 3600000)))
            if got == 0:
                lock.run("ROLLBACK")
            return got > 0
        h.wait_until(locked, 60, interval=0.2, what="a chunk row of bf{i=0} locked")
        # the second half first: the first half then arrives out of order
        for half in (False, True):
            text = backfill_text(nseries, start, n, first_half_only=half)
            lines = text.splitlines(True)
            for off in range(0, len(lines), 40000):
                c.store.import_text("".join(lines[off:off + 40000]))
        end_s = (start + (n - 1) * STEP) / 1000
        span = n * STEP // 1000
        before = snapshot(c.store, end_s, span)
        assert len(before[3]) == nseries and all(v == str(n) for _, v in before[3]), before[3][:3]
        # exact duplicates are ignored; another value at a stored time is rejected (in
        # memory) or loses to the first-written one (compaction, queries)
        c.store.import_text('bf{i="0",job="backfill"} 0 %d\n' % start)
        now_ms = int(time.time() * 1000)
        c.store.import_text('recent 1 %d\n' % (now_ms - 60000))
        c.store.import_text('recent 1 %d\n' % (now_ms - 60000))
        c.store.import_text('recent 2 %d\n' % (now_ms - 60000))
        assert metric(c.store, "osprey_store_samples_rejected_total") >= 1
        d = c.store.query("recent[5m]")
        assert [v for _, v in d["result"][0]["values"]] == ["1"], d
        # kill -9 as soon as compaction has started
        h.wait_until(lambda: metric(c.store, "osprey_store_compactions_total") >= 1, 120,
                     interval=0.05, what="compaction started")
        c.store.kill9()
        left = nseries * n - level1_samples(c.pg)
        h.log("killed during compaction;", left, "samples not yet in compacted chunks")
        assert left > 0, "the kill came after compaction had finished"
        assert "compaction window busy" in c.store.output(), "the locked window was waited for"
        lock.close()
        c.store.start()
        assert snapshot(c.store, end_s, span) == before, "answers changed after kill -9"
        def compacted():
            # every sample persisted (replayed ones are cut after --chunk-max-age) and merged
            return uncompacted(c.pg, 3600000) == 0 and level1_samples(c.pg) == nseries * n
        h.wait_until(compacted, 180, interval=1, what="compaction finished after the restart")
        assert snapshot(c.store, end_s, span) == before, "answers changed by compaction"
        # a conflict with old data is rejected at ingest while a copy of that data is in
        # memory (e.g. just replayed), else found by compaction; the first write wins
        rejected = metric(c.store, "osprey_store_samples_rejected_total")
        c.store.import_text('bf{i="0",job="backfill"} 12345 %d\n' % start)
        h.wait_until(lambda: metric(c.store, "osprey_store_compaction_conflicts_total") >= 1
                     or metric(c.store, "osprey_store_samples_rejected_total") > rejected, 60,
                     what="the conflicting backfill sample rejected or counted by compaction")
        d = c.store.query('bf{i="0"}', t=start / 1000)
        assert d["result"][0]["value"][1] == "0", d
        rows = c.pg.sql("SELECT sum(samples), sum(length(data)), count(*) FROM osprey_chunks"
                        " WHERE level = 1").split("|")
        samples, nbytes, nchunks = int(rows[0]), int(rows[1]), int(rows[2])
        h.log("compacted: %d samples in %d chunks, %.2f bytes/sample of chunk data" % (
            samples, nchunks, nbytes / samples))
        assert samples == nseries * n, samples
        # a compacted chunk stays inside its window (what ran past it was merged with the
        # next window's chunks, not kept twice)
        assert c.pg.sql("SELECT count(*) FROM osprey_chunks WHERE level = 1"
                        " AND min_t / 3600000 <> max_t / 3600000") == "0"
        # compacted chunks are dense chunks (format byte 0xd1): this regular counter data
        # takes a fraction of a byte per sample (XOR chunks: ~1.5)
        assert int(c.pg.sql("SELECT count(*) FROM osprey_chunks WHERE level = 1"
                            " AND get_byte(data, 0) <> 209")) == 0
        assert nbytes / samples < 0.5, "compression: %.2f bytes per sample" % (nbytes / samples)
        # the batch log is trimmed once its samples are in chunks
        h.wait_until(lambda: int(c.pg.sql("SELECT count(*) FROM osprey_batches")) == 0, 30,
                     what="batch log trimmed")
        # clean restart: the head comes back from the chunks
        c.store.stop()
        c.store.start()
        assert snapshot(c.store, end_s, span) == before
    finally:
        if lock is not None:
            lock.close()
        c.close()


def test_retention_drops_partitions():
    now = int(time.time() * 1000)
    c = h.Cluster("st-ret", store_extra=("--chunk-max-age", "1s", "--retention", "10d",
                                         "--head-window", "0s"))
    try:
        ages = (5, 3, 1)

        def t0(age):
            # noon UTC of the day `age` days ago: the 40 samples never straddle midnight
            return (now - age * DAY) // DAY * DAY + DAY // 2

        text = ""
        for age in ages:
            text += "".join('ret{age="%dd"} %d %d\n' % (age, k, t0(age) + k * STEP)
                            for k in range(40))
        c.store.import_text(text)

        def parts():
            return set(c.pg.sql("SELECT relname FROM pg_inherits i JOIN pg_class c"
                                " ON c.oid = i.inhrelid WHERE i.inhparent ="
                                " 'osprey_chunks'::regclass").split())
        h.wait_until(lambda: len(parts()) >= 3, 30, what="three day partitions")
        for age in ages:
            d = c.store.query('count_over_time(ret{age="%dd"}[1h])' % age,
                              t=(t0(age) + 40 * STEP) / 1000)
            assert d["result"] and d["result"][0]["value"][1] == "40", (age, d)
        before = parts()
        c.store.stop()
        c.store.args[c.store.args.index("10d")] = "2d"
        c.store.start()
        h.wait_until(lambda: metric(c.store, "osprey_store_partitions_dropped_total") >= 2, 30,
                     what="old partitions dropped")
        after = parts()
        assert len(before - after) == 2 and len(after) == len(before) - 2, (before, after)
        for age, want in ((5, None), (3, None), (1, "40")):
            d = c.store.query('count_over_time(ret{age="%dd"}[1h])' % age,
                              t=(t0(age) + 40 * STEP) / 1000)
            got = d["result"][0]["value"][1] if d["result"] else None
            assert got == want, (age, d)
        st, _, body = h.http("GET", c.store.url + "/metrics")
        assert b'osprey_store_table_bytes{table="osprey_chunks_p' in body
    finally:
        c.close()


def test_replica_store_holds_a_full_copy():
    """Two stores, each with its own PostgreSQL, subscribed to the same
    collector, which requires both acks: kill one, the other has every sample;
    the killed one catches up from the collector's spool after its restart."""
    c = h.Cluster("st-ha", store_extra=("--store-id", "primary"))
    tmp2 = h.TempDir("st-ha2")
    pg2 = h.Postgres(tmp2)
    s2 = h.Store(tmp2, pg2, extra=("--store-id", "replica"))
    hits = {"n": 0, "frozen": False}

    def page(n):
        if hits["frozen"]:
            return None
        hits["n"] += 1
        return "ha_counter %d\n" % hits["n"]
    tgt = h.FixtureTarget(page)

    def values(store):
        d = store.query("ha_counter[1h]")
        return [int(float(v)) for _, v in d["result"][0]["values"]] if d["result"] else []
    try:
        cfg = ("global:\n  scrape_interval: 500ms\nscrape_configs:\n  - job_name: ha\n"
               "    static_configs:\n      - targets: [\"%s\"]\n" % tgt.address)
        col = h.Collector(c.tmp, cfg, "%d,tcp://127.0.0.1:%d" % (c.store.ingest_port,
                                                                  s2.ingest_port),
                          "%d,tcp://127.0.0.1:%d" % (c.store.ack_port, s2.ack_port),
                          extra=("--store-acks-required", "primary,replica"))
        c.others.append(col)
        h.wait_until(lambda: hits["n"] >= 10, 30, what="scrapes")
        c.store.kill9()
        time.sleep(4)
        at = hits["n"]
        h.wait_until(lambda: len(values(s2)) >= at, 30, what="replica has every scrape")
        assert values(s2)[:at] == list(range(1, at + 1)), values(s2)
        c.store.start()
        time.sleep(2)
        hits["frozen"] = True
        time.sleep(1.5)
        n = hits["n"]
        for s in (c.store, s2):
            h.wait_until(lambda: len(values(s)) >= n, 60, what="%d scrapes in both" % n)
            assert values(s) == list(range(1, n + 1)), values(s)
        h.log("both stores hold all %d scrapes; the killed one caught up" % n)
    finally:
        tgt.stop()
        s2.stop()
        pg2.stop()
        tmp2.cleanup()
        c.close()


if __name__ == "__main__":
    h.run_tests([test_backfill_compaction_and_kill9, test_retention_drops_partitions,
                 test_replica_store_holds_a_full_copy])
