#!/bin/bash
# metrics.sh BUILD_DIR - the metrics endpoint end to end, with real binaries
# and the real Prometheus tools (Debian package prometheus):
#  - promtool check metrics accepts rsd's live /metrics output;
#  - promtool accepts deploy/prometheus/{prometheus.yml,rules.yml};
#  - a crash moves rs_instance_restarts_total, read back through a real
#    Prometheus server's HTTP query API;
#  - that Prometheus, with the shipped rules, fires RsWatchdogMisses and
#    RsCriticalServiceFailed at the first miss and failure, and RsNodeLost
#    for a dead agent until `rsctl node forget` (tests/alerts_live.sh
#    fires and resolves the others live; tests/alerts_test.yml every
#    alert in simulated time);
#  - bad requests (wrong path, wrong method, huge headers, a client that
#    connects and says nothing) get errors and leave supervision alone.
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/.." && pwd)
test_tmpdir metrics
test_cleanup() {
    if [ -f "$TMP/svc.pid" ]; then kill -9 "$(cat "$TMP/svc.pid")" 2>/dev/null || true; fi
}
command -v promtool >/dev/null || fail "promtool missing (apt-get install prometheus)"

# the node lines one a part (rsd writes /metrics in parts): m4 below has two
RS_TEST_METRICS_NODES=1 start_cluster m1 --node-ttl 2

# refused peers are counted: plaintext, and a revoked credential
rc=0; "${RSCTL[@]}" --insecure status >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 13 ] || fail "plaintext rsctl exited $rc, want 13"
"${RSCTL[@]}" cred create tmp --role viewer >"$TMP/tmp.cred" || fail "cred create"
chmod 600 "$TMP/tmp.cred"
"${RSCTL[@]}" --cred "$TMP/tmp.cred" status >/dev/null || fail "viewer status"
"${RSCTL[@]}" cred revoke tmp >/dev/null || fail "cred revoke"
rc=0; "${RSCTL[@]}" --cred "$TMP/tmp.cred" status >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 13 ] || fail "revoked credential: rsctl exited $rc, want 13"
curl -sf "http://$METRICS/metrics" >"$TMP/auth.txt" || fail "GET /metrics"
grep -qE '^rs_auth_failures_total\{endpoint="control",reason="revoked"\} [1-9]' "$TMP/auth.txt" \
    || fail "rs_auth_failures_total did not count the revoked key: $(grep rs_auth "$TMP/auth.txt")"
[ "$(grep -E '^rs_auth_failures_total\{endpoint="control",reason="(no-curve|handshake)"\}' "$TMP/auth.txt" \
     | awk '{s += $2} END {print s + 0}')" -ge 1 ] \
    || fail "rs_auth_failures_total did not count the plaintext client: $(grep rs_auth "$TMP/auth.txt")"

# a real Prometheus scraping rsd every second
sed -e "s/127.0.0.1:9100/$METRICS/" -e 's/scrape_interval: 5s/scrape_interval: 1s/' \
    -e 's/evaluation_interval: 5s/evaluation_interval: 1s/' \
    -e "s/\"127.0.0.1:9101\", \"127.0.0.1:9102\", \"127.0.0.1:9103\"/\"$AMETRICS\"/" \
    "$TOP/deploy/prometheus/prometheus.yml" >"$TMP/prometheus.yml"
cp "$TOP/deploy/prometheus/rules.yml" "$TMP/rules.yml"
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool check config"
promtool check rules "$TOP/deploy/prometheus/rules.yml" >/dev/null || fail "promtool check rules"
grep -q "\"$AMETRICS\"" "$TMP/prometheus.yml" || fail "the agents' scrape job did not take the agent's address"
start_prometheus "$TMP/prometheus.yml"

"${RSCTL[@]}" up crashy --settle 0.2 -- sh -c 'echo $$ > '"$TMP"'/svc.pid; exec sleep 1000' \
    || fail "up"
