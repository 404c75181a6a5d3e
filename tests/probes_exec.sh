#!/bin/bash
# probes_exec.sh BUILD_DIR - health probes, part 2 (issue 15), with the
# real binaries, real processes and real servers:
#  - an exec probe that hangs is killed whole at its timeout: the probe's
#    process and the child it started are gone (checked by pid, and its
#    cgroup, LABEL.ID.pSEQ, is removed), counted as a failure, and its
#    failures kill the service with "timeout after 500 ms" in the event;
#  - an exec probe runs as the service's user (nobody), its exit code is
#    the verdict and its output goes to the service's log;
#  - a hung HTTP probe (a server that accepts and never answers) delays
#    neither a restart of another service of the same agent nor that
#    service's own probe: both happen while the hung probe is pending;
#  - a probe against a socket the agent holds (--listen, socket
#    activation): a frozen server behind it is killed and restarted;
#  - rsctl update of a service with a readiness probe commits only when
#    the new process's readiness holds through --min-healthy, and rolls
#    back otherwise (the old pid serves on);
#  - an exec probe given on rsctl's command line (--liveness exec:...);
#  - rs-agent killed (-9) while an exec probe runs: the next engine finds
#    the run in the keeper, kills it (and its child), keeps the service's
#    pid, and its probes run again;
#  - a bad exec probe in a manifest: the file, line and key in the error.
# Skipped (77) without a writable cgroup2 hierarchy (not root). Every
# process it starts is killed by pid on exit; every wait has a deadline.
# The node name (probex) is this test's own.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
LOG_LINES=60
[ "$(id -u)" = 0 ] || { echo "SKIP: not root (cgroups, another user)"; exit 77; }
cgroup2_usable || { echo "SKIP: $NOCG"; exit 77; }
test_tmpdir probex
chmod 755 "$TMP"
NODE=probex

rsctl() { "${RSCTL[@]}" "$@"; }

start_cluster "$NODE"
AGENT_PID=$BG_PID
SUB=$(cat "$TMP/$NODE/run/cgroup")

# ---- an exec probe that hangs: killed whole at its timeout -------------
cat >"$TMP/hang.yaml" <<EOF2
services:
  - label: xhang
    node: $NODE
    command: [/bin/sleep, "1000"]
    probes:
      liveness:
        exec: [/bin/sh, -c, 'echo \$\$ >>$TMP/hang.pids; sleep 1000 & echo \$! >>$TMP/hang.pids; wait']
        period: 1
        timeout: 0.5
        failures: 2
EOF2
rsctl apply "$TMP/hang.yaml" >"$TMP/apply1.out" 2>&1 || fail "apply: $(cat "$TMP/apply1.out")"
two_runs() { [ "$(wc -l <"$TMP/hang.pids")" -ge 4 ]; }
wait_for 10 two_runs || fail "the exec probe did not run twice"
pid1=$(sed -n 1p "$TMP/hang.pids") kid1=$(sed -n 2p "$TMP/hang.pids")
# the first run was killed at 0.5 s; the second began after that (a
# probe in flight runs no other), at least 0.05 s into the period
wait_for 2 gone "$pid1" || fail "the hung probe's process $pid1 outlived its timeout"
wait_for 2 gone "$kid1" || fail "the hung probe's child $kid1 outlived its timeout"
# a run in flight is in a cgroup of its own (LABEL.ID.pSEQ); killed at
# its timeout, the cgroup goes too
runcg() { sed -n 's|^0::/||p' "/proc/$1/cgroup" 2>/dev/null; }
in_flight() {
    local p c
    for p in $(tac "$TMP/hang.pids"); do
        c=$(runcg "$p") || continue
        case $c in "rs.$NODE/xhang."*".p"*) RUNPID=$p RUNCG=$c; return 0 ;; esac
    done
    return 1
}
wait_for 5 in_flight || fail "no probe run seen in a cgroup rs.$NODE/xhang.ID.pSEQ"
[ -d "$CGMNT/$RUNCG" ] || fail "the run's cgroup $CGMNT/$RUNCG is not there"
wait_for 2 gone "$RUNPID" || fail "probe run $RUNPID outlived its timeout (0.5 s)"
wait_for 2 test ! -d "$CGMNT/$RUNCG" || fail "the probe's cgroup $RUNCG is still there"
echo "a run in flight was in $RUNCG; killed and removed at its timeout"
wait_for 10 has_event probe "liveness probe failed 2 times in a row: timeout after 500 ms" xhang ||
    fail "no probe event with 'timeout after 500 ms': $(rsctl events xhang)"
