#!/bin/bash
# statuspage.sh BUILD_DIR - rsd's status page (GET / on the metrics
# endpoint) in a real headless Chromium (Debian's chromium):
#  - the page lists the service with its instance running, restarts 0;
#  - a crash (kill -9) and the page, loaded again, shows the restart;
#  - /status.json is the page's data; a request naming a host that is not
#    a loopback name gets 403 (no other site can read it by rebinding);
#  - a service no node can take is "waiting for a node" there.
# SCREENSHOT=FILE also saves a picture of the page (docs/status-page.png).
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
test_tmpdir page
test_cleanup() {
    if [ -f "$TMP/svc.pid" ]; then kill -9 "$(cat "$TMP/svc.pid")" 2>/dev/null || true; fi
}
BROWSER=$(command -v chromium || true)
[ -n "$BROWSER" ] || fail "chromium missing (apt-get install chromium)"

start_cluster web1
"${RSCTL[@]}" up web -- sh -c 'echo $$ > '"$TMP"'/svc.pid; exec sleep 1000' >/dev/null || fail "up"
URL="http://$METRICS/"

# dom: the page after its script drew it (Chromium runs its timers on a
# virtual clock until the budget is spent)
dom() {
    timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$TMP/chromium" --virtual-time-budget=3000 --dump-dom "$URL" \
        2>>"$TMP/chromium.log"
}
# restarts_shown N: the page's row of web's instance says restarts N
restarts_shown() {
    dom >"$TMP/dom.html" || return 1
    python3 - "$TMP/dom.html" "$1" <<'PY'
import re, sys
html = open(sys.argv[1]).read()
row = re.search(r'<tr data-label="web" data-instance="\d+">(.*?)</tr>', html)
ok = row and re.search(r'<td class="restarts">%s</td>' % sys.argv[2], row.group(1)) \
     and 'class="st running"' in row.group(1)
sys.exit(0 if ok else 1)
PY
}
wait_for 60 restarts_shown 0 || fail "the page does not show web running, restarts 0: $(cat "$TMP/dom.html")"
grep -q "1 service, 1 of 1 instance running, 1 of 1 node up" "$TMP/dom.html" \
    || fail "the page's summary: $(grep -o '<span id="sum">[^<]*' "$TMP/dom.html")"
kill -9 "$(cat "$TMP/svc.pid")"
wait_for 60 restarts_shown 1 || fail "the page does not show the restart: $(cat "$TMP/dom.html")"
grep -q '<td>exited</td>' "$TMP/dom.html" || fail "the page's events lack the crash"
echo "the page shows web restarted once"

curl -sf "http://$METRICS/status.json" >"$TMP/status.json" || fail "GET /status.json"
python3 - "$TMP/status.json" <<'PY' || fail "status.json: $(cat "$TMP/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
web = [v for v in s["services"]["list"] if v["label"] == "web"][0]
assert web["state"] == "running" and web["instances"][0]["restarts"] == 1, web
assert s["nodes"]["up"] == 1 and s["nodes"]["list"][0]["name"] == "web1", s["nodes"]
assert any(e["kind"] == "exited" for e in s["events"]), s["events"]
PY
code=$(curl -s -o "$TMP/403.txt" -w '%{http_code}' -H 'Host: evil.example:80' "http://$METRICS/")
[ "$code" = 403 ] || fail "a non-loopback Host got $code"
grep -q "tunnel" "$TMP/403.txt" || fail "the 403 does not say why"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/nope")
[ "$code" = 404 ] || fail "an unknown path got $code"
# a service no node can take (a placement label no node has): its row
# says it waits for a node; web, applied unchanged (export), runs on
"${RSCTL[@]}" export >"$TMP/m.yaml" || fail "export"
printf -- '- label: gpuonly\n  command: [sleep, "1000"]\n  placement: {labels: [gpu]}\n' >>"$TMP/m.yaml"
if "${RSCTL[@]}" apply "$TMP/m.yaml" >"$TMP/apply.out" 2>&1; then
    fail "gpuonly was placed: $(cat "$TMP/apply.out")"
fi
waiting_shown() {
    curl -sf "http://$METRICS/status.json" >"$TMP/status.json" && python3 - "$TMP/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
v = {v["label"]: v for v in s["services"]["list"]}
sys.exit(0 if v["gpuonly"]["state"] == "waiting for a node" and
         v["web"]["state"] == "running" and v["web"]["instances"][0]["restarts"] == 1 else 1)
PY
}
wait_for 10 waiting_shown || fail "status.json does not say gpuonly waits: $(cat "$TMP/status.json")"
echo "the page says gpuonly waits for a node"
if [ -n "${SCREENSHOT:-}" ]; then
    timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$TMP/chromium" --virtual-time-budget=3000 --hide-scrollbars \
        --window-size=900,640 --screenshot="$SCREENSHOT" "$URL" 2>>"$TMP/chromium.log"
fi
echo "statuspage.sh: all checks passed"
