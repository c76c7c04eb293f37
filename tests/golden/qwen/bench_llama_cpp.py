#!/usr/bin/env python3
"""llama.cpp side of bench/bench_qwen.c: the same prompt ids (i*7919+13 mod 150000), the same GGUF,
the same thread count; prints prefill and decode tokens/s (best of --reps).

  /work/venv/bin/python tests/golden/qwen/bench_llama_cpp.py MODEL.gguf --threads 2 --prompt 128 --decode 32
"""
import argparse
import time

import llama_cpp
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--decode", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    t0 = time.perf_counter()
    L = llama_cpp.Llama(a.gguf, n_ctx=a.prompt + a.decode + 8, n_batch=512, n_threads=a.threads,
                        n_threads_batch=a.threads, verbose=False, logits_all=False)
    print(f"llama.cpp {llama_cpp.__version__}: load {time.perf_counter() - t0:.2f} s, threads {a.threads}")
    ids = [(i * 7919 + 13) % 150000 for i in range(a.prompt)]
    best_pf = best_dec = 0.0
    for _ in range(a.reps):
        L.reset()
        t0 = time.perf_counter()
        L.eval(ids)
        t1 = time.perf_counter()
        nxt = int(np.argmax(L.scores[L.n_tokens - 1]))
        t2 = time.perf_counter()
        for _ in range(a.decode - 1):
            L.eval([nxt])
            nxt = int(np.argmax(L.scores[L.n_tokens - 1]))
        t3 = time.perf_counter()
        best_pf = max(best_pf, a.prompt / (t1 - t0))
        best_dec = max(best_dec, (a.decode - 1) / (t3 - t2))
    print(f"  prefill {a.prompt} tokens: {best_pf:.1f} tok/s; decode {a.decode} tokens: {best_dec:.2f} tok/s "
          f"(best of {a.reps})")


if __name__ == "__main__":
    main()
