"""Helpers shared by the bench scripts (Python 3 stdlib only).

- builds bench/svc.c (static) and bench/minisup.c into a temp dir;
- starts a one-node rs cluster (rsd + rs-agent) with its state in a temp dir,
  on the secure path by default: rsd writes its key, admin.cred and
  join.token beside its --db at the first start, the agent enrols with
  --token-file, rsctl uses --cred admin.cred. insecure=True runs the same
  binaries with --insecure (plaintext, loopback only) for comparisons;
- makes this process a child subreaper so every process started under it
  stays its descendant, and kills leftovers BY PID through a pidfd (never by
  name).
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("RS_BUILD", os.path.join(ROOT, "build-bench"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def binaries(build=None):
    b = build or BUILD
    return {
        "rsd": os.path.join(b, "rsd", "rsd"),
        "agent": os.path.join(b, "agent", "rs-agent"),
        "rsctl": os.path.join(b, "ctl", "rsctl"),
    }


def build_tools(outdir, cc=None):
    """Compile svc (static) and minisup into outdir; return their paths."""
    cc = cc or os.environ.get("CC", "gcc")
    svc = os.path.join(outdir, "svc")
    mini = os.path.join(outdir, "minisup")
    subprocess.run([cc, "-O2", "-static", "-Wall", "-Wextra", "-o", svc,
                    os.path.join(HERE, "svc.c")], check=True)
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", mini,
                    os.path.join(HERE, "minisup.c")], check=True)
    return svc, mini


# --- process hygiene ---------------------------------------------------------

def set_subreaper():
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log("warning: PR_SET_CHILD_SUBREAPER failed")


def _ppid_map():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        m[int(d)] = (int(rest[1]), rest[0])  # ppid, state
    return m


def descendants(root=None):
    """Live (non-zombie) descendants of root (default: this process)."""
    root = root or os.getpid()
    m = _ppid_map()
    kids = {}
    for pid, (ppid, st) in m.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            if m[c][1] != "Z":
                out.append(c)
            todo.append(c)
    return out


def kill_pid(pid, sig=signal.SIGKILL):
    """Signal pid through a pidfd (no pid-reuse race). False if it is gone."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        signal.pidfd_send_signal(fd, sig)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_leftovers(wait_s=0.0):
    """SIGKILL every remaining descendant by pid; return their pids."""
    deadline = time.monotonic() + wait_s
    while wait_s and descendants() and time.monotonic() < deadline:
        reap()
        time.sleep(0.05)
    left = descendants()
    for pid in left:
        kill_pid(pid)
    t = time.monotonic() + 2
    while time.monotonic() < t:
        reap()
        if not descendants():
            break
        time.sleep(0.02)
    reap()
    return left


def stop_proc(p, sig=signal.SIGTERM, timeout=10.0):
    """Send sig to a Popen, wait up to timeout, then SIGKILL. Return rc."""
    if p is None or p.poll() is not None:
        return None if p is None else p.returncode
    kill_pid(p.pid, sig)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"pid {p.pid} ignored signal {sig} for {timeout}s: SIGKILL")
        kill_pid(p.pid)
        return p.wait(5)


