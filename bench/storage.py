#!/usr/bin/env python3
"""bench/storage.py - storage benchmark: one synthetic fleet (bench/fleet.c) scraped at the same time, at
the same interval, by Debian's prometheus, Debian's victoria-metrics and Osprey (collector -> store ->
PostgreSQL). After a warm-up it measures over one window, for each system: CPU-seconds per million
samples, bytes on disk per sample (as running and after compaction), peak memory and memory per active
series; then it stops every system and times its restart on the same data until it answers a query
over the full head. Prints the figures with the ratios Osprey/Prometheus; the JSON goes to
bench/out/storage-<timestamp>.json. Standard library only (plus bench/ingest.py and the test harness)."""

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import ingest as ib  # noqa: E402 - /proc accounting, the fleet, metrics pages
from ingest import h  # noqa: E402 - tests/support/osprey_harness.py

CLK_TCK = ib.CLK_TCK
SYSTEMS = ("prometheus", "victoria", "osprey")
COUNT_QUERY = 'count({job="bench"})'


def log(*a):
    print("[storage %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers

def du(path, exclude=()):
    """(apparent bytes, allocated bytes) of a tree, hard links counted once; top-level names in
    `exclude` are skipped. Files that vanish during the walk (merges) are ignored."""
    seen = set()
    app = alloc = 0
    for root, dirs, files in os.walk(path):
        if root == path:
            dirs[:] = [d for d in dirs if d not in exclude]
            files = [f for f in files if f not in exclude]
        for n in files + dirs:
            try:
                st = os.lstat(os.path.join(root, n))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if n in dirs:  # directories: their blocks only
                alloc += st.st_blocks * 512
                continue
            app += st.st_size
            alloc += st.st_blocks * 512
    return app, alloc


def du_split(path, exclude=()):
    """{top-level entry: apparent bytes} plus the total."""
    out = {}
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return {}
    for n in names:
        if n in exclude:
            continue
        p = os.path.join(path, n)
        out[n] = du(p)[0] if os.path.isdir(p) and not os.path.islink(p) else os.lstat(p).st_size
    return out


def metric(page, name, label_sub=None):
    """Sum of a metric's values in a scraped page, optionally only over series whose label text
    contains label_sub; None when absent."""
    vals = [v for lbl, v in page.get(name, []) if label_sub is None or label_sub in lbl]
    return sum(vals) if vals else None


def instant_count(url, query, t, timeout=120):
    """The single value of an instant query at time t (None: empty result or error)."""
    st, j = h.post_form(url + "/api/v1/query", {"query": query, "time": "%.3f" % t}, timeout=timeout)
    if st != 200 or not j or j.get("status") != "success":
        return None
    res = j["data"]["result"]
    if not res:
        return None
    return float(res[0]["value"][1])


def wait_http_ok(url, timeout, alive):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("process exited while waiting for %s" % url)
        try:
            if h.http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for %s" % url)


def ensure_victoria():
    if shutil.which("victoria-metrics"):
        return
    log("victoria-metrics is missing: installing Debian's package (apt-get)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # policy-rc.d keeps the postinst from starting a system-wide service (as scripts/deps does)
    prc = "/usr/sbin/policy-rc.d"
    made = False
    if not os.path.exists(prc):
        subprocess.run(sudo + ["sh", "-c", "printf '#!/bin/sh\\nexit 101\\n' > %s && chmod +x %s" % (prc, prc)],
                       check=True)
        made = True
    try:
        r = subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                   "victoria-metrics"], env=env)
        if r.returncode != 0:
            subprocess.run(sudo + ["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                                   "victoria-metrics"], env=env, check=True)
    finally:
        if made:
            subprocess.run(sudo + ["rm", "-f", prc])
    if not shutil.which("victoria-metrics"):
        raise SystemExit("victoria-metrics still missing; install it or run with --only prometheus,osprey")


# ---------------------------------------------------------------- the systems

class GoServer:
    """Prometheus or VictoriaMetrics: one process, restartable on the same data dir."""

    def __init__(self, tmp, name, argv_fn, port, ready_path):
        self.tmp = tmp
        self.name = name
        self.port = port
        self.argv_fn = argv_fn
        self.ready_path = ready_path
        self.logpath = os.path.join(tmp.path, name + ".log")
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def spawn(self):
        self.proc = h.Proc(self.name, self.argv_fn(), self.logpath)
        return self.proc

    def wait_ready(self, timeout=120):
        wait_http_ok(self.url + self.ready_path, timeout, self.proc.alive)

    def start(self):
        self.spawn()
        self.wait_ready()

    def stop(self):
        if self.proc:
            self.proc.stop(timeout=120)

    def alive(self):
        return self.proc is not None and self.proc.alive()


def prometheus(tmp, cfg_path):
    data = tmp.sub("prometheus-data")
    port = h.free_port()
    s = GoServer(tmp, "prometheus", lambda: [
        "prometheus", "--config.file=" + cfg_path, "--storage.tsdb.path=" + data,
        "--web.listen-address=127.0.0.1:%d" % port,
        # only for the head snapshot taken after the window (the "compacted" figure)
        "--web.enable-admin-api"], port, "/-/ready")
    s.data = data
    return s


def victoria(tmp, cfg_path):
    data = tmp.sub("victoria-data")
    port = h.free_port()
    s = GoServer(tmp, "victoria", lambda: [
        "victoria-metrics", "-promscrape.config=" + cfg_path, "-storageDataPath=" + data,
        "-httpListenAddr=127.0.0.1:%d" % port, "-retentionPeriod=1",
        # query-side only: points are visible at once (default: 30 s later) and answers are not
        # cached (VM saves its rollup cache on shutdown and would serve it after the restart)
        "-search.latencyOffset=0s", "-search.disableCache"], port, "/health")
    s.data = data
    return s


class Osprey:
    """PostgreSQL + osprey-store + osprey-collector."""

    def __init__(self, tmp, cfg_text, store_args=(), pg_settings=()):
        self.tmp, self.cfg_text, self.store_args = tmp, cfg_text, list(store_args)
        self.pg_settings = list(pg_settings)
        self.pg = self.store = self.coll = None

    def start(self):
        """Step by step, so that stop() finds whatever did start when a later step fails."""
        self.pg = h.Postgres(self.tmp, self.pg_settings)
        # store_args go after the harness's flags (the last occurrence of a flag wins) and stay in
        # self.store.args, so the restart runs with them too.
        self.store = h.Store(self.tmp, self.pg, extra=self.store_args)
        self.coll = h.Collector(self.tmp, self.cfg_text, self.store.ingest_port, self.store.ack_port)

    @property
    def url(self):
        return self.store.url

    def stop(self):
        for o in (self.coll, self.store):
            if o and o.proc:
                o.proc.stop(timeout=120)
        if self.pg:
            self.pg.stop()


TABLE_SQL = """
SELECT c.relname,
       (c.relname LIKE 'osprey%%' OR EXISTS (SELECT 1 FROM pg_partition_ancestors(c.oid) a
                                              JOIN pg_class p ON p.oid = a.relid
                                             WHERE p.relname LIKE 'osprey%%'))::int,
       c.relispartition::int, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
       pg_indexes_size(c.oid),
       CASE WHEN c.reltoastrelid = 0 THEN 0 ELSE pg_total_relation_size(c.reltoastrelid) END,
       c.reltuples::bigint, coalesce(pg_partition_root(c.oid)::regclass::text, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg_toast%%'
 ORDER BY 4 DESC"""


def pg_tables(pg):
    """Every user table of the osprey database (leaf tables and partitions: partitioned parents have
    no storage of their own) with pg_total_relation_size (heap + TOAST + indexes + FSM/VM)."""
    out = []
    for line in pg.sql(TABLE_SQL % ()).splitlines():
        f = line.split("|")
        out.append({"table": f[0], "osprey": f[1] == "1", "partition": f[2] == "1", "total": int(f[3]),
                    "heap": int(f[4]), "indexes": int(f[5]), "toast": int(f[6]), "est_rows": int(f[7]),
                    "root": f[8]})
    return out


# ---------------------------------------------------------------- measurement steps

def snapshot(comps, systems):
    ppids = ib.all_ppids()
    s = {"t": time.monotonic(), "wall": time.time(), "ticks": {n: c.ticks(ppids) for n, c in comps.items()},
         "busy": ib.machine_busy(), "pages": {}}
    for n, sysobj in systems.items():
        s["pages"][n] = ib.scrape(sysobj.url + "/metrics")
        if n == "osprey":
            s["pages"]["collector"] = ib.scrape(sysobj.coll.url + "/metrics")
    s["hwm"] = {n: c.hwm_kib for n, c in comps.items()}
    return s


def disk_prometheus(p):
    page = ib.scrape(p.url + "/metrics")
    samples = metric(page, "prometheus_tsdb_head_samples_appended_total")
    live = du(p.data, exclude=("snapshots",))
    split = du_split(p.data, exclude=("snapshots",))
    # The head written as a TSDB block (chunks + index + meta), as compaction would write it.
    t0 = time.monotonic()
    st, _, body = h.http("POST", p.url + "/api/v1/admin/tsdb/snapshot?skip_head=false", timeout=600)
    if st != 200:
        raise RuntimeError("prometheus snapshot: %d %s" % (st, body[:200]))
    name = json.loads(body)["data"]["name"]
    snap_s = time.monotonic() - t0
    sdir = os.path.join(p.data, "snapshots", name)
    blocks = []
    for b in sorted(os.listdir(sdir)):
        meta = os.path.join(sdir, b, "meta.json")
        if os.path.exists(meta):
            with open(meta) as f:
                m = json.load(f)
            blocks.append({"block": b, "bytes": du(os.path.join(sdir, b))[0], "split": du_split(os.path.join(sdir, b)),
                           "samples": m["stats"].get("numSamples", 0), "series": m["stats"].get("numSeries", 0),
                           "chunks": m["stats"].get("numChunks", 0), "span_s": (m["maxTime"] - m["minTime"]) / 1000})
    shutil.rmtree(os.path.join(p.data, "snapshots"), ignore_errors=True)
    cbytes = sum(b["bytes"] for b in blocks)
    csamples = sum(b["samples"] for b in blocks)
    return {
        "live": {"bytes": live[0], "allocated": live[1], "samples": samples, "split": split,
                 "includes": "data dir: wal/ (snappy), chunks_head/ (mmapped head chunks), blocks, "
                             "queries.active, lock"},
        "compacted": {"bytes": cbytes, "samples": csamples, "blocks": blocks, "snapshot_s": snap_s,
                      "includes": "head snapshot (POST /api/v1/admin/tsdb/snapshot) = one TSDB block "
                                  "(chunks/, index, meta.json, tombstones) spanning the run; samples "
                                  "from meta.json"},
    }


def vm_rows(page):
    return sum(metric(page, "vm_rows", 'type="storage/%s"' % k) or 0 for k in ("small", "big"))


def disk_victoria(v):
    out = {}
    st = h.http("GET", v.url + "/internal/force_flush", timeout=120)[0]
    if st != 200:
        raise RuntimeError("victoria force_flush: %d" % st)
    page = ib.scrape(v.url + "/metrics")
    a = du(v.data)
    out["live"] = {"bytes": a[0], "allocated": a[1], "samples": vm_rows(page), "split": du_split(v.data),
                   "rows_added_total": metric(page, "vm_rows_added_to_storage_total"),
                   "includes": "storageDataPath after /internal/force_flush: data/ (small+big parts), "
                               "indexdb/, metadata, cache/; samples = vm_rows{storage/small,big}"}
    # Compaction: force the merge of every partition, wait for it (vm_active_force_merges back to 0).
    t0 = time.monotonic()
    st = h.http("GET", v.url + "/internal/force_merge", timeout=120)[0]
    if st != 200:
        raise RuntimeError("victoria force_merge: %d" % st)
    time.sleep(1)
    h.wait_until(lambda: metric(ib.scrape(v.url + "/metrics"), "vm_active_force_merges") == 0, 1200, 0.5,
                 what="victoria force merge")
    merge_s = time.monotonic() - t0
    h.http("GET", v.url + "/internal/force_flush", timeout=120)
    page = ib.scrape(v.url + "/metrics")
    a = du(v.data)
    out["compacted"] = {"bytes": a[0], "allocated": a[1], "samples": vm_rows(page), "split": du_split(v.data),
                        "merge_s": merge_s,
                        "vm_data_size_bytes": {k: metric(page, "vm_data_size_bytes", 'type="%s"' % k)
                                               for k in ("indexdb", "storage/small", "storage/big")},
                        "includes": "storageDataPath after /internal/force_merge (all partitions) and "
                                    "force_flush: data/, indexdb/, metadata, cache/; samples = vm_rows"}
    return out


def disk_osprey(o):
    page = ib.scrape(o.store.url + "/metrics")
    name = ib.pick_store_counter(page)
    samples = metric(page, name) if name else None
    tables = pg_tables(o.pg)
    ours = [t for t in tables if t["osprey"]]
    total = sum(t["total"] for t in ours)
    other = sum(t["total"] for t in tables if not t["osprey"])
    dbsize = int(o.pg.sql("SELECT pg_database_size(current_database())"))
    pgdir = du(o.pg.data)
    pgsplit = du_split(o.pg.data)
    chunk_metrics = {n: metric(page, n) for n in page
                     if n.startswith("osprey_store") and ("chunk" in n or "compact" in n)}
    d = {"bytes": total, "samples": samples, "sample_counter": name, "tables": tables,
         "other_user_tables_bytes": other, "database_size": dbsize, "pg_data_dir": pgdir[0],
         "pg_data_dir_split": pgsplit, "store_chunk_metrics": chunk_metrics,
         "includes": "sum of pg_total_relation_size (heap + TOAST + indexes + FSM/VM) over every table "
                     "named osprey* and every partition of one (%d tables); not the PostgreSQL WAL, "
                     "catalogs or other databases (pg data dir: %.1f MiB)" % (len(ours), pgdir[0] / 2**20)}
    # Compacted: the tables that hold the data in its stored form (chunks, catalog, metadata), over
    # the samples in those chunks. The batch log (osprey_batches) is Osprey's write-ahead log: like
    # Prometheus's wal/, which its head snapshot leaves out, it is counted only "as running". Its
    # samples (those not yet in a persisted chunk) are left out of both the bytes and the samples.
    log_bytes = sum(t["total"] for t in ours if t["root"] == "osprey_batches")
    in_chunks = int(o.pg.sql("SELECT coalesce(sum(samples), 0) FROM osprey_chunks") or 0)
    comp = dict(d)
    comp.update({"bytes": total - log_bytes, "samples": in_chunks, "log_bytes": log_bytes,
                 "includes": "sum of pg_total_relation_size over the osprey* tables and partitions "
                             "except the batch log osprey_batches (the write-ahead log, %.1f MiB; in "
                             "'as running'); samples = sum(osprey_chunks.samples)" % (log_bytes / 2**20)})
    return {"live": d, "compacted": comp}


# ---------------------------------------------------------------- profile (--perf)

def pg_long_lived(pids):
    """The PostgreSQL processes that last: autovacuum workers come and go, and perf record refuses a
    whole pid list when one of them has exited before it starts."""
    out = []
    for pid in sorted(pids):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"autovacuum worker" not in cmd:
            out.append(pid)
    return out


def perf_profile(tmp, targets, seconds, top):
    """perf record (cpu-clock, DWARF call graphs) on each {name: [pids]} at once for `seconds`, while
    the load goes on; then perf report --no-children per name into <tmp>/perf-<name>.txt. Returns
    {name: {"data", "report", "top"}}; top = the first `top` symbol lines of the report."""
    if not shutil.which("perf"):
        log("--perf: perf is not installed (apt-get install linux-perf); no profile")
        return {}
    procs = {}
    for name, pids in targets.items():
        pids = [p for p in pids if os.path.exists("/proc/%d" % p)]
        if not pids:
            continue
        data = os.path.join(tmp.path, "perf-%s.data" % name)
        lf = open(os.path.join(tmp.path, "perf-%s.log" % name), "wb")
        procs[name] = (subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph",
                                         "dwarf,16384", "-o", data, "-p", ",".join(map(str, pids)),
                                         "--", "sleep", "%g" % seconds],
                                        stdout=lf, stderr=subprocess.STDOUT, start_new_session=True), data, lf)
        log("perf record on %s (pids %s) for %g s" % (name, ",".join(map(str, pids)), seconds))
    out = {}
    for name, (pr, data, lf) in procs.items():
        try:
            pr.wait(seconds + 120)
        except subprocess.TimeoutExpired:
            os.kill(pr.pid, signal.SIGINT)
            pr.wait(60)
        lf.close()
        rpath = os.path.join(tmp.path, "perf-%s.txt" % name)
        with open(rpath, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--percent-limit", "0.5",
                            "--sort", "comm,dso,sym", "-g", "caller,0.5,callee,function,percent"],
                           stdout=f, stderr=subprocess.DEVNULL)
        flat = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                               "--percent-limit", "0.3", "--sort", "dso,sym"],
                              capture_output=True, text=True).stdout
        with open(os.path.join(tmp.path, "perf-%s-flat.txt" % name), "w") as f:
            f.write(flat)
        lines = [ln for ln in flat.splitlines() if ln.strip() and not ln.startswith("#")]
        out[name] = {"data": data, "report": rpath, "top": lines[:top]}
    return out


