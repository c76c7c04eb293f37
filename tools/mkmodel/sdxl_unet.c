/* SDXL UNet tensors for ourvidz-mkmodel: the sgm openaimodel layout under model.diffusion_model.
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/openaimodel.py (UNetModel
 * __init__: input_blocks / middle_block / output_blocks, ResBlock, Downsample, Upsample) and
 * sgm/modules/attention.py (SpatialTransformer with use_linear, BasicTransformerBlock, GEGLU). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

#define P "model.diffusion_model."

typedef struct unet_cfg {
    int64_t mc;         /* model_channels */
    int n_levels;       /* len(channel_mult) */
    int mult[4];        /* channel_mult */
    int depth[4];       /* transformer depth per level (0 = no SpatialTransformer) */
    int mid_depth;      /* middle block transformer depth */
    int num_res_blocks; /* per level */
    int64_t in_ch, out_ch;
    int64_t context_dim;
    int64_t adm_in;
    int64_t ted; /* time_embed_dim = 4 · model_channels */
} unet_cfg;

static float inv_sqrt(int64_t fan_in)
{
    return 1.0f / sqrtf((float)fan_in);
}

/* Linear [out, in] with bias. */
static int lin(ov_mk_list *l, int64_t out, int64_t in, int bias, const char *name)
{
    int rc = ov_mk_weight(l, inv_sqrt(in), out, in, 0, 0, "%s.weight", name);
    if (!rc && bias)
        rc = ov_mk_bias(l, out, "%s.bias", name);
    return rc;
}

/* Conv [out, in, k, k] with bias. */
static int conv(ov_mk_list *l, int64_t out, int64_t in, int64_t k, const char *name)
{
    int rc = ov_mk_weight(l, inv_sqrt(in * k * k), out, in, k, k, "%s.weight", name);
    if (!rc)
        rc = ov_mk_bias(l, out, "%s.bias", name);
    return rc;
}

/* GroupNorm / LayerNorm affine [C]. */
static int norm(ov_mk_list *l, int64_t c, const char *name)
{
    int rc = ov_mk_gain(l, c, "%s.weight", name);
    if (!rc)
        rc = ov_mk_bias(l, c, "%s.bias", name);
    return rc;
}

static int join(char *dst, size_t cap, const char *a, const char *b)
{
    int k = snprintf(dst, cap, "%s%s", a, b);
    return k < 0 || (size_t)k >= cap ? OV_ERANGE : 0;
}

/* openaimodel.ResBlock: in_layers (GN, SiLU, conv3), emb_layers (SiLU, Linear), out_layers (GN,
 * SiLU, Dropout, conv3), skip_connection (1×1 conv) when the width changes. */
static int res_block(ov_mk_list *l, const unet_cfg *c, const char *pre, int64_t cin, int64_t cout)
{
    char n[OV_MK_NAME_MAX];
    int rc = 0;
    if (!rc && !(rc = join(n, sizeof n, pre, "in_layers.0")))
        rc = norm(l, cin, n);
    if (!rc && !(rc = join(n, sizeof n, pre, "in_layers.2")))
        rc = conv(l, cout, cin, 3, n);
    if (!rc && !(rc = join(n, sizeof n, pre, "emb_layers.1")))
        rc = lin(l, cout, c->ted, 1, n);
    if (!rc && !(rc = join(n, sizeof n, pre, "out_layers.0")))
        rc = norm(l, cout, n);
    if (!rc && !(rc = join(n, sizeof n, pre, "out_layers.3")))
        rc = conv(l, cout, cout, 3, n);
    if (!rc && cin != cout && !(rc = join(n, sizeof n, pre, "skip_connection")))
        rc = conv(l, cout, cin, 1, n);
    return rc;
}

/* attention.SpatialTransformer (use_linear): norm (GN), proj_in, transformer_blocks.* , proj_out. */
static int spatial_transformer(ov_mk_list *l, const unet_cfg *c, const char *pre, int64_t ch, int depth)
{
    char n[OV_MK_NAME_MAX], b[OV_MK_NAME_MAX];
    int rc = 0;
    if (!rc && !(rc = join(n, sizeof n, pre, "norm")))
        rc = norm(l, ch, n);
    if (!rc && !(rc = join(n, sizeof n, pre, "proj_in")))
        rc = lin(l, ch, ch, 1, n);
    for (int d = 0; !rc && d < depth; d++) {
        static const char *const attn_parts[] = {"to_q", "to_k", "to_v"};
        int k = snprintf(b, sizeof b, "%stransformer_blocks.%d.", pre, d);
        if (k < 0 || (size_t)k >= sizeof b) {
            rc = OV_ERANGE;
            break;
        }
        for (int a = 1; !rc && a <= 2; a++) {
            for (int q = 0; !rc && q < 3; q++) {
                rc = ov_mk_weight(l, inv_sqrt(q == 0 || a == 1 ? ch : c->context_dim), ch,
                                  q == 0 || a == 1 ? ch : c->context_dim, 0, 0, "%sattn%d.%s.weight", b, a,
                                  attn_parts[q]);
            }
            if (!rc)
                rc = ov_mk_weight(l, inv_sqrt(ch), ch, ch, 0, 0, "%sattn%d.to_out.0.weight", b, a);
            if (!rc)
                rc = ov_mk_bias(l, ch, "%sattn%d.to_out.0.bias", b, a);
        }
        if (!rc && !(rc = join(n, sizeof n, b, "ff.net.0.proj")))
            rc = lin(l, 8 * ch, ch, 1, n); /* GEGLU: 2 × inner (inner = 4·ch) */
        if (!rc && !(rc = join(n, sizeof n, b, "ff.net.2")))
            rc = lin(l, ch, 4 * ch, 1, n);
        for (int i = 1; !rc && i <= 3; i++) {
            int m = snprintf(n, sizeof n, "%snorm%d", b, i);
            rc = m < 0 || (size_t)m >= sizeof n ? OV_ERANGE : norm(l, ch, n);
        }
    }
    if (!rc && !(rc = join(n, sizeof n, pre, "proj_out")))
        rc = lin(l, ch, ch, 1, n);
    return rc;
}

