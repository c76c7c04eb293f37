#!/usr/bin/env bash
# The test command: install dependencies, build, run the whole suite; then the ASan/UBSan suite,
# the unit-file lint and the source checks. Idempotent. Exit status = pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
bash scripts/checksrc.sh

jobs=$(nproc 2>/dev/null || echo 2)
export CTEST_OUTPUT_ON_FAILURE=1

echo "== build (release, CUDA when nvcc is present) =="
bash scripts/build.sh build
echo "== tests =="
(cd build && ctest -j"$jobs" --timeout 600)

echo "== build (ASan + UBSan, CPU) =="
bash scripts/build.sh build-asan -DOURVIDZ_SANITIZE=ON -DOURVIDZ_CUDA=OFF -DCMAKE_BUILD_TYPE=Debug
echo "== tests under ASan + UBSan =="
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest -j"$jobs" --timeout 900 -LE gpu)

echo "== systemd units =="
bash scripts/verify-units.sh

echo "all checks passed in $root"
