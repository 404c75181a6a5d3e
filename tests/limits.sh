#!/bin/bash
# limits.sh BUILD_DIR - resource limits (issue 14, part 2), with real
# processes in real cgroups:
#  - the agent says which controllers it has; rsctl nodes shows them;
#  - a service allocating past its memory max is killed by the OOM killer,
#    reason oom, restarted by its policy; rsctl status, the event and
#    rsd's rs_instance_restarts_total{reason="oom"} show it;
#  - the limit is in its cgroup before it runs (read back), rsctl edit
#    --memory-max changes it on the running process (same pid), and an
#    rs-agent kill -9 and restart keeps the instance in its cgroups with
#    its limits;
#  - a fork bomb capped by pids max leaves the node and another service
#    responsive (rsctl status answers, the other service restarts after a
#    kill within a bound);
#  - a spec with limits is placed on a node that can enforce them and
#    never on one with --cgroups off; an explicit --node that cannot is a
#    clear error;
#  - a bad limits: in a manifest names its line and key; nothing applied.
# Skipped (77) without a writable cgroup2 hierarchy or without memory and
# pids controllers (v2 for the node's subtree, or v1). Every wait has a
# deadline; every process is killed by pid.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

cgroup2_usable || { echo "SKIP: $NOCG"; exit 77; }

test_tmpdir limits
NODE=lim-$$
NODE2=limoff-$$
start_cluster "$NODE"
line=$(grep 'limits: controllers' "$TMP/$NODE.log" || true)
case $line in
    *controllers*memory*pids*) ;;
    *) echo "SKIP: the node has no memory and pids controllers: ${line:-$(grep cgroups "$TMP/$NODE.log")}"; exit 77 ;;
esac
echo "agent: ${line#*cgroups: }"
ctl=$("${RSCTL[@]}" --json nodes | python3 -c '
import json, sys
print([n for n in json.load(sys.stdin)["nodes"] if n["name"] == sys.argv[1]][0]["controllers"])' "$NODE")
case $ctl in *memory*pids*) ;; *) fail "rsctl nodes --json says controllers '$ctl'" ;; esac
grep -q "^$NODE .*memory,cpu,pids" <<<"$("${RSCTL[@]}" nodes)" || fail "rsctl nodes shows no controllers: $("${RSCTL[@]}" nodes)"

# field LABEL KEY: KEY of LABEL's first instance in rsctl --json status
field() {
    "${RSCTL[@]}" --json status "$1" | python3 -c '
import json, sys
i = json.load(sys.stdin)["services"][0]["instances"][0]
v = i
for k in sys.argv[1].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$2"
}
# v1_or_v2 PID CTL FILE: the value of FILE in the cgroup of PID that
# enforces CTL (v1 hierarchy when the process is in one below /, else v2)
limit_of() {
    local pid=$1 ctl=$2 file=$3 mnt path
    mnt=$(awk -v c="$ctl" '$9 == "cgroup" && $4 == "/" && ("," $NF ",") ~ ("," c ",") { print $5; exit }' /proc/self/mountinfo)
    if [ -n "$mnt" ]; then
        path=$(awk -F: -v c="$ctl" '("," $2 ",") ~ ("," c ",") { print $3 }' "/proc/$pid/cgroup")
        case $path in */rs.*) cat "$mnt$path/$file" 2>/dev/null || echo none; return ;; esac
    fi
    path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    case $file in
        memory.limit_in_bytes) file=memory.max ;;
        cpu.*) ;;
        pids.max) ;;
    esac
    cat "$CGMNT$path/$file" 2>/dev/null || echo none
}

# --- a memory max: the OOM killer ends it, reason oom, restarted
cat >"$TMP/hog.py" <<'PY'
import os, sys, time
open(os.environ["REC"], "a").write("start %d\n" % os.getpid())
if os.path.exists(os.environ["REC"] + ".calm"):
    time.sleep(1000)
b = []
while True:
    b.append(bytearray(1 << 20))
PY
: >"$TMP/rec.calm"   # the first run waits: its limit is read first
"${RSCTL[@]}" up hog --node "$NODE" --memory-max 48M --memory-high 40M \
    --backoff-initial 0.2 --env "REC=$TMP/rec" --notify simple --settle 0.2 \
    -- python3 "$TMP/hog.py" >/dev/null || fail "up hog"
