#!/bin/sh
# Runs the rs benchmarks with sane defaults and prints everything:
#   bench/restart.py  crash -> restart latency vs the fork/exec floor (kill + crash modes)
#   bench/memory.py   rs-agent PSS/RSS/USS with 1, 100, 1000 services
#   bench/handover.py live update and crash restart with/without --listen:
#                     failed requests, update duration, gap in service
#   bench/curve.py    what CURVE costs against the same binaries --insecure
# Every script runs rs on the secure path (rsd's join.token for the agents,
# its admin.cred for rsctl, all in the script's temp dir; see README.md).
# Environment: RS_BUILD (build dir, default build-bench), ROUNDS (100),
# NS ("1 100 1000"), HROUNDS (handover rounds per scenario, 20), CURVE
# (curve.py's options, default none; "off" skips it), OUT (where the raw
# JSON goes, default a new /tmp dir).
# Builds rs into $RS_BUILD first if its binaries (or tests/sockserv, which
# handover.py runs as the service) are missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
RS_BUILD=${RS_BUILD:-$root/build-bench}
export RS_BUILD
ROUNDS=${ROUNDS:-100}
NS=${NS:-1 100 1000}
HROUNDS=${HROUNDS:-20}
CURVE=${CURVE:-}
OUT=${OUT:-$(mktemp -d /tmp/rs-bench-out.XXXXXX)}
mkdir -p "$OUT"

if [ ! -x "$RS_BUILD/agent/rs-agent" ] || [ ! -x "$RS_BUILD/rsd/rsd" ] || \
   [ ! -x "$RS_BUILD/ctl/rsctl" ] || [ ! -x "$RS_BUILD/tests/sockserv" ]; then
    echo "== building rs into $RS_BUILD"
    # RS_TESTS=ON (the default) for tests/sockserv; only the targets used
    cmake -S "$root" -B "$RS_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DRS_SANITIZE=OFF -DRS_TESTS=ON >/dev/null
    cmake --build "$RS_BUILD" -j"$(nproc)" --target rsd rs-agent rsctl sockserv >/dev/null
fi

echo "== machine: nproc $(nproc), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
echo "== restart latency ($ROUNDS rounds per mode)"
# shellcheck disable=SC2086
python3 "$here/restart.py" --rounds "$ROUNDS" --mode both --json "$OUT/restart.json" || rc=1
echo
echo "== rs-agent memory (N = $NS)"
# shellcheck disable=SC2086
python3 "$here/memory.py" --n $NS --json "$OUT/memory.json" || rc=1
echo
echo "== live update and socket handover ($HROUNDS rounds per scenario)"
python3 "$here/handover.py" --rounds "$HROUNDS" --json "$OUT/handover.json" || rc=1
echo
if [ "$CURVE" != off ]; then
    echo "== CURVE cost (curve.py $CURVE)"
    # shellcheck disable=SC2086
    python3 "$here/curve.py" $CURVE --json "$OUT/curve.json" || rc=1
    echo
fi
echo "raw samples in $OUT"
[ $rc -eq 0 ] || echo "SOME BENCHMARK FAILED (see above)"
exit $rc
