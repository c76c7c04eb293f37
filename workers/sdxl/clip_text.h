/* SDXL's two CLIP text transformers behind one internal interface: weights by layout, the pre-LN
 * causal block stack, and bigG's pooled projection. Used by sdxl_text.c only. */
#ifndef OV_SDXL_CLIP_TEXT_H
#define OV_SDXL_CLIP_TEXT_H

#include <stdint.h>

#include "common/model/weights.h"
#include "common/text/tok_clip.h"
#include "common/tensor/arena.h"
#include "common/tensor/tensor.h"

#define OV_CLIP_HEAD_DIM 64
#define OV_CLIP_LN_EPS 1e-5f

/* One residual block. For te2 q/k/v are row views of the packed in_proj (owned: in_proj_*). */
typedef struct ov_clip_layer {
    ov_tensor ln1_w, ln1_b, ln2_w, ln2_b;
    ov_tensor q_w, q_b, k_w, k_b, v_w, v_b;
    ov_tensor in_proj_w, in_proj_b;
    ov_tensor out_w, out_b;
    ov_tensor fc1_w, fc1_b, fc2_w, fc2_b;
} ov_clip_layer;

typedef struct ov_clip_text {
    const char *tag; /* "te1" / "te2": canonical-name prefix and message tag */
    int width, heads, layers, mlp, vocab, proj;
    int act;                          /* enum ov_gelu_kind: QUICK (te1) or ERF (te2) */
    ov_tensor tok_emb;                /* [vocab, width] */
    ov_tensor pos_emb;                /* [>=77, width] f32 */
    ov_tensor ln_final_w, ln_final_b; /* te2 only */
    ov_tensor text_proj;              /* te2 only: [width, proj] f32 (x @ P) */
    ov_clip_layer *layer;             /* [layers] */
} ov_clip_text;

/* Loaders (canonical names after ov_remap_sdxl_single_file). Dimensions come from tensor shapes;
 * the layer count is one past the highest block index present. Small tensors (norms, biases,
 * positions, projection) load as f32; matrices as weight_dtype (-1 keeps the stored dtype).
 * Errors: OV_ENOENT naming the missing tensor, OV_EFORMAT naming a bad shape, budget errors;
 * message in ov_tensor_last_error(). On error *e holds nothing (freed). */
int ov_clip_l_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_clip_text *e);
int ov_clip_g_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_clip_text *e);
void ov_clip_text_free(ov_clip_text *e, ov_mem *mem);

/* Shared load helpers (clip_text.c): layer count from names "<prefix><i>.", and a load whose
 * shape must be expect[0..ndim). */
int ov_clip_count_layers(const ov_weights *w, const char *prefix);
/* vocab, width and heads from the token embedding `tok_name` ([vocab, 64·heads]) and the layer
 * count from names "<layer_prefix><i>." (at least 2: SDXL reads the penultimate layer). e->tag
 * names the encoder in messages. 0, OV_ENOENT or OV_EFORMAT (message set). */
int ov_clip_read_dims(const ov_weights *w, ov_clip_text *e, const char *tok_name, const char *layer_prefix);
int ov_clip_load(ov_weights *w, ov_mem *mem, int dtype, ov_tensor *t, int ndim, int64_t d0, int64_t d1,
                 const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* x [1, 77, width] = token_embedding[ids] + positional_embedding[:77]. ids: 77 host ids. */
int ov_clip_embed(const ov_clip_text *e, const int32_t *ids, ov_arena *a, ov_tensor *x);
/* Block `l` applied in place to the residual stream x [1, L, width]: causal self-attention and
 * the MLP, pre-LN (CLIPEncoderLayer / open_clip ResidualAttentionBlock). Scratch from a, released. */
int ov_clip_block(const ov_clip_text *e, int l, ov_tensor *x, ov_arena *a);
/* te2 pooled: ln_final(x[0, eos]) @ text_projection -> pooled [1, proj] (caller-allocated). */
int ov_clip_pool(const ov_clip_text *e, const ov_tensor *x, int64_t eos, ov_arena *a, ov_tensor *pooled);

#endif
