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
 * without fp16 anywhere on CUDA (the SDXL VAE overflows fp16). Scratch from arena, released. */
int ov_sdxl_vae_decode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *z, ov_tensor *img);
/* img [B, 3, H, W] in [-1, 1] -> mean [B, 4, H/f, W/f] of the posterior (caller-allocated). */
int ov_sdxl_vae_encode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *img, ov_tensor *mean);

#endif
