# netns-lib.sh - helpers to build several "hosts" on one machine with
# network namespaces joined by veth pairs to a bridge in a switch namespace.
# Sourced by deploy/demo.sh and tests/netns.sh. Needs root and iproute2.
#   netns_switch SW            make the switch namespace with bridge br0
#   netns_host SW NS INDEX     make NS with 10.77.0.INDEX/24 on eth0, plugged into SW
# Every namespace made is appended to NETNS_MADE (for cleanup).
NETNS_MADE=()
NETNS_NET=${NETNS_NET:-10.77.0}

netns_new() {
    ip netns add "$1"
    NETNS_MADE+=("$1")
    ip -n "$1" link set lo up
}

netns_switch() {
    netns_new "$1"
    ip -n "$1" link add br0 type bridge
    ip -n "$1" link set br0 up
}

netns_host() {
    local sw=$1 ns=$2 i=$3 tag
    tag=$(printf '%s' "$ns" | md5sum | cut -c1-6)
    netns_new "$ns"
    ip link add "v$i-$tag" type veth peer name "p$i-$tag"
    ip link set "v$i-$tag" netns "$ns"
    ip link set "p$i-$tag" netns "$sw"
    ip -n "$ns" link set "v$i-$tag" name eth0
    ip -n "$ns" addr add "$NETNS_NET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$sw" link set "p$i-$tag" master br0
    ip -n "$sw" link set "p$i-$tag" up
}

# Kills every process inside the given namespaces (by pid) and deletes them.
netns_destroy() {
    local ns p
    for ns in "$@"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    for ns in "$@"; do ip netns del "$ns" 2>/dev/null || true; done
}
