/* SDXL VAE: the ldm AutoencoderKL encoder and decoder as a short sequence of ov_op_* calls.
 *
 * Reference: Stability-AI/generative-models sgm/modules/diffusionmodules/model.py (Encoder,
 * Decoder, ResnetBlock, AttnBlock, Upsample, Downsample, Normalize) and sgm/models/autoencoder.py
 * (quant_conv / post_quant_conv, DiagonalGaussianDistribution: mean = first half of the
 * moments). diffusers AutoencoderKL (models/autoencoders/vae.py) is the numerical reference of
 * tests/test_sdxl_vae.c. Names of tensors and blocks below are the ldm ones.
 *
 * Memory: a forward pass runs one image at a time through three ping-pong activation slots
 * (each the size of the largest activation of the pass) plus the mid attention's q/k/v and one
 * chunk of its scores (at most VAE_ATTN_CHUNK elements, f32 and act dtype), all from the caller's
 * arena and released on return; ov_sdxl_vae_decode_scratch_bytes() says how
 * much that is. A 1024² decode needs about 3 GiB (256 channels at 1024² is 1 GiB per slot).
 *
 * Precision: activations are the backend's act dtype (f32 on the CPU). The SDXL VAE's decoder
 * activations exceed the f16 range (diffusers keeps force_upcast = True for it; the community
 * "fp16-fix" VAE exists because of this), so a CUDA backend must run this code in f32 or bf16
 * activations, never f16. Weights may be stored f16/bf16: they are widened inside the ops. */
#include "workers/sdxl/vae.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/ops.h"

#define VAE_GROUPS 32 /* Normalize(): GroupNorm(num_groups=32, eps=1e-6, affine=True) */
#define VAE_EPS 1e-6f
#define VAE_MAX_LEVELS 8
#define VAE_MAX_BLOCKS 8
#define VAE_MAX_TENSORS 1024
/* The mid attention is one head of width C = 512 over L = h·w tokens (16,384 at 1024²): too wide
 * for the fused attention kernels, so it runs as GEMM → softmax → GEMM over chunks of query rows
 * whose score block [rows, L] holds at most this many elements (the L×L matrix never exists). */
#define VAE_ATTN_CHUNK ((int64_t)1 << 24)

typedef struct vae_conv {
    ov_tensor w, b;
} vae_conv;

typedef struct vae_norm {
    ov_tensor g, b;
} vae_norm;

/* ResnetBlock (temb_channels = 0, conv_shortcut = False): nin_shortcut only when cin != cout. */
typedef struct vae_resnet {
    int64_t cin, cout;
    vae_norm norm1, norm2;
    vae_conv conv1, conv2, nin_shortcut;
    int has_nin;
} vae_resnet;

/* AttnBlock: single head over C channels; q/k/v/proj_out 1×1 convs, used as [C, C] linears on
 * the [H·W, C] token matrix (the same arithmetic). */
typedef struct vae_attn {
    int64_t c;
    vae_norm norm;
    vae_conv q, k, v, proj_out;
    ov_tensor wq, wk, wv, wp; /* [C, C] views of the conv weights */
} vae_attn;

typedef struct vae_level {
    int64_t cout;
    int n_blocks;
    vae_resnet block[VAE_MAX_BLOCKS];
    int has_sample;  /* encoder: downsample; decoder: upsample */
    vae_conv sample; /* downsample.conv / upsample.conv */
} vae_level;

typedef struct vae_coder {
    int64_t cin, cout; /* image/latent channels in and out of the coder */
    vae_conv conv_in;
    int n_levels;
    vae_level level[VAE_MAX_LEVELS]; /* ldm index: encoder down.i, decoder up.i (run in reverse) */
    vae_resnet block_1, block_2;     /* mid */
    vae_attn attn_1;
    vae_norm norm_out;
    vae_conv conv_out;
} vae_coder;

struct ov_sdxl_vae {
    vae_coder enc, dec;
    vae_conv quant_conv, post_quant_conv;
    int64_t embed; /* latent channels (post_quant_conv in, half of quant_conv out): 4 */
    int factor;
    ov_tensor *owned[VAE_MAX_TENSORS];
    size_t n_owned;
};

/* snprintf for tensor names (short, bounded; a truncated name is simply not found). Through
 * vsnprintf so the compiler's truncation analysis does not flag the bounded prefixes. */
__attribute__((format(printf, 3, 4))) static void vae_name(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* ---- loading ---- */

typedef struct vae_loader {
    ov_sdxl_vae *v;
    ov_weights *w;
    ov_mem *mem;
    int wdtype;
} vae_loader;

/* Loads "<prefix><suffix>" with the expected shape (ndim dims from the varargs) into *t. */
static int ld(vae_loader *L, ov_tensor *t, int dtype, const char *prefix, const char *suffix, int ndim, ...)
{
    char name[OV_WEIGHTS_NAME_MAX];
    int64_t shape[4];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++)
        shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    if (snprintf(name, sizeof name, "%s%s", prefix, suffix) >= (int)sizeof name)
        return ov_tensor_fail(OV_ERANGE, "vae: tensor name '%s%s' too long", prefix, suffix);
    if (L->v->n_owned >= VAE_MAX_TENSORS)
        return ov_tensor_fail(OV_EFORMAT, "vae: more than %d tensors", VAE_MAX_TENSORS);
    int rc = ov_weights_load(L->w, L->mem, name, dtype, ndim, shape, t);
    if (!rc)
        L->v->owned[L->v->n_owned++] = t;
    return rc;
}