# ---------------------------------------------------------------- restarts

def stop_timed(proc, sig=None, timeout=300):
    t0 = time.monotonic()
    proc.stop(timeout=timeout, sig=sig)
    return time.monotonic() - t0


def query_until(url, t_ref, want, timeout, alive):
    """Polls the count query until it answers `want`; returns (seconds, queries, last answer)."""
    t0 = time.monotonic()
    n, got = 0, None
    while time.monotonic() - t0 < timeout:
        if not alive():
            raise RuntimeError("process exited while waiting for the query at %s" % url)
        n += 1
        try:
            got = instant_count(url, COUNT_QUERY, t_ref)
        except (OSError, ValueError):
            got = None
        if got is not None and got == want:
            return time.monotonic() - t0, n, got
        time.sleep(0.1)
    raise RuntimeError("%s: %s answered %s, want %s after %.0f s" % (url, COUNT_QUERY, got, want, timeout))


def restart_go(srv, t_ref, want, timeout):
    t0 = time.monotonic()
    proc = srv.spawn()
    comp = ib.Component(srv.name, proc.pid)
    smp = ib.Sampler([comp])
    smp.start()
    try:
        wait_http_ok(srv.url + srv.ready_path, timeout, proc.alive)
        ready = time.monotonic() - t0
        q, nq, _ = query_until(srv.url, t_ref, want, timeout, proc.alive)
    finally:
        smp.stop()
    comp.sample(ib.all_ppids())  # VmHWM now covers the whole start-up, however short
    return {"ready_s": ready, "query_s": ready + q, "queries": nq, "peak_mib": comp.hwm_kib / 1024,
            "ready_what": srv.ready_path}


