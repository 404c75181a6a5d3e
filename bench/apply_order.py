#!/usr/bin/env python3
"""What ordering an apply's services costs rsd: a base build against a new.

rsd orders an apply's added services so that each starts after the
services of the apply it depends on. Up to 0.3.0 it did that in rounds
over every pair of services (strcmp of labels), inside the loop turn that
received the apply: a manifest of RS_APPLY_MAX (1,024) services chained
last-first (s1024 depends on s1023 ... s1 depends on nothing, listed in
that order) takes one round per link. The new order is Kahn's algorithm
over the request's dependencies.

Each build gets a fresh rsd with no agent: the apply commits its 1,024
services, orders them, and its first start finds no node (an error
reply, the same in both builds), so rsctl's wall time is the turn that
ordered them plus rsctl's own manifest check and process start (the same
binary-independent work in both). Two manifests: the chain, and 1,024
services with no dependency. Prints the median and the base/new ratio.
Then rsd's CPU over --idle-s seconds with those 1,024 services wanted up
and no node to take them (each period tries them again; up to 23ad326
every turn of the loop did).

Usage: bench/apply_order.py --base BUILD --new BUILD [--services 1024]
                            [--runs 5] [--idle-s 10] [--tmp DIR]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def manifest(path, n, chain):
    with open(path, "w") as f:
        f.write("services:\n")
        for i in range(n, 0, -1):
            f.write(f"  - label: s{i:04d}\n    command: [/bin/sleep, '3600']\n")
            if chain and i > 1:
                f.write(f"    depends_on: [s{i - 1:04d}]\n")


def start_rsd(build, tmp):
    st = os.path.join(tmp, "rs")
    os.makedirs(st, exist_ok=True)
    r, w = os.pipe()
    rsd = subprocess.Popen(
        [common.binaries(build)["rsd"], "--db", os.path.join(st, "rs.db"),
         "--agents", "tcp://127.0.0.1:*", "--control", "tcp://127.0.0.1:*",
         "--ready-fd", str(w)],
        pass_fds=(w,), stdin=subprocess.DEVNULL,
        stdout=open(os.path.join(st, "rsd.log"), "ab"), stderr=subprocess.STDOUT)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        line = f.readline()
    kv = dict(x.split("=", 1) for x in line.decode().split())
    if "control" not in kv:
        raise SystemExit(f"rsd of {build} did not get ready")
    cred, _ = common.wait_keys(st)
    return rsd, kv["control"], cred


def time_apply(build, control, cred, path, runs):
    argv = [common.binaries(build)["rsctl"], "-s", control, "--cred", cred,
            "apply", path, "--timeout", "120"]
    out = []
    for _ in range(runs):
        t0 = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        out.append((time.monotonic() - t0) * 1e3)
        if "no node" not in p.stdout + p.stderr:
            raise SystemExit(f"unexpected answer: rc {p.returncode}: {p.stdout} {p.stderr}")
    return statistics.median(out)


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--services", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--tmp")
    a = ap.parse_args()
    common.set_subreaper()
    tmp = a.tmp or tempfile.mkdtemp(prefix="rs-bench-apply-order-")
    files = {}
    for kind in ("chain", "flat"):
        files[kind] = os.path.join(tmp, f"{kind}.yaml")
        manifest(files[kind], a.services, kind == "chain")
    res = {}
    try:
        for name, build in (("base", a.base), ("new", a.new)):
            d = os.path.join(tmp, name)
            rsd, control, cred = start_rsd(build, d)
            try:
                for kind in ("chain", "flat"):   # flat last: then every one waits
                    res[name, kind] = time_apply(build, control, cred, files[kind], a.runs)
                c0, t0 = cpu_s(rsd.pid), time.monotonic()
                time.sleep(a.idle_s)   # the span measured
                res[name, "idle"] = (cpu_s(rsd.pid) - c0) / (time.monotonic() - t0) * 100
            finally:
                common.stop_proc(rsd)
    finally:
        common.kill_leftovers()
    print(f"apply of {a.services} services to rsd with no node, rsctl's wall time, "
          f"median of {a.runs}")
    print(f"{'manifest':<10} {'base ms':>10} {'new ms':>10} {'base/new':>9}")
    for kind in ("flat", "chain"):
        b, n = res["base", kind], res["new", kind]
        print(f"{kind:<10} {b:>10.1f} {n:>10.1f} {b / n:>9.1f}")
    b, n = res["base", "idle"], res["new", "idle"]
    print(f"then {a.services} services wanted up, no node: rsd's CPU over "
          f"{a.idle_s:.0f} s, % of a core")
    print(f"{'':<10} {b:>10.1f} {n:>10.1f} {b / max(n, 0.1):>9.1f}")


if __name__ == "__main__":
    main()
