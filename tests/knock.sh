#!/bin/bash
# knock.sh BUILD_DIR - coalesced Hellos with the real binaries:
#  - an agent that knocks again right after its first Hello (RS_TEST_KNOCKS:
#    knocks that crossed a busy rsd's Welcome) is reconciled once and
#    welcomed for the rest, counted in rs_agent_hellos_coalesced_total;
#  - a service started afterwards runs (the node is up and reconciled);
#  - rsd killed and started again: the agent's new connection is reconciled
#    in full (the service keeps its pid: it is adopted, not started twice),
#    its extra knocks coalesced by the new rsd.
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
LOG_LINES=30
test_tmpdir knock

coalesced() {
    curl -sf "http://$METRICS/metrics" | awk '$1 == "rs_agent_hellos_coalesced_total" {print $2}'
}
at_least() {    # at_least N: the counter is N or more
    local v; v=$(coalesced); [ -n "$v" ] && [ "${v%.*}" -ge "$1" ]
}
node_up() {
    "$BUILD/ctl/rsctl" -s "$CONTROL" --json nodes | grep -q '"state":"up"'
}
svc_pid() {
    "$BUILD/ctl/rsctl" -s "$CONTROL" --json status knocky |
        sed -n 's/.*"pid":\([0-9]*\).*"state":"running".*/\1/p'
}

start_rsd_at 'tcp://127.0.0.1:*' 'tcp://127.0.0.1:*' rsd.log
RS_TEST_KNOCKS=5 bg "$BUILD/agent/rs-agent" --node k1 --rsd "$AGENTS" --state-dir "$TMP/k1" \
    --token-file "$TMP/join.token" 2>"$TMP/agent.log"
wait_for 10 node_up || fail "the agent was not welcomed"
wait_for 10 at_least 5 || fail "5 knocks after the first Hello, coalesced: $(coalesced)"
[ "$(grep -c 'said hello' "$TMP/rsd.log")" -eq 1 ] \
    || fail "rsd reconciled $(grep -c 'said hello' "$TMP/rsd.log") Hellos, want 1"

"$BUILD/ctl/rsctl" -s "$CONTROL" up knocky --settle 0.2 -- sleep 1000 >/dev/null \
    || fail "up after coalesced Hellos"
pid=$(svc_pid); [ -n "$pid" ] || fail "knocky is not running"

# rsd restarts: a new connection, reconciled in full; the service adopted
kill -9 "$RSD"
wait_for 5 gone "$RSD" || fail "rsd $RSD did not die"
start_rsd_at "$CONTROL" "$AGENTS" rsd2.log
wait_for 10 node_up || fail "the agent was not welcomed by the new rsd"
wait_for 10 at_least 5 || fail "the new rsd coalesced $(coalesced) knocks, want 5"
[ "$(grep -c 'said hello' "$TMP/rsd2.log")" -eq 1 ] \
    || fail "the new rsd reconciled $(grep -c 'said hello' "$TMP/rsd2.log") Hellos, want 1"
[ "$(svc_pid)" = "$pid" ] || fail "knocky's pid changed across the rsd restart: $(svc_pid), was $pid"
echo "ok: 5 knocks coalesced per connection, one reconciliation each, service kept (pid $pid)"
