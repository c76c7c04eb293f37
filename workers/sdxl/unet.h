/* SDXL UNet (sgm "openaimodel" layout: input_blocks / middle_block / output_blocks).
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/openaimodel.py and
 * sgm/modules/attention.py (SpatialTransformer, BasicTransformerBlock); diffusers
 * UNet2DConditionModel is the numerical reference in tests. */
#ifndef OV_SDXL_UNET_H
#define OV_SDXL_UNET_H

#include "common/model/weights.h"
#include "common/tensor/arena.h"

typedef struct ov_sdxl_unet ov_sdxl_unet;

typedef struct ov_sdxl_unet_info {
    int model_channels;   /* 320 */
    int n_levels;         /* 3 */
    int channel_mult[4];  /* 1,2,4 */
    int depth[4];         /* transformer blocks per level: 0,2,10 */
    int mid_depth;        /* 10 */
    int in_channels, out_channels; /* 4, 4 */
    int context_dim;      /* 2048 */
    int adm_in_channels;  /* 2816 */
    int time_embed_dim;   /* 1280 */
    int64_t weight_bytes;
} ov_sdxl_unet_info;

/* Load from w (canonical "unet." + sgm names). Structure derived from tensor names/shapes;
 * head_dim 64. Missing/mismatched tensors: OV_ENOENT/OV_EFORMAT naming them.
 * weight_dtype: dtype of the conv/linear weights on mem's backend (OV_DTYPE_F32/F16/BF16, or -1
 * to keep the stored dtype); norm gains and biases are always f32. On failure
 * everything loaded so far is freed and *out stays NULL. */
int ov_sdxl_unet_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_unet **out);
void ov_sdxl_unet_free(ov_sdxl_unet *u, ov_mem *mem);
const ov_sdxl_unet_info *ov_sdxl_unet_get_info(const ov_sdxl_unet *u);

/* eps prediction: x [B, 4, h, w] (h, w multiples of 4 for 3 levels), t [B] f32 timesteps,
 * context [B, L, context_dim], y [B, adm_in_channels] -> out [B, 4, h, w] (caller-allocated,
 * contiguous). Scratch comes from arena and is released before returning. */
int ov_sdxl_unet_forward(ov_sdxl_unet *u, ov_arena *arena, const ov_tensor *x, const ov_tensor *t,
                         const ov_tensor *context, const ov_tensor *y, ov_tensor *out);

/* Floating-point operations of one forward at batch B, latent h×w, context length ctx_len:
 * 2·MACs of every conv, linear and attention product (q·kᵀ and p·v); norms and element-wise
 * ops are not counted (< 1%). For benchmarks (GFLOP/s). */
double ov_sdxl_unet_flops(const ov_sdxl_unet *u, int64_t B, int64_t h, int64_t w, int64_t ctx_len);

#endif
