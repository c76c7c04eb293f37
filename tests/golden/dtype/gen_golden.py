#!/usr/bin/env python3
"""Golden data for tests/test_dtype.c (our own script; see README.md for the recipe).

References: gguf-py (PyPI `gguf`, ggml's own Python package) for Q8_0 quantisation and
Q8_0/Q4_K/Q6_K dequantisation; numpy float16 and ml_dtypes (bfloat16, float8_e4m3fn,
float8_e5m2) for round-to-nearest-even float conversion. Every file is raw little-endian.
"""
import numpy as np
import ml_dtypes
from gguf import quants, GGMLQuantizationType as T

rng = np.random.default_rng(20261127)

def save(name, arr):
    np.ascontiguousarray(arr).tofile(name)

# ---- Q8_0: quantise (bit-exact reference) and dequantise 8 blocks, one of them all zero ----
x = (rng.standard_normal(8 * 32) * np.repeat([0.01, 0.5, 1.0, 3.0, 100.0, 1e-3, 0.0, 7.0], 32)).astype(np.float32)
q = quants.quantize(x.reshape(1, -1), T.Q8_0)
save("q8_0_in.f32", x)
save("q8_0_ref.bin", q)
save("q8_0_deq.f32", quants.dequantize(q, T.Q8_0).astype(np.float32))

# ---- Q4_K / Q6_K: random block bytes with sane f16 super-scales, dequantised by gguf-py ----
def rand_blocks(nblocks, nbytes, half_offsets):
    b = rng.integers(0, 256, size=(nblocks, nbytes), dtype=np.uint8)
    for off in half_offsets:
        h = (rng.uniform(0.001, 0.1, size=nblocks)).astype(np.float16).view(np.uint8).reshape(nblocks, 2)
        b[:, off:off + 2] = h
    return b

q4 = rand_blocks(4, 144, [0, 2])
save("q4_k.bin", q4)
save("q4_k_deq.f32", quants.dequantize(q4.reshape(1, -1), T.Q4_K).astype(np.float32))
q6 = rand_blocks(4, 210, [208])
save("q6_k.bin", q6)
save("q6_k_deq.f32", quants.dequantize(q6.reshape(1, -1), T.Q6_K).astype(np.float32))

# ---- float conversions: specials, boundaries, exact ties, random over a wide range ----
special = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e6, -1e6, 2.0**-24, 2.0**-25,
           2.0**-25 * 1.0000001, 2.0**-14, 2.0**-14 * 0.99, 448.0, 464.0, 480.0, 57344.0, 61440.0,
           2.0**-9, 2.0**-10, 2.0**-16, 2.0**-17, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11,
           1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3.4e38, 1e-45, 0.1, 1.0 / 3]
rand = np.concatenate([rng.standard_normal(300) * 10.0 ** rng.integers(-8, 6, 300)])
# Exact midpoints between adjacent f16 values (ties) at random places.
h = rng.integers(0x0001, 0x7bff, 200).astype(np.uint16)
lo = h.view(np.float16).astype(np.float64)
hi = (h + 1).view(np.float16).astype(np.float64)
mid = ((lo + hi) / 2)
x = np.concatenate([np.array(special), rand, mid, -mid]).astype(np.float32)
# Keep the fp8 comparisons inside their finite ranges (out-of-range policy differs by library;
# test_dtype.c checks ours explicitly).
save("conv_in.f32", x)
save("conv_f16.bin", x.astype(np.float16))
save("conv_bf16.bin", x.astype(ml_dtypes.bfloat16))
e4 = np.clip(x, -448.0, 448.0).astype(ml_dtypes.float8_e4m3fn)
save("conv_e4m3_in.f32", np.clip(x, -448.0, 448.0).astype(np.float32))
save("conv_e4m3.bin", e4)
e5in = np.clip(x, -57344.0, 57344.0).astype(np.float32)
save("conv_e5m2_in.f32", e5in)
save("conv_e5m2.bin", e5in.astype(ml_dtypes.float8_e5m2))
print("wrote golden files for", len(x), "conversion inputs")