/* A conv: weight [cout, cin, k, k] in the model's weight dtype, bias [cout] in f32. */
static int ld_conv(vae_loader *L, vae_conv *c, const char *prefix, int64_t cout, int64_t cin, int64_t k)
{
    int rc = ld(L, &c->w, L->wdtype, prefix, ".weight", 4, cout, cin, k, k);
    return rc ? rc : ld(L, &c->b, OV_DTYPE_F32, prefix, ".bias", 1, cout);
}

static int ld_norm(vae_loader *L, vae_norm *n, const char *prefix, int64_t c)
{
    if (c % VAE_GROUPS)
        return ov_tensor_fail(OV_EFORMAT, "vae: %s has %lld channels, not a multiple of %d groups", prefix,
                              (long long)c, VAE_GROUPS);
    int rc = ld(L, &n->g, OV_DTYPE_F32, prefix, ".weight", 1, c);
    return rc ? rc : ld(L, &n->b, OV_DTYPE_F32, prefix, ".bias", 1, c);
}

static int ld_resnet(vae_loader *L, vae_resnet *r, const char *prefix, int64_t cin, int64_t cout)
{
    char p[OV_WEIGHTS_NAME_MAX];
    int rc;
    r->cin = cin;
    r->cout = cout;
    r->has_nin = cin != cout;
    vae_name(p, sizeof p, "%s.norm1", prefix);
    if ((rc = ld_norm(L, &r->norm1, p, cin)))
        return rc;
    vae_name(p, sizeof p, "%s.conv1", prefix);
    if ((rc = ld_conv(L, &r->conv1, p, cout, cin, 3)))
        return rc;
    vae_name(p, sizeof p, "%s.norm2", prefix);
    if ((rc = ld_norm(L, &r->norm2, p, cout)))
        return rc;
    vae_name(p, sizeof p, "%s.conv2", prefix);
    if ((rc = ld_conv(L, &r->conv2, p, cout, cout, 3)))
        return rc;
    vae_name(p, sizeof p, "%s.nin_shortcut", prefix);
    if (r->has_nin)
        return ld_conv(L, &r->nin_shortcut, p, cout, cin, 1);
    return 0;
}

static int ld_attn(vae_loader *L, vae_attn *a, const char *prefix, int64_t c)
{
    char p[OV_WEIGHTS_NAME_MAX];
    int rc;
    vae_conv *cv[4] = {&a->q, &a->k, &a->v, &a->proj_out};
    ov_tensor *lin[4] = {&a->wq, &a->wk, &a->wv, &a->wp};
    static const char *const leaf[4] = {"q", "k", "v", "proj_out"};
    a->c = c;
    vae_name(p, sizeof p, "%s.norm", prefix);
    if ((rc = ld_norm(L, &a->norm, p, c)))
        return rc;
    for (int i = 0; i < 4; i++) {
        vae_name(p, sizeof p, "%s.%s", prefix, leaf[i]);
        if ((rc = ld_conv(L, cv[i], p, c, c, 1)))
            return rc;
        int64_t s2[2] = {c, c};
        if ((rc = ov_tensor_reshape(lin[i], &cv[i]->w, 2, s2)))
            return rc;
    }
    return 0;
}

static int ld_mid(vae_loader *L, vae_coder *cd, const char *side, int64_t c)
{
    char p[OV_WEIGHTS_NAME_MAX];
    int rc;
    vae_name(p, sizeof p, "vae.%s.mid.block_1", side);
    if ((rc = ld_resnet(L, &cd->block_1, p, c, c)))
        return rc;
    vae_name(p, sizeof p, "vae.%s.mid.attn_1", side);
    if ((rc = ld_attn(L, &cd->attn_1, p, c)))
        return rc;
    vae_name(p, sizeof p, "vae.%s.mid.block_2", side);
    return ld_resnet(L, &cd->block_2, p, c, c);
}

/* The shape of an anchor tensor (4-D conv weight): 0, or OV_ENOENT / OV_EFORMAT with a message. */
static int anchor(ov_weights *w, const char *name, int64_t *shape)
{
    ov_weight_info wi;
    int rc = ov_weights_info(w, name, &wi);
    if (rc)
        return rc;
    if (wi.ndim != 4 || wi.shape[0] <= 0 || wi.shape[1] <= 0)
        return ov_tensor_fail(OV_EFORMAT, "vae: %s has %d dims, a conv weight needs 4", name, wi.ndim);
    memcpy(shape, wi.shape, 4 * sizeof *shape);
    return 0;
}

