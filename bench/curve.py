#!/usr/bin/env python3
"""What CURVE (rs's secure default) costs, against the same binaries run
with --insecure (rsd, rs-agent and rsctl), in the same run.

Two one-node clusters run side by side for the whole run: "curve" (rsd
writes its key, admin.cred and join.token; the agent enrols with the
token; rsctl --cred admin.cred) and "plain" (rsd/rs-agent/rsctl
--insecure). Every figure alternates the two sample by sample (or burst by
burst), the order flipping every round, so machine noise (2 shared vCPUs,
another build) hits both alike. The cluster not being measured is idle
(its agent's heartbeat only).

  ping, status   wall time of one `rsctl ping` and one `rsctl status b007`
                 (with --services registered), process start to exit
                 (subprocess.run: fork, exec, credential file, libzmq
                 context, connect, CURVE handshake + ZAP, request, reply).
  zreq           the same request without a process start, by bench/zreq.py
                 (pyzmq; Debian's python3-zmq): `reuse` = round trip on a
                 connected socket (per-message crypto only), `connect` = a
                 new socket per request (handshake + ZAP + round trip).
                 Skipped, and said so, if no python with zmq is found.
  burst          agent -> rsd message rate. --burst-k services (b000...)
                 run on the agent, --no-backoff. A burst SIGKILLs all of
                 them at once (pidfds); the agent restarts each and reports
                 every transition to rsd (exited, started, ready: each an
                 InstanceEvent that rsd commits to SQLite and acks). The
                 burst ends when rsd's /metrics shows K more restarts and
                 every instance running again (polled every 10 ms). Figures
                 per burst: wall time, events rsd stored (its event log's
                 seq, read outside the timed window) per second, and the CPU
                 (every thread, /proc/PID/task/*/schedstat) rsd and the
                 agent's engine spent per stored event: CURVE's encryption
                 and decryption run on their ZeroMQ I/O threads, so this is
                 where it shows. A crash loop would not be bounded or
                 alternate cleanly; `refresh` is the same restart path but
                 one rsctl per service.
  restart        crash -> new process, measured as bench/restart.py does
                 (pidfd SIGKILL -> the new process's first stamp in a FIFO)
                 on service "lat": restarts never cross the network, so this
                 should not move.

Usage: bench/curve.py [--n 200] [--zn 1000] [--services 20] [--burst-k 200]
                      [--bursts 20] [--restarts 50] [--only ping,status,...]
                      [--zmq-python PATH] [--aa] [--json OUT] [--keep]
  --aa: an A/A control, both clusters with CURVE: the ratios it prints are
        what noise alone gives (burst figures: +-8% on a shared 2-vCPU box).
Exit status: 0 if every sample came in time and nothing was left behind.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402
from restart import Stamps, pct  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("curve", "plain")
STEPS = ("ping", "status", "zreq", "burst", "restart")


def order(i):
    return MODES if i % 2 == 0 else MODES[::-1]


def cpu_ns(pid):
    """CPU time of every thread of pid, ns (schedstat: on-CPU ns first)."""
    ns = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return ns


def metrics(cl):
    """(sum of rs_instance_restarts_total, instances running) from rsd."""
    host, port = cl.metrics.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    restarts = running = 0
    for ln in body.splitlines():
        if ln.startswith("rs_instance_restarts_total{"):
            restarts += float(ln.rsplit(" ", 1)[1])
        elif ln.startswith('rs_instances{state="running"}'):
            running = int(float(ln.rsplit(" ", 1)[1]))
    return restarts, running


def last_seq(cl):
    ev = json.loads(cl.ctl("--json", "events", "--limit", "1")[1])
    if isinstance(ev, dict):
        ev = ev.get("events", [])
    return max((e["seq"] for e in ev), default=0)


def running_pids(cl, prefix):
    """{label: pid} of the running instances of labels starting with prefix."""
    out = {}
    for s in cl.status().get("services", []):
        if not s["label"].startswith(prefix):
            continue
        for i in s.get("instances", []):
            if i.get("state") == "running" and i.get("pid"):
                out[s["label"]] = i["pid"]
    return out


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timeout ({timeout}s) waiting for {what}")


def add_services(cl, svc, lo, hi, timeout):
    """Registers b{lo}..b{hi-1} (svc, READY=1, --no-backoff), 4 rsctl at a
    time, and waits until every one runs."""
    def up(i):
        return cl.ctl("up", f"b{i:03d}", "--no-block", "--no-backoff",
                      "--env", "BENCH_READY=1", "--", svc, "--name", f"b{i:03d}")
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(up, range(lo, hi)))
    wait_until(lambda: len(running_pids(cl, "b")) >= hi, timeout,
               f"{hi} services running")


# --- figures -----------------------------------------------------------------

def dist(xs):
    if not xs:
        return None
    return {"n": len(xs), "min": min(xs), "median": pct(xs, 0.5), "p90": pct(xs, 0.9),
            "max": max(xs)}


def table(title, unit, samples, cpu=None):
    """Prints one figure for both modes (and rsd's CPU per request, if
    given) and returns its summary."""
    if isinstance(samples, tuple):
        samples, cpu = samples
    out = {m: dist(samples[m]) for m in MODES}
    print(f"\n## {title} ({unit})")
    print(f"{'mode':6} {'n':>5} {'min':>10} {'median':>10} {'p90':>10} {'max':>10}")
    for m in MODES:
        d = out[m]
        if d:
            print(f"{m:6} {d['n']:5d} {d['min']:10.3f} {d['median']:10.3f} "
                  f"{d['p90']:10.3f} {d['max']:10.3f}")
    if out["curve"] and out["plain"] and out["plain"]["median"]:
        out["ratio"] = out["curve"]["median"] / out["plain"]["median"]
        out["diff"] = out["curve"]["median"] - out["plain"]["median"]
        print(f"ratio curve/plain (median): {out['ratio']:.2f}   "
              f"difference: {out['diff']:+.3f} {unit}")
    if cpu:
        out["rsd_cpu_us"] = cpu
        print(f"rsd CPU per request (all threads, us): curve {cpu['curve']:.0f}, "
              f"plain {cpu['plain']:.0f}, ratio {cpu['curve'] / max(cpu['plain'], 1e-9):.2f}")
    return out


# --- steps -------------------------------------------------------------------

def rsd_cpu(cls):
    return {m: cpu_ns(cls[m].rsd.pid) for m in MODES}


def cpu_per(cls, c0, n):
    """rsd CPU (us) per request since c0, per mode (its idle heartbeat
    handling, ~1 ms/s, included)."""
    c1 = rsd_cpu(cls)
    return {m: (c1[m] - c0[m]) / 1e3 / n for m in MODES}


def step_rsctl(cls, n, argv_tail, timeout):
    """Wall time (ms) of n rsctl runs per mode, alternating."""
    s = {m: [] for m in MODES}
    c0 = rsd_cpu(cls)
    for i in range(n):
        for m in order(i):
            argv = [*cls[m].ctl_argv(), *argv_tail]
            t0 = time.monotonic_ns()
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
            t1 = time.monotonic_ns()
            if p.returncode != 0:
                raise RuntimeError(f"{m}: {' '.join(argv_tail)}: rc {p.returncode}: "
                                   f"{p.stderr.decode().strip()}")
            s[m].append((t1 - t0) / 1e6)
    return s, cpu_per(cls, c0, n)


def zmq_python(asked):
    """A python that imports zmq: --zmq-python, this one, or Debian's."""
    for py in ([asked] if asked else [sys.executable, "/usr/bin/python3"]):
        if py and subprocess.run([py, "-c", "import zmq"], capture_output=True).returncode == 0:
            return py
    return None


