"""alerter_support - peers for the alerter tests: an HTTP sink that records
webhook/Slack posts (status configurable, can be taken down and brought back),
an alertmanager.yml writer and alert posting helpers. Standard library only."""

import datetime
import http.server as httpserver
import json
import os
import threading
import time

from osprey_harness import Daemon, free_port, http, wait_until


class Sink:
    """Records every POST (path, headers, JSON body, time). `down()` closes the
    listener (connections are refused); `up()` listens again on the same port."""

    def __init__(self, status=200, reply=b""):
        self.posts = []
        self.status = status
        self.reply = reply
        self.port = free_port()
        self.lock = threading.Lock()
        self.server = None
        self.up()

    def up(self):
        outer = self

        class H(httpserver.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append({"path": self.path, "headers": dict(self.headers),
                                        "body": json.loads(body), "t": time.time()})
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Length", str(len(outer.reply)))
                    self.end_headers()
                    self.wfile.write(outer.reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender timed out (bench under load)

            def log_message(self, *a):
                pass

        httpserver.ThreadingHTTPServer.allow_reuse_address = True
        self.server = httpserver.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def bodies(self, path=None):
        with self.lock:
            return [p["body"] for p in self.posts if path is None or p["path"] == path]

    def wait(self, n, path=None, timeout=20):
        return wait_until(lambda: len(self.bodies(path)) >= n and self.bodies(path), timeout,
                          what="%d notifications at %s" % (n, path))


def write_config(tmp, text, name=None):
    path = os.path.join(tmp.path, name or ("am-%d.yml" % free_port()))
    with open(path, "w") as f:
        f.write(text)
    return path


def alerter(tmp, config_text=None, extra=(), **kw):
    args = list(extra)
    if config_text is not None:
        args += ["--alertmanager-config", write_config(tmp, config_text)]
    return Daemon(tmp, "alerter", args, **kw)


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def post_alerts(url, alerts):
    body = json.dumps(alerts).encode()
    return http("POST", url + "/api/v2/alerts", body, {"Content-Type": "application/json"})


def alert(name, ends=None, **labels):
    a = {"labels": dict(alertname=name, **labels), "annotations": {"summary": name + " happened"}}
    if ends is not None:
        a["endsAt"] = rfc3339(ends)
    return a


def get_alerts(url, query=""):
    st, _, body = http("GET", url + "/api/v2/alerts" + query)
    assert st == 200, (st, body)
    return json.loads(body)


ROUTE_FAST = """  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
"""
