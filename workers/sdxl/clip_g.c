/* OpenCLIP ViT-bigG/14 text encoder (SDXL te2) weights in the open_clip layout.
 * Reference: mlfoundations/open_clip src/open_clip/transformer.py (TextTransformer,
 * ResidualAttentionBlock with torch nn.MultiheadAttention: in_proj_weight rows [q; k; v]) and
 * diffusers loaders/single_file_utils.py convert_open_clip_checkpoint (the same split). */
#include <stdlib.h>

#include "common/error.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/clip_text.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto out;                                                                                        \
    } while (0)

#define P "te2."
#define LP "te2.transformer.resblocks."

/* The HF CLIPTextModelWithProjection layout of a diffusers folder (diffusers_names.c) names
 * text_projection.weight [proj, W]: a Linear, i.e. the transpose of open_clip's x @ P matrix.
 * Loaded as f32 and transposed on the host into the same [W, proj] tensor (same values). */
static int load_proj_t(ov_weights *w, ov_mem *mem, ov_tensor *t, int64_t W, int64_t Pd)
{
    float *h = malloc((size_t)(W * Pd) * sizeof *h), *tr = malloc((size_t)(W * Pd) * sizeof *tr);
    int rc = h && tr ? ov_weights_read_f32(w, P "text_projection.weight", h, W * Pd)
                     : ov_tensor_fail(OV_ENOMEM, "te2: out of memory");
    if (!rc) {
        for (int64_t j = 0; j < Pd; j++)
            for (int64_t i = 0; i < W; i++)
                tr[i * Pd + j] = h[j * W + i];
        const int64_t shape[2] = {W, Pd};
        rc = ov_mem_alloc_tensor(mem, t, P "text_projection", OV_DTYPE_F32, 2, shape);
        if (!rc && (rc = ov_tensor_upload(t, tr, (size_t)(W * Pd) * sizeof *tr)))
            ov_mem_free_tensor(mem, t);
    }
    free(h);
    free(tr);
    return rc;
}

/* token_embedding [V, W] gives width and vocab, mlp.c_fc [M, W] the MLP width, text_projection
 * [W, proj] the pooled width; layers = number of resblocks.N present. logit_scale is not read. */