def restart_osprey(o, t_ref, want, timeout):
    t0 = time.monotonic()
    o.pg.start()
    pg_s = time.monotonic() - t0
    comps = [ib.Component("postgres", o.pg.proc.pid)]
    t1 = time.monotonic()
    o.store.start(wait_ready=False)
    comps.append(ib.Component("store", o.store.proc.pid))
    smp = ib.Sampler(comps)
    smp.start()
    try:
        o.store.wait_ready(timeout)
        ready = time.monotonic() - t1
        q, nq, _ = query_until(o.store.url, t_ref, want, timeout, o.store.proc.alive)
    finally:
        smp.stop()
    ppids = ib.all_ppids()
    for c in comps:
        c.sample(ppids)
    store_s = ready + q
    return {"ready_s": pg_s + ready, "query_s": pg_s + store_s, "queries": nq,
            "split_s": {"postgres_start": pg_s, "store_ready": ready, "store_query": store_s},
            "peak_mib": (comps[1].hwm_kib + comps[0].peak_pss_kib) / 1024,
            "peak_split_mib": {"store_hwm": comps[1].hwm_kib / 1024, "postgres_pss_sum": comps[0].peak_pss_kib / 1024},
            "ready_what": "pg_isready, then store /ready (head replayed from PostgreSQL)"}


