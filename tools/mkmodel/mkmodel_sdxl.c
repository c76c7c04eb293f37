/* ourvidz-mkmodel sdxl: one single-file (sgm layout) SDXL checkpoint with random weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

#define UNET_PREFIX "model.diffusion_model."

/* --fp8: which tensors become F8_E4M3 + scale. ComfyUI's fp8-scaled ops (comfy/ops.py:
 * scaled_fp8_ops / mixed_precision_ops) replace nn.Linear only, so its SDXL files quantise the
 * UNet's Linear weights (attention q/k/v/out, GEGLU ff, proj_in/proj_out, time/label embedding
 * MLPs, ResBlock emb_layers) and keep conv weights, norms, biases, the text encoders and the VAE
 * in f16/f32. --fp8-conv also quantises the UNet conv weights (ndim 4): not what those files do,
 * but it exercises the conv path with F8 weights. */
static unsigned char *fp8_select(const ov_mk_list *l, int conv) {
    unsigned char *sel = calloc(l->n ? l->n : 1, 1);
    if (!sel)
        return NULL;
    size_t np = strlen(UNET_PREFIX);
    for (size_t i = 0; i < l->n; i++) {
        const ov_mk_spec *s = &l->v[i];
        size_t n = strlen(s->name);
        int weight = n > 7 && strcmp(s->name + n - 7, ".weight") == 0;
        sel[i] = (unsigned char)(strncmp(s->name, UNET_PREFIX, np) == 0 && weight &&
                                 (s->ndim == 2 || (conv && s->ndim == 4)));
    }
    return sel;
}

/* Writes DIR/model.safetensors: te1 + te2 + UNet + VAE in the single-file key layout community
 * checkpoints use (model.diffusion_model.*, conditioner.embedders.{0,1}.*, first_stage_model.*).
 * Default dtype: f32 for tiny (exact tests), f16 for full (what checkpoints ship).
 * Extra flags: --fp8 legacy|quant (ComfyUI fp8-scaled, REFERENCE-MODELS.md §D.5: the UNet's
 * Linear weights as F8_E4M3 with a per-tensor scale max|w|/448; legacy = the
 * "model.diffusion_model.scaled_fp8" marker + <layer>.scale_weight, quant =
 * __metadata__._quantization_metadata + <layer>.weight_scale; other tensors in --dtype),
 * --fp8-conv (also the UNet conv weights). */
static int make_sdxl(const ov_mk_args *a) {
    if (strcmp(a->preset, "tiny") != 0 && strcmp(a->preset, "full") != 0) {
        fprintf(stderr, "mkmodel sdxl: unknown preset '%s' (tiny, full)\n", a->preset);
        return OV_EINVAL;
    }
    int fp8_layout = OV_MK_FP8_NONE, fp8_conv = 0;
    for (int i = 0; i < a->argc; i++) {
        const char *f = a->argv[i];
        if (!strcmp(f, "--fp8") && i + 1 < a->argc) {
            const char *v = a->argv[++i];
            if (!strcmp(v, "legacy"))
                fp8_layout = OV_MK_FP8_LEGACY;
            else if (!strcmp(v, "quant"))
                fp8_layout = OV_MK_FP8_QUANT;
            else {
                fprintf(stderr, "mkmodel sdxl: --fp8 wants legacy or quant (got %s)\n", v);
                return OV_EINVAL;
            }
        } else if (!strcmp(f, "--fp8-conv")) {
            fp8_conv = 1;
        } else {
            fprintf(stderr, "mkmodel sdxl: unknown flag %s (--fp8 legacy|quant, --fp8-conv)\n", f);
            return OV_EINVAL;
        }
    }
    if (fp8_conv && !fp8_layout) {
        fprintf(stderr, "mkmodel sdxl: --fp8-conv needs --fp8 legacy|quant\n");
        return OV_EINVAL;
    }
    int dtype = a->dtype_set ? a->dtype : (strcmp(a->preset, "full") == 0 ? OV_DTYPE_F16 : OV_DTYPE_F32);
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_unet(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_te1(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_te2(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_vae(&l, a->preset);
    if (rc) {
        fprintf(stderr, "mkmodel sdxl: cannot list the %s tensors (code %d)\n", a->preset, rc);
        ov_mk_list_free(&l);
        return rc;
    }
    rc = ov_mk_mkdirs(a->out);
    char path[1024];
    if (!rc && snprintf(path, sizeof path, "%s/model.safetensors", a->out) >= (int)sizeof path)
        rc = OV_ERANGE;
    char err[512] = "";
    const char *meta[] = {"modelspec.architecture", "stable-diffusion-xl-v1-base", "ourvidz.preset", a->preset,
                          "ourvidz.note", "random weights from ourvidz-mkmodel (not a trained model)"};
    ov_mk_fp8_opts fo = {.layout = fp8_layout, .marker = UNET_PREFIX "scaled_fp8"};
    unsigned char *sel = NULL;
    if (!rc && fp8_layout && !(sel = fp8_select(&l, fp8_conv)))
        rc = OV_ENOMEM;
    fo.select = sel;
    if (!rc)
        rc = ov_mk_write_safetensors_fp8(&l, path, dtype, a->seed, meta, 3, fp8_layout ? &fo : NULL, err,
                                         sizeof err);
    if (rc && err[0])
        fprintf(stderr, "%s\n", err);
    if (!rc) {
        size_t n8 = 0;
        for (size_t i = 0; sel && i < l.n; i++)
            n8 += sel[i];
        printf("mkmodel sdxl: %s (%zu tensors, %s", path, l.n, ov_dtype_name(dtype));
        if (fp8_layout)
            printf("; %zu as f8_e4m3 + scale, %s layout", n8, fp8_layout == OV_MK_FP8_LEGACY ? "legacy" : "quant");
        printf(")\n");
    }
    free(sel);
    ov_mk_list_free(&l);
    return rc;
}

const ov_mk_kind ov_mk_kind_sdxl = {"sdxl", "tiny|full (flags: --fp8 legacy|quant, --fp8-conv)", make_sdxl};
