#!/usr/bin/env python3
"""Make gguf_py.gguf with gguf-py's GGUFWriter (the reference writer llama.cpp ships), read by
tests/test_gguf.c; and check that gguf-py's GGUFReader reads a file written by our C writer:
    gen_gguf.py                 -> writes gguf_py.gguf
    gen_gguf.py --check FILE    -> prints FILE's metadata and tensors via GGUFReader
"""
import sys
import numpy as np
import gguf

if len(sys.argv) == 3 and sys.argv[1] == "--check":
    r = gguf.GGUFReader(sys.argv[2])
    for k, f in r.fields.items():
        print("kv", k, f.types, f.contents() if hasattr(f, "contents") else "")
    for t in r.tensors:
        print("tensor", t.name, t.tensor_type.name, list(t.shape), t.n_bytes, t.data_offset,
              np.asarray(t.data).reshape(-1)[:4].tolist())
    sys.exit(0)

w = gguf.GGUFWriter("gguf_py.gguf", "qwen2")
w.add_uint32("qwen2.block_count", 2)
w.add_float32("qwen2.rope.freq_base", 1000000.0)
w.add_string("general.name", "tiny")
w.add_bool("flag", True)
w.add_array("tokenizer.ggml.tokens", ["a", "bc", "<|im_end|>"])
w.add_array("tokenizer.ggml.token_type", [1, 1, 3])
x = (np.arange(64, dtype=np.float32) / 8 - 4).reshape(2, 32)
w.add_tensor("blk.0.attn_q.weight", x)                                 # F32, ne = {32, 2}
w.add_tensor("blk.0.attn_k.weight", x.astype(np.float16))             # F16
q = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0)
w.add_tensor("blk.0.ffn.weight", q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote gguf_py.gguf")
