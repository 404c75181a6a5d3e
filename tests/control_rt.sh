#!/bin/bash
# control_rt.sh BUILD_DIR - rsd's control socket's I/O thread at SCHED_RR
# (--control-rt, lib/rtguard.h) with the real binaries:
#  - by default, when rsd may (this machine lets a process take SCHED_RR:
#    tried with chrt), the thread named ZMQbg/IO/1 runs at SCHED_RR 1 and
#    rs_control_io_realtime is 1; when it may not, rsd says so once, the
#    thread stays at SCHED_OTHER and the gauge is 0;
#  - --control-rt 0: never raised;
#  - the guard: with its share at 0 % (RS_CONTROL_RT_GUARD, so any work
#    counts as a flood) a few requests put the thread back at SCHED_OTHER,
#    logged and counted in rs_control_io_lowered_total; after the hold it
#    is raised again. Requests are answered throughout.
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
LOG_LINES=30
test_tmpdir control_rt

# io_tid N: rsd $RSD's ZeroMQ I/O thread N (libzmq names them; 1 is the
# control socket's, 0 the agents')
io_tid() {
    local t
    for t in /proc/"$RSD"/task/*; do
        [ "$(cat "$t/comm" 2>/dev/null)" = "ZMQbg/IO/$1" ] && { basename "$t"; return 0; }
    done
    return 1
}
ctl_tid() { io_tid 1 >/dev/null; }
# its scheduling policy (/proc/PID/task/TID/stat field 41: 0 other, 2 rr)
# and real-time priority (field 40); comm has no space here
policy() { awk '{print $41 "/" $40}' "/proc/$RSD/task/$1/stat"; }
is_policy() { [ "$(policy "$1")" = "$2" ]; }
metric() { curl -sf "http://$METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
metric_at_least() { local v; v=$(metric "$1"); [ -n "$v" ] && [ "${v%.*}" -ge "$2" ]; }
ping_ok() { "${RSCTL[@]}" ping >/dev/null; }
stop_rsd() { kill "$RSD"; wait_for 5 gone "$RSD" || fail "rsd $RSD did not stop"; }

can_rt=0
chrt -r 1 true 2>/dev/null && can_rt=1

# 1. the default
start_rsd
ping_ok || fail "ping"
wait_for 5 ctl_tid || fail "no ZMQbg/IO/1 thread in rsd $RSD"
tid=$(io_tid 1)
if [ "$can_rt" = 1 ]; then
    wait_for 5 is_policy "$tid" 2/1 || fail "control I/O thread $tid is $(policy "$tid"), want SCHED_RR 1"
    wait_for 5 grep -q "I/O thread is at SCHED_RR 1" "$TMP/rsd.log" || fail "not logged"
    wait_for 5 metric_is rs_control_io_realtime 1 || fail "rs_control_io_realtime $(metric rs_control_io_realtime)"
    agents_tid=$(io_tid 0) || fail "no ZMQbg/IO/0 thread"
    [ "$(policy "$agents_tid")" = 0/0 ] || fail "the agents' I/O thread is $(policy "$agents_tid")"
else
    wait_for 5 grep -q "stays at the normal priority" "$TMP/rsd.log" || fail "a refusal not logged"
    is_policy "$tid" 0/0 || fail "control I/O thread $tid is $(policy "$tid")"
    metric_is rs_control_io_realtime 0 || fail "rs_control_io_realtime $(metric rs_control_io_realtime)"
fi
metric_is rs_control_io_lowered_total 0 || fail "lowered at rest: $(metric rs_control_io_lowered_total)"
stop_rsd

# 2. --control-rt 0: never
start_rsd_at "$CONTROL" "$AGENTS" rsd-off.log --control-rt 0
ping_ok || fail "ping (--control-rt 0)"
wait_for 5 ctl_tid || fail "no ZMQbg/IO/1 thread"
tid=$(io_tid 1)
metric_is rs_control_io_realtime 0 || fail "rs_control_io_realtime with --control-rt 0"
is_policy "$tid" 0/0 || fail "--control-rt 0: thread $tid is $(policy "$tid")"
! grep -q "SCHED_RR" "$TMP/rsd-off.log" || fail "--control-rt 0 logged a raise"
stop_rsd
for bad in -1 100 x 1x; do
    if "$BUILD/rsd/rsd" --db "$TMP/bad.db" --control-rt "$bad" 2>"$TMP/bad.err"; then
        fail "--control-rt $bad accepted"
    fi
    grep -q "control-rt wants a SCHED_RR priority" "$TMP/bad.err" || fail "--control-rt $bad: $(cat "$TMP/bad.err")"
done

# 3. the guard lowers it after work above its share, raises it after the hold
if [ "$can_rt" = 1 ]; then
    RS_CONTROL_RT_GUARD=0,200,3000 start_rsd_at "$CONTROL" "$AGENTS" rsd-guard.log --control-rt 3
    wait_for 5 grep -q "I/O thread is at SCHED_RR 3" "$TMP/rsd-guard.log" || fail "not raised to 3"
    lowered() {
        ping_ok && grep -q "used [0-9]*% of a CPU over [0-9]* ms" "$TMP/rsd-guard.log"
    }
    wait_for 10 lowered || fail "the guard never lowered the thread"
    tid=$(io_tid 1)
    is_policy "$tid" 0/0 || fail "lowered, yet thread $tid is $(policy "$tid")"
    wait_for 5 metric_at_least rs_control_io_lowered_total 1 || fail "rs_control_io_lowered_total $(metric rs_control_io_lowered_total)"
    wait_for 15 grep -q "I/O thread is at SCHED_RR 3 again" "$TMP/rsd-guard.log" \
        || fail "not raised again after the hold"
    ping_ok || fail "ping after the guard"
    stop_rsd
    echo "ok: SCHED_RR 1 by default, off with --control-rt 0, lowered by the guard and raised again"
else
    echo "ok: this machine refuses SCHED_RR: rsd says so and leaves the thread as it is (guard not tried)"
fi
