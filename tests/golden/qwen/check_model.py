#!/usr/bin/env python3
"""Check a larger mkmodel Qwen2 (e.g. --preset 0.5b) against transformers and llama.cpp without
committing golden data: compares the logits bench_qwen --logits wrote (ours) for the first 16 bench
ids (i*7919+13 mod 150000) with transformers on the HF folder (float32 compute from the stored
bf16/f16 values) and llama.cpp on a GGUF.

  build/bench/bench_qwen --logits /tmp/ours_hf.f32 --reps 1 DIR
  build/bench/bench_qwen --logits /tmp/ours_gguf.f32 --reps 1 DIR/model.gguf
  /work/venv/bin/python tests/golden/qwen/check_model.py DIR /tmp/ours_hf.f32 /tmp/ours_gguf.f32
"""
import os
import sys

import numpy as np
import torch
from transformers import Qwen2ForCausalLM

N = 16


def main():
    d, ours_hf, ours_gg = sys.argv[1], sys.argv[2], sys.argv[3]
    gguf = sys.argv[4] if len(sys.argv) > 4 else os.path.join(d, "model.gguf")
    ids = [(i * 7919 + 13) % 150000 for i in range(N)]
    m = Qwen2ForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    with torch.no_grad():
        hf = m(torch.tensor([ids])).logits[0].numpy()
    V = hf.shape[1]
    a = np.fromfile(ours_hf, dtype=np.float32).reshape(N, V)
    b = np.fromfile(ours_gg, dtype=np.float32).reshape(N, V)
    import llama_cpp
    L = llama_cpp.Llama(gguf, logits_all=True, n_ctx=64, n_threads=2, verbose=False, type_k=0, type_v=0)
    L.eval(ids)
    ll = np.array(L.scores[:N], dtype=np.float32)
    scale = np.abs(hf).max()
    print(f"logit scale max|hf| {scale:.4g}")
    for name, x, y in [("ours(HF) vs transformers", a, hf), ("ours(GGUF) vs llama.cpp", b, ll),
                       ("ours(GGUF) vs transformers", b, hf), ("llama.cpp vs transformers", ll, hf),
                       ("ours(HF) vs ours(GGUF)", a, b)]:
        print(f"{name}: max |d| {np.abs(x - y).max():.3g}, argmax equal {np.mean(x.argmax(1) == y.argmax(1)):.2f}")


if __name__ == "__main__":
    main()
