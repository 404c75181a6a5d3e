#!/bin/bash
# deploy/demo.sh - a three-host rs cluster on this machine, in network
# namespaces, with Prometheus scraping rsd. Needs root.
#
#   deploy/demo.sh up              build, make the hosts, start everything
#   deploy/demo.sh rsctl ARGS...   run rsctl against the demo's rsd
#   deploy/demo.sh partition HOST  cut HOST (h1, h2, h3) off the network
#   deploy/demo.sh heal HOST       plug it back
#   deploy/demo.sh query EXPR      ask the demo's Prometheus (PromQL)
#   deploy/demo.sh down            stop everything, remove the namespaces
#
# Layout: namespace rsdemo-ctl (10.78.0.1) runs rsd and Prometheus;
# rsdemo-h1..3 (10.78.0.2-4) run one rs-agent each; rsdemo-sw is the switch.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
STATE=$TOP/.rs-demo
export NETNS_NET=10.78.0
. deploy/netns-lib.sh
CTL=rsdemo-ctl
# rsctl uses the admin credential rsd makes beside its database
export RS_CRED="$STATE/admin.cred"
in_ctl() { ip netns exec "$CTL" "$@"; }
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: needs root (ip netns)" >&2; exit 1; }

case ${1:-} in
up)
    [ -d "$STATE" ] && { echo "demo already up (deploy/demo.sh down first)" >&2; exit 1; }
    ./deploy/install-deps.sh
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRS_TESTS=OFF -DRS_SANITIZE=OFF >/dev/null
    cmake --build build -j"$(nproc)"
    mkdir -p "$STATE"
    netns_switch rsdemo-sw
    netns_host rsdemo-sw "$CTL" 1
    for i in 1 2 3; do netns_host rsdemo-sw "rsdemo-h$i" $((i + 1)); done
    in_ctl setsid build/rsd/rsd --db "$STATE/rs.db" --control tcp://127.0.0.1:7700 \
        --agents tcp://10.78.0.1:7701 --metrics 127.0.0.1:9100 </dev/null >>"$STATE/rsd.log" 2>&1 &
    for _ in $(seq 100); do [ -s "$STATE/join.token" ] && break; sleep 0.1; done
    for i in 1 2 3; do
        ip netns exec "rsdemo-h$i" setsid build/agent/rs-agent --node "h$i" \
            --rsd tcp://10.78.0.1:7701 --state-dir "$STATE/h$i" \
            --token-file "$STATE/join.token" </dev/null >>"$STATE/h$i.log" 2>&1 &
    done
    sed -e 's/scrape_interval: 5s/scrape_interval: 2s/' deploy/prometheus/prometheus.yml >"$STATE/prometheus.yml"
    cp deploy/prometheus/rules.yml "$STATE/"
    in_ctl setsid prometheus --config.file="$STATE/prometheus.yml" \
        --storage.tsdb.path="$STATE/tsdb" --web.listen-address=127.0.0.1:9090 \
        </dev/null >>"$STATE/prometheus.log" 2>&1 &
    for _ in $(seq 100); do
        [ "$(in_ctl build/ctl/rsctl --json nodes 2>/dev/null | grep -o '"state":"up"' | wc -l)" -ge 3 ] && break
        sleep 0.1
    done
    in_ctl build/ctl/rsctl nodes
    for s in web api db; do
        in_ctl build/ctl/rsctl up "$s" --settle 0.3 -- sh -c "echo $s up; exec sleep 1000000"
    done
    in_ctl build/ctl/rsctl status
    cat <<EOT

The demo runs: rsd and Prometheus in namespace $CTL, agents h1 h2 h3 in
rsdemo-h1..3. Try:
  deploy/demo.sh rsctl status
  deploy/demo.sh partition h1        # wait 5 s: h1 lost, its service moves
  deploy/demo.sh rsctl nodes; deploy/demo.sh rsctl status
  deploy/demo.sh heal h1             # the copy on h1 is stopped: no duplicate
  deploy/demo.sh query 'rs_nodes'
  deploy/demo.sh down
EOT
    ;;
rsctl)
    shift
    in_ctl build/ctl/rsctl "$@" ;;
partition|heal)
    ip -n "rsdemo-$2" link set eth0 "$([ "$1" = partition ] && echo down || echo up)" ;;
query)
    in_ctl curl -s "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$2"; echo ;;
down)
    netns_destroy rsdemo-ctl rsdemo-h1 rsdemo-h2 rsdemo-h3 rsdemo-sw
    rm -rf "$STATE"
    echo "demo stopped" ;;
*)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