wait_for 10 grep -q start "$TMP/rec" || fail "hog did not start"
P1=$(awk '/start/ { p = $2 } END { print p }' "$TMP/rec")
lim=$(limit_of "$P1" memory memory.limit_in_bytes)
[ "$lim" = $((48 << 20)) ] || fail "hog's memory limit is '$lim', not 48M"
echo "memory max in its cgroup before it ran: $lim"

# edit: the running process's limit, the same pid
r=$("${RSCTL[@]}" edit hog --memory-max 64M) || fail "edit hog: $r"
# is_limit PID CTL FILE VALUE
is_limit() { [ "$(limit_of "$1" "$2" "$3")" = "$4" ]; }
wait_for 5 is_limit "$P1" memory memory.limit_in_bytes $((64 << 20)) \
    || fail "edit did not change the running limit: $(limit_of "$P1" memory memory.limit_in_bytes)"
[ "$(field hog pid)" = "$P1" ] || fail "edit restarted hog: pid $(field hog pid), was $P1"
echo "edit --memory-max 64M: in effect on pid $P1, not restarted"

# an rs-agent kill -9 and restart: the same pid, in its cgroups, its limit
AGENT=${PIDS[1]}
kill -9 "$AGENT"
wait_for 10 gone "$AGENT" || fail "the agent did not die"
start_agent "$NODE"
wait_for 10 node_up "$NODE" || fail "the agent did not come back"
[ "$(field hog pid)" = "$P1" ] || fail "the agent's restart changed hog's pid"
lim=$(limit_of "$P1" memory memory.limit_in_bytes)
[ "$lim" = $((64 << 20)) ] || fail "after the agent's restart hog's limit is '$lim'"
echo "agent kill -9: pid $P1 kept in its cgroup, limit $lim"

# now let it allocate: killed by the OOM killer, reason oom, restarted
rm -f "$TMP/rec.calm"
kill -9 "$P1"   # a plain SIGKILL first: signaled, not oom
starts() { [ "$(grep -c start "$TMP/rec")" -ge "$1" ]; }
wait_for 10 starts 3 || fail "hog was not restarted into its allocation loop"
oom_event() { grep -q 'OOM killer' <<<"$("${RSCTL[@]}" --json events hog)"; }
wait_for 20 oom_event || fail "no OOM kill event for hog: $("${RSCTL[@]}" events hog | tail -5)"
"${RSCTL[@]}" --json events hog | python3 -c '
import json, sys
ev = json.load(sys.stdin)["events"]
d = " | ".join(e["detail"] for e in ev)
assert "killed by signal 9" in d, d
' || fail "the plain kill -9 is not a plain signal in the events"
is_field() { [ "$(field "$1" "$2")" = "$3" ]; }
wait_for 10 is_field hog last_exit.reason oom || fail "rsctl status does not say oom: $("${RSCTL[@]}" --json status hog)"
grep -q oom <<<"$("${RSCTL[@]}" status hog)" || fail "rsctl status hog does not show oom: $("${RSCTL[@]}" status hog)"
oom_metric() { grep -q 'rs_instance_restarts_total{.*reason="oom".*} [1-9]' <<<"$(curl -sf "http://$METRICS/metrics")"; }
wait_for 10 oom_metric || fail "no oom restarts in rsd's metrics: $(curl -sf "http://$METRICS/metrics" | grep restarts_total)"
echo "oom: killed by the OOM killer, reason oom in status, events and metrics; restarted"
"${RSCTL[@]}" down hog >/dev/null || fail "down hog"

# --- a fork bomb capped by pids max; the node stays responsive
cat >"$TMP/bomb.py" <<'PY'
import os, time
open(os.environ["REC"], "w").write("%d" % os.getpid())
failed = 0
for i in range(400):        # bounded: 400 children that sleep
    try:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
    except OSError:
        failed += 1
open(os.environ["REC"] + ".failed", "w").write("%d" % failed)
time.sleep(300)
PY
"${RSCTL[@]}" up bomb --node "$NODE" --pids-max 16 --notify simple --settle 0.2 \
    --env "REC=$TMP/bomb.pid" -- python3 "$TMP/bomb.py" >/dev/null || fail "up bomb"
wait_for 10 test -s "$TMP/bomb.pid.failed" || fail "bomb did not fork its 400"
B=$(cat "$TMP/bomb.pid")
lim=$(limit_of "$B" pids pids.max)
[ "$lim" = 16 ] || fail "bomb's pids max is '$lim'"
"${RSCTL[@]}" up calm --node "$NODE" --notify simple --settle 0.2 --backoff-initial 0.1 \
    -- sleep 1000 >/dev/null || fail "up calm (while the bomb runs)"
C=$(field calm pid)
t0=$(date +%s%N)
kill -9 "$C"
new_pid() { local p; p=$(field calm pid); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ]; }
wait_for 5 new_pid "$C" || fail "calm was not restarted within 5 s beside the bomb"
t1=$(date +%s%N)
n=$(awk -F: '$1 == "0" { print $3 }' "/proc/$B/cgroup")
tasks=$(wc -l <"$CGMNT$n/cgroup.procs")
[ "$tasks" -le 16 ] || fail "the bomb has $tasks processes, over its pids max 16"
# usage on the agent's /metrics: the bomb's tasks, sampled every 5 s
# (the page read whole first: grep -q ending early would fail curl's
# write, and pipefail the test)
ametrics() { curl -sf "http://$AMETRICS/metrics"; }
bomb_tasks() { grep -q "^rs_instance_tasks{label=\"bomb\",id=\"[0-9]*\"} $tasks\$" <<<"$(ametrics)"; }
wait_for 12 bomb_tasks || fail "the agent's metrics do not say bomb has $tasks tasks: $(curl -sf "http://$AMETRICS/metrics" | grep '^rs_instance_')"
grep -q '^rs_instance_memory_bytes{label="bomb",id="[0-9]*",kind="current"} [1-9]' <<<"$(ametrics)" \
    || fail "no memory usage for bomb: $(curl -sf "http://$AMETRICS/metrics" | grep '^rs_instance_memory')"
