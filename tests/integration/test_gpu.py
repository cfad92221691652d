"""osprey-gpu-exporter end to end: a fake amdgpu sysfs tree (an RX 7800 XT's files)
and the fake libnvidia-ml built by the test suite (tests/unit/gpu/fake_nvml.c).
/metrics has every value with the right unit and labels; failures (no driver, an
unreadable file, a vanished card, NVML_ERROR_GPU_IS_LOST) are reported in
gpu_stats_up and the log and never stop the exporter; the collector scraping it
and the exporter's own NNG publishing land the same values in the store."""
import os
import signal
import time

import osprey_harness as h

FAKE_NVML = os.path.join(h.BIN, "..", "lib", "test", "libfake_nvml.so")
SLOT = "0000:03:00.0"
AMD_LABELS = {"gpu": "0", "uuid": SLOT, "name": "AMD Radeon RX 7800 XT", "vendor": "amd"}
H200 = {"gpu": "0", "uuid": "GPU-5f0a6d1e-1b2c-4d3e-8f90-123456789abc", "name": "NVIDIA H200",
        "vendor": "nvidia"}

NVML_CFG = """driver 550.54.15
count 1
gpu0.name NVIDIA H200
gpu0.uuid GPU-5f0a6d1e-1b2c-4d3e-8f90-123456789abc
gpu0.bus_id 00000000:1B:00.0
gpu0.util_gpu 87
gpu0.util_mem 41
gpu0.mem_total 150754820096
gpu0.mem_used 80530636800
gpu0.mem_free 69686411264
gpu0.mem_reserved 537772032
gpu0.temp 83
gpu0.power_mw 512345
gpu0.power_limit_mw 700000
gpu0.energy_mj 987654321
gpu0.clock_graphics 1980
gpu0.clock_sm 1980
gpu0.clock_mem 3201
gpu0.ecc_corrected_volatile 3
gpu0.ecc_corrected_aggregate 17
gpu0.ecc_uncorrected_volatile 0
gpu0.ecc_uncorrected_aggregate 1
gpu0.pstate 0
gpu0.pcie_tx_kbps 1500
gpu0.pcie_rx_kbps 250000
gpu0.procs 4242:21474836480
"""


def _w(root, rel, text):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def make_amd_tree(root, card=0, slot=SLOT):
    """An RX 7800 XT under root as Linux 6.x shows it: class/drm/cardN links into
    the PCI device, driver link to amdgpu, hwmon with edge/junction/mem sensors,
    power1_input (no power1_average), a connector and a render node to ignore."""
    dev = "sys/devices/pci0000:00/0000:00:01.1/%s" % slot
    files = {
        "vendor": "0x1002\n", "device": "0x747e\n", "revision": "0xc8\n",
        "subsystem_vendor": "0x1da2\n", "subsystem_device": "0xe471\n",
        "uevent": "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:747E\nPCI_SUBSYS_ID=1DA2:E471\n"
                  "PCI_SLOT_NAME=%s\n" % slot,
        "gpu_busy_percent": "37\n", "mem_busy_percent": "12\n",
        "mem_info_vram_total": "17163091968\n", "mem_info_vram_used": "4294967296\n",
        "mem_info_gtt_total": "16777216000\n", "mem_info_gtt_used": "50331648\n",
        "pp_dpm_sclk": "0: 500Mhz \n1: 2124Mhz *\n2: 2430Mhz \n",
        "pp_dpm_mclk": "0: 96Mhz \n1: 456Mhz \n2: 772Mhz \n3: 1218Mhz *\n",
        "vbios_version": "113-APM6MBS-100\n",
        "hwmon/hwmon2/name": "amdgpu\n",
        "hwmon/hwmon2/temp1_input": "48000\n", "hwmon/hwmon2/temp1_label": "edge\n",
        "hwmon/hwmon2/temp1_crit": "100000\n",
        "hwmon/hwmon2/temp2_input": "63000\n", "hwmon/hwmon2/temp2_label": "junction\n",
        "hwmon/hwmon2/temp2_crit": "110000\n",
        "hwmon/hwmon2/temp3_input": "56000\n", "hwmon/hwmon2/temp3_label": "mem\n",
        "hwmon/hwmon2/temp3_crit": "100000\n",
        "hwmon/hwmon2/power1_input": "41000000\n", "hwmon/hwmon2/power1_cap": "263000000\n",
        "hwmon/hwmon2/fan1_input": "1180\n", "hwmon/hwmon2/pwm1": "84\n",
        "hwmon/hwmon2/freq1_input": "2124000000\n", "hwmon/hwmon2/freq1_label": "sclk\n",
        "hwmon/hwmon2/in0_input": "693\n", "hwmon/hwmon2/in0_label": "vddgfx\n",
    }
    for rel, text in files.items():
        _w(root, os.path.join(dev, rel), text)
    os.symlink("../../../../bus/pci/drivers/amdgpu", os.path.join(root, dev, "driver"))
    os.makedirs(os.path.join(root, dev, "drm", "card%d" % card))
    os.symlink("../../../" + slot, os.path.join(root, dev, "drm", "card%d" % card, "device"))
    os.makedirs(os.path.join(root, "sys/class/drm"), exist_ok=True)
    os.symlink("../../devices/pci0000:00/0000:00:01.1/%s/drm/card%d" % (slot, card),
               os.path.join(root, "sys/class/drm/card%d" % card))
    _w(root, "sys/class/drm/card%d-DP-1/status" % card, "connected\n")
    _w(root, "sys/class/drm/renderD128/dev", "226:128\n")
    return os.path.join(root, dev)


