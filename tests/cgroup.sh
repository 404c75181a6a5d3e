#!/bin/bash
# cgroup.sh BUILD_DIR - a cgroup per instance (issue 14): every process a
# service starts belongs to its instance and ends with it.
# The service (fk.sh) records each incarnation's main pid and two
# descendants that leave its process group: a setsid grandchild and a
# double-forked daemon (setsid -f). At its start it also writes which of
# the previous incarnations' descendants still run ("beside"), so a
# restart that began before the old ones were dead is seen by the new
# incarnation itself, before its main process exists.
#  - down: the answer comes once they are dead; the cgroup is removed;
#  - a graceful down: once the main process has died of the stop signal,
#    a setsid'ed process gets it too and finishes its cleanup (it is not
#    killed with the main one); one that ignores the signal is killed at
#    the stop timeout;
#  - a process no SIGKILL ends (frozen by the v1 freezer: uninterruptible
#    sleep): after the drain limit (RS_TEST_DRAIN_MAX_MS) down answers
#    anyway, saying so, its cgroup is set aside (no start takes it), the
#    service starts again beside it in NAME.2, and the set-aside cgroup is
#    removed once the process dies;
#  - refresh, a crash (kill -9 of the main process), a watchdog kill:
#    the old ones are dead, none ran beside the next incarnation;
#  - an rs-agent kill -9 and restart: the instance stays in its cgroup,
#    and down still ends its descendants;
#  - with RS_TEST_NO_CGROUP_KILL=1 (ctest runs it twice), the same
#    without cgroup.kill: SIGKILL to each process of cgroup.procs;
#  - RS_TEST_NO_CGROUPS=1: process groups only, as before (the setsid
#    grandchild outlives down, as it always did) and the agent says so.
# Skipped (77) without a writable cgroup2 hierarchy (not root, none
# mounted). Every wait has a deadline; every process is killed by pid.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

cgroup2_usable || { echo "SKIP: $NOCG"; exit 77; }

