#!/usr/bin/env bash
# One prepared GPU check: build the tensor runtime + CUDA backend standalone, run the tensor tests
# (CUDA backend against the CPU backend) and bench_ops_cuda, write DIR/RESULTS.md (card, driver,
# date, a table of every step, failure lines, benchmark tables) and print the table.
#
# Usage: scripts/gpu-check.sh DIR      (device machine: scripts/gpu-check.sh "$OUT")
#   Here first: scripts/gpu-bundle.sh (builds the model binaries into .gpubundle, ~9 MB), then from a
#   session with a device: run(command='scripts/gpu-check.sh "$OUT"', carry=['.gpubundle'],
#   timeout_s=480). Without the bundle the model phase is skipped (kernels and benchmarks only, ~70 s).
#   DIR gets RESULTS.md and gpu-check.log only.
#   Triage: OURVIDZ_CUDA_FLASH=0 forces the general attention kernel; test_tensor_cuda runs every
#   flash variant separately, so a failure names the variant (its "[bf16]"/"[f16]" message and mode).
#   OURVIDZ_CUDA_IM2COL=0 (generic im2col kernel) and OURVIDZ_CUDA_GN_SPLIT=0|1 (group norm split
#   path off / forced), OURVIDZ_CUDA_GEMV=0 (cuBLAS for decode linears), OURVIDZ_CUDA_DECODE_ATTN=0
#   (no split-K decode attention) and OURVIDZ_CUDA_CUDNN=0|heur (conv2d without cuDNN / cuDNN's
#   heuristic instead of its benchmark), OURVIDZ_CUDA_FUSE=0|add|glu (unfused residual / gate-up
#   linears) and OURVIDZ_CUDA_VEC=0 (scalar element-wise kernels) select the older paths the same
#   way (all listed in docs/OPERATIONS.md); OURVIDZ_CUDA_PROFILE=1 prints per-op stream time per
#   phase, and the slowest conv / attention shapes, when a backend closes.
#
# - Builds common/tensor/cuda/gpucheck/ (not the whole service): a bare GPU machine has nvcc, CMake
#   and a C compiler but none of libuv/hiredis/jansson/pkg-config; Check and OpenBLAS are used when
#   installed, else the shim runner and the plain reference sgemm in that folder.
# - Never stops at the first failure: every step runs (within the time budget) and is recorded.
# - Whole run bounded by OURVIDZ_GPU_CHECK_BUDGET_S (default 420 s); each step has its own timeout.
#   Order: build, the four test binaries in parallel, bench_ops_cuda, the model phase (bundle only;
#   at most OURVIDZ_GPU_MODELS_BUDGET_S, default 260 s: Qwen and SDXL tiny models on the CPU and the
#   GPU compared by scripts/gpu-compare.py, then Qwen2.5-7B-shaped and full SDXL random checkpoints
#   written by ourvidz-mkmodel and benchmarked against the issue targets, plus one short run of each
#   with OURVIDZ_CUDA_PROFILE=1: per-op stream time, profile_cuda.cu), then compute-sanitizer
#   memcheck over the GPU-heavy tests with whatever time is left (at most 120 s).
# - Without a GPU (or without nvcc) the GPU steps are reported as skipped; exit status 0 only when
#   nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: scripts/gpu-check.sh DIR}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
log="$out/gpu-check.log"
table="$out/RESULTS.md"
# Per-step logs live outside DIR (the device tool brings back at most 8 files): DIR gets only
# RESULTS.md and gpu-check.log, which holds every step's output in order.
steps=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || exit 1
trap 'rm -rf "$steps"' EXIT
bdir=${OURVIDZ_GPU_CHECK_BUILD:-build-gpucheck}
budget=${OURVIDZ_GPU_CHECK_BUDGET_S:-420}
skip=" ${OURVIDZ_GPU_CHECK_SKIP:-} " # any of: tests bench models memcheck (space-separated)
skipped() { [[ "$skip" == *" $1 "* ]]; }
models=" ${OURVIDZ_GPU_MODELS:-qwen sdxl} " # which model families the model phase runs
sdxl_repeat=${OURVIDZ_GPU_SDXL_REPEAT:-2}
jobs=$(nproc 2>/dev/null || echo 8)
t0=$(date +%s)
: >"$log"
rows=()    # "step|result|seconds|detail"
details=() # failure excerpts, appended to RESULTS.md
failed=0

