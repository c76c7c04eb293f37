/* Table-driven tensor-name prefix remapping and "missing tensors" reporting. */
#include "common/formats/remap.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/formats/fmt_err.h"

static const ov_remap_rule k_sdxl_rules[] = {
    {"model.diffusion_model.", "unet."},
    {"conditioner.embedders.0.transformer.", "te1."},
    {"conditioner.embedders.1.model.", "te2."},
    {"first_stage_model.", "vae."},
};
const ov_remap_table ov_remap_sdxl_single_file = {"sdxl-single-file", k_sdxl_rules,
                                                  sizeof k_sdxl_rules / sizeof k_sdxl_rules[0]};

static const ov_remap_rule k_comfy_rules[] = {
    {"model.diffusion_model.", ""},
    {"diffusion_model.", ""},
};
const ov_remap_table ov_remap_comfy_dit = {"comfy-dit", k_comfy_rules, sizeof k_comfy_rules / sizeof k_comfy_rules[0]};

const ov_remap_table ov_remap_identity = {"official", NULL, 0};

int ov_remap_name(const ov_remap_table *t, const char *name, char *out, size_t cap)
{
    for (size_t i = 0; t && i < t->n_rules; i++) {
        size_t fl = strlen(t->rules[i].from);
        if (strncmp(name, t->rules[i].from, fl) == 0) {
            int k = snprintf(out, cap, "%s%s", t->rules[i].to, name + fl);
            return k < 0 || (size_t)k >= cap ? OV_ERANGE : 1;
        }
    }
    int k = snprintf(out, cap, "%s", name);
    return k < 0 || (size_t)k >= cap ? OV_ERANGE : 0;
}

int ov_remap_detect(const ov_remap_table *tables, size_t n_tables, const char *const *names, size_t n)
{
    int best = -1;
    size_t best_hits = 0;
    for (size_t t = 0; t < n_tables; t++) {
        size_t hits = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t r = 0; r < tables[t].n_rules; r++)
                if (strncmp(names[i], tables[t].rules[r].from, strlen(tables[t].rules[r].from)) == 0) {
                    hits++;
                    break;
                }
        if (hits > best_hits) {
            best_hits = hits;
            best = (int)t;
        }
    }
    return best;
}

int ov_remap_require(const char *checkpoint, const char *const *required, size_t n,
                     int (*has)(void *ctx, const char *canonical), void *ctx, char *err, size_t err_cap)
{
    size_t missing = 0;
    char list[384];
    size_t used = 0;
    list[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (has(ctx, required[i]))
            continue;
        if (missing++ < 4) {
            int k = snprintf(list + used, sizeof list - used, "%s'%s'", used ? ", " : "", required[i]);
            if (k > 0 && (size_t)k < sizeof list - used)
                used += (size_t)k;
        }
    }
    if (!missing)
        return 0;
    return fmt_fail(err, err_cap, OV_ENOENT, "%s: %zu of %zu required tensors missing: %s%s", checkpoint, missing, n,
                    list, missing > 4 ? ", ..." : "");
}
