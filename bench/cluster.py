#!/usr/bin/env python3
"""Cluster benchmarks (issue 4): rsd reconciliation after kill -9 + restart,
and node-loss detection + rescheduling, with 10 real rs-agent processes.

(a) reconcile: N instances (`sleep 3600`, pinned round-robin to n1..n10
    with a manifest's `node:`), then per run: SIGKILL rsd, start it again
    on the same db and endpoints, and time from that start to
      - ready:     rsd's --ready-fd line (table loaded, sockets bound),
      - nodes:     every node "up" again in `rsctl nodes` (each node's Hello
                   reconciled),
      - running:   every instance "running" in `rsctl status --json` with
                   the pid it had before the kill (no service restarted).
    The same cluster serves every run.
(b) node loss: rsd --node-ttl 2, N unpinned instances spread over the 10
    nodes; per run (a fresh cluster each run): SIGSTOP the agent with the
    most instances and time until `rsctl nodes` says it is lost and until
    every instance it ran is "running" on another node. The floor is the
    TTL (2 s) less the age of the node's last beat (agents beat every 1 s),
    and rsd checks it once per 1 s period: detection falls in TTL-1 s ..
    TTL+1 s. A random 0-1 s pause before each SIGSTOP spreads the runs
    over those phases.
(cpu) rsd's CPU time per 1 s period with the cluster idle (all its threads,
    /proc/PID/task/*/schedstat over --idle-s seconds), with N instances and
    with 0.

Prints medians (and min/max) per measurement; --json OUT keeps every run.
Every process is started under this process (a child subreaper) and
stopped by pid; nothing is looked up by name.

Usage: bench/cluster.py [--n 1000] [--loss-n 100 1000] [--runs 5]
                        [--nodes 10] [--idle-s 10] [--only reconcile,loss,cpu]
                        [--json OUT] [--keep]
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402

POLL_S = 0.02


def cpu_ms(pid):
    """CPU time of every thread of pid so far (rsd and its ZeroMQ I/O
    threads), ms, from the scheduler's ns counters."""
    ns = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return ns / 1e6


