/* SDXL diffusers folders: tensor names between the diffusers layout (StableDiffusionXLPipeline.
 * save_pretrained: unet/, vae/, text_encoder/, text_encoder_2/) and our canonical sgm names, both
 * directions, and opening such a folder as one ov_weights with canonical names.
 * Reference: huggingface/diffusers src/diffusers/loaders/single_file_utils.py
 * (convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint, convert_open_clip_checkpoint), whose
 * inverse diffusers -> sgm is; block numbers come from the structure (counts of blocks found in the
 * names), not a fixed table, so the tiny and the full model both work. */
#ifndef OV_SDXL_DIFFUSERS_NAMES_H
#define OV_SDXL_DIFFUSERS_NAMES_H

#include <stddef.h>

#include "common/model/weights.h"

/* Names on both sides carry our component prefix: "unet.", "vae.", "te1.", "te2." (a folder's
 * component files are opened under these prefixes). Examples:
 *   unet.down_blocks.0.resnets.1.norm1.weight      <-> unet.input_blocks.2.0.in_layers.0.weight
 *   unet.up_blocks.0.upsamplers.0.conv.weight      <-> unet.output_blocks.2.2.conv.weight
 *   vae.decoder.up_blocks.0.resnets.0.conv1.weight <-> vae.decoder.up.3.block.0.conv1.weight
 *   vae.encoder.mid_block.attentions.0.to_q.weight <-> vae.encoder.mid.attn_1.q.weight ([C,C] vs
 *                                                      [C,C,1,1]: same bytes, see ov_weights_load)
 *   te1.encoder.layers.0.mlp.fc1.weight            <-> te1.text_model.encoder.layers.0.mlp.fc1.weight
 *   te2.text_model.encoder.layers.0.mlp.fc1.weight <-> te2.transformer.resblocks.0.mlp.c_fc.weight
 * te2's HF attention is split (q_proj/k_proj/v_proj) where open_clip packs in_proj_weight, and its
 * text_projection.weight is the transpose of open_clip's text_projection: those canonical names
 * are te2.transformer.resblocks.N.attn.{q,k,v}_proj.{weight,bias} and te2.text_projection.weight,
 * which clip_g.c accepts in place of the packed/transposed ones. */

/* Block counts that fix the numbering. */
typedef struct ov_sdxl_dfs_layout {
    int unet_levels;       /* UNet resolution levels (down_blocks) */
    int unet_layers;       /* resnets per down block (layers_per_block; up blocks have one more) */
    unsigned unet_up_attn; /* bit u set: up_blocks.u has attentions (its upsampler is output .2) */
    int vae_levels;        /* VAE decoder levels (decoder.up_blocks / decoder.up) */
} ov_sdxl_dfs_layout;

/* The counts from names in the diffusers layout / in our canonical layout (prefixed as above).
 * OV_EFORMAT when the UNet or VAE part is inconsistent (e.g. input_blocks not levels·(L+1)). */
int ov_sdxl_dfs_layout_diffusers(const char *const *names, size_t n, ov_sdxl_dfs_layout *L);
int ov_sdxl_dfs_layout_sgm(const char *const *names, size_t n, ov_sdxl_dfs_layout *L);

/* diffusers -> canonical: 1 renamed into out, 0 no rule (keep the name), OV_ERANGE (cap). */
int ov_sdxl_diffusers_to_sgm(const ov_sdxl_dfs_layout *L, const char *name, char *out, size_t cap);
/* canonical -> diffusers (what save_pretrained writes with transformers 5: text_encoder without
 * the text_model. wrapper, text_encoder_2 with it): 1 renamed, 0 no diffusers counterpart
 * (te2.logit_scale, position_ids; te2.transformer.resblocks.N.attn.in_proj_* and te2.text_projection
 * need a data change: split / transpose, then name the parts q_proj / text_projection.weight),
 * OV_ERANGE. */
int ov_sdxl_sgm_to_diffusers(const ov_sdxl_dfs_layout *L, const char *name, char *out, size_t cap);

/* A component folder and the file stem inside it, for prefix "te1." ... (NULL if unknown). */
const char *ov_sdxl_diffusers_subdir(const char *prefix);
const char *ov_sdxl_diffusers_stem(const char *prefix);

/* 1 when path is a directory holding model_index.json or a unet/ folder (a diffusers folder). */
int ov_sdxl_is_diffusers_folder(const char *path);

/* Open a diffusers SDXL folder: for each of text_encoder, text_encoder_2, unet, vae the file
 * <stem>.safetensors, else <stem>.safetensors.index.json (sharded), else the .fp16 / .bf16
 * variants of both; all as one ov_weights under canonical names (ov_weights_rename with
 * ov_sdxl_diffusers_to_sgm). Errors: OV_ENOENT naming the missing component folder or file,
 * OV_EFORMAT, and ov_weights_open's; err gets the message. */
int ov_sdxl_diffusers_open(const char *dir, ov_weights **out, char *err, size_t errlen);

#endif