# ---------------------------------------------------------------- main

def on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def parse_only(s):
    names = [x.strip() for x in s.split(",") if x.strip()]
    alias = {"vm": "victoria", "victoria-metrics": "victoria", "victoriametrics": "victoria", "prom": "prometheus"}
    names = [alias.get(x, x) for x in names]
    if names == ["all"]:
        return list(SYSTEMS)
    bad = [x for x in names if x not in SYSTEMS]
    if bad or not names:
        raise SystemExit("--only: comma-separated subset of %s (or all)" % ",".join(SYSTEMS))
    return [x for x in SYSTEMS if x in names]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--series", type=int, default=2500, help="series per target")
    ap.add_argument("--interval", default="1s", help="scrape_interval (and scrape_timeout)")
    ap.add_argument("--duration", type=float, default=600, help="measured window, seconds")
    ap.add_argument("--warmup", type=float, default=20, help="seconds excluded before the window")
    ap.add_argument("--only", default="all", help="comma-separated: prometheus,victoria,osprey (default all)")
    ap.add_argument("--no-restart", action="store_true", help="skip the stop/restart measurement")
    ap.add_argument("--restart-timeout", type=float, default=1800, help="seconds allowed per restart")
    ap.add_argument("--bin-dir", help="where osprey-store and osprey-collector are "
                    "(default: $OSP_BIN_DIR, build-bench/bin, build/bin)")
    ap.add_argument("--out", default=os.path.join(BENCH, "out"), help="directory for the JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    ap.add_argument("--store-args", default="", metavar="\"FLAGS\"",
                    help="extra flags appended to osprey-store's command line (shell-quoted, e.g. "
                         "\"--compaction-window 5m --head-window 5m\"; a single flag needs the = form: "
                         "--store-args=--head-window=5m); kept for the restart, recorded in the JSON")
    ap.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a server setting for Osprey's PostgreSQL (repeatable, e.g. shared_buffers=32MB; "
                         "default: PostgreSQL's own defaults); printed under the table, recorded in the JSON")
    ap.add_argument("--perf", type=float, default=0, metavar="SECONDS",
                    help="after the window (load still on, outside every figure), perf-record the store, "
                         "the collector and PostgreSQL for SECONDS; reports in the temp dir, top "
                         "entries printed and in the JSON")
    ap.add_argument("--perf-top", type=int, default=25, help="symbol lines printed per profiled component")
    args = ap.parse_args()
    args.store_args_list = shlex.split(args.store_args)
    only = parse_only(args.only)
    interval = ib.parse_seconds(args.interval)

    if "osprey" in only:
        h.BIN = ib.find_bin_dir(args.bin_dir)
    if "victoria" in only:
        ensure_victoria()
    if "prometheus" in only and not shutil.which("prometheus"):
        raise SystemExit("prometheus missing: scripts/deps installs Debian's package")
    signal.signal(signal.SIGTERM, on_sigterm)

    tmp = h.TempDir("bench-storage")
    started = []
    comps = {}
    sampler = None
    ok = False
    try:
        fleet = ib.Fleet(tmp, ib.build_fleet(), args.targets, args.series)
        started.append(fleet)
        comps["fleet"] = ib.Component("fleet", fleet.pid)
        cfg = ib.scrape_config(fleet.addresses, args.interval, args.interval)
        cfg_path = os.path.join(tmp.path, "scrape.yml")
        with open(cfg_path, "w") as f:
            f.write(cfg)

        systems = {}
        # Start them back to back so they scrape the same pages within the same second.
        if "osprey" in only:
            o = Osprey(tmp, cfg, args.store_args_list, args.pg_set)
            started.append(o)
            o.start()
            systems["osprey"] = o
            comps["postgres"] = ib.Component("postgres", o.pg.proc.pid)
            comps["store"] = ib.Component("store", o.store.proc.pid)
            comps["collector"] = ib.Component("collector", o.coll.proc.pid)
        if "prometheus" in only:
            p = prometheus(tmp, cfg_path)
            started.append(p)
            p.start()
            systems["prometheus"] = p
            comps["prometheus"] = ib.Component("prometheus", p.proc.pid)
        if "victoria" in only:
            v = victoria(tmp, cfg_path)
            started.append(v)
            v.start()
            systems["victoria"] = v
            comps["victoria"] = ib.Component("victoria", v.proc.pid)

        sampler = ib.Sampler(list(comps.values()))
        sampler.start()
        log("warm-up %.0f s (%d targets x %d series every %s; %s)" % (
            args.warmup, args.targets, args.series, args.interval, ", ".join(systems)))
        time.sleep(args.warmup)
        s0 = snapshot(comps, systems)
        log("measuring %.0f s" % args.duration)
        time.sleep(args.duration)
        s1 = snapshot(comps, systems)
        sampler.stop()
        for name, c in comps.items():
            if not os.path.exists("/proc/%d" % c.root):
                raise RuntimeError("%s (pid %d) died during the run" % (name, c.root))

        profile = {}
        if args.perf > 0 and "osprey" in systems:
            o = systems["osprey"]
            ppids = ib.all_ppids()
            profile = perf_profile(tmp, {"store": [o.store.proc.pid], "collector": [o.coll.proc.pid],
                                         "postgres": pg_long_lived(comps["postgres"].pids(ppids))},
                                   args.perf, args.perf_top)

        # ---- disk (all systems still scraping; counters read next to each du)
        disk = {}
        for n, fn in (("prometheus", disk_prometheus), ("victoria", disk_victoria), ("osprey", disk_osprey)):
            if n in systems:
                log("disk:", n)
                disk[n] = fn(systems[n])

        # ---- the query the restarts must answer again: all series at a time just before the stop
        if "victoria" in systems:
            h.http("GET", systems["victoria"].url + "/internal/force_flush", timeout=120)
        t_ref = time.time() - 2 * interval
        before = {}
        for n, sysobj in systems.items():
            before[n] = instant_count(sysobj.url, COUNT_QUERY, t_ref)
            log("%s: %s at t_ref = %s" % (n, COUNT_QUERY, before[n]))

        # ---- stop everything (each timed alone), then restart one system at a time
        stops, restarts = {}, {}
        for n in ("osprey", "prometheus", "victoria"):
            if n not in systems:
                continue
            sysobj = systems[n]
            if n == "osprey":
                stops[n] = {"collector": stop_timed(sysobj.coll.proc), "store": stop_timed(sysobj.store.proc),
                            "postgres": stop_timed(sysobj.pg.proc, sig=signal.SIGINT)}
                sysobj.pg.proc = None
                stops[n]["total"] = sum(stops[n].values())
            else:
                stops[n] = {"total": stop_timed(sysobj.proc)}
            log("stopped %s in %.2f s" % (n, stops[n]["total"]))
        after_stop = {}
        for n, sysobj in systems.items():
            d = sysobj.pg.data if n == "osprey" else sysobj.data
            after_stop[n] = {"bytes": du(d)[0], "split": du_split(d)}
        if not args.no_restart:
            for n in ("osprey", "prometheus", "victoria"):
                if n not in systems:
                    continue
                sysobj = systems[n]
                if not before[n]:
                    log("%s: no count before the stop; restart not measured" % n)
                    continue
                log("restarting", n)
                if n == "osprey":
                    restarts[n] = restart_osprey(sysobj, t_ref, before[n], args.restart_timeout)
                else:
                    restarts[n] = restart_go(sysobj, t_ref, before[n], args.restart_timeout)
                log("%s answered %s = %.0f after %.2f s" % (n, COUNT_QUERY, before[n], restarts[n]["query_s"]))
                sysobj.stop()

        result = report(args, interval, comps, s0, s1, systems, disk, before, stops, restarts, after_stop)
        if profile:
            result["profile"] = {"seconds": args.perf, "after_window": True, "components": profile}
            for n, pr in profile.items():
                print("\nperf profile, %s (%g s after the window; %s):" % (n, args.perf, pr["report"]))
                for ln in pr["top"]:
                    print("  " + ln.rstrip())
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "storage-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        print("\nJSON: %s" % path)
        ok = True
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        if sampler:
            sampler.stop()
        for o in reversed(started):
            try:
                o.stop()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                log("stop failed:", e)
        if args.keep or not ok:
            log("kept", tmp.path)
        else:
            tmp.cleanup()
    return 0 if ok else 1