def rs_version(cl):
    """The version rsctl announces ("rsctl 0.2.0" -> "0.2.0")."""
    p = subprocess.run([cl.bin["rsctl"], "--version"], capture_output=True, text=True)
    return p.stdout.split()[-1] if p.returncode == 0 and p.stdout.split() else ""


def step_zreq(py, cls, n, verb, label, mode, timeout):
    c, p = cls["curve"], cls["plain"]
    argv = [py, os.path.join(HERE, "zreq.py"), "--secure", c.control, c.cred,
            "--insecure", p.control, "--verb", verb, "--mode", mode, "--n", str(n),
            "--sender-version", rs_version(c)]
    if label:
        argv += ["--label", label]
    c0 = rsd_cpu(cls)
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    cpu = cpu_per(cls, c0, n + 20)      # zreq's 20 warm-up requests too
    if r.returncode != 0:
        raise RuntimeError(f"zreq {verb} {mode}: rc {r.returncode}: {r.stderr.strip()}")
    raw = json.loads(r.stdout)
    return {"curve": [x / 1e3 for x in raw["secure"]],
            "plain": [x / 1e3 for x in raw["insecure"]]}, cpu


def one_burst(cl, k, timeout):
    """SIGKILLs the k b-services at once; returns the burst's figures."""
    pids = running_pids(cl, "b")
    if len(pids) < k:
        raise RuntimeError(f"only {len(pids)} of {k} b-services running before a burst")
    seq0 = last_seq(cl)
    r0, _ = metrics(cl)
    fds = [os.pidfd_open(p) for p in pids.values()]
    c0 = (cpu_ns(cl.rsd.pid), cpu_ns(cl.agent.pid))
    t0 = time.monotonic_ns()
    try:
        for fd in fds:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        for fd in fds:
            os.close(fd)
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        r, run = metrics(cl)
        polls += 1
        if r - r0 >= k and run >= len(pids) + 1:   # + the "lat" service
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"burst: {r - r0:.0f} of {k} restarts, {run} running "
                               f"after {timeout}s")
        time.sleep(0.01)
    t1 = time.monotonic_ns()
    c1 = (cpu_ns(cl.rsd.pid), cpu_ns(cl.agent.pid))
    events = last_seq(cl) - seq0
    wall = (t1 - t0) / 1e9
    return {"wall_ms": wall * 1e3, "events": events, "events_per_s": events / wall,
            "polls": polls,
            "rsd_us_per_event": (c1[0] - c0[0]) / 1e3 / max(1, events),
            "agent_us_per_event": (c1[1] - c0[1]) / 1e3 / max(1, events)}


