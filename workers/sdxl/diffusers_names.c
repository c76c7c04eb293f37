/* SDXL diffusers folders <-> canonical sgm names (see diffusers_names.h).
 * Reference: huggingface/diffusers src/diffusers/loaders/single_file_utils.py:
 *  - convert_ldm_unet_checkpoint: input_blocks.k (k = 1 + i·(L+1) + j) <-> down_blocks.i.{resnets,
 *    attentions}.j, input_blocks.(i+1)·(L+1).0.op <-> down_blocks.i.downsamplers.0.conv,
 *    output_blocks.k (k = u·(L+1) + j) <-> up_blocks.u.{resnets,attentions}.j, the upsampler at
 *    output_blocks.u·(L+1)+L.{1|2}.conv, middle_block.{0,1,2} <-> mid_block.{resnets.0,attentions.0,
 *    resnets.1}, resnet parts (renew_resnet_paths), time/label embeddings, out.{0,2}.
 *  - convert_ldm_vae_checkpoint: decoder.up.i <-> decoder.up_blocks.(n-1-i), nin_shortcut <->
 *    conv_shortcut, mid.attn_1.{norm,q,k,v,proj_out} <-> mid_block.attentions.0.{group_norm,to_q,
 *    to_k,to_v,to_out.0} (conv 1x1 [C,C,1,1] vs Linear [C,C]), norm_out <-> conv_norm_out.
 *  - convert_open_clip_checkpoint: open_clip resblocks <-> CLIPEncoderLayer names. */
#include "workers/sdxl/diffusers_names.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/tensor/backend.h"

/* ---- small parsers ---- */

static int eat(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0)
        return 0;
    *s += n;
    return 1;
}

/* "<digits>." -> *v; advances past the dot. */
static int num(const char **s, int *v)
{
    const char *p = *s;
    if (*p < '0' || *p > '9')
        return 0;
    char *end = NULL;
    long x = strtol(p, &end, 10);
    if (!end || *end != '.' || x < 0 || x > 100000)
        return 0;
    *v = (int)x;
    *s = end + 1;
    return 1;
}

static int put(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? OV_ERANGE : 1;
}

typedef struct pair {
    const char *dfs, *sgm;
} pair;

