#!/bin/bash
# run.sh BUILD_DIR SECONDS - runs BUILD_DIR/tests/fuzz_wire for SECONDS with a
# throw-away corpus; exits non-zero if the fuzzer finds a crash. Builds nothing.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
fuzzer="$1/tests/fuzz_wire"
secs="$2"
if [ ! -x "$fuzzer" ]; then
	echo "$0: $fuzzer not found; configure with CC=clang -DRS_FUZZ=ON" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus" "$tmp/artifacts"

rc=0
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$tmp/artifacts/" "$tmp/corpus" || rc=$?

if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$tmp/artifacts")" ]; then
	keep="${TMPDIR:-/tmp}/fuzz_wire-crash.$$"
	cp -r "$tmp/artifacts" "$keep"
	echo "$0: fuzz_wire failed (rc=$rc); artifacts kept in $keep" >&2
	exit 1
fi
echo "$0: no crash in ${secs}s"
