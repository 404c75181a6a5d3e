#!/usr/bin/env python3
"""rsd at scale (issue 12): one real rsd, N simulated agents (rs-loadgen,
bench/loadgen.c) x 30 instances each.

Per N in --agents (default 100; the issue asks 100 1000 5000):

setup    rsd --node-ttl 5; rs-loadgen --enroll-only (every node enrolled
         with the join token, keys kept in the temp dir), then rs-loadgen
         with N nodes; N services `s00000...` with 30 replicas each
         (N x 30 / R services of R with --replicas R, at most 64)
         (`rsctl apply` of a manifest grown by --apply-step services each
         time, up to 1024 services; `rsctl up --replicas` for the rest):
         N x 30 instances, 30 per node.
cold     the whole cluster again: rs-loadgen stopped, rsd SIGKILLed and
         started on the same db, a new rs-loadgen (new agent processes,
         nothing running) whose first Hellos are spread over 1 s. Time from
         its start to every node welcomed, to N x 30 instances running and
         acknowledged (the agents' view), to rsd's `status` agreeing.
steady   --steady-s of the idle cluster: rsd's CPU (% of one core, every
         thread's schedstat), its RSS, node flaps (suspect/lost in its log),
         the agents' beat -> BeatAck round trip; then what an operator
         types, timed whole (process start, every page, the text):
         `rsctl status`, `rsctl nodes`, `status --node`, `--state`
         (the control probe's samples meanwhile are the phase "views"),
         and five scrapes of rsd's /metrics (phase "scrape").
restart  rsd SIGKILL + start on the same db: time to its ready line, to
         every node welcomed again, to every instance running with the pid
         it had (no new Start, and rsd's `status` shows the old pids); rsd's
         peak RSS (VmHWM) doing it.
loss     for K in (1, min(100, N/10)): K agents go silent (they stop
         beating and reading, as a SIGSTOPped agent); time to rsd's
         node-lost (its log) and until their instances run elsewhere. Then
         they wake, rsd stops the copies, the cluster settles.
burst    each agent sends --burst-e status events as fast as it can: agent
         messages rsd handled per second (counted until rsd acknowledged
         all, at BeatAck pace: +-1 s) and the CPU per message of rsd (its
         main thread and ZeroMQ's I/O thread apart: each has a core at
         most) and of rs-loadgen (on the same cores here). --burst-turn K
         (default 1): K events an agent a turn, one frame (an agent whose
         turn has K events sends them so); several Ks, a burst each.
drain    rsd's capacity without rs-loadgen on its cores: rsd is stopped
         (SIGSTOP) while each agent queues --burst-e status events (at
         most --drain-stop-s, 2: the beats wait behind the backlog; rsd
         does not count a node silent while its beat waits unread; at
         5,000 agents rs-loadgen needs ~5 s to queue 50 each), then let go;
         messages/s = the events / the time rsd stays busy with them (its
         CPU, sampled every 10 ms, back under a third of a core for 50 ms).
         A backlog is read in big gulps (many messages per TCP read), as
         from agents on other hosts sending faster than rsd reads.
         --drain-turn K: K events an agent a frame (as --burst-turn).
control  during all of the above, a client sends `status LABEL` and
         `lookup LABEL` in turn, 20 ms after each answer, on one kept
         connection: round trip p50/p99 per phase, and how many got no
         answer within 2 s. The client is rs-ctlprobe (bench/ctlprobe.c,
         built with -DRS_BENCH=ON) when the build has it, else (or with
         RS_CTLPROBE=0) a Python process (pyzmq, zreq.py's encoding).
         --json says which ("control_client"). rs-ctlprobe also gives the
         round trips less its own and rsd's waits for a CPU (a second
         line): on a shared machine those waits are most of the tail.
         RS_CTLPROBE_SLOW_MS=N: each answer of N ms or more logged in
         ctlprobe.log (in --tmp; --keep keeps it) with its waits split:
         the probe's own, rsd's main thread's, its control socket's I/O
         thread's, rsd's other threads' (off the request's path), what
         each of rsd's threads ran, and each CPU's stolen and interrupt
         ticks; bench/slowlog.py sorts them by who held them.

--rsd-cpus C puts rsd on CPUs C and everything this starts on the others.
--isolate also moves every other thread of the machine that may run on C
and on another CPU (kernel threads not bound to a CPU among them, e.g.
DAMON's kdamond) to the others for the run, and puts them back after, as
an operator who gives rsd a core of its own would (isolcpus, a cpuset);
threads bound to one CPU (per-CPU kernel threads) and those the kernel
will not move stay. The threads moved are printed and in the JSON.

Every phase has a timeout (--timeout, scaled up with N): when it passes the
phase prints "did not finish in X s" and what was reached, and the next
phase runs if rsd still lives. --json OUT keeps every number. Every process
is started under this one (a child subreaper) and stopped by pid.

Usage: bench/scale.py [--agents 100 [1000 5000]] [--per-agent 30] [--replicas R]
                      [--per-proc 2500]
                      [--apply-step 100]
                      [--only setup,cold,steady,restart,loss,burst,drain]
                      [--steady-s 30] [--burst-e 50] [--burst-turn 1 [10]]
                      [--drain-stop-s 2] [--drain-turn 1] [--timeout 120]
                      [--rsd-cpus C [--isolate]] [--json OUT] [--keep]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402

try:
    import zmq
    import zreq
except ImportError:
    # Debian's python3-zmq goes into /usr/bin/python3 (curve.py does the
    # same); without it the rsd view comes from rsctl (slower)
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK) \
            and subprocess.run(["/usr/bin/python3", "-c", "import zmq"],
                               capture_output=True).returncode == 0:
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    zmq = None

def cpu_ticks():
    """{cpu: (all ticks, steal ticks)} from /proc/stat (steal: the time
    the hypervisor ran something else while this vCPU had work)."""
    out = {}
    try:
        for line in open("/proc/stat"):
            w = line.split()
            if w and w[0].startswith("cpu") and w[0][3:].isdigit():
                v = [int(x) for x in w[1:]]
                out[int(w[0][3:])] = (sum(v[:8]), v[7] if len(v) > 7 else 0)
    except (OSError, ValueError):
        pass
    return out


def steal_pct(t0, t1, cpus):
    """The steal share (%) of cpus' ticks between two cpu_ticks()."""
    tot = sum(t1[c][0] - t0[c][0] for c in cpus if c in t0 and c in t1)
    st = sum(t1[c][1] - t0[c][1] for c in cpus if c in t0 and c in t1)
    return 100.0 * st / tot if tot > 0 else None


def isolate(cpus):
    """Moves every thread of the machine allowed on cpus and on another
    CPU off cpus. [(tid, name, its CPUs before)] of those moved; put them
    back with unisolate(). Threads bound to one CPU and those the kernel
    refuses (EINVAL: a kernel thread it keeps) stay."""
    moved = []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            t = int(tid)
            try:
                before = os.sched_getaffinity(t)
                if len(before) < 2 or not before & cpus or int(pid) == me:
                    continue
                after = before - cpus
                if not after:
                    continue
                os.sched_setaffinity(t, after)
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    name = f.read().strip()
                moved.append((t, name, sorted(before)))
            except OSError:
                pass
    return moved


def unisolate(moved):
    for t, _, before in moved:
        try:
            os.sched_setaffinity(t, set(before))
        except OSError:
            pass   # gone


def cpu_facts():
    """The CPU (model, family/model), kernel and the syscall-path mitigation
    that varied between hosts of the same kind: the figures of two runs
    compare only on the same (session 19: a Zen 3 host with SRSO's Safe
    RET took ~1.6x rsd's CPU a message of session 18's)."""
    cpu, fam, mod = "?", "?", "?"
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and cpu == "?":
                cpu = v
            elif k == "cpu family" and fam == "?":
                fam = v
            elif k == "model" and mod == "?":
                mod = v
    except OSError:
        pass
    try:
        srso = open("/sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow").read().strip()
        srso = "" if srso == "Not affected" else f"SRSO: {srso}"
    except OSError:
        srso = ""
    return {"cpu": f"{cpu} (family {fam} model {mod})", "kernel": os.uname().release,
            "srso": srso}


V_STATUS, V_NODES, V_LOOKUP = 3, 4, 5
POLL_S = 0.05
APPLY_MAX = 1024


def now_ms():
    return time.monotonic() * 1000   # the loadgen's clock (CLOCK_MONOTONIC)


def cpu_ms(pid):
    ns = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return ns / 1e6


