#!/bin/bash
# boot.sh BUILD_DIR - rsd --manifest: MINIX's boot order with real binaries.
# A wrong manifest stops rsd at start with file:line; a good one is applied
# once an agent reports, dependencies first (each step ready before its
# dependents start), then a boot-complete event and rs_boot_complete 1.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
TMP=$(mktemp -d /tmp/rs-boot.XXXXXX)
cleanup() {
    local rc=$?
    kill_started
    for f in "$TMP"/*.pid; do [ -f "$f" ] && { kill -9 "$(cat "$f")" 2>/dev/null || true; }; done
    if [ $rc -ne 0 ]; then echo "--- FAILED; logs:"; tail -n 20 "$TMP"/*.log 2>/dev/null || true; fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
SVC="$BUILD/tests/notifysvc"

printf 'services:\n  - label: a\n    command: [x]\n    replicas: lots\n' >"$TMP/bad.yaml"
if "$BUILD/rsd/rsd" --db "$TMP/bad.db" --control tcp://127.0.0.1:* --agents tcp://127.0.0.1:* \
    --manifest "$TMP/bad.yaml" 2>"$TMP/bad.log"; then fail "rsd started with a bad manifest"; fi
grep -q "bad.yaml:4: services\[0\].replicas" "$TMP/bad.log" || fail "no file:line error: $(cat "$TMP/bad.log")"

cat >"$TMP/site.yaml" <<EOT
services:
  - label: web
    command: [$SVC, --ready, --pidfile, $TMP/web.pid]
    depends_on: [db]
  - label: db
    command: [$SVC, --ready, --ready-delay, "500", --pidfile, $TMP/db.pid]
EOT
bg "$BUILD/rsd/rsd" --db "$TMP/rs.db" --control tcp://127.0.0.1:* --agents tcp://127.0.0.1:* \
    --metrics 127.0.0.1:0 --manifest "$TMP/site.yaml" --ready-fd 3 3>"$TMP/ready" 2>"$TMP/rsd.log"
wait_for 10 grep -q metrics= "$TMP/ready" || fail "rsd did not get ready"
CONTROL=$(sed 's/.*control=\([^ ]*\).*/\1/' "$TMP/ready")
AGENTS=$(sed 's/.*agents=\([^ ]*\).*/\1/' "$TMP/ready")
export RS_CRED="$TMP/admin.cred"   # rsd made it beside its --db
METRICS=$(sed 's/.*metrics=\([^ ]*\).*/\1/' "$TMP/ready" | tr -d '\n')
# (a file, not a pipe: grep -q's early exit fails curl with SIGPIPE,
# and pipefail makes that the pipeline's status)
curl -sf "http://$METRICS/metrics" -o "$TMP/metrics" || fail "no metrics"
grep -q '^rs_boot_complete 0$' "$TMP/metrics" || fail "boot complete before any node"
bg "$BUILD/agent/rs-agent" --node b1 --rsd "$AGENTS" --state-dir "$TMP/b1" --token-file "$TMP/join.token" 2>"$TMP/agent.log"
rsctl() { "$BUILD/ctl/rsctl" -s "$CONTROL" "$@"; }
wait_for 20 bash -c "curl -sf http://$METRICS/metrics | grep -q '^rs_boot_complete 1$'" \
    || fail "boot did not complete: $(rsctl events | tail -5)"
rsctl --json lookup db | grep -q '"state":"running"' || fail "db not running"
rsctl --json lookup web | grep -q '"state":"running"' || fail "web not running"
seq_of() { rsctl --json events "$1" -n 100 | python3 -c "import json,sys
print(next(e['seq'] for e in json.load(sys.stdin)['events'] if e['kind']=='$2'))"; }
[ "$(seq_of web up)" -gt "$(seq_of db ready)" ] || fail "web started before db was ready"
grep -q "boot-complete" < <(rsctl events -n 100) || fail "no boot-complete event"
echo "boot.sh: bad manifest refused, boot order db -> web, boot complete"
