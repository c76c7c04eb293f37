/* SDXL UNet blocks: ResBlock and SpatialTransformer (BasicTransformerBlock, GEGLU feed-forward).
 * Every activation is in the dtype of the block's input (the backend's act dtype: f32 on the CPU,
 * bf16 on CUDA); weights are converted by the ops.
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/openaimodel.py
 * (ResBlock._forward) and sgm/modules/attention.py (SpatialTransformer.forward with use_linear,
 * BasicTransformerBlock._forward, CrossAttention, FeedForward/GEGLU). */
#include "common/error.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/unet_internal.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto done;                                                                                       \
    } while (0)

static const ov_conv2d_params CONV3 = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .groups = 1};
static const ov_conv2d_params CONV1 = {.stride_h = 1, .stride_w = 1, .groups = 1};

/* ResBlock._forward (use_scale_shift_norm False, no up/down):
 *   h = in_layers(x)                      GroupNorm32 → SiLU → conv3×3
 *   h = h + emb_layers(emb)[..., None, None]   (SiLU(emb) is passed in, shared by every block)
 *   h = out_layers(h)                     GroupNorm32 → SiLU → (dropout) → conv3×3
 *   y = skip_connection(x) + h            identity or 1×1 conv */
int ov_unet_res_forward(const unet_res *r, ov_arena *a, const ov_tensor *x, const ov_tensor *emb_act,
                        ov_tensor *y)
{
    size_t mark = ov_arena_mark(a);
    int rc;
    int64_t B = x->shape[0], H = x->shape[2], W = x->shape[3];
    const int ad = x->dtype; /* the activation dtype (the backend's; ov_sdxl_unet_forward) */
    ov_tensor t_in, h, e, e4;
    TRY(ov_arena_tensor(a, &t_in, "res.in_layers", ad, 4, (int64_t[]){B, r->cin, H, W}));
    TRY(ov_op_group_norm_silu(&t_in, x, OV_UNET_GN_GROUPS, &r->in_norm_w, &r->in_norm_b, OV_UNET_GN_EPS));
    TRY(ov_arena_tensor(a, &h, "res.h", ad, 4, (int64_t[]){B, r->cout, H, W}));
    TRY(ov_op_conv2d(&h, &t_in, &r->in_conv_w, &r->in_conv_b, &CONV3));

    TRY(ov_arena_tensor(a, &e, "res.emb_out", ad, 2, (int64_t[]){B, r->cout}));
    TRY(ov_op_linear(&e, emb_act, &r->emb_w, &r->emb_b));
    TRY(ov_tensor_reshape(&e4, &e, 4, (int64_t[]){B, r->cout, 1, 1}));
    TRY(ov_op_add(&h, &h, &e4));

    TRY(ov_op_group_norm_silu(&h, &h, OV_UNET_GN_GROUPS, &r->out_norm_w, &r->out_norm_b, OV_UNET_GN_EPS));
    TRY(ov_op_conv2d(y, &h, &r->out_conv_w, &r->out_conv_b, &CONV3));

    if (r->has_skip) {
        ov_tensor s;
        TRY(ov_arena_tensor(a, &s, "res.skip", ad, 4, (int64_t[]){B, r->cout, H, W}));
        TRY(ov_op_conv2d(&s, x, &r->skip_w, &r->skip_b, &CONV1));
        TRY(ov_op_add(y, y, &s));
    } else {
        TRY(ov_op_add(y, y, x));
    }
done:
    ov_arena_release(a, mark);
    return rc;
}

/* CrossAttention.forward: q = to_q(x), k = to_k(ctx), v = to_v(ctx), heads of 64, softmax(q·kᵀ/8)·v,
 * to_out.0; the result is added to h (the block's residual) by to_out.0 itself (ov_op_linear_add).
 * xn [B, L, C], ctx [B, Lk, Cctx]. */
static int attn_forward(const unet_attn *at, ov_arena *a, ov_tensor *h, const ov_tensor *xn,
                        const ov_tensor *ctx)
{
    size_t mark = ov_arena_mark(a);
    int rc;
    int64_t B = xn->shape[0], L = xn->shape[1], C = h->shape[2], Lk = ctx->shape[1];
    int64_t heads = C / OV_UNET_HEAD_DIM;
    const int ad = xn->dtype;
    static const int perm[4] = {0, 2, 1, 3};
    ov_tensor q, k, v, o, t, qv, kv, vv, ov;
    TRY(ov_arena_tensor(a, &q, "attn.q", ad, 3, (int64_t[]){B, L, C}));
    TRY(ov_arena_tensor(a, &k, "attn.k", ad, 3, (int64_t[]){B, Lk, C}));
    TRY(ov_arena_tensor(a, &v, "attn.v", ad, 3, (int64_t[]){B, Lk, C}));
    TRY(ov_arena_tensor(a, &o, "attn.o", ad, 3, (int64_t[]){B, L, C}));
    TRY(ov_op_linear(&q, xn, &at->to_q, NULL));
    TRY(ov_op_linear(&k, ctx, &at->to_k, NULL));
    TRY(ov_op_linear(&v, ctx, &at->to_v, NULL));
    /* [B, L, H·D] viewed as [B, L, H, D], permuted to SDPA's [B, H, L, D] without copies */
    TRY(ov_tensor_reshape(&t, &q, 4, (int64_t[]){B, L, heads, OV_UNET_HEAD_DIM}));
    TRY(ov_tensor_permute(&qv, &t, perm));
    TRY(ov_tensor_reshape(&t, &k, 4, (int64_t[]){B, Lk, heads, OV_UNET_HEAD_DIM}));
    TRY(ov_tensor_permute(&kv, &t, perm));
    TRY(ov_tensor_reshape(&t, &v, 4, (int64_t[]){B, Lk, heads, OV_UNET_HEAD_DIM}));
    TRY(ov_tensor_permute(&vv, &t, perm));
    TRY(ov_tensor_reshape(&t, &o, 4, (int64_t[]){B, L, heads, OV_UNET_HEAD_DIM}));
    TRY(ov_tensor_permute(&ov, &t, perm));
    TRY(ov_op_attention(&ov, &qv, &kv, &vv, NULL));
    /* to_out.0 (Linear with bias; to_out.1 is dropout) added to the residual h in place */
    TRY(ov_op_linear_add(h, &o, &at->to_out_w, &at->to_out_b, h));
done:
    ov_arena_release(a, mark);
    return rc;
}

