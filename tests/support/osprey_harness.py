"""osprey_harness - starts real PostgreSQL, Redis, Osprey daemons and peers in
temporary directories on loopback ports picked at run time, and stops exactly
the processes it started (by PID). Used by tests/integration and bench/.
Standard library only."""

import gzip
import http.server as httpserver
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SRC = os.environ.get("OSP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("OSP_BIN_DIR") or os.path.join(SRC, "build", "bin")
SHARED = os.environ.get("OSP_SHARED_DIR") or os.path.join(SRC, "..", "shared")
PG_BIN = "/usr/lib/postgresql/15/bin"
IS_ROOT = os.geteuid() == 0


def log(*a):
    print("[harness %.1f]" % time.monotonic(), *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_until(fn, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polled condition may fail until ready
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


def http(method, url, body=None, headers=None, timeout=30):
    """Returns (status, headers, body bytes); never raises for HTTP statuses."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
            if r.headers.get("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            return r.status, r.headers, data
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(url, timeout=30):
    st, _, body = http("GET", url, timeout=timeout)
    return st, json.loads(body) if body else None


def post_form(url, fields, timeout=30):
    body = urllib.parse.urlencode(fields, doseq=True).encode()
    st, _, data = http("POST", url, body,
                       {"Content-Type": "application/x-www-form-urlencoded"}, timeout)
    return st, json.loads(data) if data else None


class TempDir:
    def __init__(self, prefix="osp"):
        base = os.environ.get("TMPDIR", "/tmp")
        self.path = tempfile.mkdtemp(prefix=prefix + "-", dir=base)
        os.chmod(self.path, 0o755)

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Proc:
    """A child process we started; stopped by PID only."""

    def __init__(self, name, argv, logpath, env=None, user=None):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.logf = open(logpath, "ab")
        e = dict(os.environ)
        if env:
            e.update(env)
        # Dropping privileges in Popen itself (not through runuser) keeps self.pid the
        # server's own PID, so signals reach it.
        extra = {"user": user, "group": user} if user and IS_ROOT else {}
        self.p = subprocess.Popen(list(argv), stdout=self.logf, stderr=subprocess.STDOUT,
                                  env=e, start_new_session=True, **extra)
        log("started", name, "pid", self.p.pid)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def stop(self, timeout=20, sig=None):
        """Send sig (default SIGTERM), wait; SIGKILL if it does not exit. Returns the exit code."""
        if self.alive():
            self.signal(sig or signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(self.name, "did not exit on SIGTERM; killing")
                self.signal(signal.SIGKILL)
                self.p.wait()
        self.logf.close()
        return self.p.returncode

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.p.wait()
        self.logf.close()

    def output(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")


class Postgres:
    """A private PostgreSQL cluster on a loopback port and a unix socket."""

    def __init__(self, tmp, settings=()):
        self.settings = list(settings)  # extra "name=value" server settings (-c)
        self.dir = tmp.sub("pg")
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.port = free_port()
        self.proc = None
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run([PG_BIN + "/initdb", "-D", self.data, "-U", "osprey", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])
        self.start()
        self._run([PG_BIN + "/createdb", "-h", self.sock, "-p", str(self.port), "-U", "osprey",
                   "osprey"])

    def _run(self, argv):
        extra = {"user": "postgres", "group": "postgres"} if IS_ROOT else {}
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=self.dir, **extra)

    def start(self):
        self.proc = Proc("postgres", [PG_BIN + "/postgres", "-D", self.data, "-p", str(self.port),
                                      "-k", self.sock, "-c", "listen_addresses=127.0.0.1",
                                      "-c", "fsync=off", "-c", "synchronous_commit=on",
                                      "-c", "max_connections=50"]
                         + [a for kv in self.settings for a in ("-c", kv)],
                         os.path.join(self.dir, "postgres.log"), user="postgres")
        wait_until(self.ready, 30, what="postgres ready")

    def ready(self):
        r = subprocess.run([PG_BIN + "/pg_isready", "-h", self.sock, "-p", str(self.port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def stop(self):
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for
        # the store's connections to go away.
        if self.proc:
            self.proc.stop(sig=signal.SIGINT)
            self.proc = None

    @property
    def conninfo(self):
        return "host=%s port=%d user=osprey dbname=osprey" % (self.sock, self.port)

    def sql(self, q):
        r = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-h", self.sock, "-p", str(self.port),
                            "-U", "osprey", "-d", "osprey", "-c", q], check=True,
                           capture_output=True, text=True)
        return r.stdout.strip()

    def session(self):
        """A psql connection kept open (to hold a transaction and its locks)."""
        return PgSession(self)


class PgSession:
    """One psql process on stdin/stdout: run() sends statements and returns their
    output; the connection (and an open transaction) lives until close()."""

    MARK = "--osprey-harness-done--"

    def __init__(self, pg):
        self.p = subprocess.Popen(["psql", "-X", "-A", "-t", "-q", "-h", pg.sock, "-p",
                                   str(pg.port), "-U", "osprey", "-d", "osprey"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)

    def run(self, q):
        self.p.stdin.write(q.rstrip().rstrip(";") + ";\n\\echo " + self.MARK + "\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.rstrip("\n") == self.MARK:
                return "\n".join(out).strip()
            out.append(line.rstrip("\n"))
        raise AssertionError("psql session ended: %s" % "\n".join(out))

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=30)


class Redis:
    def __init__(self, tmp):
        self.dir = tmp.sub("redis")
        self.port = free_port()
        self.proc = Proc("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", self.dir],
                         os.path.join(self.dir, "redis.log"))
        wait_until(self._ping, 20, what="redis ready")

    def _ping(self):
        with socket.create_connection(("127.0.0.1", self.port), 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.stop()


class Daemon:
    """An Osprey daemon started with flags, as tests and benchmarks must."""

    def __init__(self, tmp, name, args, wait_ready=True, port=None, ready_timeout=60):
        self.name = name
        self.port = port or free_port()
        self.tmp = tmp
        self.args = ["--listen", "127.0.0.1:%d" % self.port] + list(args)
        self.logpath = os.path.join(tmp.path, "%s-%d.log" % (name, self.port))
        self.proc = None
        self.start(wait_ready, ready_timeout)

    def start(self, wait_ready=True, ready_timeout=60):
        self.proc = Proc(self.name, [os.path.join(BIN, "osprey-" + self.name)] + self.args,
                         self.logpath)
        if wait_ready:
            self.wait_ready(ready_timeout)

    def wait_ready(self, timeout=60):
        def ok():
            if not self.proc.alive():
                raise AssertionError("%s exited: %s" % (self.name, self.proc.output()[-3000:]))
            return http("GET", self.url + "/ready", timeout=2)[0] == 200
        wait_until(ok, timeout, what=self.name + " /ready")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        return self.proc.stop() if self.proc else None

    def kill9(self):
        self.proc.kill9()

    def output(self):
        return self.proc.output()


class Store(Daemon):
    def __init__(self, tmp, pg, extra=(), ingest_port=None, ack_port=None, **kw):
        self.ingest_port = ingest_port or free_port()
        self.ack_port = ack_port or free_port()
        self.query_port = free_port()
        args = ["--pg", pg.conninfo,
                "--ingest", "tcp://127.0.0.1:%d" % self.ingest_port,
                "--ack", "tcp://127.0.0.1:%d" % self.ack_port,
                "--query", "tcp://127.0.0.1:%d" % self.query_port] + list(extra)
        super().__init__(tmp, "store", args, **kw)

    def query(self, q, t=None):
        f = {"query": q}
        if t is not None:
            f["time"] = str(t)
        st, j = post_form(self.url + "/api/v1/query", f)
        assert st == 200 and j["status"] == "success", (st, j)
        return j["data"]

    def import_text(self, text):
        st, _, body = http("POST", self.url + "/api/v1/import/prometheus", text.encode())
        assert st == 204, (st, body)


class Collector(Daemon):
    def __init__(self, tmp, config_text, ingest_port, ack_port, extra=(), **kw):
        self.cfg = os.path.join(tmp.path, "collector-%d.yml" % free_port())
        with open(self.cfg, "w") as f:
            f.write(config_text)
        spool = tmp.sub("spool-%d" % free_port())
        args = ["-c", self.cfg,
                "--store-ingest", "tcp://127.0.0.1:%s" % ingest_port,
                "--store-ack", "tcp://127.0.0.1:%s" % ack_port,
                "--spool-dir", spool] + list(extra)
        super().__init__(tmp, "collector", args, **kw)


class FixtureTarget:
    """A scrape target on 127.0.0.1 serving whatever `page(n)` returns for the
    n-th scrape (n from 1; None answers 503); records every body it served with the time."""

    def __init__(self, page, content_type="text/plain; version=0.0.4", gzip_body=False):
        self.page = page
        self.served = []
        self.content_type = content_type
        outer = self

        class H(httpserver.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                n = len(outer.served) + 1
                body = outer.page(n)
                if body is None:  # the page function asks for a failed scrape
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(body, str):
                    body = body.encode()
                outer.served.append((time.time(), body, self.path, dict(self.headers)))
                data = gzip.compress(body) if gzip_body else body
                self.send_response(200)
                self.send_header("Content-Type", outer.content_type)
                if gzip_body:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass

        self.server = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>; `cut()` drops every
    connection and refuses new ones until `restore()`: a link failure."""

    def __init__(self, target_port, port=None):
        self.target = target_port
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.conns = []
        self.up = True
        self.stopping = False
        self.lsock = None
        self._listen()

    def _listen(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(64)
        threading.Thread(target=self._accept, args=(self.lsock,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.lsock.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []
        log("proxy", self.port, "cut")

    def restore(self):
        self._listen()
        log("proxy", self.port, "restored")

    def stop(self):
        self.cut()


def parse_exposition(text):
    """Minimal independent parser of text format 0.0.4 for comparisons in tests:
    returns list of (name, labels dict, value float). Comments skipped."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            labels = {}
            i = 0
            while True:
                while i < len(rest) and rest[i] in ", ":
                    i += 1
                if rest[i] == "}":
                    i += 1
                    break
                eq = rest.index("=", i)
                lname = rest[i:eq].strip()
                i = eq + 2  # skip ="
                val = []
                while rest[i] != '"':
                    if rest[i] == "\\":
                        nxt = rest[i + 1]
                        val.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                        i += 2
                    else:
                        val.append(rest[i])
                        i += 1
                i += 1
                labels[lname] = "".join(val)
            fields = rest[i:].split()
        else:
            parts = line.split()
            name, labels, fields = parts[0], {}, parts[1:]
        out.append((name.strip(), labels, float(fields[0])))
    return out


def canon_le(v):
    """Prometheus' canonical le/quantile text: Go FormatFloat(f, 'g', -1) plus ".0"
    when it has neither '.' nor an exponent (1 -> 1.0, 1e6 -> 1e+06)."""
    if v in ("+Inf", "-Inf", "NaN", "Inf", "+inf", "-inf"):
        return {"Inf": "+Inf", "+inf": "+Inf", "-inf": "-Inf"}.get(v, v)
    f = float(v)
    if f == 0:
        return "0.0"
    sign = "-" if f < 0 else ""
    r = repr(abs(f))  # shortest round-trip digits, like Go's -1 precision
    sig = r.replace(".", "").split("e")[0].lstrip("0").rstrip("0") or "0"
    exp = int(r.split("e")[1]) if "e" in r else int(("%e" % abs(f)).split("e")[1])
    if exp < -4 or exp >= 6:
        m = sig[0] + ("." + sig[1:] if len(sig) > 1 else "")
        return "%s%se%s%02d" % (sign, m, "-" if exp < 0 else "+", abs(exp))
    return sign + r


class Cluster:
    """tmp + PostgreSQL + store, torn down in reverse order."""

    def __init__(self, prefix="osp", redis=False, store_extra=()):
        self.tmp = TempDir(prefix)
        self.pg = Postgres(self.tmp)
        self.redis = Redis(self.tmp) if redis else None
        self.store = Store(self.tmp, self.pg, extra=store_extra)
        self.others = []

    def collector(self, config_text, **kw):
        c = Collector(self.tmp, config_text, self.store.ingest_port, self.store.ack_port, **kw)
        self.others.append(c)
        return c

    def close(self, keep_on_failure=False):
        for o in reversed(self.others):
            try:
                o.stop()
            except Exception as e:  # noqa: BLE001 - teardown goes on
                log("stop failed", e)
        self.store.stop()
        if self.redis:
            self.redis.stop()
        self.pg.stop()
        if not keep_on_failure:
            self.tmp.cleanup()
        else:
            log("kept", self.tmp.path)


def run_tests(tests):
    """Tiny runner: runs the given test functions, prints one line each and
    the closing 'N passed, N failed' line; exit code 1 on any failure."""
    passed = failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print("PASS %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception:  # noqa: BLE001 - report every failure
            import traceback
            traceback.print_exc()
            failed += 1
            print("FAIL %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed else 0)