def thread_cpu_ms(pid):
    """CPU ms of each thread of pid by thread name (ZeroMQ's I/O threads
    are ZMQbg/IO/N, the main thread has the program's name)."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                out[name] = out.get(name, 0) + int(f.read().split()[0]) / 1e6
        except (OSError, ValueError):
            pass
    return out


def status_kib(pid, key):
    try:
        return int(common.status_field(pid, key))
    except (OSError, TypeError, ValueError):
        return None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def hist_delta(a, b):
    """Between two Rsd.hist snapshots: {"n", "mean_ms", "p99_le_ms" (the
    bucket bound at or under which 99 % fell), "max_le_ms"}, or None."""
    if not a or not b or b["count"] <= a["count"]:
        return None
    n = b["count"] - a["count"]
    les = sorted(b["le"])
    d = [(le, b["le"][le] - a["le"].get(le, 0)) for le in les]
    p99 = next((le for le, c in d if c >= 0.99 * n), les[-1])
    top = next((le for le, c in d if c >= n), les[-1])
    return {"n": n, "mean_ms": (b["sum"] - a["sum"]) / n * 1000,
            "p99_le_ms": p99 * 1000, "max_le_ms": top * 1000}


class PhaseTimeout(Exception):
    pass


class Ctl:
    """Requests to rsd's control endpoint in this process (pyzmq, zreq.py's
    encoding), or through rsctl when pyzmq is missing."""

    def __init__(self, rsd, timeout_s=2.0):
        self.rsd = rsd
        self.timeout_ms = int(timeout_s * 1000)
        self.sock = None
        self.rid = random.randrange(1 << 30)
        if zmq:
            self.ctx = zmq.Context.instance()
            self.cred = zreq.read_cred(rsd.cred)

    def _open(self):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.curve_serverkey = self.cred["server-key"].encode()
        s.curve_publickey = self.cred["public-key"].encode()
        s.curve_secretkey = self.cred["secret-key"].encode()
        s.connect(self.rsd.control)
        self.sock = s

    def close(self):
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None

    def call(self, verb, label="", page_size=0, page_after=""):
        """(code, payload or None, seconds); code None: no answer in time.
        With page_size: one page after page_after (self.next_page: the
        cursor of the next one, "" after the last)."""
        t0 = time.perf_counter()
        if not zmq:
            name = {V_STATUS: "status", V_NODES: "nodes", V_LOOKUP: "lookup"}[verb]
            try:
                p = subprocess.run([*self.rsd.ctl_argv(), "--json", name,
                                    *([label] if label else [])],
                                   capture_output=True, text=True,
                                   timeout=self.timeout_ms / 1000)
            except subprocess.TimeoutExpired:
                return None, None, time.perf_counter() - t0
            js = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
            return p.returncode, js, time.perf_counter() - t0
        if self.sock is None:
            self._open()
        self.rid += 1
        self.sock.send(zreq.request(self.rid, verb, label, self.rsd.version,
                                    page_size, page_after))
        end = time.monotonic() + self.timeout_ms / 1000
        while True:
            left = int((end - time.monotonic()) * 1000)
            if left <= 0 or not self.sock.poll(left, zmq.POLLIN):
                self.close()   # a late answer must not be taken for the next
                return None, None, time.perf_counter() - t0
            body = dict(zreq.fields(self.sock.recv())).get(21)
            if body is None:
                continue
            rep = dict(zreq.fields(body))
            if rep.get(1, 0) != self.rid:
                continue
            dt = time.perf_counter() - t0
            self.next_page = rep.get(5, b"").decode()
            js = rep.get(4)
            return rep.get(2, 0), json.loads(js) if js else None, dt


class Rsd:
    def __init__(self, tmp, build, ttl, extra=()):
        self.tmp, self.ttl, self.extra = tmp, ttl, list(extra)
        self.bin = common.binaries(build)
        self.db = os.path.join(tmp, "rs.db")
        self.logpath = os.path.join(tmp, "rsd.log")
        self.control = self.agents = "tcp://127.0.0.1:*"
        self.p = None
        self.version = subprocess.run([self.bin["rsctl"], "--version"], capture_output=True,
                                      text=True).stdout.split()[-1]

    def start(self):
        """Starts rsd (on the previous endpoints, if any); seconds to ready."""
        r, w = os.pipe()
        t0 = time.monotonic()
        self.p = subprocess.Popen(
            [self.bin["rsd"], "--db", self.db, "--agents", self.agents,
             "--control", self.control, "--ready-fd", str(w), "--node-ttl", str(self.ttl),
             "--metrics", "127.0.0.1:0"] + self.extra,
            pass_fds=(w,), stdin=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, RSD_CPUS)) if RSD_CPUS else None,
            stdout=open(self.logpath, "ab"), stderr=subprocess.STDOUT)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            line = f.readline()
        self.t0 = t0
        kv = dict(x.split("=", 1) for x in line.decode().split())
        if "control" not in kv:
            raise RuntimeError("rsd did not get ready")
        self.control, self.agents = kv["control"], kv["agents"]
        self.metrics = kv.get("metrics")
        self.cred, self.token = common.wait_keys(self.tmp)
        return time.monotonic() - t0

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def metrics_text(self):
        """rsd's /metrics, or None if it does not answer."""
        if not self.metrics:
            return None
        try:
            with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def hist(self, name, sel="", text=None):
        """rsd's histogram name from /metrics (the series of labels sel, as
        'verb="up"', if given; text: a /metrics already read): {"sum",
        "count", "le": {bound: cumulative count}}, or None."""
        text = self.metrics_text() if text is None else text
        if text is None:
            return None
        h = {"sum": 0.0, "count": 0, "le": {}}
        one = f"{{{sel}}} " if sel else " "
        bucket = f"{name}_bucket{{{sel + ',' if sel else ''}le=\""
        for line in text.splitlines():
            if line.startswith(name + "_sum" + one):
                h["sum"] = float(line.split()[-1])
            elif line.startswith(name + "_count" + one):
                h["count"] = int(float(line.split()[-1]))
            elif line.startswith(bucket):
                le = line[len(bucket):].split('"')[0]
                h["le"][float("inf") if le == "+Inf" else float(le)] = int(float(line.split()[-1]))
        return h

    def counters(self):
        """What rsd did since it started, from /metrics: messages read from
        agents by type, orders resent, Hellos coalesced, reconcile asks,
        store commits (count, seconds). {} if it does not answer."""
        text = self.metrics_text()
        if text is None:
            return {}
        out = {}
        for line in text.splitlines():
            if line.startswith("rs_agent_messages_total{type=\""):
                out["msgs_" + line.split('"')[1]] = int(float(line.split()[1]))
            for name, key in (("rs_orders_resent_total", "resent"),
                              ("rs_agent_hellos_coalesced_total", "hellos_coalesced"),
                              ('rs_agent_wakeups_cut_total{why="control"}', "ctl_cuts"),
                              ("rs_reconcile_asks_total", "reconcile_asks"),
                              ("rs_store_commit_seconds_count", "commits"),
                              ("rs_store_commit_seconds_sum", "commit_s"),
                              ("rs_malloc_trims_total", "trims"),
                              ("rs_malloc_trim_seconds_total", "trim_s")):
                if line.startswith(name + " "):
                    out[key] = float(line.split()[1])
        return out

    def say_counters(self, bench, phase):
        """Prints and records rsd's counters for a phase that started it."""
        c = self.counters()
        if not c:
            return
        bench.out.setdefault("counters", {})[phase] = c
        msgs = ", ".join(f"{k[5:]} {v}" for k, v in sorted(c.items()) if k.startswith("msgs_"))
        bench.say(f"{phase}: rsd read from agents: {msgs}; orders resent "
                  f"{c.get('resent', 0):.0f}, Hellos coalesced {c.get('hellos_coalesced', 0):.0f}, "
                  f"reconcile asks {c.get('reconcile_asks', 0):.0f}, agents' reads cut for a "
                  f"control request {c.get('ctl_cuts', 0):.0f}; {c.get('commits', 0):.0f} "
                  f"commits, {c.get('commit_s', 0):.2f} s in them; malloc_trim "
                  f"{c.get('trims', 0):.0f} times, {c.get('trim_s', 0):.2f} s")

    def kill9(self):
        common.kill_pid(self.p.pid, signal.SIGKILL)
        self.p.wait(10)

    def ctl_argv(self):
        return [self.bin["rsctl"], "-s", self.control, "--cred", self.cred]

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_since(self, off):
        with open(self.logpath, errors="replace") as f:
            f.seek(off)
            return f.read()


