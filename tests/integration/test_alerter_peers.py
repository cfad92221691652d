"""osprey-alerter against real peers: Debian's prometheus pushing alerts to it
(alerting.alertmanagers), a real SMTP server (python3-aiosmtpd), a Slack-shaped
incoming-webhook sink, and promtool over the shipped rule files."""

import email
import email.policy
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from alerter_support import ROUTE_FAST, Sink, alert, alerter, post_alerts  # noqa: E402
from osprey_harness import (SRC, Proc, TempDir, free_port, http, run_tests,  # noqa: E402
                            wait_until)

SMTP_SERVER = r"""
import os, sys, time
from aiosmtpd.controller import Controller
out = sys.argv[2]
class H:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(out, "%f.eml" % time.time())
        with open(name + ".tmp", "wb") as f:
            f.write(b"X-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(b"X-Mail-From: " + envelope.mail_from.encode() + b"\r\n")
            f.write(envelope.content)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def test_prometheus_sends_alerts_end_to_end():
    tmp = TempDir("alert-prom")
    s = Sink()
    a = prom = None
    try:
        a = alerter(tmp, """route:
  receiver: hook
  group_by: [alertname]
%sreceivers:
  - name: hook
    webhook_configs: [{url: "%s"}]
""" % (ROUTE_FAST, s.url()))
        rules = os.path.join(tmp.path, "rules.yml")
        with open(rules, "w") as f:
            f.write("""groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(42)
        labels: {severity: warning, service: e2e}
        annotations: {summary: "value is {{ $value }}"}
""")
        cfg = os.path.join(tmp.path, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("""global: {evaluation_interval: 1s}
rule_files: [%s]
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{targets: ["127.0.0.1:%d"]}]
""" % (rules, a.port))
        pport = free_port()
        prom = Proc("prometheus", ["prometheus", "--config.file", cfg, "--storage.tsdb.path",
                                   tmp.sub("tsdb"), "--web.listen-address",
                                   "127.0.0.1:%d" % pport,
                                   # resend every second (default 1m) so that the first send
                                   # after alertmanager discovery settles comes quickly
                                   "--rules.alert.resend-delay=1s"],
                    os.path.join(tmp.path, "prometheus.log"))
        b = s.wait(1, timeout=60)[0]
        x = b["alerts"][0]
        assert x["labels"] == {"alertname": "AlwaysFiring", "severity": "warning",
                               "service": "e2e"}, x
        assert x["annotations"]["summary"] == "value is 42"
        assert "/graph?g0.expr=" in x["generatorURL"]
        assert b["status"] == "firing" and b["groupLabels"] == {"alertname": "AlwaysFiring"}
        time.sleep(3)
        assert len(s.bodies()) == 1  # Prometheus re-sends; the alerter notifies once
    finally:
        if prom:
            prom.stop()
        if a:
            a.stop()
        s.down()
        tmp.cleanup()


def start_smtp(tmp):
    port = free_port()
    mdir = tmp.sub("mail")
    script = os.path.join(tmp.path, "smtp.py")
    with open(script, "w") as f:
        f.write(SMTP_SERVER)
    # Debian's aiosmtpd is installed for Debian's python3
    p = Proc("smtp", ["/usr/bin/python3", script, str(port), mdir],
             os.path.join(tmp.path, "smtp.log"))
    wait_until(lambda: "ready" in p.output(), 20, what="smtp server")
    return p, port, mdir


def test_email_reaches_smtp_server():
    tmp = TempDir("alert-mail")
    smtp, port, mdir = start_smtp(tmp)
    a = None
    try:
        # a templates file (relative to the config's directory) with a define
        with open(os.path.join(tmp.path, "myorg.tmpl"), "w") as f:
            f.write('{{ define "myorg.subject" }}{{ .CommonLabels.instance }}: '
                    '{{ .CommonLabels.alertname }} ({{ .Alerts.Firing | len }} firing, '
                    '{{ .Status }}){{ end }}\n')
        a = alerter(tmp, """global:
  smtp_from: "Osprey <alerts@example.org>"
  smtp_smarthost: "127.0.0.1:%d"
  smtp_require_tls: false
templates: ['*.tmpl']
route:
  receiver: platform
  group_by: [alertname]
%sreceivers:
  - name: platform
    email_configs:
      - to: "ops@example.org, Lead <lead@example.org>"
        send_resolved: true
        headers: {X-Team: platform}
      - to: "custom@example.org"
        headers:
          Subject: '{{ template "myorg.subject" . }}'
          X-Severity: '{{ .CommonLabels.severity | toUpper }}'
        text: '{{ template "__text_alert_list" .Alerts.Firing }}'
        html: '<p>{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}</p>'