wait_for 10 has_event exited "killed: liveness probe failed" xhang || fail "the service was not killed by its probe"
f=$(agent_metric rs_probe_failures_total 'label="xhang",probe="liveness"')
[ -n "$f" ] && [ "${f%.*}" -ge 2 ] || fail "rs_probe_failures_total is '$f', not >= 2"
rsctl down xhang >/dev/null
for p in $(cat "$TMP/hang.pids"); do
    wait_for 3 gone "$p" || fail "a probe process ($p) outlived its service's down"
done
wait_for 3 bash -c "! ls -d $SUB/xhang.*.p* 2>/dev/null | grep -q ." ||
    fail "probe cgroups left: $(ls -d "$SUB"/xhang.*)"
echo "exec hang: killed at its timeout, group and cgroup; counted; the service killed"

# ---- rs-agent kill -9 while an exec probe runs --------------------------
cat >"$TMP/eng.yaml" <<EOF2
services:
  - label: xeng
    node: $NODE
    command: [/bin/sleep, "1000"]
    probes:
      liveness:
        exec: [/bin/sh, -c, 'echo \$\$ >>$TMP/eng.pids; sleep 1000 & echo \$! >>$TMP/eng.pids; wait']
        period: 1
        timeout: 60
        failures: 3
EOF2
rsctl apply "$TMP/eng.yaml" >"$TMP/apply-eng.out" 2>&1 || fail "apply: $(cat "$TMP/apply-eng.out")"
wait_for 10 test -s "$TMP/eng.pids" || fail "the exec probe of xeng did not run"
wait_for 5 bash -c "[ \$(wc -l <'$TMP/eng.pids') -ge 2 ]" || fail "the probe's child did not start"
run=$(sed -n 1p "$TMP/eng.pids") kid=$(sed -n 2p "$TMP/eng.pids")
spid=$(inst pid xeng)
kill -0 "$run" || fail "the probe run $run is not in flight"
kill -9 "$AGENT_PID"
wait_for 5 gone "$AGENT_PID" || fail "rs-agent did not die of kill -9"
kill -0 "$run" || fail "the probe run $run died with the engine (the keeper holds it)"
start_agent "$NODE"
AGENT_PID=$BG_PID
wait_for 10 node_up "$NODE" || fail "the restarted agent did not register"
wait_for 5 gone "$run" || fail "the probe run $run in flight at the engine's kill -9 outlived the next engine"
wait_for 5 gone "$kid" || fail "the child $kid of that run outlived the next engine"
[ "$(inst pid xeng)" = "$spid" ] || fail "xeng's pid changed ($spid -> $(inst pid xeng)): not adopted"
wait_for 10 bash -c "[ \$(wc -l <'$TMP/eng.pids') -ge 4 ]" || fail "xeng's probe did not run again after the engine restart"
rsctl down xeng >/dev/null
for p in $(cat "$TMP/eng.pids"); do
    wait_for 3 gone "$p" || fail "a probe process ($p) of xeng outlived its down"
done
wait_for 3 bash -c "! ls -d $SUB/xeng.*.p* 2>/dev/null | grep -q ." ||
    fail "probe cgroups of xeng left: $(ls -d "$SUB"/xeng.*)"
echo "agent kill -9 during a probe run: the next engine killed the run ($run and its child), xeng kept pid $spid, its probe ran again"

# ---- an exec probe as the service's user; its exit code decides --------
cat >"$TMP/user.yaml" <<EOF2
services:
  - label: xuser
    node: $NODE
    user: nobody
    command: [/bin/sleep, "1000"]
    settle: 0.1
    ready_timeout: 30
    probes:
      readiness:
        exec: [/bin/sh, -c, 'echo xuser-probe-says; test "\$(id -u)" = 65534 && test -e $TMP/ok']
        period: 0.2
        timeout: 10
        failures: 1
EOF2
rsctl apply "$TMP/user.yaml" >"$TMP/apply2.out" 2>&1 &
APPLY=$!
PIDS+=("$APPLY")
starting() { [ "$(inst state xuser)" = starting ]; }
wait_for 10 starting || fail "xuser is '$(inst state xuser)', not starting"
sleep_until() { local n; n=$(agent_metric rs_probe_failures_total 'label="xuser",probe="readiness"'); [ "${n%.*}" -ge 3 ]; }
wait_for 10 sleep_until || fail "the readiness exec probe did not fail (no file yet)"
[ "$(inst state xuser)" = starting ] || fail "xuser is ready while its probe fails"
touch "$TMP/ok"
running() { [ "$(inst state "$1")" = running ]; }
wait_for 10 running xuser || fail "xuser is not ready once its probe (as nobody) passes"
wait "$APPLY" || fail "apply: $(cat "$TMP/apply2.out")"
# its output: the service's log
grep -q "xuser-probe-says" "$TMP/$NODE/logs/xuser."*.log ||
    fail "the probe's output is not in the service's log"
