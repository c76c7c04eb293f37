/* The CLIP text transformer forward shared by SDXL's CLIP-L (te1) and OpenCLIP bigG (te2).
 * References: huggingface/transformers src/transformers/models/clip/modeling_clip.py
 * (CLIPTextEmbeddings, CLIPEncoderLayer, CLIPAttention, CLIPMLP) and mlfoundations/open_clip
 * src/open_clip/transformer.py (TextTransformer, ResidualAttentionBlock, text_global_pool).
 * Both are pre-LN blocks with a causal mask and heads of 64; they differ in the activation
 * (quick_gelu vs erf GELU), the packed attention projection and bigG's pooled projection. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/backend.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/clip_text.h"
#include "workers/sdxl/sdxl_text.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto out;                                                                                        \
    } while (0)

int ov_clip_read_dims(const ov_weights *w, ov_clip_text *e, const char *tok_name, const char *layer_prefix)
{
    ov_weight_info ti;
    int rc = ov_weights_info(w, tok_name, &ti);
    if (rc)
        return rc;
    if (ti.ndim != 2 || ti.shape[1] < OV_CLIP_HEAD_DIM || ti.shape[1] % OV_CLIP_HEAD_DIM || ti.shape[0] < 1 ||
        ti.shape[0] > (1 << 24))
        return ov_tensor_fail(OV_EFORMAT, "%s: %s token_embedding must be [vocab, 64·heads]", ov_weights_path(w),
                              e->tag);
    e->vocab = (int)ti.shape[0];
    e->width = (int)ti.shape[1];
    e->heads = e->width / OV_CLIP_HEAD_DIM;
    e->layers = ov_clip_count_layers(w, layer_prefix);
    if (e->layers < 2)
        return ov_tensor_fail(e->layers ? OV_EFORMAT : OV_ENOENT, "%s: %s needs at least 2 layers (%sN.*), found %d",
                              ov_weights_path(w), e->tag, layer_prefix, e->layers);
    return 0;
}

int ov_clip_count_layers(const ov_weights *w, const char *prefix)
{
    size_t pn = strlen(prefix);
    long max = -1;
    for (size_t i = 0; i < ov_weights_count(w); i++) {
        const char *n = ov_weights_name_at(w, i);
        if (strncmp(n, prefix, pn) != 0)
            continue;
        char *end = NULL;
        long v = strtol(n + pn, &end, 10);
        if (end != n + pn && *end == '.' && v >= 0 && v < 4096 && v > max)
            max = v;
    }
    return (int)(max + 1);
}

int ov_clip_load(ov_weights *w, ov_mem *mem, int dtype, ov_tensor *t, int ndim, int64_t d0, int64_t d1,
                 const char *fmt, ...)
{
    char name[OV_WEIGHTS_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof name)
        return ov_tensor_fail(OV_ERANGE, "sdxl text: tensor name too long");
    int64_t shape[2] = {d0, d1};
    return ov_weights_load(w, mem, name, dtype, ndim, shape, t);
}

void ov_clip_text_free(ov_clip_text *e, ov_mem *mem)
{
    if (!e)
        return;
    for (int l = 0; e->layer && l < e->layers; l++) {
        ov_clip_layer *L = &e->layer[l];
        ov_tensor *own[] = {&L->ln1_w, &L->ln1_b, &L->ln2_w, &L->ln2_b, &L->q_w,       &L->q_b,
                            &L->k_w,   &L->k_b,   &L->v_w,   &L->v_b,   &L->in_proj_w, &L->in_proj_b,
                            &L->out_w, &L->out_b, &L->fc1_w, &L->fc1_b, &L->fc2_w,     &L->fc2_b};
        /* q/k/v of te2 are views (no OV_TENSOR_OWNED): ov_mem_free_tensor leaves them alone */
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
            ov_mem_free_tensor(mem, own[i]);
    }
    free(e->layer);
    ov_mem_free_tensor(mem, &e->tok_emb);
    ov_mem_free_tensor(mem, &e->pos_emb);
    ov_mem_free_tensor(mem, &e->ln_final_w);
    ov_mem_free_tensor(mem, &e->ln_final_b);
    ov_mem_free_tensor(mem, &e->text_proj);
    memset(e, 0, sizeof *e);
}

/* CLIPTextEmbeddings.forward: inputs_embeds + position_embedding(position_ids 0..76)
 * (open_clip: token_embedding(text) + positional_embedding). */
int ov_clip_embed(const ov_clip_text *e, const int32_t *ids, ov_arena *a, ov_tensor *x)
{
    int rc;
    size_t mark = ov_arena_mark(a);
    const int64_t L = OV_CLIP_CTX, W = e->width;
    int64_t s_ids[1] = {L}, s_x2[2] = {L, W};
    ov_tensor tid, x2, pos;
    TRY(ov_arena_tensor(a, &tid, "input_ids", OV_DTYPE_I32, 1, s_ids));
    TRY(ov_tensor_upload(&tid, ids, (size_t)L * sizeof *ids));
    TRY(ov_tensor_reshape(&x2, x, 2, s_x2));
    TRY(ov_op_embedding(&x2, &e->tok_emb, &tid));
    TRY(ov_tensor_slice(&pos, &e->pos_emb, 0, 0, L));
    TRY(ov_op_add(&x2, &x2, &pos));
out:
    ov_arena_release(a, mark);
    return rc;
}