int ov_clip_g_load(ov_weights *w, ov_mem *mem, int wd, ov_clip_text *e)
{
    int rc;
    const int f32 = OV_DTYPE_F32;
    ov_weight_info fi, pi;
    *e = (ov_clip_text){0};
    e->tag = "te2";
    e->act = OV_GELU_ERF;
    TRY(ov_clip_read_dims(w, e, P "token_embedding.weight", LP));
    TRY(ov_weights_info(w, LP "0.mlp.c_fc.weight", &fi));
    /* HF layout (diffusers folder): text_projection.weight [proj, W] and split q/k/v projections. */
    const int hf_proj =
        !ov_weights_has(w, P "text_projection") && ov_weights_has(w, P "text_projection.weight");
    const int packed =
        ov_weights_has(w, LP "0.attn.in_proj_weight") || !ov_weights_has(w, LP "0.attn.q_proj.weight");
    TRY(ov_weights_info(w, hf_proj ? P "text_projection.weight" : P "text_projection", &pi));
    const int64_t pd = hf_proj ? pi.shape[0] : pi.shape[1];
    if (fi.ndim != 2 || fi.shape[0] < 1 || fi.shape[0] > (1 << 20) || pi.ndim != 2 || pd < 1 ||
        pd > (1 << 20) || (hf_proj && pi.shape[1] != e->width)) {
        rc = ov_tensor_fail(OV_EFORMAT, "%s: te2 mlp.c_fc.weight or text_projection has a bad shape",
                            ov_weights_path(w));
        goto out;
    }
    e->mlp = (int)fi.shape[0];
    e->proj = (int)pd;
    const int64_t W = e->width, M = e->mlp;

    TRY(ov_clip_load(w, mem, wd, &e->tok_emb, 2, e->vocab, W, P "token_embedding.weight"));
    TRY(ov_clip_load(w, mem, f32, &e->pos_emb, 2, OV_CLIP_CTX, W, P "positional_embedding"));
    e->layer = calloc((size_t)e->layers, sizeof *e->layer);
    if (!e->layer) {
        rc = ov_tensor_fail(OV_ENOMEM, "te2: out of memory");
        goto out;
    }
    for (int l = 0; l < e->layers; l++) {
        ov_clip_layer *B = &e->layer[l];
        TRY(ov_clip_load(w, mem, f32, &B->ln1_w, 1, W, 0, LP "%d.ln_1.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln1_b, 1, W, 0, LP "%d.ln_1.bias", l));
        if (!packed) {
            TRY(ov_clip_load(w, mem, wd, &B->q_w, 2, W, W, LP "%d.attn.q_proj.weight", l));
            TRY(ov_clip_load(w, mem, wd, &B->k_w, 2, W, W, LP "%d.attn.k_proj.weight", l));
            TRY(ov_clip_load(w, mem, wd, &B->v_w, 2, W, W, LP "%d.attn.v_proj.weight", l));
            TRY(ov_clip_load(w, mem, f32, &B->q_b, 1, W, 0, LP "%d.attn.q_proj.bias", l));
            TRY(ov_clip_load(w, mem, f32, &B->k_b, 1, W, 0, LP "%d.attn.k_proj.bias", l));
            TRY(ov_clip_load(w, mem, f32, &B->v_b, 1, W, 0, LP "%d.attn.v_proj.bias", l));
        } else {
            TRY(ov_clip_load(w, mem, wd, &B->in_proj_w, 2, 3 * W, W, LP "%d.attn.in_proj_weight", l));
            TRY(ov_clip_load(w, mem, f32, &B->in_proj_b, 1, 3 * W, 0, LP "%d.attn.in_proj_bias", l));
            /* nn.MultiheadAttention: q = rows [0, W), k = [W, 2W), v = [2W, 3W) */
            TRY(ov_tensor_slice(&B->q_w, &B->in_proj_w, 0, 0, W));
            TRY(ov_tensor_slice(&B->k_w, &B->in_proj_w, 0, W, W));
            TRY(ov_tensor_slice(&B->v_w, &B->in_proj_w, 0, 2 * W, W));
            TRY(ov_tensor_slice(&B->q_b, &B->in_proj_b, 0, 0, W));
            TRY(ov_tensor_slice(&B->k_b, &B->in_proj_b, 0, W, W));
            TRY(ov_tensor_slice(&B->v_b, &B->in_proj_b, 0, 2 * W, W));
        }
        TRY(ov_clip_load(w, mem, wd, &B->out_w, 2, W, W, LP "%d.attn.out_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->out_b, 1, W, 0, LP "%d.attn.out_proj.bias", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln2_w, 1, W, 0, LP "%d.ln_2.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln2_b, 1, W, 0, LP "%d.ln_2.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->fc1_w, 2, M, W, LP "%d.mlp.c_fc.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->fc1_b, 1, M, 0, LP "%d.mlp.c_fc.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->fc2_w, 2, W, M, LP "%d.mlp.c_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->fc2_b, 1, W, 0, LP "%d.mlp.c_proj.bias", l));
    }
    TRY(ov_clip_load(w, mem, f32, &e->ln_final_w, 1, W, 0, P "ln_final.weight"));
    TRY(ov_clip_load(w, mem, f32, &e->ln_final_b, 1, W, 0, P "ln_final.bias"));
    if (hf_proj)
        TRY(load_proj_t(w, mem, &e->text_proj, W, e->proj));
    else
        TRY(ov_clip_load(w, mem, f32, &e->text_proj, 2, W, e->proj, P "text_projection"));
out:
    if (rc)
        ov_clip_text_free(e, mem);
    return rc;
}