# runs that end by themselves reuse their probe's cgroup (no mkdir and
# rmdir per run): one, the same across runs; gone with the service
pcgs() { ls -d "$SUB"/xuser.*.p* 2>/dev/null; }
cg1=$(pcgs)
[ "$(wc -l <<<"$cg1")" = 1 ] || fail "xuser's probe has cgroups '$cg1', want one"
more_runs() { [ "$(grep -c xuser-probe-says "$TMP/$NODE/logs/xuser."*.log)" -ge "$1" ]; }
n=$(grep -c xuser-probe-says "$TMP/$NODE/logs/xuser."*.log)
wait_for 5 more_runs $((n + 3)) || fail "xuser's probe stopped running"
[ "$(pcgs)" = "$cg1" ] || fail "xuser's probe cgroup changed from $cg1 to '$(pcgs)'"
rsctl down xuser >/dev/null
wait_for 3 test ! -d "$cg1" || fail "xuser's probe cgroup $cg1 outlived its down"
echo "exec as the service's user: exit code decides; its cgroup reused, removed at down"

# ---- the same from rsctl's command line: --liveness 'exec:...' ---------
# (the probes begin after it is ready: up's answer does not race them)
rsctl up xflag --node "$NODE" --liveness 'exec:/bin/false' --probe-period 0.3 \
    --probe-failures 2 --probe-delay 1 --settle 0.1 --restart never -- /bin/sleep 1000 \
    >"$TMP/up-xflag.out" 2>&1 ||
    fail "up with --liveness exec:: $(cat "$TMP/up-xflag.out")"
wait_for 10 has_event probe "liveness probe failed 2 times in a row: exit code 1" xflag ||
    fail "the exec probe given by rsctl did not fail with its exit code: $(rsctl events xflag)"
rsctl describe xflag | grep -q 'exec /bin/false' || fail "describe does not show the exec probe"
rsctl down xflag >/dev/null
echo "rsctl --liveness exec:/bin/false: failures with the exit code"

# ---- a hung HTTP probe delays no restart and no other probe ------------
hport=$(free_port)
# accepts (the kernel's backlog) and never answers
bg python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); c = []
while True: c.append(s.accept()[0]); open(sys.argv[2], "a").write("x\n")' "$hport" "$TMP/hung.acc"
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$hport" || fail "the hung server does not listen"
rm -f "$TMP/hung.acc"
rsctl up hung --node $NODE --liveness "http://127.0.0.1:$hport/" --probe-period 1 \
    --probe-timeout 20 --probe-failures 1 -- sleep 1000 >/dev/null || fail "up hung"
oport=$(free_port)
mkdir -p "$TMP/www"
rsctl up other --node $NODE --cwd "$TMP/www" --liveness "http://127.0.0.1:$oport/" \
    --probe-period 0.2 --probe-delay 1 --probe-failures 50 \
    -- python3 -m http.server "$oport" --bind 127.0.0.1 >/dev/null || fail "up other"