echo "fork bomb: $tasks processes (pids max 16), $(cat "$TMP/bomb.pid.failed") of 400 forks refused; calm restarted in $(( (t1 - t0) / 1000000 )) ms"
"${RSCTL[@]}" down bomb >/dev/null || fail "down bomb"
"${RSCTL[@]}" down calm >/dev/null || fail "down calm"

# --- placement: a node with --cgroups off never gets a spec with limits
start_agent "$NODE2" --cgroups off
wait_for 10 node_up "$NODE2" || fail "agent $NODE2 did not register"
grep -q 'cgroups: none' "$TMP/$NODE2.log" || fail "$NODE2 has cgroups"
out=$("${RSCTL[@]}" up nolim --node "$NODE2" --memory-max 64M -- sleep 100 2>&1) \
    && fail "up --node $NODE2 with limits was accepted: $out"
echo "$out" | grep -q "cannot enforce the limits" || fail "no clear error for --node $NODE2: $out"
for i in 1 2 3 4; do
    "${RSCTL[@]}" up "pl$i" --memory-max 64M --pids-max 32 --notify simple --settle 0.1 \
        -- sleep 100 >/dev/null || fail "up pl$i"
    grep -q "\"node\": *\"$NODE\"" <<<"$("${RSCTL[@]}" --json status "pl$i")" \
        || fail "pl$i was placed on a node that cannot enforce its limits: $("${RSCTL[@]}" status "pl$i")"
done
echo "placement: 4 specs with limits all on $NODE; --node $NODE2: $out"
d=$("${RSCTL[@]}" describe pl3) || fail "describe pl3"
grep -q "Limits.*memory max 64M, pids max 32" <<<"$d" || fail "describe does not show the limits: $d"
e=$("${RSCTL[@]}" export) || fail "export"
python3 -c '
import sys
t = sys.stdin.read()
i = t.index("label: pl3")
j = t.find("- label:", i)
blk = t[i:j if j > 0 else len(t)]
assert "limits:" in blk and "64M" in blk and "max: 32" in blk, blk
 ' <<<"$e" || fail "export does not carry the limits of pl3: $e"
echo "describe and export: the limits of pl3"
# the CPU limits: weight 200 (v1 shares 2048), max 50% (20 ms per 100 ms)
r=$("${RSCTL[@]}" edit pl1 --cpu-weight 200 --cpu-max 20%) || fail "edit pl1 cpu: $r"
P=$(field pl1 pid)
if grep -q '(on cgroup v1: .*cpu' "$TMP/$NODE.log"; then
    wait_for 5 is_limit "$P" cpu cpu.cfs_quota_us 20000 || fail "pl1's quota: $(limit_of "$P" cpu cpu.cfs_quota_us)"
    is_limit "$P" cpu cpu.shares 2048 || fail "pl1's shares: $(limit_of "$P" cpu cpu.shares)"
else
    wait_for 5 is_limit "$P" cpu cpu.max "20000 100000" || fail "pl1's cpu.max: $(limit_of "$P" cpu cpu.max)"
    is_limit "$P" cpu cpu.weight 200 || fail "pl1's cpu.weight: $(limit_of "$P" cpu cpu.weight)"
