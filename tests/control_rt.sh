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
# and the agents' I/O thread at SCHED_IDLE (--agents-io):
#  - by default, when rsd may take it out again (CAP_SYS_NICE: the same
#    check), the thread named ZMQbg/IO/0 runs at SCHED_IDLE and
#    rs_agents_io_idle is 1; when it may not, rsd says so and the thread
#    stays at nice 10;
#  - --agents-io nice: SCHED_OTHER at nice 10; a bad value is refused;
#  - its guard: with its share at 0 % (RS_AGENTS_IO_GUARD, so any wait for
#    a CPU counts as starving) an agent's messages put the thread back at
#    SCHED_OTHER nice 10, logged and counted in rs_agents_io_starved_total;
#    after the hold it is at SCHED_IDLE again; the node stays up.
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
# its scheduling policy (/proc/PID/task/TID/stat field 41: 0 other, 2 rr,
# 5 idle) and real-time priority (field 40); comm has no space here
policy() { awk '{print $41 "/" $40}' "/proc/$RSD/task/$1/stat"; }
nice_of() { awk '{print $19}' "/proc/$RSD/task/$1/stat"; }
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
    wait_for 5 is_policy "$agents_tid" 5/0 || fail "the agents' I/O thread is $(policy "$agents_tid"), want SCHED_IDLE"
    wait_for 5 grep -q "the agents' I/O thread is at SCHED_IDLE" "$TMP/rsd.log" || fail "SCHED_IDLE not logged"
    wait_for 5 metric_is rs_agents_io_idle 1 || fail "rs_agents_io_idle $(metric rs_agents_io_idle)"
else
    wait_for 5 grep -q "stays at the normal priority" "$TMP/rsd.log" || fail "a refusal not logged"
    is_policy "$tid" 0/0 || fail "control I/O thread $tid is $(policy "$tid")"
    metric_is rs_control_io_realtime 0 || fail "rs_control_io_realtime $(metric rs_control_io_realtime)"
    wait_for 5 grep -q "the agents' I/O thread stays at nice 10" "$TMP/rsd.log" || fail "no SCHED_IDLE: not logged"
    agents_tid=$(io_tid 0) || fail "no ZMQbg/IO/0 thread"
    is_policy "$agents_tid" 0/0 || fail "the agents' I/O thread is $(policy "$agents_tid")"
    metric_is rs_agents_io_idle 0 || fail "rs_agents_io_idle $(metric rs_agents_io_idle)"
fi
metric_is rs_agents_io_starved_total 0 || fail "starved at rest: $(metric rs_agents_io_starved_total)"
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

# 2b. --agents-io nice: among the normal threads at nice 10
start_rsd_at "$CONTROL" "$AGENTS" rsd-nice.log --agents-io nice
ping_ok || fail "ping (--agents-io nice)"
agents_niced() { t=$(io_tid 0) && [ "$(nice_of "$t")" = 10 ]; }
wait_for 5 agents_niced || fail "--agents-io nice: the agents' thread not at nice 10"
is_policy "$(io_tid 0)" 0/0 || fail "--agents-io nice: thread is $(policy "$(io_tid 0)")"
metric_is rs_agents_io_idle 0 || fail "rs_agents_io_idle with --agents-io nice"
! grep -q "SCHED_IDLE" "$TMP/rsd-nice.log" || fail "--agents-io nice logged SCHED_IDLE"
stop_rsd
for bad in x idle2 ""; do
    if "$BUILD/rsd/rsd" --db "$TMP/bad.db" --agents-io "$bad" 2>"$TMP/bad.err"; then
        fail "--agents-io '$bad' accepted"
    fi
    grep -q "agents-io wants idle or nice" "$TMP/bad.err" || fail "--agents-io '$bad': $(cat "$TMP/bad.err")"
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

    # 4. the agents' thread's guard: any wait for a CPU counts (share 0),
    # and none as rsd's own work (own share 0: that rule's 2 s hold is
    # test_rtguard's)
    RS_AGENTS_IO_GUARD=0,200,3000,0 start_rsd_at "$CONTROL" "$AGENTS" rsd-idle.log
    wait_for 5 grep -q "the agents' I/O thread is at SCHED_IDLE" "$TMP/rsd-idle.log" || fail "not at SCHED_IDLE"
    # a node name no other test's agent has (keepers are found by name)
    NODE=crt-$$
    start_agent "$NODE"
    starved() { grep -q "the agents' I/O thread waited for a CPU [0-9]*% of [0-9]* ms" "$TMP/rsd-idle.log"; }
    wait_for 15 starved || fail "the guard never put the agents' thread back"
    tid=$(io_tid 0)
    is_policy "$tid" 0/0 || fail "put back, yet the agents' thread $tid is $(policy "$tid")"
    [ "$(nice_of "$tid")" = 10 ] || fail "put back at nice $(nice_of "$tid"), want 10"
    wait_for 5 metric_at_least rs_agents_io_starved_total 1 || fail "rs_agents_io_starved_total $(metric rs_agents_io_starved_total)"
    wait_for 15 grep -q "the agents' I/O thread is at SCHED_IDLE again" "$TMP/rsd-idle.log" \
        || fail "not at SCHED_IDLE again after the hold"
    wait_for 10 node_up "$NODE" || fail "node $NODE not up"
    ping_ok || fail "ping after the agents' guard"
    stop_rsd
    echo "ok: SCHED_RR 1 by default, off with --control-rt 0, lowered by the guard and raised again;" \
         "the agents' thread at SCHED_IDLE, nice 10 with --agents-io nice, put back by its guard and idle again"
else
    echo "ok: this machine refuses SCHED_RR and a way back from SCHED_IDLE: rsd says so and leaves the threads as they are (guards not tried)"
fi