/* BasicTransformerBlock._forward (disable_self_attn False):
 *   x = attn1(norm1(x)) + x;  x = attn2(norm2(x), context) + x;  x = ff(norm3(x)) + x
 * FeedForward(glu=True): GEGLU proj (ff.net.0.proj) → h·GELU(gate) → ff.net.2. */
static int tblock_forward(const unet_tblock *tb, ov_arena *a, ov_tensor *h, const ov_tensor *context)
{
    size_t mark = ov_arena_mark(a);
    int rc;
    int64_t B = h->shape[0], L = h->shape[1], C = h->shape[2];
    int64_t inner = tb->ff_out_w.shape[1];
    const int ad = h->dtype;
    ov_tensor n, p, g;
    TRY(ov_arena_tensor(a, &n, "tblock.norm", ad, 3, (int64_t[]){B, L, C}));

    TRY(ov_op_layer_norm(&n, h, &tb->norm1_w, &tb->norm1_b, OV_UNET_LN_EPS));
    TRY(attn_forward(&tb->attn1, a, h, &n, &n));
    TRY(ov_op_layer_norm(&n, h, &tb->norm2_w, &tb->norm2_b, OV_UNET_LN_EPS));
    TRY(attn_forward(&tb->attn2, a, h, &n, context));

    TRY(ov_op_layer_norm(&n, h, &tb->norm3_w, &tb->norm3_b, OV_UNET_LN_EPS));
    TRY(ov_arena_tensor(a, &p, "ff.proj", ad, 3, (int64_t[]){B, L, 2 * inner}));
    TRY(ov_op_linear(&p, &n, &tb->ff_in_w, &tb->ff_in_b));
    TRY(ov_arena_tensor(a, &g, "ff.geglu", ad, 3, (int64_t[]){B, L, inner}));
    TRY(ov_op_geglu(&g, &p));
    TRY(ov_op_linear_add(h, &g, &tb->ff_out_w, &tb->ff_out_b, h)); /* ff.net.2 + x */
done:
    ov_arena_release(a, mark);
    return rc;
}

/* SpatialTransformer.forward (use_linear):
 *   x_in = x;  x = norm(x);  x = rearrange(x, "b c h w -> b (h w) c");  x = proj_in(x)
 *   for block in transformer_blocks: x = block(x, context)
 *   x = proj_out(x);  x = rearrange(x, "b (h w) c -> b c h w");  return x + x_in
 * Runs in place on x. */
int ov_unet_st_forward(const unet_st *s, ov_arena *a, ov_tensor *x, const ov_tensor *context)
{
    size_t mark = ov_arena_mark(a);
    int rc;
    int64_t B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], L = H * W;
    static const int to_tokens[4] = {0, 2, 3, 1}; /* [B, C, H, W] -> [B, H, W, C] */
    static const int to_image[4] = {0, 3, 1, 2};  /* [B, H, W, C] -> [B, C, H, W] */
    const int ad = x->dtype;
    ov_tensor gn, perm, tok4, tok, h, tv;
    TRY(ov_arena_tensor(a, &gn, "st.norm", ad, 4, (int64_t[]){B, C, H, W}));
    TRY(ov_op_group_norm(&gn, x, OV_UNET_GN_GROUPS, &s->norm_w, &s->norm_b, OV_UNET_ST_GN_EPS));
    TRY(ov_tensor_permute(&perm, &gn, to_tokens));
    TRY(ov_arena_tensor(a, &tok4, "st.tokens", ad, 4, (int64_t[]){B, H, W, C}));
    TRY(ov_op_copy(&tok4, &perm));
    TRY(ov_tensor_reshape(&tok, &tok4, 3, (int64_t[]){B, L, C}));
    TRY(ov_arena_tensor(a, &h, "st.h", ad, 3, (int64_t[]){B, L, C}));
    TRY(ov_op_linear(&h, &tok, &s->proj_in_w, &s->proj_in_b));
    for (int d = 0; d < s->depth; d++)
        TRY(tblock_forward(&s->blocks[d], a, &h, context));
    TRY(ov_op_linear(&tok, &h, &s->proj_out_w, &s->proj_out_b));
    TRY(ov_tensor_reshape(&tv, &tok, 4, (int64_t[]){B, H, W, C}));
    TRY(ov_tensor_permute(&perm, &tv, to_image));
    /* back to [B, C, H, W] in gn's bytes (free again) by a copy, then a dense add: a backend's
     * transposing copy reads and writes whole lines, an add through the permuted view does not */
    TRY(ov_op_copy(&gn, &perm));
    TRY(ov_op_add(x, x, &gn));
done:
    ov_arena_release(a, mark);
    return rc;
}
