#!/usr/bin/env python3
"""Live update and socket handover: failed requests, update time, service gap.

A client process connects in a loop (one request every --interval-ms) to a
TCP service on 127.0.0.1:PORT and records, per request, the connect time,
the time to a whole answer line and the outcome (ok, refused, reset,
timeout, closed = closed without an answer line, or an errno name). The
service runs under a one-node rs cluster (rsd + rs-agent, bench/common.py).

Scenarios (each --rounds rounds, all in one run, each with a fresh cluster):

  idle           the control: sockserv with --listen and nothing happening,
                 rounds of --idle-ms; its gap is the noise floor (client,
                 scheduler, other load on the machine)
  update         rsctl up svc --listen web=tcp:127.0.0.1:PORT -- sockserv
                 --version v1; per round --idle-ms of nothing (the control
                 under the same load), then rsctl update svc --min-healthy S
                 -- sockserv --version vK
  update-prep    the same with --prepare-signal USR1 and sockserv --counter
                 --prepare (the old process stores its counter memfd with
                 FDSTORE=1 and says X_RS_PREPARED=1; the new one counts on)
  kill-listen    rsctl up svc --no-backoff --listen ... -- sockserv; per
                 round SIGKILL (pidfd) of the pid `rsctl --json lookup` names
  kill-nolisten  rsctl up svc --no-backoff -- bench/tcpsvc PORT: a service
                 that binds its own port (SO_REUSEADDR); SIGKILL it the same
                 way. Then one `rsctl update` of it, to show that a bound
                 port cannot be handed over (the new process cannot bind).

Per round: the requests that failed, and the gap: how long a request
waited for its answer, counted from the first attempt of a run of failed
attempts the client retried (with --listen nothing fails, so it is the
request's latency; without, it runs from the first refused attempt to the
next answer). Updates and the idle control: the longest such wait in the
round. Kills: the wait of the request that bridged the outage (the first
answer of the new process), plus SIGKILL -> that answer, and the longest
wait in the round's window (which also holds the harness's rsctl lookups).
Updates also: the wall time of rsctl update and, from `rsctl events svc
--json`, update-prepare -> update-commit (rsd's receipt times,
ms). A round ends once the old process is gone and the new one answered.

Usage: bench/handover.py [--rounds 20] [--only SCENARIO ...] [--json OUT]
Exit status: 0 unless the harness itself failed (a scenario could not run
to the end, or a process had to be killed after the graceful stop); failed
requests are figures, not errors.
"""
import argparse
import errno
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import log  # noqa: E402
from restart import machine, pct  # noqa: E402

WALL_MINUS_MONO = time.time_ns() - time.monotonic_ns()

SCENARIOS = ["idle", "update", "update-prep", "update-graceful", "kill-listen",
             "kill-nolisten"]


# --- the client (runs as its own process: `handover.py --client PORT`) -------