/* Counts i = 0, 1, ... while the formatted name exists (fmt has one %d). */
static int count_idx(ov_weights *w, const char *fmt, int cap)
{
    char name[OV_WEIGHTS_NAME_MAX];
    int n = 0;
    while (n < cap) {
        vae_name(name, sizeof name, fmt, n);
        if (!ov_weights_has(w, name))
            break;
        n++;
    }
    return n;
}

/* Level structure from names: how many levels, blocks per level, each level's width. */
static int ld_structure(ov_weights *w, vae_coder *cd, const char *side, const char *lvl)
{
    char fmt[128], name[OV_WEIGHTS_NAME_MAX];
    int64_t s[4] = {0};
    vae_name(fmt, sizeof fmt, "vae.%s.%s.%%d.block.0.conv1.weight", side, lvl);
    cd->n_levels = count_idx(w, fmt, VAE_MAX_LEVELS + 1);
    if (cd->n_levels == 0 || cd->n_levels > VAE_MAX_LEVELS)
        return ov_tensor_fail(cd->n_levels ? OV_EFORMAT : OV_ENOENT,
                              "vae: %s has %d %s levels (1..%d expected; is there a "
                              "vae.%s.%s.0.block.0.conv1.weight?)",
                              side, cd->n_levels, lvl, VAE_MAX_LEVELS, side, lvl);
    for (int i = 0; i < cd->n_levels; i++) {
        vae_name(fmt, sizeof fmt, "vae.%s.%s.%d.block.%%d.conv1.weight", side, lvl, i);
        int nb = count_idx(w, fmt, VAE_MAX_BLOCKS + 1);
        if (nb > VAE_MAX_BLOCKS)
            return ov_tensor_fail(OV_EFORMAT, "vae: %s.%s.%d has more than %d blocks", side, lvl, i,
                                  VAE_MAX_BLOCKS);
        cd->level[i].n_blocks = nb;
        vae_name(name, sizeof name, "vae.%s.%s.%d.block.0.conv1.weight", side, lvl, i);
        int rc = anchor(w, name, s);
        if (rc)
            return rc;
        cd->level[i].cout = s[0];
    }
    return 0;
}

static int ld_encoder(vae_loader *L, vae_coder *e)
{
    char p[OV_WEIGHTS_NAME_MAX];
    int64_t s[4] = {0};
    int rc = ld_structure(L->w, e, "encoder", "down");
    if (!rc)
        rc = anchor(L->w, "vae.encoder.conv_in.weight", s);
    if (rc)
        return rc;
    e->cin = s[1];
    int64_t block_in = s[0];
    if ((rc = ld_conv(L, &e->conv_in, "vae.encoder.conv_in", block_in, e->cin, 3)))
        return rc;
    for (int i = 0; i < e->n_levels; i++) {
        vae_level *lv = &e->level[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            vae_name(p, sizeof p, "vae.encoder.down.%d.block.%d", i, j);
            if ((rc = ld_resnet(L, &lv->block[j], p, block_in, lv->cout)))
                return rc;
            block_in = lv->cout;
        }
        lv->has_sample = i != e->n_levels - 1;
        vae_name(p, sizeof p, "vae.encoder.down.%d.downsample.conv", i);
        if (lv->has_sample && (rc = ld_conv(L, &lv->sample, p, block_in, block_in, 3)))
            return rc;
    }
    if ((rc = ld_mid(L, e, "encoder", block_in)) ||
        (rc = ld_norm(L, &e->norm_out, "vae.encoder.norm_out", block_in)) ||
        (rc = anchor(L->w, "vae.encoder.conv_out.weight", s)))
        return rc;
    e->cout = s[0];
    return ld_conv(L, &e->conv_out, "vae.encoder.conv_out", e->cout, block_in, 3);
}

static int ld_decoder(vae_loader *L, vae_coder *d)
{
    char p[OV_WEIGHTS_NAME_MAX];
    int64_t s[4] = {0};
    int rc = ld_structure(L->w, d, "decoder", "up");
    if (!rc)
        rc = anchor(L->w, "vae.decoder.conv_in.weight", s);
    if (rc)
        return rc;
    d->cin = s[1];
    int64_t block_in = d->level[d->n_levels - 1].cout;
    if ((rc = ld_conv(L, &d->conv_in, "vae.decoder.conv_in", block_in, d->cin, 3)) ||
        (rc = ld_mid(L, d, "decoder", block_in)))
        return rc;
    for (int i = d->n_levels - 1; i >= 0; i--) {
        vae_level *lv = &d->level[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            vae_name(p, sizeof p, "vae.decoder.up.%d.block.%d", i, j);
            if ((rc = ld_resnet(L, &lv->block[j], p, block_in, lv->cout)))
                return rc;
            block_in = lv->cout;
        }
        lv->has_sample = i != 0;
        vae_name(p, sizeof p, "vae.decoder.up.%d.upsample.conv", i);
        if (lv->has_sample && (rc = ld_conv(L, &lv->sample, p, block_in, block_in, 3)))
            return rc;
    }
    if ((rc = ld_norm(L, &d->norm_out, "vae.decoder.norm_out", block_in)) ||
        (rc = anchor(L->w, "vae.decoder.conv_out.weight", s)))
        return rc;
    d->cout = s[0];
    return ld_conv(L, &d->conv_out, "vae.decoder.conv_out", d->cout, block_in, 3);
}