curl -sf "http://$METRICS/metrics" >"$TMP/m1.txt" || fail "GET /metrics"
promtool check metrics <"$TMP/m1.txt" || fail "promtool check metrics (before the crash)"
grep -q '^rs_instance_up{label="crashy",node="m1",instance="1"} 1$' "$TMP/m1.txt" \
    || fail "rs_instance_up of crashy is not 1"
# the counters the shipped alerts take increase() of exist at 0 from the
# start: one appearing at 1 makes increase() 0 and the alert never fires
grep -q '^rs_critical_failures_total{label="crashy"} 0$' "$TMP/m1.txt" \
    || fail "no rs_critical_failures_total at 0 for a new service"
grep -q '^rs_watchdog_misses_total{label="crashy"} 0$' "$TMP/m1.txt" \
    || fail "no rs_watchdog_misses_total at 0 for a new service"

kill -9 "$(cat "$TMP/svc.pid")"
wait_for 10 bash -c "curl -sf http://$METRICS/metrics | grep -q '^rs_instance_restarts_total{label=\"crashy\",node=\"m1\",reason=\"signaled\"} 1'" \
    || fail "rs_instance_restarts_total did not count the crash"
curl -sf "http://$METRICS/metrics" | promtool check metrics || fail "promtool check metrics (after the crash)"
curl -sf "http://$METRICS/metrics" >"$TMP/m2.txt"
grep -q '^rs_restart_latency_seconds_count 1$' "$TMP/m2.txt" || fail "restart latency histogram did not count the restart"
grep -q '^rs_restart_latency_seconds_bucket{le="+Inf"} 1$' "$TMP/m2.txt" || fail "restart latency +Inf bucket"
wait_for 10 bash -c "curl -sf http://$METRICS/metrics | grep -qE '^rs_instance_ready_seconds_count [2-9]'" \
    || fail "ready histogram should count 2 starts (the up, the restart)"
grep -qE '^rs_store_commit_seconds_count [1-9]' "$TMP/m2.txt" || fail "no store commit timed"
grep -qE '^rs_agent_messages_total\{type="hello"\} [1-9]' "$TMP/m2.txt" || fail "no Hello counted"
grep -qE '^rs_agent_messages_total\{type="event"\} [1-9]' "$TMP/m2.txt" || fail "no agent event counted"
# rsd and the agent of this build speak RS_FEAT_BATCH: rsd's messages to
# it (the Welcome first) go as frames of a turn, none failed
grep -qE '^rs_agent_frames_total\{result="sent"\} [1-9]' "$TMP/m2.txt" || fail "no frame sent to the agent"
grep -qE '^rs_agent_frames_total\{result="failed"\} 0$' "$TMP/m2.txt" || fail "a frame to the agent failed"
grep -qE '^rs_agent_frame_messages_total [1-9]' "$TMP/m2.txt" || fail "no message in the frames"
grep -q '^rs_boot_complete 1$' "$TMP/m2.txt" || fail "rs_boot_complete is not 1"
# every turn of rsd's loop is timed; the agent's events were taken
# exactly once (RS_FEAT_EVCHAIN): no gap, no stale Hello in a quiet cluster
grep -qE '^rs_loop_turn_seconds_count [1-9]' "$TMP/m2.txt" || fail "no loop turn timed"
# the up this test did, and the status its wait_for asked: one series each
grep -qE '^rs_ctl_request_seconds_count\{verb="up"\} [1-9]' "$TMP/m2.txt" \
    || fail "no up request timed: $(grep rs_ctl_request_seconds_count "$TMP/m2.txt")"
grep -qE '^rs_ctl_request_seconds_bucket\{verb="up",le="\+Inf"\} [1-9]' "$TMP/m2.txt" \
    || fail "no +Inf bucket for up"
! grep -qE '^rs_ctl_request_seconds_count\{verb="(clone|drain)"\}' "$TMP/m2.txt" \
    || fail "a series for a verb never asked"
