#!/bin/bash
# probes.sh BUILD_DIR - health probes run by the agent (docs/design.md
# "Probes"), with the real binaries and real servers:
#  - liveness: `python3 -m http.server` with an http liveness probe, frozen
#    with SIGSTOP (it still accepts, never answers): killed and restarted
#    with reason probe-failed within period x failures + timeout (+ slack),
#    the probe's error in the events, and the new process serves; the
#    agent's rs_probe_failures_total counted it;
#  - readiness: a probe that passes only once a file exists: `rsctl up`
#    waits until then; the file gone, status shows the instance unready,
#    back, running again;
#  - startup: a probe that never passes kills it before it was ready
#    (up fails with the probe's error, reason probe-failed);
#  - a bad probe in a manifest: the file, line and key in the error, and
#    nothing applied.
# Every process it starts is killed by pid on exit; every wait has a
# deadline. The node name (probe1) is this test's own.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
LOG_LINES=40
test_tmpdir probes

rsctl() { "${RSCTL[@]}" "$@"; }

start_cluster probe1

# ---- liveness: a frozen server is killed and restarted -----------------
port=$(free_port)
mkdir -p "$TMP/www"
echo hello >"$TMP/www/healthz"
PERIOD=0.5 FAILS=3 TMO=0.3
rsctl up web --node probe1 --cwd "$TMP/www" \
    --liveness "http://127.0.0.1:$port/healthz" --probe-period $PERIOD \
    --probe-timeout $TMO --probe-failures $FAILS --probe-delay 1 \
    -- python3 -m http.server "$port" --bind 127.0.0.1 >"$TMP/up.out" 2>&1 ||
    fail "rsctl up web: $(cat "$TMP/up.out")"
wait_for 10 serves "$port" healthz || fail "web does not serve"
pid=$(inst pid web)
[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "web has no pid"
rsctl describe web | grep -q "Liveness probe.*http http://127.0.0.1:$port/healthz every 500ms" ||
    fail "describe does not show the probe: $(rsctl describe web)"
# the first probe 1 s after the start (--probe-delay): the server is up
# by then, so no failure yet
[ "$(agent_metric rs_probe_failures_total 'label="web",probe="liveness"')" = 0 ] ||
    fail "rs_probe_failures_total is not born at 0: $(curl -sf "http://$AMETRICS/metrics" | grep probe_fail)"

t0=$(date +%s.%N)
kill -STOP "$pid"
new_pid() { local p; p=$(inst pid web); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid" ]; }
wait_for 20 new_pid || fail "frozen web was not restarted"
t1=$(date +%s.%N)
took=$(python3 -c "print(round($t1 - $t0, 2))")
bound=$(python3 -c "print($PERIOD * $FAILS + $TMO)")
echo "frozen -> new pid: ${took} s (period x failures + timeout = ${bound} s)"
# the new pid comes after the kill and a fork/exec: 1.5 s of slack for a
# loaded machine and a sanitizer build
python3 -c "import sys; sys.exit(0 if $took <= $bound + 1.5 else 1)" ||
    fail "restart took ${took} s, more than ${bound} s + 1.5 s"
gone "$pid" || fail "the frozen pid $pid still exists"
[ "$(inst reason web)" = probe-failed ] || fail "last exit reason is '$(inst reason web)', not probe-failed"
wait_for 10 serves "$port" healthz || fail "the new web does not serve"
has_event probe "liveness probe failed 3 times in a row: timeout after 300 ms" web ||
    fail "no probe event with the probe's error: $(rsctl events web)"
has_event exited "killed: liveness probe failed" web ||
    fail "the exit event does not say why: $(rsctl events web)"
rsctl status web | grep -q probe-failed || fail "status does not show probe-failed: $(rsctl status web)"
f=$(agent_metric rs_probe_failures_total 'label="web",probe="liveness"')
[ -n "$f" ] && [ "${f%.*}" -ge 3 ] || fail "rs_probe_failures_total is '$f', not >= 3"
m=$(curl -sf "http://$AMETRICS/metrics") || fail "the agent's /metrics does not answer"
n=$(awk '$1 == "rs_probe_duration_seconds_count" { print $2 }' <<<"$m")
[ -n "$n" ] && [ "${n%.*}" -ge 3 ] || fail "rs_probe_duration_seconds_count is '$n'"
# a probe that passes makes no event: one probe event for one failure
n=$(rsctl --json events web | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin)["events"] if e["kind"] == "probe"))')
[ "$n" = 1 ] || fail "$n probe events, want 1 (results become events only when they change)"
rsctl down web >/dev/null

