#!/usr/bin/env python3
"""Crash -> restart latency of rs-agent against a fork/exec/waitpid floor.

Supervisors run side by side, each with one bench/svc service:
  baseline  bench/minisup svc                 (fork + execv + waitpid loop)
  rs        rsd + one rs-agent, `rsctl up bench --no-backoff -- svc`: each
            instance in a cgroup of its own where the host allows it
  rs-nocg   the same with `rs-agent --cgroups=off` (process groups only),
            its own rsd and node (--cgroups both, the default; on / off:
            only one of the two)

svc stamps "S pid ns" (CLOCK_MONOTONIC, first statement of main) into a
FIFO per supervisor.

  kill mode   per round and supervisor: wait for the S stamp, wait --gap-ms,
              open a pidfd on the service, t0 = time.monotonic_ns(), SIGKILL
              through the pidfd; latency = next S stamp - t0. Rounds alternate
              baseline / rs (the order flips every round).
  crash mode  the service exits 1 by itself --crash-ms after its start, after
              stamping "X pid ns"; latency = next S - X. Both supervisors run
              at once (rs's period is 37 ms longer so the two drift apart).

Usage: bench/restart.py [--rounds 50] [--mode kill|crash|both]
                        [--cgroups both|on|off] [--cg-spawn clone3|procs] [--limits]
                        [--json OUT]
--cg-spawn procs: the keeper puts a child in its cgroup by having it write
to cgroup.procs before exec, instead of clone3(CLONE_INTO_CGROUP).
Exit status: 0 if every round restarted in time and nothing was left behind.
"""
import argparse
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402


