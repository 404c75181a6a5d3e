#!/bin/bash
# usage.sh BUILD_DIR - resource usage to rsd (issue 14, part 4), with real
# processes in real cgroups:
#  - a service burning CPU and one holding 64 MiB: their agent samples
#    them, sends what changed on its beats (RS_FEAT_USAGE), and
#    `rsctl status -o wide` shows CPU, MEM, PEAK, TASKS; the CPU time
#    grows between two reports; the JSON status has the same numbers;
#  - `rsctl top -n 2 -d 1 --sort cpu` lists the burner first, --sort mem
#    the holder; not on a terminal: plain tables, no escape codes;
#  - rsd's /metrics has the per-label sums (rs_service_cpu_seconds_total,
#    rs_service_memory_bytes, rs_service_tasks) and counts the reports;
#  - rs-loadgen's simulated agents carry usage too; their reports for
#    another node's instances and unknown ones are ignored and counted;
#  - an rsd restart: usage is empty ("-") until the agent reports again
#    (it sends everything after a new Welcome).
# Skipped (77) without a writable cgroup2 hierarchy, after the simulated
# agents' part (which needs none). Every wait has a deadline; every
# process is killed by pid.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

# cgroups: the real agent's usage needs them (else only the simulated
# agents' part runs, then the test is skipped)
cgroup2_usable || true   # NOCG: why not

test_tmpdir usage
NODE=use-$$
start_cluster "$NODE"
[ -n "$NOCG" ] || grep -q 'cgroups: a cgroup per instance' "$TMP/$NODE.log" \
    || NOCG="the agent has no cgroups: $(grep cgroups "$TMP/$NODE.log")"

# use LABEL KEY: KEY of LABEL's first instance in rsctl --json status
use() {
    "${RSCTL[@]}" --json status "$1" | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][0]["instances"][0].get(sys.argv[1], ""))' "$2"
}
reported() { [ "$(use "$1" usage_ms)" -gt 0 ]; }
metric() { curl -sf "http://$METRICS/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }

# simulated agents (bench/rs-loadgen) carry usage the same way (no
# cgroups needed); their reports for another node's instances
# and for ones that do not exist are counted and dropped (ids 1-3 are
# fake, burn, hold: each reported by a node that does not run it)
LG="$BUILD/bench/rs-loadgen"
[ -x "$LG" ] || fail "$LG not built (RS_BENCH or RS_TESTS)"
LGP=uselg$$-
bg "$LG" --rsd "$AGENTS" --token "$TMP/join.token" --keys "$TMP/keys" --agents 2 \
    --prefix "$LGP" --report-ms 0 --usage-stray 3 </dev/null >"$TMP/lg.out" 2>"$TMP/lg.log"
wait_for 20 node_up "${LGP}00001" || fail "the simulated node did not come up"
"${RSCTL[@]}" up fake --node "${LGP}00001" -- /bin/sleep 3600 >/dev/null || fail "up fake"
wait_for 20 reported fake || fail "no usage of the simulated instance"
echo "simulated: memory $(use fake memory), tasks $(use fake tasks)"
[ "$(use fake memory)" -ge $((32 << 20)) ] || fail "the simulated memory is $(use fake memory)"
ignored() { [ "$(metric 'rs_usage_reports_total{result="ignored"}')" -ge 8 ]; }
wait_for 20 ignored || fail "rsd counts no ignored usage: $(curl -sf "http://$METRICS/metrics" | grep rs_usage_reports)"
"${RSCTL[@]}" ping >/dev/null || fail "rsd does not answer after stray usage"
"${RSCTL[@]}" top -n 1 fake | grep -q "^fake .*${LGP}00001" || fail "top does not list fake"
[ -z "$NOCG" ] || { echo "SKIP (the rest): $NOCG"; exit 77; }

"${RSCTL[@]}" up burn --node "$NODE" -- sh -c 'while :; do :; done' >/dev/null \
    || fail "up burn"
"${RSCTL[@]}" up hold --node "$NODE" -- python3 -c \
    'import time; b = b"x" * (64 << 20); time.sleep(1e6)' >/dev/null || fail "up hold"

wait_for 20 reported burn || fail "no usage of burn in status: $("${RSCTL[@]}" --json status burn)"
big() { [ "$(use hold memory)" -ge $((60 << 20)) ]; }
wait_for 20 big || fail "hold's memory is $(use hold memory), not >= 60 MiB"
echo "hold: memory $(use hold memory), peak $(use hold memory_peak), tasks $(use hold tasks)"
[ "$(use hold memory_peak)" -ge "$(use hold memory)" ] || fail "hold's peak is below its memory"
[ "$(use burn tasks)" -ge 1 ] || fail "burn has $(use burn tasks) tasks"

# the CPU time grows from one report to the next (one per 10 s at most)
C1=$(use burn cpu_ms); T1=$(use burn usage_ms)
grows() { [ "$(use burn cpu_ms)" -gt "$C1" ] && [ "$(use burn usage_ms)" -gt "$T1" ]; }
wait_for 30 grows || fail "burn's CPU time did not grow from $C1 ms"
C2=$(use burn cpu_ms); T2=$(use burn usage_ms)
echo "burn: cpu $C1 ms at $T1, then $C2 ms at $T2"
# a busy loop: most of a CPU between the two samples
[ $(( (C2 - C1) * 100 / (T2 - T1) )) -ge 30 ] \
    || fail "burn used $((C2 - C1)) ms of CPU in $((T2 - T1)) ms"

# status -o wide: the columns, filled
"${RSCTL[@]}" status -o wide >"$TMP/wide.txt" || fail "status -o wide"
cat "$TMP/wide.txt"
head -1 "$TMP/wide.txt" | grep -q 'STARTED *CPU *MEM *PEAK *TASKS$' \
    || fail "status -o wide has no usage columns: $(head -1 "$TMP/wide.txt")"
# the last four cells of hold's row: CPU MEM PEAK TASKS
read -r cpu mem peak tasks < <(awk '$1 == "hold" { print $(NF-3), $(NF-2), $(NF-1), $NF }' "$TMP/wide.txt")
case $mem in [6-9][0-9]Mi|[1-9][0-9][0-9]Mi) ;; *) fail "hold's MEM is '$mem'" ;; esac
[ "$tasks" -ge 1 ] || fail "hold's TASKS is '$tasks'"
[ "$cpu" != - ] || fail "hold's CPU is '-'"
# the plain table (no -o wide) is as it was
"${RSCTL[@]}" status | head -1 | grep -q 'STATUS$' || fail "status (not wide) changed its columns"