def scrape(d):
    st, _, body = h.http("GET", d.url + "/metrics")
    assert st == 200, st
    return body.decode()


def series(text, metric, **match):
    out = []
    for n, labels, v in h.parse_exposition(text):
        if n == metric and all(labels.get(k) == val for k, val in match.items()):
            out.append((labels, v))
    return out


def value(text, metric, **match):
    s = series(text, metric, **match)
    assert len(s) == 1, "%s%r: %r" % (metric, match, s)
    return s[0][1]


def start_exporter(tmp, root, cfg_path, extra=()):
    os.environ["FAKE_NVML_CONFIG"] = cfg_path
    return h.Daemon(tmp, "gpu-exporter", ["--sysfs-root", root, "--nvml-lib", FAKE_NVML,
                                          "--interval", "300ms"] + list(extra))


def fixture(tmp):
    root = tmp.sub("root")
    make_amd_tree(root)
    _w(root, "proc/4242/comm", "llama-server\n")
    cfg = os.path.join(tmp.path, "nvml.cfg")
    _w(tmp.path, "nvml.cfg", NVML_CFG)
    return root, cfg


def test_metrics_values_units_labels():
    tmp = h.TempDir("gpu")
    try:
        root, cfg = fixture(tmp)
        d = start_exporter(tmp, root, cfg, ["--publish", "off"])
        t = scrape(d)
        assert "# TYPE gpu_stats_gpu_energy_joules_total counter" in t
        assert "# TYPE gpu_stats_gpu_temperature_celsius gauge" in t
        want = [
            ("gpu_stats_up", {"vendor": "amd"}, 1), ("gpu_stats_up", {"vendor": "nvidia"}, 1),
            ("gpu_stats_gpus", {"vendor": "amd"}, 1), ("gpu_stats_gpus", {"vendor": "nvidia"}, 1),
            ("gpu_stats_collect_errors_total", {"vendor": "amd"}, 0),
            # AMD: sysfs units converted (milli-degC, micro-W, MHz levels)
            ("gpu_stats_gpu_up", AMD_LABELS, 1),
            ("gpu_stats_gpu_utilization_percent", AMD_LABELS, 37),
            ("gpu_stats_gpu_memory_utilization_percent", AMD_LABELS, 12),
            ("gpu_stats_gpu_temperature_celsius", dict(AMD_LABELS, sensor="edge"), 48),
            ("gpu_stats_gpu_temperature_celsius", dict(AMD_LABELS, sensor="junction"), 63),
            ("gpu_stats_gpu_temperature_celsius", dict(AMD_LABELS, sensor="mem"), 56),
            ("gpu_stats_gpu_temperature_critical_celsius", dict(AMD_LABELS, sensor="junction"),
             110),
            ("gpu_stats_gpu_memory_usage_bytes", AMD_LABELS, 4294967296),
            ("gpu_stats_gpu_memory_total_bytes", AMD_LABELS, 17163091968),
            ("gpu_stats_gpu_memory_free_bytes", AMD_LABELS, 17163091968 - 4294967296),
            ("gpu_stats_gpu_gtt_usage_bytes", AMD_LABELS, 50331648),
            ("gpu_stats_gpu_gtt_total_bytes", AMD_LABELS, 16777216000),
            ("gpu_stats_gpu_power_draw_watts", AMD_LABELS, 41),
            ("gpu_stats_gpu_power_limit_watts", AMD_LABELS, 263),
            ("gpu_stats_gpu_clock_hertz", dict(AMD_LABELS, clock="graphics"), 2124e6),
            ("gpu_stats_gpu_clock_hertz", dict(AMD_LABELS, clock="memory"), 1218e6),
            ("gpu_stats_gpu_fan_speed_rpm", dict(AMD_LABELS, fan="0"), 1180),
            ("gpu_stats_gpu_fan_speed_percent", dict(AMD_LABELS, fan="0"), 84 * 100 / 255),
            ("gpu_stats_gpu_voltage_volts", dict(AMD_LABELS, sensor="vddgfx"), 0.693),
            ("gpu_stats_gpu_info", dict(AMD_LABELS, pci_bus_id=SLOT, driver="amdgpu",
                                        vbios_version="113-APM6MBS-100"), 1),
            # NVIDIA: NVML units converted (mW, mJ, MHz, KB/s)
            ("gpu_stats_gpu_up", H200, 1),
            ("gpu_stats_gpu_utilization_percent", H200, 87),
            ("gpu_stats_gpu_memory_utilization_percent", H200, 41),
            ("gpu_stats_gpu_temperature_celsius", dict(H200, sensor="gpu"), 83),
            ("gpu_stats_gpu_memory_usage_bytes", H200, 80530636800),
            ("gpu_stats_gpu_memory_total_bytes", H200, 150754820096),
            ("gpu_stats_gpu_memory_free_bytes", H200, 69686411264),
            ("gpu_stats_gpu_memory_reserved_bytes", H200, 537772032),
            ("gpu_stats_gpu_power_draw_watts", H200, 512.345),
            ("gpu_stats_gpu_power_limit_watts", H200, 700),
            ("gpu_stats_gpu_energy_joules_total", H200, 987654.321),
            ("gpu_stats_gpu_clock_hertz", dict(H200, clock="sm"), 1980e6),
            ("gpu_stats_gpu_clock_hertz", dict(H200, clock="memory"), 3201e6),
            ("gpu_stats_gpu_ecc_errors_total", dict(H200, type="corrected", counter="volatile"),
             3),
            ("gpu_stats_gpu_ecc_errors_total",
             dict(H200, type="uncorrected", counter="aggregate"), 1),
            ("gpu_stats_gpu_pcie_throughput_bytes_per_second", dict(H200, direction="rx"),
             250000 * 1024),
            ("gpu_stats_gpu_performance_state", H200, 0),
            ("gpu_stats_gpu_process_memory_usage_bytes",
             dict(H200, pid="4242", process="llama-server", type="compute"), 21474836480),
            ("gpu_stats_gpu_info", dict(H200, pci_bus_id="00000000:1B:00.0", driver="nvidia",
                                        driver_version="550.54.15"), 1),
        ]
        got = h.parse_exposition(t)
        for name, labels, v in want:
            hits = [x for x in got if x[0] == name and x[1] == labels]
            assert len(hits) == 1, "%s%r not exactly once in /metrics" % (name, labels)
            assert abs(hits[0][2] - v) <= 1e-9 * max(1, abs(v)), (name, labels, hits[0][2], v)
        # not supported on this GPU: absent, never 0
        assert not series(t, "gpu_stats_gpu_fan_speed_percent", vendor="nvidia")
        # the exporter's own health is there too
        assert value(t, "osprey_gpux_collections_total") >= 1
        assert d.stop() == 0
    finally:
        tmp.cleanup()