def poll_cost(cl, n=50):
    """rsd CPU (us) per /metrics scrape, scraped n times back to back."""
    c0 = cpu_ns(cl.rsd.pid)
    for _ in range(n):
        metrics(cl)
    return (cpu_ns(cl.rsd.pid) - c0) / 1e3 / n


def step_burst(cls, k, bursts, timeout, settle):
    """Bursts alternating between modes; rsd's CPU per event also net of
    the /metrics scrapes that watch for the burst's end."""
    rows = {m: [] for m in MODES}
    scrape = {m: poll_cost(cls[m]) for m in MODES}
    for i in range(bursts):
        for m in order(i):
            r = one_burst(cls[m], k, timeout)
            r["rsd_net_us_per_event"] = r["rsd_us_per_event"] - \
                scrape[m] * r["polls"] / max(1, r["events"])
            rows[m].append(r)
            time.sleep(settle)
    return rows, scrape


def step_restart(cls, stamps, rounds, gap, timeout):
    s = {m: [] for m in MODES}
    cur = {}
    for m in MODES:
        st = stamps[m].next("S", timeout)
        if st is None:
            raise RuntimeError(f"{m}: lat: no start stamp within {timeout}s")
        cur[m] = st[1]
    for i in range(rounds):
        for m in order(i):
            time.sleep(gap)           # so the agent has seen READY=1
            fd = os.pidfd_open(cur[m])
            t0 = time.monotonic_ns()
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            os.close(fd)
            st = stamps[m].next("S", timeout, not_pid=cur[m])
            if st is None:
                raise RuntimeError(f"{m}: lat: no restart within {timeout}s")
            s[m].append((st[2] - t0) / 1e6)
            cur[m] = st[1]
    return s


