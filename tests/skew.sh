#!/bin/bash
# skew.sh BUILD_DIR - the version-skew policy with real binaries (docs/upgrade.md).
#
# Until a second release exists (RELEASES), "the previous release" is HEAD
# built as another version (cmake -DRS_VERSION_OVERRIDE): 0.(M-1).99, one
# minor version behind, inside the policy; 0.(M+2).0, two ahead, outside it.
# Checked:
#  - HEAD's rsd with the previous rs-agent and rsctl: up, crash -> restart,
#    status, down; then the agent upgraded in place (kill -9, HEAD's binary
#    on the same state dir): the service keeps its pid; reload of a
#    service on the previous agent: refused (14) before anything is sent;
#  - status from both rsctls against each rsd: the same --json bytes and
#    the same table (HEAD's rsctl asks for rows, RS_FEAT_ROWS; an rsd
#    without them answers JSON);
#  - the previous rsd (on the same database) with HEAD's agent and rsctl
#    (a verb it does not know, describe, delete, export, reload: exit 9
#    saying so, nothing deleted);
#    when HEAD's schema is newer, the previous rsd first refuses the file
#    untouched, then runs on it with HEAD's migration steps undone;
#  - health probes (RS_FEAT_PROBES): HEAD's rsctl refuses up and apply
#    with probes against the previous rsd (exit 9), which would run them
#    without; nothing is created; the same for resource limits
#    (RS_FEAT_LIMITS: --memory-max, limits:, edit --pids-max) and for
#    privilege profiles (RS_FEAT_PROFILE: --read-only-root, profile:,
#    edit --nice)
#  - usage (RS_FEAT_USAGE): HEAD's rsctl top refuses the previous rsd
#    (exit 9); status -o wide shows "-" for its usage
#  - logs (RS_FEAT_LOGS): plain lines every way; HEAD's rsctl refuses
#    --since/--previous/--timestamps (exit 9, saying whom to upgrade)
#    for the previous agent, for HEAD's agent still driving the previous
#    keeper, and through the previous rsd; the previous rsctl gets plain
#    lines and the documented --json keys from a log HEAD's keeper stamps;
#  - a peer two minor versions away: refused with the documented message
#    (agent log, rsctl exit 14), counted in rs_version_refused_total, and
#    nothing else disturbed; upgrade-plan says who is outside;
#  - rsd on a database of a newer schema: refuses, says how to restore, and
#    leaves the file as it was.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d /tmp/rs-skew.XXXXXX)
cleanup() {
    local rc=$?
    kill_started
    if [ $rc -ne 0 ]; then echo "--- FAILED; logs:"; tail -n 15 "$TMP"/*.log 2>/dev/null || true; fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

HEAD_V=$("$BUILD/rsd/rsd" --version | cut -d' ' -f2)
MAJ=${HEAD_V%%.*}; REST=${HEAD_V#*.}; MIN=${REST%%.*}
[ "$MIN" -ge 1 ] || fail "this test wants a minor version >= 1 (HEAD is $HEAD_V)"
PREV_V="$MAJ.$((MIN - 1)).99"
FAR_V="$MAJ.$((MIN + 2)).0"

# build HEAD as another version: only the four programs, no tests
build_as() {
    local v=$1 dir="$BUILD/skew-$1"
    cmake -S "$TOP" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRS_TESTS=OFF \
        -DRS_SANITIZE=OFF -DRS_VERSION_OVERRIDE="$v" >/dev/null
    cmake --build "$dir" -j"$(nproc)" --target rsd rs-agent rs-keeper rsctl >/dev/null
    [ "$("$dir/rsd/rsd" --version)" = "rsd $v" ] || fail "build as $v: wrong version"
}
# the previous release from RELEASES, if one is one minor version behind
# HEAD and its commit is in this clone: build that commit as it was
prev_release() {
    local v c
    while read -r v c _; do
        case $v in ''|\#*) continue;; esac
        [ "${v%%.*}" = "$MAJ" ] || continue
        local r=${v#*.}
        [ "${r%%.*}" = "$((MIN - 1))" ] || continue
        git -C "$TOP" cat-file -e "$c^{commit}" 2>/dev/null || continue
        echo "$v $c"
    done <"$TOP/RELEASES" | tail -1
}
build_release() {   # build_release VERSION COMMIT: that commit's tree, built
    local dir="$BUILD/release-$1"
    if [ ! -x "$dir/build/rsd/rsd" ]; then
        rm -rf "$dir" && mkdir -p "$dir/src"
        git -C "$TOP" archive "$2" | tar -x -C "$dir/src"
        cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DRS_TESTS=OFF -DRS_SANITIZE=OFF >/dev/null
        cmake --build "$dir/build" -j"$(nproc)" --target rsd rs-agent rs-keeper rsctl >/dev/null
    fi
    [ "$("$dir/build/rsd/rsd" --version)" = "rsd $1" ] || fail "release $1 ($2) builds as another version"
}
REL=$(prev_release)
if [ -n "$REL" ]; then
    PREV_V=${REL%% *}
    build_release "$PREV_V" "${REL#* }"
    PREV="$BUILD/release-$PREV_V/build"
    echo "skew: the previous release is $PREV_V (${REL#* })"
else
    build_as "$PREV_V"
    PREV="$BUILD/skew-$PREV_V"
    echo "skew: no release one minor version behind $HEAD_V in RELEASES: HEAD built as $PREV_V"
fi
build_as "$FAR_V"
FAR="$BUILD/skew-$FAR_V"

start_rsd() {   # start_rsd BUILD: on $TMP/rs.db, the endpoints of the last run
    bg "$1/rsd/rsd" --db "$TMP/rs.db" --control "${CONTROL:-tcp://127.0.0.1:*}" \
        --agents "${AGENTS:-tcp://127.0.0.1:*}" --metrics 127.0.0.1:0 --node-ttl 30 \
        --ready-fd 3 3>"$TMP/ready" 2>>"$TMP/rsd.log"
    RSD=$BG_PID
    wait_for 10 grep -q metrics= "$TMP/ready" || fail "rsd ($1) did not get ready"
    CONTROL=$(sed 's/.*control=\([^ ]*\).*/\1/' "$TMP/ready")
    AGENTS=$(sed 's/.*agents=\([^ ]*\).*/\1/' "$TMP/ready")
    METRICS=$(sed 's/.*metrics=\([^ ]*\).*/\1/' "$TMP/ready" | tr -d '\n')
    : >"$TMP/ready"
}
start_agent() {   # start_agent BUILD NODE
    bg "$1/agent/rs-agent" --node "$2" --rsd "$AGENTS" --state-dir "$TMP/$2" \
        --token-file "$TMP/join.token" 2>>"$TMP/$2.log"
    AGENT=$BG_PID
}
ctl() { local b=$1; shift; "$b/ctl/rsctl" -s "$CONTROL" "$@"; }
# a status table without its UPTIME column (two runs are seconds apart;
# the columns before it are as wide in both)
sans_uptime() { python3 -c '
import sys
t = sys.stdin.read().splitlines()
a, b = t[0].index("UPTIME"), t[0].index("LAST-EXIT")
print("\n".join(l[:a] + l[b:] for l in t))'; }
# status of everything from both rsctls: the same JSON, byte for byte
# (neither asks for rows with --json), and the same table (HEAD's from
# rows when rsd has RS_FEAT_ROWS, else from JSON; the previous one's from
# JSON). $1: a service the table must show running.
same_status() {
    ctl "$PREV" --json status >"$TMP/json.prev" || fail "--json status via rsctl $PREV_V"
    ctl "$BUILD" --json status >"$TMP/json.head" || fail "--json status via rsctl $HEAD_V"
    cmp -s "$TMP/json.prev" "$TMP/json.head" \
        || fail "--json status differs: $(cat "$TMP/json.prev") vs $(cat "$TMP/json.head")"
    ctl "$PREV" status >"$TMP/table.prev" || fail "status via rsctl $PREV_V"
    ctl "$BUILD" status >"$TMP/table.head" || fail "status via rsctl $HEAD_V"
    [ "$(sans_uptime <"$TMP/table.prev")" = "$(sans_uptime <"$TMP/table.head")" ] \
        || fail "the status tables differ:
$(cat "$TMP/table.prev")
---
$(cat "$TMP/table.head")"
    grep -q "^$1 *running " "$TMP/table.head" || fail "status does not show $1 running: $(cat "$TMP/table.head")"
}
node_up() { ctl "$BUILD" --json nodes | grep -q "\"name\":\"$1\",\"state\":\"up\""; }
pid_of() { ctl "$BUILD" --json lookup "$1" | sed 's/.*"pid":\([0-9]*\).*/\1/'; }
export RS_CRED="$TMP/admin.cred"
# HEAD's store migrations the previous release does not know, undone for
# its leg below (store/store.c; empty when the schemas are the same)
PREV_SCHEMA_DOWN=""
if [ "$PREV_V" = 0.2.0 ]; then   # schema 9; HEAD adds 10 (request ids), 11 (fence), 12 (no (label, seq) index of events), 13 (instances by node), 14 (reload_signal), 15 (revisions)
    PREV_SCHEMA_DOWN="DROP TABLE revision;
ALTER TABLE service DROP COLUMN reload_signal;
CREATE TABLE instance_12 (id INTEGER PRIMARY KEY,
 label TEXT NOT NULL, node TEXT NOT NULL DEFAULT '', generation INTEGER NOT NULL,
 pid INTEGER NOT NULL, state TEXT NOT NULL, restarts INTEGER NOT NULL,
 exit_code INTEGER NOT NULL, exit_signal INTEGER NOT NULL, exit_reason TEXT NOT NULL,
 exit_time_ms INTEGER NOT NULL, status TEXT NOT NULL DEFAULT '',
 started_ms INTEGER NOT NULL, ready_ms INTEGER NOT NULL, start_ticks INTEGER NOT NULL,
 standby INTEGER NOT NULL DEFAULT 0);
INSERT INTO instance_12 SELECT * FROM instance; DROP TABLE instance;
ALTER TABLE instance_12 RENAME TO instance;
CREATE INDEX instance_label ON instance (label);
CREATE TRIGGER instance_max_id AFTER INSERT ON instance BEGIN
 UPDATE meta SET value = max(value, NEW.id) WHERE key = 'instance_max_id'; END;
CREATE INDEX event_label_seq ON event (label, seq);
ALTER TABLE service DROP COLUMN fence;
DROP INDEX operation_req; ALTER TABLE operation DROP COLUMN req_id;
ALTER TABLE operation DROP COLUMN code; PRAGMA user_version = 9;"
fi

# --- HEAD's rsd, the previous agent and rsctl ---
start_rsd "$BUILD"
start_agent "$PREV" n1
wait_for 15 node_up n1 || fail "the previous agent ($PREV_V) did not come up with rsd $HEAD_V"
ctl "$PREV" nodes | grep -q "$PREV_V" || fail "rsctl nodes does not show n1's version"
ctl "$PREV" up s1 --settle 0.2 -- sleep 1000 >/dev/null || fail "up with the previous rsctl"
p1=$(pid_of s1)
kill -9 "$p1"
wait_for 10 bash -c "[ \"\$('$BUILD/ctl/rsctl' -s '$CONTROL' --json lookup s1 | sed 's/.*\"pid\":\([0-9]*\).*/\1/')\" != '$p1' ]" \
    || fail "s1 was not restarted by the previous agent"
wait_for 10 bash -c "'$PREV/ctl/rsctl' -s '$CONTROL' status s1 | grep -q running" \
    || fail "status via the previous rsctl: $(ctl "$PREV" status s1)"
# reload and kill need an agent that takes a Signal (0.3): refused with
# 14 naming the node and its version, before anything is sent
if ! "$PREV/ctl/rsctl" help reload >/dev/null 2>&1; then
    rc=0; ctl "$BUILD" reload s1 >"$TMP/reload.out" 2>&1 || rc=$?
    [ "$rc" -eq 14 ] || fail "reload via agent $PREV_V exited $rc, want 14: $(cat "$TMP/reload.out")"
    grep -q "node n1 runs rs-agent $PREV_V, which cannot take a signal" "$TMP/reload.out" \
        || fail "rsd's message: $(cat "$TMP/reload.out")"
    ctl "$BUILD" events s1 | grep -q ' reload ' && fail "a refused reload was recorded"
fi
ctl "$PREV" down s1 >/dev/null || fail "down via the previous rsctl"
# logs of the previous agent: plain lines; HEAD's rsctl refuses what needs
# the times and pids that agent does not keep
logs_is() { [ "$(ctl "$1" logs "$2")" = "$3" ]; }
# logs_refused BUILD LABEL WANT: each new option exits 9 saying WANT
# (only when the previous release predates them: HEAD built as another
# version has them all)
PREV_LOGS_OLD=1
if "$PREV/ctl/rsctl" help logs 2>/dev/null | grep -q -- --timestamps; then PREV_LOGS_OLD=""; fi
logs_refused() {
    local opt rc
    [ -n "$PREV_LOGS_OLD" ] || return 0
    for opt in --previous "--since 1h" --timestamps; do
        rc=0; ctl "$1" logs "$2" $opt >"$TMP/logs.out" 2>&1 || rc=$?
        [ "$rc" -eq 9 ] || fail "logs $2 $opt exited $rc, want 9: $(cat "$TMP/logs.out")"
        grep -q "$3" "$TMP/logs.out" || fail "logs $2 $opt: $(cat "$TMP/logs.out")"
    done
}
ctl "$PREV" up t1 --node n1 --settle 0.2 -- sh -c 'echo hello t1; exec sleep 1000' >/dev/null \
    || fail "up t1"
wait_for 10 logs_is "$PREV" t1 "hello t1" || fail "logs via rsctl $PREV_V: $(ctl "$PREV" logs t1)"
logs_is "$BUILD" t1 "hello t1" || fail "logs via rsctl $HEAD_V of a $PREV_V agent: $(ctl "$BUILD" logs t1)"
logs_refused "$BUILD" t1 "keeps no times or pids"
# the agent upgraded in place: same state dir, HEAD's binary; the service stays
ctl "$BUILD" up s2 --settle 0.2 -- sleep 1000 >/dev/null || fail "up s2"
p2=$(pid_of s2)
same_status s2   # HEAD's rsd: rows for HEAD's table, JSON for the rest
kill -9 "$AGENT"
start_agent "$BUILD" n1
N1AGENT=$AGENT
wait_for 15 bash -c "'$BUILD/ctl/rsctl' -s '$CONTROL' --json nodes | grep -q '\"agent_version\":\"$HEAD_V\"'" \
    || fail "n1 does not run $HEAD_V after the upgrade"
[ "$(pid_of s2)" = "$p2" ] || fail "s2 changed pid across the agent upgrade"
# HEAD's agent drives the previous keeper: its logs are unstamped still
logs_is "$BUILD" t1 "hello t1" || fail "logs after the agent upgrade: $(ctl "$BUILD" logs t1)"
logs_refused "$BUILD" t1 "keeps no times or pids"
# a node of HEAD's (its own keeper): stamped logs; the previous rsctl gets
# the plain lines and its documented --json keys
start_agent "$BUILD" n3
wait_for 15 node_up n3 || fail "n3 ($HEAD_V) did not come up"
ctl "$BUILD" up t3 --node n3 --settle 0.2 -- sh -c 'echo hello t3; exec sleep 1000' >/dev/null \
    || fail "up t3"
wait_for 10 logs_is "$BUILD" t3 "hello t3" || fail "logs t3: $(ctl "$BUILD" logs t3)"
logs_is "$PREV" t3 "hello t3" || fail "logs via rsctl $PREV_V of a stamped log: $(ctl "$PREV" logs t3)"
ctl "$PREV" --json logs t3 | python3 -c '
import json, sys
o = json.load(sys.stdin)
sys.exit(0 if sorted(o) == ["data", "instance", "next", "node"] and o["data"] == "hello t3\n" else 1)' \
    || fail "--json logs via rsctl $PREV_V: $(ctl "$PREV" --json logs t3)"
ctl "$BUILD" logs t3 --timestamps | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z hello t3$' \
    || fail "logs --timestamps: $(ctl "$BUILD" logs t3 --timestamps)"
ctl "$BUILD" upgrade-plan >"$TMP/plan" || fail "upgrade-plan says outside the policy: $(cat "$TMP/plan")"

# --- a peer two minor versions away: refused, nothing else disturbed ---
# a new host enrolling with a build two minor versions ahead
start_agent "$FAR" n2
wait_for 15 grep -q "too new for rsd $HEAD_V" "$TMP/n2.log" \
    || fail "the $FAR_V agent was not told why: $(tail -3 "$TMP/n2.log")"
grep -q "upgrade rsd first" "$TMP/n2.log" || fail "the refusal does not say what to upgrade first"
node_up n2 && fail "the $FAR_V agent was admitted"
# an enrolled host upgraded too far: its Hello is refused, its services
# keep running in its keeper, the right binary brings it back
kill -9 "$N1AGENT"
start_agent "$FAR" n1
FARAGENT=$AGENT
wait_for 15 grep -q "rsd refuses this agent: rs-agent $FAR_V is too new" "$TMP/n1.log" \
    || fail "the $FAR_V agent on n1 was not refused: $(tail -3 "$TMP/n1.log")"
rc=0; ctl "$FAR" status >"$TMP/far.out" 2>&1 || rc=$?
[ "$rc" -eq 14 ] || fail "rsctl $FAR_V exited $rc, want 14: $(cat "$TMP/far.out")"
grep -q "rsctl $FAR_V is too new for rsd $HEAD_V" "$TMP/far.out" || fail "rsctl's message: $(cat "$TMP/far.out")"
curl -sf "http://$METRICS/metrics" >"$TMP/metrics.txt" || fail "GET /metrics"
grep -qE '^rs_version_refused_total\{peer="rs-agent"\} [1-9]' "$TMP/metrics.txt" \
    || fail "rs_version_refused_total did not count the agent"
grep -qE '^rs_version_refused_total\{peer="rsctl"\} [1-9]' "$TMP/metrics.txt" \
    || fail "rs_version_refused_total did not count rsctl"
ctl "$BUILD" events -n 100 >"$TMP/events.txt"
[ "$(grep -c version-refused "$TMP/events.txt")" -ge 2 ] \
    || fail "no version-refused events: $(ctl "$BUILD" events -n 10)"
[ "$(pid_of s2)" = "$p2" ] && kill -0 "$p2" || fail "s2 disturbed by the refused peers"
kill -9 "$FARAGENT"
welcomed=$(grep -c "welcomed by rsd" "$TMP/n1.log" || true)
start_agent "$BUILD" n1
wait_for 15 bash -c "[ \$(grep -c 'welcomed by rsd' '$TMP/n1.log') -gt $welcomed ]" \
    || fail "n1 with $HEAD_V again was not welcomed"
[ "$(pid_of s2)" = "$p2" ] && kill -0 "$p2" || fail "s2 lost after the refused agent"

# --- the previous rsd (same database) with HEAD's agent and rsctl ---
kill -9 "$RSD"
if [ -n "$PREV_SCHEMA_DOWN" ]; then
    # HEAD's schema is newer: the previous rsd refuses the file untouched,
    # saying how to go back (docs/upgrade.md) ...
    # (the bytes may change: SQLite folds the killed rsd's WAL in)
    schema() { python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$TMP/rs.db"; }
    was=$(schema)
    if "$PREV/rsd/rsd" --db "$TMP/rs.db" --control tcp://127.0.0.1:* --agents tcp://127.0.0.1:* \
        2>"$TMP/older.log"; then fail "rsd $PREV_V started on a newer database"; fi
    grep -q "newer than rsd $PREV_V" "$TMP/older.log" || fail "message: $(cat "$TMP/older.log")"
    [ "$(schema)" = "$was" ] || fail "rsd $PREV_V changed the newer database's schema"
    # ... and the way back keeps what it knew: the file without HEAD's
    # migration steps (what the backup before them holds, with this run's rows)
    python3 - "$TMP/rs.db" "$PREV_SCHEMA_DOWN" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.executescript(sys.argv[2]); db.commit(); db.close()
PY
fi
start_rsd "$PREV"
wait_for 15 node_up n1 || fail "HEAD's agent did not come up with rsd $PREV_V"
[ "$(pid_of s2)" = "$p2" ] || fail "s2 changed pid across the rsd change"
ctl "$BUILD" up s3 --settle 0.2 -- sleep 1000 >/dev/null || fail "up via rsd $PREV_V"
p3=$(pid_of s3)
kill -9 "$p3"
wait_for 10 bash -c "[ \"\$('$BUILD/ctl/rsctl' -s '$CONTROL' --json lookup s3 | sed 's/.*\"pid\":\([0-9]*\).*/\1/')\" != '$p3' ]" \
    || fail "s3 was not restarted under rsd $PREV_V"
ctl "$BUILD" down s3 >/dev/null || fail "down via rsd $PREV_V"
# the previous rsd relays no logs options: plain lines, the options refused
wait_for 15 node_up n3 || fail "n3 did not come up with rsd $PREV_V"
logs_is "$BUILD" t3 "hello t3" || fail "logs via rsd $PREV_V: $(ctl "$BUILD" logs t3)"
logs_refused "$BUILD" t3 "upgrade rsd"
same_status s2   # the previous rsd: JSON only, HEAD's rsctl prints it alike
# a verb the previous rsd does not know (describe, new in 0.3): rsctl
# says so and exits 9, not "a bad reply"; rsd serves on
rc=0; ctl "$BUILD" describe s2 >"$TMP/describe.out" 2>&1 || rc=$?
if "$PREV/ctl/rsctl" help describe >/dev/null 2>&1; then
    [ "$rc" -eq 0 ] || fail "describe via rsd $PREV_V exited $rc: $(cat "$TMP/describe.out")"
else
    [ "$rc" -eq 9 ] || fail "describe via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/describe.out")"
    grep -q "is $PREV_V, older than rsctl $HEAD_V: it cannot read this request" "$TMP/describe.out" \
        && grep -q "'describe' needs rsd $HEAD_V or newer" "$TMP/describe.out" \
        || fail "rsctl's message: $(cat "$TMP/describe.out")"
    ctl "$BUILD" status s2 >/dev/null || fail "rsd $PREV_V after the unknown verb"
    # delete and export (0.3) alike: refused the same way, nothing deleted
    for v in "delete s2" "export"; do
        rc=0; ctl "$BUILD" $v >"$TMP/v.out" 2>&1 || rc=$?
        [ "$rc" -eq 9 ] && grep -q "'${v%% *}' needs rsd $HEAD_V or newer" "$TMP/v.out" \
            || fail "$v via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/v.out")"
    done
    ctl "$BUILD" status s2 >/dev/null || fail "s2 is gone after a delete rsd $PREV_V cannot read"