/* Find the pair whose side (dir 0: diffusers, 1: sgm) prefixes *s; advance past it. */
static const char *swap(const pair *t, size_t n, int to_sgm, const char **s)
{
    for (size_t i = 0; i < n; i++)
        if (eat(s, to_sgm ? t[i].dfs : t[i].sgm))
            return to_sgm ? t[i].sgm : t[i].dfs;
    return NULL;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const pair UNET_RES[] = {
    {"norm1.", "in_layers.0."},  {"conv1.", "in_layers.2."},  {"time_emb_proj.", "emb_layers.1."},
    {"norm2.", "out_layers.0."}, {"conv2.", "out_layers.3."}, {"conv_shortcut.", "skip_connection."},
};
static const pair UNET_TOP[] = {
    {"conv_in.", "input_blocks.0.0."},
    {"time_embedding.linear_1.", "time_embed.0."},
    {"time_embedding.linear_2.", "time_embed.2."},
    {"add_embedding.linear_1.", "label_emb.0.0."},
    {"add_embedding.linear_2.", "label_emb.0.2."},
    {"conv_norm_out.", "out.0."},
    {"conv_out.", "out.2."},
};
static const pair VAE_RES[] = {
    {"conv_shortcut.", "nin_shortcut."},
    {"norm1.", "norm1."},
    {"conv1.", "conv1."},
    {"norm2.", "norm2."},
    {"conv2.", "conv2."},
};
/* The first five are what diffusers writes; the rest are older diffusers' attention names. */
static const pair VAE_ATTN[] = {
    {"group_norm.", "norm."},    {"to_q.", "q."},  {"to_k.", "k."}, {"to_v.", "v."},
    {"to_out.0.", "proj_out."},  {"query.", "q."}, {"key.", "k."},  {"value.", "v."},
    {"proj_attn.", "proj_out."},
};
static const pair TE2_LAYER[] = {
    {"layer_norm1.", "ln_1."},
    {"layer_norm2.", "ln_2."},
    {"self_attn.out_proj.", "attn.out_proj."},
    {"self_attn.q_proj.", "attn.q_proj."},
    {"self_attn.k_proj.", "attn.k_proj."},
    {"self_attn.v_proj.", "attn.v_proj."},
    {"mlp.fc1.", "mlp.c_fc."},
    {"mlp.fc2.", "mlp.c_proj."},
};

/* ---- UNet ---- */

static int unet_to_sgm(const ov_sdxl_dfs_layout *L, const char *s, char *out, size_t cap)
{
    const char *r = s;
    const char *to = swap(UNET_TOP, N(UNET_TOP), 1, &r);
    if (to)
        return put(out, cap, "unet.%s%s", to, r);
    int i, j, P = L->unet_layers + 1;
    if (L->unet_layers < 1)
        return 0;
    if (eat(&r, "down_blocks.") && num(&r, &i)) {
        if (eat(&r, "resnets.") && num(&r, &j) && (to = swap(UNET_RES, N(UNET_RES), 1, &r)))
            return put(out, cap, "unet.input_blocks.%d.0.%s%s", 1 + i * P + j, to, r);
        if (eat(&r, "attentions.") && num(&r, &j))
            return put(out, cap, "unet.input_blocks.%d.1.%s", 1 + i * P + j, r);
        if (eat(&r, "downsamplers.0.conv."))
            return put(out, cap, "unet.input_blocks.%d.0.op.%s", (i + 1) * P, r);
        return 0;
    }
    r = s;
    if (eat(&r, "mid_block.")) {
        if (eat(&r, "resnets.") && num(&r, &j) && j < 2 && (to = swap(UNET_RES, N(UNET_RES), 1, &r)))
            return put(out, cap, "unet.middle_block.%d.%s%s", 2 * j, to, r);
        if (eat(&r, "attentions.0."))
            return put(out, cap, "unet.middle_block.1.%s", r);
        return 0;
    }
    r = s;
    if (eat(&r, "up_blocks.") && num(&r, &i)) {
        if (eat(&r, "resnets.") && num(&r, &j) && (to = swap(UNET_RES, N(UNET_RES), 1, &r)))
            return put(out, cap, "unet.output_blocks.%d.0.%s%s", i * P + j, to, r);
        if (eat(&r, "attentions.") && num(&r, &j))
            return put(out, cap, "unet.output_blocks.%d.1.%s", i * P + j, r);
        if (eat(&r, "upsamplers.0.conv."))
            return put(out, cap, "unet.output_blocks.%d.%d.conv.%s", i * P + L->unet_layers,
                       i < 32 && (L->unet_up_attn >> i) & 1u ? 2 : 1, r);
    }
    return 0;
}

static int unet_to_dfs(const ov_sdxl_dfs_layout *L, const char *s, char *out, size_t cap)
{
    const char *r = s;
    const char *to = swap(UNET_TOP, N(UNET_TOP), 0, &r);
    if (to)
        return put(out, cap, "unet.%s%s", to, r);
    int k, sub, P = L->unet_layers + 1;
    if (L->unet_layers < 1)
        return 0;
    if (eat(&r, "input_blocks.") && num(&r, &k) && k >= 1 && num(&r, &sub)) {
        if (sub == 0 && eat(&r, "op."))
            return k % P ? 0 : put(out, cap, "unet.down_blocks.%d.downsamplers.0.conv.%s", k / P - 1, r);
        int i = (k - 1) / P, j = (k - 1) % P;
        if (sub == 0 && (to = swap(UNET_RES, N(UNET_RES), 0, &r)))
            return put(out, cap, "unet.down_blocks.%d.resnets.%d.%s%s", i, j, to, r);
        if (sub == 1)
            return put(out, cap, "unet.down_blocks.%d.attentions.%d.%s", i, j, r);
        return 0;
    }
    r = s;
    if (eat(&r, "middle_block.") && num(&r, &sub)) {
        if ((sub == 0 || sub == 2) && (to = swap(UNET_RES, N(UNET_RES), 0, &r)))
            return put(out, cap, "unet.mid_block.resnets.%d.%s%s", sub / 2, to, r);
        if (sub == 1)
            return put(out, cap, "unet.mid_block.attentions.0.%s", r);
        return 0;
    }
    r = s;
    if (eat(&r, "output_blocks.") && num(&r, &k) && num(&r, &sub)) {
        int u = k / P, j = k % P;
        if (sub == 0 && (to = swap(UNET_RES, N(UNET_RES), 0, &r)))
            return put(out, cap, "unet.up_blocks.%d.resnets.%d.%s%s", u, j, to, r);
        if ((sub == 1 || sub == 2) && eat(&r, "conv."))
            return put(out, cap, "unet.up_blocks.%d.upsamplers.0.conv.%s", u, r);
        if (sub == 1)
            return put(out, cap, "unet.up_blocks.%d.attentions.%d.%s", u, j, r);
    }
    return 0;
}

/* ---- VAE ---- */

static int vae_to_sgm(const ov_sdxl_dfs_layout *L, const char *s, char *out, size_t cap)
{
    const char *r = s;
    const char *side = eat(&r, "encoder.") ? "encoder" : eat(&r, "decoder.") ? "decoder" : NULL;
    if (!side)
        return 0;
    const char *to;
    int i, j;
    if (eat(&r, "conv_norm_out."))
        return put(out, cap, "vae.%s.norm_out.%s", side, r);
    const char *b = r;
    if (eat(&r, "mid_block.")) {
        if (eat(&r, "resnets.") && num(&r, &j) && j < 2 && (to = swap(VAE_RES, N(VAE_RES), 1, &r)))
            return put(out, cap, "vae.%s.mid.block_%d.%s%s", side, j + 1, to, r);
        if (eat(&r, "attentions.0.") && (to = swap(VAE_ATTN, N(VAE_ATTN), 1, &r)))
            return put(out, cap, "vae.%s.mid.attn_1.%s%s", side, to, r);
        return 0;
    }
    r = b;
    int dec = side[0] == 'd';
    if (eat(&r, dec ? "up_blocks." : "down_blocks.") && num(&r, &i)) {
        int lv = dec ? L->vae_levels - 1 - i : i;
        if (lv < 0)
            return 0;
        const char *lvl = dec ? "up" : "down";
        if (eat(&r, "resnets.") && num(&r, &j) && (to = swap(VAE_RES, N(VAE_RES), 1, &r)))
            return put(out, cap, "vae.%s.%s.%d.block.%d.%s%s", side, lvl, lv, j, to, r);
        if (eat(&r, dec ? "upsamplers.0.conv." : "downsamplers.0.conv."))
            return put(out, cap, "vae.%s.%s.%d.%s.conv.%s", side, lvl, lv, dec ? "upsample" : "downsample",
                       r);
    }
    return 0;
}

static int vae_to_dfs(const ov_sdxl_dfs_layout *L, const char *s, char *out, size_t cap)
{
    const char *r = s;
    const char *side = eat(&r, "encoder.") ? "encoder" : eat(&r, "decoder.") ? "decoder" : NULL;
    if (!side)
        return 0;
    const char *to;
    int i, j;
    if (eat(&r, "norm_out."))
        return put(out, cap, "vae.%s.conv_norm_out.%s", side, r);
    const char *b = r;
    if (eat(&r, "mid.")) {
        if (eat(&r, "block_") && num(&r, &j) && (j == 1 || j == 2) && (to = swap(VAE_RES, N(VAE_RES), 0, &r)))
            return put(out, cap, "vae.%s.mid_block.resnets.%d.%s%s", side, j - 1, to, r);
        if (eat(&r, "attn_1.") && (to = swap(VAE_ATTN, 5, 0, &r)))
            return put(out, cap, "vae.%s.mid_block.attentions.0.%s%s", side, to, r);
        return 0;
    }
    r = b;
    int dec = side[0] == 'd';
    if (eat(&r, dec ? "up." : "down.") && num(&r, &i)) {
        int k = dec ? L->vae_levels - 1 - i : i;
        if (k < 0)
            return 0;
        const char *blk = dec ? "up_blocks" : "down_blocks";
        if (eat(&r, "block.") && num(&r, &j) && (to = swap(VAE_RES, N(VAE_RES), 0, &r)))
            return put(out, cap, "vae.%s.%s.%d.resnets.%d.%s%s", side, blk, k, j, to, r);
        if (eat(&r, dec ? "upsample.conv." : "downsample.conv."))
            return put(out, cap, "vae.%s.%s.%d.%s.0.conv.%s", side, blk, k,
                       dec ? "upsamplers" : "downsamplers", r);
        return 0;
    }
    r = b;
    if (eat(&r, "conv_in.") || eat(&r, "conv_out."))
        return put(out, cap, "vae.%s.%s", side, b);
    return 0;
}

/* ---- text encoders ---- */

static int te2_to_sgm(const char *s, char *out, size_t cap)
{
    const char *r = s;
    int n;
    if (eat(&r, "text_projection."))
        return 0; /* te2.text_projection.weight: [proj, width], transposed by clip_g.c */
    eat(&r, "text_model.");
    if (eat(&r, "embeddings.token_embedding."))
        return put(out, cap, "te2.token_embedding.%s", r);
    if (strcmp(r, "embeddings.position_embedding.weight") == 0)
        return put(out, cap, "te2.positional_embedding");
    if (eat(&r, "final_layer_norm."))
        return put(out, cap, "te2.ln_final.%s", r);
    const char *to;
    if (eat(&r, "encoder.layers.") && num(&r, &n) && (to = swap(TE2_LAYER, N(TE2_LAYER), 1, &r)))
        return put(out, cap, "te2.transformer.resblocks.%d.%s%s", n, to, r);
    return 0;
}

static int te2_to_dfs(const char *s, char *out, size_t cap)
{
    const char *r = s;
    int n;
    if (eat(&r, "text_projection.weight"))
        return put(out, cap, "te2.text_projection.weight");
    if (eat(&r, "token_embedding."))
        return put(out, cap, "te2.text_model.embeddings.token_embedding.%s", r);
    if (strcmp(r, "positional_embedding") == 0)
        return put(out, cap, "te2.text_model.embeddings.position_embedding.weight");
    if (eat(&r, "ln_final."))
        return put(out, cap, "te2.text_model.final_layer_norm.%s", r);
    const char *to;
    if (eat(&r, "transformer.resblocks.") && num(&r, &n) && (to = swap(TE2_LAYER, N(TE2_LAYER), 0, &r)))
        return put(out, cap, "te2.text_model.encoder.layers.%d.%s%s", n, to, r);
    return 0; /* logit_scale, in_proj_*, text_projection (open_clip): no plain counterpart */
}

int ov_sdxl_diffusers_to_sgm(const ov_sdxl_dfs_layout *L, const char *name, char *out, size_t cap)
{
    const char *r = name;
    if (eat(&r, "unet."))
        return unet_to_sgm(L, r, out, cap);
    if (eat(&r, "vae."))
        return vae_to_sgm(L, r, out, cap);
    if (eat(&r, "te2."))
        return te2_to_sgm(r, out, cap);
    if (eat(&r, "te1."))
        return strncmp(r, "text_model.", 11) == 0 ? 0 : put(out, cap, "te1.text_model.%s", r);
    return 0;
}

int ov_sdxl_sgm_to_diffusers(const ov_sdxl_dfs_layout *L, const char *name, char *out, size_t cap)
{
    const char *r = name;
    if (eat(&r, "unet."))
        return unet_to_dfs(L, r, out, cap);
    if (eat(&r, "vae.")) {
        if (strncmp(r, "encoder.", 8) == 0 || strncmp(r, "decoder.", 8) == 0)
            return vae_to_dfs(L, r, out, cap);
        if (strncmp(r, "quant_conv.", 11) == 0 || strncmp(r, "post_quant_conv.", 16) == 0)
            return put(out, cap, "vae.%s", r);
        return 0;
    }
    if (eat(&r, "te2."))
        return te2_to_dfs(r, out, cap);
    if (eat(&r, "te1.") && eat(&r, "text_model.") && strstr(r, "position_ids") == NULL)
        return put(out, cap, "te1.%s", r);
    return 0;
}

/* ---- structure from names ---- */

/* The number after `prefix` in name (name = prefix + "<n>." ...), else -1. */
static int index_after(const char *name, const char *prefix)
{
    const char *r = name;
    int v;
    return eat(&r, prefix) && num(&r, &v) ? v : -1;
}

int ov_sdxl_dfs_layout_diffusers(const char *const *names, size_t n, ov_sdxl_dfs_layout *L)
{
    *L = (ov_sdxl_dfs_layout){0};
    int down = -1, res = -1, vup = -1;
    for (size_t i = 0; i < n; i++) {
        int v = index_after(names[i], "unet.down_blocks.");
        down = v > down ? v : down;
        v = index_after(names[i], "unet.down_blocks.0.resnets.");
        res = v > res ? v : res;
        v = index_after(names[i], "vae.decoder.up_blocks.");
        vup = v > vup ? v : vup;
        const char *r = names[i];
        int u;
        if (eat(&r, "unet.up_blocks.") && num(&r, &u) && eat(&r, "attentions.") && u < 32)
            L->unet_up_attn |= 1u << u;
    }
    L->unet_levels = down + 1;
    L->unet_layers = res + 1;
    L->vae_levels = vup + 1;
    if ((L->unet_levels > 0) != (L->unet_layers > 0))
        return ov_tensor_fail(OV_EFORMAT, "diffusers UNet: down_blocks.0 has no resnets");
    return 0;
}

int ov_sdxl_dfs_layout_sgm(const char *const *names, size_t n, ov_sdxl_dfs_layout *L)
{
    *L = (ov_sdxl_dfs_layout){0};
    int in = -1, vup = -1, ops = 0;
    for (size_t i = 0; i < n; i++) {
        int v = index_after(names[i], "unet.input_blocks.");
        in = v > in ? v : in;
        v = index_after(names[i], "vae.decoder.up.");
        vup = v > vup ? v : vup;
        const char *r = names[i];
        if (eat(&r, "unet.input_blocks.") && num(&r, &v) && eat(&r, "0.op.weight") && !*r)
            ops++;
    }
    L->vae_levels = vup + 1;
    if (in >= 0) {
        L->unet_levels = ops + 1;
        if ((in + 1) % L->unet_levels || (in + 1) / L->unet_levels < 2)
            return ov_tensor_fail(OV_EFORMAT, "UNet: %d input blocks do not make %d levels", in + 1,
                                  L->unet_levels);
        L->unet_layers = (in + 1) / L->unet_levels - 1;
        int P = L->unet_layers + 1;
        for (size_t i = 0; i < n; i++) {
            const char *r = names[i];
            int k;
            if (eat(&r, "unet.output_blocks.") && num(&r, &k) && eat(&r, "1.") &&
                strncmp(r, "conv.", 5) != 0 && k / P < 32)
                L->unet_up_attn |= 1u << (k / P);
        }
    }
    return 0;
}

/* ---- folders ---- */

static const struct {
    const char *prefix, *dir, *stem, *what;
} COMPS[] = {
    {"te1.", "text_encoder", "model", "CLIP-L text encoder"},
    {"te2.", "text_encoder_2", "model", "OpenCLIP bigG text encoder"},
    {"unet.", "unet", "diffusion_pytorch_model", "UNet"},
    {"vae.", "vae", "diffusion_pytorch_model", "VAE"},
};

const char *ov_sdxl_diffusers_subdir(const char *prefix)
{
    for (size_t i = 0; i < N(COMPS); i++)
        if (strcmp(prefix, COMPS[i].prefix) == 0)
            return COMPS[i].dir;
    return NULL;
}

const char *ov_sdxl_diffusers_stem(const char *prefix)
{
    for (size_t i = 0; i < N(COMPS); i++)
        if (strcmp(prefix, COMPS[i].prefix) == 0)
            return COMPS[i].stem;
    return NULL;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ov_sdxl_is_diffusers_folder(const char *path)
{
    char p[4200];
    if (!path || !is_dir(path))
        return 0;
    snprintf(p, sizeof p, "%.4000s/model_index.json", path);
    if (is_file(p))
        return 1;
    snprintf(p, sizeof p, "%.4000s/unet", path);
    return is_dir(p);
}

static int stored_names_cb(void *ctx, const char *stored, char *out, size_t cap)
{
    return ov_sdxl_diffusers_to_sgm((const ov_sdxl_dfs_layout *)ctx, stored, out, cap);
}

int ov_sdxl_diffusers_open(const char *dir, ov_weights **out, char *err, size_t errlen)
{
    *out = NULL;
    /* Non-variant first (what diffusers loads without variant=), then sharded, then fp16/bf16. */
    static const char *const forms[] = {
        "%s/%s.safetensors",
        "%s/%s.safetensors.index.json",
        "%s/%s.fp16.safetensors",
        "%s/%s.safetensors.index.fp16.json",
        "%s/%s.fp16.safetensors.index.json",
        "%s/%s.bf16.safetensors",
        "%s/%s.safetensors.index.bf16.json",
    };
    char paths[N(COMPS)][4400];
    const char *pp[N(COMPS)], *pre[N(COMPS)];
    for (size_t c = 0; c < N(COMPS); c++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%.4000s/%s", dir, COMPS[c].dir);
        if (!is_dir(sub)) {
            snprintf(err, errlen, "diffusers folder %s has no %s/ (the %s)", dir, COMPS[c].dir,
                     COMPS[c].what);
            return ov_tensor_fail(OV_ENOENT, "%s", err);
        }
        int found = 0;
        for (size_t f = 0; f < N(forms) && !found; f++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            snprintf(paths[c], sizeof paths[c], forms[f], sub, COMPS[c].stem);
#pragma GCC diagnostic pop
            found = is_file(paths[c]);
        }
        if (!found) {
            snprintf(err, errlen,
                     "diffusers folder %s: %s/ has no %s.safetensors (nor .fp16/.bf16 variant or "
                     "sharded index)",
                     dir, COMPS[c].dir, COMPS[c].stem);
            return ov_tensor_fail(OV_ENOENT, "%s", err);
        }
        pp[c] = paths[c];
        pre[c] = COMPS[c].prefix;
    }
    ov_weights *w = NULL;
    int rc = ov_weights_open_parts(dir, pp, pre, N(COMPS), &w);
    if (rc) {
        snprintf(err, errlen, "%s", ov_tensor_last_error());
        return rc;
    }
    size_t n = ov_weights_count(w);
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        ov_weights_close(w);
        snprintf(err, errlen, "out of memory");
        return ov_tensor_fail(OV_ENOMEM, "%s", err);
    }
    for (size_t i = 0; i < n; i++)
        names[i] = ov_weights_name_at(w, i); /* as stored (no rename yet) */
    ov_sdxl_dfs_layout L;
    rc = ov_sdxl_dfs_layout_diffusers(names, n, &L);
    free(names);
    if (!rc)
        rc = ov_weights_rename(w, stored_names_cb, &L);
    if (rc) {
        snprintf(err, errlen, "%s: %s", dir, ov_tensor_last_error());
        ov_weights_close(w);
        return rc;
    }
    *out = w;
    return 0;
}
