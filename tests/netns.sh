#!/bin/bash
# netns.sh BUILD_DIR - several hosts on one machine: rsd and three rs-agents
# each in a network namespace this test makes, joined by veth pairs to a
# bridge in a fourth "switch" namespace (addresses exist only inside the
# namespaces). Checks, with the real binaries over real TCP:
#  - placement spreads three services over the three hosts;
#  - a partition (the host's link set down) keeps its service running
#    there, rsd loses the node after the TTL and reschedules the service;
#  - when the link comes back the partitioned copy is stopped: each
#    service runs exactly once.
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

bg ip netns exec "$CT" "$BUILD/rsd/rsd" --db "$TMP/rs.db" --control tcp://127.0.0.1:7700 \
    --agents tcp://10.77.0.1:7701 --node-ttl 2 2>"$TMP/rsd.log"
for i in 1 2 3; do
    bg ip netns exec "${HOSTS[$((i - 1))]}" "$BUILD/agent/rs-agent" --node "h$i" \
        --rsd tcp://10.77.0.1:7701 --state-dir "$TMP/h$i" 2>"$TMP/h$i.log"
done
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
echo "netns.sh: all checks passed"
