#!/usr/bin/env python3
"""Who held the slow control answers of a bench/scale.py run.

Usage: bench/slowlog.py [--ms 5] CTLPROBE.LOG [CTLPROBE.LOG ...]

Each log is rs-ctlprobe's (RS_CTLPROBE_SLOW_MS=N, kept with scale.py's
--keep: TMP/rs-bench-scale-*/nNNNN/ctlprobe.log). For each answer of --ms
or more, rs-ctlprobe wrote the round trip, the time rsd's threads and its
own waited for a CPU in it, and what each of rsd's threads ran in it
("ran:"). This sorts them by what the round trip was spent on:

  agents' I/O    rsd's agents' ZeroMQ thread (ZMQbg/IO/0) ran 2 ms or more
                 of it: rsd's loop waited behind its own reader
  not rsd        rsd's threads ran under 1.5 ms all together: the core was
                 someone else's (kernel threads, another process, the host)
  rsd            the rest: rsd's loop (or its checkpointer) at work

and prints a line a log: the count of each, and the worst of each.
"""
import re
import sys

SLOW = re.compile(r"slow (\w+) sent [\d.]+ took ([\d.]+) ms")
RAN = re.compile(r"(\S+) ([\d.]+)")


def classify(path, ms):
    counts = {"agents' I/O": [], "not rsd": [], "rsd": []}
    lines = open(path, errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        m = SLOW.match(line)
        if not m or float(m.group(2)) < ms:
            continue
        ran = {}
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.lstrip().startswith("ran:"):
            for name, v in RAN.findall(nxt.split("ran:", 1)[1]):
                ran[name] = ran.get(name, 0.0) + float(v)
        took = float(m.group(2))
        if ran.get("ZMQbg/IO/0", 0.0) >= 2:
            counts["agents' I/O"].append(took)
        elif sum(ran.values()) < 1.5:
            counts["not rsd"].append(took)
        else:
            counts["rsd"].append(took)
    return counts


def main(argv):
    ms = 5.0
    if len(argv) >= 2 and argv[0] == "--ms":
        ms, argv = float(argv[1]), argv[2:]
    if not argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for path in argv:
        c = classify(path, ms)
        n = sum(len(v) for v in c.values())
        parts = ", ".join(f"{k} {len(v)}" + (f" (worst {max(v):.1f} ms)" if v else "")
                          for k, v in c.items())
        print(f"{path}: {n} answers of {ms:g} ms or more: {parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