left() { echo $((budget - ($(date +%s) - t0))); }
row() { rows+=("$1|$2|$3|$4"); }

# Run a step with a timeout; its output goes to $steps/<name>.log and the main log.
# Sets STEP_RC (124 = timed out) and STEP_S.
step() {
  local name=$1 to=$2
  shift 2
  local s
  s=$(date +%s)
  echo "== $name (timeout ${to}s): $*" >>"$log"
  timeout --kill-after=10 "$to" "$@" >"$steps/$name.log" 2>&1
  STEP_RC=$?
  STEP_S=$(($(date +%s) - s))
  cat "$steps/$name.log" >>"$log"
  echo "   rc=$STEP_RC ${STEP_S}s" >>"$log"
}

# ---- machine ----
gpu="none"
have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  have_gpu=1
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)
fi
nvcc_v=$(command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -1 || echo "no nvcc")
# >>> cuDNN for conv2d (cudnn_loader.cu dlopens libcudnn.so.9; cuDNN 9 then dlopens its sub-libraries by
# name, so their folder must be on LD_LIBRARY_PATH): the toolkit's, else pip's nvidia-cudnn (torch images)
cudnn_dir=""
for d in /usr/local/cuda/lib64 \
  "$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__) + "/lib")' 2>/dev/null)" \
  /usr/local/lib/python3*/dist-packages/nvidia/cudnn/lib /usr/lib/python3*/dist-packages/nvidia/cudnn/lib \
  /usr/local/lib/python3*/site-packages/nvidia/cudnn/lib /usr/lib/x86_64-linux-gnu; do
  if [ -n "$d" ] && [ -e "$d/libcudnn.so.9" ]; then cudnn_dir=$d; break; fi
done
[ -n "$cudnn_dir" ] && export LD_LIBRARY_PATH="$cudnn_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cudnn_info=${cudnn_dir:+$(readlink -f "$cudnn_dir/libcudnn.so.9") (on LD_LIBRARY_PATH)}
# <<< cuDNN
{
  echo "# gpu-check $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "| | |"
  echo "|---|---|"
  echo "| GPU (name, driver, memory, compute cap, max SM clock) | ${gpu} |"
  echo "| CUDA compiler | ${nvcc_v} |"
  echo "| cuDNN (conv2d, dlopen) | ${cudnn_info:-none found: conv2d uses im2col} |"
  echo "| commit | $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)') |"
  echo "| host | $(uname -n), ${jobs} CPUs, $(uname -r) |"
  echo
} >"$table"

# ---- build ----
built=0
if skipped tests && skipped bench && skipped memcheck; then
  row build SKIPPED 0 "nothing to build for (tests, bench and memcheck skipped)"
elif ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  row configure SKIPPED 0 "no nvcc on this machine"
else
  command -v nvcc >/dev/null 2>&1 || export PATH=/usr/local/cuda/bin:$PATH
  gen=()
  command -v ninja >/dev/null 2>&1 && [ ! -f "$bdir/Makefile" ] && gen=(-G Ninja)
  step configure 120 cmake -S common/tensor/cuda/gpucheck -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${gen[@]}"
  if [ "$STEP_RC" -ne 0 ]; then
    row configure "FAILED rc=$STEP_RC" "$STEP_S" "gpu-check.log"
    details+=("### configure" "$(tail -25 "$steps/configure.log")")
    failed=1
  else
    row configure ok "$STEP_S" "$(grep -o 'gpucheck: .*' "$steps/configure.log" | paste -sd ';' -)"
    step build $(($(left) < 300 ? $(left) : 300)) cmake --build "$bdir" -j"$jobs"
    if [ "$STEP_RC" -ne 0 ] && [ "$STEP_RC" -ne 124 ] &&
      ! grep -q 'gpucheck: no Check.*gpucheck: no OpenBLAS' <<<"$(grep -o 'gpucheck: .*' "$steps/configure.log" | paste -sd ';' -)"; then
      # a system Check/OpenBLAS that does not link here: once more with the built-in shim and sgemm
      details+=("### build with the system Check/OpenBLAS (retried with the shims)" "$(grep -E 'error|Error' "$steps/build.log" | head -15)")
      row build-sysdeps "FAILED, retried" "$STEP_S" "system Check/OpenBLAS did not build; shim runner + reference sgemm next"
      step configure-shims 120 cmake -S common/tensor/cuda/gpucheck -B "$bdir" -DOV_CHECK_SHIM=ON -DOV_BLAS_REF=ON
      step build $(($(left) < 300 ? $(left) : 300)) cmake --build "$bdir" -j"$jobs"
    fi
    if [ "$STEP_RC" -ne 0 ]; then
      row build "FAILED rc=$STEP_RC" "$STEP_S" "gpu-check.log"
      details+=("### build" "$(grep -E 'error|Error' "$steps/build.log" | head -30)")
      failed=1
    else
      row build ok "$STEP_S" "$(grep -c -i 'warning' "$steps/build.log") warning lines"
      built=1
    fi
  fi
