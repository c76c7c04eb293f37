#!/usr/bin/env bash
# SDXL per job type on a GPU: bench_sdxl at 1024² for sdxl_image_fast (15 steps, CFG 6.0) and
# sdxl_image_high (25 steps, CFG 7.5) with 1, 3 and 6 images, plus the 6-image high job with the
# PNGs encoded after generate returns (--png-after 1, the pre-overlap way). Each config is its own
# process, run twice: run 0 carries the per-shape one-time work (cuDNN's algorithm search, flash
# tuning), run 1 is what a warm worker sees. Writes DIR/sdxl-jobs.md (and prints it).
#
# Usage: scripts/gpu-sdxl-jobs.sh DIR      (device: carry .gpubundle from scripts/gpu-bundle.sh;
#   ~2 min on an H100 including the 6.6 GB random checkpoint ourvidz-mkmodel writes first)
# Budget: OURVIDZ_GPU_JOBS_BUDGET_S (default 170 s); configs that would start past it are skipped.
# A local dry run of the script itself: OURVIDZ_GPU_JOBS_PRESET=tiny OURVIDZ_GPU_JOBS_BACKEND=cpu
# OURVIDZ_GPU_JOBS_SIZE=64x64.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: scripts/gpu-sdxl-jobs.sh DIR}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
report="$out/sdxl-jobs.md"
budget=${OURVIDZ_GPU_JOBS_BUDGET_S:-170}
preset=${OURVIDZ_GPU_JOBS_PRESET:-full}
backend=${OURVIDZ_GPU_JOBS_BACKEND:-cuda}
size=${OURVIDZ_GPU_JOBS_SIZE:-1024x1024}
t0=$(date +%s)
bundle=$(cd "${OURVIDZ_GPU_BUNDLE:-.gpubundle}" 2>/dev/null && pwd) || {
  echo "no bundle (scripts/gpu-bundle.sh here, then carry .gpubundle)" | tee "$report"
  exit 1
}
export LD_LIBRARY_PATH="$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu; do # cuDNN's sub-libraries load by name
  if [ -e "$d/libcudnn.so.9" ]; then
    export LD_LIBRARY_PATH="$d:$LD_LIBRARY_PATH"
    break
  fi
done
mroot=/dev/shm
[ -w "$mroot" ] || mroot=${TMPDIR:-/tmp}
mdir=$(mktemp -d "$mroot/ov-sdxl-jobs.XXXXXX") || exit 1
trap 'rm -rf "$mdir"' EXIT
{
  echo "# SDXL job types, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1);" \
    "bundle $(cat "$bundle/COMMIT" 2>/dev/null)"
  echo
} >"$report"
if ! "$bundle/bin/ourvidz-mkmodel" sdxl --preset "$preset" --out "$mdir" >>"$report" 2>&1; then
  echo "mkmodel failed" >>"$report"
  cat "$report"
  exit 1
fi
echo "checkpoint written in $(($(date +%s) - t0)) s" >>"$report"
configs=(
  "fast 6|--steps 15 --cfg 6.0 --count 6"
  "high 6|--steps 25 --cfg 7.5 --count 6"
  "fast 1|--steps 15 --cfg 6.0 --count 1"
  "fast 3|--steps 15 --cfg 6.0 --count 3"
  "high 6, PNG after generate|--steps 25 --cfg 7.5 --count 6 --png-after 1"
  "high 1|--steps 25 --cfg 7.5 --count 1"
  "high 3|--steps 25 --cfg 7.5 --count 3"
)
rc=0
for c in "${configs[@]}"; do
  name=${c%%|*}
  args=${c#*|}
  left=$((budget - ($(date +%s) - t0)))
  echo >>"$report"
  if [ "$left" -lt 15 ]; then
    echo "## $name: skipped (time budget)" >>"$report"
    continue
  fi
  echo "## $name ($args)" >>"$report"
  echo '```' >>"$report"
  # shellcheck disable=SC2086 # args are words
  timeout --kill-after=5 "$left" "$bundle/bin/bench_sdxl" --backend "$backend" --model "$mdir/model.safetensors" \
    --size "$size" --repeat 2 $args >>"$report" 2>&1 || rc=1
  echo '```' >>"$report"
done
echo >>"$report"
echo "total $(($(date +%s) - t0)) s" >>"$report"
cat "$report"
exit $rc
