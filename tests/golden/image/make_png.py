#!/usr/bin/env python3
"""Golden data for common/image/rgb8.c (tests/test_png.c): float [-1, 1] -> RGB8 as diffusers does it.

Runs diffusers' own VaeImageProcessor.postprocess(output_type="pil") (denormalize: x*0.5+0.5,
clamp(0, 1); numpy_to_pil: (x*255).round().astype(uint8), round half to even) on a [1, 3, 22, 64]
f32 image holding the hard cases: -1, 1, ±0, out-of-range values, every byte boundary k/255 and
every half-way point (k+0.5)/255 mapped back to x and perturbed by -2..+2 ulps, values whose
f32 product v*255 is exactly k+0.5 (ties), and uniform randoms. Writes next to this script:
  png_round_in.f32   [1,3,22,64] little-endian f32 (planar, like the VAE output)
  png_round_out.rgb  [22,64,3] uint8 (interleaved rows, what PIL saves)
Usage: /work/venv/bin/python tests/golden/image/make_png.py
"""
import os

import numpy as np
import torch
from diffusers.image_processor import VaeImageProcessor

HERE = os.path.dirname(os.path.abspath(__file__))
H, W = 22, 64


def main():
    f = np.float32
    vals = [f(-1), f(1), f(0), f(-0.0), f(-1.5), f(1.5), f(1e30), f(-1e30), f(1e-45), f(-1e-45)]
    for k in range(256):
        for c in (k / 255.0, (k + 0.5) / 255.0):
            x = f((c - 0.5) * 2)
            for d in range(-2, 3):
                vals.append(np.nextafter(x, f(np.inf) if d > 0 else f(-np.inf)) if d else x)
                for _ in range(abs(d) - 1):
                    vals[-1] = np.nextafter(vals[-1], f(np.inf) if d > 0 else f(-np.inf))
    # exact ties: f32 v with f32(v*255) == k + 0.5 and v = x*0.5+0.5 exactly
    ties = 0
    for k in range(255):
        v0 = f((k + 0.5) / 255)
        for v in (np.nextafter(v0, f(0)), v0, np.nextafter(v0, f(1))):
            if f(v * f(255)) == f(k + 0.5):
                x = f((v - f(0.5)) * f(2))
                if f(x * f(0.5) + f(0.5)) == v:
                    vals.append(x)
                    ties += 1
    n = 3 * H * W
    rng = np.random.default_rng(7)
    vals = np.array(vals, dtype=np.float32)
    assert len(vals) <= n, len(vals)
    vals = np.concatenate([vals, rng.uniform(-1.2, 1.2, n - len(vals)).astype(np.float32)])
    img = torch.from_numpy(vals.reshape(1, 3, H, W))
    pil = VaeImageProcessor().postprocess(img, output_type="pil")[0]
    out = np.array(pil, dtype=np.uint8)
    assert out.shape == (H, W, 3)
    vals.astype("<f4").tofile(os.path.join(HERE, "png_round_in.f32"))
    out.tofile(os.path.join(HERE, "png_round_out.rgb"))
    print(f"{len(vals)} values, {ties} exact ties; torch {torch.__version__}, numpy {np.__version__}, "
          f"diffusers {__import__('diffusers').__version__}")


if __name__ == "__main__":
    main()