int ov_sdxl_vae_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_vae **out)
{
    *out = NULL;
    ov_sdxl_vae *v = calloc(1, sizeof *v);
    if (!v)
        return ov_tensor_fail(OV_ENOMEM, "vae: no memory for the model struct");
    vae_loader L = {v, w, mem, weight_dtype};
    int64_t s[4] = {0};
    int rc = ld_decoder(&L, &v->dec);
    if (!rc)
        rc = ld_encoder(&L, &v->enc);
    if (!rc)
        rc = anchor(w, "vae.post_quant_conv.weight", s);
    if (!rc) {
        v->embed = s[1];
        rc = ld_conv(&L, &v->post_quant_conv, "vae.post_quant_conv", v->dec.cin, v->embed, 1);
    }
    if (!rc)
        rc = ld_conv(&L, &v->quant_conv, "vae.quant_conv", 2 * v->embed, v->enc.cout, 1);
    if (!rc && (v->enc.n_levels != v->dec.n_levels || v->enc.cin != v->dec.cout))
        rc = ov_tensor_fail(OV_EFORMAT,
                            "vae: encoder (%d levels, %lld image channels) and decoder (%d, %lld) differ",
                            v->enc.n_levels, (long long)v->enc.cin, v->dec.n_levels, (long long)v->dec.cout);
    if (rc) {
        ov_sdxl_vae_free(v, mem);
        return rc;
    }
    v->factor = 1 << (v->dec.n_levels - 1);
    *out = v;
    return 0;
}

void ov_sdxl_vae_free(ov_sdxl_vae *v, ov_mem *mem)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_owned; i++)
        ov_mem_free_tensor(mem, v->owned[i]);
    free(v);
}

int ov_sdxl_vae_factor(const ov_sdxl_vae *v)
{
    return v->factor;
}
int ov_sdxl_vae_latent_channels(const ov_sdxl_vae *v)
{
    return (int)v->embed;
}

/* ---- forward ---- */

#define CK(x)                                                                                                \
    do {                                                                                                     \
        if ((rc = (x)))                                                                                      \
            return rc;                                                                                       \
    } while (0)

/* Three activation slots of slot_elems floats each; a block reads slot *cur and leaves its
 * output in another slot, which becomes *cur. */
typedef struct vae_run {
    ov_arena *arena;
    ov_tensor slot[3];
} vae_run;

/* Slot s viewed as [1, c, h, w]. */
static int act(vae_run *r, int s, int64_t c, int64_t h, int64_t w, const char *name, ov_tensor *out)
{
    ov_tensor t;
    int64_t shape[4] = {1, c, h, w};
    int rc;
    CK(ov_tensor_slice(&t, &r->slot[s], 0, 0, c * h * w));
    CK(ov_tensor_reshape(out, &t, 4, shape));
    ov_tensor_set_name(out, name);
    return 0;
}

static int conv(ov_tensor *y, const ov_tensor *x, const vae_conv *c, int stride, int pad)
{
    ov_conv2d_params p = {stride, stride, pad, pad, 1, 1, 1};
    return ov_op_conv2d(y, x, &c->w, &c->b, &p);
}

/* y = SiLU(GroupNorm32(x)) */
static int norm_silu(ov_tensor *y, const ov_tensor *x, const vae_norm *n)
{
    return ov_op_group_norm_silu(y, x, VAE_GROUPS, &n->g, &n->b, VAE_EPS);
}

/* ResnetBlock.forward: h = conv1(silu(norm1(x))); h = conv2(dropout(silu(norm2(h))));
 * return nin_shortcut(x) + h (or x + h). */
static int resnet_fwd(vae_run *r, const vae_resnet *rb, int *cur, int64_t h, int64_t w)
{
    int a = *cur, s1 = (a + 1) % 3, s2 = (a + 2) % 3, rc;
    ov_tensor x, t1, t2;
    CK(act(r, a, rb->cin, h, w, "resnet.x", &x));
    CK(act(r, s1, rb->cin, h, w, "resnet.h", &t1));
    CK(norm_silu(&t1, &x, &rb->norm1));
    CK(act(r, s2, rb->cout, h, w, "resnet.h", &t2));
    CK(conv(&t2, &t1, &rb->conv1, 1, 1));
    CK(norm_silu(&t2, &t2, &rb->norm2));
    CK(act(r, s1, rb->cout, h, w, "resnet.out", &t1));
    CK(conv(&t1, &t2, &rb->conv2, 1, 1));
    if (rb->has_nin) {
        CK(act(r, s2, rb->cout, h, w, "resnet.shortcut", &t2));
        CK(conv(&t2, &x, &rb->nin_shortcut, 1, 0));
        CK(ov_op_add(&t1, &t1, &t2));
    } else {
        CK(ov_op_add(&t1, &t1, &x));
    }
    *cur = s1;
    return 0;
}

