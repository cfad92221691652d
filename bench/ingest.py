#!/usr/bin/env python3
"""bench/ingest.py - ingest benchmark: one synthetic fleet (bench/fleet.c) scraped at the same time by
Osprey (collector -> store -> PostgreSQL) and by Debian's prometheus. After a warm-up it measures, over
the same window, CPU-seconds per million ingested samples and peak memory of each system and prints the
ratios Osprey/Prometheus. Results also go to bench/out/ingest-<timestamp>.json. Standard library only."""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(REPO, "tests", "support"))
import osprey_harness as h  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(*a):
    print("[ingest %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc accounting

def read_stat(pid):
    """(ppid, utime+stime+cutime+cstime in ticks) of one process, or None if it is gone. The
    children's times count because a parent (the postmaster) reaps workers that come and go."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime..cstime are fields 14..17
    return int(rest[1]), int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])


def all_ppids():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st:
                out[int(d)] = st[0]
    return out


def tree(root, ppids):
    """root and all its descendants (pids)."""
    kids = {}
    for pid, pp in ppids.items():
        kids.setdefault(pp, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in ppids or p == root:
            out.append(p)
            todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids):
    t = 0
    for p in pids:
        st = read_stat(p)
        if st:
            t += st[1]
    return t


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy():
    """(busy ticks, total ticks) of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


class Component:
    """A process tree we started and account for (collector, store, postgres, prometheus, fleet)."""

    def __init__(self, name, pid):
        self.name = name
        self.root = pid
        self.peak_rss_kib = 0  # largest sum of VmRSS over the tree seen while sampling
        self.peak_pss_kib = 0  # same with PSS (shared pages split between sharers)
        self.hwm_kib = 0  # largest VmHWM of any single process of the tree
        self.nprocs = 0

    def pids(self, ppids):
        return tree(self.root, ppids)

    def sample(self, ppids):
        pids = self.pids(ppids)
        self.nprocs = max(self.nprocs, len(pids))
        self.peak_rss_kib = max(self.peak_rss_kib, sum(status_kib(p, "VmRSS") for p in pids))
        self.peak_pss_kib = max(self.peak_pss_kib, sum(pss_kib(p) for p in pids))
        self.hwm_kib = max([self.hwm_kib] + [status_kib(p, "VmHWM") for p in pids])

    def ticks(self, ppids):
        return cpu_ticks(self.pids(ppids))


class Sampler(threading.Thread):
    """Samples memory of every component once a second until stopped."""

    def __init__(self, comps):
        super().__init__(daemon=True)
        self.comps = comps
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            ppids = all_ppids()
            for c in self.comps:
                c.sample(ppids)
            self.stop_ev.wait(1.0)

    def stop(self):
        self.stop_ev.set()
        self.join(5)


# ---------------------------------------------------------------- metrics pages

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def scrape(url):
    st, _, body = h.http("GET", url, timeout=10)
    if st != 200:
        raise RuntimeError("GET %s: %d" % (url, st))
    out = {}
    for line in body.decode(errors="replace").splitlines():
        m = LINE.match(line)
        if m:
            try:
                out.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
            except ValueError:
                pass
    return out


def metric_sum(page, name):
    return sum(v for _, v in page.get(name, [])) if name in page else None


def metric_delta(p0, p1, name):
    """Increase of a counter between two pages (absent at the start counts as 0), or None."""
    if not name or name not in p1:
        return None
    return metric_sum(p1, name) - (metric_sum(p0, name) or 0.0)


STORE_SAMPLE_COUNTERS = ["osprey_store_samples_ingested_total", "osprey_store_ingested_samples_total",
                         "osprey_store_samples_written_total", "osprey_store_samples_committed_total"]


def pick_store_counter(page):
    """The store's counter of ingested samples: the documented name, else the likeliest candidate."""
    for n in STORE_SAMPLE_COUNTERS:
        if n in page:
            return n
    cands = sorted(n for n in page if n.startswith("osprey_store") and "sample" in n
                   and n.endswith("_total") and not re.search(r"drop|reject|fail|error|dup|out_of", n))
    pref = [n for n in cands if re.search(r"ingest|append|written|commit|stored", n)]
    return (pref or cands or [None])[0]


def pick_collector_counter(page):
    cands = sorted(n for n in page if n.startswith("osprey_collector") and "sample" in n
                   and n.endswith("_total") and not re.search(r"drop|reject|fail|error", n))
    pref = [n for n in cands if re.search(r"scraped|publish|sent", n)]
    return (pref or cands or [None])[0]


# ---------------------------------------------------------------- the systems

def build_fleet():
    bdir = os.path.join(REPO, "build-benchfleet")
    exe = os.path.join(bdir, "osprey-bench-fleet")
    src = os.path.join(BENCH, "fleet.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        log("building the fleet in", bdir)
        subprocess.run(["cmake", "-S", BENCH, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", bdir], check=True, stdout=subprocess.DEVNULL)
    return exe


class Fleet:
    def __init__(self, tmp, exe, targets, series):
        self.logpath = os.path.join(tmp.path, "fleet.log")
        self.p = subprocess.Popen([exe, "--targets", str(targets), "--series", str(series)],
                                  stdout=subprocess.PIPE, stderr=open(self.logpath, "wb"),
                                  text=True, start_new_session=True)
        self.addresses = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("fleet exited: see %s" % self.logpath)
            if line.startswith("READY"):
                self.banner = line.strip()
                break
            self.addresses.append(line.strip())
        log("fleet pid", self.p.pid, self.banner)

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait()


def scrape_config(addresses, interval, timeout):
    targets = ", ".join('"%s"' % a for a in addresses)
    return ("global:\n  scrape_interval: %s\n  scrape_timeout: %s\n"
            "scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets: [%s]\n"
            % (interval, timeout, targets))


class Prometheus:
    def __init__(self, tmp, config_text):
        self.port = h.free_port()
        cfg = os.path.join(tmp.path, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(config_text)
        self.proc = h.Proc("prometheus", ["prometheus", "--config.file=" + cfg,
                                          "--storage.tsdb.path=" + tmp.sub("prometheus-data"),
                                          "--web.listen-address=127.0.0.1:%d" % self.port],
                           os.path.join(tmp.path, "prometheus.log"))
        h.wait_until(lambda: h.http("GET", self.url + "/-/ready", timeout=2)[0] == 200, 60,
                     what="prometheus ready")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.stop()


def find_bin_dir(arg):
    cands = [arg] if arg else [os.environ.get("OSP_BIN_DIR"), os.path.join(REPO, "build-bench", "bin"),
                               os.path.join(REPO, "build", "bin")]
    for d in cands:
        if d and all(os.access(os.path.join(d, "osprey-" + n), os.X_OK) for n in ("store", "collector")):
            return d
    raise SystemExit("osprey-store/osprey-collector not found in %s; build them with\n"
                     "  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo && "
                     "cmake --build build-bench -j2 --target osprey-store osprey-collector\n"
                     "or run with --only prometheus" % [c for c in cands if c])


# ---------------------------------------------------------------- run

def fmt_table(rows, cols):
    w = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = lambda r: "  ".join(s.rjust(w[i]) if i else s.ljust(w[i]) for i, s in enumerate(r))  # noqa: E731
    return "\n".join([line(cols), line(["-" * x for x in w])] + [line(r) for r in rows])


def on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--series", type=int, default=2500, help="series per target")
    ap.add_argument("--interval", default="1s", help="scrape_interval (and scrape_timeout)")
    ap.add_argument("--duration", type=float, default=120, help="measured window, seconds")
    ap.add_argument("--warmup", type=float, default=20, help="seconds excluded before the window")
    ap.add_argument("--only", choices=["both", "osprey", "prometheus"], default="both")
    ap.add_argument("--bin-dir", help="where osprey-store and osprey-collector are "
                    "(default: $OSP_BIN_DIR, build-bench/bin, build/bin)")
    ap.add_argument("--out", default=os.path.join(BENCH, "out"), help="directory for the JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    args = ap.parse_args()

    run_osprey = args.only in ("both", "osprey")
    run_prom = args.only in ("both", "prometheus")
    if run_osprey:
        h.BIN = find_bin_dir(args.bin_dir)
    # SIGTERM ends the run like Ctrl-C, through the finally below.
    signal.signal(signal.SIGTERM, on_sigterm)

    tmp = h.TempDir("osp-bench-ingest")
    started = []  # objects with stop(), stopped in reverse order
    comps = {}
    sampler = None
    ok = False
    try:
        fleet = Fleet(tmp, build_fleet(), args.targets, args.series)
        started.append(fleet)
        comps["fleet"] = Component("fleet", fleet.pid)
        cfg = scrape_config(fleet.addresses, args.interval, args.interval)

        store = coll = prom = None
        if run_osprey:
            pg = h.Postgres(tmp)
            started.append(pg)
            comps["postgres"] = Component("postgres", pg.proc.pid)
            store = h.Store(tmp, pg)
            started.append(store)
            comps["store"] = Component("store", store.proc.pid)
            coll = h.Collector(tmp, cfg, store.ingest_port, store.ack_port)
            started.append(coll)
            comps["collector"] = Component("collector", coll.proc.pid)
        if run_prom:
            prom = Prometheus(tmp, cfg)
            started.append(prom)
            comps["prometheus"] = Component("prometheus", prom.proc.pid)

        sampler = Sampler(list(comps.values()))
        sampler.start()
        log("warm-up %.0f s (%d targets x %d series every %s)" % (args.warmup, args.targets,
                                                                 args.series, args.interval))
        time.sleep(args.warmup)

        def snapshot():
            ppids = all_ppids()
            s = {"t": time.monotonic(), "ticks": {n: c.ticks(ppids) for n, c in comps.items()},
                 "busy": machine_busy()}
            if store:
                s["store"] = scrape(store.url + "/metrics")
                s["collector"] = scrape(coll.url + "/metrics")
            if prom:
                s["prom"] = scrape(prom.url + "/metrics")
            return s

        s0 = snapshot()
        log("measuring %.0f s" % args.duration)
        time.sleep(args.duration)
        s1 = snapshot()
        for name, c in comps.items():
            root_alive = os.path.exists("/proc/%d" % c.root)
            if not root_alive:
                raise RuntimeError("%s (pid %d) died during the run" % (name, c.root))
        sampler.stop()
        result = report(args, fleet, comps, s0, s1, store is not None, prom is not None)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "ingest-%s.json" % time.strftime("%Y%m%dT%H%M%S"))
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


def report(args, fleet, comps, s0, s1, have_osprey, have_prom):
    dt = s1["t"] - s0["t"]
    cpu = {n: (s1["ticks"][n] - s0["ticks"][n]) / CLK_TCK for n in comps}
    busy = (s1["busy"][0] - s0["busy"][0]) / max(1, s1["busy"][1] - s0["busy"][1])
    ncpu = os.cpu_count()
    other = max(0.0, (s1["busy"][0] - s0["busy"][0]) / CLK_TCK - sum(cpu.values()))
    expected = args.targets * (args.series + 5) * dt / parse_seconds(args.interval)
    mib = lambda kib: kib / 1024.0  # noqa: E731
    systems = {}
    notes = []

    if have_osprey:
        name = pick_store_counter(s1["store"])
        samples = metric_delta(s0["store"], s1["store"], name)
        cname = pick_collector_counter(s1["collector"])
        csamples = metric_delta(s0["collector"], s1["collector"], cname)
        if samples is None:
            notes.append("store /metrics has no ingested-samples counter; using the collector's %s" % cname)
            samples = csamples
        c = comps["collector"], comps["store"], comps["postgres"]
        osp_cpu = cpu["collector"] + cpu["store"] + cpu["postgres"]
        systems["osprey"] = {
            "samples": samples, "sample_counter": name, "collector_counter": cname,
            "collector_samples": csamples,
            "cpu_s": osp_cpu,
            "cpu_split_s": {"collector": cpu["collector"], "store": cpu["store"],
                            "postgres": cpu["postgres"]},
            # collector and store: VmHWM (lifetime peak); PostgreSQL: the largest sum over its
            # processes seen by sampling each second, PSS (shared buffers split, not counted N times)
            "peak_mib": mib(c[0].hwm_kib + c[1].hwm_kib + c[2].peak_pss_kib),
            "peak_split_mib": {"collector_hwm": mib(c[0].hwm_kib), "store_hwm": mib(c[1].hwm_kib),
                               "postgres_pss_sum": mib(c[2].peak_pss_kib),
                               "postgres_rss_sum": mib(c[2].peak_rss_kib),
                               "postgres_processes": c[2].nprocs},
        }
    if have_prom:
        pname = "prometheus_tsdb_head_samples_appended_total"
        systems["prometheus"] = {
            "samples": metric_delta(s0["prom"], s1["prom"], pname),
            "sample_counter": pname, "cpu_s": cpu["prometheus"],
            "peak_mib": mib(comps["prometheus"].hwm_kib),
        }
    for s in systems.values():
        s["samples_per_s"] = (s["samples"] or 0) / dt
        s["cpu_s_per_million"] = s["cpu_s"] / (s["samples"] / 1e6) if s["samples"] else None
        s["cpu_cores"] = s["cpu_s"] / dt
        if s["samples"] is not None and s["samples"] < 0.9 * expected:
            notes.append("%s ingested %.0f%% of the %.0f samples offered: it is falling behind or "
                         "the machine is saturated" % (s.get("sample_counter"), 100 * s["samples"] / expected, expected))

    ratio = {}
    if have_osprey and have_prom:
        o, p = systems["osprey"], systems["prometheus"]
        if o["cpu_s_per_million"] and p["cpu_s_per_million"]:
            ratio["cpu_per_sample"] = o["cpu_s_per_million"] / p["cpu_s_per_million"]
        ratio["peak_memory"] = o["peak_mib"] / p["peak_mib"] if p["peak_mib"] else None
    if busy > 0.9:
        notes.append("the machine was %.0f%% busy over the window: CPU-bound, figures are upper bounds"
                     % (100 * busy))

    # ---- print
    print("\nIngest benchmark: %d targets x %d series every %s, window %.1f s after %.0f s warm-up"
          % (args.targets, args.series, args.interval, dt, args.warmup))
    print("offered: %.0f samples/s per system (series + 5 scrape series per target); "
          "machine: %d CPUs, %.0f%% busy in the window\n" % (expected / dt, ncpu, 100 * busy))
    rows = []
    for n, s in systems.items():
        rows.append([n, "%.0f" % (s["samples"] or 0), "%.0f" % s["samples_per_s"], "%.2f" % s["cpu_s"],
                     "%.2f" % s["cpu_cores"],
                     "%.2f" % s["cpu_s_per_million"] if s["cpu_s_per_million"] else "-",
                     "%.0f" % s["peak_mib"]])
    if ratio:
        rows.append(["osprey/prometheus", "", "", "", "",
                     "%.2fx" % ratio["cpu_per_sample"] if "cpu_per_sample" in ratio else "-",
                     "%.2fx" % ratio["peak_memory"] if ratio.get("peak_memory") else "-"])
    print(fmt_table(rows, ["system", "samples", "samples/s", "CPU s", "cores", "CPU s/M samples",
                           "peak MiB"]))
    if have_osprey:
        o = systems["osprey"]
        print("\nOsprey CPU split (s, share, s per million samples):")
        for k, v in o["cpu_split_s"].items():
            per_m = v / (o["samples"] / 1e6) if o["samples"] else 0
            print("  %-10s %8.2f  %5.1f%%  %6.2f" % (k, v, 100 * v / o["cpu_s"] if o["cpu_s"] else 0, per_m))
        ps = o["peak_split_mib"]
        print("Osprey peak memory: collector VmHWM %.0f MiB + store VmHWM %.0f MiB + PostgreSQL %.0f MiB "
              "(max sum of PSS over %d processes; RSS sum %.0f MiB)"
              % (ps["collector_hwm"], ps["store_hwm"], ps["postgres_pss_sum"],
                 ps["postgres_processes"], ps["postgres_rss_sum"]))
        print("samples counted by the store (%s): %s; by the collector (%s): %s"
              % (o["sample_counter"], o["samples"], o["collector_counter"], o["collector_samples"]))
    if have_prom:
        print("Prometheus peak memory: VmHWM of the prometheus process")
    print("fleet (not counted in either): %.2f CPU s (%.1f%% of a core)"
          % (cpu["fleet"], 100 * cpu["fleet"] / dt))
    print("CPU not accounted above (other processes on the machine, this script): %.2f CPU s (%.1f%% of a core)"
          % (other, 100 * other / dt))
    for n in notes:
        print("NOTE:", n)

    return {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": ncpu, "kernel": platform.release(), "busy_fraction": busy},
        "config": {"targets": args.targets, "series_per_target": args.series, "interval": args.interval,
                   "warmup_s": args.warmup, "window_s": dt, "offered_samples": expected},
        "systems": systems, "ratio_osprey_over_prometheus": ratio,
        "fleet_cpu_s": cpu["fleet"], "other_cpu_s": other, "notes": notes,
    }


def parse_seconds(s):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", s)
    if not m:
        raise SystemExit("bad duration %r" % s)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]


if __name__ == "__main__":
    sys.exit(main())
