/* SDXL UNet: structure from tensor names/shapes, weight loading, and the forward pass.
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/openaimodel.py
 * (UNetModel.__init__ block layout, UNetModel.forward, timestep_embedding in
 * sgm/modules/diffusionmodules/util.py); blocks in unet_blocks.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/unet_internal.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto done;                                                                                       \
    } while (0)

/* ---- loading ---- */

typedef struct unet_loader {
    ov_sdxl_unet *u;
    ov_weights *w;
    ov_mem *mem;
    int weight_dtype;
} unet_loader;

static int own(ov_sdxl_unet *u, ov_tensor *t)
{
    if (u->n_owned == u->cap_owned) {
        size_t cap = u->cap_owned ? 2 * u->cap_owned : 256;
        ov_tensor **v = realloc(u->owned, cap * sizeof *v);
        if (!v)
            return ov_tensor_fail(OV_ENOMEM, "sdxl unet: out of memory");
        u->owned = v;
        u->cap_owned = cap;
    }
    u->owned[u->n_owned++] = t;
    return 0;
}

static int vname(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static int vname(char *buf, size_t cap, const char *fmt, va_list ap)
{
    int k = snprintf(buf, cap, "unet.");
    int m = vsnprintf(buf + k, cap - (size_t)k, fmt, ap);
    if (m < 0 || (size_t)(k + m) >= cap)
        return ov_tensor_fail(OV_ERANGE, "sdxl unet: tensor name too long");
    return 0;
}

/* Load canonical "unet." + name with the expected shape. is_weight: a GEMM/conv operand (kept in
 * the caller's weight dtype); otherwise a norm gain or bias (f32). */
static int load(unet_loader *L, ov_tensor *t, int is_weight, int ndim, const int64_t *shape, const char *fmt,
                ...) __attribute__((format(printf, 6, 7)));
static int load(unet_loader *L, ov_tensor *t, int is_weight, int ndim, const int64_t *shape, const char *fmt,
                ...)
{
    char name[OV_WEIGHTS_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(name, sizeof name, fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    rc = ov_weights_load(L->w, L->mem, name, is_weight ? L->weight_dtype : OV_DTYPE_F32, ndim, shape, t);
    if (!rc)
        rc = own(L->u, t);
    if (!rc)
        L->u->info.weight_bytes += (int64_t)ov_tensor_nbytes(t);
    return rc;
}

/* Shape of "unet." + name as stored (for the dims the structure is derived from). */
static int shape_of(unet_loader *L, ov_weight_info *wi, int want_ndim, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int shape_of(unet_loader *L, ov_weight_info *wi, int want_ndim, const char *fmt, ...)
{
    char name[OV_WEIGHTS_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(name, sizeof name, fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    if ((rc = ov_weights_info(L->w, name, wi)) != 0)
        return ov_tensor_fail(rc, "%s: tensor %s not found (SDXL UNet)", ov_weights_path(L->w), name);
    if (wi->ndim != want_ndim)
        return ov_tensor_fail(OV_EFORMAT, "%s: %s has %d dims, the SDXL UNet needs %d", ov_weights_path(L->w),
                              name, wi->ndim, want_ndim);
    return 0;
}

#define V1(a)                                                                                                \
    1, (const int64_t[])                                                                                     \
    {                                                                                                        \
        a                                                                                                    \
    }
#define V2(a, b)                                                                                             \
    2, (const int64_t[])                                                                                     \
    {                                                                                                        \
        a, b                                                                                                 \
    }
#define V4(a, b, c, d)                                                                                       \
    4, (const int64_t[])                                                                                     \
    {                                                                                                        \
        a, b, c, d                                                                                           \
    }

static int check_groups(unet_loader *L, const char *pre, int64_t c)
{
    if (c <= 0 || c % OV_UNET_GN_GROUPS)
        return ov_tensor_fail(OV_EFORMAT, "%s: unet.%s width %lld is not a multiple of %d (GroupNorm32)",
                              ov_weights_path(L->w), pre, (long long)c, OV_UNET_GN_GROUPS);
    return 0;
}

/* ResBlock at prefix pre ("input_blocks.4.0"): cin from the chain, cout from in_layers.2. */
static int load_res(unet_loader *L, unet_res *r, const char *pre, int64_t cin)
{
    ov_weight_info wi;
    int64_t ted = L->u->info.time_embed_dim;
    int rc = shape_of(L, &wi, 4, "%s.in_layers.2.weight", pre);
    if (rc)
        return rc;
    int64_t cout = wi.shape[0];
    r->cin = cin;
    r->cout = cout;
    if ((rc = check_groups(L, pre, cin)) || (rc = check_groups(L, pre, cout)))
        return rc;
    if ((rc = load(L, &r->in_norm_w, 0, V1(cin), "%s.in_layers.0.weight", pre)) ||
        (rc = load(L, &r->in_norm_b, 0, V1(cin), "%s.in_layers.0.bias", pre)) ||
        (rc = load(L, &r->in_conv_w, 1, V4(cout, cin, 3, 3), "%s.in_layers.2.weight", pre)) ||
        (rc = load(L, &r->in_conv_b, 0, V1(cout), "%s.in_layers.2.bias", pre)) ||
        (rc = load(L, &r->emb_w, 1, V2(cout, ted), "%s.emb_layers.1.weight", pre)) ||
        (rc = load(L, &r->emb_b, 0, V1(cout), "%s.emb_layers.1.bias", pre)) ||
        (rc = load(L, &r->out_norm_w, 0, V1(cout), "%s.out_layers.0.weight", pre)) ||
        (rc = load(L, &r->out_norm_b, 0, V1(cout), "%s.out_layers.0.bias", pre)) ||
        (rc = load(L, &r->out_conv_w, 1, V4(cout, cout, 3, 3), "%s.out_layers.3.weight", pre)) ||
        (rc = load(L, &r->out_conv_b, 0, V1(cout), "%s.out_layers.3.bias", pre)))
        return rc;
    r->has_skip = cin != cout;
    if (r->has_skip &&
        ((rc = load(L, &r->skip_w, 1, V4(cout, cin, 1, 1), "%s.skip_connection.weight", pre)) ||
         (rc = load(L, &r->skip_b, 0, V1(cout), "%s.skip_connection.bias", pre))))
        return rc;
    return 0;
}

static int load_attn(unet_loader *L, unet_attn *at, const char *pre, int64_t ch, int64_t kv_dim)
{
    int rc;
    if ((rc = load(L, &at->to_q, 1, V2(ch, ch), "%s.to_q.weight", pre)) ||
        (rc = load(L, &at->to_k, 1, V2(ch, kv_dim), "%s.to_k.weight", pre)) ||
        (rc = load(L, &at->to_v, 1, V2(ch, kv_dim), "%s.to_v.weight", pre)) ||
        (rc = load(L, &at->to_out_w, 1, V2(ch, ch), "%s.to_out.0.weight", pre)) ||
        (rc = load(L, &at->to_out_b, 0, V1(ch), "%s.to_out.0.bias", pre)))
        return rc;
    return 0;
}

/* SpatialTransformer at prefix pre with `depth` transformer blocks (counted from the names). */
static int load_st(unet_loader *L, unet_st *s, const char *pre, int64_t ch, int depth)
{
    ov_sdxl_unet_info *info = &L->u->info;
    int rc;
    s->ch = ch;
    s->depth = depth;
    if (ch % OV_UNET_HEAD_DIM)
        return ov_tensor_fail(OV_EFORMAT, "%s: unet.%s width %lld is not a multiple of the head size %d",
                              ov_weights_path(L->w), pre, (long long)ch, OV_UNET_HEAD_DIM);
    if ((rc = check_groups(L, pre, ch)))
        return rc;
    if (info->context_dim == 0) {
        ov_weight_info wi;
        if ((rc = shape_of(L, &wi, 2, "%s.transformer_blocks.0.attn2.to_k.weight", pre)))
            return rc;
        info->context_dim = (int)wi.shape[1];
    }
    if ((rc = load(L, &s->norm_w, 0, V1(ch), "%s.norm.weight", pre)) ||
        (rc = load(L, &s->norm_b, 0, V1(ch), "%s.norm.bias", pre)) ||
        (rc = load(L, &s->proj_in_w, 1, V2(ch, ch), "%s.proj_in.weight", pre)) ||
        (rc = load(L, &s->proj_in_b, 0, V1(ch), "%s.proj_in.bias", pre)) ||
        (rc = load(L, &s->proj_out_w, 1, V2(ch, ch), "%s.proj_out.weight", pre)) ||
        (rc = load(L, &s->proj_out_b, 0, V1(ch), "%s.proj_out.bias", pre)))
        return rc;
    s->blocks = calloc((size_t)depth, sizeof *s->blocks);
    if (!s->blocks)
        return ov_tensor_fail(OV_ENOMEM, "sdxl unet: out of memory");
    for (int d = 0; d < depth; d++) {
        unet_tblock *tb = &s->blocks[d];
        char bp[160], ap[192];
        snprintf(bp, sizeof bp, "%s.transformer_blocks.%d", pre, d);
        if ((rc = load(L, &tb->norm1_w, 0, V1(ch), "%s.norm1.weight", bp)) ||
            (rc = load(L, &tb->norm1_b, 0, V1(ch), "%s.norm1.bias", bp)) ||
            (rc = load(L, &tb->norm2_w, 0, V1(ch), "%s.norm2.weight", bp)) ||
            (rc = load(L, &tb->norm2_b, 0, V1(ch), "%s.norm2.bias", bp)) ||
            (rc = load(L, &tb->norm3_w, 0, V1(ch), "%s.norm3.weight", bp)) ||
            (rc = load(L, &tb->norm3_b, 0, V1(ch), "%s.norm3.bias", bp)) ||
            (rc = load(L, &tb->ff_in_w, 1, V2(8 * ch, ch), "%s.ff.net.0.proj.weight", bp)) ||
            (rc = load(L, &tb->ff_in_b, 0, V1(8 * ch), "%s.ff.net.0.proj.bias", bp)) ||
            (rc = load(L, &tb->ff_out_w, 1, V2(ch, 4 * ch), "%s.ff.net.2.weight", bp)) ||
            (rc = load(L, &tb->ff_out_b, 0, V1(ch), "%s.ff.net.2.bias", bp)))
            return rc;
        snprintf(ap, sizeof ap, "%s.attn1", bp);
        if ((rc = load_attn(L, &tb->attn1, ap, ch, ch)))
            return rc;
        snprintf(ap, sizeof ap, "%s.attn2", bp);
        if ((rc = load_attn(L, &tb->attn2, ap, ch, info->context_dim)))
            return rc;
    }
    return 0;
}

/* What the names say about input_blocks.k / output_blocks.k / middle_block. */
typedef struct unet_scan {
    int n_in, n_out;
    unsigned char in_present[OV_UNET_MAX_BLOCKS], in_down[OV_UNET_MAX_BLOCKS], in_st[OV_UNET_MAX_BLOCKS];
    unsigned char out_present[OV_UNET_MAX_BLOCKS], out_st[OV_UNET_MAX_BLOCKS], out_up[OV_UNET_MAX_BLOCKS];
    int in_depth[OV_UNET_MAX_BLOCKS], out_depth[OV_UNET_MAX_BLOCKS], out_up_sub[OV_UNET_MAX_BLOCKS];
    int mid_depth;
    int n_unet;
} unet_scan;

/* Parse a non-negative decimal at *p (advancing it); -1 if none or too large. */
static int parse_index(const char **p)
{
    const char *s = *p;
    long v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > 100000)
            return -1;
    }
    *p = s;
    return (int)v;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* rest = "transformer_blocks.<d>...": depth seen so far, raised to d + 1. */
static void note_depth(const char *rest, int *depth)
{
    if (!starts(rest, "transformer_blocks."))
        return;
    rest += strlen("transformer_blocks.");
    int d = parse_index(&rest);
    if (d >= 0 && d + 1 > *depth)
        *depth = d + 1;
}

static int scan_names(unet_loader *L, unet_scan *sc)
{
    memset(sc, 0, sizeof *sc);
    size_t n = ov_weights_count(L->w);
    for (size_t i = 0; i < n; i++) {
        const char *nm = ov_weights_name_at(L->w, i);
        if (!starts(nm, "unet."))
            continue;
        sc->n_unet++;
        nm += 5;
        int is_in = starts(nm, "input_blocks."), is_out = starts(nm, "output_blocks.");
        if (starts(nm, "middle_block.1.")) {
            note_depth(nm + strlen("middle_block.1."), &sc->mid_depth);
            continue;
        }
        if (!is_in && !is_out)
            continue;
        const char *p = nm + (is_in ? strlen("input_blocks.") : strlen("output_blocks."));
        int k = parse_index(&p), sub = -1;
        if (k >= 0 && *p == '.') {
            p++;
            sub = parse_index(&p);
        }
        if (k < 0 || sub < 0 || *p != '.')
            return ov_tensor_fail(OV_EFORMAT, "%s: unexpected SDXL UNet tensor name unet.%s",
                                  ov_weights_path(L->w), nm);
        if (k >= OV_UNET_MAX_BLOCKS)
            return ov_tensor_fail(OV_EFORMAT, "%s: unet.%s: more than %d blocks", ov_weights_path(L->w), nm,
                                  OV_UNET_MAX_BLOCKS);
        const char *rest = p + 1;
        if (is_in) {
            sc->in_present[k] = 1;
            if (k + 1 > sc->n_in)
                sc->n_in = k + 1;
            if (sub == 0 && starts(rest, "op."))
                sc->in_down[k] = 1;
            if (sub == 1) {
                sc->in_st[k] = 1;
                note_depth(rest, &sc->in_depth[k]);
            }
        } else {
            sc->out_present[k] = 1;
            if (k + 1 > sc->n_out)
                sc->n_out = k + 1;
            if (sub >= 1 && starts(rest, "conv.")) {
                sc->out_up[k] = 1;
                sc->out_up_sub[k] = sub;
            } else if (sub == 1) {
                sc->out_st[k] = 1;
                note_depth(rest, &sc->out_depth[k]);
            }
        }
    }
    if (sc->n_unet == 0)
        return ov_tensor_fail(OV_ENOENT, "%s: no SDXL UNet tensors (model.diffusion_model.*)",
                              ov_weights_path(L->w));
    for (int k = 0; k < sc->n_in; k++)
        if (!sc->in_present[k])
            return ov_tensor_fail(OV_EFORMAT, "%s: unet.input_blocks.%d is missing", ov_weights_path(L->w),
                                  k);
    for (int k = 0; k < sc->n_out; k++)
        if (!sc->out_present[k])
            return ov_tensor_fail(OV_EFORMAT, "%s: unet.output_blocks.%d is missing", ov_weights_path(L->w),
                                  k);
    if (sc->n_in < 2 || sc->n_out != sc->n_in)
        return ov_tensor_fail(OV_EFORMAT,
                              "%s: SDXL UNet has %d input blocks and %d output blocks (want equal, >= 2)",
                              ov_weights_path(L->w), sc->n_in, sc->n_out);
    return 0;
}

static int load_all(unet_loader *L)
{
    ov_sdxl_unet *u = L->u;
    ov_sdxl_unet_info *info = &u->info;
    unet_scan sc;
    ov_weight_info wi;
    char pre[96];
    int rc = scan_names(L, &sc);
    if (rc)
        return rc;

    /* Widths: model_channels/in from conv_in, time_embed_dim from time_embed.0, adm from label_emb. */
    if ((rc = shape_of(L, &wi, 4, "input_blocks.0.0.weight")))
        return rc;
    int64_t mc = wi.shape[0];
    info->model_channels = (int)mc;
    info->in_channels = (int)wi.shape[1];
    if ((rc = shape_of(L, &wi, 2, "time_embed.0.weight")))
        return rc;
    int64_t ted = wi.shape[0];
    info->time_embed_dim = (int)ted;
    if ((rc = shape_of(L, &wi, 2, "label_emb.0.0.weight")))
        return rc;
    info->adm_in_channels = (int)wi.shape[1];
    if ((rc = shape_of(L, &wi, 4, "out.2.weight")))
        return rc;
    info->out_channels = (int)wi.shape[0];

    if ((rc = load(L, &u->time_embed0_w, 1, V2(ted, mc), "time_embed.0.weight")) ||
        (rc = load(L, &u->time_embed0_b, 0, V1(ted), "time_embed.0.bias")) ||
        (rc = load(L, &u->time_embed2_w, 1, V2(ted, ted), "time_embed.2.weight")) ||
        (rc = load(L, &u->time_embed2_b, 0, V1(ted), "time_embed.2.bias")) ||
        (rc = load(L, &u->label_emb0_w, 1, V2(ted, info->adm_in_channels), "label_emb.0.0.weight")) ||
        (rc = load(L, &u->label_emb0_b, 0, V1(ted), "label_emb.0.0.bias")) ||
        (rc = load(L, &u->label_emb2_w, 1, V2(ted, ted), "label_emb.0.2.weight")) ||
        (rc = load(L, &u->label_emb2_b, 0, V1(ted), "label_emb.0.2.bias")) ||
        (rc = load(L, &u->conv_in_w, 1, V4(mc, info->in_channels, 3, 3), "input_blocks.0.0.weight")) ||
        (rc = load(L, &u->conv_in_b, 0, V1(mc), "input_blocks.0.0.bias")))
        return rc;

    /* input_blocks: channel chain and skip widths (input_block_chans in UNetModel.__init__). */
    int64_t chans[OV_UNET_MAX_BLOCKS];
    int n_chans = 0, level = 0, res_in_level = 0;
    int64_t ch = mc;
    chans[n_chans++] = ch;
    u->n_in = sc.n_in - 1;
    for (int k = 1; k < sc.n_in; k++) {
        unet_block *b = &u->in[k - 1];
        if (sc.in_down[k]) {
            b->has_down = 1;
            if ((rc = load(L, &b->conv_w, 1, V4(ch, ch, 3, 3), "input_blocks.%d.0.op.weight", k)) ||
                (rc = load(L, &b->conv_b, 0, V1(ch), "input_blocks.%d.0.op.bias", k)))
                return rc;
            if (++level >= 4)
                return ov_tensor_fail(OV_EFORMAT, "%s: SDXL UNet with more than 4 levels",
                                      ov_weights_path(L->w));
            res_in_level = 0;
        } else {
            b->has_res = 1;
            snprintf(pre, sizeof pre, "input_blocks.%d.0", k);
            if ((rc = load_res(L, &b->res, pre, ch)))
                return rc;
            ch = b->res.cout;
            if (sc.in_st[k]) {
                b->has_st = 1;
                snprintf(pre, sizeof pre, "input_blocks.%d.1", k);
                if ((rc = load_st(L, &b->st, pre, ch, sc.in_depth[k])))
                    return rc;
            }
            if (res_in_level++ == 0) {
                info->channel_mult[level] = (int)(ch / mc);
                info->depth[level] = b->has_st ? sc.in_depth[k] : 0;
            }
        }
        chans[n_chans++] = ch;
    }
    info->n_levels = level + 1;

    /* middle_block: ResBlock, SpatialTransformer, ResBlock */
    info->mid_depth = sc.mid_depth;
    if ((rc = load_res(L, &u->mid_res0, "middle_block.0", ch)) ||
        (rc = load_st(L, &u->mid_st, "middle_block.1", u->mid_res0.cout, sc.mid_depth)) ||
        (rc = load_res(L, &u->mid_res2, "middle_block.2", u->mid_res0.cout)))
        return rc;
    ch = u->mid_res2.cout;

    /* output_blocks: ResBlock on concat(h, skip), [SpatialTransformer], [Upsample]. */
    u->n_out = sc.n_out;
    for (int k = 0; k < sc.n_out; k++) {
        unet_block *b = &u->out[k];
        int64_t skip = chans[--n_chans];
        b->has_res = 1;
        snprintf(pre, sizeof pre, "output_blocks.%d.0", k);
        if ((rc = load_res(L, &b->res, pre, ch + skip)))
            return rc;
        ch = b->res.cout;
        if (sc.out_st[k]) {
            b->has_st = 1;
            snprintf(pre, sizeof pre, "output_blocks.%d.1", k);
            if ((rc = load_st(L, &b->st, pre, ch, sc.out_depth[k])))
                return rc;
        }
        if (sc.out_up[k]) {
            b->has_up = 1;
            int sub = sc.out_up_sub[k];
            if ((rc = load(L, &b->conv_w, 1, V4(ch, ch, 3, 3), "output_blocks.%d.%d.conv.weight", k, sub)) ||
                (rc = load(L, &b->conv_b, 0, V1(ch), "output_blocks.%d.%d.conv.bias", k, sub)))
                return rc;
        }
    }
    int n_up = 0;
    for (int k = 0; k < u->n_out; k++)
        n_up += u->out[k].has_up;
    if (n_up != level)
        return ov_tensor_fail(OV_EFORMAT, "%s: SDXL UNet has %d downsamples but %d upsamples",
                              ov_weights_path(L->w), level, n_up);

    /* out = GroupNorm32, SiLU, conv3×3 */
    if ((rc = check_groups(L, "out.0", ch)) || (rc = load(L, &u->out_norm_w, 0, V1(ch), "out.0.weight")) ||
        (rc = load(L, &u->out_norm_b, 0, V1(ch), "out.0.bias")) ||
        (rc = load(L, &u->out_conv_w, 1, V4(info->out_channels, ch, 3, 3), "out.2.weight")) ||
        (rc = load(L, &u->out_conv_b, 0, V1(info->out_channels), "out.2.bias")))
        return rc;
    return 0;
}

int ov_sdxl_unet_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_unet **out)
{
    *out = NULL;
    ov_sdxl_unet *u = calloc(1, sizeof *u);
    if (!u)
        return ov_tensor_fail(OV_ENOMEM, "sdxl unet: out of memory");
    u->mem = mem;
    unet_loader L = {.u = u, .w = w, .mem = mem, .weight_dtype = weight_dtype};
    int rc = load_all(&L);
    if (rc) {
        ov_sdxl_unet_free(u, mem);
        return rc;
    }
    *out = u;
    return 0;
}

void ov_sdxl_unet_free(ov_sdxl_unet *u, ov_mem *mem)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n_owned; i++)
        ov_mem_free_tensor(mem, u->owned[i]);
    free(u->owned);
    for (int k = 0; k < OV_UNET_MAX_BLOCKS; k++) {
        free(u->in[k].st.blocks);
        free(u->out[k].st.blocks);
    }
    free(u->mid_st.blocks);
    free(u);
}

const ov_sdxl_unet_info *ov_sdxl_unet_get_info(const ov_sdxl_unet *u)
{
    return &u->info;
}

/* ---- forward ---- */

static int bad_input(const char *what, const ov_tensor *t, const char *want)
{
    char s[64];
    return ov_tensor_fail(OV_EINVAL, "sdxl unet: %s is %s, want %s", what,
                          t ? ov_tensor_shape_str(t, s, sizeof s) : "NULL", want);
}

/* A [B, C, H, W] view over the first B·C·H·W elements of the flat buffer buf. */
static int view4(ov_tensor *out, const ov_tensor *buf, int64_t B, int64_t C, int64_t H, int64_t W)
{
    ov_tensor s;
    int rc = ov_tensor_slice(&s, buf, 0, 0, B * C * H * W);
    if (!rc)
        rc = ov_tensor_reshape(out, &s, 4, (int64_t[]){B, C, H, W});
    return rc;
}

/* src in the activation dtype ad: src itself when it already is, else a converted arena copy. */
static int to_act(ov_arena *arena, const ov_tensor *src, int ad, const char *name, ov_tensor *dst)
{
    if (src->dtype == ad) {
        *dst = *src;
        return 0;
    }
    int rc = ov_arena_tensor(arena, dst, name, ad, src->ndim, src->shape);
    return rc ? rc : ov_op_copy(dst, src);
}

/* UNetModel.forward:
 *   t_emb = timestep_embedding(timesteps, model_channels)      [cos | sin], max_period 10000
 *   emb = time_embed(t_emb) + label_emb(y)
 *   h = x; for module in input_blocks: h = module(h, emb, context); hs.append(h)
 *   h = middle_block(h, emb, context)
 *   for module in output_blocks: h = cat([h, hs.pop()], dim=1); h = module(h, emb, context)
 *   return out(h)
 * Input-side activations stay in the arena as skips; the middle and output sides ping-pong
 * between two buffers sized for the largest of their activations. Everything after the entry runs
 * in the backend's activation dtype (f32 on the CPU, bf16 on CUDA: tensor-core GEMMs, convolutions
 * and flash attention); x, t, context, y and out are f32 at the interface and converted here. */
int ov_sdxl_unet_forward(ov_sdxl_unet *u, ov_arena *arena, const ov_tensor *x, const ov_tensor *t,
                         const ov_tensor *context, const ov_tensor *y, ov_tensor *out)
{
    const ov_sdxl_unet_info *info = &u->info;
    int rc;
    if (!x || x->ndim != 4 || x->shape[1] != info->in_channels || x->dtype != OV_DTYPE_F32)
        return bad_input("x", x, "[B, in_channels, h, w] f32");
    int64_t B = x->shape[0], H = x->shape[2], W = x->shape[3];
    int64_t align = (int64_t)1 << (info->n_levels - 1);
    if (H % align || W % align || H <= 0 || W <= 0)
        return ov_tensor_fail(OV_EINVAL, "sdxl unet: latent %lldx%lld is not a multiple of %lld",
                              (long long)H, (long long)W, (long long)align);
    if (!t || t->ndim != 1 || t->shape[0] != B)
        return bad_input("t", t, "[B] f32");
    if (!context || context->ndim != 3 || context->shape[0] != B || context->shape[2] != info->context_dim)
        return bad_input("context", context, "[B, L, context_dim]");
    if (!y || y->ndim != 2 || y->shape[0] != B || y->shape[1] != info->adm_in_channels)
        return bad_input("y", y, "[B, adm_in_channels]");
    if (!out || out->ndim != 4 || out->shape[0] != B || out->shape[1] != info->out_channels ||
        out->shape[2] != H || out->shape[3] != W)
        return bad_input("out", out, "[B, out_channels, h, w]");

    size_t mark = ov_arena_mark(arena);
    const int ad = x->backend ? x->backend->act_dtype : OV_DTYPE_F32;
    int64_t ted = info->time_embed_dim, mc = info->model_channels;
    ov_tensor temb32, temb, e1, emb, l1, l2, xa, ctx, ya;
    ov_timestep_params tp = {
        .flip_sin_to_cos = 1, .downscale_freq_shift = 0.0f, .max_period = 10000.0f, .scale = 1.0f};
    TRY(to_act(arena, x, ad, "x.act", &xa));
    TRY(to_act(arena, context, ad, "context.act", &ctx));
    TRY(to_act(arena, y, ad, "y.act", &ya));
    TRY(ov_arena_tensor(arena, &temb32, "t_emb", OV_DTYPE_F32, 2, (int64_t[]){B, mc}));
    TRY(ov_op_timestep_embedding(&temb32, t, &tp));
    TRY(to_act(arena, &temb32, ad, "t_emb.act", &temb));
    TRY(ov_arena_tensor(arena, &e1, "time_embed.0", ad, 2, (int64_t[]){B, ted}));
    TRY(ov_op_linear(&e1, &temb, &u->time_embed0_w, &u->time_embed0_b));
    TRY(ov_op_silu(&e1, &e1));
    TRY(ov_arena_tensor(arena, &emb, "emb", ad, 2, (int64_t[]){B, ted}));
    TRY(ov_op_linear(&emb, &e1, &u->time_embed2_w, &u->time_embed2_b));
    TRY(ov_arena_tensor(arena, &l1, "label_emb.0", ad, 2, (int64_t[]){B, ted}));
    TRY(ov_op_linear(&l1, &ya, &u->label_emb0_w, &u->label_emb0_b));
    TRY(ov_op_silu(&l1, &l1));
    TRY(ov_arena_tensor(arena, &l2, "label_emb.2", ad, 2, (int64_t[]){B, ted}));
    TRY(ov_op_linear(&l2, &l1, &u->label_emb2_w, &u->label_emb2_b));
    TRY(ov_op_add(&emb, &emb, &l2));
    /* every ResBlock's emb_layers starts with SiLU: apply it once */
    TRY(ov_op_silu(&emb, &emb));

    /* input blocks */
    ov_tensor hs[OV_UNET_MAX_BLOCKS];
    int n_hs = 0;
    int64_t h_h = H, h_w = W;
    ov_tensor h;
    TRY(ov_arena_tensor(arena, &h, "input_blocks.0", ad, 4, (int64_t[]){B, mc, H, W}));
    ov_conv2d_params c3 = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .groups = 1};
    ov_conv2d_params c3s2 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 1};
    TRY(ov_op_conv2d(&h, &xa, &u->conv_in_w, &u->conv_in_b, &c3));
    hs[n_hs++] = h;
    for (int k = 0; k < u->n_in; k++) {
        const unet_block *b = &u->in[k];
        ov_tensor nh;
        if (b->has_down) {
            h_h /= 2;
            h_w /= 2;
            TRY(ov_arena_tensor(arena, &nh, "downsample", ad, 4,
                                (int64_t[]){B, h.shape[1], h_h, h_w}));
            TRY(ov_op_conv2d(&nh, &h, &b->conv_w, &b->conv_b, &c3s2));
        } else {
            TRY(ov_arena_tensor(arena, &nh, "input_block", ad, 4,
                                (int64_t[]){B, b->res.cout, h_h, h_w}));
            TRY(ov_unet_res_forward(&b->res, arena, &h, &emb, &nh));
            if (b->has_st)
                TRY(ov_unet_st_forward(&b->st, arena, &nh, &ctx));
        }
        h = nh;
        hs[n_hs++] = h;
    }

    /* ping-pong buffers for the middle and output sides */
    int64_t max_elems = B * u->mid_res0.cout * h_h * h_w;
    {
        int64_t sh = h_h, sw = h_w;
        for (int k = 0; k < u->n_out; k++) {
            const unet_block *b = &u->out[k];
            if (B * b->res.cout * sh * sw > max_elems)
                max_elems = B * b->res.cout * sh * sw;
            if (b->has_up) {
                sh *= 2;
                sw *= 2;
                if (B * b->res.cout * sh * sw > max_elems)
                    max_elems = B * b->res.cout * sh * sw;
            }
        }
    }
    ov_tensor buf[2], cur;
    TRY(ov_arena_tensor(arena, &buf[0], "h.ping", ad, 1, (int64_t[]){max_elems}));
    TRY(ov_arena_tensor(arena, &buf[1], "h.pong", ad, 1, (int64_t[]){max_elems}));
    int side = 0;

    /* middle block */
    TRY(view4(&cur, &buf[side], B, u->mid_res0.cout, h_h, h_w));
    TRY(ov_unet_res_forward(&u->mid_res0, arena, &h, &emb, &cur));
    TRY(ov_unet_st_forward(&u->mid_st, arena, &cur, &ctx));
    h = cur;
    side ^= 1;
    TRY(view4(&cur, &buf[side], B, u->mid_res2.cout, h_h, h_w));
    TRY(ov_unet_res_forward(&u->mid_res2, arena, &h, &emb, &cur));
    h = cur;

    /* output blocks */
    for (int k = 0; k < u->n_out; k++) {
        const unet_block *b = &u->out[k];
        const ov_tensor *skip = &hs[--n_hs];
        size_t m2 = ov_arena_mark(arena);
        ov_tensor cat;
        if (skip->shape[2] != h_h || skip->shape[3] != h_w) {
            rc = ov_tensor_fail(OV_EINTERNAL, "sdxl unet: output_blocks.%d skip is %lldx%lld, h is %lldx%lld",
                                k, (long long)skip->shape[2], (long long)skip->shape[3], (long long)h_h,
                                (long long)h_w);
            goto done;
        }
        TRY(ov_arena_tensor(arena, &cat, "cat", ad, 4,
                            (int64_t[]){B, h.shape[1] + skip->shape[1], h_h, h_w}));
        TRY(ov_op_concat(&cat, &h, skip, 1));
        side ^= 1;
        TRY(view4(&cur, &buf[side], B, b->res.cout, h_h, h_w));
        TRY(ov_unet_res_forward(&b->res, arena, &cat, &emb, &cur));
        ov_arena_release(arena, m2);
        if (b->has_st)
            TRY(ov_unet_st_forward(&b->st, arena, &cur, &ctx));
        if (b->has_up) {
            /* Upsample: F.interpolate(nearest, ×2) then conv3×3 */
            ov_tensor up;
            TRY(ov_arena_tensor(arena, &up, "upsample", ad, 4,
                                (int64_t[]){B, b->res.cout, 2 * h_h, 2 * h_w}));
            TRY(ov_op_upsample_nearest2x(&up, &cur));
            h_h *= 2;
            h_w *= 2;
            side ^= 1;
            TRY(view4(&cur, &buf[side], B, b->res.cout, h_h, h_w));
            TRY(ov_op_conv2d(&cur, &up, &b->conv_w, &b->conv_b, &c3));
            ov_arena_release(arena, m2);
        }
        h = cur;
    }

    /* out: GroupNorm32, SiLU, conv3×3 */
    {
        ov_tensor n;
        TRY(ov_arena_tensor(arena, &n, "out.0", ad, 4, (int64_t[]){B, h.shape[1], h_h, h_w}));
        TRY(ov_op_group_norm(&n, &h, OV_UNET_GN_GROUPS, &u->out_norm_w, &u->out_norm_b, OV_UNET_GN_EPS));
        TRY(ov_op_silu(&n, &n));
        if (out->dtype == ad) {
            TRY(ov_op_conv2d(out, &n, &u->out_conv_w, &u->out_conv_b, &c3));
        } else {
            ov_tensor o;
            TRY(ov_arena_tensor(arena, &o, "out.2", ad, 4, out->shape));
            TRY(ov_op_conv2d(&o, &n, &u->out_conv_w, &u->out_conv_b, &c3));
            TRY(ov_op_copy(out, &o));
        }
    }
done:
    ov_arena_release(arena, mark);
    return rc;
}