static int64_t g_attn_chunk = VAE_ATTN_CHUNK; /* test hook: ov_sdxl_vae_attn_chunk_force */

void ov_sdxl_vae_attn_chunk_force(int64_t elems)
{
    g_attn_chunk = elems > 0 ? elems : VAE_ATTN_CHUNK;
}

/* Query rows per score chunk for L tokens (VAE_ATTN_CHUNK). */
static int64_t attn_rows(int64_t L)
{
    int64_t r = g_attn_chunk / (L > 0 ? L : 1);
    return r < 1 ? 1 : r > L ? L : r;
}

/* o [1, L, C] = softmax(q·kᵀ·scale)·v by chunks of query rows: S = q_rows·kᵀ in f32 (cuBLAS /
 * OpenBLAS), P = softmax(S·scale) in the act dtype, o_rows = P·v. */
static int attn_chunked(ov_arena *arena, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                        const ov_tensor *v, float scale)
{
    int64_t L = q->shape[1], Lk = k->shape[1], R = attn_rows(Lk);
    if (R > L)
        R = L;
    size_t mark = ov_arena_mark(arena);
    ov_tensor S, P;
    int rc = ov_arena_tensor(arena, &S, "attn.scores", OV_DTYPE_F32, 3, (int64_t[]){1, R, Lk});
    if (!rc)
        rc = ov_arena_tensor(arena, &P, "attn.probs", q->dtype, 3, (int64_t[]){1, R, Lk});
    for (int64_t r0 = 0; r0 < L && !rc; r0 += R) {
        int64_t n = L - r0 < R ? L - r0 : R;
        ov_tensor qr, orow, Sv, Pv;
        if ((rc = ov_tensor_slice(&qr, q, 1, r0, n)) || (rc = ov_tensor_slice(&orow, o, 1, r0, n)) ||
            (rc = ov_tensor_slice(&Sv, &S, 1, 0, n)) || (rc = ov_tensor_slice(&Pv, &P, 1, 0, n)))
            break;
        if ((rc = ov_op_matmul(&Sv, &qr, k, 0, 1, 1.0f)) || (rc = ov_op_softmax(&Pv, &Sv, scale)) ||
            (rc = ov_op_matmul(&orow, &Pv, v, 0, 0, 1.0f)))
            break;
    }
    ov_arena_release(arena, mark);
    return rc;
}

/* AttnBlock.forward: h = norm(x); q, k, v = q(h), k(h), v(h) over the h·w tokens (one head of
 * width C, scale C^-1/2); return x + proj_out(softmax(q·kᵀ/√C)·v), the attention by chunks
 * (attn_chunked: never the L×L matrix). */
static int attn_fwd(vae_run *r, const vae_attn *at, int *cur, int64_t h, int64_t w)
{
    int a = *cur, s1 = (a + 1) % 3, s2 = (a + 2) % 3, rc;
    int64_t C = at->c, L = h * w;
    ov_tensor x, t1, tok, q, k, v, o, proj, view, out;
    CK(act(r, a, C, h, w, "attn.x", &x));
    CK(act(r, s1, C, h, w, "attn.h", &t1));
    CK(ov_op_group_norm(&t1, &x, VAE_GROUPS, &at->norm.g, &at->norm.b, VAE_EPS));
    /* [1, C, L] -> tokens [1, L, C] */
    int64_t s_cl[3] = {1, C, L}, s_lc[3] = {1, L, C};
    int perm[3] = {0, 2, 1};
    CK(ov_tensor_reshape(&view, &t1, 3, s_cl));
    CK(ov_tensor_permute(&view, &view, perm));
    CK(act(r, s2, L, C, 1, "attn.tokens", &tok));
    CK(ov_tensor_reshape(&tok, &tok, 3, s_lc));
    CK(ov_op_copy(&tok, &view));
    size_t mark = ov_arena_mark(r->arena);
    if ((rc = ov_arena_tensor(r->arena, &q, "attn.q", r->slot[0].dtype, 3, s_lc)) ||
        (rc = ov_arena_tensor(r->arena, &k, "attn.k", r->slot[0].dtype, 3, s_lc)) ||
        (rc = ov_arena_tensor(r->arena, &v, "attn.v", r->slot[0].dtype, 3, s_lc)) ||
        (rc = ov_op_linear(&q, &tok, &at->wq, &at->q.b)) ||
        (rc = ov_op_linear(&k, &tok, &at->wk, &at->k.b)) ||
        (rc = ov_op_linear(&v, &tok, &at->wv, &at->v.b))) {
        ov_arena_release(r->arena, mark);
        return rc;
    }
    rc = act(r, s1, L, C, 1, "attn.o", &o);
    if (!rc)
        rc = ov_tensor_reshape(&o, &o, 3, s_lc);
    if (!rc)
        rc = attn_chunked(r->arena, &o, &q, &k, &v, 1.0f / sqrtf((float)C));
    ov_arena_release(r->arena, mark);
    if (rc)
        return rc;
    CK(ov_tensor_reshape(&o, &o, 3, s_lc));
    CK(act(r, s2, L, C, 1, "attn.proj_out", &proj));
    CK(ov_tensor_reshape(&proj, &proj, 3, s_lc));
    CK(ov_op_linear(&proj, &o, &at->wp, &at->proj_out.b));
    /* out [1, C, L] = x + proj_outᵀ */
    CK(ov_tensor_permute(&view, &proj, perm));
    CK(act(r, s1, C, h, w, "attn.out", &out));
    CK(ov_tensor_reshape(&out, &out, 3, s_cl));
    CK(ov_tensor_reshape(&x, &x, 3, s_cl));
    CK(ov_op_add(&out, &x, &view));
    *cur = s1;
    return 0;
}

