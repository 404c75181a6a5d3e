#!/bin/sh
# Adapter: rs-agent, for the shared peer harness (bench.py in
# /work/shared/bench/peers; copy this file to its adapters/ directory).
#
# rs needs three programs: rsd (control daemon, SQLite state), rs-agent (the
# per-host supervisor, the process that forks/reaps/restarts services) and
# rsctl (the CLI that registers services with rsd). So:
#   setup DIR N PROFILE  writes DIR/rs.conf (n, profile); starts nothing
#   start DIR            rsd in the background (state under DIR, ports chosen
#                        by the kernel, reported via --ready-fd), rs-agent in
#                        the background (enrolled with rsd's join.token),
#                        waits for node n1, then one
#                        `rsctl up svcNNN --no-block ...` per service, then
#                        `wait`s on the agent (the foreground part); once the
#                        agent is gone it stops rsd and exits.
#   stop DIR ROOTPID     SIGTERM the agent (stops its services, exits), then
#                        SIGTERM rsd.
# Keys: rsd writes rsd.key, admin.cred and join.token into DIR/rs (the
# folder of its --db) at its first start, before its ready line; the agent
# enrols with --token-file DIR/rs/join.token (its key stays in
# DIR/rs/agent/agent.key) and rsctl runs with --cred DIR/rs/admin.cred.
# Only rs-agent supervises the services; rsd and rsctl are not in the restart
# path (the agent restarts locally and reports afterwards). Note that the
# harness's "supervisor side" memory sums rsd + rs-agent (+ this shell).
#
# Services: "$BENCH_SVC_BIN --name svcNNN --sd-notify" exec'd directly by the
# agent (posix_spawnp, no shell); BENCH_STAMP/BENCH_CRASH_MS given with
# `--env`. --sd-notify: svc sends READY=1 to $NOTIFY_SOCKET at start. rs
# speaks sd_notify by default (`--notify auto`), so this is service behaviour,
# not supervisor tuning; without it a service is ready after 1 s of life, and
# a service that dies before it was ever ready is not restarted (crash-ms 100).
#
# Profiles: default = plain `rsctl up` (1st restart immediate, then 2 s, 4 s,
# ... while it keeps dying within 60 s of start); fast = `--no-backoff`
# (documented: "always restart at once").
#
# BENCH_RS_AGENT = path of rs-agent in a build dir; rsd and rsctl are taken
# from ../rsd/rsd and ../ctl/rsctl next to it (or from PATH / RS_RSD, RS_CTL).
set -eu
# lib.sh of the harness: next to this file when copied into adapters/, else
# through BENCH_HOME (run_all.sh also takes a path to an adapter kept elsewhere).
# shellcheck source=/dev/null
if [ -f "$(dirname "$0")/lib.sh" ]; then . "$(dirname "$0")/lib.sh"
else . "${BENCH_HOME:?BENCH_HOME not set}/adapters/lib.sh"; fi
SUP=${BENCH_RS_AGENT:-rs-agent}
case $SUP in */*) ;; *) SUP=$(command -v "$SUP" 2>/dev/null || echo "$SUP") ;; esac
bindir=$(dirname "$SUP")
RSD=${RS_RSD:-$bindir/../rsd/rsd}
CTL=${RS_CTL:-$bindir/../ctl/rsctl}
[ -x "$RSD" ] || RSD=$(command -v rsd 2>/dev/null || echo "$RSD")
[ -x "$CTL" ] || CTL=$(command -v rsctl 2>/dev/null || echo "$CTL")

ep() {  # ep DIR control|agents: endpoint rsd reported on its ready fd
    sed -n "s/.*$2=\\([^ ]*\\).*/\\1/p" "$1/rs/ready"
}

action=${1:-}; [ $# -gt 0 ] && shift
case $action in
check)
    [ -x "$SUP" ] || die "$SUP not found (set BENCH_RS_AGENT=/path/to/build/agent/rs-agent)"
    [ -x "$RSD" ] || die "rsd not found next to $SUP ($RSD)"
    [ -x "$CTL" ] || die "rsctl not found next to $SUP ($CTL)"
    echo "rs-agent $("$CTL" --version | sed 's/^rsctl //') (+ rsd, rsctl; $(cd "$bindir/.." && pwd))" ;;