fi
# health probes (RS_FEAT_PROBES): HEAD's rsctl asks the previous rsd
# first, which would run the service without them; refused, nothing sent
if ! "$PREV/ctl/rsctl" help up 2>/dev/null | grep -q -- --liveness; then
    rc=0; ctl "$BUILD" up pr1 --liveness tcp:127.0.0.1:1 -- sleep 1000 >"$TMP/probe.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know health probes" "$TMP/probe.out" \
        || fail "up --liveness via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/probe.out")"
    ! ctl "$BUILD" status pr1 >/dev/null 2>&1 || fail "pr1 exists after a refused up"
    printf 'services:\n  - label: pr2\n    command: [sleep, "1000"]\n    probes:\n      liveness: {tcp: "127.0.0.1:1"}\n' >"$TMP/probes.yaml"
    rc=0; ctl "$BUILD" apply "$TMP/probes.yaml" >"$TMP/probe2.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know health probes" "$TMP/probe2.out" \
        || fail "apply with probes via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/probe2.out")"
    ! ctl "$BUILD" status pr2 >/dev/null 2>&1 || fail "pr2 exists after a refused apply"
fi
# resource limits (RS_FEAT_LIMITS): the same, an unbounded service is
# never started through an rsd that would drop them
if ! "$PREV/ctl/rsctl" help up 2>/dev/null | grep -q -- --memory-max; then
    rc=0; ctl "$BUILD" up li1 --memory-max 64M -- sleep 1000 >"$TMP/lim.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know resource limits" "$TMP/lim.out" \
        || fail "up --memory-max via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/lim.out")"
    ! ctl "$BUILD" status li1 >/dev/null 2>&1 || fail "li1 exists after a refused up"
    printf 'services:\n  - label: li2\n    command: [sleep, "1000"]\n    limits:\n      pids: {max: 64}\n' >"$TMP/limits.yaml"
    rc=0; ctl "$BUILD" apply "$TMP/limits.yaml" >"$TMP/lim2.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know resource limits" "$TMP/lim2.out" \
        || fail "apply with limits via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/lim2.out")"
    ! ctl "$BUILD" status li2 >/dev/null 2>&1 || fail "li2 exists after a refused apply"
    rc=0; ctl "$BUILD" edit s2 --pids-max 64 >"$TMP/lim3.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know resource limits" "$TMP/lim3.out" \
        || fail "edit --pids-max via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/lim3.out")"
