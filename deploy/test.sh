#!/bin/sh
# The test command: installs dependencies, builds with ASan+UBSan and
# -Werror, runs every Criterion test (unit and integration, real binaries),
# then fuzzes every decoder (tests/fuzz: wire, keeper record, manifest,
# sd_notify) for FUZZ_SECONDS each (default 15) when clang is present.
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
BUILD=${BUILD:-build-test}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DRS_SANITIZE=ON -DRS_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure --timeout 900
if command -v clang >/dev/null 2>&1; then
    CC=clang cmake -S . -B "$BUILD-fuzz" -DRS_FUZZ=ON >/dev/null
    cmake --build "$BUILD-fuzz" -j"$(nproc)" --target fuzz_all
    bash tests/fuzz/run.sh "$BUILD-fuzz" "${FUZZ_SECONDS:-15}"
fi
echo "all tests passed"
