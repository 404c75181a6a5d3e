#!/usr/bin/env python3
"""Scaling curves of bench/scale.py (issue 12): rsd's steady CPU and RSS,
registration and recovery times, and control latency against the number
of agents, as one PNG.

Usage: bench/plot.py OUT.png SCALE.json [SCALE.json ...]

Each SCALE.json is what `bench/scale.py --json` wrote (one or more runs,
any agent counts); runs of the same count are merged (the last wins).
Needs matplotlib (Debian: python3-matplotlib); re-exec's /usr/bin/python3
when the running python lacks it.
"""
import json
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    sys.exit("bench/plot.py: needs matplotlib (apt install python3-matplotlib)")


def runs(paths):
    by_n = {}
    for p in paths:
        with open(p) as f:
            for r in json.load(f).get("runs", []):
                by_n[r["agents"]] = r
    return [by_n[n] for n in sorted(by_n)]


def get(r, *keys):
    for k in keys:
        if not isinstance(r, dict) or k not in r:
            return None
        r = r[k]
    return r


def many_lost(r):
    """The key of the run's loss of several nodes (loss_10, loss_100...)."""
    ks = [k for k in r if k.startswith("loss_") and k != "loss_1"]
    return ks[0] if ks else "loss_many"


def series(rs, *keys):
    pts = [(r["agents"], get(r, *(many_lost(r) if k == "loss_many" else k for k in keys)))
           for r in rs]
    return [p for p in pts if isinstance(p[1], (int, float))]


def plot(ax, rs, title, ylabel, lines):
    for label, keys in lines:
        pts = series(rs, *keys)
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=label)
    ax.set_title(title)
    ax.set_xlabel("agents (30 instances each)")
    ax.set_ylabel(ylabel)
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rs = runs(sys.argv[2:])
    if not rs:
        sys.exit("bench/plot.py: no runs in " + " ".join(sys.argv[2:]))
    fig, axs = plt.subplots(2, 2, figsize=(11, 8))
    plot(axs[0][0], rs, "rsd, steady state", "% of one core / MiB",
         [("CPU %", ("steady", "cpu_pct")), ("RSS MiB", ("steady", "rss_mib_median")),
          ("peak RSS at restart, MiB", ("restart", "rsd_peak_rss_mib"))])
    plot(axs[0][1], rs, "registration and recovery", "seconds",
         [("cold: all welcomed", ("cold", "welcomed_s")),
          ("cold: all running", ("cold", "running_s")),
          ("kill -9: all welcomed", ("restart", "welcomed_s")),
          ("kill -9: same pids in rsd", ("restart", "running_same_pid_s"))])
    plot(axs[1][0], rs, "node loss (TTL 5 s)", "seconds",
         [("1 node: running elsewhere", ("loss_1", "running_s")),
          ("10 % (at most 100) of the nodes: running elsewhere", ("loss_many", "running_s")),
          ("10 % (at most 100): rsd's status agrees", ("loss_many", "moved_s"))])
    plot(axs[1][1], rs, "control round trips, steady (p99)", "ms",
         [("status LABEL", ("control", "steady", "status", "p99_ms")),
          ("lookup LABEL", ("control", "steady", "lookup", "p99_ms")),
          ("status LABEL, during kill -9", ("control", "restart", "status", "p99_ms"))])
    m = get(json.load(open(sys.argv[2])), "machine") or {}
    fig.suptitle("rs at scale: one rsd, N simulated agents (bench/scale.py)"
                 + (f" - {m.get('nproc')} cores" if m.get("nproc") else ""))
    fig.tight_layout()
    fig.savefig(sys.argv[1], dpi=90)
    print(f"wrote {sys.argv[1]}")


if __name__ == "__main__":
    main()
