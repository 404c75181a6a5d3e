#!/usr/bin/env python3
"""rsctl's own start-up: where a one-shot `rsctl ping` / `rsctl status
LABEL` spends its wall time, process start to exit, against baselines
measured in the same run.

One one-node cluster (bench/common.py: rsd + rs-agent, CURVE keys, one
service "web"). Every round runs each command once, in the same order,
so machine noise hits all alike:

  true           /bin/true: fork + exec + exit, the floor of any process
  empty          `int main(void) { return 0; }`, dynamically linked (libc)
  empty+libzmq   the same, linked against libzmq only (--no-as-needed):
                 what loading libzmq and its dependency tree costs
  version        `rsctl --version`: rsctl's libraries, relocations and
                 constructors, no context, no socket
  ping           `rsctl ping`: + credential, ZeroMQ context (2 threads),
                 TCP connect, ZMTP greeting, CURVE handshake (+ ZAP at
                 rsd), request, reply, teardown
  status         `rsctl status web`: the same with a real answer

Usage: bench/ctl.py [--n 200] [--json OUT] [--rsctl PATH]
  --rsctl: measure another rsctl binary (e.g. an older build) against
           the same cluster, as an extra row "ping (other)".
Prints wall p50 and p99 and CPU p50 (user + system of every thread, from
the children's rusage; less sensitive to a busy machine than wall time,
but at the kernel's tick accounting resolution) per row, in ms. Speed is never asserted anywhere.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402
from restart import pct  # noqa: E402


def build_empties(tmp, cc):
    src = os.path.join(tmp, "empty.c")
    with open(src, "w") as f:
        f.write("int main(void) { return 0; }\n")
    empty = os.path.join(tmp, "empty")
    zmq = os.path.join(tmp, "empty_zmq")
    subprocess.run([cc, "-O2", "-o", empty, src], check=True)
    subprocess.run([cc, "-O2", "-o", zmq, src, "-Wl,--no-as-needed", "-lzmq"],
                   check=True)
    return empty, zmq


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wall_ms(argv):
    """Wall ms and CPU ms (user + system, every thread) of one run."""
    c = cpu_children()
    t = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    ms = (time.perf_counter() - t) * 1000
    return ms, (cpu_children() - c) * 1000, p.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--json")
    ap.add_argument("--rsctl", help="another rsctl to compare")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-ctl-", dir="/dev/shm")
    cl = None
    try:
        empty, zmq = build_empties(tmp, os.environ.get("CC", "gcc"))
        # a host of its own (the keeper's name, docs/design.md "One
        # keeper per node"): another cluster's n1 on this machine is not ours
        cl = common.Cluster(tmp, env=dict(os.environ, RS_TEST_HOST=tmp)).start()
        cl.ctl("up", "web", "--settle", "0.1", "--", "/bin/sleep", "1000000")
        ctl = cl.ctl_argv()
        rows = {
            "true": ["/bin/true"],
            "empty": [empty],
            "empty+libzmq": [zmq],
            "version": [ctl[0], "--version"],
            "ping": ctl + ["ping"],
            "status": ctl + ["status", "web"],
        }
        if a.rsctl:
            rows["ping (other)"] = [a.rsctl] + ctl[1:] + ["ping"]
        res = {k: [] for k in rows}
        cpu = {k: [] for k in rows}
        fails = 0
        for i in range(a.n):
            for k, argv in rows.items():
                ms, cms, rc = wall_ms(argv)
                fails += rc != 0
                res[k].append(ms)
                cpu[k].append(cms)
        load = os.getloadavg()[0]
        print(f"{a.n} runs each, interleaved; load average {load:.1f}; "
              f"{os.cpu_count()} CPUs")
        print(f"{'':14} {'wall p50':>9} {'wall p99':>9} {'CPU p50':>9}   (ms)")
        for k, v in res.items():
            print(f"{k:14} {pct(v, 0.5):9.2f} {pct(v, 0.99):9.2f} {pct(cpu[k], 0.5):9.2f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"n": a.n, "load": load, "ms": res, "cpu_ms": cpu}, f)
        if fails:
            log(f"{fails} runs exited non-zero")
            return 1
        return 0
    finally:
        if cl:
            cl.stop()
        common.kill_leftovers(1.0)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
