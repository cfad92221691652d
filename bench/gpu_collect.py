"""bench/gpu_collect.py - cost of one GPU collection cycle on fake sources: the
fake amdgpu sysfs tree of tests/integration/test_gpu.py (an RX 7800 XT, copied
to N cards) and the fake libnvidia-ml of the test suite. Runs
`osprey-gpu-exporter --bench-collect CYCLES` per scenario and prints us per
cycle and per GPU (goal: well under 1 ms per GPU). Not a test; see README.md."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC, "tests", "support"))
import test_gpu  # noqa: E402 - the fake tree and NVML config live with the test


def run(exe, root, lib, cfg_path, nvidia, amd, cycles, nvml_cfg):
    conf = os.path.join(root, "..", "bench.yml")
    with open(conf, "w") as f:
        f.write("nvidia: %s\namd: %s\npublish: false\npcie_throughput: true\n"
                "processes: true\nlog_level: error\n" % (str(nvidia).lower(), str(amd).lower()))
    with open(cfg_path, "w") as f:
        f.write(nvml_cfg)
    env = dict(os.environ, FAKE_NVML_CONFIG=cfg_path)
    r = subprocess.run([exe, "-c", conf, "--sysfs-root", root, "--nvml-lib", lib,
                        "--bench-collect", str(cycles)], capture_output=True, text=True,
                       env=env, check=True)
    lines = r.stdout.strip().splitlines()
    return lines[0], json.loads(lines[-1])


def nvml_cfg(n):
    lines = test_gpu.NVML_CFG.replace("count 1", "count %d" % n).splitlines()
    out = [ln for ln in lines if not ln.startswith("gpu0.")]
    for i in range(n):
        out += [ln.replace("gpu0.", "gpu%d." % i, 1) for ln in lines if ln.startswith("gpu0.")]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"), help="build directory")
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--gpus", type=int, default=4, help="GPUs per vendor in the mixed run")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bin", "osprey-gpu-exporter")
    lib = os.path.join(a.build, "lib", "test", "libfake_nvml.so")
    for p in (exe, lib):
        if not os.path.exists(p):
            sys.exit("missing %s: build it first (cmake --build %s)" % (p, a.build))
    results = {}
    with tempfile.TemporaryDirectory(prefix="gpubench-") as tmp:
        one = os.path.join(tmp, "one")
        many = os.path.join(tmp, "many")
        test_gpu.make_amd_tree(one)
        for i in range(a.gpus):
            test_gpu.make_amd_tree(many, card=i, slot="0000:%02x:00.0" % (3 + i))
        cfg = os.path.join(tmp, "nvml.cfg")
        for name, root, nv, amd, n in (("amd_1", one, False, True, 1),
                                       ("nvidia_1", one, True, False, 1),
                                       ("mixed_%d" % (2 * a.gpus), many, True, True, a.gpus)):
            line, j = run(exe, root, lib, cfg, nv, amd, a.cycles, nvml_cfg(n))
            results[name] = j
            print("%-9s %s" % (name, line.split(": ", 1)[1]))
    out = os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "gpu_collect.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print("results:", path)


if __name__ == "__main__":
    main()
