#!/usr/bin/env python3
"""rs-agent memory with N services (N = 1, 100, 1000 by default).

For each N: a fresh rsd + one rs-agent (state in a temp dir), then
`rsctl up svcNNN --no-block --notify simple --settle 0.1 -- bench/svc` for
every service (4 rsctl at a time), wait until `rsctl --json status` shows
all N running, settle 2 s, and read Pss, Rss and Private_Clean+Private_Dirty
(USS) of the agent from /proc/PID/smaps_rollup (rsd's too, for information).
Then SIGTERM the agent (it stops its services), wait, SIGTERM rsd, and
SIGKILL by pid whatever is left.

Usage: bench/memory.py [--n 1 100 1000] [--settle 2] [--json OUT]
"""
import argparse
import concurrent.futures as cf
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402
from restart import machine  # noqa: E402


def count_running(st):
    n = 0
    for s in st["services"]:
        for i in s.get("instances", []):
            if i.get("state") == "running":
                n += 1
    return n


def one(n, tmp, svc, settle, up_timeout):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    cl = common.Cluster(tmp, env=env).start()
    row = {"n": n}
    try:
        t0 = time.monotonic()

        def up(i):
            return cl.ctl("up", f"svc{i:03d}", "--no-block", "--notify", "simple",
                          "--settle", "0.1", "--", svc, "--name", f"svc{i:03d}")
        with cf.ThreadPoolExecutor(4) as ex:
            list(ex.map(up, range(n)))
        row["up_sent_s"] = time.monotonic() - t0
        deadline = time.monotonic() + up_timeout
        while True:
            running = count_running(cl.status())
            if running == n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"N={n}: only {running} running after {up_timeout}s")
            if cl.agent.poll() is not None:
                raise RuntimeError(f"N={n}: agent exited {cl.agent.returncode}: "
                                   + cl.read_log("agent.log"))
            time.sleep(0.2)
        row["all_running_s"] = time.monotonic() - t0
        time.sleep(settle)
        a, r = cl.agent.pid, cl.rsd.pid
        row["agent"] = common.smaps_rollup(a)
        row["agent"]["PssSolo"], row["agent_rss_by_file"] = common.pss_solo(a)
        row["agent"]["VmHWM"] = int(common.status_field(a, "VmHWM"))
        row["agent"]["fds"] = len(os.listdir(f"/proc/{a}/fd"))
        row["rsd"] = common.smaps_rollup(r)
        # the agent is two processes: its keeper (the services' parent) too
        with open(os.path.join(tmp, "rs", "agent", "run", "keeper.pid")) as f:
            k = int(f.read().strip())
        row["keeper"] = common.smaps_rollup(k)
        row["keeper"]["PssSolo"], _ = common.pss_solo(k)
        row["svc_procs"] = sum(1 for p in common.descendants()
                               if p not in (a, r, k))
    finally:
        t1 = time.monotonic()
        row["agent_exit"], row["rsd_exit"] = cl.stop()
        row["stop_s"] = time.monotonic() - t1
        row["leftovers"] = common.kill_leftovers(wait_s=2)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 100, 1000])
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--up-timeout", type=float, default=300.0)
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--json", metavar="OUT")
    a = ap.parse_args()

    common.set_subreaper()

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = tempfile.mkdtemp(prefix="rs-bench-memory-", dir=a.tmp)
    ok = True
    rows = []
    try:
        svc, _ = common.build_tools(tmp)
        for n in a.n:
            sub = os.path.join(tmp, f"n{n}")
            os.mkdir(sub)
            log(f"N={n} ...")
            row = one(n, sub, svc, a.settle, a.up_timeout)
            if row["leftovers"]:
                log(f"N={n}: leftovers killed by pid after stop: {row['leftovers']}")
                ok = False
            if row["svc_procs"] != n:
                log(f"N={n}: {row['svc_procs']} service processes, expected {n}")
                ok = False
            rows.append(row)
    except (Exception, KeyboardInterrupt) as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        ok = False
    finally:
        common.kill_leftovers()
        shutil.rmtree(tmp, ignore_errors=True)

    m = machine()
    mib = 1024.0
    print(f"# rs-agent memory  {m['date']}  nproc={m['nproc']}  kernel={m['kernel']}  "
          f"load={m['load']}")
    print(f"{'N':>5} {'agent PSS':>10} {'RSS':>8} {'USS':>8} {'PSS-solo':>9} {'HWM':>8} "
          f"{'fds':>5} {'keeper PSS':>10} {'k-solo':>7} {'rsd PSS':>8} {'up+running s':>13} "
          f"{'stop s':>7}   (MiB)")
    for r in rows:
        ag, kp = r["agent"], r["keeper"]
        print(f"{r['n']:>5} {ag['Pss'] / mib:10.2f} {ag['Rss'] / mib:8.2f} "
              f"{ag['Private'] / mib:8.2f} {ag['PssSolo'] / mib:9.2f} {ag['VmHWM'] / mib:8.2f} "
              f"{ag['fds']:>5} {kp['Pss'] / mib:10.2f} {kp['PssSolo'] / mib:7.2f} "
              f"{r['rsd']['Pss'] / mib:8.2f} {r['all_running_s']:13.1f} {r['stop_s']:7.2f}")
    if len(rows) >= 2:
        a0, a1 = rows[0], rows[-1]
        per = (a1["agent"]["Pss"] - a0["agent"]["Pss"]) / max(1, a1["n"] - a0["n"])
        print(f"agent PSS per extra service: {per:.1f} KiB")
    for r in rows:
        if r["n"] == 100:
            # engine + keeper: what the agent costs the host
            pss = (r["agent"]["Pss"] + r["keeper"]["Pss"]) / mib
            solo = (r["agent"]["PssSolo"] + r["keeper"]["PssSolo"]) / mib
            print(f"target: agent (engine + keeper) PSS <= 4 MiB at 100 services: {pss:.2f} MiB -> "
                  f"{'met' if pss <= 4 else 'NOT met'} here; pessimistic PSS-solo "
                  f"{solo:.2f} MiB -> {'met' if solo <= 4 else 'NOT met'}")
    print("PSS-solo: the PSS if no other process mapped the agent's files but glibc "
          "(every mapping at its RSS, libc/libm/ld.so at their PSS)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": m, "args": vars(a), "rows": rows}, f, indent=1)
        print(f"raw: {a.json}")
    if not ok or len(rows) != len(a.n):
        print("FAILED (see stderr)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
