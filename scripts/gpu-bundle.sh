#!/usr/bin/env bash
# Build the model binaries for a GPU machine here and pack them with the shared libraries that a
# bare CUDA image lacks, so that scripts/gpu-check.sh can run the model benchmarks there.
#
# Usage: scripts/gpu-bundle.sh [DIR]      (default DIR: .gpubundle, ignored by git)
#   then, from a session with a device:
#   run(command='scripts/gpu-check.sh "$OUT"', carry=['.gpubundle'], timeout_s=...)
#
# Why: the device image has nvcc, CMake and the CUDA libraries but not libuv, hiredis, jansson,
# libpng, utf8proc or msgpack-c, and nothing can be installed there. The binaries are built
# Release with CUDA (sm_90) on this machine (Debian 12, glibc 2.36; they run on the newer glibc
# there) and DIR/lib holds the non-CUDA, non-libc libraries they need; OpenBLAS and the CUDA
# libraries are the device's own.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpubundle}
bdir=${OURVIDZ_GPU_BUNDLE_BUILD:-build-gpubundle}
command -v nvcc >/dev/null 2>&1 || export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null 2>&1 || { echo "gpu-bundle: no nvcc (the bundle needs the CUDA backend)" >&2; exit 1; }
targets=(ourvidz-mkmodel ourvidz-qwen ourvidz-sdxl bench_qwen bench_sdxl)
# sm_90 machine code only (the lent H100/H200): no PTX beside it, which doubled the fat binaries
# (4 × 11 MB with the decode/flash/GEMV variants) against the device tool's 64 MiB carry limit
cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90-real >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target "${targets[@]}"
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/lib"
for t in "${targets[@]}"; do
  f=$(find "$bdir/bin" "$bdir/bench" -maxdepth 1 -type f -name "$t" | head -1)
  [ -n "$f" ] || { echo "gpu-bundle: $t not built" >&2; exit 1; }
  cp "$f" "$dir/bin/"
  strip "$dir/bin/$t"
done
# Shared libraries outside libc, the compiler runtime, OpenBLAS and CUDA (those are on the device).
ldd "$dir"/bin/* | awk '$3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libgcc_s.so* | libstdc++.so* | \
      libopenblas* | libgfortran* | libquadmath* | libcuda* | libcublas* | libcudart* | libz.so*) ;;
    *) cp -L "$lib" "$dir/lib/" ;;
  esac
done
git rev-parse --short HEAD >"$dir/COMMIT"
echo "gpu-bundle: $dir ($(du -sh "$dir" | cut -f1)): $(ls "$dir/bin" | tr '\n' ' ')+ $(ls "$dir/lib" | tr '\n' ' ')"
