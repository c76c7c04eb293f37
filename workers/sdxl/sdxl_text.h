/* SDXL conditioning: CLIP ViT-L/14 + OpenCLIP ViT-bigG/14 text encoders, 77-token chunks with
 * emphasis weights, the 2048-wide context, pooled text and the ADM vector.
 * References: transformers models/clip/modeling_clip.py (te1), mlfoundations/open_clip
 * transformer.py (te2), Stability-AI/generative-models sgm/modules/encoders/modules.py. */
#ifndef OV_SDXL_TEXT_H
#define OV_SDXL_TEXT_H

#include <stddef.h>

#include "common/model/weights.h"
#include "common/tensor/arena.h"
#include "common/text/tok_clip.h"

typedef struct ov_sdxl_text ov_sdxl_text;

typedef struct ov_sdxl_text_info {
    int te1_hidden, te1_layers;
    int te2_hidden, te2_layers, te2_proj;
    int context_dim; /* te1_hidden + te2_hidden (2048 for SDXL) */
    int pooled_dim;  /* te2_proj (1280) */
} ov_sdxl_text_info;

/* Load both encoders from w (canonical names after ov_remap_sdxl_single_file: "te1." + HF CLIP
 * names, "te2." + open_clip names). Dimensions come from tensor shapes (head_dim 64). weight_dtype
 * as ov_weights_load (-1 keep). Missing/mismatched tensors: OV_ENOENT/OV_EFORMAT naming them. */
int ov_sdxl_text_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_text **out);
void ov_sdxl_text_free(ov_sdxl_text *te, ov_mem *mem);
const ov_sdxl_text_info *ov_sdxl_text_get_info(const ov_sdxl_text *te);

/* Encode one prompt (A1111/ComfyUI style: emphasis "(word:1.3)" parsed when `weighted`, prompts
 * over 75 tokens split into 77-token windows whose outputs are concatenated, at most max_chunks).
 * Outputs are new arena tensors:
 *   context [1, 77·chunks, context_dim]: penultimate hidden states of te1 ‖ te2, each token row
 *           scaled by its emphasis weight and the chunk's mean restored (A1111 rule, see .c);
 *   pooled  [1, pooled_dim]: te2 final-LN state at the EOS token of the first chunk, projected.
 * n_chunks_out gets the chunk count. An empty prompt encodes as "" (one window). */
int ov_sdxl_text_encode(ov_sdxl_text *te, ov_tok_clip *tok, const char *prompt, int weighted, size_t max_chunks,
                        ov_arena *arena, ov_tensor *context, ov_tensor *pooled, size_t *n_chunks_out);

/* SDXL's ADM vector y [1, pooled_dim + 6·time_dim]: pooled ‖ emb(orig_h) ‖ emb(orig_w) ‖
 * emb(crop_top) ‖ emb(crop_left) ‖ emb(target_h) ‖ emb(target_w), emb = sinusoidal timestep
 * embedding of width time_dim (= (adm_in − pooled_dim)/6, 256 in SDXL; flip_sin_to_cos, shift 0).
 * y is a new arena tensor. */
int ov_sdxl_adm_vector(const ov_tensor *pooled, const float time_ids[6], int time_dim, ov_arena *arena,
                       ov_tensor *y);

#endif
