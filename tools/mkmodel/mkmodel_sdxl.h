/* SDXL random-weight checkpoints: each component lists its tensors in the sgm single-file layout
 * (the names community checkpoints use), and mkmodel_sdxl.c writes them into one file. */
#ifndef OV_MKMODEL_SDXL_H
#define OV_MKMODEL_SDXL_H

#include "tools/mkmodel/mk.h"

/* Presets: "tiny" (the test/demo model below) and "full" (real SDXL base shapes, benchmarks).
 *
 * tiny — same architecture, every dimension derivable from tensor shapes, head_dim 64 everywhere
 * (as in SDXL, so head counts = width / 64):
 *   te1  CLIP ViT-L layout (HF CLIPTextModel names under conditioner.embedders.0.transformer.):
 *        vocab 49408, 77 positions, hidden 128 (2 heads), 3 layers, MLP 512, quick_gelu.
 *   te2  OpenCLIP bigG layout (open_clip names under conditioner.embedders.1.model.): vocab 49408,
 *        77 positions, width 128 (2 heads), 3 layers, MLP 512, gelu, text_projection [128,128].
 *   unet model_channels 64, channel_mult (1,2,4) -> 64/128/256, 2 res blocks per level,
 *        transformer depth per level (0,1,2), mid depth 2, context_dim 256 (= 128 + 128),
 *        adm_in_channels 128 + 6·32 = 320 (time-id embedding width 32), time_embed 256.
 *   vae  ch 32, ch_mult (1,2,2,2) -> 32/64/64/64 (factor 8), 2 res blocks (decoder 3), z 4,
 *        one mid attention, scaling_factor 0.13025 (the pipeline's constant).
 * full — te1 768/12 layers/3072, te2 1280/32 layers/5120 + projection 1280, UNet 320·(1,2,4) with
 *        depths (0,2,10), mid 10, context 2048, adm 2816 (time-id width 256), VAE ch 128 (1,2,4,4).
 *
 * Each function appends its component's tensors (full names with the single-file prefix) to l.
 * 0, or OV_EINVAL for an unknown preset, OV_ENOMEM. */
int ov_mk_sdxl_te1(ov_mk_list *l, const char *preset);
int ov_mk_sdxl_te2(ov_mk_list *l, const char *preset);
int ov_mk_sdxl_unet(ov_mk_list *l, const char *preset);
int ov_mk_sdxl_vae(ov_mk_list *l, const char *preset);

#endif
