/* ourvidz-mkmodel qwen: shapes, HF tensor list, Qwen2.5 chat template and the GGUF writer. */
#ifndef OV_MKMODEL_QWEN_H
#define OV_MKMODEL_QWEN_H

#include <stddef.h>
#include <stdint.h>

#include "tools/mkmodel/mk.h"

/* The Qwen2Config fields mkmodel writes (config.json and the GGUF qwen2.* keys). */
typedef struct ov_mk_qwen_cfg {
    int hidden, layers, heads, kv_heads, intermediate;
    int64_t vocab, max_positions;
    double rope_theta, rms_eps;
    int tied;
    float embed_std, proj_std, bias_std; /* random init */
} ov_mk_qwen_cfg;

/* The vocabulary as GGUF arrays (llama.cpp convert_hf_to_gguf.py get_vocab_base layout: n_vocab
 * entries, [PADn] fillers UNUSED, special added tokens CONTROL, other added tokens USER_DEFINED). */
typedef struct ov_mk_qwen_vocab {
    const char **tokens;
    int32_t *types;
    size_t n_tokens;
    const char **merges; /* "left right" */
    size_t n_merges;
    int32_t bos_id, eos_id, pad_id;
} ov_mk_qwen_vocab;

/* The ChatML template Qwen2.5 Instruct ships (tokenizer_config.json chat_template). */
extern const char ov_mk_qwen_chat_template[];

/* Every tensor of Qwen2ForCausalLM under its HF name (model.layers.N.self_attn.q_proj.weight...). */
int ov_mk_qwen_specs(ov_mk_list *l, const ov_mk_qwen_cfg *c);

/* HF name -> llama.cpp LLM_ARCH_QWEN2 name (blk.N.attn_q.weight...); 0 or OV_ENOENT. */
int ov_mk_qwen_gguf_name(const char *hf, char *out, size_t cap);

/* Write `path` as a llama.cpp-loadable GGUF of the same values: every spec's ov_mk_fill data,
 * first rounded through st_dtype (what model.safetensors holds), then stored as ggml type
 * gguf_dtype (F32/F16/BF16/Q8_0/Q4_K) for 2-D weights (F16 where a row does not fill a
 * quantisation block) and F32 for norms and biases. 0 or OV_E* with
 * a message in err. */
int ov_mk_qwen_write_gguf(const ov_mk_list *l, const ov_mk_qwen_cfg *c, const ov_mk_qwen_vocab *v,
                          const char *name, uint64_t seed, int st_dtype, int gguf_dtype, const char *path,
                          char *err, size_t err_cap);

#endif