fi
# and the kernel holds it: a busy loop at --cpu-max 20% uses at most
# about 0.2 s of CPU a second (0.35 allowed), where it would use 1
"${RSCTL[@]}" up spin --node "$NODE" --cpu-max 20% --notify simple --settle 0.1 \
    -- python3 -c 'while True: pass' >/dev/null || fail "up spin"
S=$(field spin pid)
sp=$(awk -F: '$1 == "0" { print $3 }' "/proc/$S/cgroup")
u0=$(awk '$1 == "usage_usec" { print $2 }' "$CGMNT$sp/cpu.stat"); t0=$(date +%s%N)
sleep 2   # a measurement window, not a wait for a condition
u1=$(awk '$1 == "usage_usec" { print $2 }' "$CGMNT$sp/cpu.stat"); t1=$(date +%s%N)
rate=$(( (u1 - u0) * 1000 / ((t1 - t0) / 1000) ))   # CPU ms per s
[ "$rate" -le 350 ] || fail "spin at --cpu-max 20% used $rate ms of CPU a second"
echo "cpu max 20%: a busy loop used $rate ms of CPU a second"
"${RSCTL[@]}" down spin >/dev/null || fail "down spin"
r=$("${RSCTL[@]}" edit pl1 --pids-max none) || fail "edit pl1 --pids-max none: $r"
wait_for 5 is_limit "$P" pids pids.max max || fail "pl1's pids max after none: $(limit_of "$P" pids pids.max)"
[ "$(field pl1 pid)" = "$P" ] || fail "edit pl1 restarted it"
echo "cpu: weight 200 and max 20% in its cgroup; --pids-max none removed it; same pid"

# --- an agent that cannot enforce them refuses the start: its engine
# restarted with --cgroups off over the same keeper, then pl2 crashes
AGENT=${PIDS[-2]}   # $NODE's agent (the last one started is $NODE2's)
kill -9 "$AGENT"
wait_for 10 gone "$AGENT" || fail "the agent did not die"
start_agent "$NODE" --cgroups off
OFF_AGENT=$BG_PID
wait_for 10 node_up "$NODE" || fail "the agent did not come back with --cgroups off"
P2=$(field pl2 pid)
kill -9 "$P2"
refused() { grep -q 'cannot enforce the limits of pl2' <<<"$("${RSCTL[@]}" --json events pl2)"; }
wait_for 10 refused || fail "no clear refusal for pl2: $("${RSCTL[@]}" events pl2 | tail -3)"
echo "--cgroups off: $("${RSCTL[@]}" --json events pl2 | python3 -c '
import json, sys
print([e["detail"] for e in json.load(sys.stdin)["events"] if "cannot enforce" in e["detail"]][0])')"

# --- a keeper killed (kill -9): the next one of the node removes what is
# left in its v1 subtrees, as it sweeps its v2 subtree
V1=$(head -n 1 "$TMP/$NODE/run/cgroup.v1" 2>/dev/null || true)
if [ -n "$V1" ] && [ -d "$V1" ]; then
    mkdir "$V1/stale.1"   # as a keeper killed between its spawns leaves one
    KEEPER=$(cat "$TMP/$NODE/run/keeper.pid")
    kill -9 "$KEEPER"
    wait_for 10 gone "$KEEPER" || fail "the keeper did not die"
    wait_for 10 gone "$OFF_AGENT" || fail "the agent did not exit with its keeper"
    start_agent "$NODE"
    wait_for 10 node_up "$NODE" || fail "the agent did not come back after its keeper's kill -9"
    [ ! -d "$V1/stale.1" ] || fail "the new keeper left $V1/stale.1"
    echo "keeper kill -9: the next keeper swept $V1"
fi

# --- a bad limits: in a manifest: its line and key, nothing applied
cat >"$TMP/bad.yml" <<'YML'
services:
  - label: good
    command: [sleep, "100"]
  - label: bad
    command: [sleep, "100"]
    limits:
      memory: {max: 64M}
      cpu: {weight: 100, max: lots}
YML
out=$("${RSCTL[@]}" apply "$TMP/bad.yml" 2>&1) && fail "a bad manifest was applied"
echo "$out" | grep -q 'bad.yml:8: services\[1\].limits.cpu.max' || fail "the error does not name line 8 and the key: $out"
"${RSCTL[@]}" status good >/dev/null 2>&1 && fail "good was applied from a bad manifest"
echo "manifest: $out"
echo "PASS"