static int block_prefix(char *dst, size_t cap, const char *group, int idx, int sub)
{
    int k = snprintf(dst, cap, P "%s%d.%d.", group, idx, sub);
    return k < 0 || (size_t)k >= cap ? OV_ERANGE : 0;
}

static int unet_list(ov_mk_list *l, const unet_cfg *c)
{
    char pre[OV_MK_NAME_MAX], n[OV_MK_NAME_MAX];
    int rc = 0;
    /* time_embed = Sequential(Linear(mc, ted), SiLU, Linear(ted, ted)); label_emb =
     * Sequential(Sequential(Linear(adm, ted), SiLU, Linear(ted, ted))) ("sequential" num_classes). */
    rc = lin(l, c->ted, c->mc, 1, P "time_embed.0");
    if (!rc)
        rc = lin(l, c->ted, c->ted, 1, P "time_embed.2");
    if (!rc)
        rc = lin(l, c->ted, c->adm_in, 1, P "label_emb.0.0");
    if (!rc)
        rc = lin(l, c->ted, c->ted, 1, P "label_emb.0.2");
    if (!rc)
        rc = conv(l, c->mc, c->in_ch, 3, P "input_blocks.0.0");

    int64_t chans[32];
    int n_chans = 0, blk = 1;
    int64_t ch = c->mc;
    chans[n_chans++] = ch;
    for (int lv = 0; !rc && lv < c->n_levels; lv++) {
        int64_t cout = c->mc * c->mult[lv];
        for (int r = 0; !rc && r < c->num_res_blocks; r++, blk++) {
            if (!(rc = block_prefix(pre, sizeof pre, "input_blocks.", blk, 0)))
                rc = res_block(l, c, pre, ch, cout);
            ch = cout;
            if (!rc && c->depth[lv] > 0 && !(rc = block_prefix(pre, sizeof pre, "input_blocks.", blk, 1)))
                rc = spatial_transformer(l, c, pre, ch, c->depth[lv]);
            chans[n_chans++] = ch;
        }
        if (!rc && lv + 1 < c->n_levels) {
            /* Downsample: conv 3×3 stride 2 pad 1 named op */
            if (!(rc = block_prefix(pre, sizeof pre, "input_blocks.", blk, 0)) &&
                !(rc = join(n, sizeof n, pre, "op")))
                rc = conv(l, ch, ch, 3, n);
            chans[n_chans++] = ch;
            blk++;
        }
    }
    if (!rc)
        rc = res_block(l, c, P "middle_block.0.", ch, ch);
    if (!rc)
        rc = spatial_transformer(l, c, P "middle_block.1.", ch, c->mid_depth);
    if (!rc)
        rc = res_block(l, c, P "middle_block.2.", ch, ch);

    blk = 0;
    for (int lv = c->n_levels - 1; !rc && lv >= 0; lv--) {
        int64_t cout = c->mc * c->mult[lv];
        for (int r = 0; !rc && r <= c->num_res_blocks; r++, blk++) {
            int64_t skip = chans[--n_chans];
            if (!(rc = block_prefix(pre, sizeof pre, "output_blocks.", blk, 0)))
                rc = res_block(l, c, pre, ch + skip, cout);
            ch = cout;
            int sub = 1;
            if (!rc && c->depth[lv] > 0 &&
                !(rc = block_prefix(pre, sizeof pre, "output_blocks.", blk, sub++)))
                rc = spatial_transformer(l, c, pre, ch, c->depth[lv]);
            if (!rc && lv > 0 && r == c->num_res_blocks) {
                /* Upsample: nearest ×2 then conv 3×3 pad 1 named conv */
                if (!(rc = block_prefix(pre, sizeof pre, "output_blocks.", blk, sub)) &&
                    !(rc = join(n, sizeof n, pre, "conv")))
                    rc = conv(l, ch, ch, 3, n);
            }
        }
    }
    /* out = Sequential(GroupNorm32, SiLU, conv3) */
    if (!rc)
        rc = norm(l, ch, P "out.0");
    if (!rc)
        rc = conv(l, c->out_ch, ch, 3, P "out.2");
    return rc;
}

/* tiny: mc 64, mult (1,2,4), depths (0,1,2), mid 2, context 256, adm 320.
 * full: SDXL base — mc 320, mult (1,2,4), depths (0,2,10), mid 10, context 2048, adm 2816. */
int ov_mk_sdxl_unet(ov_mk_list *l, const char *preset)
{
    unet_cfg c = {.n_levels = 3, .mult = {1, 2, 4}, .num_res_blocks = 2, .in_ch = 4, .out_ch = 4};
    if (strcmp(preset, "tiny") == 0) {
        c.mc = 64;
        c.depth[1] = 1;
        c.depth[2] = 2;
        c.mid_depth = 2;
        c.context_dim = 256;
        c.adm_in = 320;
    } else if (strcmp(preset, "full") == 0) {
        c.mc = 320;
        c.depth[1] = 2;
        c.depth[2] = 10;
        c.mid_depth = 10;
        c.context_dim = 2048;
        c.adm_in = 2816;
    } else {
        return OV_EINVAL;
    }
    c.ted = 4 * c.mc;
    return unet_list(l, &c);
}