static int mid_fwd(vae_run *r, const vae_coder *cd, int *cur, int64_t h, int64_t w)
{
    int rc;
    CK(resnet_fwd(r, &cd->block_1, cur, h, w));
    CK(attn_fwd(r, &cd->attn_1, cur, h, w));
    return resnet_fwd(r, &cd->block_2, cur, h, w);
}

/* Upsample(with_conv): conv(interpolate(x, scale 2, nearest)). */
static int upsample_fwd(vae_run *r, const vae_conv *c, int *cur, int64_t C, int64_t h, int64_t w)
{
    int a = *cur, s1 = (a + 1) % 3, s2 = (a + 2) % 3, rc;
    ov_tensor x, up, y;
    CK(act(r, a, C, h, w, "upsample.x", &x));
    CK(act(r, s1, C, 2 * h, 2 * w, "upsample.nearest", &up));
    CK(ov_op_upsample_nearest2x(&up, &x));
    CK(act(r, s2, C, 2 * h, 2 * w, "upsample.out", &y));
    CK(conv(&y, &up, c, 1, 1));
    *cur = s2;
    return 0;
}

/* Downsample(with_conv): pad (0, 1, 0, 1) with zeros (right and bottom), conv 3×3 stride 2. */
static int downsample_fwd(vae_run *r, const vae_conv *c, int *cur, int64_t C, int64_t *h, int64_t *w)
{
    int a = *cur, s1 = (a + 1) % 3, s2 = (a + 2) % 3, rc;
    int64_t before[4] = {0, 0, 0, 0}, after[4] = {0, 0, 1, 1};
    int64_t ho = (*h + 1 - 3) / 2 + 1, wo = (*w + 1 - 3) / 2 + 1;
    ov_tensor x, pad, y;
    CK(act(r, a, C, *h, *w, "downsample.x", &x));
    CK(act(r, s1, C, *h + 1, *w + 1, "downsample.pad", &pad));
    CK(ov_op_pad(&pad, &x, before, after, 0.0f));
    CK(act(r, s2, C, ho, wo, "downsample.out", &y));
    CK(conv(&y, &pad, c, 2, 0));
    *h = ho;
    *w = wo;
    *cur = s2;
    return 0;
}

/* ---- sizes ---- */

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t level_elems(const vae_level *lv, int64_t cin, int64_t hw)
{
    int64_t m = 0;
    for (int j = 0; j < lv->n_blocks; j++) {
        m = max64(m, max64(cin, lv->cout) * hw);
        cin = lv->cout;
    }
    return m;
}

/* Largest activation (elements, one image) of a decode from a h×w latent, and the mid's C·L. */
static int64_t decode_slot_elems(const ov_sdxl_vae *v, int64_t h, int64_t w, int64_t *mid_cl, int64_t *mid_l)
{
    *mid_l = h * w;
    const vae_coder *d = &v->dec;
    int64_t block_in = d->level[d->n_levels - 1].cout;
    int64_t m = max64(v->embed, d->cin) * h * w;
    m = max64(m, block_in * h * w);
    *mid_cl = block_in * h * w;
    for (int i = d->n_levels - 1; i >= 0; i--) {
        m = max64(m, level_elems(&d->level[i], block_in, h * w));
        if (d->level[i].n_blocks)
            block_in = d->level[i].cout;
        if (d->level[i].has_sample) {
            h *= 2;
            w *= 2;
            m = max64(m, block_in * h * w);
        }
    }
    return m;
}

static int64_t encode_slot_elems(const ov_sdxl_vae *v, int64_t h, int64_t w, int64_t *mid_cl, int64_t *mid_l)
{
    const vae_coder *e = &v->enc;
    int64_t block_in = e->conv_in.w.shape[0];
    int64_t m = block_in * h * w;
    for (int i = 0; i < e->n_levels; i++) {
        m = max64(m, level_elems(&e->level[i], block_in, h * w));
        if (e->level[i].n_blocks)
            block_in = e->level[i].cout;
        if (e->level[i].has_sample) {
            m = max64(m, block_in * (h + 1) * (w + 1));
            h = (h + 1 - 3) / 2 + 1;
            w = (w + 1 - 3) / 2 + 1;
        }
    }
    *mid_cl = block_in * h * w;
    *mid_l = h * w;
    m = max64(m, *mid_cl);
    return max64(m, max64(e->cout, 2 * v->embed) * h * w);
}