class LoadGen:
    """rs-loadgen under this process: commands on its stdin, JSON lines
    from its stdout read by a thread."""

    def __init__(self, path, rsd, keys, n, spread_ms=0, enroll_only=False, first=1):
        args = [path, "--rsd", rsd.agents, "--token", rsd.token, "--keys", keys,
                "--agents", str(n), "--hello-spread-ms", str(spread_ms),
                "--first", str(first)]
        if enroll_only:
            args.append("--enroll-only")
        self.errpath = os.path.join(os.path.dirname(keys), "loadgen.log")
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(self.errpath, "ab"), text=True, bufsize=1,
                                  preexec_fn=(lambda: os.nice(LOADGEN_NICE))
                                  if LOADGEN_NICE else None)
        self.lock = threading.Condition()
        self.lines = []        # every typed line but reports
        self.last = None       # the latest report
        self.reports = []      # every periodic report
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if j.get("type") == "report":
                    self.last = j
                    if "sent_per_s" in j:
                        self.reports.append(j)
                else:
                    self.lines.append(j)
                self.lock.notify_all()
        with self.lock:
            self.lock.notify_all()

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait_line(self, typ, after_ms=0, timeout=30):
        after_ms = int(after_ms) - 1   # the loadgen prints whole ms
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                for j in self.lines:
                    if j.get("type") == typ and j.get("mono_ms", 0) >= after_ms:
                        return j
                left = end - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.lock.wait(left)

    def report(self, timeout=10):
        t = now_ms()
        self.cmd("report")
        end = time.monotonic() + timeout
        with self.lock:
            while not (self.last and self.last["mono_ms"] >= t - 1):
                left = end - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return self.last
                self.lock.wait(left)
            return self.last

    def stop(self):
        common.stop_proc(self.p, timeout=30)


def merge_reports(reps):
    """One report of several rs-loadgen processes: counts summed, times
    the latest, a burst done when every process's is."""
    reps = [r for r in reps if r]
    if not reps:
        return None
    out = {}
    for k, v in reps[0].items():
        if k == "burst":
            bs = [r.get("burst") or {} for r in reps]
            out[k] = {"agents": sum(b.get("agents", 0) for b in bs),
                      "events": sum(b.get("events", 0) for b in bs),
                      "sent_s": max(b.get("sent_s", -1) for b in bs),
                      "acked_s": -1 if any(b.get("acked_s", -1) < 0 for b in bs)
                      else max(b["acked_s"] for b in bs)}
        elif k in ("mono_ms", "t_s"):
            out[k] = min(r.get(k, 0) for r in reps)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            out[k] = v
        else:
            out[k] = sum(r.get(k, 0) for r in reps)
    return out


