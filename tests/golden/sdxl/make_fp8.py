#!/usr/bin/env python3
"""Golden data for tests/test_sdxl_dtypes.c (fp8_matches_torch): ComfyUI fp8-scaled SDXL
checkpoints written by `ourvidz-mkmodel sdxl --preset tiny --fp8 ...`, dequantised independently
with torch + safetensors: W = W_fp8.to(torch.float32) * scale, where W_fp8 is the
torch.float8_e4m3fn tensor as safetensors reads it and scale the f32 scalar companion
(`<layer>.scale_weight` in the legacy layout with its `scaled_fp8` marker,
`<layer>.weight_scale` in the `_quantization_metadata` layout) -- what ComfyUI's scaled fp8 ops
compute (comfy/ops.py). The recipe also checks each file's layout markers and that every F8 tensor
has its scale, and that mkmodel's quantiser equals torch's: every F8 weight's bytes ==
(W_f32 / scale).to(torch.float8_e4m3fn) with W_f32 from the plain f32 file of the same seed and
scale == max|W_f32| / 448.

Usage:
  /work/venv/bin/python tests/golden/sdxl/make_fp8.py build/bin/ourvidz-mkmodel
Writes fp8_golden.bin.gz beside this script: gzip of records {u32 key_len, key
"<variant>:<canonical name>", f32 scale, i64 n, f32 values[n]} (little-endian); canonical name =
"unet." + the name without "model.diffusion_model." (what the C loader looks up after remap).
Variants: fp8-legacy = `--fp8 legacy`, fp8-quant = `--fp8 quant --fp8-conv`.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import safetensors
import torch
from safetensors import safe_open

PREFIX = "model.diffusion_model."
VARIANTS = [
    ("fp8-legacy", ["--fp8", "legacy"], ".scale_weight", [
        "input_blocks.1.0.emb_layers.1.weight",
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight",
    ]),
    ("fp8-quant", ["--fp8", "quant", "--fp8-conv"], ".weight_scale", [
        "input_blocks.0.0.weight",  # conv_in [64, 4, 3, 3]
        "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight",
    ]),
]


def main():
    mkmodel = sys.argv[1] if len(sys.argv) > 1 else "build/bin/ourvidz-mkmodel"
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fp8_golden.bin.gz")
    recs = []
    with tempfile.TemporaryDirectory() as tmp:
        ref_dir = os.path.join(tmp, "f32")
        subprocess.run([mkmodel, "sdxl", "--preset", "tiny", "--out", ref_dir], check=True,
                       stdout=subprocess.DEVNULL)
        ref = safe_open(os.path.join(ref_dir, "model.safetensors"), "pt")
        for variant, flags, suffix, names in VARIANTS:
            d = os.path.join(tmp, variant)
            subprocess.run([mkmodel, "sdxl", "--preset", "tiny", "--out", d] + flags, check=True,
                           stdout=subprocess.DEVNULL)
            path = os.path.join(d, "model.safetensors")
            with safe_open(path, "pt") as f:
                keys = set(f.keys())
                meta = f.metadata() or {}
                if variant == "fp8-legacy":
                    assert PREFIX + "scaled_fp8" in keys, "legacy marker missing"
                    assert "_quantization_metadata" not in meta
                else:
                    q = json.loads(meta["_quantization_metadata"])
                    assert q["format_version"] == "1.0"
                    for layer, conf in q["layers"].items():
                        assert conf == {"format": "float8_e4m3fn"}, (layer, conf)
                        assert layer + ".weight" in keys and layer + suffix in keys, layer
                n_f8 = 0
                for k in keys:
                    t = f.get_slice(k)
                    if t.get_dtype() == "F8_E4M3" and not k.endswith("scaled_fp8"):
                        n_f8 += 1
                        assert k.startswith(PREFIX) and k[:-len(".weight")] + suffix in keys, k
                        w32 = ref.get_tensor(k)
                        s = f.get_tensor(k[:-len(".weight")] + suffix)
                        assert float(s) == float(w32.abs().max() / 448.0), k
                        q = (w32 / s).to(torch.float8_e4m3fn)
                        assert torch.equal(q.view(torch.uint8), f.get_tensor(k).view(torch.uint8)), k
                print(f"{variant}: {n_f8} F8_E4M3 weights, each with {suffix}; bytes == torch's "
                      f"(W / scale).to(float8_e4m3fn)")
                for name in names:
                    w = f.get_tensor(PREFIX + name)
                    s = f.get_tensor(PREFIX + name[:-len(".weight")] + suffix)
                    assert w.dtype == torch.float8_e4m3fn and s.dtype == torch.float32 and s.shape == ()
                    deq = (w.to(torch.float32) * s).contiguous().numpy().astype("<f4").ravel()
                    key = f"{variant}:unet.{name}".encode()
                    recs.append(struct.pack("<I", len(key)) + key + struct.pack("<fq", float(s), deq.size)
                                + deq.tobytes())
                    print(f"  {name} {tuple(w.shape)} scale {float(s):.6g} max|W| {np.abs(deq).max():.6g}")
    with gzip.GzipFile(out_path, "wb", mtime=0) as g:
        for r in recs:
            g.write(r)
    print(f"wrote {out_path} ({os.path.getsize(out_path)} bytes); torch {torch.__version__}, "
          f"safetensors {safetensors.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
