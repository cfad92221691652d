"""Bad input never takes down the rest: a target serving garbage, a 50 MB page,
one bad line among good ones, a duplicated series, invalid config files."""
import os
import random
import subprocess

import osprey_harness as h

CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
%s
"""
JOB = """  - job_name: %s
    scrape_interval: %s
    scrape_timeout: %s
%s    static_configs:
      - targets: ["%s"]
"""


def job(name, addr, interval="1s", timeout="1s", extra=""):
    return JOB % (name, interval, timeout, extra, addr)


def val(c, q):
    d = c.store.query(q)
    assert d["result"], "no result for " + q
    return float(d["result"][0]["value"][1])


def test_garbage_one_bad_line_and_duplicates():
    rnd = random.Random(7)
    garbage = h.FixtureTarget(lambda n: bytes(rnd.randrange(256) for _ in range(4000)))
    onebad = h.FixtureTarget(lambda n: "good_a 1\ngood_b{x=\"1\"} 2\nthis is { not valid\n"
                                       "good_c 3\n")
    dup = h.FixtureTarget(lambda n: "dup_metric{a=\"1\"} 1\ndup_metric{a=\"1\"} 2\nother 5\n")
    healthy = h.FixtureTarget(lambda n: "healthy_metric %d\n" % n)
    c = h.Cluster("bad")
    try:
        c.collector(CONFIG % (job("garbage", garbage.address) + job("onebad", onebad.address) +
                              job("dup", dup.address) + job("healthy", healthy.address)))
        h.wait_until(lambda: all(c.store.query('up{job="%s"}' % j)["result"]
                                 for j in ("garbage", "onebad", "dup", "healthy")), 60,
                     what="all jobs scraped")
        # garbage: the scrape fails (nothing parsed), errors counted, others unaffected
        assert val(c, 'up{job="garbage"}') == 0
        assert val(c, 'scrape_parse_errors{job="garbage"}') > 0
        # one bad line: the three good samples are kept, the bad line counted
        assert val(c, 'up{job="onebad"}') == 1
        assert val(c, 'good_a') == 1 and val(c, 'good_b') == 2 and val(c, 'good_c') == 3
        assert val(c, 'scrape_parse_errors{job="onebad"}') == 1
        assert val(c, 'scrape_samples_scraped{job="onebad"}') == 3
        # duplicate series: first kept, the duplicate counted
        assert val(c, 'dup_metric') == 1
        assert val(c, 'other') == 5
        assert val(c, 'scrape_parse_errors{job="dup"}') == 1
        assert val(c, 'up{job="healthy"}') == 1
        # the collector reports the bad line: target and line number
        out = c.others[0].output()
        assert "line" in out and onebad.address in out, out[-2000:]
    finally:
        c.close()
        for t in (garbage, onebad, dup, healthy):
            t.stop()


def test_50mb_page():
    # 50 000 series with 1 KB label values: about 50 MB per scrape
    pad = "x" * 1000
    body = "".join('big_metric{i="%d",pad="%s"} %d\n' % (i, pad, i) for i in range(50000))
    assert len(body) > 50 * 1000 * 1000
    big = h.FixtureTarget(lambda n: body, gzip_body=True)
    c = h.Cluster("big")
    try:
        c.collector(CONFIG % (job("big", big.address, "20s", "15s") +
                              job("limited", big.address, "20s", "15s",
                                  "    body_size_limit: 10MB\n")))
        h.wait_until(lambda: c.store.query('up{job="limited"}')["result"], 90,
                     what="limited job scraped")
        assert val(c, 'up{job="limited"}') == 0, "body_size_limit must fail the scrape"
        h.wait_until(lambda: c.store.query('up{job="big"}')["result"], 120, what="big scraped")
        assert val(c, 'up{job="big"}') == 1
        assert val(c, 'count(big_metric{job="big"})') == 50000
        assert val(c, 'big_metric{job="big",i="49999"}') == 49999
    finally:
        c.close()
        big.stop()


def run_bin(name, args, timeout=30):
    return subprocess.run([os.path.join(h.BIN, "osprey-" + name)] + args, capture_output=True,
                          text=True, timeout=timeout)


def test_invalid_configs():
    tmp = h.TempDir("badcfg")
    try:
        bad = os.path.join(tmp.path, "prometheus.yml")
        with open(bad, "w") as f:
            f.write("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n"
                    "    scrape_intervall: 5s\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:1']\n")
        r = run_bin("collector", ["-c", bad, "--check-config"])
        assert r.returncode != 0
        err = r.stdout + r.stderr
        assert "prometheus.yml:5" in err and "scrape_intervall" in err, err
        r = run_bin("collector", ["-c", bad, "--listen", "127.0.0.1:%d" % h.free_port()])
        assert r.returncode != 0 and "scrape_intervall" in r.stdout + r.stderr
        # a bad value type names the key and position
        with open(bad, "w") as f:
            f.write("global:\n  scrape_interval: fifteen\n")
        r = run_bin("collector", ["-c", bad, "--check-config"])
        assert r.returncode != 0 and "prometheus.yml:2" in r.stdout + r.stderr, r.stderr
        # YAML syntax error
        with open(bad, "w") as f:
            f.write("scrape_configs:\n  - job_name: [unclosed\n")
        r = run_bin("collector", ["-c", bad, "--check-config"])
        assert r.returncode != 0 and "prometheus.yml:" in r.stdout + r.stderr, r.stderr
        # unsupported Prometheus sections are reported and ignored
        with open(bad, "w") as f:
            f.write("rule_files: [a.yml]\nalerting:\n  alertmanagers: []\nscrape_configs: []\n")
        r = run_bin("collector", ["-c", bad, "--check-config"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert "rule_files" in r.stdout + r.stderr, r.stderr
        # store: unknown key and bad duration
        sbad = os.path.join(tmp.path, "store.yml")
        with open(sbad, "w") as f:
            f.write("listen: 127.0.0.1:0\nretention: 10 days\n")
        r = run_bin("store", ["-c", sbad, "--check-config"])
        assert r.returncode != 0 and "store.yml:2" in r.stdout + r.stderr and \
            "retention" in r.stdout + r.stderr, r.stderr
        with open(sbad, "w") as f:
            f.write("listen: 127.0.0.1:0\nretentoin: 10d\n")
        r = run_bin("store", ["-c", sbad, "--check-config"])
        assert r.returncode != 0 and "retentoin" in r.stdout + r.stderr, r.stderr
        r = run_bin("store", ["-c", os.path.join(tmp.path, "missing.yml")])
        assert r.returncode != 0 and "missing.yml" in r.stdout + r.stderr
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    h.run_tests([test_garbage_one_bad_line_and_duplicates, test_invalid_configs, test_50mb_page])