def test_failures_never_crash():
    tmp = h.TempDir("gpu")
    try:
        root = tmp.sub("root")
        cfg = os.path.join(tmp.path, "nvml.cfg")
        # no driver (library missing), no DRM class: up, exported as 0, logged
        os.environ["FAKE_NVML_CONFIG"] = cfg
        d = h.Daemon(tmp, "gpu-exporter", ["--sysfs-root", root, "--nvml-lib",
                                           os.path.join(tmp.path, "libnvidia-ml.so.1"),
                                           "--interval", "200ms", "--publish", "off"])
        t = scrape(d)
        assert value(t, "gpu_stats_up", vendor="nvidia") == 0
        assert value(t, "gpu_stats_up", vendor="amd") == 0
        assert value(t, "gpu_stats_gpus", vendor="nvidia") == 0
        assert "NVML library not available" in d.output()
        d.stop()

        dev = make_amd_tree(root)
        _w(tmp.path, "nvml.cfg", NVML_CFG)
        d = start_exporter(tmp, root, cfg, ["--publish", "off"])
        assert value(scrape(d), "gpu_stats_up", vendor="amd") == 1
        # an unreadable sysfs file: a directory where the value should be (EISDIR)
        os.remove(os.path.join(dev, "gpu_busy_percent"))
        os.mkdir(os.path.join(dev, "gpu_busy_percent"))

        def amd_down():
            t = scrape(d)
            return value(t, "gpu_stats_up", vendor="amd") == 0 and t
        t = h.wait_until(amd_down, 10, what="gpu_stats_up{vendor=amd} 0")
        assert value(t, "gpu_stats_collect_errors_total", vendor="amd") >= 1
        assert not series(t, "gpu_stats_gpu_utilization_percent", vendor="amd")
        assert value(t, "gpu_stats_gpu_temperature_celsius", vendor="amd", sensor="edge") == 48
        assert "cannot read an amdgpu sysfs file" in d.output()
        # the card disappears: reported lost under its last identity
        os.rename(os.path.join(root, "sys/class/drm/card0"), os.path.join(root, "gone"))

        def amd_lost():
            t = scrape(d)
            return series(t, "gpu_stats_gpu_up", **AMD_LABELS) == [(AMD_LABELS, 0.0)] and t
        t = h.wait_until(amd_lost, 10, what="AMD GPU lost")
        assert not series(t, "gpu_stats_gpu_temperature_celsius", vendor="amd")
        # NVML_ERROR_GPU_IS_LOST
        _w(tmp.path, "nvml.cfg", NVML_CFG + "gpu0.lost 1\n")

        def nv_lost():
            t = scrape(d)
            return series(t, "gpu_stats_gpu_up", **H200) == [(H200, 0.0)] and t
        t = h.wait_until(nv_lost, 10, what="NVIDIA GPU lost")
        assert value(t, "gpu_stats_up", vendor="nvidia") == 0
        assert not series(t, "gpu_stats_gpu_temperature_celsius", vendor="nvidia")
        assert "NVML_ERROR_GPU_IS_LOST" in d.output()
        # a failing NVML call (not "not supported"): counted, the rest exported
        _w(tmp.path, "nvml.cfg", NVML_CFG + "gpu0.fail.nvmlDeviceGetTemperature 999\n")

        def nv_err():
            t = scrape(d)
            return value(t, "gpu_stats_collect_errors_total", vendor="nvidia") >= 1 and t
        t = h.wait_until(nv_err, 10, what="NVML error counted")
        assert value(t, "gpu_stats_gpu_up", **H200) == 1
        assert value(t, "gpu_stats_gpu_power_draw_watts", **H200) == 512.345
        assert d.proc.alive()
        st, _, _ = h.http("GET", d.url + "/ready")
        assert st == 200
        assert d.stop() == 0
    finally:
        tmp.cleanup()