""" % (port, ROUTE_FAST))
        post_alerts(a.url, [alert("DiskAlmostFull", instance="db1", severity="critical")])
        files = wait_until(lambda: len(glob.glob(mdir + "/*.eml")) >= 2 and
                           sorted(glob.glob(mdir + "/*.eml")), 20, what="two emails")
        msgs = {}
        for fn in files:
            with open(fn, "rb") as f:
                m = email.message_from_bytes(f.read(), policy=email.policy.default)
            msgs[m["X-Rcpt"]] = m
        m = msgs["ops@example.org,lead@example.org"]
        # Alertmanager's __subject (with its space before the parenthesis)
        assert m["Subject"] == "[FIRING:1] DiskAlmostFull (db1 critical)", m["Subject"]
        assert m["X-Mail-From"] == "alerts@example.org"
        assert m["X-Team"] == "platform" and m["To"].startswith("ops@example.org")
        html = m.get_body(("html",)).get_content()
        assert "DiskAlmostFull happened" in html and "db1" in html
        c = msgs["custom@example.org"]
        assert c["Subject"] == "db1: DiskAlmostFull (1 firing, firing)", c["Subject"]
        assert c["X-Severity"] == "CRITICAL"
        text = c.get_body(("plain",)).get_content()
        assert "Labels:\n - alertname = DiskAlmostFull\n" in text.replace("\r\n", "\n"), text
        assert " - summary = DiskAlmostFull happened" in text, text
        assert c.get_body(("html",)).get_content().strip() == "<p>DiskAlmostFull happened</p>"
    finally:
        if a:
            a.stop()
        smtp.stop()
        tmp.cleanup()


def test_unreachable_smtp_is_a_clear_error():
    tmp = TempDir("alert-mail2")
    a = None
    try:
        a = alerter(tmp, """route:
  receiver: platform
%sreceivers:
  - name: platform
    email_configs:
      - {to: ops@example.org, from: a@example.org, smarthost: "127.0.0.1:%d",
         require_tls: false}
""" % (ROUTE_FAST, free_port()))
        post_alerts(a.url, [alert("NoMail")])
        wait_until(lambda: "notify failed" in a.output(), 15, what="failure log")
        assert a.proc.alive() and http("GET", a.url + "/-/healthy")[0] == 200
        m = http("GET", a.url + "/metrics")[2].decode()
        assert 'osprey_alerter_notifications_failed_total{receiver="platform",integration="email"}' in m
        assert "Couldn't connect" in a.output() or "connect" in a.output().lower()
    finally:
        if a:
            a.stop()
        tmp.cleanup()


def test_slack_payload_shape():
    tmp = TempDir("alert-slack")
    s = Sink(reply=b"ok")
    a = None
    try:
        a = alerter(tmp, """route:
  receiver: ai-team
  group_by: [alertname, service]
%sreceivers:
  - name: ai-team
    slack_configs:
      - api_url: "%s"
        channel: "#ai-alerts"
        send_resolved: true
""" % (ROUTE_FAST, s.url("/services/T000/B000/XXX")))
        post_alerts(a.url, [alert("SlowResponse", service="llm", severity="critical"),
                            alert("SlowResponse", service="llm", severity="critical",
                                  instance="b")])
        b = s.wait(1)[0]
        assert b["channel"] == "#ai-alerts" and b["username"] == "Alertmanager"
        att = b["attachments"][0]
        assert att["title"] == "[FIRING:2] SlowResponse llm (critical)", att["title"]
        assert att["color"] == "danger"
        assert att["title_link"].endswith("/#/alerts?receiver=ai-team")
        assert att["fallback"] == att["title"] + " | " + att["title_link"]
        assert att["mrkdwn_in"] == ["fallback", "pretext", "text"]
        for k in ("text", "fallback", "callback_id", "footer"):
            assert k in att
        post_alerts(a.url, [alert("SlowResponse", service="llm", severity="critical",
                                  ends=time.time() - 1),
                            alert("SlowResponse", service="llm", severity="critical",
                                  instance="b", ends=time.time() - 1)])
        r = s.wait(2, timeout=8)[1]["attachments"][0]
        assert r["color"] == "good" and r["title"].startswith("[RESOLVED]"), r
    finally:
        if a:
            a.stop()
        s.down()
        tmp.cleanup()


def test_slack_custom_templates():
    tmp = TempDir("alert-slack3")
    s = Sink(reply=b"ok")
    a = None
    try:
        with open(os.path.join(tmp.path, "slack.tmpl"), "w") as f:
            f.write("""{{ define "slack.myorg.title" }}{{ .Status | title }}: """
                    """{{ .CommonLabels.alertname }} on {{ .CommonLabels.Remove """
                    """(stringSlice "alertname" "severity") | len }} label(s){{ end }}
{{ define "slack.myorg.text" }}{{ range .Alerts }}*{{ .Labels.severity }}* """
                    """{{ .Annotations.summary }} ({{ .Fingerprint }})
{{ end }}{{ end }}
""")
        a = alerter(tmp, """templates: [slack.tmpl]
