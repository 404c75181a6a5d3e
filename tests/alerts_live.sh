#!/bin/bash
# alerts_live.sh BUILD_DIR - every shipped alert of deploy/prometheus/rules.yml
# (loaded unchanged) fires and resolves in a real Prometheus that scrapes a
# live rsd every second and evaluates every second:
#  - RsCrashLoop: a service that exits 1 s after it starts, restarted at
#    once (--no-backoff), fires after its `for: 1m`; `rsctl delete` of it
#    drops its series from rsd's /metrics and resolves it;
#  - RsWatchdogMisses: a service that stops its WATCHDOG=1 fires it;
#    `rsctl delete` resolves it;
#  - RsCriticalServiceFailed: a --critical, --restart never service killed
#    fires it; `rsctl delete --force` resolves it;
#  - RsdDown: a second rsd (a second target of job rsd) killed fires it
#    after its `for: 1m`; the same rsd started again on its port resolves it;
#  - RsServiceWaitingForNode: a third rsd, with no node, given a service
#    by apply fires it after its `for: 1m`; `rsctl delete` resolves it.
# RsNodeLost fires and resolves (`rsctl node forget`) in tests/metrics.sh.
# The resolutions tested live are the ones an operator brings about at
# once: deleting the failing service, restarting rsd, forgetting a node.
# The other way the increase() alerts end, a service that stopped failing
# (fixed, or `rsctl restart` of a critical one) for as long as the rule's
# window (5 minutes for RsCrashLoop, 10 for the others), is checked only in
# tests/alerts_test.yml, in simulated time: too slow to wait out here.
# RsCrashLoop, RsdDown and RsServiceWaitingForNode run at once (each waits
# out a minute); the whole
# test takes about 1.5 minutes. Every process it starts is killed by pid on
# exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/.." && pwd)
test_tmpdir alerts
on_failure() { echo "--- alerts: $(cat "$TMP/alerts.json" 2>/dev/null)"; }
command -v prometheus >/dev/null || fail "prometheus missing (apt-get install prometheus)"

start_cluster a1
# the second rsd: only its scrape matters (it is killed and started again)
mkdir "$TMP/b"
start_b() {
    bg "$BUILD/rsd/rsd" --db "$TMP/b/rs.db" --control 'tcp://127.0.0.1:*' \
        --agents 'tcp://127.0.0.1:*' --metrics "$1" --ready-fd 3 3>"$TMP/b/ready" 2>>"$TMP/rsd-b.log"
    B_PID=$BG_PID
    wait_for 10 grep -q metrics= "$TMP/b/ready" || fail "the second rsd did not get ready on $1"
    B_METRICS=$(ready_field "$TMP/b/ready" metrics)
}
start_b 127.0.0.1:0
# the third rsd: no node ever, so a service it is given waits for one
mkdir "$TMP/c"
bg "$BUILD/rsd/rsd" --db "$TMP/c/rs.db" --control 'tcp://127.0.0.1:*' \
    --agents 'tcp://127.0.0.1:*' --metrics 127.0.0.1:0 --ready-fd 3 3>"$TMP/c/ready" 2>>"$TMP/rsd-c.log"
wait_for 10 grep -q metrics= "$TMP/c/ready" || fail "the third rsd did not get ready"
C_METRICS=$(ready_field "$TMP/c/ready" metrics)
C_CTL=("$BUILD/ctl/rsctl" -s "$(ready_field "$TMP/c/ready" control)" --cred "$TMP/c/admin.cred")

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $TOP/deploy/prometheus/rules.yml
scrape_configs:
  - job_name: rsd
    static_configs:
      - targets: ["$METRICS", "$B_METRICS", "$C_METRICS"]
  - job_name: rs-agent
    static_configs:
      - targets: ["$AMETRICS"]
EOF
start_prometheus "$TMP/prometheus.yml"
# up_is TARGET V: Prometheus's up{job="rsd"} of TARGET is V
up_is() {
    curl -sf "http://$PROM/api/v1/query" --data-urlencode "query=up{job=\"rsd\",instance=\"$1\"}" |
        python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and r[0]["value"][1] == sys.argv[1] else 1)' "$2"
}
wait_for 30 up_is "$METRICS" 1 || fail "Prometheus does not scrape rsd"
wait_for 30 up_is "$B_METRICS" 1 || fail "Prometheus does not scrape the second rsd"
wait_for 30 up_is "$C_METRICS" 1 || fail "Prometheus does not scrape the third rsd"

