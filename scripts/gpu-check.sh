#!/usr/bin/env bash
# One prepared GPU check: build with CUDA, run the GPU tests (label "gpu": CUDA backend against the
# CPU backend as reference) and the benchmarks, write a results table to DIR.
# Usage: scripts/gpu-check.sh DIR        (on the device machine: scripts/gpu-check.sh "$OUT")
# Finishes well inside ten minutes; each step has its own timeout so one hang cannot eat the budget.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: scripts/gpu-check.sh DIR}
mkdir -p "$out"
log="$out/gpu-check.log"
table="$out/RESULTS.md"
: >"$log"
jobs=$(nproc 2>/dev/null || echo 8)
t0=$(date +%s)

step() { # name, timeout_s, command...
  local name=$1 to=$2
  shift 2
  echo "== $name" | tee -a "$log"
  local s
  s=$(date +%s)
  timeout "$to" "$@" >>"$log" 2>&1
  local rc=$?
  echo "   rc=$rc $(( $(date +%s) - s ))s" | tee -a "$log"
  printf '| %s | %s | %ss |\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc")" "$(( $(date +%s) - s ))" >>"$out/steps.md"
  return $rc
}

{
  echo "# gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || echo "nvidia-smi: not available"
  nvcc --version 2>&1 | tail -1
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) CPUs"
  echo '```'
  echo
} >"$table"
: >"$out/steps.md"

# Dependencies only when missing (the device machine may be bare; it has no network beyond apt mirrors
# it may not reach, so failures here are reported, not fatal).
step setup 240 bash scripts/setup.sh || true
# RelWithDebInfo: the flags CI builds with, so a green CI means this build compiles (nvcc device
# code is optimised either way).
step configure 120 cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOURVIDZ_CUDA=ON || { cat "$out/steps.md" >>"$table"; exit 1; }
step build 300 cmake --build build-gpu -j"$jobs" || { cat "$out/steps.md" >>"$table"; exit 1; }
step gpu-tests 240 bash -c "cd build-gpu && ctest -L gpu --output-on-failure --timeout 200" || true
step cpu-tests 240 bash -c "cd build-gpu && ctest -LE gpu -j$jobs --timeout 200" || true

echo "## Steps" >>"$table"
echo >>"$table"
echo '| step | result | time |' >>"$table"
echo '|---|---|---|' >>"$table"
cat "$out/steps.md" >>"$table"

# Benchmarks: every bench binary gets a bounded slot; their own tables are appended verbatim.
echo >>"$table"
echo "## Benchmarks" >>"$table"
for b in build-gpu/bench/bench_*; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  left=$(( 540 - ($(date +%s) - t0) ))
  [ "$left" -gt 20 ] || { echo "skipped $name: out of time" >>"$table"; continue; }
  slot=$(( left < 120 ? left : 120 ))
  echo >>"$table"
  echo "### $name" >>"$table"
  echo '```' >>"$table"
  timeout "$slot" "$b" >>"$table" 2>>"$log" || echo "($name exited $? )" >>"$table"
  echo '```' >>"$table"
done
echo >>"$table"
echo "total $(( $(date +%s) - t0 ))s" >>"$table"
cat "$table"