/* Arena bytes: three slots + q, k, v + one score chunk (f32 scores and act-dtype probabilities,
 * counted at 4 bytes each) + alignment slack (the arena aligns to 256 bytes). mid_l: the mid
 * attention's token count. */
static size_t scratch_bytes(int64_t slot, int64_t mid_cl, int64_t mid_l)
{
    int64_t chunk = attn_rows(mid_l) * mid_l;
    return (size_t)(3 * slot + 3 * mid_cl + 2 * chunk) * sizeof(float) + 10 * 256;
}

size_t ov_sdxl_vae_decode_scratch_bytes(const ov_sdxl_vae *v, int64_t h, int64_t w)
{
    int64_t cl, ml, s = decode_slot_elems(v, h, w, &cl, &ml);
    return scratch_bytes(s, cl, ml);
}

size_t ov_sdxl_vae_encode_scratch_bytes(const ov_sdxl_vae *v, int64_t h, int64_t w)
{
    int64_t cl, ml, s = encode_slot_elems(v, h, w, &cl, &ml);
    return scratch_bytes(s, cl, ml);
}

static int run_init(vae_run *r, ov_arena *arena, int dtype, int64_t slot_elems)
{
    int rc;
    r->arena = arena;
    for (int i = 0; i < 3; i++) {
        char name[32];
        vae_name(name, sizeof name, "vae.slot%d", i);
        CK(ov_arena_tensor(arena, &r->slot[i], name, dtype, 1, &slot_elems));
    }
    return 0;
}

static int check_io(const char *op, const ov_tensor *in, const ov_tensor *out, int64_t cin, int64_t cout)
{
    char a[96], b[96];
    if (in->ndim != 4 || out->ndim != 4 || in->shape[0] != out->shape[0] || in->shape[1] != cin ||
        out->shape[1] != cout || !ov_tensor_is_contiguous(in) || !ov_tensor_is_contiguous(out) ||
        !in->backend || in->dtype != in->backend->act_dtype || out->dtype != in->dtype)
        return ov_tensor_fail(OV_EINVAL,
                              "vae %s: input '%s' %s / output '%s' %s: want contiguous [B, %lld, H, W] -> "
                              "[B, %lld, ...] of one act dtype",
                              op, in->name, ov_tensor_shape_str(in, a, sizeof a), out->name,
                              ov_tensor_shape_str(out, b, sizeof b), (long long)cin, (long long)cout);
    /* The header's promise: activations past ~65504 occur inside the SDXL decoder. */
    if (in->dtype == OV_DTYPE_F16)
        return ov_tensor_fail(
            OV_EUNSUPP, "vae %s: f16 activations ('%s') overflow in the SDXL VAE; run it in f32 or bf16", op,
            in->name);
    return 0;
}

static int decode_one(ov_sdxl_vae *v, vae_run *r, const ov_tensor *z, ov_tensor *img)
{
    const vae_coder *d = &v->dec;
    int64_t h = z->shape[2], w = z->shape[3];
    int cur = 0, rc;
    ov_tensor t0, t1;
    CK(act(r, 0, d->cin, h, w, "post_quant_conv", &t0));
    CK(conv(&t0, z, &v->post_quant_conv, 1, 0));
    int64_t block_in = d->level[d->n_levels - 1].cout;
    CK(act(r, 1, block_in, h, w, "decoder.conv_in", &t1));
    CK(conv(&t1, &t0, &d->conv_in, 1, 1));
    cur = 1;
    CK(mid_fwd(r, d, &cur, h, w));
    for (int i = d->n_levels - 1; i >= 0; i--) {
        const vae_level *lv = &d->level[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            CK(resnet_fwd(r, &lv->block[j], &cur, h, w));
            block_in = lv->cout;
        }
        if (lv->has_sample) {
            CK(upsample_fwd(r, &lv->sample, &cur, block_in, h, w));
            h *= 2;
            w *= 2;
        }
    }
    CK(act(r, cur, block_in, h, w, "decoder.h", &t0));
    CK(act(r, (cur + 1) % 3, block_in, h, w, "decoder.norm_out", &t1));
    CK(norm_silu(&t1, &t0, &d->norm_out));
    return conv(img, &t1, &d->conv_out, 1, 1);
}

int ov_sdxl_vae_decode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *z, ov_tensor *img)
{
    int rc;
    char a[96], b[96];
    CK(check_io("decode", z, img, v->embed, v->dec.cout));
    int64_t h = z->shape[2], w = z->shape[3];
    if (h < 1 || w < 1 || img->shape[2] != h * v->factor || img->shape[3] != w * v->factor)
        return ov_tensor_fail(OV_EINVAL, "vae decode: z '%s' %s needs img [B, %lld, %lld, %lld], got '%s' %s",
                              z->name, ov_tensor_shape_str(z, a, sizeof a), (long long)v->dec.cout,
                              (long long)(h * v->factor), (long long)(w * v->factor), img->name,
                              ov_tensor_shape_str(img, b, sizeof b));
    int64_t cl, ml, slot = decode_slot_elems(v, h, w, &cl, &ml);
    size_t mark = ov_arena_mark(arena);
    vae_run r;
    rc = run_init(&r, arena, z->dtype, slot);
    for (int64_t i = 0; i < z->shape[0] && !rc; i++) {
        ov_tensor zi, ii;
        rc = ov_tensor_slice(&zi, z, 0, i, 1);
        if (!rc)
            rc = ov_tensor_slice(&ii, img, 0, i, 1);
        if (!rc)
            rc = decode_one(v, &r, &zi, &ii);
    }
    ov_arena_release(arena, mark);
    return rc;
}

