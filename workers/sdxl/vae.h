/* SDXL VAE (ldm AutoencoderKL layout: encoder / decoder / quant_conv / post_quant_conv).
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/model.py (Encoder,
 * Decoder); diffusers AutoencoderKL is the numerical reference in tests. */
#ifndef OV_SDXL_VAE_H
#define OV_SDXL_VAE_H

#include "common/model/weights.h"
#include "common/tensor/arena.h"

#define OV_SDXL_VAE_SCALING 0.13025f /* latents = scaling · z (SDXL's VAE config) */

typedef struct ov_sdxl_vae ov_sdxl_vae;

/* Load from w (canonical "vae." + ldm names). Channel multipliers and block counts from names and
 * shapes. Decoder and encoder both loaded. */
int ov_sdxl_vae_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_vae **out);
void ov_sdxl_vae_free(ov_sdxl_vae *v, ov_mem *mem);
/* Spatial factor (8 for SDXL). */
int ov_sdxl_vae_factor(const ov_sdxl_vae *v);

/* z [B, 4, h, w] (= latents / OV_SDXL_VAE_SCALING, the caller divides) -> img [B, 3, f·h, f·w]
 * (caller-allocated), values nominally in [-1, 1] (not clamped). Computed in f32 on the CPU and
 * without fp16 anywhere on CUDA (the SDXL VAE overflows fp16). Scratch from arena, released.
 * z and img: contiguous, the backend's act dtype. Errors: OV_EINVAL (shapes), OV_EBUDGET (arena
 * smaller than ov_sdxl_vae_decode_scratch_bytes), op errors; message in ov_tensor_last_error().
 * weight_dtype of ov_sdxl_vae_load: -1 keeps the stored dtype, else OV_DTYPE_F32/F16/BF16. */
int ov_sdxl_vae_decode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *z, ov_tensor *img);
/* img [B, 3, H, W] in [-1, 1] -> mean [B, 4, H/f, W/f] of the posterior (caller-allocated). */
int ov_sdxl_vae_encode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *img, ov_tensor *mean);
/* The same, also writing the posterior's logvar (the second half of quant_conv's moments,
 * unclamped; DiagonalGaussianDistribution clamps it to [-30, 20]) when logvar is not NULL
 * (mean's shape and dtype). Image-to-image samples z = mean + exp(logvar/2)·ε from it. */
int ov_sdxl_vae_encode_dist(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *img, ov_tensor *mean,
                            ov_tensor *logvar);

/* Additions (vae work):
 * Latent channels (4 for SDXL: post_quant_conv's input width). */
int ov_sdxl_vae_latent_channels(const ov_sdxl_vae *v);
/* Arena bytes decode/encode take (and release) for one batch of any size: images run one at a
 * time through three activation slots plus the mid attention's q/k/v. h, w: latent size for
 * decode, image size for encode. A 128×128 latent (1024² image) needs about 3.1 GiB. */
size_t ov_sdxl_vae_decode_scratch_bytes(const ov_sdxl_vae *v, int64_t h, int64_t w);
/* Test hook: the mid attention's score chunk in elements (0 = the default 2^24), so small tests run
 * the multi-chunk path. Process-wide; set before computing scratch sizes. */
void ov_sdxl_vae_attn_chunk_force(int64_t elems);
size_t ov_sdxl_vae_encode_scratch_bytes(const ov_sdxl_vae *v, int64_t h, int64_t w);

#endif
