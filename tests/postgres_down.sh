#!/bin/bash
# postgres_down.sh BUILD_DIR - `rsctl down` of a real postgres with a client
# connected (issue 13): postgres's default shutdown on SIGTERM is "smart",
# it waits for its clients to leave, so a stop timeout of 1 s runs out:
#  - the answer is "pg is down: stopped with SIGKILL after 1 s (signal 15
#    did not stop it)" and the instance's down event says the same;
#  - postgres did get the signal ("received smart shutdown request" in its
#    log, which rs keeps), and no process of it is left (its group was
#    killed), the client's connection is gone.
# Opt-in: skipped (77) without postgres's binaries (initdb, postgres,
# psql; Debian's postgresql), which CI does not install. As root, postgres
# runs as --user postgres (it refuses root). Every process it starts is
# killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
PG_BIN=$(dirname "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")
if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/postgres" ] || ! command -v psql >/dev/null; then
    echo "SKIP: no postgres binaries (initdb, postgres, psql)"; exit 77
fi
AS=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "SKIP: root, and no user postgres"; exit 77; }
    AS=(runuser -u postgres --)
fi
test_tmpdir pg
FAIL_LOGS="$TMP/db1/logs/*"
chmod 755 "$TMP"
mkdir -m 700 "$TMP/data"
if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$TMP/data"; fi
"${AS[@]}" "$PG_BIN/initdb" -D "$TMP/data" -A trust -U postgres >"$TMP/initdb.log" 2>&1 \
    || fail "initdb: $(tail -n 5 "$TMP/initdb.log")"
echo "$("$PG_BIN/postgres" --version)"

start_cluster db1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_ARGS=()
if [ ${#AS[@]} -gt 0 ]; then USER_ARGS=(--user postgres); fi
"${RSCTL[@]}" up pg "${USER_ARGS[@]}" --stop-timeout 1 -- "$PG_BIN/postgres" -D "$TMP/data" \
    -k "" -h 127.0.0.1 -p "$PORT" || fail "up pg"   # (-k "": no Unix socket)
PGPID=$("${RSCTL[@]}" --json status pg | python3 -c '
import json, sys
print(json.load(sys.stdin)["services"][0]["instances"][0]["pid"])') || fail "no pid of pg"
# sql Q: psql's answer to Q
sql() { psql -h 127.0.0.1 -p "$PORT" -U postgres -Atc "$1"; }
bg psql -h 127.0.0.1 -p "$PORT" -U postgres -c 'select pg_sleep(600)'
PSQL=$BG_PID
# connected: the client's query runs
sleeping() { [ "$(sql "select count(*) from pg_stat_activity where query like 'select pg_sleep%'")" = 1 ]; }
wait_for 15 sleeping || fail "the client's session does not run"

r=$("${RSCTL[@]}" --timeout 15 down pg) || fail "down pg: $r"
echo "rsctl down pg: $r"
[ "$r" = "pg is down: stopped with SIGKILL after 1 s (signal 15 did not stop it)" ] \
    || fail "the answer does not say SIGKILL after 1 s: $r"
"${RSCTL[@]}" --json events pg >"$TMP/events.json" || fail "events pg"
python3 - "$TMP/events.json" <<'PY' || fail "no down event saying SIGKILL: $(cat "$TMP/events.json")"
import json, sys
ev = json.load(open(sys.argv[1]))["events"]
sys.exit(0 if any(e["kind"] == "down" and e["detail"] ==
                  "stopped with SIGKILL after 1 s (signal 15 did not stop it)"
                  for e in ev) else 1)
PY
! kill -0 "$PGPID" 2>/dev/null || fail "postgres (pid $PGPID) outlived its SIGKILL"
wait_for 10 bash -c "! kill -0 $PSQL 2>/dev/null" || fail "the client is still connected"
# postgres heeded the TERM (it did not ignore it): its log, kept by rs
"${RSCTL[@]}" logs pg -n 100 >"$TMP/pg.txt" || fail "logs pg"
grep -q 'received smart shutdown request' "$TMP/pg.txt" \
    || fail "postgres's log lacks the smart shutdown: $(tail -n 5 "$TMP/pg.txt")"
echo "postgres_down.sh: all checks passed"
