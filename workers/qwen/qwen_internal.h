/* Private state of the Qwen2 decoder shared by model_load.c, model.c, kv_cache.c and generate.c. */
#ifndef OV_QWEN_INTERNAL_H
#define OV_QWEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/tensor.h"
#include "workers/qwen/qwen.h"

/* Rows of one forward pass: prompts longer than this are prefilled in chunks of this many
 * tokens (each chunk is one batched pass), which bounds the activation arena. */
#define OV_QWEN_PREFILL_CHUNK 256

/* One decoder layer, names as in modeling_qwen2.py (Qwen2DecoderLayer). */
typedef struct ov_qwen_layer {
    ov_tensor input_layernorm;
    ov_tensor q_proj_w, q_proj_b, k_proj_w, k_proj_b, v_proj_w, v_proj_b, o_proj_w;
    ov_tensor post_attention_layernorm;
    ov_tensor gate_proj, up_proj, down_proj;
    ov_tensor k_cache, v_cache; /* [1, ctx_max, n_kv_heads, head_dim] f32, token-major */
} ov_qwen_layer;

struct ov_qwen {
    ov_qwen_info info;
    ov_backend *be;
    int own_backend;
    ov_mem mem;
    ov_arena arena;
    ov_tok_qwen *tok;
    ov_tensor embed_tokens; /* [vocab, hidden] */
    ov_tensor norm;         /* [hidden] */
    ov_tensor lm_head;      /* [vocab, hidden]; a view of embed_tokens when tied */
    ov_qwen_layer *layers;
    int64_t n_past;     /* tokens in the KV cache */
    int32_t eos_ids[4]; /* ids that always end generation */
    size_t n_eos;
    uint8_t *unused; /* bitmap over vocab of GGUF UNUSED ([PADn]) ids: no text, like HF's decode */
};

/* KV cache (kv_cache.c): allocate ctx_max rows per layer; clear (n_past = 0); views. */
int ov_qwen_kv_alloc(ov_qwen *q);
void ov_qwen_kv_free(ov_qwen *q);
void ov_qwen_kv_clear(ov_qwen *q);
/* Rows [pos, pos + n) of layer l's K or V cache as a contiguous [1, n, kv_heads, head_dim] view. */
int ov_qwen_kv_rows(ov_qwen *q, int layer, int is_v, int64_t pos, int64_t n, ov_tensor *out);
/* Rows [0, len) as the [1, kv_heads, len, head_dim] view attention reads. */
int ov_qwen_kv_view(ov_qwen *q, int layer, int is_v, int64_t len, ov_tensor *out);

/* One batched forward of ids[0..n) at positions n_past.. (model.c), appending to the cache.
 * Logits of the last `n_logits` rows (1 <= n_logits <= n) are downloaded into out
 * (n_logits · vocab floats). 0 or OV_E* (message in ov_tensor_last_error()). */
int ov_qwen_forward(ov_qwen *q, const int32_t *ids, int64_t n, int64_t n_logits, float *out);

/* Arena bytes one forward of `rows` tokens needs (model.c, used to size it at load). */
size_t ov_qwen_arena_bytes(const ov_qwen_info *info, int64_t rows);

#endif