fi

# ---- tests: all four at once (two use the GPU, two only the CPU), each with its own timeout ----
tests=(test_cuda_plan:60 test_tensor_core:120 test_tensor_ops:240 test_tensor_cuda:300)
if [ "$built" -eq 1 ] && skipped tests; then
  for tt in "${tests[@]}"; do row "${tt%%:*}" SKIPPED 0 "OURVIDZ_GPU_CHECK_SKIP"; done
elif [ "$built" -eq 1 ]; then
  room=$(($(left) - 150)) # keep ~150 s for the benchmarks
  [ "$room" -lt 60 ] && room=60
  pids=()
  for tt in "${tests[@]}"; do
    name=${tt%%:*}
    to=${tt##*:}
    [ "$to" -gt "$room" ] && to=$room
    (
      s=$(date +%s)
      timeout --kill-after=10 "$to" "$bdir/bin/$name" >"$steps/$name.log" 2>&1
      echo "$? $(($(date +%s) - s))" >"$steps/$name.rc"
    ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  echo "== tests (in parallel), in order:" >>"$log"
  for tt in "${tests[@]}"; do
    name=${tt%%:*}
    read -r rc secs <"$steps/$name.rc" || { rc=99; secs=0; }
    rm -f "$steps/$name.rc"
    { echo "== $name rc=$rc ${secs}s"; cat "$steps/$name.log"; } >>"$log"
    summary=$(grep -E '^[0-9]+%: Checks' "$steps/$name.log" | tail -1)
    case "$rc" in
      0) row "$name" ok "$secs" "$summary" ;;
      77) row "$name" SKIPPED "$secs" "$(grep -m1 -i 'skipped\|no CUDA' "$steps/$name.log")" ;;
      124 | 137) row "$name" "TIMEOUT" "$secs" "$summary"; failed=1 ;;
      *) row "$name" "FAILED rc=$rc" "$secs" "$summary"; failed=1 ;;
    esac
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
      details+=("### $name" "$(grep -E ':[FE]:|Assertion|error' "$steps/$name.log" | head -40)")
    fi
  done
else
  for tt in "${tests[@]}"; do row "${tt%%:*}" "NOT RUN" 0 "no build"; done
fi

# ---- benchmarks ----
bench_out=""
if skipped bench; then
  row bench_ops_cuda SKIPPED 0 "OURVIDZ_GPU_CHECK_SKIP"
elif [ "$built" -eq 1 ] && [ "$have_gpu" -eq 1 ]; then
  slot=$(left)
  [ "$slot" -gt 180 ] && slot=180
  if [ "$slot" -lt 30 ]; then
    row bench_ops_cuda SKIPPED 0 "out of time budget"
  else
    step bench_ops_cuda "$slot" "$bdir/bin/bench_ops_cuda"
    if [ "$STEP_RC" -eq 0 ]; then
      row bench_ops_cuda ok "$STEP_S" "tables below"
    else
      row bench_ops_cuda "FAILED rc=$STEP_RC" "$STEP_S" "partial tables below"
      failed=1
    fi
    bench_out=$(cat "$steps/bench_ops_cuda.log")
  fi
elif [ "$built" -eq 1 ]; then
  row bench_ops_cuda SKIPPED 0 "no GPU visible (nvidia-smi)"