route:
  receiver: ai-team
  group_by: [alertname]
%sreceivers:
  - name: ai-team
    slack_configs:
      - api_url: "%s"
        title: '{{ template "slack.myorg.title" . }}'
        text: '{{ template "slack.myorg.text" . }}'
        pretext: '{{ .CommonLabels.service }}'
        color: '{{ if eq .Status "firing" }}#ff0000{{ else }}#00ff00{{ end }}'
        username: 'osprey-{{ .Receiver }}'
        icon_emoji: ':{{ .CommonLabels.severity }}:'
        channel: '#{{ .CommonLabels.service }}'
        title_link: '{{ template "__alertmanagerURL" . }}&x=1'
        fallback: '{{ template "slack.default.fallback" . }}'
""" % (ROUTE_FAST, s.url("/slack")))
        post_alerts(a.url, [alert("SlowResponse", service="llm", severity="critical")])
        b = s.wait(1)[0]
        att = b["attachments"][0]
        assert att["title"] == "Firing: SlowResponse on 1 label(s)", att["title"]
        fp = http("GET", a.url + "/api/v2/alerts")[2].decode().split('"fingerprint":"')[1][:16]
        assert att["text"] == "*critical* SlowResponse happened (%s)\n" % fp, att["text"]
        assert att["pretext"] == "llm" and att["color"] == "#ff0000", att
        assert b["username"] == "osprey-ai-team" and b["icon_emoji"] == ":critical:", b
        assert b["channel"] == "#llm", b
        assert att["title_link"].endswith("/#/alerts?receiver=ai-team&x=1"), att
        assert att["fallback"] == "[FIRING:1] SlowResponse (llm critical) | " + \
            att["title_link"][:-4], att["fallback"]
    finally:
        if a:
            a.stop()
        s.down()
        tmp.cleanup()


def test_bad_templates_are_config_errors_with_positions():
    tmp = TempDir("alert-slack2")
    try:
        path = os.path.join(tmp.path, "am.yml")
        exe = os.path.join(os.environ.get("OSP_BIN_DIR", SRC + "/build/bin"), "osprey-alerter")
        with open(path, "w") as f:
            f.write("""route: {receiver: s}
receivers:
  - name: s
    slack_configs: [{api_url: "http://x/", title: "{{ .CommonLabels.alertname }"}]
""")
        r = subprocess.run([exe, "--alertmanager-config", path, "--check-config"],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "title" in r.stderr and "am.yml:4:" in r.stderr, r.stderr
        with open(os.path.join(tmp.path, "bad.tmpl"), "w") as f:
            f.write('{{ define "x" }}\n  {{ if }}{{ end }}\n')
        with open(path, "w") as f:
            f.write("""templates: ['*.tmpl']
route: {receiver: s}
receivers: [{name: s}]
""")
        r = subprocess.run([exe, "--alertmanager-config", path, "--check-config"],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "bad.tmpl:2:" in r.stderr, r.stderr
        with open(path, "w") as f:
            f.write("""route: {receiver: s}
receivers:
  - name: p
    pagerduty_configs: [{routing_key: x}]
""")
        r = subprocess.run([exe, "--alertmanager-config", path, "--check-config"],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "pagerduty_configs" in r.stderr, r.stderr
    finally:
        tmp.cleanup()


def test_promtool_accepts_shipped_rules():
    files = sorted(glob.glob(os.path.join(SRC, "deploy", "rules", "*.yml")))
    assert files, "no rule files in deploy/rules"
    r = subprocess.run(["promtool", "check", "rules"] + files, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([os.path.join(os.environ.get("OSP_BIN_DIR", SRC + "/build/bin"),
                                     "osprey-alerter"), "--alertmanager-config",
                        os.path.join(SRC, "deploy", "alertmanager.yml"), "--check-config"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    am = subprocess.run(["amtool", "check-config", os.path.join(SRC, "deploy", "alertmanager.yml")],
                        capture_output=True, text=True) if os.path.exists("/usr/bin/amtool") else None
    assert am is None or am.returncode == 0, am.stdout + am.stderr


if __name__ == "__main__":
    run_tests([test_prometheus_sends_alerts_end_to_end, test_email_reaches_smtp_server,
               test_unreachable_smtp_is_a_clear_error, test_slack_payload_shape,
               test_slack_custom_templates, test_bad_templates_are_config_errors_with_positions,
               test_promtool_accepts_shipped_rules])
