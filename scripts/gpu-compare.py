#!/usr/bin/env python3
"""CPU-vs-GPU parity of the model outputs scripts/gpu-check.sh makes on a GPU machine.

  gpu-compare.py logits CPU.bin GPU.bin VOCAB   raw f32 [rows, VOCAB] logits (bench_qwen --logits)
  gpu-compare.py png CPU_DIR GPU_DIR            the PNGs of the same request on each backend

Prints one line of numbers and exits 0 when the GPU output is within the bounds below, 1 when not.
The GPU computes in bf16 (8 mantissa bits) against f32 on the CPU, so the bounds are about that
rounding, not about bit equality: logits relative RMS difference < 3 % and the top-1 token equal
in at least 15 of 16 rows; images mean |difference| < 6 of 255 (a few-step tiny-model sample
amplifies rounding less than a long run would).
"""
import os
import sys

import numpy as np


def logits(a, b, vocab):
    x = np.fromfile(a, dtype=np.float32).reshape(-1, vocab)
    y = np.fromfile(b, dtype=np.float32).reshape(-1, vocab)
    if x.shape != y.shape:
        print(f"shape mismatch {x.shape} vs {y.shape}")
        return 1
    if not np.isfinite(y).all():
        print("GPU logits not finite")
        return 1
    rel = float(np.sqrt(np.mean((x - y) ** 2)) / np.sqrt(np.mean(x**2)))
    top = int((x.argmax(1) == y.argmax(1)).sum())
    print(f"rows {x.shape[0]}: max|d| {np.abs(x - y).max():.4g}, rel RMS {rel:.3g}, "
          f"top-1 equal {top}/{x.shape[0]}")
    return 0 if rel < 0.03 and top >= x.shape[0] - 1 else 1


def pngs(a, b):
    from PIL import Image

    names = sorted(f for f in os.listdir(a) if f.endswith(".png"))
    if not names or sorted(f for f in os.listdir(b) if f.endswith(".png")) != names:
        print(f"image sets differ: {os.listdir(a)} vs {os.listdir(b)}")
        return 1
    worst = 0.0
    parts = []
    for n in names:
        x = np.asarray(Image.open(os.path.join(a, n)).convert("RGB"), dtype=np.float64)
        y = np.asarray(Image.open(os.path.join(b, n)).convert("RGB"), dtype=np.float64)
        d = np.abs(x - y)
        worst = max(worst, d.mean())
        parts.append(f"{n}: mean|d| {d.mean():.2f} max {d.max():.0f} (std cpu {x.std():.1f} gpu {y.std():.1f})")
    print("; ".join(parts))
    return 0 if worst < 6.0 else 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "logits":
        sys.exit(logits(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    if len(sys.argv) == 4 and sys.argv[1] == "png":
        sys.exit(pngs(sys.argv[2], sys.argv[3]))
    print(__doc__)
    sys.exit(2)