def test_published_equals_scraped():
    c = h.Cluster("gpu")
    try:
        root, cfg = fixture(c.tmp)
        spool = c.tmp.sub("gpu-spool")
        d = start_exporter(c.tmp, root, cfg, [
            "--interval", "1s", "--store-ingest", "tcp://127.0.0.1:%d" % c.store.ingest_port,
            "--store-ack", "tcp://127.0.0.1:%d" % c.store.ack_port, "--spool-dir", spool])
        c.others.append(d)
        c.collector("""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gpu
    static_configs:
      - targets: ["127.0.0.1:%d"]
""" % d.port)
        q = '{__name__=~"gpu_stats_gpu_.+",job="%s"}'

        def both():
            a = c.store.query(q % "gpu")["result"]
            b = c.store.query(q % "gpu-exporter")["result"]
            return len(a) >= 40 and len(a) == len(b) and (a, b)
        scraped, published = h.wait_until(both, 60, what="both paths in the store")

        def key(s):
            return tuple(sorted((k, v) for k, v in s["metric"].items()
                                if k not in ("job", "instance")))
        a = {key(s): float(s["value"][1]) for s in scraped}
        b = {key(s): float(s["value"][1]) for s in published}
        assert a == b, set(a.items()) ^ set(b.items())
        temp = c.store.query('gpu_stats_gpu_temperature_celsius{job="gpu-exporter",'
                             'vendor="amd",sensor="junction"}')["result"]
        assert len(temp) == 1 and float(temp[0]["value"][1]) == 63, temp
        assert temp[0]["metric"]["instance"] == os.uname().nodename
        # the alerting expressions of the issue work on the stored values
        hot = c.store.query('max by (uuid) (gpu_stats_gpu_temperature_celsius'
                            '{job="gpu-exporter"}) > 80')["result"]
        assert [s["metric"]["uuid"] for s in hot] == [H200["uuid"]], hot
        busy = c.store.query('gpu_stats_gpu_utilization_percent{job="gpu"} > 90')["result"]
        assert busy == [], busy
        # the producer got its acks
        h.wait_until(lambda: value(scrape(d), "osprey_bus_acked_batches_total") >= 1, 30,
                     what="acks from the store")
        d.proc.signal(signal.SIGTERM)
        for _ in range(100):
            if not d.proc.alive():
                break
            time.sleep(0.1)
        assert not d.proc.alive() and d.proc.p.returncode == 0
        assert "all batches acked" in d.output()
    finally:
        c.close()


