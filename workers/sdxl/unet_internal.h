/* SDXL UNet internals shared by unet.c (loading, structure) and unet_blocks.c (block forwards).
 * Names follow sgm openaimodel.py / attention.py so the two can be read side by side. */
#ifndef OV_SDXL_UNET_INTERNAL_H
#define OV_SDXL_UNET_INTERNAL_H

#include "common/tensor/arena.h"
#include "common/tensor/tensor.h"
#include "workers/sdxl/unet.h"

#define OV_UNET_HEAD_DIM 64
#define OV_UNET_MAX_BLOCKS 64 /* input_blocks / output_blocks entries */
#define OV_UNET_MAX_DEPTH 64  /* transformer blocks in one SpatialTransformer */
#define OV_UNET_GN_GROUPS 32
#define OV_UNET_GN_EPS 1e-5f    /* GroupNorm32 (torch default eps) */
#define OV_UNET_ST_GN_EPS 1e-6f /* SpatialTransformer's Normalize() */
#define OV_UNET_LN_EPS 1e-5f    /* BasicTransformerBlock LayerNorms */

/* openaimodel.ResBlock (use_scale_shift_norm False, as in SDXL). */
typedef struct unet_res {
    int64_t cin, cout;
    ov_tensor in_norm_w, in_norm_b;   /* in_layers.0 */
    ov_tensor in_conv_w, in_conv_b;   /* in_layers.2 */
    ov_tensor emb_w, emb_b;           /* emb_layers.1 */
    ov_tensor out_norm_w, out_norm_b; /* out_layers.0 */
    ov_tensor out_conv_w, out_conv_b; /* out_layers.3 */
    int has_skip;                     /* skip_connection (1×1 conv) when cin != cout */
    ov_tensor skip_w, skip_b;
} unet_res;

/* attention.CrossAttention / MemoryEfficientCrossAttention: to_q/k/v without bias, to_out.0. */
typedef struct unet_attn {
    ov_tensor to_q, to_k, to_v, to_out_w, to_out_b;
} unet_attn;

/* attention.BasicTransformerBlock: norm1 → attn1 (self), norm2 → attn2 (cross), norm3 → ff. */
typedef struct unet_tblock {
    ov_tensor norm1_w, norm1_b, norm2_w, norm2_b, norm3_w, norm3_b;
    unet_attn attn1, attn2;
    ov_tensor ff_in_w, ff_in_b;   /* ff.net.0.proj (GEGLU, 2 × inner) */
    ov_tensor ff_out_w, ff_out_b; /* ff.net.2 */
} unet_tblock;

/* attention.SpatialTransformer with use_linear (proj_in / proj_out are Linear). */
typedef struct unet_st {
    int64_t ch;
    int depth;
    ov_tensor norm_w, norm_b;
    ov_tensor proj_in_w, proj_in_b, proj_out_w, proj_out_b;
    unet_tblock *blocks; /* depth entries */
} unet_st;

/* One TimestepEmbedSequential entry: [ResBlock] [SpatialTransformer] [Upsample], or Downsample
 * (input_blocks.k.0.op), or the first conv (input_blocks.0.0). */
typedef struct unet_block {
    int has_res, has_st, has_down, has_up;
    unet_res res;
    unet_st st;
    ov_tensor conv_w, conv_b; /* Downsample op / Upsample conv */
} unet_block;

struct ov_sdxl_unet {
    ov_sdxl_unet_info info;
    ov_mem *mem;
    ov_tensor time_embed0_w, time_embed0_b, time_embed2_w, time_embed2_b;
    ov_tensor label_emb0_w, label_emb0_b, label_emb2_w, label_emb2_b;
    ov_tensor conv_in_w, conv_in_b; /* input_blocks.0.0 */
    int n_in, n_out;                /* input_blocks (without block 0) and output_blocks */
    unet_block in[OV_UNET_MAX_BLOCKS];
    unet_block out[OV_UNET_MAX_BLOCKS];
    unet_res mid_res0, mid_res2;
    unet_st mid_st;
    ov_tensor out_norm_w, out_norm_b, out_conv_w, out_conv_b;
    /* Every weight loaded, for ov_sdxl_unet_free. */
    ov_tensor **owned;
    size_t n_owned, cap_owned;
};

/* y = ResBlock(x, emb_act): x [B, cin, H, W], emb_act = SiLU(emb) [B, time_embed_dim], y [B, cout,
 * H, W] (y must not alias x). Scratch from a, released before return. */
int ov_unet_res_forward(const unet_res *r, ov_arena *a, const ov_tensor *x, const ov_tensor *emb_act,
                        ov_tensor *y);
/* x = SpatialTransformer(x, context), in place: x [B, C, H, W], context [B, L, context_dim]. */
int ov_unet_st_forward(const unet_st *s, ov_arena *a, ov_tensor *x, const ov_tensor *context);

#endif