static int encode_one(ov_sdxl_vae *v, vae_run *r, const ov_tensor *img, ov_tensor *mean, ov_tensor *logvar)
{
    const vae_coder *e = &v->enc;
    int64_t h = img->shape[2], w = img->shape[3];
    int64_t block_in = e->conv_in.w.shape[0];
    int cur = 0, rc;
    ov_tensor t0, t1;
    CK(act(r, 0, block_in, h, w, "encoder.conv_in", &t0));
    CK(conv(&t0, img, &e->conv_in, 1, 1));
    for (int i = 0; i < e->n_levels; i++) {
        const vae_level *lv = &e->level[i];
        for (int j = 0; j < lv->n_blocks; j++) {
            CK(resnet_fwd(r, &lv->block[j], &cur, h, w));
            block_in = lv->cout;
        }
        if (lv->has_sample)
            CK(downsample_fwd(r, &lv->sample, &cur, block_in, &h, &w));
    }
    CK(mid_fwd(r, e, &cur, h, w));
    int s1 = (cur + 1) % 3, s2 = (cur + 2) % 3;
    CK(act(r, cur, block_in, h, w, "encoder.h", &t0));
    CK(act(r, s1, block_in, h, w, "encoder.norm_out", &t1));
    CK(norm_silu(&t1, &t0, &e->norm_out));
    CK(act(r, s2, e->cout, h, w, "encoder.conv_out", &t0));
    CK(conv(&t0, &t1, &e->conv_out, 1, 1));
    CK(act(r, s1, 2 * v->embed, h, w, "quant_conv", &t1));
    CK(conv(&t1, &t0, &v->quant_conv, 1, 0));
    /* DiagonalGaussianDistribution: mean, logvar = moments.chunk(2, dim=1) */
    if (logvar) {
        CK(ov_tensor_slice(&t0, &t1, 1, v->embed, v->embed));
        CK(ov_op_copy(logvar, &t0));
    }
    CK(ov_tensor_slice(&t1, &t1, 1, 0, v->embed));
    return ov_op_copy(mean, &t1);
}

int ov_sdxl_vae_encode(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *img, ov_tensor *mean)
{
    return ov_sdxl_vae_encode_dist(v, arena, img, mean, NULL);
}

int ov_sdxl_vae_encode_dist(ov_sdxl_vae *v, ov_arena *arena, const ov_tensor *img, ov_tensor *mean,
                            ov_tensor *logvar)
{
    int rc;
    char a[96], b[96];
    CK(check_io("encode", img, mean, v->enc.cin, v->embed));
    if (logvar && (logvar->ndim != 4 || logvar->dtype != mean->dtype || !ov_tensor_is_contiguous(logvar) ||
                   memcmp(logvar->shape, mean->shape, sizeof(int64_t) * 4) != 0))
        return ov_tensor_fail(OV_EINVAL, "vae encode: logvar '%s' %s must have mean's shape and dtype",
                              logvar->name, ov_tensor_shape_str(logvar, a, sizeof a));
    int64_t H = img->shape[2], W = img->shape[3], f = v->factor;
    if (H < f || W < f || H % f || W % f || mean->shape[2] != H / f || mean->shape[3] != W / f)
        return ov_tensor_fail(
            OV_EINVAL,
            "vae encode: img '%s' %s (sides multiples of %lld) needs mean [B, %lld, %lld, %lld], got '%s' %s",
            img->name, ov_tensor_shape_str(img, a, sizeof a), (long long)f, (long long)v->embed,
            (long long)(H / f), (long long)(W / f), mean->name, ov_tensor_shape_str(mean, b, sizeof b));
    int64_t cl, ml, slot = encode_slot_elems(v, H, W, &cl, &ml);
    size_t mark = ov_arena_mark(arena);
    vae_run r;
    rc = run_init(&r, arena, img->dtype, slot);
    for (int64_t i = 0; i < img->shape[0] && !rc; i++) {
        ov_tensor xi, mi;
        rc = ov_tensor_slice(&xi, img, 0, i, 1);
        if (!rc)
            rc = ov_tensor_slice(&mi, mean, 0, i, 1);
        ov_tensor li;
        if (!rc && logvar)
            rc = ov_tensor_slice(&li, logvar, 0, i, 1);
        if (!rc)
            rc = encode_one(v, &r, &xi, &mi, logvar ? &li : NULL);
    }
    ov_arena_release(arena, mark);
    return rc;
}
