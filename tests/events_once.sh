#!/bin/bash
# events_once.sh BUILD_DIR - an agent's events reach the event log exactly
# once across rsd restarts (RS_FEAT_EVCHAIN, docs/design.md "Events,
# exactly once"), with the real binaries:
#  - rsd killed; the service crashes and the agent restarts it alone: its
#    exit and start wait in the agent's ring;
#  - rsd started again: the replay is recorded, and acknowledged (the
#    agent's ring empties: rs_agent_unacked_events 0). Before, rsd
#    acknowledged only events newer than the Hello, so the replay stayed
#    in the ring;
#  - rsd killed and started once more: nothing is replayed again, the log
#    holds the exit and the new pid's start once each (before: twice).
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
LOG_LINES=30
test_tmpdir events_once

rsctl() { "${RSCTL[@]}" "$@"; }
unacked() {
    curl -sf "http://$AMETRICS/metrics" | awk '$1 == "rs_agent_unacked_events" {print $2}'
}
ring_empty() { [ "$(unacked)" = 0 ]; }
restarted_ready() {
    curl -sf "http://$AMETRICS/metrics" | awk '
        $1 ~ /^rs_agent_instance_restarts\{.*label="once"/ { r = $2 }
        $1 ~ /^rs_agent_instances\{.*state="running"/ { n = $2 }
        END { exit !(r == 1 && n == 1) }'
}
kept_at_least() { local v; v=$(unacked); [ -n "$v" ] && [ "${v%.*}" -ge "$1" ]; }
svc_pid() {
    rsctl --json status once | sed -n 's/.*"pid":\([0-9]*\).*"state":"running".*/\1/p'
}
count() {       # count KIND [WHAT]: events of once of KIND (detail has WHAT)
    rsctl --json events once | python3 -c '
import json, sys
kind, what = sys.argv[1], sys.argv[2]
print(sum(1 for e in json.load(sys.stdin)["events"]
          if e["kind"] == kind and what in (e.get("detail") or "")))' "$1" "${2:-}"
}
seen() { [ "$(count "$@")" -ge 1 ]; }

start_rsd_at 'tcp://127.0.0.1:*' 'tcp://127.0.0.1:*' rsd.log
start_agent e1
wait_for 10 node_up e1 || fail "the agent was not welcomed"
rsctl up once --settle 0.2 -- sleep 1000 >/dev/null || fail "up once"
pid=$(svc_pid); [ -n "$pid" ] || fail "once is not running"
wait_for 10 ring_empty || fail "the agent keeps $(unacked) events after up"

# rsd down; the service crashes; the agent restarts it on its own
kill -9 "$RSD"; wait_for 5 gone "$RSD" || fail "rsd $RSD did not die"
kill -9 "$pid"
# ... and is ready again before rsd returns: everything rsd learns of it
# is replayed (no newer event that the old rule acknowledged past it)
wait_for 10 restarted_ready || fail "the agent did not restart once alone"
wait_for 10 kept_at_least 3 || fail "the agent keeps $(unacked) events, want exit, start, ready"
start_rsd_at "$CONTROL" "$AGENTS" rsd2.log
wait_for 10 node_up e1 || fail "the agent was not welcomed by the second rsd"
new_pid() { local p; p=$(svc_pid); [ -n "$p" ] && [ "$p" != "$pid" ]; }
wait_for 10 new_pid || fail "once is not running with a new pid: '$(svc_pid)'"
npid=$(svc_pid)
wait_for 10 seen exited || fail "the crash while rsd was down is not in the log"
wait_for 10 seen started "$npid" || fail "the start of pid $npid is not in the log"
wait_for 10 ring_empty || fail "the replay was not acknowledged: the agent keeps $(unacked) events"

# once more: nothing is replayed again
kill -9 "$RSD"; wait_for 5 gone "$RSD" || fail "rsd $RSD did not die"
start_rsd_at "$CONTROL" "$AGENTS" rsd3.log
wait_for 10 node_up e1 || fail "the agent was not welcomed by the third rsd"
wait_for 10 ring_empty || fail "the agent keeps $(unacked) events"
[ "$(svc_pid)" = "$npid" ] || fail "once's pid changed: $(svc_pid), was $npid"
n_exit=$(count exited); n_start=$(count started "$npid")
[ "$n_exit" = 1 ] || fail "the crash is in the log $n_exit times, want 1"
[ "$n_start" = 1 ] || fail "the start of pid $npid is in the log $n_start times, want 1"
echo "ok: the crash and the restart (pid $npid) done while rsd was down are in the log once each, across two rsd restarts"