# ---- readiness: up waits for the probe; unready while it fails ---------
port2=$(free_port)
mkdir -p "$TMP/www2"
rsctl up api --node probe1 --cwd "$TMP/www2" --ready-timeout 60 --timeout 60 --settle 0.1 \
    --readiness "http://127.0.0.1:$port2/ready" --probe-period 0.2 --probe-failures 2 \
    -- python3 -m http.server "$port2" --bind 127.0.0.1 >"$TMP/up2.out" 2>&1 &
UP=$!
PIDS+=("$UP")
wait_for 10 serves "$port2" || fail "api does not serve"
# it serves, settled long ago (0.1 s), its probe fails (404) ten times
# (2 s): up still waits, the instance is starting
fails404() { [ "$(grep -c '"GET /ready HTTP/1.1" 404' "$TMP/probe1/logs/api."*.log)" -ge 10 ]; }
wait_for 10 fails404 || fail "no readiness probes reached api"
kill -0 "$UP" 2>/dev/null || fail "rsctl up returned before the probe passed: $(cat "$TMP/up2.out")"
[ "$(inst state api)" = starting ] || fail "api is '$(inst state api)', not starting"
touch "$TMP/www2/ready"
up_done() { ! kill -0 "$UP" 2>/dev/null; }
wait_for 10 up_done || fail "rsctl up did not return once the probe passed"
wait "$UP" || fail "rsctl up failed: $(cat "$TMP/up2.out")"
[ "$(inst state api)" = running ] || fail "api is '$(inst state api)', not running"
rm "$TMP/www2/ready"
unready() { rsctl status api | grep -q unready; }
wait_for 10 unready || fail "status does not show api unready: $(rsctl status api)"
[ "$(inst unready api)" = True ] || fail "--json does not say unready"
page_unready() { local j; j=$(curl -sf "http://$METRICS/status.json") && grep -q '"state": *"unready"' <<<"$j"; }
wait_for 5 page_unready || fail "the status page does not show api unready"
has_event probe "readiness probe failed 2 times in a row: HTTP 404: not ready" api ||
    fail "no unready event: $(rsctl events api)"
touch "$TMP/www2/ready"
ready_again() { ! rsctl status api | grep -q unready; }
wait_for 10 ready_again || fail "api stays unready"
has_event probe "passes again" api || fail "no ready-again event"
rsctl down api >/dev/null

# ---- startup: a probe that never passes kills it before ready ---------
port3=$(free_port)   # nothing listens there
if rsctl up slow --node probe1 --restart never --startup "tcp:127.0.0.1:$port3" \
    --probe-period 0.2 --probe-failures 3 -- sleep 1000 >"$TMP/up3.out" 2>&1; then
    fail "up of a service whose startup probe fails succeeded"
fi
grep -q "startup probe failed 3 times in a row" "$TMP/up3.out" ||
    fail "up does not say why: $(cat "$TMP/up3.out")"
[ "$(inst reason slow)" = probe-failed ] || fail "slow's last exit is '$(inst reason slow)'"
[ "$(inst state slow)" = failed ] || fail "slow is '$(inst state slow)', not failed"

# ---- a bad probe in a manifest: line and key, nothing applied ----------
cat >"$TMP/bad.yaml" <<EOF
services:
  - label: good
    command: [/bin/sleep, "1000"]
  - label: bad
    command: [/bin/sleep, "1000"]
    probes:
      liveness: {tcp: "127.0.0.1:99999", period: 1}
EOF
if rsctl apply "$TMP/bad.yaml" >"$TMP/apply.out" 2>&1; then
    fail "a bad probe was applied"
fi
grep -q 'bad.yaml:7:.*probes.liveness.tcp' "$TMP/apply.out" ||
    fail "the error does not name line 7 and the key: $(cat "$TMP/apply.out")"
if rsctl status good >/dev/null 2>&1; then fail "part of the bad manifest was applied"; fi
echo "probes: ok"