class LoadGens:
    """N simulated agents as several rs-loadgen processes (each holds at
    most --per-proc: every agent takes 4 fds, and one process's fd limit
    may be 20,000), driven as one LoadGen: commands split or repeated,
    lines and reports merged."""

    def __init__(self, path, rsd, keys, n, spread_ms=0, enroll_only=False, per_proc=2500):
        k = max(1, -(-n // per_proc))
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        self.n, self.sizes, self.gens, first = n, sizes, [], 1
        for sz in sizes:
            self.gens.append(LoadGen(path, rsd, keys, sz, spread_ms, enroll_only, first))
            first += sz

    def wait(self, timeout):
        """0 when every process exited 0 (an enrolment), else non-zero."""
        return max(abs(g.p.wait(timeout)) for g in self.gens)

    @property
    def last(self):
        return merge_reports([g.last for g in self.gens])

    def marks(self):
        return [len(g.reports) for g in self.gens]

    def reports_since(self, marks):
        """Each process's periodic reports since marks, one list each."""
        return [g.reports[m:] for g, m in zip(self.gens, marks)]

    def cmd(self, line):
        w = line.split()
        if w[0] == "silent" and len(w) == 2 and w[1].isdigit():
            k = int(w[1])   # spread over the processes as their agents
            ks = [k * sz // self.n for sz in self.sizes]
            for i in range(k - sum(ks)):
                ks[i % len(ks)] += 1
            for g, ki in zip(self.gens, ks):
                g.cmd(f"silent {ki}")
            return
        for g in self.gens:
            g.cmd(line)

    def wait_line(self, typ, after_ms=0, timeout=30):
        end = time.monotonic() + timeout
        got = []
        for g in self.gens:
            j = g.wait_line(typ, after_ms, max(0.0, end - time.monotonic()))
            if j is None:
                return None
            got.append(j)
        out = dict(got[0])
        out["mono_ms"] = max(j.get("mono_ms", 0) for j in got)
        if "nodes" in out:
            out["nodes"] = [x for j in got for x in j.get("nodes", [])]
        if typ == "burst":
            out["agents"] = sum(j.get("agents", 0) for j in got)
        return out

    def report(self, timeout=10):
        return merge_reports([g.report(timeout) for g in self.gens])

    def stop(self):
        for g in self.gens:
            g.stop()


def summarize(samples):
    """{phase: {"status": {"n", "p50_ms", "p99_ms", "max_ms"}, "lookup":
    {...}, "timeouts", "errors"}} of Probe's samples (seconds)."""
    res = {}
    for ph, d in samples.items():
        r = {"timeouts": d["timeouts"], "errors": d["errors"]}
        for v in ("status", "lookup"):
            xs = d[v]
            r[v] = {"n": len(xs), "p50_ms": pct(xs, 50) * 1e3 if xs else None,
                    "p99_ms": pct(xs, 99) * 1e3 if xs else None,
                    "max_ms": max(xs) * 1e3 if xs else None}
        res[ph] = r
    return res


class CProbe:
    """Probe's job done by rs-ctlprobe (bench/ctlprobe.c): the same
    requests, interval and timeout, timed in C on one kept connection
    (no interpreter or GIL between the clock and the socket). Phases go
    to it as `phase NAME` lines; finish() asks its report. It is told
    rsd's pid (rsd_started) so that it can also give each round trip less
    the time its own threads and rsd's waited for a CPU during it
    (less_wait_p50_ms/p99_ms)."""
    client = "rs-ctlprobe"

    def __init__(self, path, rsd, labels, tmp):
        self.path, self.rsd = path, rsd
        self.labels_path = os.path.join(tmp, "probe-labels")
        with open(self.labels_path, "w") as f:
            f.write("".join(lb + "\n" for lb in labels))
        self.errpath = os.path.join(tmp, "ctlprobe.log")
        self.p = None
        self._phase = None

    @property
    def phase(self):
        return self._phase

    @phase.setter
    def phase(self, name):
        self._phase = name or None
        self._cmd(f"phase {name}" if name else "phase")

    def _cmd(self, line):
        if self.p is None or self.p.poll() is not None:
            return
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except OSError:
            pass

    def start(self):
        # RS_CTLPROBE_FIFO=N: the probe (and its ZeroMQ thread) at
        # SCHED_FIFO priority N, as latency tools run: on this machine it
        # shares a core with the simulated agents, whose CPU stands for
        # 5,000 other machines', not for the client's
        rt = os.environ.get("RS_CTLPROBE_FIFO")
        self.p = subprocess.Popen(
            (["chrt", "-f", rt] if rt else []) +
            [self.path, "--control", self.rsd.control, "--cred", self.rsd.cred,
             "--labels", self.labels_path, "--interval-ms", "20", "--timeout-ms", "2000",
             "--rsd-pid", str(self.rsd.p.pid)]
            + (["--slow-ms", os.environ["RS_CTLPROBE_SLOW_MS"]]
               if os.environ.get("RS_CTLPROBE_SLOW_MS") else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.errpath, "ab"), text=True, bufsize=1)

    def rsd_started(self):
        """rsd runs as a new process: its threads' waits from now on."""
        self._cmd(f"rsd {self.rsd.p.pid}")

    def finish(self, timeout):
        """Stops it; its summarize()-shaped report ({} if none came)."""
        if self.p is None:
            return {}
        try:
            out, _ = self.p.communicate("report\nquit\n", timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            common.stop_proc(self.p)
            return {}
        for line in reversed(out.splitlines()):
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("type") == "report":
                return j["phases"]
        return {}

    def close(self):
        """Stops it if finish() did not (a run cut short)."""
        if self.p is not None and self.p.poll() is None:
            common.stop_proc(self.p)


class Probe:
    """Control round trips (status LABEL, lookup LABEL in turn) every
    20 ms, tagged with the phase that runs. In its own process: in this
    one, the GIL (handed over every 5 ms) and the threads reading the
    load generators would be measured with rsd. CProbe when the build
    has rs-ctlprobe, unless RS_CTLPROBE=0."""
    client = "python"

    def __init__(self, rsd, labels):
        import multiprocessing
        mp = multiprocessing.get_context("fork")
        self.rsd, self.labels = rsd, labels
        self._phase = mp.Array("c", 64)
        self.stop_ev = mp.Event()
        self._conn, child = mp.Pipe()
        self.samples = {}      # phase -> {"status": [s], "lookup": [s], "timeouts": n}
        self.proc = mp.Process(target=self._run, args=(child,), daemon=True)

    @property
    def phase(self):
        return self._phase.value.decode() or None

    @phase.setter
    def phase(self, name):
        self._phase.value = (name or "").encode()[:63]

    def start(self):
        self.proc.start()

    def join(self, timeout):
        if self._conn.poll(timeout):
            self.samples = self._conn.recv()
        self.proc.join(timeout)

    def rsd_started(self):
        pass

    def finish(self, timeout):
        """Stops it; summarize() of its samples."""
        self.stop_ev.set()
        self.join(timeout)
        return summarize(self.samples)

    def _run(self, conn):
        ctl = Ctl(self.rsd)   # pyzmq makes this process its own context
        samples, i = {}, 0
        while not self.stop_ev.is_set():
            ph = self.phase
            if ph is None or not self.labels:
                time.sleep(0.02)
                continue
            verb = (V_STATUS, V_LOOKUP)[i % 2]
            i += 1
            code, _, dt = ctl.call(verb, random.choice(self.labels))
            d = samples.setdefault(ph, {"status": [], "lookup": [], "timeouts": 0,
                                        "errors": 0})
            if code is None:
                d["timeouts"] += 1
            elif code != 0:
                d["errors"] += 1
            else:
                d["status" if verb == V_STATUS else "lookup"].append(dt)
            time.sleep(0.02)
        ctl.close()
        conn.send(samples)


class Run:
    def __init__(self, a, n, tmp):
        self.a, self.n, self.tmp = a, n, tmp
        # services of --replicas each (default: one per agent, per-agent
        # replicas): the instances are spread evenly over the nodes
        # either way; fewer, larger services make a 5,000-agent setup
        # take minutes, not a quarter of an hour of `rsctl up`s
        self.per = a.replicas or a.per_agent
        self.want = n * a.per_agent
        if self.per > 64 or self.want % self.per:
            raise SystemExit(f"--replicas {self.per}: at most 64, and dividing "
                             f"{self.want} instances")
        self.rsd = Rsd(tmp, a.build, 5, a.rsd_arg)
        self.keys = os.path.join(tmp, "keys")
        self.lg = None
        self.labels = [f"s{i:05d}" for i in range(self.want // self.per)]
        self.out = {"agents": n, "instances": self.want}
        self.timeout = a.timeout + n / 50.0
        self.ctl = None
        self.probe = None

    # --- helpers -------------------------------------------------------
    def say(self, msg):
        print(f"  [{self.n}] {msg}", flush=True)

    def wait(self, cond, timeout, what, reached):
        """Polls cond() until true; PhaseTimeout with reached() otherwise."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return time.monotonic()
            if not self.rsd.alive():
                raise PhaseTimeout(f"rsd died waiting for {what}; reached {reached()}")
            time.sleep(POLL_S)
        raise PhaseTimeout(f"did not finish in {timeout:.0f} s ({what}); reached {reached()}")

    def lg_reached(self):
        r = self.lg.last or {}
        return (f"welcomed {r.get('welcomed')}/{self.n}, running {r.get('running')}/"
                f"{self.want}, unacked events {r.get('unacked')}")

    def lg_settled(self, starts=None):
        r = self.lg.report()
        return (r is not None and r["welcomed"] == self.n and r["running"] == self.want
                and r["running_live"] == self.want and r["unacked"] == 0
                and (starts is None or r["starts"] == starts))

    def scan(self, labels=None):
        """{id: (label, node, state, pid)} from rsd: `status LABEL` per
        service named, else the whole status page by page (1,000 rows
        each); None if one got no answer."""
        out = {}

        def take(js):
            for s in js.get("services", []):
                for i in s.get("instances", []):
                    out[i["id"]] = (s["label"], i.get("node"), i.get("state"), i.get("pid", 0))

        if labels is None and zmq:
            after = ""
            while True:
                code, js, _ = self.ctl.call(V_STATUS, "", 1000, after)
                if code is None or js is None:
                    return None
                take(js)
                after = self.ctl.next_page
                if not after:
                    return out
        for lb in labels or self.labels:
            code, js, _ = self.ctl.call(V_STATUS, lb)
            if code is None or js is None:
                return None
            take(js)
        return out

    def scan_running(self, before=None):
        ins = self.scan()
        if ins is None or len(ins) != self.want:
            return False
        if not all(st == "running" and pid > 0 for _, _, st, pid in ins.values()):
            return False
        return before is None or all(ins[i][3] == before[i][3] for i in before)

    def start_lg(self, spread_ms=0):
        self.lg = LoadGens(self.a.loadgen, self.rsd, self.keys, self.n, spread_ms,
                           per_proc=self.a.per_proc)
        st = self.lg.wait_line("start", timeout=self.timeout)
        if st is None:
            raise PhaseTimeout("rs-loadgen did not start its agents")
        return st["mono_ms"]

    def phase(self, name):
        if self.probe:
            self.probe.phase = name
        self.steal_mark(name)
        log(f"[{self.n}] {name}")

    def steal_mark(self, name):
        """Ends the steal count of the phase before (self.out["steal_pct"]
        [phase]: on rsd's CPUs and on the others) and starts name's."""
        t = cpu_ticks()
        prev = getattr(self, "_steal", None)
        if prev and t:
            mine = RSD_CPUS or set(t)
            rest = set(t) - mine
            self.out.setdefault("steal_pct", {})[prev[0]] = {
                "rsd_cpus": steal_pct(prev[1], t, mine),
                "others": steal_pct(prev[1], t, rest) if rest else None}
        self._steal = (name, t) if name else None

    # --- phases --------------------------------------------------------
    def setup(self):
        self.phase("setup")
        self.rsd.start()
        self.ctl = Ctl(self.rsd, timeout_s=30)
        t0 = time.monotonic()
        en = LoadGens(self.a.loadgen, self.rsd, self.keys, self.n, enroll_only=True,
                      per_proc=self.a.per_proc)
        if en.wait(self.timeout) != 0:
            raise RuntimeError("enrolment failed: see loadgen.log")
        self.out["enroll_s"] = time.monotonic() - t0
        self.say(f"enrolled {self.n} nodes in {self.out['enroll_s']:.2f} s")
        self.start_lg()
        self.wait(lambda: (self.lg.report() or {}).get("welcomed") == self.n,
                  self.timeout, "nodes welcomed", self.lg_reached)
        t0 = time.monotonic()
        self.create_services()
        self.wait(self.lg_settled, self.timeout, "instances running", self.lg_reached)
        self.out["setup_s"] = time.monotonic() - t0
        self.say(f"{len(self.labels)} services x {self.per} replicas: {self.want} instances "
                 f"running after {self.out['setup_s']:.1f} s")
        if self.a.ctlprobe:
            self.probe = CProbe(self.a.ctlprobe, self.rsd, self.labels, self.tmp)
        else:
            self.probe = Probe(self.rsd, self.labels)
        self.probe.start()

    def create_services(self):
        """The services, --apply-step more per `rsctl apply` (the manifest
        grows: each apply adds, none removes), each step waited for; above
        1024 services (one apply's most) `rsctl up --replicas`."""
        path = os.path.join(self.tmp, "scale.yaml")
        first = self.labels[:APPLY_MAX]
        step = self.a.apply_step or len(first)
        self.out["apply_steps"] = steps = []
        for k in range(step, len(first) + step, step):
            k = min(k, len(first))
            with open(path, "w") as f:
                f.write("services:\n")
                for lb in first[:k]:
                    f.write(f"  - label: {lb}\n    command: [/bin/sleep, '3600']\n"
                            f"    replicas: {self.per}\n")
            t0 = time.monotonic()
            while True:
                p = subprocess.run([*self.rsd.ctl_argv(), "apply", path, "--no-block"],
                                   capture_output=True, text=True, timeout=self.timeout)
                # the previous apply ends at rsd's next period, which
                # may come after the agents already run its instances
                if "busy" not in p.stderr or time.monotonic() - t0 > self.timeout:
                    break
                time.sleep(0.05)
            if p.returncode != 0:
                raise RuntimeError(f"apply: rc {p.returncode}: {p.stderr.strip()[-500:]}")
            t1 = time.monotonic()
            self.wait(lambda: (self.lg.report() or {}).get("running") == k * self.per,
                      self.timeout, f"{k} services running", self.lg_reached)
            steps.append({"services": k, "apply_s": t1 - t0,
                          "running_s": time.monotonic() - t0})
            log(f"[{self.n}] {k} services: apply answered {t1 - t0:.2f} s, running "
                f"{steps[-1]['running_s']:.2f} s")
        rest = self.labels[APPLY_MAX:]
        procs = []
        for lb in rest:   # above one apply's 1024 services
            while len(procs) >= 4:
                procs = [q for q in procs if q.poll() is None]
                time.sleep(0.005)
            procs.append(subprocess.Popen(
                [*self.rsd.ctl_argv(), "up", lb, "--replicas", str(self.per), "--no-block",
                 "--", "/bin/sleep", "3600"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        for q in procs:
            q.wait()

    def cold(self):
        self.phase("cold")
        self.lg.stop()
        self.rsd.kill9()
        off = self.rsd.log_size()
        self.rsd.start()
        if self.probe:
            self.probe.rsd_started()
        t0 = self.start_lg(spread_ms=1000)
        w = self.lg.wait_line("all_welcomed", t0, self.timeout)
        if w is None:
            raise PhaseTimeout(f"did not finish in {self.timeout:.0f} s (nodes welcomed); "
                               f"reached {self.lg_reached()}")
        res = {"welcomed_s": (w["mono_ms"] - t0) / 1e3}
        h = self.lg.wait_line("all_handshaken", t0, 1)
        res["handshaken_s"] = (h["mono_ms"] - t0) / 1e3 if h else None
        t_run = self.wait(self.lg_settled, self.timeout, "instances running",
                          self.lg_reached)
        res["running_s"] = t_run - t0 / 1e3
        rep = self.lg.report() or {}
        res["hellos_sent"] = rep.get("hellos", 0)
        res["hellos_unlinked"] = rep.get("hellos_unlinked", 0)
        t_rsd = self.wait(self.scan_running, self.timeout, "rsd's status agrees",
                          lambda: "rsd's status does not show every instance running")
        res["rsd_agrees_s"] = t_rsd - t0 / 1e3
        res["rsd_settled"] = self.rsd_settled(off)
        self.out["cold"] = res
        self.say(f"cold: every node welcomed {res['welcomed_s']:.2f} s, every instance "
                 f"running {res['running_s']:.2f} s, rsd's status agrees "
                 f"{res['rsd_agrees_s']:.2f} s after the agents started")
        self.say(f"cold: every handshake done "
                 f"{fmt_s(res['handshaken_s'])}; the agents sent {res['hellos_sent']} Hellos, "
                 f"{res['hellos_unlinked']} of them before their connection's handshake")
        self.say_settled("cold", res["rsd_settled"])
        self.rsd.say_counters(self, "cold")

    def steady(self):
        self.phase("steady")
        pid = self.rsd.p.pid
        off = self.rsd.log_size()
        marks = self.lg.marks()
        h0 = self.rsd.hist("rs_period_seconds")
        c0, t0 = cpu_ms(pid), time.monotonic()
        rss = []
        end = t0 + self.a.steady_s
        while time.monotonic() < end and self.rsd.alive():
            rss.append(status_kib(pid, "VmRSS"))
            time.sleep(1)
        c1, t1 = cpu_ms(pid), time.monotonic()
        period = hist_delta(h0, self.rsd.hist("rs_period_seconds"))
        text = self.rsd.log_since(off)
        per = self.lg.reports_since(marks)   # each rs-loadgen's own
        # each process's first report since the mark covers up to a
        # second before it: the phase before's tail (the cold phase's
        # scans of rsd's status, rsctl on the agents' CPU), which put
        # 300-400 ms in steady's worst beat p99 in sessions 20-22
        reps = [r for rs in per for r in rs[1:]]
        rtt50 = [r["beat_rtt_ms"]["p50"] for r in reps if r["beat_rtt_ms"]["n"]]
        rtt99 = [r["beat_rtt_ms"]["p99"] for r in reps if r["beat_rtt_ms"]["n"]]
        res = {"seconds": t1 - t0, "cpu_pct": (c1 - c0) / (t1 - t0) / 10,
               "rss_mib_median": statistics.median([x for x in rss if x]) / 1024,
               "rss_mib_max": max(x for x in rss if x) / 1024,
               "flaps_suspect": len(re.findall(r" -> suspect", text)),
               "flaps_lost": len(re.findall(r" -> lost", text)),
               "beat_rtt_ms_p50": statistics.median(rtt50) if rtt50 else None,
               "beat_rtt_ms_p99": max(rtt99) if rtt99 else None,
               # the worst p99 of each second, the first (left out) too
               "beat_rtt_ms_p99_by_s": [
                   max((rs[i]["beat_rtt_ms"]["p99"] for rs in per
                        if i < len(rs) and rs[i]["beat_rtt_ms"]["n"]), default=None)
                   for i in range(max((len(rs) for rs in per), default=0))],
               "period_ms": period,
               "agent_msgs_per_s": sum(statistics.median([r["sent_per_s"] for r in rs])
                                       for rs in per if rs) if reps else None}
        self.out["steady"] = res
        self.say(f"steady {res['seconds']:.0f} s: rsd CPU {res['cpu_pct']:.1f} % of a core, "
                 f"RSS {res['rss_mib_median']:.1f} MiB (max {res['rss_mib_max']:.1f}), "
                 f"flaps: {res['flaps_suspect']} suspect, {res['flaps_lost']} lost; beat "
                 f"round trip p50 {fmt_ms(res['beat_rtt_ms_p50'])}, worst p99 "
                 f"{fmt_ms(res['beat_rtt_ms_p99'])}")
        if period:
            self.say(f"steady: rsd's period {period['mean_ms']:.2f} ms mean, 99 % under "
                     f"{period['p99_le_ms']:g} ms, all under {period['max_le_ms']:g} ms "
                     f"({period['n']} periods)")
        # the control probe's samples while an operator lists everything
        # are their own phase ("views"): steady is the idle cluster
        if self.probe:
            self.probe.phase = "views"
        self.views()

    def views(self):
        """What an operator types, timed whole (rsctl's process start, every
        page, the text written to a pipe): `rsctl status` of everything,
        `rsctl nodes`, and the filters that answer most questions."""
        node = f"lg{self.n // 2:05d}"
        cmds = {"status": ["status"], "nodes": ["nodes"],
                "status_node": ["status", "--node", node],
                "status_state": ["status", "--state", "failed"],
                "nodes_state": ["nodes", "--state", "lost"]}
        res = {}
        c0 = self.rsd.counters()
        for name, args in cmds.items():
            ts, lines = [], 0
            h0 = self.rsd.hist("rs_ctl_page_seconds")
            for _ in range(3):
                t = time.monotonic()
                p = subprocess.run(self.rsd.ctl_argv() + args, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, timeout=60)
                ts.append(time.monotonic() - t)
                if p.returncode not in (0, 1):
                    ts = None
                    break
                lines = p.stdout.count(b"\n")
            res[name] = {"s_median": statistics.median(ts) if ts else None, "lines": lines,
                         "pages": hist_delta(h0, self.rsd.hist("rs_ctl_page_seconds"))}
        self.out["steady"]["views"] = res
        c1 = self.rsd.counters()
        if c0 and c1:   # a trim holds the loop: the probe's tail in views
            trims = {"n": c1.get("trims", 0) - c0.get("trims", 0),
                     "s": c1.get("trim_s", 0) - c0.get("trim_s", 0)}
            self.out["steady"]["views_trims"] = trims
            self.say(f"steady: malloc_trim while the views ran: {trims['n']:.0f} times, "
                     f"{trims['s'] * 1e3:.0f} ms")
        self.say("steady: rsctl, whole command, median of 3: " +
                 ", ".join(f"{' '.join(cmds[k])} {v['s_median'] * 1e3:.0f} ms ({v['lines']} lines)"
                           if v["s_median"] is not None else f"{' '.join(cmds[k])} failed"
                           for k, v in res.items()))
        # Prometheus scraping rsd: the whole /metrics (every instance's
        # series), timed, with the control probe's samples its own phase
        if self.probe:
            self.probe.phase = "scrape"
        ts, size = [], 0
        for _ in range(5):
            t = time.monotonic()
            text = self.rsd.metrics_text()
            ts.append(time.monotonic() - t)
            size = len(text or "")
            time.sleep(0.5)
        if self.probe:
            self.probe.phase = "views"
        self.out["steady"]["scrape"] = {"s_median": statistics.median(ts), "bytes": size}
        self.say(f"steady: a scrape of rsd's /metrics, median of 5: "
                 f"{statistics.median(ts) * 1e3:.0f} ms, {size / 1e6:.1f} MB")
        pg = res["status"]["pages"]
        if pg:   # rs_ctl_page_seconds: how long one page holds rsd's loop
            self.say(f"steady: rsd per page while `rsctl status` ran 3 times "
                     f"(rs_ctl_page_seconds, the control probe's too): {pg['n']} pages, "
                     f"{pg['mean_ms']:.2f} ms mean, all under {pg['max_le_ms']:g} ms")
        self.verbs()

    def verbs(self):
        """An operator's other verbs on one service of the full cluster,
        each 3 times: the whole command's time, and how long rsd's loop
        held each request (rs_ctl_request_seconds{verb}, an rsd that has
        it): a verb that walks all 150,000 instances shows here."""
        lb = self.labels[len(self.labels) // 2]
        cmds = [("describe", ["describe", lb]), ("history", ["history", lb]),
                ("events", ["events", lb, "-n", "20"]),
                ("events_since", ["events", "--since", "1m", "-n", "20"]),
                ("lookup", ["lookup", lb]),
                ("edit", ["edit", lb, "--env", "RS_BENCH=1"]),
                ("refresh", ["refresh", lb]), ("export", ["export"])]
        res = {}
        for name, args in cmds:
            verb = args[0]
            t0 = self.rsd.metrics_text()
            ts = []
            for _ in range(3):
                t = time.monotonic()
                p = subprocess.run(self.rsd.ctl_argv() + args, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True, timeout=120)
                ts.append(time.monotonic() - t)
                if p.returncode != 0:
                    log(f"[{self.n}] rsctl {' '.join(args)}: rc {p.returncode}: "
                        f"{p.stderr.strip()[-300:]}")
                    ts = None
                    break
            held = hist_delta(self.rsd.hist("rs_ctl_request_seconds", f'verb="{verb}"', t0),
                              self.rsd.hist("rs_ctl_request_seconds", f'verb="{verb}"'))
            res[name] = {"s_median": statistics.median(ts) if ts else None, "held": held}
        self.out["steady"]["verbs"] = res
        self.say(f"steady: other verbs on {lb}, whole command median of 3 (rsd's loop "
                 "held each request, mean / all under): " + ", ".join(
                     f"{k} " + (f"{v['s_median'] * 1e3:.0f} ms" if v["s_median"] is not None
                                else "failed") +
                     (f" ({v['held']['mean_ms']:.2f} / {v['held']['max_le_ms']:g} ms)"
                      if v["held"] else "") for k, v in res.items()))

    def restart(self):
        self.phase("restart")
        before = self.scan()
        if before is None or len(before) != self.want:
            raise PhaseTimeout("no full picture of the instances before the kill")
        starts = self.lg.report()["starts"]
        self.rsd.kill9()
        off = self.rsd.log_size()
        ready = self.rsd.start()
        if self.probe:
            self.probe.rsd_started()
        t0 = self.rsd.t0
        res = {"ready_s": ready}
        w = self.lg.wait_line("all_welcomed", t0 * 1000, self.timeout)
        if w is None:
            raise PhaseTimeout(f"did not finish in {self.timeout:.0f} s (nodes welcomed); "
                               f"reached {self.lg_reached()}")
        res["welcomed_s"] = w["mono_ms"] / 1e3 - t0
        t = self.wait(lambda: self.lg_settled(starts), self.timeout,
                      "instances acknowledged, no new start", self.lg_reached)
        res["agents_settled_s"] = t - t0
        # rsd's own word: the last node it knew came back (its Hello
        # reconciled), ms after it loaded its store (~ its ready line)
        back = None
        mt = self.rsd_line(off, r"each of the (\d+) nodes known at start is back or lost "
                           r"\(now (\d+) up, (\d+) lost\): the last came back (\d+) ms")
        if mt:
            back = {"known": int(mt.group(1)), "up": int(mt.group(2)),
                    "lost": int(mt.group(3)), "ms": int(mt.group(4))}
        res["rsd_all_back"] = back
        res["rsd_settled"] = settled = self.rsd_settled(off)
        t = self.wait(lambda: self.scan_running(before), self.timeout,
                      "rsd's status shows the old pids",
                      lambda: "rsd's status does not show every old pid running")
        res["running_same_pid_s"] = t - t0
        res["new_starts"] = self.lg.report()["starts"] - starts
        res["rsd_peak_rss_mib"] = (status_kib(self.rsd.p.pid, "VmHWM") or 0) / 1024
        self.out["restart"] = res
        self.say(f"rsd kill -9 + restart: ready {res['ready_s']:.2f} s, every node welcomed "
                 f"{res['welcomed_s']:.2f} s, every instance acknowledged "
                 f"{res['agents_settled_s']:.2f} s, rsd's status shows every old pid "
                 f"{res['running_same_pid_s']:.2f} s (a scan of it ends then) "
                 f"({res['new_starts']} new starts), rsd peak RSS "
                 f"{res['rsd_peak_rss_mib']:.1f} MiB")
        if back:
            self.say(f"restart: rsd says the last of the {back['known']} nodes it knew came "
                     f"back {back['ms'] / 1e3:.2f} s after it loaded its store "
                     f"({back['up']} up, {back['lost']} lost)")
        else:
            self.say("restart: rsd did not say every node it knew came back (5 s)")
        self.say_settled("restart", settled)
        self.rsd.say_counters(self, "restart")

    def rsd_line(self, off, pattern, secs=5):
        """The first match of pattern in rsd's log since off, waiting up
        to secs for it; None if none."""
        end = time.monotonic() + secs
        while True:
            mt = re.search(pattern, self.rsd.log_since(off))
            if mt or time.monotonic() >= end:
                return mt
            time.sleep(POLL_S)

    def rsd_settled(self, off):
        """rsd's own word that its start settled (every instance it
        loaded running or at rest, no node unheard): {running, all, ms
        after its store was loaded}, or None."""
        mt = self.rsd_line(off, r"rsd's start has settled: (\d+) of the (\d+) instances "
                           r"running, none on its way; the last got there (\d+) ms")
        return {"running": int(mt.group(1)), "all": int(mt.group(2)),
                "ms": int(mt.group(3))} if mt else None

    def say_settled(self, phase, st):
        if st:
            self.say(f"{phase}: rsd says its start settled {st['ms'] / 1e3:.2f} s after it "
                     f"loaded its store ({st['running']} of {st['all']} instances running)")
        else:
            self.say(f"{phase}: rsd did not say its start settled (5 s)")

    def loss(self, k):
        self.phase(f"loss{k}")
        before = self.scan()
        if before is None:
            raise PhaseTimeout("no picture of the instances before the loss")
        off = self.rsd.log_size()
        wall0 = time.time()
        t0 = now_ms()
        self.lg.cmd(f"silent {k}")
        line = self.lg.wait_line("silenced", t0)
        names = set(line["nodes"])
        ids = [i for i, v in before.items() if v[1] in names]
        labels = sorted({before[i][0] for i in ids})
        res = {"silenced": len(names), "instances": len(ids)}

        def moved():
            if (self.lg.report() or {}).get("running_live") != self.want:
                return False
            now = self.scan(labels)
            return now is not None and all(
                i in now and now[i][1] not in names and now[i][2] == "running" for i in ids)
        def live():   # the agents' view: every instance runs on a live node
            return (self.lg.report() or {}).get("running_live") == self.want
        reached = (lambda: f"running on live nodes {self.lg.last.get('running_live')}"
                           f"/{self.want}")
        try:
            # the agents say so first (a report is a round trip); rsd's
            # status of ~1,500 labels then takes a while to read
            t = self.wait(live, self.timeout, "instances running elsewhere", reached)
            res["running_s"] = (t * 1000 - t0) / 1e3
            t = self.wait(moved, self.timeout, "rsd's status shows them elsewhere", reached)
            res["moved_s"] = (t * 1000 - t0) / 1e3
            lost = {}   # a late period may take a node from suspect to fenced
            for m in re.finditer(r"^(\S+) \S+ rsd: node (\S+): \S+ -> (lost|fenced)",
                                 self.rsd.log_since(off), re.M):
                if m.group(2) in names and m.group(2) not in lost:
                    ts = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
                    lost[m.group(2)] = ts.timestamp() - wall0
            res["lost_s"] = max(lost.values()) if len(lost) == len(names) else None
            res["lost_first_s"] = min(lost.values()) if lost else None
            # rsd's runs of moves: how many each, their time (the turns'
            # and, from rsd 2026-12-07, how many turns over how long)
            res["move_periods"] = [
                {"moved": int(m.group(1)), "ms": float(m.group(2)),
                 "turns": int(m.group(3)) if m.group(3) else 1,
                 "wall_ms": float(m.group(4)) if m.group(4) else float(m.group(2))}
                for m in re.finditer(r"moved (\d+) instances off lost nodes in ([\d.]+) ms"
                                     r"(?:, (\d+) turns? over ([\d.]+) ms)?",
                                     self.rsd.log_since(off))]
            self.say(f"loss of {len(names)} nodes ({len(ids)} instances): first lost "
                     f"{fmt_s(res['lost_first_s'])}, all lost {fmt_s(res['lost_s'])}, "
                     f"their instances running elsewhere {res['running_s']:.2f} s, rsd's "
                     f"status agrees {res['moved_s']:.2f} s (TTL 5 s); "
                     "rsd moved them: " +
                     (", ".join(f"{p['moved']} in {p['ms']:.0f} ms ({p['turns']} turn"
                                f"{'s' if p['turns'] != 1 else ''} over {p['wall_ms']:.0f} ms)"
                                for p in res["move_periods"])
                      or "none logged"))
        finally:
            self.out[f"loss_{k}"] = res
            self.lg.cmd("wake all")
            self.wait(self.lg_settled, self.timeout, "settled after the wake",
                      self.lg_reached)

    def bursts(self):
        """The burst once per --burst-turn K: "burst" for the first, then
        "burst_kK" (the same rsd, one after the other)."""
        for i, k in enumerate(self.a.burst_turn):
            self.burst(k, "burst" if i == 0 else f"burst_k{k}")

    def burst(self, turn=1, key="burst"):
        self.phase(key)
        e = self.a.burst_e
        pid = self.rsd.p.pid
        lgs = [g.p.pid for g in self.lg.gens]
        c0 = cpu_ms(pid)
        th0 = thread_cpu_ms(pid)
        lc0 = sum(cpu_ms(p) for p in lgs)
        t0 = now_ms()
        self.lg.cmd(f"burst {e} {turn}")
        b = self.lg.wait_line("burst", t0)

        def done():
            r = self.lg.report() or {}
            return r.get("burst", {}).get("acked_s", -1) >= 0
        self.wait(done, self.timeout, "burst acknowledged",
                  lambda: f"{self.lg.last.get('burst')}")
        c1 = cpu_ms(pid)
        th1 = thread_cpu_ms(pid)
        lc1 = sum(cpu_ms(p) for p in lgs)
        bu = self.lg.last["burst"]
        ev = max(bu["events"], 1)
        # rsd's main thread and ZeroMQ's I/O thread each: their own core
        # at most, so the busier one bounds what rsd can take
        main = (th1.get("rsd", 0) - th0.get("rsd", 0)) * 1000 / ev
        io = sum(v - th0.get(k, 0) for k, v in th1.items() if k.startswith("ZMQbg/IO")) * 1000 / ev
        res = {"agents": b["agents"], "events": bu["events"], "sent_s": bu["sent_s"],
               "acked_s": bu["acked_s"], "per_s": bu["events"] / max(bu["acked_s"], 1e-3),
               "rsd_cpu_us_per_msg": (c1 - c0) * 1000 / ev,
               "rsd_main_us_per_msg": main, "rsd_io_us_per_msg": io,
               "loadgen_cpu_us_per_msg": (lc1 - lc0) * 1000 / ev, "per_turn": turn}
        self.out[key] = res
        self.say(f"{key}: {res['events']} events from {res['agents']} agents, {turn} a "
                 f"turn (frame), sent in "
                 f"{res['sent_s']:.2f} s, all acknowledged {res['acked_s']:.2f} s: "
                 f"{res['per_s']:.0f} agent messages/s handled, rsd CPU "
                 f"{res['rsd_cpu_us_per_msg']:.0f} us per message (main thread "
                 f"{main:.1f}, ZeroMQ I/O {io:.1f}), rs-loadgen "
                 f"{res['loadgen_cpu_us_per_msg']:.0f} us")

    def drain(self):
        self.phase("drain")
        e = self.a.burst_e
        pid = self.rsd.p.pid
        # the control probe waits while rsd is stopped: a request of
        # the stop's 2 s is the stop's, not rsd's (the drain's figure is
        # rsd answering while it works off the backlog); the one in
        # flight (well under a second) is answered first
        if self.probe:
            self.probe.phase = None
            time.sleep(0.5)
        t0 = now_ms()
        os.kill(pid, signal.SIGSTOP)
        try:
            self.lg.cmd(f"burst {e} {self.a.drain_turn}")
            b = self.lg.wait_line("burst", t0)
            end = time.monotonic() + self.a.drain_stop_s
            sent = {}
            while time.monotonic() < end:
                sent = (self.lg.report() or {}).get("burst", {})
                if sent.get("sent_s", -1) >= 0:
                    break
                time.sleep(0.02)
        finally:
            c0, tc = cpu_ms(pid), time.monotonic()
            os.kill(pid, signal.SIGCONT)
            if self.probe:
                self.probe.phase = "drain"
        # busy until it has been quiet (under a third of a core over each
        # last 50 ms) for 300 ms on end: the quiet's start ends the drain
        # (a dip while others take the cores does not end it early)
        win, quiet, t_end = [(tc, c0)], None, None
        while time.monotonic() - tc < 60 and self.rsd.alive():
            time.sleep(0.01)
            win.append((time.monotonic(), cpu_ms(pid)))
            while len(win) > 2 and win[-1][0] - win[1][0] >= 0.05:
                win.pop(0)
            (ta, ca), (tb, cb) = win[0], win[-1]
            if tb - ta < 0.05:
                continue
            if (cb - ca) / ((tb - ta) * 1000) >= 1 / 3:
                quiet = None
            elif quiet is None:
                quiet = (ta, ca)
            elif tb - quiet[0] >= 0.3:
                t_end, last = quiet
                break
        if t_end is None:
            raise PhaseTimeout("rsd did not go idle within 60 s after SIGCONT")
        n = sent.get("events", 0)
        res = {"agents": b["agents"], "events": n,
               "all_sent_while_stopped": sent.get("sent_s", -1) >= 0,
               "stopped_s": tc - t0 / 1000, "busy_s": t_end - tc,
               "per_s": n / max(t_end - tc, 1e-3),
               "rsd_cpu_us_per_msg": (last - c0) * 1000 / max(n, 1),
               "per_turn": self.a.drain_turn}
        self.out["drain"] = res

        def done():
            r = self.lg.report() or {}
            return r.get("burst", {}).get("acked_s", -1) >= 0
        self.wait(done, self.timeout, "drain acknowledged",
                  lambda: f"{self.lg.last.get('burst')}")
        # a check on the end: the agents' acknowledgements (at BeatAck
        # pace) come after it, within about a second
        res["acked_after_cont_s"] = self.lg.last["burst"]["acked_s"] - res["stopped_s"]
        self.say(f"drain: {n} events from {res['agents']} agents ({self.a.drain_turn} a frame) "
                 f"queued while rsd was stopped"
                 f"{'' if res['all_sent_while_stopped'] else f' (not all: {self.a.drain_stop_s:g} s)'} "
                 f"{res['stopped_s']:.2f} s, worked off in {res['busy_s']:.2f} s (all "
                 f"acknowledged {res['acked_after_cont_s']:.2f} s after): "
                 f"{res['per_s']:.0f} agent messages/s, rsd CPU "
                 f"{res['rsd_cpu_us_per_msg']:.1f} us per message")

    def control_summary(self):
        if not self.probe:
            return
        res = self.probe.finish(5)
        self.out["control_client"] = self.probe.client
        self.say(f"control round trips measured by {self.probe.client}")
        for ph, r in res.items():
            self.say(f"control during {ph}: status p50 {fmt_ms(r['status']['p50_ms'])} "
                     f"p99 {fmt_ms(r['status']['p99_ms'])}, lookup p50 "
                     f"{fmt_ms(r['lookup']['p50_ms'])} p99 {fmt_ms(r['lookup']['p99_ms'])} "
                     f"({r['status']['n'] + r['lookup']['n']} answered, {r['timeouts']} "
                     f"without an answer in 2 s" +
                     (f", {r['dropped']} lost with the connection (rsd killed)"
                      if r.get("dropped") else "") +
                     (f", {r['held']} sent only once rsd was back, after up to "
                      f"{r['held_max_ms']:.0f} ms" if r.get("held") else "") + ")")
            if "less_wait_p99_ms" in r["status"]:
                self.say(f"control during {ph}, less the probe's and rsd's waits for a "
                         f"CPU: status p50 {fmt_ms(r['status']['less_wait_p50_ms'])} p99 "
                         f"{fmt_ms(r['status']['less_wait_p99_ms'])}, lookup p50 "
                         f"{fmt_ms(r['lookup']['less_wait_p50_ms'])} p99 "
                         f"{fmt_ms(r['lookup']['less_wait_p99_ms'])} "
                         f"({r['status']['waited'] + r['lookup']['waited']} waited 1 ms "
                         f"or more)")
        self.out["control"] = res

    def go(self):
        want = self.a.only.split(",")
        steps = [("cold", self.cold), ("steady", self.steady), ("restart", self.restart)]
        steps += [("loss", lambda k=k: self.loss(k)) for k in self.loss_sizes()]
        steps += [("burst", self.bursts), ("drain", self.drain)]
        try:
            self.setup()
        except (PhaseTimeout, RuntimeError) as e:
            self.say(f"setup: {e}")
            self.out["setup_failed"] = str(e)
            return
        for name, fn in steps:
            if name not in want:
                continue
            if not self.rsd.alive():
                self.say(f"{name}: skipped, rsd is gone")
                continue
            try:
                fn()
            except PhaseTimeout as e:
                self.say(f"{name}: {e}")
                self.out.setdefault("failed", {})[name] = str(e)
        self.steal_mark(None)
        st = self.out.get("steal_pct", {})
        if st:
            self.say("the hypervisor's steal, % of rsd's CPU / of the others, by phase: " +
                     ", ".join(f"{ph} {fmt_pct(v['rsd_cpus'])} / {fmt_pct(v['others'])}"
                               for ph, v in st.items()))
        self.control_summary()

    def loss_sizes(self):
        return sorted({1, max(1, min(100, self.n // 10))})

    def stop(self):
        if self.ctl:
            self.ctl.close()
        if isinstance(self.probe, CProbe):
            self.probe.close()
        if self.lg:
            self.lg.stop()
        if self.rsd.p:
            common.stop_proc(self.rsd.p)


RSD_CPUS = None   # --rsd-cpus
LOADGEN_NICE = 0  # --loadgen-nice


def fmt_pct(x):
    return "-" if x is None else f"{x:.1f}"


def fmt_ms(x):
    return "-" if x is None else f"{x:.2f} ms"


def fmt_s(x):
    return "-" if x is None else f"{x:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[100])
    ap.add_argument("--per-agent", type=int, default=30)
    ap.add_argument("--replicas", type=int, default=0,
                    help="replicas per service (default --per-agent: one service per agent)")
    ap.add_argument("--per-proc", type=int, default=2500,
                    help="simulated agents per rs-loadgen process (4 fds each)")
    ap.add_argument("--only", default="setup,cold,steady,restart,loss,burst,drain")
    ap.add_argument("--steady-s", type=float, default=30)
    ap.add_argument("--burst-e", type=int, default=50, help="events per agent")
    ap.add_argument("--burst-turn", type=int, nargs="+", default=[1],
                    help="events an agent sends a turn (one frame), one burst per value")
    ap.add_argument("--drain-turn", type=int, default=1,
                    help="the drain's events an agent sends a turn (one frame)")
    ap.add_argument("--drain-stop-s", type=float, default=2,
                    help="the drain stops rsd at most this long while the agents queue")
    ap.add_argument("--apply-step", type=int, default=100,
                    help="services added per apply in the setup (0: all at once)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="per phase, s (plus N/50 s)")
    ap.add_argument("--build", default=None, help="build dir (default $RS_BUILD)")
    ap.add_argument("--json")
    ap.add_argument("--rsd-arg", action="append", default=[],
                    help="one more argument for rsd (repeat it: --rsd-arg=--max-moves --rsd-arg=3000)")
    ap.add_argument("--rsd-cpus", default=None,
                    help="CPUs for rsd, e.g. 0 (the benchmark, rs-loadgen and the "
                         "clients get the others): rsd on a core of its own")
    ap.add_argument("--isolate", action="store_true",
                    help="with --rsd-cpus: move the machine's other threads that may "
                         "run there (unbound kernel threads too) off rsd's CPUs for "
                         "the run")
    ap.add_argument("--loadgen-nice", type=int, default=0,
                    help="run rs-loadgen at this nice value: the simulated agents "
                         "stand for other machines, and on a small host they take "
                         "the CPU from the control client (which waits for it)")
    ap.add_argument("--ctlprobe", default=None,
                    help="the rs-ctlprobe to use (default: the build's), e.g. a newer "
                         "one against an older build")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.build = a.build or common.BUILD
    global LOADGEN_NICE
    LOADGEN_NICE = a.loadgen_nice
    if a.rsd_cpus:
        global RSD_CPUS
        RSD_CPUS = {int(c) for c in a.rsd_cpus.split(",")}
        rest = set(range(os.cpu_count())) - RSD_CPUS
        if not rest or not RSD_CPUS <= set(range(os.cpu_count())):
            raise SystemExit(f"--rsd-cpus {a.rsd_cpus}: leave a CPU for the rest")
        os.sched_setaffinity(0, rest)   # inherited by every other child
    elif a.isolate:
        raise SystemExit("--isolate wants --rsd-cpus")
    a.loadgen = os.path.join(a.build, "bench", "rs-loadgen")
    if not os.access(a.loadgen, os.X_OK):
        raise SystemExit(f"{a.loadgen} not found: build with -DRS_BENCH=ON")
    # the control probe: rs-ctlprobe when built (RS_CTLPROBE=0: the Python
    # one, e.g. to compare the two); the Python one needs pyzmq
    a.ctlprobe = a.ctlprobe or os.path.join(a.build, "bench", "rs-ctlprobe")
    if os.environ.get("RS_CTLPROBE") == "0" or not os.access(a.ctlprobe, os.X_OK):
        a.ctlprobe = None
    log(f"control probe: {a.ctlprobe or 'python (pyzmq)'}")
    if not zmq:
        log("pyzmq missing: rsd's view through rsctl (slower, and control latency "
            "includes a process start)")
    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-scale-", dir=a.tmp)
    out = {"machine": {"nproc": os.cpu_count(),
                       "load": open("/proc/loadavg").read().split()[:3]}, "runs": []}
    if RSD_CPUS:
        out["machine"]["rsd_cpus"] = sorted(RSD_CPUS)
    out["machine"]["loadgen_nice"] = LOADGEN_NICE
    out["machine"].update(cpu_facts())
    print(f"machine: {out['machine']['cpu']}, kernel {out['machine']['kernel']}"
          + (f", {out['machine']['srso']}" if out['machine']['srso'] else ""))
    print(f"machine: nproc {os.cpu_count()}, load {' '.join(out['machine']['load'])}"
          + (f", rsd on CPU {a.rsd_cpus}, the rest on the others" if RSD_CPUS else "")
          + (f", rs-loadgen at nice {LOADGEN_NICE}" if LOADGEN_NICE else ""))
    rc = 0
    moved = []
    try:
        if a.isolate:
            moved = isolate(RSD_CPUS)
            out["machine"]["isolated"] = [f"{name} ({t})" for t, name, _ in moved]
            names = sorted({name for _, name, _ in moved})
            print(f"machine: moved {len(moved)} threads off CPU {a.rsd_cpus}: "
                  + (", ".join(names[:12]) + (" ..." if len(names) > 12 else "")), flush=True)
        for n in a.agents:
            d = os.path.join(tmp, f"n{n}")
            os.makedirs(d)
            run = Run(a, n, d)
            print(f"N = {n} agents x {a.per_agent} instances:", flush=True)
            try:
                run.go()
            except Exception as e:  # report, clean up, go on
                log(f"FAILED: {e!r}")
                traceback.print_exc()
                run.out["error"] = repr(e)
                rc = 1
            finally:
                run.stop()
                common.kill_leftovers(5)
            out["runs"].append(run.out)
            if not a.keep:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        unisolate(moved)
        left = common.kill_leftovers(5)
        if left:
            log(f"killed {len(left)} leftover processes")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
        if not zmq:
            log("pyzmq was missing: every \"rsd's status agrees\" and \"old pid\" figure "
                "above includes rsctl processes (apt-get install python3-zmq)")
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
