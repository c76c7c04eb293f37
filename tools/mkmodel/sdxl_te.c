/* SDXL text encoders' tensors for ourvidz-mkmodel: CLIP ViT-L/14 (te1) and OpenCLIP ViT-bigG/14 (te2)
 * in the sgm single-file layout.
 *
 * Names and shapes are those of stabilityai sd_xl_base_1.0.safetensors, as read by diffusers
 * loaders/single_file_utils.py (convert_ldm_clip_checkpoint strips
 * "conditioner.embedders.0.transformer."; convert_open_clip_checkpoint maps
 * "conditioner.embedders.1.model." open_clip names, splitting in_proj into q/k/v and transposing
 * text_projection) and ComfyUI supported_models.py SDXL.process_clip_state_dict. Not written: te1's
 * int64 embeddings.position_ids buffer (some files carry it; every loader ignores or rebuilds it). */
#include <math.h>
#include <string.h>

#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

#define TE1 "conditioner.embedders.0.transformer.text_model."
#define TE2 "conditioner.embedders.1.model."
#define CLIP_VOCAB 49408
#define CLIP_POS 77

typedef struct te_dims {
    int64_t width, layers, mlp, proj;
} te_dims;

/* tiny: 128 wide (2 heads of 64), 3 layers, MLP 4x; full: SDXL base (REFERENCE-MODELS.md B.4). */
static int te_preset(const char *preset, int which, te_dims *d)
{
    int full;
    if (strcmp(preset, "tiny") == 0)
        full = 0;
    else if (strcmp(preset, "full") == 0)
        full = 1;
    else
        return OV_EINVAL;
    if (!full)
        *d = (te_dims){128, 3, 512, 128};
    else if (which == 1)
        *d = (te_dims){768, 12, 3072, 0};
    else
        *d = (te_dims){1280, 32, 5120, 1280};
    return 0;
}

static float inv_sqrt(int64_t n)
{
    return (float)(1.0 / sqrt((double)n));
}

/* Embeddings with std 0.5 / 0.2 (larger than CLIP's 0.02 / 0.01 init) so token and position
 * information is a visible part of the residual stream of a random model. */
int ov_mk_sdxl_te1(ov_mk_list *l, const char *preset)
{
    te_dims d;
    int rc = te_preset(preset, 1, &d);
    if (rc)
        return rc;
    const int64_t W = d.width, M = d.mlp;
    const float sw = inv_sqrt(W), sm = inv_sqrt(M);
    ov_mk_weight(l, 0.5f, CLIP_VOCAB, W, 0, 0, TE1 "embeddings.token_embedding.weight");
    ov_mk_weight(l, 0.2f, CLIP_POS, W, 0, 0, TE1 "embeddings.position_embedding.weight");
    static const char *const attn[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int64_t i = 0; i < d.layers; i++) {
        const char *p = TE1 "encoder.layers.";
        long long li = (long long)i;
        for (int k = 0; k < 4; k++)
            ov_mk_linear(l, sw, W, W, "%s%lld.self_attn.%s", p, li, attn[k]);
        ov_mk_norm(l, W, "%s%lld.layer_norm1", p, li);
        ov_mk_linear(l, sw, M, W, "%s%lld.mlp.fc1", p, li);
        ov_mk_linear(l, sm, W, M, "%s%lld.mlp.fc2", p, li);
        ov_mk_norm(l, W, "%s%lld.layer_norm2", p, li);
    }
    /* present in every SDXL file although SDXL uses the pre-final-LN hidden state */
    return ov_mk_norm(l, W, TE1 "final_layer_norm");
}

int ov_mk_sdxl_te2(ov_mk_list *l, const char *preset)
{
    te_dims d;
    int rc = te_preset(preset, 2, &d);
    if (rc)
        return rc;
    const int64_t W = d.width, M = d.mlp;
    const float sw = inv_sqrt(W), sm = inv_sqrt(M);
    ov_mk_weight(l, 0.5f, CLIP_VOCAB, W, 0, 0, TE2 "token_embedding.weight");
    ov_mk_weight(l, 0.2f, CLIP_POS, W, 0, 0, TE2 "positional_embedding");
    for (int64_t i = 0; i < d.layers; i++) {
        const char *p = TE2 "transformer.resblocks.";
        long long li = (long long)i;
        ov_mk_norm(l, W, "%s%lld.ln_1", p, li);
        /* packed [q; k; v] rows, nn.MultiheadAttention */
        ov_mk_weight(l, sw, 3 * W, W, 0, 0, "%s%lld.attn.in_proj_weight", p, li);
        ov_mk_bias(l, 3 * W, "%s%lld.attn.in_proj_bias", p, li);
        ov_mk_linear(l, sw, W, W, "%s%lld.attn.out_proj", p, li);
        ov_mk_norm(l, W, "%s%lld.ln_2", p, li);
        ov_mk_linear(l, sw, M, W, "%s%lld.mlp.c_fc", p, li);
        ov_mk_linear(l, sm, W, M, "%s%lld.mlp.c_proj", p, li);
    }
    ov_mk_norm(l, W, TE2 "ln_final");
    /* open_clip layout [width, proj], applied as x @ text_projection */
    ov_mk_weight(l, sw, W, d.proj, 0, 0, TE2 "text_projection");
    /* CLIP's contrastive temperature (a 0-dim tensor, ln 100 when trained); unused by SDXL */
    return ov_mk_add(l, OV_MK_CONST, 4.6051702f, 0.0f, 0, NULL, TE2 "logit_scale");
}
