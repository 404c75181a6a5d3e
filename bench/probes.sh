#!/bin/bash
# probes.sh BUILD_DIR N KIND - the agent's cost of health probes (issue 15):
# N services (sleep) on one agent, each with a liveness probe of KIND
# (http, tcp, or none) every 1 s against one python3 http.server; prints
# the agent's CPU use over 20 s and its probe counters. A small benchmark:
# one agent, loopback.
set -euo pipefail
BUILD=$(cd "$1" && pwd); N=$2; KIND=$3
. "$(dirname "$0")/../tests/lib.sh"
test_tmpdir probebench
start_rsd
start_agent pbench1
AGENT_PID=$BG_PID
wait_for 10 node_up pbench1 || fail "agent pbench1 did not register"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bg python3 -m http.server "$port" --bind 127.0.0.1 --directory "$TMP" 2>/dev/null
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/" || fail "no server"
if [ "$KIND" = http ]; then t="http://127.0.0.1:$port/"; else t="tcp:127.0.0.1:$port"; fi
for i in $(seq 1 "$N"); do
    if [ "$KIND" = none ]; then
        "${RSCTL[@]}" up "s$i" --node pbench1 --no-block -- /bin/sleep 100000 >/dev/null
    else
        "${RSCTL[@]}" up "s$i" --node pbench1 --no-block --liveness "$t" --probe-period 1 -- /bin/sleep 100000 >/dev/null
    fi
done
agent=$AGENT_PID
sleep 5
cpu() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep 20
c1=$(cpu); t1=$(date +%s.%N)
tck=$(getconf CLK_TCK)
python3 -c "print('N=$N kind=$KIND: agent CPU %.2f %% of a core' % (100.0 * ($c1 - $c0) / $tck / ($t1 - $t0)))"
curl -s "http://$AMETRICS/metrics" | grep -E '^rs_probe_duration_seconds_(count|sum)|^rs_probe_failures_total' | awk '{s[$1 ~ /failures/ ? "failures" : $1] += $2} END {for (k in s) print k, s[k]}'