# ---------------------------------------------------------------- report

def active_series(name, page):
    if name == "prometheus":
        return metric(page, "prometheus_tsdb_head_series"), "prometheus_tsdb_head_series"
    if name == "victoria":
        return (metric(page, "vm_cache_entries", 'type="storage/hour_metric_ids"'),
                'vm_cache_entries{type="storage/hour_metric_ids"}')
    return metric(page, "osprey_store_head_series"), "osprey_store_head_series"


def print_tables(tables):
    print("Osprey tables (pg_total_relation_size; heap / indexes / TOAST; partitions summed under their root):")
    groups = {}
    names = set(t["table"] for t in tables)
    for t in tables:
        g = groups.setdefault(t["root"], {"n": 0, "osprey": t["osprey"], "total": 0, "heap": 0, "indexes": 0,
                                          "toast": 0})
        g["n"] += 1
        for k in ("total", "heap", "indexes", "toast"):
            g[k] += t[k]
    for root, g in sorted(groups.items(), key=lambda kv: -kv[1]["total"]):
        print("  %-32s %10.2f MiB  (%.2f / %.2f / %.2f)%s%s" % (
            root, g["total"] / 2**20, g["heap"] / 2**20, g["indexes"] / 2**20, g["toast"] / 2**20,
            "  [%d partitions]" % g["n"] if root not in names else "",
            "" if g["osprey"] else "  [not osprey*, not counted]"))