profiles) echo default fast ;;
describe)
    case ${1:-default} in
    fast) echo "rsctl up --no-backoff (restart always immediate); svc --sd-notify" ;;
    *)    echo "rsctl up (1st restart immediate, then 2,4,8.. s backoff within 60 s); svc --sd-notify" ;;
    esac ;;
setup)
    dir=$1 n=$2 profile=$3
    printf 'n=%s\nprofile=%s\n' "$n" "$profile" > "$dir/rs.conf" ;;
start)
    dir=$1
    n=$(sed -n 's/^n=//p' "$dir/rs.conf")
    profile=$(sed -n 's/^profile=//p' "$dir/rs.conf")
    mkdir -p "$dir/rs/agent"
    : > "$dir/rs/ready"
    "$RSD" --db "$dir/rs/rs.db" --agents 'tcp://127.0.0.1:*' \
        --control 'tcp://127.0.0.1:*' --ready-fd 3 \
        3>"$dir/rs/ready" </dev/null >"$dir/rs/rsd.log" 2>&1 &
    echo $! > "$dir/rs/rsd.pid"
    i=0
    until [ -s "$dir/rs/ready" ]; do
        i=$((i + 1)); [ $i -lt 2000 ] || die "rsd did not get ready"
        kill -0 "$(cat "$dir/rs/rsd.pid")" 2>/dev/null || die "rsd exited: $(cat "$dir/rs/rsd.log")"
        sleep 0.005
    done
    control=$(ep "$dir" control)
    i=0
    until [ -s "$dir/rs/join.token" ] && [ -s "$dir/rs/admin.cred" ]; do
        i=$((i + 1)); [ $i -lt 1000 ] || die "rsd wrote no join.token/admin.cred"
        sleep 0.005
    done
    cred=$dir/rs/admin.cred
    "$SUP" --node n1 --rsd "$(ep "$dir" agents)" --state-dir "$dir/rs/agent" \
        --token-file "$dir/rs/join.token" </dev/null >"$dir/rs/agent.log" 2>&1 &
    apid=$!
    echo $apid > "$dir/rs/agent.pid"
    i=0
    until "$CTL" -s "$control" --cred "$cred" --json nodes 2>/dev/null | grep -q '"state":"up"'; do
        i=$((i + 1)); [ $i -lt 2000 ] || die "agent did not connect"
        kill -0 "$apid" 2>/dev/null || die "rs-agent exited: $(cat "$dir/rs/agent.log")"
        sleep 0.005
    done
    extra=
    [ "$profile" = fast ] && extra=--no-backoff
    i=0
    while [ "$i" -lt "$n" ]; do
        name=$(svc_name "$i")
        # shellcheck disable=SC2086
        "$CTL" -s "$control" --cred "$cred" up "$name" --no-block $extra \
            --env "BENCH_STAMP=$BENCH_STAMP" --env "BENCH_CRASH_MS=$BENCH_CRASH_MS" \
            -- "$BENCH_SVC_BIN" --name "$name" --sd-notify >/dev/null
        i=$((i + 1))
    done
    rc=0
    wait "$apid" || rc=$?
    rpid=$(cat "$dir/rs/rsd.pid")
    kill -TERM "$rpid" 2>/dev/null || :
    wait "$rpid" || :
    exit "$rc" ;;
stop)
    dir=$1
    apid=$(cat "$dir/rs/agent.pid" 2>/dev/null || :)
    rpid=$(cat "$dir/rs/rsd.pid" 2>/dev/null || :)
    if [ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null; then
        i=0   # the agent stops its services (stop signal, SIGKILL after 2 s)
        while kill -0 "$apid" 2>/dev/null && [ $i -lt 800 ]; do
            sleep 0.01; i=$((i + 1))
        done
    fi
    if [ -n "$rpid" ]; then kill -TERM "$rpid" 2>/dev/null || :; fi ;;
*) die "unknown action '$action'" ;;
esac
