#!/bin/bash
# nodename.sh BUILD_DIR - rs-agent's node name when --node gives none (the
# packaged unit passes an empty --node unless /etc/default/rs-agent sets
# RS_NODE):
#  - a new state dir: the host name (the agent enrols under it);
#  - a state dir enrolled as another node: that node (its agent.key), so a
#    host keeps its name when its host name changes;
#  - a host name that is no valid node name: exit 1, "pass --node NAME",
#    nothing created.
# As root the agents run in a UTS namespace of their own with a host name
# the test picks; otherwise with the machine's. Keeper names are this
# test's own (RS_TEST_HOST). Every process it starts is killed by pid on
# exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
test_tmpdir nodename
export RS_TEST_HOST="nodename-${TMP##*.}"

# as_host NAME CMD...: execs CMD (the caller's pid: run it in a subshell,
# or with bg) with host name NAME, or as it is when the test cannot have a
# UTS namespace (NAME is then the machine's host name)
if [ "$(id -u)" -eq 0 ] && unshare --uts true 2>/dev/null; then
    UTS=1; HOST="rs-host-${TMP##*.}"
else
    UTS=0; HOST=$(hostname)
fi
as_host() {
    local name=$1; shift
    if [ $UTS -eq 1 ]; then
        exec unshare --uts /bin/sh -c 'hostname -- "$0" && exec "$@"' "$name" "$@"
    fi
    exec "$@"
}

bg "$BUILD/rsd/rsd" --db "$TMP/rs.db" --control 'tcp://127.0.0.1:*' \
    --agents 'tcp://127.0.0.1:*' --node-ttl 0.5 --ready-fd 3 3>"$TMP/ready" 2>"$TMP/rsd.log"
wait_for 10 grep -q control= "$TMP/ready" || fail "rsd did not get ready"
CONTROL=$(sed 's/.*control=\([^ ]*\).*/\1/' "$TMP/ready")
AGENTS=$(sed 's/.*agents=\([^ ]*\).*/\1/' "$TMP/ready" | tr -d '\n')
export RS_CRED="$TMP/admin.cred"   # rsd made it beside its --db

node_state() {  # node_state NAME STATE: rsd has node NAME in STATE
    "$BUILD/ctl/rsctl" -s "$CONTROL" --json nodes |
        jq -e --arg n "$1" --arg s "$2" '.nodes[] | select(.name == $n and .state == $s)'
}
gone() { ! kill -0 "$1" 2>/dev/null; }
stop_agent() {  # stop_agent PID: SIGTERM (services and keeper stop too)
    kill -TERM "$1"
    wait_for 10 gone "$1" || fail "agent $1 did not stop"
}

# a new state dir: the host name
if [[ $HOST =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$ ]]; then
    bg as_host "$HOST" "$BUILD/agent/rs-agent" --rsd "$AGENTS" --state-dir "$TMP/a1" \
        --token-file "$TMP/join.token" 2>"$TMP/a1.log"
    wait_for 10 node_state "$HOST" up || fail "no node $HOST (the host name) up"
    grep -q "node $HOST (the host name)" "$TMP/a1.log" || fail "the log does not say why $HOST"
    stop_agent "$BG_PID"
fi

# enrolled as n2: keeps n2 whatever the host name, also with --node ""
# (what the unit passes when RS_NODE is empty)
bg "$BUILD/agent/rs-agent" --node n2 --rsd "$AGENTS" --state-dir "$TMP/a2" \
    --token-file "$TMP/join.token" 2>"$TMP/a2.log"
wait_for 10 node_state n2 up || fail "n2 did not enrol"
stop_agent "$BG_PID"
# lost, or already fenced: with a TTL of 0.5 s and the check each second,
# a node can go from suspect to fenced at one check (no lost between)
node_lost() { node_state n2 lost || node_state n2 fenced; }
wait_for 10 node_lost || fail "n2 was not lost after its agent stopped"
bg as_host "$HOST" "$BUILD/agent/rs-agent" --node "" --rsd "$AGENTS" --state-dir "$TMP/a2" \
    2>"$TMP/a2b.log"
wait_for 10 node_state n2 up || fail "the agent on n2's state dir did not come back as n2"
grep -q "node n2 (agent.key)" "$TMP/a2b.log" || fail "the log does not say n2 came from agent.key"
stop_agent "$BG_PID"

# a host name that cannot be a node name: a clear error, nothing made
if [ $UTS -eq 1 ]; then
    long=$(printf 'h%.0s' $(seq 64))
    r=0
    (as_host "$long" "$BUILD/agent/rs-agent" --rsd "$AGENTS" --state-dir "$TMP/a3" \
        2>"$TMP/a3.log") || r=$?
    [ $r -eq 1 ] || fail "a 64-character host name: exit $r, want 1"
    grep -q "the host name '$long' is not a valid node name.*pass --node NAME" "$TMP/a3.log" \
        || fail "no clear error: $(cat "$TMP/a3.log")"
    [ ! -e "$TMP/a3" ] || fail "the agent made its state dir before refusing"
fi
echo "ok: default node names (host $HOST, uts namespace $UTS)"