def test_check_config_and_reload():
    tmp = h.TempDir("gpu")
    try:
        path = os.path.join(h.SRC, "deploy", "local", "gpu-exporter.yml")
        import subprocess
        r = subprocess.run([os.path.join(h.BIN, "osprey-gpu-exporter"), "-c", path,
                            "--check-config"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, (r.stdout, r.stderr)
        root, cfg = fixture(tmp)
        conf = os.path.join(tmp.path, "gpu.yml")
        _w(tmp.path, "gpu.yml", "publish: false\nprocesses: true\n")
        d = start_exporter(tmp, root, cfg, ["-c", conf])
        assert series(scrape(d), "gpu_stats_gpu_process_memory_usage_bytes")
        _w(tmp.path, "gpu.yml", "publish: false\nprocesses: false\n")
        st, _, body = h.http("POST", d.url + "/-/reload")
        assert st == 200, body
        h.wait_until(lambda: not series(scrape(d), "gpu_stats_gpu_process_memory_usage_bytes"),
                     10, what="processes off after reload")
        _w(tmp.path, "gpu.yml", "interval: nonsense\n")
        st, _, body = h.http("POST", d.url + "/-/reload")
        assert st == 500 and b"interval" in body, (st, body)
        assert d.proc.alive()
        assert d.stop() == 0
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    h.run_tests([test_metrics_values_units_labels, test_failures_never_crash,
                 test_published_equals_scraped, test_check_config_and_reload])