# top: the burner first by CPU, the holder first by memory; plain tables
"${RSCTL[@]}" top -n 2 -d 1 --sort cpu >"$TMP/top.txt" || fail "top exited $?"
cat "$TMP/top.txt"
[ "$(grep -c '^--- ' "$TMP/top.txt")" = 2 ] || fail "top -n 2 printed not 2 frames"
! grep -q $'\033' "$TMP/top.txt" || fail "top wrote escape codes to a pipe"
first=$(awk '/^LABEL/ { getline; print $1; exit }' "$TMP/top.txt")
[ "$first" = burn ] || fail "top --sort cpu lists $first first"
pct=$(awk '/^LABEL/ { getline; print $5 }' "$TMP/top.txt" | tail -1)
awk -v p="$pct" 'BEGIN { exit !(p >= 30) }' || fail "top says burn uses $pct% CPU"
"${RSCTL[@]}" top -n 1 --sort mem >"$TMP/topm.txt" || fail "top --sort mem"
first=$(awk '/^LABEL/ { getline; print $1; exit }' "$TMP/topm.txt")
[ "$first" = hold ] || fail "top --sort mem lists $first first: $(cat "$TMP/topm.txt")"
# a LABEL: only its rows
"${RSCTL[@]}" top -n 1 hold >"$TMP/toph.txt" || fail "top hold"
! grep -q '^burn' "$TMP/toph.txt" || fail "top hold lists burn"
grep -q '^hold' "$TMP/toph.txt" || fail "top hold does not list hold"
# --node: only that node's
"${RSCTL[@]}" top -n 1 --node "$NODE" >"$TMP/topn.txt" || fail "top --node"
! grep -q '^fake' "$TMP/topn.txt" || fail "top --node $NODE lists fake"
grep -q '^burn' "$TMP/topn.txt" || fail "top --node $NODE does not list burn"
# bad arguments: usage errors
set +e
"${RSCTL[@]}" top --sort disk >/dev/null 2>&1; r=$?
set -e
[ $r = 2 ] || fail "top --sort disk exited $r, not 2"

# rsd's /metrics: sums by label, the reports counted
curl -sf "http://$METRICS/metrics" >"$TMP/m.txt" || fail "rsd /metrics"
grep '^rs_service_\|^rs_usage' "$TMP/m.txt"
awk '/^rs_service_cpu_seconds_total\{label="burn"\}/ { f = $2 > 1 } END { exit !f }' "$TMP/m.txt" \
    || fail "no rs_service_cpu_seconds_total for burn"
awk '/^rs_service_memory_bytes\{label="hold"\}/ { f = $2 >= 60 * 1048576 } END { exit !f }' "$TMP/m.txt" \
    || fail "no rs_service_memory_bytes >= 60 MiB for hold"
awk '/^rs_service_tasks\{label="burn"\}/ { f = $2 >= 1 } END { exit !f }' "$TMP/m.txt" \
    || fail "no rs_service_tasks for burn"
awk '/^rs_usage_reports_total\{result="taken"\}/ { f = $2 >= 2 } END { exit !f }' "$TMP/m.txt" \
    || fail "rsd counts no usage reports taken"
! grep -q 'rs_service_cpu_seconds_total{.*instance=' "$TMP/m.txt" \
    || fail "the usage families are by instance"

# the simulated agents' stray reports (ids 2, 3: burn and hold) went on
# all along: dropped, never taken for these
[ "$(use hold memory)" -ge $((60 << 20)) ] || fail "another node's report overwrote hold's usage: $(use hold memory)"
[ "$(use burn cpu_ms)" -gt 1 ] || fail "another node's report overwrote burn's usage"

# an rsd restart: nothing until the agent reports again, then at once
# (a new Welcome: the agent sends all, not waiting for its 10 s)
kill -9 "$RSD"
wait_for 10 gone "$RSD" || fail "rsd did not die"
start_rsd_at "$CONTROL" "$AGENTS" rsd.log
wait_for 20 node_up "$NODE" || fail "the agent did not come back to rsd"
wait_for 10 reported hold || fail "no usage of hold after rsd's restart"
echo "after rsd's restart: hold memory $(use hold memory)"
echo "PASS usage"