else
  row bench_ops_cuda "NOT RUN" 0 "no build"
fi

# ---- models: CPU/GPU parity on tiny models, then the issue targets on full-size random weights ----
# Only with a bundle from scripts/gpu-bundle.sh (the device image cannot build the service).
bundle=${OURVIDZ_GPU_BUNDLE:-.gpubundle}
model_out=""
if skipped models; then
  row models SKIPPED 0 "OURVIDZ_GPU_CHECK_SKIP"
elif [ -x "$bundle/bin/bench_qwen" ] && [ "$have_gpu" -eq 1 ]; then
  mb=$(cd "$bundle" && pwd)
  export LD_LIBRARY_PATH="$mb/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OURVIDZ_BIN_DIR="$mb/bin" OURVIDZ_SOURCE_DIR=$PWD
  # Checkpoints go to /dev/shm when it holds the 15 GB Qwen one: on the device VM a 7 GB file took
  # 63 s to write to its disk (2026-11-27), RAM is plentiful there.
  mroot=${TMPDIR:-/tmp}
  shm_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  [ "${shm_kb:-0}" -gt $((18 * 1024 * 1024)) ] && mroot=/dev/shm
  mdir=$(mktemp -d "$mroot/ov-models.XXXXXX")
  mend=$(($(date +%s) + ${OURVIDZ_GPU_MODELS_BUDGET_S:-260})) # the models phase's own deadline
  mleft() {
    local a b
    a=$((mend - $(date +%s)))
    b=$(left)
    echo $((a < b ? a : b))
  }
  # model step: name timeout cmd... -> row (ok / FAILED), output kept for the report
  mstep() {
    local name=$1 to=$2
    shift 2
    local l
    l=$(mleft)
    [ "$to" -gt "$l" ] && to=$l
    if [ "$to" -lt 10 ]; then
      row "$name" SKIPPED 0 "out of time budget"
      return 1
    fi
    step "$name" "$to" "$@"
    model_out+="### $name ($*, ${STEP_S}s, rc $STEP_RC)"$'\n\n```\n'"$(tail -60 "$steps/$name.log")"$'\n```\n\n'
    if [ "$STEP_RC" -eq 0 ]; then
      row "$name" ok "$STEP_S" "$(tail -1 "$steps/$name.log" | cut -c1-150)"
      return 0
    fi
    row "$name" "FAILED rc=$STEP_RC" "$STEP_S" "$(tail -1 "$steps/$name.log" | cut -c1-150)"
    failed=1
    return 1
  }
  echo "bundle $(cat "$mb/COMMIT" 2>/dev/null) from $mb; checkpoints in $mdir ($(df -h "$mroot" | awk 'NR == 2 {print $4}') free)" >>"$log"
  # Kernels added since the last device run that have a switch, all off: taken for the rest of the
  # model phase when a tiny model fails on the GPU with them, so the big runs still measure something
  # (the failure stays in its row; the test rows above say which path broke).
  safe_env=(OURVIDZ_CUDA_VEC=0 OURVIDZ_CUDA_FUSE=0 OURVIDZ_CUDA_FLASH=1 OURVIDZ_CUDA_LT=0)
  safe_mode=0
  go_safe() {
    [ "$safe_mode" -eq 1 ] && return 0
    safe_mode=1
    export "${safe_env[@]}"
    row safe-mode NOTE 0 "a tiny model failed on the GPU: the model phase goes on with ${safe_env[*]}"
  }
  # 1. Qwen tiny: logits of 16 tokens on the CPU and the GPU
  q_ok=0 s_ok=0
  if [[ "$models" != *" qwen "* ]]; then
    row qwen SKIPPED 0 "OURVIDZ_GPU_MODELS"
  elif mstep qwen-tiny-cpu 60 "$mb/bin/bench_qwen" --backend cpu --reps 1 --prompt 16 --decode 4 --logits "$mdir/q_cpu.bin" &&
    { mstep qwen-tiny-gpu 60 "$mb/bin/bench_qwen" --backend cuda --reps 1 --prompt 16 --decode 4 --logits "$mdir/q_gpu.bin" ||
      { go_safe && mstep qwen-tiny-gpu-safe 60 "$mb/bin/bench_qwen" --backend cuda --reps 1 --prompt 16 --decode 4 \
        --logits "$mdir/q_gpu.bin"; }; }; then
    q_ok=1
    mstep qwen-tiny-parity 30 python3 scripts/gpu-compare.py logits "$mdir/q_cpu.bin" "$mdir/q_gpu.bin" 151936 || true
  fi
  # 2. SDXL tiny: two 256x256 images, 4 steps, same seed on both backends
  if [[ "$models" != *" sdxl "* ]]; then
    row sdxl SKIPPED 0 "OURVIDZ_GPU_MODELS"
  elif mstep sdxl-tiny-make 60 "$mb/bin/ourvidz-mkmodel" sdxl --preset tiny --out "$mdir/sdxl-tiny"; then
    mstep sdxl-tiny-cpu 90 "$mb/bin/ourvidz-sdxl" --model "$mdir/sdxl-tiny/model.safetensors" --prompt "a red fox in the snow" \
      --out "$mdir/sdxl-cpu" --backend cpu --seed 7 --steps 4 --count 2 --size 256x256 --quiet || true
    { mstep sdxl-tiny-cuda 90 "$mb/bin/ourvidz-sdxl" --model "$mdir/sdxl-tiny/model.safetensors" --prompt "a red fox in the snow" \
      --out "$mdir/sdxl-cuda" --backend cuda --seed 7 --steps 4 --count 2 --size 256x256 --quiet ||
      { go_safe && rm -rf "$mdir/sdxl-cuda" && mstep sdxl-tiny-cuda-safe 90 "$mb/bin/ourvidz-sdxl" \
        --model "$mdir/sdxl-tiny/model.safetensors" --prompt "a red fox in the snow" --out "$mdir/sdxl-cuda" \
        --backend cuda --seed 7 --steps 4 --count 2 --size 256x256 --quiet; }; } && s_ok=1
    mstep sdxl-tiny-parity 30 python3 scripts/gpu-compare.py png "$mdir/sdxl-cpu" "$mdir/sdxl-cuda" || true
    # image-to-image from the CPU run's first picture (VAE encode + add_noise + 2 of 4 steps) on both
    if [ -f "$mdir/sdxl-cpu/sdxl_7.png" ]; then
      mstep sdxl-tiny-i2i-cpu 90 "$mb/bin/ourvidz-sdxl" --model "$mdir/sdxl-tiny/model.safetensors" --prompt "a fox" \
        --out "$mdir/i2i-cpu" --backend cpu --seed 9 --steps 4 --size 256x256 --init-image "$mdir/sdxl-cpu/sdxl_7.png" \
        --strength 0.5 --quiet || true
      mstep sdxl-tiny-i2i-cuda 90 "$mb/bin/ourvidz-sdxl" --model "$mdir/sdxl-tiny/model.safetensors" --prompt "a fox" \
        --out "$mdir/i2i-cuda" --backend cuda --seed 9 --steps 4 --size 256x256 --init-image "$mdir/sdxl-cpu/sdxl_7.png" \
        --strength 0.5 --quiet || true
      mstep sdxl-tiny-i2i-parity 30 python3 scripts/gpu-compare.py png "$mdir/i2i-cpu" "$mdir/i2i-cuda" || true
    fi
  fi
  # 3. Qwen2.5-7B shapes, bf16 (issue 5: load < 10 s, decode >= 150 tok/s, enhancement < 4 s)
  if [[ "$models" != *" qwen "* ]]; then
    :
  elif [ "$q_ok" -eq 0 ]; then
    row qwen7b SKIPPED 0 "the tiny model failed on the GPU"
  elif mstep qwen7b-make 120 "$mb/bin/ourvidz-mkmodel" qwen --preset 7b --no-gguf --out "$mdir/qwen7b"; then
    mstep qwen7b-bench 90 "$mb/bin/bench_qwen" --backend cuda --reps 3 --prompt 512 --decode 128 "$mdir/qwen7b" || true
    # the same on the cuBLAS GEMV and the older attention kernels: what gemv_cuda.cu and
    # decode_attn_cuda.cu bought (OURVIDZ_CUDA_GEMV / OURVIDZ_CUDA_DECODE_ATTN, read at open)
    OURVIDZ_CUDA_GEMV=0 OURVIDZ_CUDA_DECODE_ATTN=0 mstep qwen7b-bench-old 60 "$mb/bin/bench_qwen" --backend cuda \
      --reps 2 --prompt 512 --decode 128 "$mdir/qwen7b" || true
    # without the fused residual / gate-up decode linears (OURVIDZ_CUDA_FUSE=0): what they bought
    OURVIDZ_CUDA_FUSE=0 mstep qwen7b-bench-nofuse 60 "$mb/bin/bench_qwen" --backend cuda \
      --reps 2 --prompt 512 --decode 128 "$mdir/qwen7b" || true
    # issue 5's enhancement target: ~500 new tokens under 4 s (random weights rarely stop early)
    mstep qwen7b-enhance 60 "$mb/bin/ourvidz-qwen" --model "$mdir/qwen7b" --backend cuda --enhance video --json \
      --max-tokens 512 --prompt "a woman walks her dog along a beach at sunset" || true
    # (its timing: the Targets table, scripts/gpu-targets.sh)
    # where the decode time goes: per-op stream time (profile_cuda.cu), one short run
    OURVIDZ_CUDA_PROFILE=1 mstep qwen7b-profile 60 "$mb/bin/bench_qwen" --backend cuda --reps 1 --prompt 512 \
      --decode 64 "$mdir/qwen7b" || true
  fi
  rm -rf "$mdir/qwen7b"
  # 4. SDXL full size, f16 checkpoint (issue 6: 6 images x 25 steps at 1024x1024 < 6 s on an H100)
  if [[ "$models" != *" sdxl "* ]]; then
    :
  elif [ "$s_ok" -eq 0 ]; then
    row sdxl-full SKIPPED 0 "the tiny model failed on the GPU"
  elif mstep sdxl-full-make 90 "$mb/bin/ourvidz-mkmodel" sdxl --preset full --out "$mdir/sdxl"; then
    if mstep sdxl-full-probe 120 "$mb/bin/bench_sdxl" --backend cuda --model "$mdir/sdxl/model.safetensors" \
      --size 1024x1024 --count 6 --steps 3 --repeat 1; then
      sps=$(awk '$1 == "0" && NF >= 9 {print $4}' "$steps/sdxl-full-probe.log" | head -1)
      need=$(awk -v s="${sps:-999}" -v r="$sdxl_repeat" 'BEGIN {printf "%d", r * (25 * s + 10) + 30}')
      if [ "$need" -lt "$(mleft)" ]; then
        mstep sdxl-full-25 "$need" "$mb/bin/bench_sdxl" --backend cuda --model "$mdir/sdxl/model.safetensors" \
          --size 1024x1024 --count 6 --steps 25 --repeat "$sdxl_repeat" || true
      else
        row sdxl-full-25 SKIPPED 0 "probe ${sps} s/step: ${sdxl_repeat} x 25 steps need ${need}s, $(mleft)s left"
      fi
      # image-to-image at the same size: the VAE encode's cost (encode_ms) and 12 of 25 steps
      mstep sdxl-full-i2i 60 "$mb/bin/bench_sdxl" --backend cuda --model "$mdir/sdxl/model.safetensors" \
        --size 1024x1024 --count 6 --steps 25 --strength 0.5 --repeat 1 || true
      # the same probe without this session's element-wise vector paths and fused residual linears
      OURVIDZ_CUDA_VEC=0 OURVIDZ_CUDA_FUSE=0 mstep sdxl-full-probe-novec 90 "$mb/bin/bench_sdxl" --backend cuda \
        --model "$mdir/sdxl/model.safetensors" --size 1024x1024 --count 6 --steps 3 --repeat 1 || true
      # sdxl_image_fast measured directly (15 steps, CFG 6): the Targets table's 15-step row
      mstep sdxl-full-15 60 "$mb/bin/bench_sdxl" --backend cuda --model "$mdir/sdxl/model.safetensors" \
        --size 1024x1024 --count 6 --steps 15 --cfg 6.0 --repeat 2 || true
      # the default cuDNN mode (algorithm search): its cost lands in the profile's phase "unet step 1",
      # so the "unet" phase (steps 2 and 3) is the steady state, with per-shape rows (conv, attention)
      OURVIDZ_CUDA_PROFILE=1 mstep sdxl-full-profile 90 "$mb/bin/bench_sdxl" --backend cuda \
        --model "$mdir/sdxl/model.safetensors" --size 1024x1024 --count 6 --steps 3 --repeat 1 || true
    fi
  fi
  rm -rf "$mdir"
