/* CLIP ViT-L/14 text encoder (SDXL te1) weights in the HF CLIPTextModel layout.
 * Reference: huggingface/transformers src/transformers/models/clip/modeling_clip.py (names) and
 * diffusers loaders/single_file_utils.py convert_ldm_clip_checkpoint (single-file prefix). */
#include <stdlib.h>

#include "common/error.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/clip_text.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto out;                                                                                        \
    } while (0)

#define P "te1.text_model."
#define LP "te1.text_model.encoder.layers."

/* token_embedding [V, W] gives width and vocab; fc1 [M, W] the MLP width; the layer count is the
 * number of encoder.layers.N present. final_layer_norm is not loaded: SDXL conditions on the
 * hidden state before it (sgm FrozenCLIPEmbedder layer="hidden", layer_idx=11). */
int ov_clip_l_load(ov_weights *w, ov_mem *mem, int wd, ov_clip_text *e)
{
    int rc;
    const int f32 = OV_DTYPE_F32;
    ov_weight_info fi;
    *e = (ov_clip_text){0};
    e->tag = "te1";
    e->act = OV_GELU_QUICK;
    TRY(ov_clip_read_dims(w, e, P "embeddings.token_embedding.weight", LP));
    TRY(ov_weights_info(w, LP "0.mlp.fc1.weight", &fi));
    if (fi.ndim != 2 || fi.shape[0] < 1 || fi.shape[0] > (1 << 20)) {
        rc = ov_tensor_fail(OV_EFORMAT, "%s: te1 mlp.fc1.weight has a bad shape", ov_weights_path(w));
        goto out;
    }
    e->mlp = (int)fi.shape[0];
    const int64_t W = e->width, M = e->mlp;

    TRY(ov_clip_load(w, mem, wd, &e->tok_emb, 2, e->vocab, W, P "embeddings.token_embedding.weight"));
    /* [77, W] in every CLIP; only the first 77 rows are used */
    TRY(ov_clip_load(w, mem, f32, &e->pos_emb, 2, OV_CLIP_CTX, W, P "embeddings.position_embedding.weight"));
    e->layer = calloc((size_t)e->layers, sizeof *e->layer);
    if (!e->layer) {
        rc = ov_tensor_fail(OV_ENOMEM, "te1: out of memory");
        goto out;
    }
    for (int l = 0; l < e->layers; l++) {
        ov_clip_layer *B = &e->layer[l];
        TRY(ov_clip_load(w, mem, f32, &B->ln1_w, 1, W, 0, LP "%d.layer_norm1.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln1_b, 1, W, 0, LP "%d.layer_norm1.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->q_w, 2, W, W, LP "%d.self_attn.q_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->q_b, 1, W, 0, LP "%d.self_attn.q_proj.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->k_w, 2, W, W, LP "%d.self_attn.k_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->k_b, 1, W, 0, LP "%d.self_attn.k_proj.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->v_w, 2, W, W, LP "%d.self_attn.v_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->v_b, 1, W, 0, LP "%d.self_attn.v_proj.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->out_w, 2, W, W, LP "%d.self_attn.out_proj.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->out_b, 1, W, 0, LP "%d.self_attn.out_proj.bias", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln2_w, 1, W, 0, LP "%d.layer_norm2.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->ln2_b, 1, W, 0, LP "%d.layer_norm2.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->fc1_w, 2, M, W, LP "%d.mlp.fc1.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->fc1_b, 1, M, 0, LP "%d.mlp.fc1.bias", l));
        TRY(ov_clip_load(w, mem, wd, &B->fc2_w, 2, W, M, LP "%d.mlp.fc2.weight", l));
        TRY(ov_clip_load(w, mem, f32, &B->fc2_b, 1, W, 0, LP "%d.mlp.fc2.bias", l));
    }
out:
    if (rc)
        ov_clip_text_free(e, mem);
    return rc;
}