pending() { [ -s "$TMP/hung.acc" ]; }
wait_for 10 pending || fail "the hung probe never connected"
wait_for 10 serves "$oport" || fail "other does not serve"
olog=$(ls "$TMP/$NODE/logs/other."*.log)
gets() { grep -c '"GET / HTTP' "$olog" || true; }
n0=$(gets)
more_gets() { [ "$(gets)" -ge $((n0 + 5)) ]; }
wait_for 5 more_gets || fail "other's probe did not run while the hung probe was pending"
opid=$(inst pid other)
t0=$(date +%s.%N)
kill -9 "$opid"
new_pid() { local p; p=$(inst pid other); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$opid" ]; }
wait_for 10 new_pid || fail "other was not restarted"
t1=$(date +%s.%N)
# the hung probe is still pending: no failure counted, the hung service
# still runs with its first pid
[ "$(agent_metric rs_probe_failures_total 'label="hung",probe="liveness"')" = 0 ] ||
    fail "the hung probe ended before the restart (the test did not test)"
took=$(python3 -c "print(round($t1 - $t0, 2))")
echo "restart of another service while a probe hangs: ${took} s"
python3 -c "import sys; sys.exit(0 if $took < 3 else 1)" || fail "the restart took ${took} s"
rsctl down hung >/dev/null; rsctl down other >/dev/null

# ---- a probe against a socket the agent holds (--listen) ---------------
lport=$(free_port)
cat >"$TMP/act.py" <<'EOF2'
import http.server, os, socket
assert os.environ["LISTEN_FDS"] == "1"
s = socket.socket(fileno=3)
srv = http.server.HTTPServer(("", 0), http.server.SimpleHTTPRequestHandler,
                             bind_and_activate=False)
srv.socket = s
srv.serve_forever()
EOF2
rsctl up act --node $NODE --cwd "$TMP/www" --listen "http=tcp:127.0.0.1:$lport" \
    --readiness "http://127.0.0.1:$lport/" --liveness "http://127.0.0.1:$lport/" \
    --probe-period 1 --probe-timeout 2 --probe-failures 2 --probe-delay 3 \
    -- python3 "$TMP/act.py" >"$TMP/up.act" 2>&1 || fail "up act: $(cat "$TMP/up.act")"
apid=$(inst pid act)
serves "$lport" || fail "act does not serve on the held socket"
# frozen: the held socket still accepts (a tcp probe would pass), the
# http probe gets no answer: killed, restarted, serving on the same socket
kill -STOP "$apid"
new_apid() { local p; p=$(inst pid act); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$apid" ]; }
wait_for 30 new_apid || fail "frozen act behind its held socket was not restarted"
wait_for 30 serves "$lport" || fail "the new act does not serve on the held socket"
wait_for 30 running act || fail "act is not ready again"
rsctl down act >/dev/null
echo "probe through a held socket: ok"

# ---- rsctl update gated by the new process's readiness -----------------
touch "$TMP/v1" "$TMP/v3" "$TMP/v4"
cat >"$TMP/upd.yaml" <<EOF2
services:
  - label: upd
    node: $NODE
    command: [/bin/sleep, "1000"]
    env: {RF: $TMP/v1}
    settle: 0.1
    ready_timeout: 3
    probes:
      readiness:
        exec: [/bin/sh, -c, 'test -e "\$RF" && echo "\$RF" >>$TMP/passes']
        period: 0.2
        failures: 1
EOF2
rsctl apply "$TMP/upd.yaml" >"$TMP/apply3.out" 2>&1 || fail "apply upd: $(cat "$TMP/apply3.out")"
wait_for 10 running upd || fail "upd is not running"
old=$(inst pid upd)
# v2: its readiness never passes: not ready in time, rolled back
if rsctl update upd --env "RF=$TMP/v2" --min-healthy 1 >"$TMP/upd2.out" 2>&1; then
    fail "an update whose readiness never passes committed: $(cat "$TMP/upd2.out")"
fi
[ "$(inst pid upd)" = "$old" ] || fail "the old pid $old does not serve on (now $(inst pid upd))"
has_event update-rollback "not ready in time" upd || fail "no rollback event: $(rsctl events upd)"
# v3: passes (3 times: past the settle time, the new process is ready),
# then fails within min-healthy (its file goes): rolled back
rsctl update upd --env "RF=$TMP/v3" --min-healthy 10 >"$TMP/upd3.out" 2>&1 &
UPD=$!
PIDS+=("$UPD")
v3_passed() { [ "$(grep -c "/v3\$" "$TMP/passes")" -ge 3 ]; }
wait_for 10 v3_passed || fail "the new process's readiness did not pass"
rm "$TMP/v3"
upd3_done() { ! kill -0 "$UPD" 2>/dev/null; }
wait_for 8 upd3_done || fail "update v3 did not end before min-healthy (10 s) would have"
if wait "$UPD"; then fail "an update whose readiness failed within min-healthy committed"; fi
[ "$(inst pid upd)" = "$old" ] || fail "the old pid does not serve on after v3"
has_event update-rollback "did not stay ready through min-healthy" upd ||
    fail "no rollback for readiness within min-healthy: $(rsctl events upd)"
# v4: passes and holds: committed
rsctl update upd --env "RF=$TMP/v4" --min-healthy 1 >"$TMP/upd4.out" 2>&1 ||
    fail "an update whose readiness holds did not commit: $(cat "$TMP/upd4.out")"
[ "$(inst pid upd)" != "$old" ] || fail "the update committed but the old pid serves"
has_event update-commit "serves now" upd || fail "no commit event"
rsctl down upd >/dev/null
echo "update gated by readiness: rollback (never ready, unready within min-healthy), commit"

# ---- a bad exec probe in a manifest: line and key ----------------------
cat >"$TMP/bad.yaml" <<EOF2
services:
  - label: good
    node: $NODE
    command: [/bin/sleep, "1000"]
    probes:
      startup:
        exec: [check-it, --quick]
EOF2
if rsctl apply "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1; then fail "a bad exec probe was applied"; fi
grep -q 'bad.yaml:7:.*probes.startup.exec' "$TMP/bad.out" ||
    fail "the error does not name line 7 and the key: $(cat "$TMP/bad.out")"
if rsctl status good >/dev/null 2>&1; then fail "the bad manifest was applied"; fi
echo "probes_exec: ok"
