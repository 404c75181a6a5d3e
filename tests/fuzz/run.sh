#!/bin/bash
# run.sh BUILD_DIR SECONDS [TARGET...] - runs each libFuzzer target
# (default: every one below) from BUILD_DIR/tests for SECONDS, each with a
# throw-away corpus seeded from tests/fuzz/corpus/TARGET if present; exits
# non-zero if any finds a crash (or is missing). Builds nothing.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
	exit 2
fi
build="$1"
secs="$2"
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_wire fuzz_kproto fuzz_manifest fuzz_notify)
here="$(cd "$(dirname "$0")" && pwd)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=()
for t in "${targets[@]}"; do
	fuzzer="$build/tests/$t"
	if [ ! -x "$fuzzer" ]; then
		echo "$0: $fuzzer not found; configure with CC=clang -DRS_FUZZ=ON" >&2
		failed+=("$t (missing)")
		continue
	fi
	mkdir -p "$tmp/$t/corpus" "$tmp/$t/artifacts"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$tmp/$t/corpus/" 2>/dev/null || true
	fi
	rc=0
	"$fuzzer" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$tmp/$t/artifacts/" "$tmp/$t/corpus" \
		>"$tmp/$t/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$t/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$t/log")
	if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$tmp/$t/artifacts")" ]; then
		keep="${TMPDIR:-/tmp}/$t-crash.$$"
		cp -r "$tmp/$t/artifacts" "$keep"
		cp "$tmp/$t/log" "$keep/fuzzer.log"
		tail -n 40 "$tmp/$t/log" >&2
		echo "$0: $t failed (rc=$rc); artifacts and log kept in $keep" >&2
		failed+=("$t")
		continue
	fi
	echo "$0: $t: no crash in ${secs}s (${execs:-?} runs, ${rate:-?} exec/s)"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "$0: failed: ${failed[*]}" >&2
	exit 1
fi