def smaps_rollup(pid):
    """{'Pss':KiB,'Rss':KiB,'Private':KiB,...} from /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    out["Private"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


# Mappings that every process on any host shares (glibc): counted at their
# measured PSS in pss_solo(); everything else at its full RSS.
_EVERYONES = ("libc.so", "libm.so", "ld-linux", "[vdso]", "[vvar]")


def pss_solo(pid):
    """Pessimistic PSS in KiB: the PSS the process would have if no other
    process mapped any of its files except glibc (e.g. an agent host where
    rs-agent is the only user of libzmq, libstdc++, ...): every mapping at
    its Rss, glibc at its measured Pss. Also returns the Rss per file."""
    per = {}
    total = 0
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if not p[0].endswith(":"):          # a mapping header
                name = os.path.basename(p[5]) if len(p) > 5 else "[anon]"
                continue
            if p[0] == "Rss:":
                per[name] = per.get(name, 0) + int(p[1])
                if not name.startswith(_EVERYONES):
                    total += int(p[1])
            elif p[0] == "Pss:" and name.startswith(_EVERYONES):
                total += int(p[1])
    return total, per


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1]
    return None


# --- keys -------------------------------------------------------------------

def wait_keys(dbdir, timeout=5.0):
    """Paths of admin.cred and join.token in rsd's --db folder, once both
    exist (rsd writes them before its --ready-fd line; this only guards a
    reader that did not wait for that line)."""
    cred = os.path.join(dbdir, "admin.cred")
    token = os.path.join(dbdir, "join.token")
    deadline = time.monotonic() + timeout
    while not (os.path.exists(cred) and os.path.exists(token)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"rsd wrote no admin.cred/join.token in {dbdir}")
        time.sleep(0.01)
    return cred, token


def rsd_sec_args(insecure):
    return ["--insecure"] if insecure else []


def agent_sec_args(insecure, token):
    """rs-agent's trust options: enrol with the join token (ignored once
    STATE_DIR/agent.key exists), or plaintext."""
    return ["--insecure"] if insecure else ["--token-file", token]


def ctl_sec_args(insecure, cred):
    return ["--insecure"] if insecure else ["--cred", cred]


# --- a one-node rs cluster ---------------------------------------------------

class Cluster:
    def __init__(self, tmp, build=None, node="n1", env=None, insecure=False,
                 rsd_args=(), agent_args=()):
        self.tmp = tmp
        self.bin = binaries(build)
        self.node = node
        self.env = env
        self.insecure = insecure
        self.rsd_args = list(rsd_args)
        self.agent_args = list(agent_args)
        self.rsd = self.agent = None
        self.control = self.agents_ep = self.metrics = None
        self.cred = self.token = None
        for k, v in self.bin.items():
            if not os.access(v, os.X_OK):
                raise SystemExit(f"{k} not found at {v} (build rs, or set RS_BUILD)")

    def start(self):
        st = os.path.join(self.tmp, "rs")
        os.makedirs(os.path.join(st, "agent"), exist_ok=True)
        r, w = os.pipe()
        self.rsd = subprocess.Popen(
            [self.bin["rsd"], "--db", os.path.join(st, "rs.db"),
             "--agents", "tcp://127.0.0.1:*", "--control", "tcp://127.0.0.1:*",
             "--ready-fd", str(w), *rsd_sec_args(self.insecure),
             *self.rsd_args],
            pass_fds=(w,), stdin=subprocess.DEVNULL,
            stdout=open(os.path.join(st, "rsd.log"), "ab"), stderr=subprocess.STDOUT,
            env=self.env)
        os.close(w)
        line = b""
        with os.fdopen(r, "rb") as f:
            line = f.readline()   # EOF if rsd died
        kv = dict(x.split("=", 1) for x in line.decode().split())
        if "control" not in kv:
            raise RuntimeError("rsd did not get ready: " + self.read_log("rsd.log"))
        self.control, self.agents_ep = kv["control"], kv["agents"]
        self.metrics = kv.get("metrics")    # HOST:PORT with --metrics
        if not self.insecure:
            self.cred, self.token = wait_keys(st)
        self.agent = subprocess.Popen(
            [self.bin["agent"], "--node", self.node, "--rsd", self.agents_ep,
             "--state-dir", os.path.join(st, "agent"),
             *agent_sec_args(self.insecure, self.token), *self.agent_args],
            stdin=subprocess.DEVNULL,
            stdout=open(os.path.join(st, "agent.log"), "ab"), stderr=subprocess.STDOUT,
            env=self.env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rc, out = self.ctl("--json", "nodes", check=False)
            if rc == 0:
                nodes = json.loads(out).get("nodes", [])
                if any(n.get("name") == self.node and n.get("state") == "up" for n in nodes):
                    return self
            if self.agent.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("agent did not come up: " + self.read_log("agent.log"))

    def read_log(self, name):
        try:
            with open(os.path.join(self.tmp, "rs", name), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def ctl_argv(self):
        """rsctl with this cluster's endpoint and credential (or --insecure):
        the prefix of every rsctl command line."""
        return [self.bin["rsctl"], "-s", self.control,
                *ctl_sec_args(self.insecure, self.cred)]

    def ctl(self, *args, check=True, timeout=60):
        p = subprocess.run([*self.ctl_argv(), *args],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"rsctl {' '.join(args)}: rc {p.returncode}: "
                               f"{p.stdout.strip()} {p.stderr.strip()}")
        return p.returncode, p.stdout

    def status(self):
        return json.loads(self.ctl("--json", "status")[1])

    def stop(self):
        """SIGTERM the agent (stops its services), wait, then SIGTERM rsd."""
        rc_a = stop_proc(self.agent)
        rc_r = stop_proc(self.rsd)
        return rc_a, rc_r
