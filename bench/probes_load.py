#!/usr/bin/env python3
"""The agent's cost of HTTP probes at scale (issue 15), in one run.

One rsd and one rs-agent (bench/common.Cluster: secure path, cgroups where
the host allows). N services (bench/svc: a process that pauses) plus one
service `bench` (bench/svc stamping its starts into a FIFO). One HTTP
server for all the probes (bench/httpok.c: epoll, answers 200 and closes;
N probes behind one server, not one server per service).

Phases, in this order, in the same cluster:
  off   the N services without probes
  on    the same manifest with an http liveness probe on each, every
        --period s (applied in place: the processes keep running)
  off2  the probes removed again (a check that nothing else drifted)
In each phase, after --settle s: the agent's CPU (utime+stime of rs-agent
and of its rs-keeper, /proc/PID/stat) over --window s, then --rounds
restarts of `bench` as bench/restart.py measures them (SIGKILL through a
pidfd -> the next start stamp of a new pid).

Prints per phase the CPU (% of one core), the restart latency median and
p90, the probes done in the window (rs_probe_duration_seconds_count) and
failures; then on/off ratios. --json OUT writes it all.

Usage: bench/probes_load.py [--n 1000] [--period 1] [--window 20]
                            [--rounds 30] [--settle 5] [--kind http|exec]
                            [--json OUT]
--kind exec: the probes run /bin/true through the agent's keeper (a
spawn each, in a cgroup of its own where the host has them).
RS_BUILD selects the build (default build-bench, a Release build).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402
from restart import Stamps, pct  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12])   # utime, stime (fields 14, 15)


def keeper_pid(state):
    with open(os.path.join(state, "run", "keeper.pid")) as f:
        return int(f.read().split()[0])


def metrics(ep):
    out = {}
    with urllib.request.urlopen(f"http://{ep}/metrics", timeout=5) as r:
        for ln in r.read().decode().splitlines():
            if ln.startswith("rs_probe_duration_seconds_count"):
                out["probes"] = float(ln.split()[1])
            elif ln.startswith("rs_probe_failures_total"):
                out["failures"] = out.get("failures", 0.0) + float(ln.split()[1])
    return out


def manifest(path, n, node, svc, port, period, probes, stamp, kind="http"):
    with open(path, "w") as f:
        f.write("services:\n")
        f.write(f"  - label: bench\n    node: {node}\n"
                f"    command: [{svc}, --name, bench]\n"
                f"    env: {{BENCH_STAMP: {stamp}, BENCH_READY: '1'}}\n"
                f"    backoff: {{disabled: true}}\n")
        for i in range(n):
            f.write(f"  - label: p{i:04d}\n    node: {node}\n"
                    f"    command: [{svc}, --name, p{i:04d}]\n")
            if probes and kind == "exec":
                f.write("    probes:\n      liveness: {exec: [/bin/true], "
                        "period: %s, timeout: 1, failures: 3}\n" % period)
            elif probes:
                f.write("    probes:\n      liveness: {http: 'http://127.0.0.1:%d/', "
                        "period: %s, timeout: 1, failures: 3}\n" % (port, period))


def running(cl, n):
    st = cl.status()
    return sum(1 for s in st.get("services", []) for i in (s.get("instances") or [])
               if i.get("state") == "running") >= n


def restarts(st, pid, rounds, gap, timeout):
    """rounds SIGKILLs of pid (then of its successor): ms each, last pid."""
    ms = []
    for _ in range(rounds):
        time.sleep(gap)
        pfd = os.pidfd_open(pid)
        try:
            t0 = time.monotonic_ns()
            signal.pidfd_send_signal(pfd, signal.SIGKILL)
        finally:
            os.close(pfd)
        s = st.next("S", timeout, not_pid=pid)
        if s is None:
            raise RuntimeError(f"bench: no restart within {timeout}s of killing {pid}")
        ms.append((s[2] - t0) / 1e6)
        pid = s[1]
    return ms, pid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--period", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--gap", type=float, default=0.2)
    ap.add_argument("--kind", choices=["http", "exec"], default="http",
                    help="exec: each probe runs /bin/true through the keeper")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, state) for a look")
    a = ap.parse_args()
    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-probeload.")
    svc, _ = common.build_tools(tmp)
    httpok = os.path.join(tmp, "httpok")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", httpok,
                    os.path.join(common.HERE, "httpok.c")], check=True)
    srv = subprocess.Popen([httpok], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    port = int(srv.stdout.readline())
    node = f"pload-{os.getpid()}"
    with __import__("socket").socket() as so:   # a free port for its /metrics
        so.bind(("127.0.0.1", 0))
        aep = "127.0.0.1:%d" % so.getsockname()[1]
    cl = common.Cluster(tmp, node=node, agent_args=["--metrics", aep]).start()
    st = Stamps(os.path.join(tmp, "stamp"))
    result = {"n": a.n, "kind": a.kind, "period_s": a.period, "window_s": a.window, "rounds": a.rounds,
              "server": "one bench/httpok (epoll) behind all probes", "phases": {}}
    with open("/proc/loadavg") as f:
        result["loadavg_start"] = " ".join(f.read().split()[:3])
    try:
        mf = os.path.join(tmp, "m.yaml")
        apid = cl.agent.pid
        kpid = keeper_pid(os.path.join(tmp, "rs", "agent"))
        bpid = None   # bench's live pid
        for phase, probes in (("off", False), ("on", True), ("off2", False)):
            manifest(mf, a.n, node, svc, port, a.period, probes, st.path, a.kind)
            t = time.monotonic()
            cl.ctl("apply", mf, "--timeout", "600", timeout=700)
            deadline = time.monotonic() + 600
            while not running(cl, a.n + 1):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{phase}: not all running")
                time.sleep(1)
            log(f"{phase}: applied in {time.monotonic() - t:.1f} s")
            time.sleep(a.settle)
            m0 = metrics(aep)
            c0, k0, t0 = cpu_ticks(apid), cpu_ticks(kpid), time.monotonic()
            time.sleep(a.window)
            c1, k1, t1 = cpu_ticks(apid), cpu_ticks(kpid), time.monotonic()
            m1 = metrics(aep)
            if bpid is None:
                first = st.next("S", 30)
                if first is None:
                    raise RuntimeError("bench: no start stamp")
                bpid = first[1]
            ms, bpid = restarts(st, bpid, a.rounds, a.gap, 10)
            ph = {
                "agent_cpu_pct": 100.0 * (c1 - c0) / HZ / (t1 - t0),
                "keeper_cpu_pct": 100.0 * (k1 - k0) / HZ / (t1 - t0),
                "probes_per_s": (m1.get("probes", 0) - m0.get("probes", 0)) / (t1 - t0),
                "probe_failures": m1.get("failures", 0) - m0.get("failures", 0),
                "restart_ms": {"median": pct(ms, 0.5), "p90": pct(ms, 0.9),
                               "min": min(ms), "max": max(ms), "n": len(ms)},
            }
            result["phases"][phase] = ph
            log(f"{phase}: agent CPU {ph['agent_cpu_pct']:.1f} % of a core, keeper "
                f"{ph['keeper_cpu_pct']:.1f} %, {ph['probes_per_s']:.0f} probes/s, "
                f"{ph['probe_failures']:.0f} failures; restart median "
                f"{ph['restart_ms']['median']:.2f} ms p90 {ph['restart_ms']['p90']:.2f} ms")
        with open("/proc/loadavg") as f:
            result["loadavg_end"] = " ".join(f.read().split()[:3])
    finally:
        cl.stop()
        common.stop_proc(srv)
        st.close()
        common.kill_leftovers(wait_s=2)
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    on, off = result["phases"]["on"], result["phases"]["off"]
    result["ratio_on_off"] = {
        "agent_cpu": (on["agent_cpu_pct"] / off["agent_cpu_pct"]
                      if off["agent_cpu_pct"] > 0 else None),
        "restart_median": on["restart_ms"]["median"] / off["restart_ms"]["median"],
        "restart_p90": on["restart_ms"]["p90"] / off["restart_ms"]["p90"],
    }
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
