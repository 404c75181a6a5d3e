#!/bin/bash
# netns_fence.sh BUILD_DIR - issue 16 over real TCP between network
# namespaces (the layout of netns.sh: rsd in one, three rs-agents in three
# more, joined by a bridge in a "switch" namespace). A fence: stop service
# on a host whose link goes down:
#  - at every poll during the partition at most one copy of it runs across
#    the three hosts (its agent stops it at the lease, rsd starts it
#    elsewhere only after lease + stop timeout + margin);
#  - after the link comes back exactly one copy runs, and the partitioned
#    host's agent does not start it again (it moved).
# Prints the time from the partition to the fence and to the move.
# Cleans up every namespace and process it made (processes by pid).
# Exit 77 (skipped) when not root or without ip netns.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no iproute2"; exit 77; }
ID=$$
SW=rs-fsw-$ID; CT=rs-fct-$ID; HOSTS=(rs-fh1-$ID rs-fh2-$ID rs-fh3-$ID)
. "$(dirname "$0")/../deploy/netns-lib.sh"
TMP=$(mktemp -d /tmp/rs-netns-fence.XXXXXX)
cleanup() {
    local rc=$?
    kill_started
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
    --agents tcp://10.77.0.1:7701 --node-ttl 2 --fence-margin 1 2>>"$TMP/rsd.log"
wait_for 10 test -s "$TMP/join.token" || fail "rsd made no join token"
export RS_CRED="$TMP/admin.cred"
for i in 1 2 3; do
    bg ip netns exec "${HOSTS[$((i - 1))]}" "$BUILD/agent/rs-agent" --node "h$i" \
        --rsd tcp://10.77.0.1:7701 --state-dir "$TMP/h$i" \
        --token-file "$TMP/join.token" 2>>"$TMP/h$i.log"
done
rsctl() { ip netns exec "$CT" "$BUILD/ctl/rsctl" -s tcp://127.0.0.1:7700 "$@"; }
up_count() { [ "$(rsctl --json nodes | grep -o '"state":"up"' | wc -l)" -eq "$1" ]; }
wait_for 15 up_count 3 || fail "the three agents did not register over the bridge"

rsctl up w --fence stop --stop-timeout 0.5 --settle 0.2 -- sleep 1003 >/dev/null || fail "up w"
# copies of w across the hosts: processes whose command line is "sleep 1003"
copies() {
    local n=0 ns p
    for ns in "${HOSTS[@]}"; do
        for p in $(ip netns pids "$ns"); do
            grep -qx 'sleep1003' <(tr -d '\0' </proc/$p/cmdline 2>/dev/null) && n=$((n + 1))
        done
    done
    echo $n
}
[ "$(copies)" -eq 1 ] || fail "w does not run once before the partition"
victim=$(rsctl --json lookup w | sed 's/.*"node":"\([^"]*\)".*/\1/')
vpid=$(rsctl --json lookup w | sed 's/.*"pid":\([0-9]*\).*/\1/')
vi=${victim#h}

t0=$(date +%s%N)
ip -n "${HOSTS[$((vi - 1))]}" link set eth0 down
t_fence=; t_move=; polls=0
# poll until w runs elsewhere, then 2 s more: never two copies
while :; do
    # the old copy's death first, then the count: a copy counted after
    # the old one was seen dead is a new one
    old_dead=0; kill -0 "$vpid" 2>/dev/null || old_dead=1
    c=$(copies); polls=$((polls + 1))
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$c" -le 1 ] || fail "$c copies of w at $ms ms after the partition"
    if [ -z "$t_fence" ] && [ $old_dead -eq 1 ]; then t_fence=$ms; fi
    if [ -z "$t_move" ] && [ "$c" -eq 1 ] && [ $old_dead -eq 1 ]; then t_move=$ms; fi
    if [ -n "$t_move" ] && [ "$ms" -gt $((t_move + 2000)) ]; then break; fi
    [ "$ms" -lt 20000 ] || fail "w did not move within 20 s (fence at ${t_fence:-never} ms)"
    sleep 0.05
done
rsctl --json lookup w | grep -q "\"node\":\"$victim\"" && fail "w still placed on $victim"
[ "$t_move" -ge 3000 ] || fail "w ran elsewhere after only $t_move ms (lease 2 + stop 0.5 + margin 1)"
echo "partition of $victim: fenced copy gone after $t_fence ms, w running elsewhere after $t_move ms (TTL/lease 2 s, stop 0.5 s, margin 1 s); never two copies in $polls polls"

# the victim's agent noticed its connection is dead (no TCP reset crosses
# a downed link: lib/net.c's NET_DEAD_MS without acknowledgement)
dropped() { grep -q "the connection to rsd .* dropped" "$TMP/h$vi.log"; }
wait_for 10 dropped || fail "$victim's agent still thinks its connection to rsd is alive"
echo "partition of $victim: its agent dropped the dead connection after $(( ($(date +%s%N) - t0) / 1000000 )) ms at most"

hellos=$(grep -c "node h$vi said hello" "$TMP/rsd.log" || true)
ip -n "${HOSTS[$((vi - 1))]}" link set eth0 up
wait_for 15 up_count 3 || fail "$victim did not come back up"
# the healed host hears rsd, says hello: w moved, so nothing starts there
one() { [ "$(copies)" -eq 1 ]; }
wait_for 5 one || fail "not exactly one copy of w after the partition healed: $(copies)"
rsctl --json lookup w | grep -q '"state":"running"' || fail "w not running after the heal"
# the link is up and the node welcomed again: a reconcile has run; still one
more_hellos() { [ "$(grep -c "node h$vi said hello" "$TMP/rsd.log")" -gt "$hellos" ]; }
wait_for 10 more_hellos || fail "no new hello from $victim after the heal"
[ "$(copies)" -eq 1 ] || fail "$(copies) copies of w after $victim said hello again"
echo "after the partition healed: w runs exactly once"
echo "netns_fence.sh: all checks passed"