def client_main(port, interval_ms, timeout):
    """One request after another; per request one line on stdout:
    't_start t_connected t_done outcome pid version count' (CLOCK_MONOTONIC
    ns, t_connected 0 if not connected, count: the third word of the answer
    (sockserv --counter) or 0). Runs until killed."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    out = sys.stdout
    step = int(interval_ms * 1e6)
    addr = ("127.0.0.1", port)
    mono = time.monotonic_ns
    nxt = mono()
    while True:
        ts = mono()
        tc = 0
        pid, ver, cnt = 0, "-", 0
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(addr)
            tc = mono()
            buf = b""
            while b"\n" not in buf:
                d = s.recv(256)
                if not d:
                    break
                buf += d
            if b"\n" in buf:
                w = buf.split(b"\n", 1)[0].decode(errors="replace").split()
                ver = w[0] if w else "-"
                pid = int(w[1]) if len(w) > 1 and w[1].isdigit() else 0
                cnt = int(w[2]) if len(w) > 2 and w[2].isdigit() else 0
                outcome = "ok" if pid else "garbled"
            else:
                outcome = "closed"
        except ConnectionRefusedError:
            outcome = "refused"
        except ConnectionResetError:
            outcome = "reset"
        except socket.timeout:
            outcome = "timeout"
        except OSError as e:
            outcome = errno.errorcode.get(e.errno, "oserror")
        finally:
            s.close()
        td = mono()
        out.write(f"{ts} {tc} {td} {outcome} {pid} {ver} {cnt}\n")
        out.flush()
        nxt += step
        left = nxt - mono()
        if left > 0:
            time.sleep(left / 1e9)
        else:
            nxt = mono()


class Client:
    """The client process and a thread that collects its records."""

    def __init__(self, port, interval_ms, timeout):
        self.recs = []          # (ts, tc, td, outcome, pid, version, count)
        self.cv = threading.Condition()
        self.p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--client", str(port),
             "--interval-ms", str(interval_ms), "--req-timeout", str(timeout)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for ln in self.p.stdout:
            f = ln.split()
            if len(f) != 7:
                continue
            r = (int(f[0]), int(f[1]), int(f[2]), f[3], int(f[4]), f[5], int(f[6]))
            with self.cv:
                self.recs.append(r)
                self.cv.notify_all()

    def wait(self, pred, timeout, start=0):
        """The first record from index start on for which pred holds;
        None after timeout s."""
        deadline = time.monotonic() + timeout
        i = start
        with self.cv:
            while True:
                while i < len(self.recs):
                    if pred(self.recs[i]):
                        return self.recs[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cv.wait(left)

    def snapshot(self):
        with self.cv:
            return list(self.recs)

    def stop(self):
        common.stop_proc(self.p)
        self.t.join(5)


# --- helpers ----------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def lookup(cl):
    rc, out = cl.ctl("--json", "lookup", "svc", check=False)
    if rc != 0:
        return None
    try:
        return json.loads(out)
    except ValueError:
        return None


def wait_until(fn, timeout, every=0.02):
    """Polls fn() until it returns a true value or timeout s pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(every)