fi
# privilege profiles (RS_FEAT_PROFILE): the same, a service is never
# started unconfined through an rsd that would drop its profile
if ! "$PREV/ctl/rsctl" help up 2>/dev/null | grep -q -- --read-only-root; then
    rc=0; ctl "$BUILD" up pf1 --read-only-root -- sleep 1000 >"$TMP/prof.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know privilege profiles" "$TMP/prof.out" \
        || fail "up --read-only-root via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/prof.out")"
    ! ctl "$BUILD" status pf1 >/dev/null 2>&1 || fail "pf1 exists after a refused up"
    printf 'services:\n  - label: pf2\n    command: [sleep, "1000"]\n    profile:\n      caps: []\n' >"$TMP/profile.yaml"
    rc=0; ctl "$BUILD" apply "$TMP/profile.yaml" >"$TMP/prof2.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know privilege profiles" "$TMP/prof2.out" \
        || fail "apply with a profile via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/prof2.out")"
    ! ctl "$BUILD" status pf2 >/dev/null 2>&1 || fail "pf2 exists after a refused apply"
    rc=0; ctl "$BUILD" edit s2 --nice 5 >"$TMP/prof3.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not know privilege profiles" "$TMP/prof3.out" \
        || fail "edit --nice via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/prof3.out")"
