"""Deployment files: docker-compose accepts the compose file; deploy/local configs
pass --check-config of their daemons."""
import os
import shutil
import subprocess

import osprey_harness as h


def test_compose_config():
    dc = shutil.which("docker-compose")
    if dc is None:
        print("SKIP docker-compose not installed (scripts/deps installs it)")
        return
    r = subprocess.run([dc, "-f", os.path.join(h.SRC, "deploy", "docker-compose.yml"), "config",
                        "-q"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([dc, "-f", os.path.join(h.SRC, "deploy", "docker-compose.yml"), "config",
                        "--services"], capture_output=True, text=True, timeout=60)
    assert set(r.stdout.split()) >= {"postgres", "redis", "store", "collector", "grafana",
                                     "gpu-exporter", "alerter"}, r.stdout


def test_local_configs_check():
    for name, cfg in (("store", "store.yml"), ("collector", "prometheus.yml"),
                      ("gpu-exporter", "gpu-exporter.yml"), ("alerter", "alerter.yml")):
        r = subprocess.run([os.path.join(h.BIN, "osprey-" + name), "-c",
                            os.path.join(h.SRC, "deploy", "local", cfg), "--check-config"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (name, r.stdout, r.stderr)


if __name__ == "__main__":
    h.run_tests([test_compose_config, test_local_configs_check])
