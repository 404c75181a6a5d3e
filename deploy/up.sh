#!/bin/sh
# Set up and run: installs the Debian packages rs needs, builds it, and
# starts a local cluster: rsd plus three agents (n1, n2, n3) on this host,
# with an example service running. State lives in ./.rs-local; stop it all
# with deploy/down.sh.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
./deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRS_TESTS=OFF -DRS_SANITIZE=OFF >/dev/null
cmake --build build -j"$(nproc)"
[ -f .rs-local/pids ] && ./deploy/down.sh
mkdir -p .rs-local
CONTROL=${RS_CONTROL:-tcp://127.0.0.1:7700}
AGENTS=${RS_AGENTS:-tcp://127.0.0.1:7701}
# daemons get their own session and no tie to this terminal's pipes
METRICS=${RS_METRICS:-127.0.0.1:9100}
setsid build/rsd/rsd --db .rs-local/rs.db --control "$CONTROL" --agents "$AGENTS" --metrics "$METRICS" \
    </dev/null >>.rs-local/rsd.log 2>&1 &
echo $! >.rs-local/pids
# rsd makes its key pair, admin.cred and join.token beside its --db on its
# first start (and keeps them): the agents enrol once with the token, rsctl
# uses the admin credential
i=0
until [ -s .rs-local/join.token ] && [ -s .rs-local/admin.cred ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "rsd made no keys; see .rs-local/rsd.log" >&2; exit 1; }
    sleep 0.1
done
# each agent serves its node's own metrics (deploy/prometheus/prometheus.yml)
AMETRICS_BASE=${RS_AGENT_METRICS_BASE:-9100}
i=0
for n in n1 n2 n3; do
    i=$((i + 1))
    setsid build/agent/rs-agent --node $n --rsd "$AGENTS" --state-dir "$TOP/.rs-local/$n" \
        --token-file "$TOP/.rs-local/join.token" --metrics "127.0.0.1:$((AMETRICS_BASE + i))" \
        </dev/null >>.rs-local/$n.log 2>&1 &
    echo $! >>.rs-local/pids
done
export RS_CRED="$TOP/.rs-local/admin.cred"
RSCTL="build/ctl/rsctl -s $CONTROL"
# wait (up to 10 s) until the three agents have registered
i=0
until [ "$($RSCTL --json nodes 2>/dev/null | grep -o '"state":"up"' | wc -l)" -ge 3 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "agents did not register; see .rs-local/*.log" >&2; exit 1; }
    sleep 0.1
done
if ! $RSCTL status hello >/dev/null 2>&1; then
    $RSCTL up hello --period 2 -- "$TOP/deploy/examples/heartbeat.sh"
fi
$RSCTL nodes
$RSCTL status
cat <<EOT

rs is running: rsd on $CONTROL, agents n1 n2 n3 (logs in .rs-local/),
metrics on http://$METRICS/metrics (the agents' on ports $((AMETRICS_BASE + 1))-$((AMETRICS_BASE + 3))),
the status page on http://$METRICS/. Every connection is CURVE-encrypted
and keyed: rsctl needs the admin credential rsd made.
  export PATH=$TOP/build/ctl:\$PATH RS_CRED=$TOP/.rs-local/admin.cred
  rsctl status                      # what runs where
  kill -9 \$(rsctl --json lookup hello | sed 's/.*"pid":\([0-9]*\).*/\1/')
  rsctl status hello; rsctl events hello   # it came back, restarts=1
  deploy/down.sh                    # stop everything
EOT