elif [ "$have_gpu" -eq 1 ]; then
  row models SKIPPED 0 "no bundle at $bundle (scripts/gpu-bundle.sh here, then carry it)"
fi

# ---- compute-sanitizer memcheck over the GPU-heavy tests (after the benchmarks: it slows kernels) ----
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if skipped memcheck; then
  row memcheck SKIPPED 0 "OURVIDZ_GPU_CHECK_SKIP"
elif [ "$built" -eq 1 ] && [ "$have_gpu" -eq 1 ] && [ -n "$san" ]; then
  slot=$(left)
  [ "$slot" -gt 120 ] && slot=120
  if [ "$slot" -lt 45 ]; then
    row memcheck SKIPPED 0 "out of time budget"
  else
    OURVIDZ_CUDA_TESTS=t_unary,t_binary,t_glu,t_vec8,t_linear,t_gemv,t_fused,t_matmul,t_attention,t_decode_attn,t_flash_bf16,t_conv,t_quant,t_layout,t_norm \
      step memcheck "$slot" "$san" --tool memcheck --target-processes all --error-exitcode 86 --print-limit 20 \
      "$bdir/bin/test_tensor_cuda"
    errs=$(grep -c '^========= [A-Z]' "$steps/memcheck.log")
    if [ "$STEP_RC" -eq 0 ]; then
      row memcheck ok "$STEP_S" "no memcheck errors ($(grep -E '^[0-9]+%: Checks' "$steps/memcheck.log" | tail -1))"
    elif [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then
      row memcheck "INCOMPLETE" "$STEP_S" "time budget ran out; $errs sanitizer lines so far"
      [ "$errs" -gt 0 ] && { failed=1; details+=("### memcheck" "$(grep -E '^=========' "$steps/memcheck.log" | head -40)"); }
    else
      row memcheck "FAILED rc=$STEP_RC" "$STEP_S" "$errs sanitizer lines"
      details+=("### memcheck" "$(grep -E '^=========|:[FE]:' "$steps/memcheck.log" | head -40)")
      failed=1
    fi
  fi
elif [ "$built" -eq 1 ]; then
  row memcheck SKIPPED 0 "$([ "$have_gpu" -eq 1 ] && echo 'no compute-sanitizer' || echo 'no GPU visible')"
fi

# ---- report ----
targets=$(scripts/gpu-targets.sh "$steps" 2>/dev/null)
{
  if [ -n "$targets" ]; then
    echo "## Targets (scripts/gpu-targets.sh)"
    echo
    echo "$targets"
    echo
  fi
  echo "## Steps"
  echo
  echo "| step | result | time | detail |"
  echo "|---|---|---|---|"
  for r in "${rows[@]}"; do
    IFS='|' read -r n res secs det <<<"$r"
    echo "| $n | $res | ${secs}s | ${det//|//} |"
  done
  echo
  if [ ${#details[@]} -gt 0 ]; then
    echo "## Failures"
    echo
    for d in "${details[@]}"; do
      case "$d" in
        "### "*) echo "$d"; echo ;;
        *) echo '```'; echo "$d"; echo '```'; echo ;;
      esac
    done
  fi
  if [ -n "$model_out" ]; then
    echo "## Models"
    echo
    echo "$model_out"
  fi
  if [ -n "$bench_out" ]; then
    echo "## Benchmarks"
    echo
    echo "$bench_out"
    echo
  fi
  echo "total $(($(date +%s) - t0))s of a ${budget}s budget; full log: gpu-check.log"
} >>"$table"

echo "gpu-check: ${gpu}"
printf '%-16s %-14s %6s  %s\n' step result time detail
for r in "${rows[@]}"; do
  IFS='|' read -r n res secs det <<<"$r"
  printf '%-16s %-14s %5ss  %s\n' "$n" "$res" "$secs" "${det:0:90}"
done
[ -n "$targets" ] && printf '\n%s\n' "$targets"
echo "results: $table"
exit "$failed"
