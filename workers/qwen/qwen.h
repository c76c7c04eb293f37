/* Qwen2 / Qwen2.5 decoder: load (HF safetensors folder or GGUF), KV cache, logits, generation.
 * Reference: huggingface/transformers src/transformers/models/qwen2/modeling_qwen2.py. */
#ifndef OV_QWEN_H
#define OV_QWEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/text/tok_qwen.h"

typedef struct ov_qwen ov_qwen;

/* How to place the model. */
typedef struct ov_qwen_opts {
    int backend_kind;          /* enum ov_backend_kind (CPU default) */
    int device;                /* CUDA device index */
    int64_t vram_budget_bytes; /* 0 = unlimited */
    int64_t ctx_max;           /* KV cache tokens; 0 = min(model max positions, 8192) */
    int weight_dtype;          /* -1 (default): as stored, except 16/32-bit float matrices on a 16-bit-
                                * activation backend (CUDA: bf16; OV_WEIGHTS_DTYPE_ACT); or F32/F16/BF16 */
} ov_qwen_opts;

/* Facts read from the files (config.json or GGUF qwen2.* keys), never from constants. */
typedef struct ov_qwen_info {
    int n_layers, hidden, n_heads, n_kv_heads, head_dim, intermediate;
    int64_t vocab;
    int64_t max_positions;
    int64_t ctx_max; /* KV cache size in use */
    float rope_theta, rms_eps;
    int tied_embeddings;
    int has_chat_template; /* tokenizer/GGUF carries a ChatML template (Instruct) */
    int64_t weight_bytes;  /* on the backend */
    int64_t kv_bytes;
    double load_seconds;
    double load_bytes_per_s;
    char format[16];   /* "safetensors" or "gguf" */
    char model_id[160]; /* folder/file name + size, shown in status */
} ov_qwen_info;

/* Load from `path`: a HF folder (config.json + model.safetensors or sharded index +
 * tokenizer.json) or a .gguf file (tokenizer from its tokenizer.ggml.* metadata). Errors name the
 * file and what is wrong (missing shard, config/tensor mismatch, unsupported dtype): OV_ENOENT,
 * OV_EFORMAT, OV_EUNSUPP, OV_EBUDGET, OV_ENOMEM, OV_EGPU; message in err. Free with ov_qwen_free. */
int ov_qwen_load(const char *path, const ov_qwen_opts *opts, ov_qwen **out, char *err, size_t err_cap);
void ov_qwen_free(ov_qwen *q);
const ov_qwen_info *ov_qwen_get_info(const ov_qwen *q);
/* The model's tokenizer (owned by q; not thread-safe, like q itself). */
ov_tok_qwen *ov_qwen_tokenizer(ov_qwen *q);
/* The ids that always end generation, from the files: <|endoftext|>, the tokenizer's eos, the
 * eos_token_id(s) of config.json / generation_config.json (GGUF: tokenizer.ggml.eos_token_id),
 * and <|im_end|> when the model has a ChatML chat template. Returns how many; *ids points into q. */
size_t ov_qwen_stop_ids(const ov_qwen *q, const int32_t **ids);

/* Logits for golden tests: a fresh sequence (cache cleared), prefill ids[0..n) in one batch;
 * logits [n, vocab] f32 row-major into out (n·vocab floats). 0 or OV_E*. */
int ov_qwen_logits(ov_qwen *q, const int32_t *ids, size_t n, float *out);

enum ov_gen_stop {
    OV_GEN_STOP_EOS = 1,      /* an end/stop token */
    OV_GEN_STOP_MAX_TOKENS,   /* max_new_tokens reached */
    OV_GEN_STOP_CONTEXT,      /* KV cache full */
    OV_GEN_STOP_DEADLINE,     /* deadline_ms passed (result holds what was made) */
    OV_GEN_STOP_CALLBACK,     /* the token callback asked to stop (cancel) */
};

typedef struct ov_gen_params {
    float temperature;        /* <= 0: greedy (argmax) */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 (or <= 0) = off */
    float repetition_penalty; /* 1 = off; HF semantics (divide positive logits, multiply negative) over
                                 prompt + generated ids */
    uint64_t seed;            /* same seed + params + prompt -> same tokens */
    int max_new_tokens;       /* > 0 */
    int64_t deadline_ms;      /* absolute CLOCK_MONOTONIC ms; 0 = none */
    const int32_t *stop_ids;  /* extra stop tokens (EOS of the tokenizer is always one) */
    size_t n_stop_ids;
} ov_gen_params;

/* Called for each generated token (stop tokens are not reported). `piece` is the UTF-8 text that
 * became complete with this token (may be empty while a multi-byte character is pending).
 * Return non-zero to stop (OV_GEN_STOP_CALLBACK). */
typedef int (*ov_gen_token_fn)(void *ctx, int32_t id, const char *piece, size_t piece_len);

typedef struct ov_gen_result {
    int32_t *ids; /* generated ids (malloc), stop token excluded */
    size_t n_ids;
    char *text; /* decoded generated text (malloc, NUL-terminated) */
    size_t text_len;
    int stop; /* enum ov_gen_stop */
    size_t prompt_tokens;
    double prefill_ms, decode_ms; /* decode_ms / n_ids = per-token latency */
} ov_gen_result;

/* Generate after prompt ids[0..n) (prefilled in one batch on a fresh cache). Errors: OV_EINVAL
 * (empty prompt, bad params), OV_ERANGE (prompt longer than the cache: the caller truncates),
 * device errors. On error *res is freed/zeroed. Free with ov_gen_result_free. */
int ov_qwen_generate(ov_qwen *q, const int32_t *ids, size_t n, const ov_gen_params *p, ov_gen_token_fn cb,
                     void *cb_ctx, ov_gen_result *res);
void ov_gen_result_free(ov_gen_result *r);

#endif
