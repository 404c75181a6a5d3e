#!/bin/bash
# docs.sh - docs/cli.md against the sources, without building anything:
#  - its table of event kinds lists every kind rsd records, and no other:
#    the kind literals of rsd_event() calls (rsd/) and of a node's moves
#    (node_state_event),
#    the instance decisions (lib/instsm.c), the agents' event kinds
#    (lib/msg.c) and the verbs that change something (rsd_op_commit
#    records the verb's name);
#  - the spec limits it states are lib/model.h's.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 missing"

python3 - "$SRC" <<'EOF'
import glob, re, sys

src = sys.argv[1]
def read(p):
    with open(f"{src}/{p}") as f:
        return f.read()

def call_args(text, name):
    """The argument lists of every call of name() in text, split at top-level commas."""
    for m in re.finditer(r"\b%s\s*\(" % name, text):
        i, depth, quoted, cur, args = m.end(), 1, False, "", []
        while depth:
            c = text[i]
            if c == '"' and text[i - 1] != "\\":
                quoted = not quoted
            if not quoted and c in "([":
                depth += 1
            if not quoted and c in ")]":
                depth -= 1
            if depth and c == "," and depth == 1 and not quoted:
                args.append(cur.strip()); cur = ""
            elif depth:
                cur += c
            i += 1
        args.append(cur.strip())
        yield args

emitted = set()
for path in glob.glob(f"{src}/rsd/*.c"):
    text = open(path).read()
    for args in call_args(text, "rsd_event"):
        if len(args) > 4:
            emitted |= set(re.findall(r'"([a-z-]+)"', args[4]))
# node_state_event(): the kind of a node's move, then rsd_event(..., kind, ...)
node_fn = re.search(r"\n(?:static )?void node_state_event\(.*?\n\}\n", read("rsd/agents.c"),
                    re.S).group(0)
for rhs in re.findall(r"\bkind = ([^;]*);", node_fn):
    emitted |= set(re.findall(r'"([a-z-]+)"', rhs))
emitted |= set(re.findall(r'fx->event = "([a-z-]+)"', read("lib/instsm.c")))
msg = read("lib/msg.c")
def names(table):
    body = re.search(r"%s\[[^]]*\] = \{(.*?)\};" % table, msg, re.S).group(1)
    return set(re.findall(r'"([a-z-]+)"', body)) - {"none"}
emitted |= names("kind_names")
read_only = {"status", "nodes", "lookup", "events", "ping", "logs", "cred-list", "history",
             "upgrade-plan", "describe", "export"}
emitted |= names("verb_names") - read_only

cli = read("docs/cli.md")
table = re.search(r"\n\| kinds \| from \|\n\|---\|---\|\n((?:\|.*\n)+)", cli)
if not table:
    sys.exit("FAIL: docs/cli.md has no '| kinds | from |' table")
documented = set()
for row in table.group(1).splitlines():
    documented |= set(re.findall(r"`([a-z-]+)`", row.split("|")[1]))
missing, extra = emitted - documented, documented - emitted
if missing:
    sys.exit("FAIL: docs/cli.md's event kinds lack: " + " ".join(sorted(missing)))
if extra:
    sys.exit("FAIL: docs/cli.md lists event kinds rsd never records: " + " ".join(sorted(extra)))
print(f"docs/cli.md: {len(documented)} event kinds, as rsd records them")

model = read("lib/model.h")
argv_max = int(re.search(r"#define RS_ARGV_MAX\s+(\d+)", model).group(1))
arg_max = int(re.search(r"#define RS_ARG_MAX\s+(\d+)", model).group(1))
for want in (f"at most {argv_max} entries", f"{argv_max - 1} arguments",
             f"{arg_max - 1} bytes", "RS_ARGV_MAX"):
    if want not in cli:
        sys.exit(f"FAIL: docs/cli.md does not say '{want}' (lib/model.h: "
                 f"RS_ARGV_MAX {argv_max}, RS_ARG_MAX {arg_max})")
print(f"docs/cli.md: the limits are lib/model.h's ({argv_max} entries, {arg_max - 1} bytes)")
EOF