def report(args, interval, comps, s0, s1, systems, disk, before, stops, restarts, after_stop):
    dt = s1["t"] - s0["t"]
    cpu = {n: (s1["ticks"][n] - s0["ticks"][n]) / CLK_TCK for n in comps}
    busy = (s1["busy"][0] - s0["busy"][0]) / max(1, s1["busy"][1] - s0["busy"][1])
    other = max(0.0, (s1["busy"][0] - s0["busy"][0]) / CLK_TCK - sum(cpu.values()))
    mib = lambda kib: kib / 1024.0  # noqa: E731
    notes = []
    res = {}
    p0, p1 = s0["pages"], s1["pages"]
    for n in systems:
        r = {}
        if n == "prometheus":
            r["sample_counter"] = "prometheus_tsdb_head_samples_appended_total"
            r["samples"] = ib.metric_delta(p0[n], p1[n], r["sample_counter"])
            r["cpu_s"] = cpu[n]
            r["peak_mib"] = mib(s1["hwm"][n])
            r["peak_what"] = "VmHWM of prometheus"
            offered_per_target = args.series + 5
        elif n == "victoria":
            r["sample_counter"] = "vm_rows_added_to_storage_total"
            r["samples"] = ib.metric_delta(p0[n], p1[n], r["sample_counter"])
            r["rows_inserted_promscrape"] = (metric(p1[n], "vm_rows_inserted_total", 'type="promscrape"') or 0) - \
                (metric(p0[n], "vm_rows_inserted_total", 'type="promscrape"') or 0)
            r["cpu_s"] = cpu[n]
            r["peak_mib"] = mib(s1["hwm"][n])
            r["peak_what"] = "VmHWM of victoria-metrics"
            offered_per_target = args.series + 6  # + scrape_timeout_seconds
        else:
            name = ib.pick_store_counter(p1[n])
            r["sample_counter"] = name
            r["samples"] = ib.metric_delta(p0[n], p1[n], name)
            cname = ib.pick_collector_counter(p1["collector"])
            r["collector_counter"] = cname
            r["collector_samples"] = ib.metric_delta(p0["collector"], p1["collector"], cname)
            if r["samples"] is None:
                notes.append("store /metrics has no ingested-samples counter; using the collector's %s" % cname)
                r["samples"] = r["collector_samples"]
            r["cpu_s"] = cpu["collector"] + cpu["store"] + cpu["postgres"]
            # What the store did in the window besides ingesting: CPU figures of a window without a
            # compaction (a window is compacted once window_end + min(window, 20m) has passed) leave
            # that work out.
            r["store_activity"] = {k: ib.metric_delta(p0[n], p1[n], "osprey_store_" + k) for k in (
                "chunks_written_total", "chunk_bytes_written_total", "compactions_total",
                "compaction_chunks_in_total", "compaction_chunks_out_total",
                "compaction_duration_seconds_sum", "log_batches_trimmed_total")}
            r["cpu_split_s"] = {k: cpu[k] for k in ("collector", "store", "postgres")}
            pg = comps["postgres"]
            r["peak_mib"] = mib(s1["hwm"]["collector"] + s1["hwm"]["store"] + pg.peak_pss_kib)
            r["peak_split_mib"] = {"collector_hwm": mib(s1["hwm"]["collector"]), "store_hwm": mib(s1["hwm"]["store"]),
                                   "postgres_pss_sum": mib(pg.peak_pss_kib), "postgres_rss_sum": mib(pg.peak_rss_kib),
                                   "postgres_processes": pg.nprocs}
            r["peak_what"] = ("VmHWM collector + VmHWM store + peak sum of PSS over the PostgreSQL processes "
                              "(sampled each second)")
            offered_per_target = args.series + 6  # + scrape_parse_errors
        # Offered load: the series the system holds for the job (the fleet's plus its own per-target
        # synthetic up/scrape_* series: 5 for Prometheus, 6 for VictoriaMetrics and Osprey) per interval.
        r["expected_series"] = before[n] or args.targets * offered_per_target
        r["offered_samples"] = r["expected_series"] * dt / interval
        r["samples_per_s"] = (r["samples"] or 0) / dt
        r["cpu_s_per_million"] = r["cpu_s"] / (r["samples"] / 1e6) if r["samples"] else None
        r["cpu_cores"] = r["cpu_s"] / dt
        if r["samples"] is not None and r["samples"] < 0.9 * r["offered_samples"]:
            notes.append("%s ingested %.0f%% of the %.0f samples offered: falling behind or the machine is "
                         "saturated" % (n, 100 * r["samples"] / r["offered_samples"], r["offered_samples"]))
        act, act_what = active_series(n, p1[n])
        r["active_series"], r["active_series_from"] = act, act_what
        r["peak_bytes_per_series"] = r["peak_mib"] * 2**20 / act if act else None
        d = disk[n]
        for k in ("live", "compacted"):
            dd = d[k]
            dd["bytes_per_sample"] = dd["bytes"] / dd["samples"] if dd.get("samples") else None
        r["disk"] = d
        r["disk_after_stop"] = after_stop[n]
        r["count_before_stop"] = before[n]
        r["stop_s"] = stops.get(n)
        r["restart"] = restarts.get(n)
        res[n] = r

    ratio = {}
    if "osprey" in res and "prometheus" in res:
        o, p = res["osprey"], res["prometheus"]

        def rr(a, b):
            return a / b if a is not None and b else None
        ratio = {
            "cpu_per_sample": rr(o["cpu_s_per_million"], p["cpu_s_per_million"]),
            "bytes_per_sample_compacted": rr(o["disk"]["compacted"]["bytes_per_sample"],
                                             p["disk"]["compacted"]["bytes_per_sample"]),
            "bytes_per_sample_live": rr(o["disk"]["live"]["bytes_per_sample"], p["disk"]["live"]["bytes_per_sample"]),
            "peak_memory": rr(o["peak_mib"], p["peak_mib"]),
            "peak_bytes_per_series": rr(o["peak_bytes_per_series"], p["peak_bytes_per_series"]),
            "restart_s": rr((o["restart"] or {}).get("query_s"), (p["restart"] or {}).get("query_s")),
        }
    if busy > 0.9:
        notes.append("the machine was %.0f%% busy over the window: CPU-bound, figures are upper bounds" % (100 * busy))

    # ---- print
    names = list(res)
    print("\nStorage benchmark: %d targets x %d series every %s, window %.1f s after %.0f s warm-up; "
          "machine: %d CPUs, %.0f%% busy in the window" % (args.targets, args.series, args.interval, dt,
                                                           args.warmup, os.cpu_count(), 100 * busy))
    if "osprey" in res:
        print("osprey-store extra flags (--store-args): %s" % (" ".join(map(shlex.quote, args.store_args_list))
                                                               or "none (the store's defaults)"))
        print("Osprey's PostgreSQL settings (--pg-set): %s" % (" ".join(args.pg_set)
                                                               or "none (PostgreSQL's defaults)"))

    def f(v, fmt):
        return fmt % v if v is not None else "-"

    def rx(k):
        return f(ratio.get(k), "%.2fx")
    rows = [
        ("samples in window", [f(res[n]["samples"], "%.0f") for n in names], ""),
        ("samples/s (offered)", ["%.0f (%.0f)" % (res[n]["samples_per_s"], res[n]["offered_samples"] / dt)
                                 for n in names], ""),
        ("CPU s (cores)", ["%.1f (%.2f)" % (res[n]["cpu_s"], res[n]["cpu_cores"]) for n in names], ""),
        ("CPU s / M samples", [f(res[n]["cpu_s_per_million"], "%.2f") for n in names], rx("cpu_per_sample")),
        ("disk MiB, compacted", [f(res[n]["disk"]["compacted"]["bytes"] / 2**20, "%.1f") for n in names], ""),
        ("  samples in it", [f(res[n]["disk"]["compacted"]["samples"], "%.0f") for n in names], ""),
        ("  bytes / sample", [f(res[n]["disk"]["compacted"]["bytes_per_sample"], "%.2f") for n in names],
         rx("bytes_per_sample_compacted")),
        ("disk MiB, as running", [f(res[n]["disk"]["live"]["bytes"] / 2**20, "%.1f") for n in names], ""),
        ("  bytes / sample", [f(res[n]["disk"]["live"]["bytes_per_sample"], "%.2f") for n in names],
         rx("bytes_per_sample_live")),
        ("peak memory MiB", [f(res[n]["peak_mib"], "%.0f") for n in names], rx("peak_memory")),
        ("active series", [f(res[n]["active_series"], "%.0f") for n in names], ""),
        ("  peak bytes / series", [f(res[n]["peak_bytes_per_series"], "%.0f") for n in names],
         rx("peak_bytes_per_series")),
        ("stop s", [f((res[n]["stop_s"] or {}).get("total"), "%.2f") for n in names], ""),
        ("restart: ready s", [f((res[n]["restart"] or {}).get("ready_s"), "%.2f") for n in names], ""),
        ("restart: full-head query s", [f((res[n]["restart"] or {}).get("query_s"), "%.2f") for n in names],
         rx("restart_s")),
        ("restart: peak memory MiB", [f((res[n]["restart"] or {}).get("peak_mib"), "%.0f") for n in names], ""),
    ]
    cols = ["figure"] + names + (["osprey/prometheus"] if ratio else [])
    table = [[r[0]] + r[1] + ([r[2]] if ratio else []) for r in rows]
    print(ib.fmt_table(table, cols))

    if ratio:
        goals = [("CPU per sample <= Prometheus", ratio["cpu_per_sample"]),
                 ("bytes per sample (compacted) <= Prometheus", ratio["bytes_per_sample_compacted"]),
                 ("memory per active series <= Prometheus", ratio["peak_bytes_per_series"])]
        print("\nGoals (issue): " + "; ".join("%s: %s" % (g, "-" if v is None else ("met" if v <= 1 else "NOT met"))
                                               for g, v in goals))
    print("\nWhat the figures include:")
    for n in names:
        r = res[n]
        dc, dl = r["disk"]["compacted"]["includes"], r["disk"]["live"]["includes"]
        print("  %s:\n    samples: increase of %s\n    disk, compacted: %s\n%s    memory: %s\n"
              "    active series: %s" % (n, r["sample_counter"], dc,
                                         "    disk, as running: %s\n" % dl if dl != dc else "",
                                         r["peak_what"], r["active_series_from"]))
    if "osprey" in res:
        o = res["osprey"]
        print("\nOsprey CPU split (s, share, s per million samples):")
        for k, v in o["cpu_split_s"].items():
            per_m = v / (o["samples"] / 1e6) if o["samples"] else 0
            print("  %-10s %8.2f  %5.1f%%  %6.2f" % (k, v, 100 * v / o["cpu_s"] if o["cpu_s"] else 0, per_m))
        a = o.get("store_activity") or {}
        if any(v is not None for v in a.values()):
            g = lambda k: a.get(k) or 0  # noqa: E731
            print("Osprey store in the window: %.0f chunks written (%.1f MiB), %.0f compaction transactions "
                  "(%.0f chunks -> %.0f, %.1f s), %.0f log batches trimmed%s" % (
                      g("chunks_written_total"), g("chunk_bytes_written_total") / 2**20, g("compactions_total"),
                      g("compaction_chunks_in_total"), g("compaction_chunks_out_total"),
                      g("compaction_duration_seconds_sum"), g("log_batches_trimmed_total"),
                      "" if g("compactions_total") else "  [no compaction in the window: its cost is not in "
                      "the CPU figures]"))
        ps = o["peak_split_mib"]
        print("Osprey peak memory: collector %.0f + store %.0f + PostgreSQL %.0f MiB PSS (%d processes; RSS sum "
              "%.0f MiB); per series without PostgreSQL: %.0f B"
              % (ps["collector_hwm"], ps["store_hwm"], ps["postgres_pss_sum"], ps["postgres_processes"],
                 ps["postgres_rss_sum"],
                 (ps["collector_hwm"] + ps["store_hwm"]) * 2**20 / o["active_series"] if o["active_series"] else 0))
        od = o["disk"]["compacted"]
        print_tables(od["tables"])
        print("  PostgreSQL data dir %.1f MiB (pg_wal %.1f MiB), database %.1f MiB"
              % (od["pg_data_dir"] / 2**20, od["pg_data_dir_split"].get("pg_wal", 0) / 2**20,
                 od["database_size"] / 2**20))
        rs = o.get("restart")
        if rs:
            print("Osprey restart: PostgreSQL %.2f s, store /ready %.2f s, query %.2f s after the store started; "
                  "peak store %.0f MiB + PostgreSQL %.0f MiB PSS" % (
                      rs["split_s"]["postgres_start"], rs["split_s"]["store_ready"], rs["split_s"]["store_query"],
                      rs["peak_split_mib"]["store_hwm"], rs["peak_split_mib"]["postgres_pss_sum"]))
            print("Osprey stop: collector %.2f s, store %.2f s, PostgreSQL %.2f s" % (
                o["stop_s"]["collector"], o["stop_s"]["store"], o["stop_s"]["postgres"]))
        print("samples counted by the store (%s): %s; by the collector (%s): %s"
              % (o["sample_counter"], o["samples"], o["collector_counter"], o["collector_samples"]))
    if "prometheus" in res:
        c = res["prometheus"]["disk"]
        print("Prometheus data dir as running: %s" % ", ".join(
            "%s %.1f MiB" % (k, v / 2**20) for k, v in c["live"]["split"].items() if v > 65536))
        print("Prometheus head snapshot: %d block(s), %.1f s to write" % (len(c["compacted"]["blocks"]),
                                                                      c["compacted"]["snapshot_s"]))
    if "victoria" in res:
        c = res["victoria"]["disk"]
        print("VictoriaMetrics after merge: %s; force merge took %.1f s" % (", ".join(
            "%s %.1f MiB" % (k, v / 2**20) for k, v in c["compacted"]["split"].items() if v > 65536),
            c["compacted"]["merge_s"]))
    print("count query %s before the stop: %s" % (COUNT_QUERY, ", ".join(
        "%s %s" % (n, f(res[n]["count_before_stop"], "%.0f")) for n in names)))
    print("fleet (not counted in any system): %.2f CPU s (%.1f%% of a core)" % (cpu["fleet"], 100 * cpu["fleet"] / dt))
    print("CPU not accounted above (other processes, this script): %.2f CPU s (%.1f%% of a core)"
          % (other, 100 * other / dt))
    for n in notes:
        print("NOTE:", n)

    return {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "busy_fraction": busy},
        "config": {"targets": args.targets, "series_per_target": args.series, "interval": args.interval,
                   "warmup_s": args.warmup, "window_s": dt, "systems": names, "count_query": COUNT_QUERY,
                   "store_args": args.store_args_list, "pg_settings": args.pg_set, "bin_dir": h.BIN if "osprey" in names else None},
        "systems": res, "ratio_osprey_over_prometheus": ratio,
        "fleet_cpu_s": cpu["fleet"], "other_cpu_s": other, "notes": notes,
    }


if __name__ == "__main__":
    sys.exit(main())