class Cluster:
    """rsd + `nodes` rs-agents (n1..nN), state in tmp."""

    def __init__(self, tmp, nodes, ttl=None, build=None):
        self.tmp = tmp
        self.bin = common.binaries(build)
        for k, v in self.bin.items():
            if not os.access(v, os.X_OK):
                raise SystemExit(f"{k} not found at {v} (build rs, or set RS_BUILD)")
        self.nodes = [f"n{i}" for i in range(1, nodes + 1)]
        self.ttl = ttl
        self.rsd = None
        self.agents = {}
        self.control = "tcp://127.0.0.1:*"
        self.agents_ep = "tcp://127.0.0.1:*"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        self.cred = self.token = None   # rsd writes them beside rs.db

    def start_rsd(self):
        """Starts rsd (on the endpoints of the previous one, if any) and
        returns the seconds until its ready line."""
        r, w = os.pipe()
        args = [self.bin["rsd"], "--db", os.path.join(self.tmp, "rs.db"),
                "--agents", self.agents_ep, "--control", self.control,
                "--ready-fd", str(w)]
        if self.ttl:
            args += ["--node-ttl", str(self.ttl)]
        t0 = time.monotonic()
        self.rsd = subprocess.Popen(
            args, pass_fds=(w,), stdin=subprocess.DEVNULL, env=self.env,
            stdout=open(os.path.join(self.tmp, "rsd.log"), "ab"), stderr=subprocess.STDOUT)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            line = f.readline()
        ready = time.monotonic() - t0
        kv = dict(x.split("=", 1) for x in line.decode().split())
        if "control" not in kv:
            raise RuntimeError("rsd did not get ready")
        self.control, self.agents_ep = kv["control"], kv["agents"]
        self.cred, self.token = common.wait_keys(self.tmp)
        self.rsd_t0 = t0
        return ready

    def start(self):
        os.makedirs(self.tmp, exist_ok=True)
        self.start_rsd()
        for n in self.nodes:
            sd = os.path.join(self.tmp, n)
            os.makedirs(sd, exist_ok=True)
            self.agents[n] = subprocess.Popen(
                [self.bin["agent"], "--node", n, "--rsd", self.agents_ep, "--state-dir", sd,
                 "--token-file", self.token],
                stdin=subprocess.DEVNULL, env=self.env,
                stdout=open(os.path.join(self.tmp, f"agent-{n}.log"), "ab"),
                stderr=subprocess.STDOUT)
        self.wait(lambda: self.nodes_up() == len(self.nodes), 20, "nodes up")
        return self

    def ctl(self, *args, timeout=600):
        p = subprocess.run([self.bin["rsctl"], "-s", self.control, "--cred", self.cred, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, env=self.env)
        return p.returncode, p.stdout, p.stderr

    def jctl(self, *args):
        rc, out, _ = self.ctl("--json", *args, timeout=30)
        return json.loads(out) if rc == 0 else None

    def nodes_up(self, which=None):
        j = self.jctl("nodes")
        if not j:
            return -1
        return sum(1 for n in j["nodes"] if n["state"] == "up" and
                   (which is None or n["name"] in which))

    def node_state(self, name):
        j = self.jctl("nodes") or {"nodes": []}
        return next((n["state"] for n in j["nodes"] if n["name"] == name), None)

    def instances(self):
        """{id: (label, node, state, pid)} from status --json, or None."""
        j = self.jctl("status")
        if j is None:
            return None
        return {i["id"]: (s["label"], i.get("node"), i.get("state"), i.get("pid", 0))
                for s in j["services"] for i in s.get("instances", [])}

    def wait(self, cond, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return time.monotonic()
            time.sleep(POLL_S)
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}")

    def apply(self, n, pinned):
        """n services `sleep 3600`, pinned round-robin or placed by rsd."""
        path = os.path.join(self.tmp, "bench.yaml")
        with open(path, "w") as f:
            f.write("services:\n")
            for i in range(n):
                f.write(f"  - label: s{i:04d}\n    command: [/bin/sleep, '3600']\n"
                        "    notify: simple\n    settle: 0.1\n")
                if pinned:
                    f.write(f"    node: {self.nodes[i % len(self.nodes)]}\n")
        t0 = time.monotonic()
        rc, out, err = self.ctl("apply", path, "--timeout", "600")
        if rc != 0:
            raise RuntimeError(f"apply: rc {rc}: {err.strip()}")
        self.wait(lambda: self.all_running(n), 120, f"{n} running")
        return time.monotonic() - t0

    def all_running(self, n):
        ins = self.instances()
        return ins is not None and len(ins) == n and \
            all(st == "running" and pid > 0 for _, _, st, pid in ins.values())

    def kill_rsd(self):
        common.kill_pid(self.rsd.pid, signal.SIGKILL)
        self.rsd.wait(10)

    def stop(self):
        for p in self.agents.values():
            common.kill_pid(p.pid, signal.SIGCONT)
        for p in self.agents.values():
            common.stop_proc(p, timeout=15)
        common.stop_proc(self.rsd)


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def fmt(name, xs, unit="s"):
    s = summary(xs)
    return (f"  {name:<34} median {s['median']:7.3f} {unit}  (min {s['min']:.3f}, "
            f"max {s['max']:.3f}, {len(xs)} runs)")


def idle_cpu(cl, seconds):
    """rsd CPU ms per 1 s period over `seconds` of an idle cluster."""
    time.sleep(1.5)   # let the last events settle (idle means idle)
    c0, t0 = cpu_ms(cl.rsd.pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = cpu_ms(cl.rsd.pid), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def status_cost(cl, k=10):
    """Wall time of `rsctl --json status` (rsctl start, rsd's answer,
    transfer) and rsd's CPU per status answer, medians of k."""
    wall, cpu = [], []
    for _ in range(k):
        c0, t0 = cpu_ms(cl.rsd.pid), time.monotonic()
        cl.instances()
        wall.append(time.monotonic() - t0)
        cpu.append(cpu_ms(cl.rsd.pid) - c0)
    return {"wall_s": statistics.median(wall), "rsd_cpu_ms": statistics.median(cpu)}


def bench_reconcile(tmp, n, nodes, runs, idle_s, out):
    cl = Cluster(os.path.join(tmp, "a"), nodes, ttl=2).start()
    try:
        if "cpu" in out["want"]:
            out["cpu_idle_0"] = idle_cpu(cl, idle_s)
            log(f"rsd idle with 0 instances: {out['cpu_idle_0']:.3f} ms CPU per period")
        setup = cl.apply(n, pinned=True)
        log(f"(a) {n} pinned instances on {nodes} nodes running after {setup:.1f} s")
        out["apply_s"] = setup
        if "cpu" in out["want"]:
            out["cpu_idle_n"] = idle_cpu(cl, idle_s)
            log(f"rsd idle with {n} instances: {out['cpu_idle_n']:.3f} ms CPU per period")
            out["status"] = status_cost(cl)
        if "reconcile" not in out["want"]:
            return
        res = {"ready": [], "nodes": [], "running": [], "rsd_cpu_ms": []}
        for run in range(runs):
            before = cl.instances()
            cl.kill_rsd()
            ready = cl.start_rsd()
            t0 = cl.rsd_t0
            t_nodes = cl.wait(lambda: cl.nodes_up() == nodes, 60, "nodes up") - t0
            cpu = cpu_ms(cl.rsd.pid)   # loading + every Hello reconciled

            def back():
                now = cl.instances()
                return now is not None and len(now) == n and all(
                    now[i][2] == "running" and now[i][3] == before[i][3] for i in before)
            t_run = cl.wait(back, 60, "all running with their pids") - t0
            now = cl.instances()
            changed = sum(1 for i in before if now[i][3] != before[i][3])
            dead = sum(1 for i in before if not os.path.exists(f"/proc/{before[i][3]}"))
            if changed or dead:
                raise RuntimeError(f"run {run}: {changed} pids changed, {dead} services dead")
            res["ready"].append(ready)
            res["nodes"].append(t_nodes)
            res["running"].append(max(t_nodes, t_run))
            res["rsd_cpu_ms"].append(cpu)
            log(f"  run {run + 1}: ready {ready:.3f} s, nodes {t_nodes:.3f} s, "
                f"all running {max(t_nodes, t_run):.3f} s, rsd CPU {cpu:.0f} ms, "
                f"0 of {n} pids changed")
            time.sleep(1)   # one agent beat: every agent has been acked
        out["reconcile"] = {k: summary(v) for k, v in res.items()}
        print(f"(a) rsd kill -9 + restart, {n} instances on {nodes} agents:")
        print(fmt("restart -> rsd ready (table loaded)", res["ready"]))
        print(fmt("restart -> every node reconciled", res["nodes"]))
        print(fmt("restart -> all running, same pids", res["running"]))
        print(fmt("rsd CPU until every node reconciled", res["rsd_cpu_ms"], "ms"))
    finally:
        cl.stop()


def bench_loss(tmp, n, nodes, runs, out):
    res = {"lost": [], "moved": [], "resched": [], "moved_n": []}
    for run in range(runs):
        cl = Cluster(os.path.join(tmp, f"b{n}-{run}"), nodes, ttl=2).start()
        try:
            cl.apply(n, pinned=False)
            ins = cl.instances()
            per = {}
            for i, (_, node, _, _) in ins.items():
                per.setdefault(node, []).append(i)
            victim = max(sorted(per), key=lambda k: len(per[k]))
            ids = per[victim]
            agent = cl.agents[victim]
            # a random phase against the 1 s beats and the 1 s period, so
            # the runs do not all hit the same point of both
            time.sleep(random.uniform(0, 1))
            t0 = time.monotonic()
            common.kill_pid(agent.pid, signal.SIGSTOP)
            t_lost = None

            def moved():
                nonlocal t_lost
                if t_lost is None and cl.node_state(victim) == "lost":
                    t_lost = time.monotonic() - t0
                now = cl.instances()
                return now is not None and all(
                    now[i][1] != victim and now[i][2] == "running" for i in ids)
            t_moved = cl.wait(moved, 60, "rescheduled") - t0
            if t_lost is None:
                t_lost = t_moved
            res["lost"].append(t_lost)
            res["moved"].append(t_moved)
            res["resched"].append(t_moved - t_lost)
            res["moved_n"].append(len(ids))
            log(f"  N={n} run {run + 1}: {victim} ({len(ids)} instances) stopped; lost at "
                f"{t_lost:.3f} s, all running elsewhere at {t_moved:.3f} s")
            common.kill_pid(agent.pid, signal.SIGCONT)
        finally:
            cl.stop()
            common.kill_leftovers(2)
            shutil.rmtree(cl.tmp, ignore_errors=True)
    out[f"loss_{n}"] = {k: summary(v) for k, v in res.items()}
    print(f"(b) node loss (agent SIGSTOP), TTL 2 s, {n} instances on {nodes} agents "
          f"({int(statistics.median(res['moved_n']))} on the lost node):")
    print("  floor: the TTL, 2 s, less the time since the node's last beat (0-1 s),"
          " plus up to one 1 s period")
    print(fmt("SIGSTOP -> node lost", res["lost"]))
    print(fmt("SIGSTOP -> its instances running", res["moved"]))
    print(fmt("node lost -> its instances running", res["resched"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="instances for (a) and cpu")
    ap.add_argument("--loss-n", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--idle-s", type=float, default=10)
    ap.add_argument("--only", default="reconcile,loss,cpu")
    ap.add_argument("--json")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-cluster-", dir=a.tmp)
    out = {"want": a.only.split(","), "n": a.n, "nodes": a.nodes,
           "load": open("/proc/loadavg").read().split()[:3]}
    rc = 0
    try:
        print(f"machine: nproc {os.cpu_count()}, load {' '.join(out['load'])}")
        if "reconcile" in out["want"] or "cpu" in out["want"]:
            bench_reconcile(tmp, a.n, a.nodes, a.runs, a.idle_s, out)
            if "cpu" in out["want"]:
                print(f"(cpu) rsd idle, CPU per 1 s period: {out['cpu_idle_0']:.3f} ms with 0 "
                      f"instances, {out['cpu_idle_n']:.3f} ms with {a.n}")
                print(f"(cpu) `rsctl --json status` with {a.n} instances: "
                      f"{out['status']['wall_s'] * 1000:.1f} ms wall, rsd CPU "
                      f"{out['status']['rsd_cpu_ms']:.2f} ms per answer (medians of 10)")
                print(f"(setup) apply of {a.n} services -> all running: {out['apply_s']:.1f} s")
        if "loss" in out["want"]:
            for n in a.loss_n:
                bench_loss(tmp, n, a.nodes, a.runs, out)
    except Exception as e:  # report, clean up, fail
        log(f"FAILED: {e}")
        rc = 1
    finally:
        left = common.kill_leftovers(5)
        if left:
            log(f"killed {len(left)} leftover processes")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