fi
# the same for reload (new in 0.3)
if ! "$PREV/ctl/rsctl" help reload >/dev/null 2>&1; then
    rc=0; ctl "$BUILD" reload s2 >"$TMP/reload2.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] || fail "reload via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/reload2.out")"
    grep -q "'reload' needs rsd $HEAD_V or newer" "$TMP/reload2.out" \
        || fail "rsctl's message: $(cat "$TMP/reload2.out")"
fi
# usage (RS_FEAT_USAGE): the previous rsd reports none; top refuses
# (exit 9, saying whom to upgrade), status -o wide shows "-"
if ! "$PREV/ctl/rsctl" help top >/dev/null 2>&1; then
    rc=0; ctl "$BUILD" top -n 1 >"$TMP/top.out" 2>&1 || rc=$?
    [ "$rc" -eq 9 ] && grep -q "does not report what instances use: top needs rsd" "$TMP/top.out" \
        || fail "top via rsd $PREV_V exited $rc, want 9: $(cat "$TMP/top.out")"
    ctl "$BUILD" status -o wide s2 >"$TMP/wide.out" || fail "status -o wide via rsd $PREV_V"
    grep -q '^s2 .* -  *-  *-  *-$' "$TMP/wide.out" \
        || fail "status -o wide via rsd $PREV_V: $(cat "$TMP/wide.out")"
fi
kill -9 "$RSD"

# --- a database of a newer schema: refused, untouched, with the way back ---
cp "$TMP/rs.db" "$TMP/new.db"
python3 - "$TMP/new.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("PRAGMA user_version = 999"); db.commit(); db.close()
PY
sum=$(sha256sum "$TMP/new.db" | cut -d' ' -f1)
if "$BUILD/rsd/rsd" --db "$TMP/new.db" --control tcp://127.0.0.1:* --agents tcp://127.0.0.1:* \
    2>"$TMP/newer.log"; then fail "rsd started on a newer database"; fi
grep -q "schema version 999, newer than rsd $HEAD_V" "$TMP/newer.log" || fail "message: $(cat "$TMP/newer.log")"
grep -q "copy .* over" "$TMP/newer.log" || fail "no way back in the message: $(cat "$TMP/newer.log")"
[ "$(sha256sum "$TMP/new.db" | cut -d' ' -f1)" = "$sum" ] || fail "rsd changed the newer database"
echo "skew: rsd $HEAD_V with agents/rsctl $PREV_V both ways, $FAR_V refused, newer schema refused: ok"