test_tmpdir cgroup
NODE=cgt-$$
NODE2=cgn-$$
SUB="$CGMNT/rs.$NODE"
# the descendants recorded by every incarnation, killed by pid at the end
test_cleanup() {
    local f p
    for f in "$TMP"/rec.*; do
        [ -f "$f" ] || continue
        for p in $(awk '$1 == "g" || $1 == "d" { print $2 }' "$f"); do
            is_ours "$p" && kill -9 "$p" 2>/dev/null || true
        done
        for p in $(awk '$1 == "t" { print $2 }' "$f"); do
            { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q 'gr\.sh' \
                && kill -9 "$p" 2>/dev/null || true
        done
    done
    if [ -n "${FZ:-}" ] && [ -d "$FZ" ]; then
        echo THAWED >"$FZ/freezer.state" 2>/dev/null || true
        wait_for 5 sh -c "[ ! -s '$FZ/cgroup.procs' ]" || true
        rmdir "$FZ" 2>/dev/null || true
    fi
    rmdir "$SUB"/* "$SUB" "$CGMNT/rs.$NODE2" 2>/dev/null || true
}
# is_ours PID: PID runs one of fk.sh's sleeps (not a zombie, not a reused pid)
is_ours() { [ -n "$1" ] && { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -q 'sleep 90[34]'; }

cat >"$TMP/fk.sh" <<'SH'
#!/bin/sh
# one incarnation: "n N", its main pid, a setsid grandchild, a daemon
n=$(( $(grep -c '^n ' "$REC" 2>/dev/null || true) + 1 ))
for p in $(awk '$1 == "g" || $1 == "d" { print $2 }' "$REC" 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'sleep 90'; then
        echo "beside $p" >>"$REC"
    fi
done
echo "n $n" >>"$REC"
setsid sleep 903 &
echo "g $!" >>"$REC"
setsid -f sh -c 'echo "d $$" >>"$REC"; exec sleep 904'
echo "m $$" >>"$REC"
exec sleep 1000
SH
chmod +x "$TMP/fk.sh"

# a cgroup that does not empty within 3 s of its SIGKILL is set aside
export RS_TEST_DRAIN_MAX_MS=3000
start_cluster "$NODE"
# RS_TEST_NO_CGROUP_KILL=1: the keeper does without cgroup.kill (SIGKILL
# to each pid of cgroup.procs, again until empty), as on Linux < 5.14
KILL=yes
[ -z "${RS_TEST_NO_CGROUP_KILL:-}" ] || KILL="no (SIGKILL to each process in cgroup.procs)"
grep -qF "cgroups: a cgroup per instance under $SUB, cgroup.kill $KILL" "$TMP/$NODE.log" \
    || fail "the agent does not say it uses $SUB: $(grep cgroups "$TMP/$NODE.log")"

# rec_count FILE KIND N: FILE has N lines of KIND
rec_count() { [ "$(grep -c "^$2 " "$1" 2>/dev/null || true)" -ge "$3" ]; }
# incarnation FILE N: incarnation N has written its three pids
incarnation() {
    rec_count "$1" n "$2" && rec_count "$1" m "$2" && rec_count "$1" g "$2" && rec_count "$1" d "$2"
}
# pids FILE KIND N: the pid of KIND of incarnation N
pid_of() { awk -v k="$2" '$1 == k { print $2 }' "$1" | sed -n "${3}p"; }
# old_dead FILE N: incarnation N's grandchild and daemon are dead
old_dead() {
    local g d
    g=$(pid_of "$1" g "$2"); d=$(pid_of "$1" d "$2")
    ! is_ours "$g" && ! is_ours "$d"
}
# in_cgroup PID NAME: the process is in the instance cgroup NAME
in_cgroup() { grep -qx "0::/rs.$NODE/$2" "/proc/$1/cgroup"; }
# up_fk LABEL ARG...: fk.sh as LABEL, recording into $TMP/rec.LABEL
up_fk() {
    local l=$1; shift
    "${RSCTL[@]}" up "$l" --node "$NODE" --env "REC=$TMP/rec.$l" "$@" -- "$TMP/fk.sh" \
        >/dev/null || fail "up $l"
    wait_for 10 incarnation "$TMP/rec.$l" 1 || fail "$l did not start: $(cat "$TMP/rec.$l")"
}
inst_id() {
    "${RSCTL[@]}" --json status "$1" | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][0]["instances"][0]["id"])'
}
no_beside() { ! grep -q '^beside' "$1" || fail "a descendant ran beside the next incarnation: $(cat "$1")"; }

# --- down
up_fk fk --notify simple --settle 0.2
R=$TMP/rec.fk
ID=$(inst_id fk)
for k in m g d; do
    in_cgroup "$(pid_of "$R" $k 1)" "fk.$ID" || fail "$k of fk is not in rs.$NODE/fk.$ID: $(cat "/proc/$(pid_of "$R" $k 1)/cgroup")"
done
r=$("${RSCTL[@]}" down fk) || fail "down fk: $r"
old_dead "$R" 1 || fail "down fk left its setsid grandchild or its daemon running"
! is_ours "$(pid_of "$R" m 1)" || fail "down fk left the main process"
wait_for 5 test ! -d "$SUB/fk.$ID" || fail "the cgroup of fk is still there after down"
echo "down: the setsid grandchild and the daemon are gone; cgroup removed"

# --- graceful down: gr.sh, setsid'ed out of the main process's group,
# gets the stop signal once the main process (sleep) died of it and
# takes 0.5 s to clean up; its "clean" line proves it was not killed
# meanwhile. With IGNORE=1 it ignores the signal: SIGKILL at the stop
# timeout (down answers after it, saying so).
cat >"$TMP/gr.sh" <<'SH'
#!/bin/sh
echo "t $$" >>"$REC"
if [ "${IGNORE:-}" = 1 ]; then trap '' TERM
else trap 'echo term >>"$REC"; sleep 0.5; echo clean >>"$REC"; exit 0' TERM
fi
while :; do sleep 0.1; done
SH
chmod +x "$TMP/gr.sh"
for mode in 0 1; do
    l=gr$mode; R=$TMP/rec.$l
    "${RSCTL[@]}" up "$l" --node "$NODE" --env "REC=$R" --env "IGNORE=$mode" \
        --notify simple --settle 0.2 --stop-timeout 2 \
        -- /bin/sh -c "setsid $TMP/gr.sh & exec sleep 1000" >/dev/null || fail "up $l"
    wait_for 10 rec_count "$R" t 1 || fail "$l did not start its setsid child"
    T=$(pid_of "$R" t 1)
    t0=$(date +%s%N)
    r=$("${RSCTL[@]}" down "$l") || fail "down $l: $r"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    ! kill -0 "$T" 2>/dev/null || fail "down $l left its setsid child $T running"
    if [ $mode = 0 ]; then
        grep -qx term "$R" || fail "the setsid child of $l did not get the stop signal: $(cat "$R")"
        grep -qx clean "$R" || fail "the setsid child of $l was killed during its cleanup: $(cat "$R")"
        [ "$ms" -lt 1900 ] || fail "down $l took $ms ms: the stop timeout's SIGKILL, not the child's own exit"
        echo "graceful down: the setsid child got the stop signal and ended by itself ($ms ms)"
    else
        [ "$ms" -ge 1900 ] || fail "down $l took $ms ms: the child ignoring the stop signal was killed before the stop timeout"
        echo "$r" | grep -q "SIGKILL" || fail "down $l does not say it killed: $r"
        echo "ignored stop signal: the setsid child killed at the stop timeout ($ms ms): $r"
    fi
done

# --- a process SIGKILL cannot end: fk's setsid grandchild frozen by the
# v1 freezer (a frozen task stays in uninterruptible sleep with SIGKILL
# pending until thawed, like one in a hung NFS call)
if [ -w /sys/fs/cgroup/freezer ]; then
    FZ=/sys/fs/cgroup/freezer/rs-test-$$
    mkdir "$FZ"
    up_fk sk --notify simple --settle 0.2 --stop-timeout 1
    R=$TMP/rec.sk
    ID=$(inst_id sk)
    G=$(pid_of "$R" g 1)
    echo "$G" >"$FZ/cgroup.procs"
    echo FROZEN >"$FZ/freezer.state"
    wait_for 5 grep -qx FROZEN "$FZ/freezer.state" || fail "the freezer did not freeze $G"
    t0=$(date +%s%N)
    r=$("${RSCTL[@]}" down sk) || fail "down sk with a frozen process: $r"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "$r" | grep -q "survived SIGKILL" || fail "down sk does not say a process survived SIGKILL: $r"
    [ "$ms" -ge 3500 ] || fail "down sk answered after $ms ms, before the stop timeout + the drain limit"
    grep -q "still alive .* after SIGKILL" "$TMP/$NODE.log" || fail "the keeper does not log the stuck process"
    is_ours "$G" || fail "the frozen process $G is gone: the test proves nothing"
    in_cgroup "$G" "sk.$ID" || fail "the frozen process left its cgroup: $(cat "/proc/$G/cgroup")"
    "${RSCTL[@]}" restart sk >/dev/null || fail "restart sk beside the stuck process"
    wait_for 10 incarnation "$R" 2 || fail "sk did not start again: $(cat "$R")"
    in_cgroup "$(pid_of "$R" m 2)" "sk.$ID.2" || fail "sk's next incarnation is not in sk.$ID.2: $(cat "/proc/$(pid_of "$R" m 2)/cgroup")"
    echo THAWED >"$FZ/freezer.state"
    wait_for 5 sh -c "! kill -0 $G 2>/dev/null" || fail "the thawed process $G did not die of its SIGKILL"
    wait_for 5 test ! -d "$SUB/sk.$ID" || fail "the set-aside cgroup sk.$ID was not removed once empty"
    grep -q "cgroup .*/sk.$ID emptied: removed" "$TMP/$NODE.log" || fail "the keeper does not log the removal"
    "${RSCTL[@]}" down sk >/dev/null || fail "down sk"
    rmdir "$FZ"
    echo "stuck process: down answered after $ms ms saying so, the cgroup set aside and removed once it died: $r"
else
    echo "(no writable v1 freezer: the stuck-process check is skipped)"
fi

# --- refresh
up_fk rf --notify simple --settle 0.2
R=$TMP/rec.rf
"${RSCTL[@]}" refresh rf >/dev/null || fail "refresh rf"
wait_for 10 incarnation "$R" 2 || fail "rf did not start again: $(cat "$R")"
no_beside "$R"
old_dead "$R" 1 || fail "refresh left the old incarnation's descendants"
echo "refresh: the old descendants died before the new incarnation"

# --- crash restart (kill -9 of the main process), three times
up_fk cr --notify simple --settle 0.2 --no-backoff
R=$TMP/rec.cr
for i in 1 2 3; do
    kill -9 "$(pid_of "$R" m "$i")"
    wait_for 10 incarnation "$R" $((i + 1)) || fail "cr did not restart ($i): $(cat "$R")"
    old_dead "$R" "$i" || fail "crash $i left the old incarnation's descendants"
done
no_beside "$R"
echo "crash restart: none of the old descendants ran beside the next incarnation"

# --- watchdog kill: WATCHDOG=1 never comes
up_fk wd --notify simple --settle 0.2 --period 0.3 --no-backoff
R=$TMP/rec.wd
wait_for 15 incarnation "$R" 3 || fail "wd was not killed by its watchdog twice: $(cat "$R")"
old_dead "$R" 1 || fail "the watchdog kill left descendants"
no_beside "$R"
grep -q '"watchdog"' < <("${RSCTL[@]}" --json events wd) || fail "no watchdog event for wd"
echo "watchdog kill: the old descendants died before the next incarnation"

# --- rs-agent kill -9 and restart: adopted, still in its cgroup
up_fk ad --notify simple --settle 0.2
R=$TMP/rec.ad
ID=$(inst_id ad)
AGENT=${PIDS[1]}
kill -9 "$AGENT"
wait_for 10 gone "$AGENT" || fail "the agent did not die"
start_agent "$NODE"
wait_for 10 grep -q 'adopted 1 running\|adopted [0-9]* running' "$TMP/$NODE.log" || fail "no adoption"
for k in m g d; do
    in_cgroup "$(pid_of "$R" $k 1)" "ad.$ID" || fail "$k of ad left its cgroup across the agent's restart"
done
wait_for 10 node_up "$NODE" || fail "the agent did not come back"
r=$("${RSCTL[@]}" down ad) || fail "down ad: $r"
old_dead "$R" 1 || fail "down after the agent's restart left descendants"
echo "agent kill -9: the instance stays in its cgroup; down still ends it all"


# --- RS_TEST_NO_CGROUPS=1: as before
export RS_TEST_NO_CGROUPS=1
start_agent "$NODE2"
unset RS_TEST_NO_CGROUPS
wait_for 10 node_up "$NODE2" || fail "agent $NODE2 did not register"
grep -q 'cgroups: none (RS_TEST_NO_CGROUPS=1); instances are tracked by process group' \
    "$TMP/$NODE2.log" || fail "the agent without cgroups does not say so"
"${RSCTL[@]}" up nc --node "$NODE2" --notify simple --settle 0.2 --env "REC=$TMP/rec.nc" \
    -- "$TMP/fk.sh" >/dev/null || fail "up nc"
R=$TMP/rec.nc
wait_for 10 incarnation "$R" 1 || fail "nc did not start"
! grep -q "rs\." "/proc/$(pid_of "$R" m 1)/cgroup" || fail "nc is in a cgroup of rs"
[ ! -d "$CGMNT/rs.$NODE2" ] || fail "a keeper without cgroups made $CGMNT/rs.$NODE2"
r=$("${RSCTL[@]}" down nc) || fail "down nc: $r"
! is_ours "$(pid_of "$R" m 1)" || fail "down nc left the main process"
echo "RS_TEST_NO_CGROUPS=1: process groups, as before"

# --- rsd knows (Hello.cgroups, RS_FEAT_CGROUP): rsctl nodes
"${RSCTL[@]}" --json nodes | python3 -c '
import json, sys
n = {x["name"]: x.get("cgroups") for x in json.load(sys.stdin)["nodes"]}
sys.exit(0 if n[sys.argv[1]] == sys.argv[3] and
         n[sys.argv[2]] == "none (RS_TEST_NO_CGROUPS=1)" else 1)' "$NODE" "$NODE2" \
    "$SUB${RS_TEST_NO_CGROUP_KILL:+, no cgroup.kill}" \
    || fail "rsctl --json nodes: $("${RSCTL[@]}" --json nodes)"
"${RSCTL[@]}" nodes >"$TMP/nodes.txt" || fail "rsctl nodes"
# CGROUPS is the column before LIMITS (the controllers, or none) and PRIVS
grep -qE "^$NODE .* yes +[a-z,]+ +[a-z,]+\$" "$TMP/nodes.txt" || fail "no CGROUPS yes for $NODE: $(cat "$TMP/nodes.txt")"
grep -qE "^$NODE2 .* no +[a-z,]+ +[a-z,]+\$" "$TMP/nodes.txt" || fail "no CGROUPS no for $NODE2: $(cat "$TMP/nodes.txt")"
echo "rsctl nodes: CGROUPS yes / no"

# --- the keeper killed (kill -9): its services die with it (pdeathsig),
# what they setsid'ed or double-forked does not; the next keeper of the
# node finds it in the node's cgroups and kills it
up_fk kk --notify simple --settle 0.2
R=$TMP/rec.kk
KEEPER=$(cat "$TMP/$NODE/run/keeper.pid")
AGENT=${PIDS[2]}   # the agent of $NODE started after the first kill -9
kill -9 "$KEEPER"
wait_for 10 gone "$AGENT" || fail "the agent outlived its keeper"
is_ours "$(pid_of "$R" g 1)" || fail "the setsid grandchild died with the keeper (nothing to sweep)"
start_agent "$NODE"
# (kk, and the services still up: rf, cr, wd, each with what it left)
wait_for 10 grep -q "killed what a previous keeper's services left in [0-9]* cgroup(s) of $SUB" \
    "$TMP/$NODE.log" || fail "the new keeper did not sweep: $(grep -a cgroup "$TMP/$NODE.log")"
old_dead "$R" 1 || fail "the sweep left the dead keeper's descendants"
wait_for 10 node_up "$NODE" || fail "the agent did not come back"
echo "keeper kill -9: the next keeper killed what its services left"

# --- the agent restarted with --cgroups off, its keeper still has them:
# the next start of an instance that had a cgroup is in none (a plain
# sleep: it leaves nothing, so its cgroup is kept across the restart)
"${RSCTL[@]}" up of --node "$NODE" --notify simple --settle 0.2 -- sleep 905 >/dev/null || fail "up of"
ID=$(inst_id of)
OF1=$("${RSCTL[@]}" --json status of | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][0]["instances"][0]["pid"])')
in_cgroup "$OF1" "of.$ID" || fail "of is not in its cgroup"
AGENT=${PIDS[4]}   # the agent of $NODE started after the keeper's kill -9
kill -9 "$AGENT"
wait_for 10 gone "$AGENT" || fail "the agent did not die"
rm -f "$TMP/$NODE.ready"
start_agent "$NODE" --cgroups off
wait_for 10 grep -q 'cgroups: none (--cgroups=off); instances are tracked by process group' \
    "$TMP/$NODE.log" || fail "the agent with --cgroups off does not say so"
wait_for 10 node_up "$NODE" || fail "the agent with --cgroups off did not come back"
"${RSCTL[@]}" refresh of >/dev/null || fail "refresh of"
of_new() {
    OF2=$("${RSCTL[@]}" --json status of | python3 -c '
import json, sys
i = json.load(sys.stdin)["services"][0]["instances"][0]
print(i["pid"] if i["state"] == "running" else 0)')
    [ "$OF2" != 0 ] && [ "$OF2" != "$OF1" ]
}
wait_for 10 of_new || fail "of did not start again"
! grep -q "rs\." "/proc/$OF2/cgroup" || fail "of is still in a cgroup of rs with --cgroups off"
wait_for 5 test ! -d "$SUB/of.$ID" || fail "the cgroup of of is still there"
r=$("${RSCTL[@]}" down of) || fail "down of: $r"
echo "--cgroups off with a keeper that has them: the next start is in none"
echo "cgroup.sh: all checks passed"