# --- main --------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="rsctl runs per mode and verb")
    ap.add_argument("--zn", type=int, default=1000, help="in-process requests per mode")
    ap.add_argument("--services", type=int, default=20,
                    help="services registered for ping/status/zreq")
    ap.add_argument("--burst-k", type=int, default=200, help="services killed per burst")
    ap.add_argument("--bursts", type=int, default=20, help="bursts per mode")
    ap.add_argument("--restarts", type=int, default=50, help="restart rounds per mode")
    ap.add_argument("--gap-ms", type=int, default=100)
    ap.add_argument("--only", default=",".join(STEPS))
    ap.add_argument("--zmq-python", default=None,
                    help="python with pyzmq for zreq (default: this one, else /usr/bin/python3)")
    ap.add_argument("--aa", action="store_true",
                    help="control: both clusters with CURVE, so the ratios show "
                         "the noise floor (zreq is skipped)")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--tmp", default="/dev/shm")
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if only - set(STEPS):
        ap.error(f"--only: one of {','.join(STEPS)}")
    if "burst" in only and a.burst_k < a.services:
        ap.error("--burst-k must be at least --services")

    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-curve-", dir=a.tmp)
    out = {"args": vars(a), "machine": {"nproc": os.cpu_count(),
                                        "kernel": platform.release()}}
    cls, stamps = {}, {}
    rc = 0
    try:
        svc, _ = common.build_tools(tmp)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("BENCH_") and k not in ("RS_CRED", "RS_INSECURE")}
        for m in MODES:
            d = os.path.join(tmp, m)
            os.makedirs(d)
            cls[m] = common.Cluster(d, env=env, insecure=(m == "plain" and not a.aa),
                                    rsd_args=["--metrics", "127.0.0.1:0"]).start()
            stamps[m] = Stamps(os.path.join(d, "stamp-lat"))
            cls[m].ctl("up", "lat", "--no-backoff", "--env", "BENCH_STAMP=" + stamps[m].path,
                       "--env", "BENCH_READY=1", "--", svc, "--name", "lat")
            add_services(cls[m], svc, 0, a.services, a.timeout)
        load = open("/proc/loadavg").read().split()[:3]
        print(f"# CURVE cost  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}  "
              f"nproc={os.cpu_count()}  kernel={platform.release()}  load={' '.join(load)}")
        if a.aa:
            print("A/A CONTROL (--aa): both clusters run CURVE; \"plain\" is a "
                  "second CURVE cluster, the ratios are noise")
        else:
            print("curve = default (CURVE + ZAP, --cred/--token-file); "
                  "plain = the same binaries with --insecure")
        fig = out["figures"] = {}

        if "ping" in only:
            log(f"ping: {a.n} rsctl runs per mode ...")
            fig["rsctl_ping_ms"] = table("rsctl ping, process start to exit", "ms",
                                         step_rsctl(cls, a.n, ["ping"], a.timeout))
        if "status" in only:
            log(f"status: {a.n} rsctl runs per mode ...")
            fig["rsctl_status_ms"] = table(
                f"rsctl status b007 ({a.services} services registered), "
                "process start to exit", "ms",
                step_rsctl(cls, a.n, ["status", "b007"], a.timeout))
        if "zreq" in only:
            py = zmq_python(a.zmq_python)
            if a.aa:
                print("\n## in-process round trips: skipped with --aa")
            elif not py:
                print("\n## in-process round trips: not measured (no python with "
                      "pyzmq: apt-get install python3-zmq, or --zmq-python)")
            else:
                for verb, label, mode, what in (
                        ("ping", "", "reuse", "ping on a connected socket"),
                        ("status", "b007", "reuse", "status b007 on a connected socket"),
                        ("ping", "", "connect", "ping on a new socket (connect + handshake)")):
                    log(f"zreq: {verb} {mode}, {a.zn} per mode ...")
                    fig[f"zreq_{verb}_{mode}_us"] = table(
                        f"in-process {what}", "us",
                        step_zreq(py, cls, a.zn, verb, label, mode, a.timeout * 10))
        if "restart" in only:
            log(f"restart: {a.restarts} rounds per mode ...")
            fig["restart_ms"] = table(
                "restart latency: SIGKILL -> new process's first stamp", "ms",
                step_restart(cls, stamps, a.restarts, a.gap_ms / 1e3, a.timeout))
        if "burst" in only:
            log(f"burst: adding services up to {a.burst_k} ...")
            for m in MODES:
                add_services(cls[m], svc, a.services, a.burst_k, a.timeout * 4)
            log(f"burst: {a.bursts} bursts of {a.burst_k} per mode ...")
            rows, scrape = step_burst(cls, a.burst_k, a.bursts, a.timeout, 0.5)
            out["bursts"], out["scrape_us"] = rows, scrape
            print(f"\n# burst: SIGKILL {a.burst_k} services at once -> rsd has "
                  f"every restart and all running again")
            ev = {m: [r["events"] for r in rows[m]] for m in MODES}
            print("events rsd stored per burst (median): " +
                  ", ".join(f"{m} {pct(ev[m], 0.5):.0f}" for m in MODES))
            print("rsd CPU per /metrics scrape (the burst's end is watched every "
                  "10 ms): " + ", ".join(f"{m} {scrape[m]:.0f} us" for m in MODES))
            for key, title, unit in (
                    ("wall_ms", "burst wall time", "ms"),
                    ("events_per_s", "agent events stored by rsd per second", "1/s"),
                    ("rsd_us_per_event", "rsd CPU per event (all threads)", "us"),
                    ("rsd_net_us_per_event", "rsd CPU per event, less the scrapes", "us"),
                    ("agent_us_per_event", "rs-agent engine CPU per event (all threads)",
                     "us")):
                fig["burst_" + key] = table(title, unit,
                                            {m: [r[key] for r in rows[m]] for m in MODES})
        print()
    except (RuntimeError, subprocess.TimeoutExpired, subprocess.CalledProcessError) as e:
        log(f"curve.py: {e}")
        for m, cl in cls.items():
            log(f"--- {m} rsd.log\n{cl.read_log('rsd.log')}\n--- {m} agent.log\n"
                f"{cl.read_log('agent.log')}")
        rc = 1
    finally:
        for m, cl in cls.items():
            rcs = cl.stop()
            if rcs != (0, 0):
                log(f"{m}: agent/rsd exit {rcs}")
        for st in stamps.values():
            st.close()
        left = common.kill_leftovers(wait_s=3)
        if left:
            log(f"killed leftovers by pid: {left}")
            rc = 1
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
