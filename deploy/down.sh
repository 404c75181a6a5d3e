#!/bin/sh
# Stops the local cluster deploy/up.sh started (by the pids it recorded):
# agents first (each stops its services), then rsd.
set -u
cd "$(dirname "$0")/.."
[ -f .rs-local/pids ] || { echo "nothing running (no .rs-local/pids)"; exit 0; }
RSD=$(head -n1 .rs-local/pids)
for p in $(tail -n +2 .rs-local/pids); do kill -TERM "$p" 2>/dev/null; done
for p in $(tail -n +2 .rs-local/pids); do
    i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
done
# a keeper left by an agent killed with -9 stops its services on SIGTERM
for f in .rs-local/*/run/keeper.pid; do
    [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
done
kill -TERM "$RSD" 2>/dev/null
rm -f .rs-local/pids
echo "stopped"
