#!/usr/bin/env python3
"""Golden data for tests/test_qwen_model.c: the tiny random Qwen2 made by ourvidz-mkmodel, run by
independent implementations on the same weights.

  * transformers Qwen2ForCausalLM (CPU, float32, eager attention) on DIR/ (config.json +
    model.safetensors): logits of 4 prompts + 64-token greedy continuations.
  * llama.cpp (llama-cpp-python) on DIR/model.gguf (f32 GGUF, f32 KV cache): the same.
  * llama.cpp on a q8_0 GGUF of the same values (logits only).
  * transformers on a 300-token prompt (past one 256-row prefill chunk): rows 0/255/256/299 + 16 greedy.
  * llama.cpp on the Q4_K GGUF of --preset tiny-q4k (hidden 256, 1 layer; logits of 2 prompts).

Usage (from the repo root, after building):
  /work/venv/bin/python tests/golden/qwen/make_golden.py build/bin/ourvidz-mkmodel
writes tests/golden/qwen/qwen_tiny_golden.json.gz. Seed 42 (mkmodel's default) is passed explicitly.

Logit rows are stored compactly: per row the top-16 (id, value), 128 ids drawn with a fixed
numpy seed and their values, and the row's logsumexp (which covers every entry); the last row
of each prompt also gets 1024 drawn ids (the q8_0 rows: top-16 + 32 drawn).
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
from transformers import AutoTokenizer, Qwen2ForCausalLM

SEED = 42
N_GREEDY = 64

PROMPTS_TEXT = [
    "Hello world, a cat on the moon",
    "东京の夜景 🌃 at night, 2025年 — naïve café",
    "def f(x):\n    return x * 2  # code\n",
]
CHAT = [
    {"role": "system", "content": "You expand short video prompts into detailed ones."},
    {"role": "user", "content": "a red fox runs through snow"},
]


def mkmodel(binary, out, gguf_type, preset="tiny"):
    subprocess.run([binary, "qwen", "--preset", preset, "--out", out, "--seed", str(SEED), "--gguf-type", gguf_type],
                   check=True, stdout=subprocess.DEVNULL)


def compact_rows(logits, rng, n_last_extra=1024, n_draw_row=128):
    rows = []
    V = logits.shape[1]
    for r in range(logits.shape[0]):
        row = logits[r].astype(np.float64)
        top = np.argsort(-row, kind="stable")[:16]
        n_draw = n_draw_row + (n_last_extra if r == logits.shape[0] - 1 else 0)
        draw = rng.choice(V, size=n_draw, replace=False)
        m = row.max()
        lse = float(m + np.log(np.exp(row - m).sum()))
        rows.append({
            "top_ids": [int(i) for i in top], "top": [float(logits[r, i]) for i in top],
            "ids": [int(i) for i in draw], "vals": [float(logits[r, i]) for i in draw],
            "lse": lse,
        })
    return rows


def llama_run(path, ids, n_greedy):
    import llama_cpp
    L = llama_cpp.Llama(path, logits_all=True, n_ctx=256, n_batch=256, n_threads=2, verbose=False,
                        type_k=0, type_v=0, flash_attn=False, seed=SEED)  # type 0 = GGML_TYPE_F32 KV cache
    L.reset()
    L.eval(ids)
    logits = np.array(L.scores[: len(ids)], dtype=np.float32)
    out = []
    if n_greedy:
        for _ in range(n_greedy):
            nxt = int(np.argmax(L.scores[L.n_tokens - 1]))
            out.append(nxt)
            L.eval([nxt])
    del L
    return logits, out


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/bin/ourvidz-mkmodel"
    here = os.path.dirname(os.path.abspath(__file__))
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        d32, dq8 = os.path.join(tmp, "f32"), os.path.join(tmp, "q8")
        mkmodel(binary, d32, "f32")
        mkmodel(binary, dq8, "q8_0")
        tok = AutoTokenizer.from_pretrained(d32)
        prompts = [tok(t)["input_ids"] for t in PROMPTS_TEXT]
        chat_text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        prompts.insert(1, tok(chat_text)["input_ids"])
        texts = PROMPTS_TEXT[:1] + [chat_text] + PROMPTS_TEXT[1:]

        model = Qwen2ForCausalLM.from_pretrained(d32, dtype=torch.float32, attn_implementation="eager").eval()
        rng = np.random.default_rng(1234)
        cases = []
        for text, ids in zip(texts, prompts):
            with torch.no_grad():
                out = model(torch.tensor([ids]), use_cache=True)
                hf = out.logits[0].numpy()
                # plain argmax loop on the KV cache (generate() would apply generation_config.json's
                # repetition penalty and stop at EOS)
                hf_greedy, past, nxt = [], out.past_key_values, int(np.argmax(hf[-1]))
                for _ in range(N_GREEDY):
                    hf_greedy.append(nxt)
                    out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                    past, nxt = out.past_key_values, int(torch.argmax(out.logits[0, -1]))
            ll, ll_greedy = llama_run(os.path.join(d32, "model.gguf"), ids, N_GREEDY)
            lq, _ = llama_run(os.path.join(dq8, "model.gguf"), ids, 0)
            case = {
                "text": text, "ids": ids,
                "hf_rows": compact_rows(hf, rng), "hf_greedy": hf_greedy,
                "llama_rows": compact_rows(ll, rng), "llama_greedy": ll_greedy,
                "llama_q8_rows": compact_rows(lq, rng, 0, 32),
                "max_abs_hf_vs_llama_f32": float(np.abs(hf - ll).max()),
                "max_abs_hf_vs_llama_q8": float(np.abs(hf - lq).max()),
            }
            print(f"prompt {len(ids)} tokens: |hf-llama f32| {case['max_abs_hf_vs_llama_f32']:.3g} "
                  f"|hf-llama q8_0| {case['max_abs_hf_vs_llama_q8']:.3g} greedy equal "
                  f"{hf_greedy == ll_greedy}")
            cases.append(case)
        # a prompt past one prefill chunk (256 rows): positions ~300, chunk boundary, 16 greedy tokens
        long_text = " ".join(PROMPTS_TEXT) * 12
        long_ids = tok(long_text)["input_ids"][:300]
        rows_at = [0, 255, 256, len(long_ids) - 1]
        with torch.no_grad():
            out = model(torch.tensor([long_ids]), use_cache=True)
            hl = out.logits[0].numpy()
            lg_greedy, past, nxt = [], out.past_key_values, int(np.argmax(hl[-1]))
            for _ in range(16):
                lg_greedy.append(nxt)
                out = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, int(torch.argmax(out.logits[0, -1]))
        rng_long = np.random.default_rng(99)
        long_case = {"ids": long_ids, "rows_at": rows_at,
                     "hf_rows": compact_rows(hl[rows_at], rng_long, 0), "hf_greedy": lg_greedy}
        print(f"long prompt {len(long_ids)} tokens, rows {rows_at}")
        # k-quants: tiny-q4k (hidden 256, one layer) as a Q4_K GGUF, llama.cpp logits of 2 prompts
        dq4 = os.path.join(tmp, "q4k")
        mkmodel(binary, dq4, "q4_K", "tiny-q4k")
        q4k_cases = []
        for ids in prompts[:2]:
            lk, _ = llama_run(os.path.join(dq4, "model.gguf"), ids, 0)
            q4k_cases.append({"ids": ids, "llama_rows": compact_rows(lk, rng, 0, 32),
                              "max_abs_logit": float(np.abs(lk).max())})
            print(f"q4_K prompt {len(ids)} tokens: max |logit| {np.abs(lk).max():.3g}")
    import llama_cpp
    doc = {
        "recipe": "tests/golden/qwen/make_golden.py", "seed": SEED, "preset": "tiny",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "llama_cpp_python": llama_cpp.__version__, "numpy": np.__version__},
        "cases": cases, "q4k_cases": q4k_cases, "long_case": long_case,
    }
    path = os.path.join(here, "qwen_tiny_golden.json.gz")
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