grep -q '^rs_agent_event_gaps_total{why="given-up"} 0$' "$TMP/m2.txt" || fail "events given up"
grep -q '^rs_agent_event_gaps_total{why="refused"} 0$' "$TMP/m2.txt" || fail "events refused"
grep -q '^rs_agent_hellos_stale_total 0$' "$TMP/m2.txt" || fail "no rs_agent_hellos_stale_total at 0"
grep -q '^rs_backoff_seconds{label="crashy"} 0$' "$TMP/m2.txt" || fail "rs_backoff_seconds of a running service is not 0"
grep -q '^process_cpu_seconds_total ' "$TMP/m2.txt" || fail "no process metrics"
wait_for 10 bash -c "curl -sf http://$METRICS/metrics | grep -qE '^rs_malloc_trims_total [1-9]'" \
    || fail "rsd's first period did not trim its heap"

# the agent's own endpoint: the node's view, valid exposition, the crash
curl -sf "http://$AMETRICS/metrics" >"$TMP/a1.txt" || fail "GET agent /metrics"
promtool check metrics <"$TMP/a1.txt" || fail "promtool check metrics (agent)"
grep -q '^rs_agent_instance_restarts{label="crashy",instance="1"} 1$' "$TMP/a1.txt" \
    || fail "the agent does not count the restart: $(grep restarts "$TMP/a1.txt")"
grep -q '^rs_agent_restart_latency_seconds_count 1$' "$TMP/a1.txt" \
    || fail "the agent's restart latency histogram did not count the restart"
grep -q '^rs_agent_instances{node="m1",state="running"} 1$' "$TMP/a1.txt" \
    || fail "rs_agent_instances running is not 1"
grep -q '^rs_agent_rsd_connected 1$' "$TMP/a1.txt" || fail "rs_agent_rsd_connected is not 1"
curl -s -o /dev/null -w '%{http_code}' "http://$AMETRICS/nope" | grep -qx 404 \
    || fail "agent: a wrong path is not 404"
curl -sf "http://$AMETRICS/healthz" | grep -qx ok || fail "agent /healthz"

# read it back through Prometheus's query API
q="http://$PROM/api/v1/query?query=rs_instance_restarts_total%7Blabel%3D%22crashy%22%7D"
wait_for 30 bash -c "curl -sf '$q' | grep -q '\"value\":\[[0-9.]*,\"1\"\]'" \
    || fail "Prometheus never saw restarts_total = 1: $(curl -s "$q")"
echo "Prometheus query: $(curl -s "$q")"

# bad requests: errors, and supervision carries on
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/nope")" = 404 ] || fail "wrong path not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$METRICS/metrics")" = 405 ] || fail "POST not 405"
big=$(head -c 40000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://$METRICS/metrics" || true)
case $code in 2*) fail "a 40 kB header was accepted ($code)";; esac
exec 7<>"/dev/tcp/${METRICS%:*}/${METRICS##*:}"   # a client that says nothing
start=$(date +%s%N)
"${RSCTL[@]}" status crashy >/dev/null || fail "status while a client stalls the endpoint"
curl -sf "http://$METRICS/healthz" | grep -q ok || fail "healthz while a client stalls"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 7>&-
echo "status + healthz answered in $ms ms with a silent client connected"
kill -9 "$(cat "$TMP/svc.pid")"
wait_for 10 bash -c "'${RSCTL[0]}' -s '$CONTROL' --json status crashy | grep -q '\"restarts\":2'" \
    || fail "supervision stopped after the bad requests"

# a metric per family that must move: watchdog misses, lost nodes
"${RSCTL[@]}" up wd --period 0.3 -- "$BUILD/tests/notifysvc" --ready --watchdog 100 \
    --watchdog-stop-after 600 >/dev/null || fail "up wd"
wait_for 15 bash -c "curl -sf http://$METRICS/metrics | grep -qE '^rs_watchdog_misses_total\{label=\"wd\"\} [1-9]'" \
    || fail "rs_watchdog_misses_total did not count the missed heartbeat"
curl -sf "http://$METRICS/metrics" >"$TMP/m3.txt"
[ "$(grep -c '^rs_watchdog_misses_total{label="wd"}' "$TMP/m3.txt")" = 1 ] \
    || fail "rs_watchdog_misses_total of wd twice (its zero and its count)"