/* CLIPEncoderLayer.forward (open_clip ResidualAttentionBlock.forward):
 *   x = x + out_proj(attn(LN1(x)))   causal, heads of 64, scale 1/8
 *   x = x + fc2(act(fc1(LN2(x))))    act = quick_gelu (te1) or GELU erf (te2) */
int ov_clip_block(const ov_clip_text *e, int l, ov_tensor *x, ov_arena *a)
{
    const ov_clip_layer *B = &e->layer[l];
    const int64_t L = x->shape[1], W = e->width, H = e->heads, D = OV_CLIP_HEAD_DIM;
    const int dt = x->dtype;
    static const int perm[4] = {0, 2, 1, 3};
    int64_t s_x[3] = {1, L, W}, s_4[4] = {1, L, H, D}, s_mlp[3] = {1, L, e->mlp};
    size_t mark = ov_arena_mark(a);
    int rc;
    ov_tensor h, q, k, v, o, q4, k4, v4, qv, kv, vv, ov, o3, f;

    TRY(ov_arena_tensor(a, &h, "hidden_states", dt, 3, s_x));
    TRY(ov_arena_tensor(a, &q, "query_states", dt, 3, s_x));
    TRY(ov_arena_tensor(a, &k, "key_states", dt, 3, s_x));
    TRY(ov_arena_tensor(a, &v, "value_states", dt, 3, s_x));
    TRY(ov_arena_tensor(a, &o, "attn_output", dt, 4, s_4));

    TRY(ov_op_layer_norm(&h, x, &B->ln1_w, &B->ln1_b, OV_CLIP_LN_EPS));
    TRY(ov_op_linear(&q, &h, &B->q_w, &B->q_b));
    TRY(ov_op_linear(&k, &h, &B->k_w, &B->k_b));
    TRY(ov_op_linear(&v, &h, &B->v_w, &B->v_b));
    TRY(ov_tensor_reshape(&q4, &q, 4, s_4));
    TRY(ov_tensor_reshape(&k4, &k, 4, s_4));
    TRY(ov_tensor_reshape(&v4, &v, 4, s_4));
    TRY(ov_tensor_permute(&qv, &q4, perm));
    TRY(ov_tensor_permute(&kv, &k4, perm));
    TRY(ov_tensor_permute(&vv, &v4, perm));
    TRY(ov_tensor_permute(&ov, &o, perm));
    ov_attn_params ap = {.scale = 0.0f, .causal = 1, .q_pos_offset = 0, .bias = NULL};
    TRY(ov_op_attention(&ov, &qv, &kv, &vv, &ap));
    TRY(ov_tensor_reshape(&o3, &o, 3, s_x));
    TRY(ov_op_linear(&h, &o3, &B->out_w, &B->out_b));
    TRY(ov_op_add(x, x, &h));

    /* the attention scratch is dead: reuse the space for the MLP */
    ov_arena_release(a, mark);
    TRY(ov_arena_tensor(a, &h, "hidden_states", dt, 3, s_x));
    TRY(ov_arena_tensor(a, &f, "mlp_hidden", dt, 3, s_mlp));
    TRY(ov_op_layer_norm(&h, x, &B->ln2_w, &B->ln2_b, OV_CLIP_LN_EPS));
    TRY(ov_op_linear(&f, &h, &B->fc1_w, &B->fc1_b));
    TRY(ov_op_gelu(&f, &f, e->act));
    TRY(ov_op_linear(&h, &f, &B->fc2_w, &B->fc2_b));
    TRY(ov_op_add(x, x, &h));
out:
    ov_arena_release(a, mark);
    return rc;
}

/* open_clip TextTransformer.forward tail: x = ln_final(x); pooled = x[eos] @ text_projection,
 * eos = text.argmax(-1) (text_global_pool 'argmax'). Only the EOS row is normalised (LayerNorm
 * is per row, so the result is the same). */
int ov_clip_pool(const ov_clip_text *e, const ov_tensor *x, int64_t eos, ov_arena *a, ov_tensor *pooled)
{
    int rc;
    size_t mark = ov_arena_mark(a);
    const int64_t W = e->width;
    int64_t s_row[3] = {1, 1, W}, s_p3[3] = {1, 1, e->proj}, s_w3[3] = {1, W, e->proj};
    ov_tensor row, nrow, p3, proj3;
    TRY(ov_tensor_slice(&row, x, 1, eos, 1));
    TRY(ov_arena_tensor(a, &nrow, "pooled_ln", x->dtype, 3, s_row));
    TRY(ov_op_layer_norm(&nrow, &row, &e->ln_final_w, &e->ln_final_b, OV_CLIP_LN_EPS));
    TRY(ov_tensor_reshape(&p3, pooled, 3, s_p3));
    TRY(ov_tensor_reshape(&proj3, &e->text_proj, 3, s_w3));
    TRY(ov_op_matmul(&p3, &nrow, &proj3, 0, 0, 1.0f));
out:
    ov_arena_release(a, mark);
    return rc;
}
