#!/bin/bash
# netns.sh BUILD_DIR - several hosts on one machine: rsd and three rs-agents
# each in a network namespace this test makes, joined by veth pairs to a
# bridge in a fourth "switch" namespace (addresses exist only inside the
# namespaces). Checks, with the real binaries over real TCP:
#  - placement spreads three services over the three hosts;
#  - a partition (the host's link set down) keeps its service running
#    there, rsd loses the node after the TTL and reschedules the service;
#  - when the link comes back the partitioned copy is stopped: each
#    service runs exactly once;
#  - a manifest with replicas, dependencies and placement by node labels
#    (agents started with --label): boot order observed, labels obeyed;
#  - rs-agent kill -9 in a host: its services untouched, re-adopted (same
#    pids) by the restarted agent;
#  - every process of a host killed (node loss): its instances run
#    elsewhere (on a node their placement allows) within the TTL; the host
#    back: no duplicates;
#  - rsd kill -9 in the middle of an apply: after its restart the apply is
#    finished, in dependency order, each service once.
# Cleans up every namespace and process it made (processes by pid).
# Exit 77 (skipped) when not root or without ip netns.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 77; }
ID=$$
SW=rs-sw-$ID; CT=rs-ct-$ID; HOSTS=(rs-h1-$ID rs-h2-$ID rs-h3-$ID)
. "$(dirname "$0")/../deploy/netns-lib.sh"
TMP=$(mktemp -d /tmp/rs-netns.XXXXXX)
cleanup() {
    local rc=$?
    kill_started
    # services the agents started: every pid still in our namespaces
    netns_destroy "${NETNS_MADE[@]}"
    if [ $rc -ne 0 ]; then echo "--- FAILED; logs:"; tail -n 15 "$TMP"/*.log 2>/dev/null || true; fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

netns_switch "$SW"
netns_host "$SW" "$CT" 1
for i in 1 2 3; do netns_host "$SW" "${HOSTS[$((i - 1))]}" $((i + 1)); done

start_rsd() {
    bg ip netns exec "$CT" "$BUILD/rsd/rsd" --db "$TMP/rs.db" --control tcp://127.0.0.1:7700 \
        --agents tcp://10.77.0.1:7701 --node-ttl 2 2>>"$TMP/rsd.log"
    RSD=$BG_PID
}
start_rsd
# rsd makes its keys beside its --db: the agents enrol with its join token
wait_for 10 test -s "$TMP/join.token" || fail "rsd made no join token"
export RS_CRED="$TMP/admin.cred"
LABEL=(x zone-a zone-a zone-b)   # h1, h2: zone-a; h3: zone-b
AGENT=()
start_agent() {
    bg ip netns exec "${HOSTS[$(($1 - 1))]}" "$BUILD/agent/rs-agent" --node "h$1" \
        --rsd tcp://10.77.0.1:7701 --state-dir "$TMP/h$1" --label "${LABEL[$1]}" \
        --token-file "$TMP/join.token" 2>>"$TMP/h$1.log"
    AGENT[$1]=$BG_PID
}
for i in 1 2 3; do start_agent $i; done
rsctl() { ip netns exec "$CT" "$BUILD/ctl/rsctl" -s tcp://127.0.0.1:7700 "$@"; }
up_count() { [ "$(rsctl --json nodes | grep -o '"state":"up"' | wc -l)" -eq "$1" ]; }
wait_for 15 up_count 3 || fail "the three agents did not register over the bridge"

for s in a b c; do rsctl up "$s" --settle 0.2 -- sleep 1000 >/dev/null || fail "up $s"; done
nodes=$(for s in a b c; do rsctl --json lookup "$s" | sed 's/.*"node":"\([^"]*\)".*/\1/'; done | sort | tr '\n' ' ')
[ "$nodes" = "h1 h2 h3 " ] || fail "placement did not spread: $nodes"
echo "placement: a b c on $nodes"

# partition the host that runs a
victim=$(rsctl --json lookup a | sed 's/.*"node":"\([^"]*\)".*/\1/')
vpid=$(rsctl --json lookup a | sed 's/.*"pid":\([0-9]*\).*/\1/')
vi=${victim#h}
t0=$(date +%s%N)
ip -n "${HOSTS[$((vi - 1))]}" link set eth0 down
moved() { n=$(rsctl --json lookup a | sed 's/.*"node":"\([^"]*\)".*/\1/'); [ "$n" != "$victim" ] && rsctl --json lookup a | grep -q '"state":"running"'; }
wait_for 20 moved || fail "a was not rescheduled away from partitioned $victim"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "partition of $victim: a rescheduled and running elsewhere after $ms ms (TTL 2 s)"
rsctl --json nodes | grep -q "\"name\":\"$victim\",\"state\":\"lost\"" || fail "$victim not lost"
kill -0 "$vpid" 2>/dev/null || fail "the partitioned copy of a died; it should keep running"

ip -n "${HOSTS[$((vi - 1))]}" link set eth0 up
gone() { ! kill -0 "$vpid" 2>/dev/null; }
wait_for 20 gone || fail "the partitioned copy of a (pid $vpid) was not stopped after the link came back"
wait_for 15 up_count 3 || fail "$victim did not come back up"
count=0
for ns in "${HOSTS[@]}"; do
    for p in $(ip netns pids "$ns"); do
        [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && count=$((count + 1))
    done
done
[ "$count" -eq 3 ] || fail "expected 3 service processes across the hosts, found $count"
echo "after the partition healed: 3 services, each running once"

# --- a manifest: replicas, depends_on, placement by labels ---
cat >"$TMP/site.yaml" <<EOT
services:
  - label: web
    command: [sleep, "1001"]
    replicas: 2
    depends_on: [db]
    settle: 0.2
    placement: {labels: [zone-a]}
  - label: db
    command: [$BUILD/tests/notifysvc, --ready, --ready-delay, "500"]
    notify: notify
    placement: {labels: [zone-b]}
EOT
rsctl apply "$TMP/site.yaml" >/dev/null || fail "apply site.yaml"
# node and pid of each instance of a service: "node pid" lines
where() { rsctl --json status "$1" | python3 -c '
import json, sys
for i in json.load(sys.stdin)["services"][0]["instances"]:
    if i["state"] == "running": print(i["node"], i["pid"])'; }
[ "$(where db | cut -d' ' -f1)" = h3 ] || fail "db is not on the zone-b host: $(where db)"
[ "$(where web | cut -d' ' -f1 | sort | tr '\n' ' ')" = "h1 h2 " ] \
    || fail "web is not on the two zone-a hosts: $(where web)"
seq_of() { rsctl --json events "$1" -n 200 | python3 -c '
import json, sys
print(min([e["seq"] for e in json.load(sys.stdin)["events"] if e["kind"] == sys.argv[1]] or [0]))' "$2"; }
[ "$(seq_of web up)" -gt "$(seq_of db ready)" ] || fail "web started before db was ready"
echo "manifest: db on h3 (zone-b), web on h1 h2 (zone-a), web started after db was ready"

# --- rs-agent kill -9 on h1: services untouched, re-adopted ---
before=$(where web | grep '^h1 ' | cut -d' ' -f2)
kill -9 "${AGENT[1]}"
agent_gone() { ! kill -0 "${AGENT[1]}" 2>/dev/null; }
wait_for 5 agent_gone || fail "agent h1 did not die"
kill -0 "$before" 2>/dev/null || fail "web on h1 (pid $before) died with its agent"
start_agent 1
readopted() { [ "$(where web | grep '^h1 ' | cut -d' ' -f2)" = "$before" ] && up_count 3; }
wait_for 15 readopted || fail "web on h1 not re-adopted with pid $before: $(where web)"
echo "agent kill -9 on h1: web pid $before untouched and re-adopted"

# --- every process of h2 killed: node loss, web moves to h1 (zone-a) ---
t0=$(date +%s%N)
for p in $(ip netns pids "${HOSTS[1]}"); do kill -9 "$p" 2>/dev/null || true; done
moved2() { [ "$(where web | cut -d' ' -f1 | sort | tr '\n' ' ')" = "h1 h1 " ]; }
wait_for 20 moved2 || fail "web of h2 not rescheduled onto h1 (its placement): $(where web)"
echo "host h2 killed: web running on h1 again after $(( ($(date +%s%N) - t0) / 1000000 )) ms (TTL 2 s)"
start_agent 2
wait_for 15 up_count 3 || fail "h2 did not come back"
webs=0
for ns in "${HOSTS[@]}"; do
    for p in $(ip netns pids "$ns"); do
        grep -qx 'sleep1001' <(tr -d '\0' </proc/$p/cmdline 2>/dev/null) && webs=$((webs + 1))
    done
done
[ "$webs" -eq 2 ] || fail "expected web running twice after h2 came back, found $webs"
echo "h2 back: web runs exactly twice"

# --- rsd kill -9 during an apply ---
cat >>"$TMP/site.yaml" <<EOT
  - label: slow
    command: [$BUILD/tests/notifysvc, --ready, --ready-delay, "3000"]
    notify: notify
  - label: after
    command: [sleep, "1002"]
    settle: 0.2
    depends_on: [slow]
EOT
rsctl apply "$TMP/site.yaml" --no-block >/dev/null || fail "apply --no-block"
kill -9 "$RSD"
rsd_gone() { ! kill -0 "$RSD" 2>/dev/null; }
wait_for 5 rsd_gone || fail "rsd did not die"
start_rsd
running_once() { [ "$(where "$1" | wc -l)" -eq 1 ]; }
wait_for 20 running_once slow || fail "slow not running once after rsd's restart: $(where slow)"
wait_for 20 running_once after || fail "after not running once after rsd's restart: $(where after)"
[ "$(seq_of after up)" -gt "$(seq_of slow ready)" ] || fail "after started before slow was ready"
echo "rsd kill -9 during apply: finished after the restart, in dependency order, each once"
echo "netns.sh: all checks passed"