promtool check metrics <"$TMP/m3.txt" || fail "promtool check metrics (with counted and zero series)"
wait_for 30 alert RsWatchdogMisses label wd || fail "RsWatchdogMisses did not fire for the first miss"
"${RSCTL[@]}" down wd >/dev/null
# a critical service that fails for good: the alert fires at the first
"${RSCTL[@]}" up crit --critical --restart never -- sh -c 'echo $$ > '"$TMP"'/crit.pid; exec sleep 1000' \
    >/dev/null || fail "up crit"
wait_for 10 test -s "$TMP/crit.pid" || fail "crit did not start"
kill -9 "$(cat "$TMP/crit.pid")"
wait_for 30 alert RsCriticalServiceFailed label crit \
    || fail "RsCriticalServiceFailed did not fire: $(curl -s "http://$PROM/api/v1/alerts")"
"${RSCTL[@]}" down crit --force >/dev/null || fail "down crit --force"
bg "$BUILD/agent/rs-agent" --node m2 --rsd "$AGENTS" --state-dir "$TMP/m2" --token-file "$TMP/join.token" 2>"$TMP/agent2.log"
m2=$BG_PID
wait_for 10 bash -c "curl -sf http://$METRICS/metrics | grep -q '^rs_nodes{state=\"up\"} 2$'" \
    || fail "rs_nodes{state=up} is not 2 with two agents"
# watchdog misses on both nodes of one service: one series, their sum
# (rsd counts them per node; the family is by label)
"${RSCTL[@]}" up wd2 --replicas 2 --period 0.3 -- "$BUILD/tests/notifysvc" --ready \
    --watchdog 100 --watchdog-stop-after 600 >/dev/null || fail "up wd2"
wait_for 20 bash -c "curl -sf -m 10 http://$METRICS/metrics >'$TMP/m4.txt' &&
    grep -q '^rs_instance_restarts_total{label=\"wd2\",node=\"m1\",' '$TMP/m4.txt' &&
    grep -q '^rs_instance_restarts_total{label=\"wd2\",node=\"m2\",' '$TMP/m4.txt'" \
    || fail "wd2 did not miss its watchdog on both nodes: $(grep wd2 "$TMP/m4.txt")"
[ "$(grep -c '^rs_watchdog_misses_total{label="wd2"}' "$TMP/m4.txt")" = 1 ] \
    || fail "rs_watchdog_misses_total of wd2 once a node: $(grep '^rs_watchdog_misses_total{label="wd2"}' "$TMP/m4.txt")"
grep -qE '^rs_watchdog_misses_total\{label="wd2"\} ([2-9]|[1-9][0-9]+)$' "$TMP/m4.txt" \
    || fail "rs_watchdog_misses_total of wd2 is not the sum of both nodes'"
promtool check metrics <"$TMP/m4.txt" || fail "promtool check metrics (two nodes' misses)"
for n in m1 m2; do
    [ "$(grep -c "^rs_node_heartbeat_age_seconds{node=\"$n\"}" "$TMP/m4.txt")" = 1 ] \
        || fail "node $n's heartbeat age not once in the parts: $(grep '^rs_node_heartbeat' "$TMP/m4.txt")"
done
"${RSCTL[@]}" down wd2 >/dev/null
kill -9 $m2
wait_for 15 bash -c "curl -sf http://$METRICS/metrics | grep -q '^rs_nodes{state=\"lost\"} 1$'" \
    || fail "rs_nodes{state=lost} did not go up when an agent died"
# RsNodeLost: firing once lost for 30 s; forgetting the node resolves it
# (lost, then fenced after its lease: the alert counts both)
wait_for 60 alert RsNodeLost alertname RsNodeLost || fail "RsNodeLost did not fire"
"${RSCTL[@]}" node forget m2 >/dev/null || fail "node forget m2"
wait_for 15 alert_gone RsNodeLost alertname RsNodeLost || fail "RsNodeLost still active after node forget"
echo "metrics.sh: all checks passed"
