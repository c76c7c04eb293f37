/* Tensor-name remapping between checkpoint layouts (official, diffusers, ldm/sgm single-file, ComfyUI). */
#ifndef OV_REMAP_H
#define OV_REMAP_H

#include <stddef.h>

/* One prefix rewrite: a name starting with `from` has that prefix replaced by `to` ("" strips). */
typedef struct ov_remap_rule {
    const char *from;
    const char *to;
} ov_remap_rule;

/* A layout: a name for messages plus its rules, tried in order (first match wins; put longer
 * prefixes first). */
typedef struct ov_remap_table {
    const char *layout;
    const ov_remap_rule *rules;
    size_t n_rules;
} ov_remap_table;

/* Rewrite `name` with the first matching rule into out (cap bytes). Returns 1 if a rule
 * matched, 0 if none did (out = name unchanged), OV_ERANGE if out is too small. */
int ov_remap_name(const ov_remap_table *t, const char *name, char *out, size_t cap);

/* Pick the table whose rule prefixes match the most of names[0..n) (ties: the earlier table).
 * Returns the table index, or -1 when no table's prefixes match any name (an official layout:
 * use the names as they are). */
int ov_remap_detect(const ov_remap_table *tables, size_t n_tables, const char *const *names, size_t n);

/* Check that every canonical name in required[0..n) exists, using has(ctx, canonical) (the
 * caller's lookup after remapping). On any missing name returns OV_ENOENT with a message
 * naming the checkpoint, the count and the first few missing names. */
int ov_remap_require(const char *checkpoint, const char *const *required, size_t n,
                     int (*has)(void *ctx, const char *canonical), void *ctx, char *err, size_t err_cap);

/* Built-in layouts. Canonical names are the official/diffusers component names with the
 * single-file wrappers stripped:
 *  - ov_remap_sdxl_single_file: model.diffusion_model. -> unet., conditioner.embedders.0.transformer.
 *    -> te1., conditioner.embedders.1.model. -> te2., first_stage_model. -> vae.
 *  - ov_remap_comfy_dit: model.diffusion_model. -> "" (ComfyUI / single-file WAN DiT), and
 *    diffusion_model. -> "".
 *  - ov_remap_identity: no rules (official files). */
extern const ov_remap_table ov_remap_sdxl_single_file;
extern const ov_remap_table ov_remap_comfy_dit;
extern const ov_remap_table ov_remap_identity;

#endif
