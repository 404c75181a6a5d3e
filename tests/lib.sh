# lib.sh - helpers of the shell-driven tests (boot.sh, metrics.sh, netns.sh).
# Source it after `set -euo pipefail`.

# fail MESSAGE: the test fails with MESSAGE on stderr.
fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1). A wait on a condition, with a deadline.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# PIDS: what the test started; bg CMD...: start CMD in the background,
# remember its pid (in BG_PID too), and keep bash from reporting its death.
PIDS=()
bg() {
    "$@" &
    BG_PID=$!
    PIDS+=("$BG_PID")
    disown "$BG_PID"
}

# kill_started: SIGKILL every pid in PIDS (by pid, never by name), then
# the keeper of every agent state dir under $TMP (run/keeper.pid): an
# agent's services live in its keeper, which outlives a killed agent, and
# die with the keeper (PR_SET_PDEATHSIG).
kill_started() {
    local p f
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for f in "${TMP:-/nonexistent}"/*/run/keeper.pid; do
        if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
    done
}
