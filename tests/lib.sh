# lib.sh - helpers of the shell-driven tests (boot.sh, metrics.sh, netns.sh).
# Source it after `set -euo pipefail`. Under pipefail, `CMD | grep -q P`
# fails when grep's exit at the first match kills a CMD still writing
# (SIGPIPE): for output longer than one write, `grep -q P < <(CMD)`.

# fail MESSAGE: the test fails with MESSAGE on stderr.
fail() { echo "FAIL: $*" >&2; exit 1; }

# gone PID: the process has exited (a killed daemon's ports are free)
gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1). A wait on a condition, with a deadline.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# PIDS: what the test started; bg CMD...: start CMD in the background,
# remember its pid (in BG_PID too), and keep bash from reporting its death.
PIDS=()
bg() {
    "$@" &
    BG_PID=$!
    PIDS+=("$BG_PID")
    disown "$BG_PID"
}

# kill_started: SIGKILL every pid in PIDS (by pid, never by name), then
# the keeper of every agent state dir under $TMP (run/keeper.pid): an
# agent's services live in its keeper, which outlives a killed agent, and
# die with the keeper (PR_SET_PDEATHSIG).
kill_started() {
    local p f
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for f in "${TMP:-/nonexistent}"/*/run/keeper.pid; do
        if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
    done
    remove_cgroups
}

# remove_cgroups: the cgroups the keepers of the state dirs under $TMP
# made (their STATE_DIR/run/cgroup names the node's subtree, docs/design.md
# "A cgroup per instance"): what they hold is killed, then they are
# removed. A keeper killed by kill_started leaves them.
remove_cgroups() {
    local f sub i
    for f in "${TMP:-/nonexistent}"/*/run/cgroup; do
        [ -f "$f" ] || continue
        sub=$(cat "$f")
        case $sub in /sys/fs/cgroup/*/rs.*|/sys/fs/cgroup/rs.*) ;; *) continue ;; esac
        [ -d "$sub" ] || continue
        for i in "$sub"/*/; do
            [ -d "$i" ] || continue
            echo 1 >"$i/cgroup.kill" 2>/dev/null || true
            wait_for 2 bash -c "! grep -q 'populated 1' '$i/cgroup.events'" || true
            rmdir "$i" 2>/dev/null || true
        done
        rmdir "$sub" 2>/dev/null || true
    done
    # the subtrees on v1 hierarchies (limits), empty once the v2 ones are
    for f in "${TMP:-/nonexistent}"/*/run/cgroup.v1; do
        [ -f "$f" ] || continue
        while read -r sub; do
            case $sub in /sys/fs/cgroup/*/rs.*) ;; *) continue ;; esac
            [ -d "$sub" ] || continue
            for i in "$sub"/*/; do
                [ -d "$i" ] && rmdir "$i" 2>/dev/null || true
            done
            rmdir "$sub" 2>/dev/null || true
        done <"$f"
    done
}

# test_tmpdir NAME: TMP, a new directory /tmp/rs-NAME.XXXXXX, and an EXIT
# trap that kills what the test started (kill_started), runs the test's
# test_cleanup if it has one, and, when the test failed, its on_failure if
# it has one and the last LOG_LINES (20) lines of $TMP/*.log and of
# $FAIL_LOGS (globs); then removes $TMP and exits with the test's code.
test_tmpdir() {
    TMP=$(mktemp -d "/tmp/rs-$1.XXXXXX")
    trap test_exit EXIT
}
test_exit() {
    local rc=$?
    kill_started
    if declare -F test_cleanup >/dev/null; then test_cleanup || true; fi
    if [ $rc -ne 0 ]; then
        if declare -F on_failure >/dev/null; then on_failure || true; fi
        # shellcheck disable=SC2086 # FAIL_LOGS holds globs
        echo "--- FAILED; logs:"; tail -n "${LOG_LINES:-20}" "$TMP"/*.log ${FAIL_LOGS:-} 2>/dev/null || true
    fi
    rm -rf "$TMP"
    exit $rc
}

# cgroup2_usable: CGMNT, the first cgroup2 mount of a hierarchy's root,
# and 0 if this test may make cgroups there; else 1 with NOCG saying why
# (none mounted, not root, or RS_TEST_NO_CGROUPS set).
cgroup2_usable() {
    NOCG=
    CGMNT=$(awk '$9 == "cgroup2" && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
    if [ -z "$CGMNT" ]; then NOCG="no cgroup2 hierarchy mounted"
    elif ! mkdir "$CGMNT/rs-probe.$$" 2>/dev/null; then NOCG="cannot create cgroups in $CGMNT (not root?)"
    else rmdir "$CGMNT/rs-probe.$$"
        [ -z "${RS_TEST_NO_CGROUPS:-}" ] || NOCG="RS_TEST_NO_CGROUPS is set"
    fi
    [ -z "$NOCG" ]
}

# free_port: a TCP port on 127.0.0.1 the OS gave a socket closed just now
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# serves PORT [PATH]: an HTTP GET of 127.0.0.1:PORT/PATH succeeds
serves() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$1/${2:-}"; }
# inst FIELD LABEL: FIELD of LABEL's first instance (jq-less JSON;
# "reason": its last exit's)
inst() {
    "${RSCTL[@]}" --json status "$2" | python3 -c '
import json, sys
f = sys.argv[1]
s = json.load(sys.stdin)["services"][0]
i = (s.get("instances") or [{}])[0]
v = i.get("last_exit", {}).get("reason") if f == "reason" else i.get(f)
print("" if v is None else v)' "$1"
}
# has_event KIND WHAT LABEL: LABEL has an event of KIND whose detail has WHAT
has_event() {
    "${RSCTL[@]}" --json events "$3" | python3 -c '
import json, sys
kind, what = sys.argv[1], sys.argv[2]
sys.exit(0 if any(e["kind"] == kind and what in (e.get("detail") or "")
                  for e in json.load(sys.stdin)["events"]) else 1)' "$1" "$2"
}
# agent_metric NAME LABELS: the value of that series on the agent at
# AMETRICS ("" if none)
agent_metric() {
    local m
    m=$(curl -sf "http://$AMETRICS/metrics") || return 0
    awk -v n="$1" -v l="$2" 'index($1, n "{") == 1 && index($1, l) && !v { v = $2 }
        END { print v }' <<<"$m"
}

# ready_field FILE KEY: the value of KEY=VALUE in a --ready-fd line.
ready_field() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$1" | tr -d '\n'; }

# start_rsd [ARG...]: rsd with ARGs, its control, agents and metrics
# endpoints on loopback ports the OS picks (its db, rsd.log and ready file
# in $TMP), once it is serving. Sets CONTROL, AGENTS, METRICS (HOST:PORT)
# and RSCTL (rsctl -s CONTROL, an array); exports RS_CRED, the admin
# credential rsd made beside its db.
start_rsd() { start_rsd_at 'tcp://127.0.0.1:*' 'tcp://127.0.0.1:*' rsd.log "$@"; }

# start_rsd_at CONTROL AGENTS LOG [ARG...]: rsd with ARGs on the given
# endpoints (tcp://127.0.0.1:* picks a port; the endpoints a first call
# set restart it in place), its db in $TMP, its log appended to $TMP/LOG,
# metrics on a port the OS picks. Sets RSD (its pid), CONTROL, AGENTS,
# METRICS and RSCTL (as start_rsd); exports RS_CRED.
start_rsd_at() {
    local control=$1 agents=$2 log=$3; shift 3
    bg "$BUILD/rsd/rsd" --db "$TMP/rs.db" --control "$control" --agents "$agents" \
        --metrics 127.0.0.1:0 "$@" --ready-fd 3 3>"$TMP/ready" 2>>"$TMP/$log"
    RSD=$BG_PID
    wait_for 10 grep -q metrics= "$TMP/ready" || fail "rsd did not get ready"
    CONTROL=$(ready_field "$TMP/ready" control)
    AGENTS=$(ready_field "$TMP/ready" agents)
    METRICS=$(ready_field "$TMP/ready" metrics)
    export RS_CRED="$TMP/admin.cred"
    RSCTL=("$BUILD/ctl/rsctl" -s "$CONTROL")
}

# start_agent NODE [ARG...]: an rs-agent named NODE joined to $AGENTS with
# rsd's token (state dir $TMP/NODE, log $TMP/NODE.log) serving its own
# metrics on a port the OS picks, once it does (AMETRICS: HOST:PORT); its
# pid in BG_PID. It need not have registered yet (see node_up).
start_agent() {
    local node=$1; shift
    bg "$BUILD/agent/rs-agent" --node "$node" --rsd "$AGENTS" --state-dir "$TMP/$node" \
        --token-file "$TMP/join.token" --metrics 127.0.0.1:0 "$@" \
        --ready-fd 3 3>"$TMP/$node.ready" 2>"$TMP/$node.log"
    wait_for 10 grep -q metrics= "$TMP/$node.ready" || fail "rs-agent $node did not serve metrics"
    AMETRICS=$(ready_field "$TMP/$node.ready" metrics)
}

# node_up NODE: rsd lists NODE up.
node_up() {
    "${RSCTL[@]}" --json nodes | python3 -c '
import json, sys
sys.exit(0 if any(n.get("name") == sys.argv[1] and n.get("state") == "up"
                  for n in json.load(sys.stdin)["nodes"]) else 1)' "$1"
}

# start_cluster NODE [RSD_ARG...]: start_rsd RSD_ARGs, then start_agent
# NODE, and waits until rsd has NODE up.
start_cluster() {
    local node=$1; shift
    start_rsd "$@"
    start_agent "$node"
    wait_for 10 node_up "$node" || fail "agent $node did not register"
}

# start_prometheus CONFIG: a Prometheus server with CONFIG (its tsdb and
# prometheus.log in $TMP) on a free loopback port, once it is ready; sets
# PROM (HOST:PORT). (Prometheus cannot report a port it picked itself: the
# port is one the OS gave a socket closed just before.)
start_prometheus() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    bg prometheus --config.file="$1" --storage.tsdb.path="$TMP/tsdb" \
        --web.listen-address="127.0.0.1:$port" 2>"$TMP/prometheus.log"
    PROM=127.0.0.1:$port
    wait_for 30 curl -sf "http://$PROM/-/ready" || fail "Prometheus did not get ready"
}

# alert_check NAME KEY VALUE firing|gone: whether the Prometheus at $PROM
# has alert NAME firing for the series whose label KEY is VALUE (gone: it
# answers, and has it neither firing nor pending). alert and alert_gone
# are the two cases. The answer is left in $TMP/alerts.json.
alert_check() {
    curl -sf "http://$PROM/api/v1/alerts" >"$TMP/alerts.json" || return 2
    python3 -c '
import json, sys
name, key, value, want = sys.argv[1:5]
alerts = json.load(open(sys.argv[5]))["data"]["alerts"]
mine = [a["state"] for a in alerts
        if a["labels"].get("alertname") == name and a["labels"].get(key) == value]
sys.exit(0 if ("firing" in mine if want == "firing" else not mine) else 1)' \
        "$1" "$2" "$3" "$4" "$TMP/alerts.json"
}
alert() { alert_check "$1" "$2" "$3" firing; }
alert_gone() { alert_check "$1" "$2" "$3" gone; }