# no_series LABEL: rsd's /metrics has no series of service LABEL left
no_series() {
    curl -sf "http://$METRICS/metrics" >"$TMP/metrics.txt" || fail "GET /metrics"
    ! grep "label=\"$1\"" "$TMP/metrics.txt" || fail "rsd kept series of the deleted $1"
}

# RsdDown's minute and RsCrashLoop's run from here on
kill -9 "$B_PID"
"${RSCTL[@]}" up crashy --settle 0.2 --no-backoff -- sh -c 'sleep 1; exit 1' >/dev/null || fail "up crashy"
started=$SECONDS
# ... and RsServiceWaitingForNode's: the apply finds no node, the service
# stays wanted up
printf 'services:\n  - {label: nowhere, command: [/bin/sleep, "1000"]}\n' >"$TMP/c/m.yaml"
if "${C_CTL[@]}" apply "$TMP/c/m.yaml" >"$TMP/c/apply.out" 2>&1; then
    fail "an apply to an rsd without nodes succeeded"
fi
grep -q "it stays wanted up" "$TMP/c/apply.out" || fail "apply: $(cat "$TMP/c/apply.out")"

# RsWatchdogMisses and RsCriticalServiceFailed fire at once: meanwhile
"${RSCTL[@]}" up wd --period 0.3 -- "$BUILD/tests/notifysvc" --ready --watchdog 100 \
    --watchdog-stop-after 600 >/dev/null || fail "up wd"
wait_for 30 alert RsWatchdogMisses label wd || fail "RsWatchdogMisses did not fire"
"${RSCTL[@]}" delete wd >/dev/null || fail "delete wd"
no_series wd
wait_for 15 alert_gone RsWatchdogMisses label wd || fail "RsWatchdogMisses still active after delete"
echo "RsWatchdogMisses fired and resolved (delete)"

"${RSCTL[@]}" up crit --critical --restart never -- sh -c 'echo $$ > '"$TMP"'/crit.pid; exec sleep 1000' \
    >/dev/null || fail "up crit"
wait_for 10 test -s "$TMP/crit.pid" || fail "crit did not start"
kill -9 "$(cat "$TMP/crit.pid")"
wait_for 30 alert RsCriticalServiceFailed label crit || fail "RsCriticalServiceFailed did not fire"
"${RSCTL[@]}" delete crit --force >/dev/null || fail "delete crit --force"
no_series crit
wait_for 15 alert_gone RsCriticalServiceFailed label crit \
    || fail "RsCriticalServiceFailed still active after delete"
echo "RsCriticalServiceFailed fired and resolved (delete --force)"

# the two `for: 1m` alerts: a minute of pending, then firing
wait_for 120 alert RsdDown instance "$B_METRICS" || fail "RsdDown did not fire for the killed rsd"
alert_gone RsdDown instance "$METRICS" || fail "RsdDown fired for the rsd that answers"
wait_for 60 alert RsCrashLoop label crashy || fail "RsCrashLoop did not fire"
grep -q '"summary":"crashy restarted [0-9]* times in 5 minutes"' "$TMP/alerts.json" \
    || fail "RsCrashLoop's summary does not give a whole number of restarts"
echo "RsdDown and RsCrashLoop fired $((SECONDS - started)) s after the kill and the first crash"
wait_for 60 alert RsServiceWaitingForNode instance "$C_METRICS" \
    || fail "RsServiceWaitingForNode did not fire"
alert_gone RsServiceWaitingForNode instance "$METRICS" \
    || fail "RsServiceWaitingForNode fired for the rsd whose services run"
"${C_CTL[@]}" delete nowhere >/dev/null || fail "delete nowhere"
wait_for 15 alert_gone RsServiceWaitingForNode instance "$C_METRICS" \
    || fail "RsServiceWaitingForNode still active after delete"
echo "RsServiceWaitingForNode fired and resolved (delete)"

# the same rsd again, on the port Prometheus scrapes
start_b "$B_METRICS"
wait_for 15 alert_gone RsdDown instance "$B_METRICS" || fail "RsdDown still active with rsd back"
echo "RsdDown resolved (rsd started again)"
"${RSCTL[@]}" delete crashy >/dev/null || fail "delete crashy"
no_series crashy
wait_for 15 alert_gone RsCrashLoop label crashy || fail "RsCrashLoop still active after delete"
echo "RsCrashLoop resolved (delete)"
echo "alerts_live.sh: all checks passed in $SECONDS s"