/* ---- FLOP count (bench) ---- */

static double res_flops(const unet_res *r, double px)
{
    double f = 2.0 * px * (double)r->cout * (double)r->cin * 9.0 +
               2.0 * px * (double)r->cout * (double)r->cout * 9.0;
    if (r->has_skip)
        f += 2.0 * px * (double)r->cout * (double)r->cin;
    return f + 2.0 * (double)r->cout * (double)r->emb_w.shape[1];
}

static double st_flops(const unet_st *s, double L, double Lk, double ctx_dim)
{
    double C = (double)s->ch;
    double f = 2.0 * 2.0 * L * C * C; /* proj_in, proj_out */
    double blk = 0;
    blk += 2.0 * L * C * C * 4.0 + 2.0 * 2.0 * L * L * C;                                 /* attn1 */
    blk += 2.0 * L * C * C * 2.0 + 2.0 * 2.0 * Lk * ctx_dim * C + 2.0 * 2.0 * L * Lk * C; /* attn2 */
    blk += 2.0 * L * C * 8.0 * C + 2.0 * L * 4.0 * C * C;                                 /* GEGLU ff */
    return f + s->depth * blk;
}

double ov_sdxl_unet_flops(const ov_sdxl_unet *u, int64_t B, int64_t h, int64_t w, int64_t ctx_len)
{
    const ov_sdxl_unet_info *in = &u->info;
    double ted = in->time_embed_dim, f = 0, Lk = (double)ctx_len, cd = in->context_dim;
    f += 2.0 * (in->model_channels * ted + ted * ted + in->adm_in_channels * ted + ted * ted);
    f += 2.0 * (double)(h * w) * in->model_channels * in->in_channels * 9.0;
    for (int k = 0; k < u->n_in; k++) {
        const unet_block *b = &u->in[k];
        if (b->has_down) {
            h /= 2;
            w /= 2;
            f += 2.0 * (double)(h * w) * (double)b->conv_w.shape[0] * (double)b->conv_w.shape[1] * 9.0;
            continue;
        }
        f += res_flops(&b->res, (double)(h * w));
        if (b->has_st)
            f += st_flops(&b->st, (double)(h * w), Lk, cd);
    }
    f += res_flops(&u->mid_res0, (double)(h * w)) + st_flops(&u->mid_st, (double)(h * w), Lk, cd) +
         res_flops(&u->mid_res2, (double)(h * w));
    for (int k = 0; k < u->n_out; k++) {
        const unet_block *b = &u->out[k];
        f += res_flops(&b->res, (double)(h * w));
        if (b->has_st)
            f += st_flops(&b->st, (double)(h * w), Lk, cd);
        if (b->has_up) {
            h *= 2;
            w *= 2;
            f += 2.0 * (double)(h * w) * (double)b->res.cout * (double)b->res.cout * 9.0;
        }
    }
    f += 2.0 * (double)(h * w) * in->out_channels * (double)u->out_norm_w.shape[0] * 9.0;
    return f * (double)B;
}