class Stamps:
    """Reads 'K pid ns' lines from a FIFO, kept open O_RDWR (no EOF)."""

    def __init__(self, path):
        self.path = path
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        self.buf = b""
        self.lines = []

    def _fill(self):
        try:
            while True:
                d = os.read(self.fd, 65536)
                if not d:
                    break
                self.buf += d
        except BlockingIOError:
            pass
        *done, self.buf = self.buf.split(b"\n")
        for ln in done:
            k, pid, ns = ln.decode().split()
            self.lines.append((k, int(pid), int(ns)))

    def next(self, kind, timeout, not_pid=None, pid=None):
        """The next stamp of kind (skipping others); None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._fill()
            while self.lines:
                k, p, ns = self.lines.pop(0)
                if k == kind and p != not_pid and (pid is None or p == pid):
                    return k, p, ns
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self.fd], [], [], left)

    def close(self):
        os.close(self.fd)


def pct(xs, q):
    s = sorted(xs)
    if not s:
        return float("nan")
    i = (len(s) - 1) * q
    lo = int(i)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)


def summary(ns):
    ms = [x / 1e6 for x in ns]
    return {"n": len(ms), "min": min(ms), "median": pct(ms, 0.5), "p90": pct(ms, 0.9),
            "p99": pct(ms, 0.99), "max": max(ms)}


class Baseline:
    name = "baseline"

    def __init__(self, tmp, svc, mini, crash_ms):
        self.st = Stamps(os.path.join(tmp, "stamp-baseline"))
        env = dict(os.environ, BENCH_STAMP=self.st.path)
        env.pop("NOTIFY_SOCKET", None)
        if crash_ms:
            env["BENCH_CRASH_MS"] = str(crash_ms)
        self.p = subprocess.Popen([mini, svc, "--name", "baseline"], env=env,
                                  stdin=subprocess.DEVNULL)

    def stop(self):
        common.stop_proc(self.p)
        self.st.close()


class Rs:
    def __init__(self, tmp, svc, crash_ms, name="rs", cgroups=True, cg_spawn=None,
                 limits=()):
        self.name = name
        self.st = Stamps(os.path.join(tmp, "stamp-" + name))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        if cg_spawn:
            env["RS_KEEPER_CG_SPAWN"] = cg_spawn
        sub = os.path.join(tmp, name)
        os.mkdir(sub)
        self.cl = common.Cluster(sub, env=env, node="bench-" + name + "-" + str(os.getpid()),
                                 agent_args=["--cgroups", "on" if cgroups else "off"]).start()
        args = ["up", "bench", "--no-backoff", "--env", "BENCH_STAMP=" + self.st.path,
                "--env", "BENCH_READY=1"]
        if crash_ms:
            args += ["--env", f"BENCH_CRASH_MS={crash_ms}"]
        args += list(limits)
        self.cl.ctl(*args, "--", svc, "--name", "bench")

    def stop(self):
        rc = self.cl.stop()
        self.st.close()
        return rc


def run_kill(sups, rounds, gap_ms, timeout):
    samples = {s.name: [] for s in sups}
    cur = {}
    for s in sups:
        st = s.st.next("S", timeout)
        if st is None:
            raise RuntimeError(f"{s.name}: no first S stamp within {timeout}s")
        cur[s.name] = st[1]
    for r in range(rounds):
        order = sups if r % 2 == 0 else sups[::-1]
        for s in order:
            time.sleep(gap_ms / 1000)
            pid = cur[s.name]
            pfd = os.pidfd_open(pid)
            try:
                t0 = time.monotonic_ns()
                signal.pidfd_send_signal(pfd, signal.SIGKILL)
            finally:
                os.close(pfd)
            st = s.st.next("S", timeout, not_pid=pid)
            if st is None:
                raise RuntimeError(f"{s.name}: round {r}: no restart within {timeout}s "
                                   f"after SIGKILL of pid {pid}")
            samples[s.name].append(st[2] - t0)
            cur[s.name] = st[1]
    return samples


def run_crash(sups, rounds, timeout):
    samples = {s.name: [] for s in sups}
    pend = {s.name: None for s in sups}    # X stamp waiting for the next S
    by_fd = {s.st.fd: s for s in sups}
    deadline = time.monotonic() + timeout
    while any(len(v) < rounds for v in samples.values()):
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("crash mode: no progress within %ss: %s" % (
                timeout, {k: len(v) for k, v in samples.items()}))
        ready, _, _ = select.select(list(by_fd), [], [], left)
        for fd in ready:
            s = by_fd[fd]
            s.st._fill()
            while s.st.lines:
                k, pid, ns = s.st.lines.pop(0)
                if k == "X":
                    pend[s.name] = (pid, ns)
                elif k == "S" and pend[s.name] and pid != pend[s.name][0]:
                    if len(samples[s.name]) < rounds:
                        samples[s.name].append(ns - pend[s.name][1])
                    pend[s.name] = None
                    deadline = time.monotonic() + timeout
    return samples


def machine():
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "load": load, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--mode", choices=["kill", "crash", "both"], default="kill")
    ap.add_argument("--gap-ms", type=int, default=200,
                    help="kill mode: time between a start stamp and the SIGKILL (default 200)")
    ap.add_argument("--crash-ms", type=int, default=300,
                    help="crash mode: the service's life time (default 300)")
    ap.add_argument("--timeout", type=float, default=5.0, help="per restart, s")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--cgroups", choices=["both", "on", "off"], default="both",
                    help="rs with a cgroup per instance, without, or both (default)")
    ap.add_argument("--cg-spawn", choices=["clone3", "procs"], default=None,
                    help="how the keeper puts a child in its cgroup (default clone3)")
    ap.add_argument("--limits", action="store_true",
                    help="also rs-lim: rs with cgroups and a memory and pids limit "
                         "(on a hybrid host the child joins v1 cgroups: a write to "
                         "cgroup.procs per start)")
    ap.add_argument("--json", metavar="OUT", help="write raw samples (ns) here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()

    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-restart-", dir=a.tmp)
    svc, mini = common.build_tools(tmp)
    result = {"machine": machine(), "args": vars(a), "modes": {}}
    ok = True
    sups = []

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    modes = ["kill", "crash"] if a.mode == "both" else [a.mode]
    try:
        for mode in modes:
            crash = a.crash_ms if mode == "crash" else 0
            sub = os.path.join(tmp, mode)
            os.mkdir(sub)
            sups = [Baseline(sub, svc, mini, crash)]
            if a.cgroups in ("both", "on"):
                sups.append(Rs(sub, svc, crash + 37 if crash else 0, "rs", True,
                               a.cg_spawn))
            if a.cgroups in ("both", "off"):
                sups.append(Rs(sub, svc, crash + 71 if crash else 0, "rs-nocg", False))
            if a.limits:
                sups.append(Rs(sub, svc, crash + 103 if crash else 0, "rs-lim", True,
                               a.cg_spawn, ["--memory-max", "1G", "--pids-max", "4096"]))
            log(f"{mode}: {a.rounds} rounds ...")
            if mode == "kill":
                samples = run_kill(sups, a.rounds, a.gap_ms, a.timeout)
            else:
                samples = run_crash(sups, a.rounds, a.timeout + a.crash_ms / 1000)
            restarts, rc_agent, rc_rsd = {}, {}, {}
            for s in sups[1:]:
                st = s.cl.status()
                inst = [i for x in st["services"] for i in x.get("instances", [])]
                restarts[s.name] = inst[0].get("restarts") if inst else None
                rc_agent[s.name], rc_rsd[s.name] = s.stop()
            sups[0].stop()
            sups = []
            left = common.kill_leftovers(wait_s=2)
            if left:
                log(f"{mode}: leftovers killed by pid after stop: {left}")
                ok = False
            result["modes"][mode] = {
                "samples_ns": samples,
                "summary_ms": {k: summary(v) for k, v in samples.items()},
                "rs_restarts_reported": restarts, "agent_exit": rc_agent,
                "rsd_exit": rc_rsd, "leftovers": left}
    except (Exception, KeyboardInterrupt) as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        ok = False
    finally:
        for s in sups:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001
                log(f"stop {s.name}: {e}")
        common.kill_leftovers()
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    m = result["machine"]
    print(f"# restart latency  {m['date']}  nproc={m['nproc']}  kernel={m['kernel']}  "
          f"load={m['load']}")
    for mode, r in result["modes"].items():
        what = ("SIGKILL (pidfd) -> next start stamp" if mode == "kill"
                else "X stamp (exit 1) -> next start stamp")
        print(f"\n## {mode}: {what}, ms")
        print(f"{'supervisor':<10} {'n':>4} {'min':>7} {'median':>7} {'p90':>7} "
              f"{'p99':>7} {'max':>7}")
        for name, s in r["summary_ms"].items():
            print(f"{name:<10} {s['n']:>4} {s['min']:7.3f} {s['median']:7.3f} "
                  f"{s['p90']:7.3f} {s['p99']:7.3f} {s['max']:7.3f}")
        b = r["summary_ms"]["baseline"]
        r["ratio_median"] = {}
        for name in r["summary_ms"]:
            if name == "baseline":
                continue
            ratio = r["summary_ms"][name]["median"] / b["median"]
            r["ratio_median"][name] = ratio
            print(f"ratio {name}/baseline (median): {ratio:.2f}   (target <= 1.5: "
                  f"{'met' if ratio <= 1.5 else 'NOT met'})")
            print(f"{name} restarts reported by rsctl status: "
                  f"{r['rs_restarts_reported'][name]}   agent exit "
                  f"{r['agent_exit'][name]}, rsd exit {r['rsd_exit'][name]}")
            if r["rs_restarts_reported"][name] is not None and \
                    r["rs_restarts_reported"][name] < r["summary_ms"][name]["n"]:
                log(f"{mode}: {name} reports fewer restarts than measured")
        if "rs" in r["summary_ms"] and "rs-nocg" in r["summary_ms"]:
            on, off = r["summary_ms"]["rs"]["median"], r["summary_ms"]["rs-nocg"]["median"]
            r["cgroup_cost_ms"] = on - off
            print(f"cgroup cost (median rs - rs-nocg): {(on - off) * 1000:.0f} us, "
                  f"ratio rs/rs-nocg {on / off:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"\nraw samples: {a.json}")
    if not ok or len(result["modes"]) != len(modes):
        print("\nFAILED (see stderr)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