def wait_pid_gone(pid, timeout):
    """True once pid has exited (pidfd becomes readable), False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        r, _, _ = select.select([fd], [], [], timeout)
        return bool(r)
    finally:
        os.close(fd)


def events_after(cl, seq):
    rc, out = cl.ctl("events", "svc", "--json", "--limit", "100", check=False)
    if rc != 0:
        return []
    return [e for e in json.loads(out).get("events", []) if e.get("seq", 0) > seq]


def waits(recs):
    """Per ok record: (td, wait ns, its index). wait = td - ts of the first
    attempt of the run of failed attempts just before it (itself if none)."""
    out = []
    first = None
    for i, r in enumerate(recs):
        if first is None:
            first = r[0]
        if r[3] == "ok":
            out.append((r[2], r[2] - first, i))
            first = None
    return out


def failure(recs, i, lo):
    """A failed request with its neighbours: when (ms after lo), what, and
    which process answered the requests just before and after it."""
    r = recs[i]
    prev = next((x for x in reversed(recs[:i]) if x[3] == "ok"), None)
    nxt = next((x for x in recs[i + 1:] if x[3] == "ok"), None)
    return {"t_ms": (r[0] - lo) / 1e6, "ts_ns": r[0], "td_ns": r[2],
            "outcome": r[3], "connected": r[1] != 0,
            "took_ms": (r[2] - r[0]) / 1e6,
            "prev": prev and f"{prev[5]} {prev[4]}", "next": nxt and f"{nxt[5]} {nxt[4]}"}


def round_stats(recs, lo, hi):
    """Stats of the requests that started in (lo, hi]."""
    sel = [r for r in recs if lo < r[0] <= hi]
    fails = {}
    details = []
    for i, r in enumerate(recs):
        if lo < r[0] <= hi and r[3] != "ok":
            fails[r[3]] = fails.get(r[3], 0) + 1
            details.append(failure(recs, i, lo))
    w = [x for x in waits(recs) if lo < x[0] <= hi]
    g = max(w, key=lambda x: x[1]) if w else None
    lat = [r[2] - r[0] for r in sel if r[3] == "ok"]
    return {"requests": len(sel), "failed": sum(fails.values()), "fails": fails,
            "failures": details,
            "gap_ns": g[1] if g else None, "gap_td_ns": g[0] if g else None,
            "gap_by": g and f"{recs[g[2]][5]} {recs[g[2]][4]}",
            "max_latency_ns": max(lat) if lat else None}


# --- scenarios ----------------------------------------------------------------

class Scenario:
    def __init__(self, a, tmp, name, tools):
        self.a, self.name, self.tools = a, name, tools
        self.sub = os.path.join(tmp, name)
        os.mkdir(self.sub)
        self.cl = common.Cluster(self.sub)
        self.client = None
        self.port = free_port()
        self.rounds = []
        self.notes = []
        self.result = {}

    def start(self, up_args, svc_argv):
        self.cl.start()
        self.cl.ctl("up", "svc", *up_args, "--", *svc_argv)
        self.client = Client(self.port, self.a.interval_ms, self.a.req_timeout)
        t = time.monotonic_ns()
        if not self.client.wait(lambda r: r[3] == "ok" and r[0] > t, self.a.timeout):
            raise RuntimeError(f"{self.name}: the service never answered on "
                               f"127.0.0.1:{self.port}")

    def stop(self):
        if self.client:
            self.client.stop()
        rc = self.cl.stop()
        self.result["agent_exit"], self.result["rsd_exit"] = rc
        return rc

    def pid(self):
        lk = lookup(self.cl)
        return lk["pid"] if lk and lk.get("state") == "running" else None

    def totals(self, t_end):
        """Totals over every request up to t_end (the warm-up included)."""
        recs = self.client.snapshot()
        st = round_stats(recs, 0, t_end)
        lat = [(r[2] - r[0]) / 1e6 for r in recs if r[0] <= t_end and r[3] == "ok"]
        self.result.update(requests=st["requests"], failed=st["failed"],
                           fails=st["fails"], rounds=self.rounds, notes=self.notes)
        if lat:
            self.result["latency_ms"] = {"n": len(lat), "median": pct(lat, 0.5),
                                         "p90": pct(lat, 0.9), "p99": pct(lat, 0.99),
                                         "max": max(lat)}
        return recs


def run_update(sc, prepare, graceful=False):
    a, t = sc.a, sc.tools
    extra = ["--counter", "--prepare"] if prepare else []
    listen = f"web=tcp:127.0.0.1:{sc.port}"

    def argv(ver):
        if graceful:
            return [t["tcpsvc"], *([] if a.graceful_off else ["--graceful"]), "-", ver]
        return [t["sockserv"], "--version", ver, *extra]
    sc.start(["--listen", listen], argv("v1"))
    lo = time.monotonic_ns()
    last_seq = max([e["seq"] for e in events_after(sc.cl, 0)] or [0])
    for k in range(a.rounds):
        ver = f"v{k + 2}"
        old = sc.pid()
        if not old:
            raise RuntimeError(f"{sc.name}: round {k}: svc is not running")
        # the control, under the same load: an idle window just before
        ti = time.monotonic_ns()
        te = ti + int(a.idle_ms * 1e6)
        if not sc.client.wait(lambda r: r[0] > te, a.timeout + a.idle_ms / 1000):
            raise RuntimeError(f"{sc.name}: round {k}: the client stopped")
        idle_gap = round_stats(sc.client.snapshot(), ti, te)["gap_ns"]
        args = ["update", "svc", "--min-healthy", str(a.min_healthy)]
        if prepare:
            args += ["--prepare-signal", "USR1"]
        t0 = time.monotonic_ns()
        p = subprocess.run([*sc.cl.ctl_argv(), *args, "--",
                            *argv(ver)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        t1 = time.monotonic_ns()
        rnd = {"round": k, "old_pid": old, "rc": p.returncode, "t0_ns": t0, "t1_ns": t1,
               "idle_gap_ns": idle_gap,
               "msg": (p.stdout + p.stderr).strip(), "rsctl_ns": t1 - t0}
        if p.returncode == 0:
            if not wait_pid_gone(old, a.timeout):
                raise RuntimeError(f"{sc.name}: round {k}: old pid {old} still "
                                   f"runs {a.timeout}s after the commit")
            tg = time.monotonic_ns()
            rnd["old_gone_ns"] = tg
            if not sc.client.wait(lambda r: r[3] == "ok" and r[5] == ver and r[0] > tg,
                                  a.timeout):
                raise RuntimeError(f"{sc.name}: round {k}: {ver} never answered")
        else:
            log(f"{sc.name}: round {k}: update exited {p.returncode}: {rnd['msg']}")
        hi = time.monotonic_ns()
        rnd["t_end_ns"] = hi
        ev = events_after(sc.cl, last_seq)
        if ev:
            last_seq = max(e["seq"] for e in ev)
        tm = {}
        for e in ev:
            tm.setdefault(e["kind"], e["time_ms"])
        # the events' wall-clock ms on the monotonic clock (ms precision)
        rnd["events_mono_ns"] = {k: v * 1000000 - WALL_MINUS_MONO for k, v in tm.items()}
        if "update-prepare" in tm and "update-commit" in tm:
            rnd["prepare_commit_ms"] = tm["update-commit"] - tm["update-prepare"]
        if "update-start" in tm and "update-commit" in tm:
            rnd["start_commit_ms"] = tm["update-commit"] - tm["update-start"]
        rnd["events"] = [e["kind"] for e in ev]
        recs = sc.client.snapshot()
        # failures: every request since the last round; the gap: only from
        # the start of rsctl update to the end of the round, not the
        # harness's own rsctl lookup/events calls between rounds
        rnd.update(round_stats(recs, lo, hi))
        rnd["round_max_wait_ns"] = rnd["gap_ns"]
        inner = round_stats(recs, t0, hi)
        rnd.update(gap_ns=inner["gap_ns"], gap_td_ns=inner["gap_td_ns"],
                   gap_by=inner["gap_by"])
        sc.rounds.append(rnd)
        lo = hi
    recs = sc.totals(lo)
    if prepare:
        # the counter (a memfd the old process FDSTOREs before it says
        # prepared) must go on across every version: the answers' counts
        # are 1, 2, 3, ... (the client is the only one asking)
        counts = [r[6] for r in recs if r[3] == "ok"]
        # a count skipped means a connection some sockserv accepted (and
        # counted) but never answered; a count repeated or going back
        # means the state was not handed over
        skipped = sum(max(0, c - p - 1) for p, c in zip([0] + counts, counts))
        back = sum(1 for p, c in zip([0] + counts, counts) if c <= p)
        sc.result["counter"] = {"answered": len(counts),
                                "last_count": counts[-1] if counts else None,
                                "skipped": skipped, "went_back": back,
                                "continuous": not skipped and not back}
        if back:
            sc.notes.append(f"the counter went back or repeated {back} time(s): "
                            "state not handed over")


def run_idle(sc):
    a, t = sc.a, sc.tools
    sc.start(["--listen", f"web=tcp:127.0.0.1:{sc.port}"],
             [t["sockserv"], "--version", "v1"])
    lo = time.monotonic_ns()
    win = int(a.idle_ms * 1e6)
    for k in range(a.rounds):
        end = lo + win
        last = sc.client.wait(lambda r: r[0] > end, a.timeout + a.idle_ms / 1000)
        if not last:
            raise RuntimeError(f"{sc.name}: round {k}: the client stopped")
        rnd = {"round": k}
        rnd.update(round_stats(sc.client.snapshot(), lo, end))
        sc.rounds.append(rnd)
        lo = end
    sc.totals(lo)


def run_kill(sc, listen):
    a, t = sc.a, sc.tools
    if listen:
        sc.start(["--no-backoff", "--listen", f"web=tcp:127.0.0.1:{sc.port}"],
                 [t["sockserv"], "--version", "v1"])
    else:
        sc.start(["--no-backoff"], [t["tcpsvc"], str(sc.port), "v1"])
    lo = time.monotonic_ns()
    for k in range(a.rounds):
        old = wait_until(sc.pid, a.timeout)
        if not old:
            raise RuntimeError(f"{sc.name}: round {k}: svc is not running")
        # the old process serves: an answer from it since the last round
        if not sc.client.wait(lambda r: r[3] == "ok" and r[4] == old and r[0] > lo,
                              a.timeout):
            raise RuntimeError(f"{sc.name}: round {k}: pid {old} does not answer")
        fd = os.pidfd_open(old)
        try:
            tk = time.monotonic_ns()
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)
        # the first answer of another process (it may have been asked
        # before the kill and waited in the backlog)
        first = sc.client.wait(lambda r: r[3] == "ok" and r[4] != old and r[2] > tk,
                               a.timeout)
        if not first:
            raise RuntimeError(f"{sc.name}: round {k}: no answer from a new "
                               f"process within {a.timeout}s of the SIGKILL")
        # rs has the new process as running before the next kill
        if not wait_until(lambda: (sc.pid() or old) != old, a.timeout):
            raise RuntimeError(f"{sc.name}: round {k}: lookup never named a new pid")
        hi = time.monotonic_ns()
        recs = sc.client.snapshot()
        rnd = {"round": k, "old_pid": old, "new_pid": first[4], "kill_ns": tk,
               "recovery_ns": first[2] - tk}
        rnd.update(round_stats(recs, lo, hi))
        # the gap: how long the request that bridged the outage waited,
        # from its first attempt (the client retries failed ones)
        rnd["round_max_wait_ns"] = rnd["gap_ns"]
        rnd["gap_ns"] = next(w for td, w, i in waits(recs) if recs[i] is first)
        sc.rounds.append(rnd)
        lo = hi
    sc.totals(lo)
    if not listen:
        # update of a service that binds its own port: the new process
        # cannot bind while the old one listens, so rs rolls back
        old = sc.pid()
        t0 = time.monotonic_ns()
        p = subprocess.run([*sc.cl.ctl_argv(), "update", "svc",
                            "--min-healthy", str(a.min_healthy), "--", t["tcpsvc"],
                            str(sc.port), "v2"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        t1 = time.monotonic_ns()
        st = round_stats(sc.client.snapshot(), t0, t1)
        sc.result["update_attempt"] = {
            "rc": p.returncode, "msg": (p.stdout + p.stderr).strip(),
            "rsctl_ns": t1 - t0, "old_pid": old, "pid_after": sc.pid(),
            "failed": st["failed"], "requests": st["requests"]}


# --- report -------------------------------------------------------------------

def ms(ns):
    return None if ns is None else ns / 1e6


def dist(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"n": len(xs), "median": pct(xs, 0.5), "p90": pct(xs, 0.9), "max": max(xs)}


def fmt_row(name, d):
    if not d:
        return f"  {name:<43} {'-':>8} {'-':>8} {'-':>8}"
    return f"  {name:<43} {d['median']:8.2f} {d['p90']:8.2f} {d['max']:8.2f}  (n={d['n']})"


def gap_where(rounds):
    """Sorts the update rounds by where their gap's answer came: within
    -2..+15 ms of update-start (the new process starting), of update-commit
    (the old one being stopped), of the round's rsctl start, or elsewhere.
    Values: the gaps, ms."""
    out = {"at rsctl start": [], "at update-start": [], "at commit/stop": [],
           "elsewhere": []}
    for x in rounds:
        td, g = x.get("gap_td_ns"), x.get("gap_ns")
        if td is None:
            continue
        ev = x.get("events_mono_ns", {})
        near = [k for k, t in (("at update-start", ev.get("update-start")),
                               ("at commit/stop", ev.get("update-commit")),
                               ("at rsctl start", x.get("t0_ns"))) if t is not None
                and -2e6 <= td - t <= 15e6]
        out[near[0] if near else "elsewhere"].append(g / 1e6)
    return out


def report(result, a):
    m = result["machine"]
    print(f"# live update and socket handover  {m['date']}  nproc={m['nproc']}  "
          f"kernel={m['kernel']}  load={m['load']}")
    print(f"# client: one request every {a.interval_ms} ms to 127.0.0.1:PORT, "
          f"{a.req_timeout} s timeout; {a.rounds} rounds per scenario; "
          f"--min-healthy {a.min_healthy}")
    titles = {
        "idle": f"control: --listen, nothing happens, rounds of {a.idle_ms:g} ms",
        "update": "update with --listen (rsctl update, no prepare)",
        "update-prep": "update with --listen, --prepare-signal USR1 (sockserv --counter --prepare)",
        "update-graceful": ("update with --listen, service: tcpsvc WITHOUT --graceful "
                            "(--graceful-off)" if a.graceful_off else
                            "update with --listen, service: tcpsvc --graceful "
                            "(no stop between accept and answer)"),
        "kill-listen": "crash restart (SIGKILL) with --listen, --no-backoff",
        "kill-nolisten": "crash restart (SIGKILL) without --listen: tcpsvc binds its own port, --no-backoff",
    }
    for name, r in result["scenarios"].items():
        rounds = r.get("rounds", [])
        print(f"\n## {name}: {titles[name]}")
        if "error" in r:
            print(f"  HARNESS ERROR: {r['error']}")
        fails = ", ".join(f"{k} {v}" for k, v in sorted(r.get("fails", {}).items()))
        print(f"  requests {r.get('requests', 0)}, failed {r.get('failed', 0)}"
              f"{' (' + fails + ')' if fails else ''}, rounds {len(rounds)}")
        print(f"  {'ms':<43} {'median':>8} {'p90':>8} {'max':>8}")
        r["summary_ms"] = s = {}
        s["gap"] = dist([ms(x.get("gap_ns")) for x in rounds])
        print(fmt_row("gap (the request that waited out the kill)" if name.startswith("kill")
                      else "gap (longest wait, rsctl update -> end)"
                      if name.startswith("update") else "gap (longest wait for an answer)",
                      s["gap"]))
        if r.get("latency_ms"):
            lat = r["latency_ms"]
            print(f"  {'latency of every answered request':<43} {lat['median']:8.2f} "
                  f"{lat['p90']:8.2f} {lat['max']:8.2f}  (p99 {lat['p99']:.2f})")
        if name.startswith("update"):
            s["rsctl_update"] = dist([ms(x["rsctl_ns"]) for x in rounds])
            s["idle_before"] = dist([ms(x.get("idle_gap_ns")) for x in rounds])
            print(fmt_row(f"control: longest wait, {a.idle_ms:g} ms idle before",
                          s["idle_before"]))
            s["round_max_wait"] = dist([ms(x.get("round_max_wait_ns")) for x in rounds])
            print(fmt_row("longest wait, incl. harness between rounds", s["round_max_wait"]))
            s["prepare_commit"] = dist([x.get("prepare_commit_ms") for x in rounds])
            s["start_commit"] = dist([x.get("start_commit_ms") for x in rounds])
            print(fmt_row("update: rsctl update wall time", s["rsctl_update"]))
            print(fmt_row("update: update-prepare -> commit", s["prepare_commit"]))
            print(fmt_row("update: update-start -> commit", s["start_commit"]))
            where = gap_where(rounds)
            r["gap_where"] = where
            print("  where the round's gap was (its answer, vs. the events): " + ", ".join(
                f"{k} {len(v)} (median {pct(v, 0.5):.2f} ms)" for k, v in where.items() if v))
            bad = [x for x in rounds if x["rc"] != 0]
            print(f"  updates committed: {len(rounds) - len(bad)} of {len(rounds)}")
            for x in bad:
                print(f"    round {x['round']}: rsctl exit {x['rc']}: {x['msg']}")
            if "counter" in r:
                c = r["counter"]
                print(f"  state (FDSTORE'd counter): {c['answered']} answers, last count "
                      f"{c['last_count']}: "
                      + ("continuous" if c["continuous"] else
                         f"{c['skipped']} count(s) skipped (accepted by a sockserv, "
                         f"never answered), {c['went_back']} went back"))
        elif name.startswith("kill"):
            s["recovery"] = dist([ms(x["recovery_ns"]) for x in rounds])
            s["round_max_wait"] = dist([ms(x.get("round_max_wait_ns")) for x in rounds])
            print(fmt_row("SIGKILL -> first answer of new pid", s["recovery"]))
            print(fmt_row("longest wait in the round's window", s["round_max_wait"]))
            failed_rounds = sum(1 for x in rounds if x["failed"])
            print(f"  rounds with a failed request: {failed_rounds} of {len(rounds)}")
        per = [x["failed"] for x in rounds]
        if per and any(per):
            print(f"  failed per round: {per}")
            if name == "kill-listen":   # without --listen they are expected
                for x in rounds:
                    for f in x.get("failures", []):
                        print(f"    round {x['round']}: {f['outcome']} (connected: "
                              f"{f['connected']}), asked {(f['ts_ns'] - x['kill_ns']) / 1e6:+.2f}"
                              f" ms from the SIGKILL, took {f['took_ms']:.2f} ms; answered "
                              f"before by {f['prev']}, after by {f['next']}")
            if name.startswith("update"):
                for x in rounds:
                    for f in x.get("failures", []):
                        rel = ""
                        if x.get("old_gone_ns"):
                            rel = (f", {(f['td_ns'] - x['old_gone_ns']) / 1e6:+.2f} ms from "
                                   f"seeing old pid {x['old_pid']} gone")
                        print(f"    round {x['round']}: {f['outcome']} (connected: "
                              f"{f['connected']}) {(f['td_ns'] - x['t0_ns']) / 1e6:.1f} ms "
                              f"after rsctl update started (it returned at "
                              f"{(x['t1_ns'] - x['t0_ns']) / 1e6:.1f} ms)"
                              f"{rel}; answered before by {f['prev']}, after by {f['next']}")
        if "update_attempt" in r:
            u = r["update_attempt"]
            print(f"  update without --listen: not measurable as a handover (a bound port "
                  f"cannot be handed over): rsctl update exit {u['rc']} after "
                  f"{u['rsctl_ns'] / 1e6:.0f} ms: {u['msg']}")
            print(f"    pid {u['old_pid']} -> {u['pid_after']}, {u['failed']} of "
                  f"{u['requests']} requests failed meanwhile")
        for n in r.get("notes", []):
            print(f"  note: {n}")
        if r.get("leftovers"):
            print(f"  leftovers killed by pid: {r['leftovers']}")
    sc = result["scenarios"]
    gl = sc.get("kill-listen", {}).get("summary_ms", {}).get("gap")
    gn = sc.get("kill-nolisten", {}).get("summary_ms", {}).get("gap")
    if gl and gn:
        rm = gl["median"] / gn["median"]
        rx = gl["max"] / gn["max"]
        result["ratio_gap_listen_vs_not"] = {"median": rm, "max": rx}
        print(f"\nratio of the crash gap with --listen / without: median {rm:.2f}, "
              f"max {rx:.2f}")
        ql = sc["kill-listen"]["summary_ms"]["recovery"]
        qn = sc["kill-nolisten"]["summary_ms"]["recovery"]
        if ql and qn:
            result["ratio_recovery_listen_vs_not"] = {
                "median": ql["median"] / qn["median"], "max": ql["max"] / qn["max"]}
            print(f"ratio of SIGKILL -> first answer with --listen / without: median "
                  f"{ql['median'] / qn['median']:.2f}, max {ql['max'] / qn['max']:.2f}")
        fl = sc["kill-listen"].get("failed", 0)
        fn = sc["kill-nolisten"].get("failed", 0)
        print(f"failed requests during crash restarts: with --listen {fl}, without {fn}")
    for name in ("update", "update-prep", "update-graceful"):
        sm = sc.get(name, {}).get("summary_ms", {})
        g, gi = sm.get("gap"), sm.get("idle_before")
        if gi and g:
            print(f"gap of {name} / its idle control just before each round (median): "
                  f"{g['median'] / gi['median']:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS)
    ap.add_argument("--interval-ms", type=float, default=1.0,
                    help="time between two requests' starts (default 1)")
    ap.add_argument("--req-timeout", type=float, default=5.0,
                    help="per request (connect + answer), s (default 5)")
    ap.add_argument("--idle-ms", type=float, default=250.0,
                    help="length of a round of the idle control, ms (default 250)")
    ap.add_argument("--min-healthy", type=float, default=0.2,
                    help="rsctl update --min-healthy, s (default 0.2)")
    ap.add_argument("--graceful-off", action="store_true",
                    help="control experiment: run update-graceful's tcpsvc without "
                    "--graceful")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="per awaited condition, s (default 10)")
    ap.add_argument("--tmp", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--json", metavar="OUT", help="write the raw rounds here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    if a.client:
        client_main(a.client, a.interval_ms, a.req_timeout)
        return 0

    sockserv = os.path.join(common.BUILD, "tests", "sockserv")
    if not os.access(sockserv, os.X_OK):
        raise SystemExit(f"{sockserv} not found: build rs with RS_TESTS=ON "
                         "(the default), or set RS_BUILD")
    common.set_subreaper()
    tmp = tempfile.mkdtemp(prefix="rs-bench-handover-", dir=a.tmp)
    tcpsvc = os.path.join(tmp, "tcpsvc")
    subprocess.run([os.environ.get("CC", "gcc"), "-O2", "-Wall", "-Wextra", "-o", tcpsvc,
                    os.path.join(common.HERE, "tcpsvc.c")], check=True)
    tools = {"sockserv": sockserv, "tcpsvc": tcpsvc}
    result = {"machine": machine(), "args": vars(a), "scenarios": {}}
    ok = True

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        for name in a.only:
            sc = Scenario(a, tmp, name, tools)
            log(f"{name}: {a.rounds} rounds ...")
            try:
                if name == "idle":
                    run_idle(sc)
                elif name == "update":
                    run_update(sc, prepare=False)
                elif name == "update-prep":
                    run_update(sc, prepare=True)
                elif name == "update-graceful":
                    run_update(sc, prepare=False, graceful=True)
                elif name == "kill-listen":
                    run_kill(sc, listen=True)
                else:
                    run_kill(sc, listen=False)
            except Exception as e:  # noqa: BLE001
                log(f"{name}: FAILED: {type(e).__name__}: {e}")
                sc.result["error"] = f"{type(e).__name__}: {e}"
                sc.result.setdefault("rounds", sc.rounds)
                ok = False
            finally:
                try:
                    sc.stop()
                except Exception as e:  # noqa: BLE001
                    log(f"{name}: stop: {e}")
                    ok = False
                left = common.kill_leftovers(wait_s=2)
                if left:
                    log(f"{name}: leftovers killed by pid after stop: {left}")
                    sc.result["leftovers"] = left
                    ok = False
                result["scenarios"][name] = sc.result
    except KeyboardInterrupt:
        log("interrupted")
        ok = False
    finally:
        common.kill_leftovers()
        if a.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    report(result, a)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"\nraw rounds: {a.json}")
    if not ok:
        print("\nHARNESS FAILED (see stderr)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
