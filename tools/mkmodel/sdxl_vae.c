/* SDXL VAE tensors for ourvidz-mkmodel: the ldm AutoencoderKL keys under first_stage_model.
 *
 * Names and shapes as in real SDXL single-file checkpoints (Stability-AI/generative-models
 * sgm/modules/diffusionmodules/model.py Encoder/Decoder + sgm/models/autoencoder.py quant_conv /
 * post_quant_conv; the same keys diffusers' convert_ldm_vae_checkpoint reads). The attention's
 * q/k/v/proj_out are 1×1 convs [C, C, 1, 1] as in the original sd_xl_base_1.0 file. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

#define P "first_stage_model."
#define VAE_MAX_LEVELS 8

/* snprintf for tensor names (short, bounded; a truncated name is simply not found). Through
 * vsnprintf so the compiler's truncation analysis does not flag the bounded prefixes. */
__attribute__((format(printf, 3, 4))) static void vae_name(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

typedef struct vae_cfg {
    int ch, n_levels, mult[VAE_MAX_LEVELS], n_res, z;
} vae_cfg;

/* A conv's weight ~ N(0, 1/fan_in) (activations stay O(1)) and a small random bias. */
static int conv(ov_mk_list *l, int64_t cout, int64_t cin, int64_t k, const char *name)
{
    int rc = ov_mk_weight(l, 1.0f / sqrtf((float)(cin * k * k)), cout, cin, k, k, P "%s.weight", name);
    return rc ? rc : ov_mk_bias(l, cout, P "%s.bias", name);
}

static int norm(ov_mk_list *l, int64_t c, const char *name)
{
    int rc = ov_mk_gain(l, c, P "%s.weight", name);
    return rc ? rc : ov_mk_bias(l, c, P "%s.bias", name);
}

/* Formats "<prefix>.<leaf>" into buf (names are short and bounded). */
static const char *nm(char *buf, size_t n, const char *prefix, const char *leaf)
{
    size_t a = strlen(prefix), b = strlen(leaf);
    if (a + 1 + b + 1 > n)
        return "name-too-long";
    memcpy(buf, prefix, a);
    buf[a] = '.';
    memcpy(buf + a + 1, leaf, b + 1);
    return buf;
}

static int resnet(ov_mk_list *l, const char *prefix, int64_t cin, int64_t cout)
{
    char b[160];
    int rc = norm(l, cin, nm(b, sizeof b, prefix, "norm1"));
    if (!rc)
        rc = conv(l, cout, cin, 3, nm(b, sizeof b, prefix, "conv1"));
    if (!rc)
        rc = norm(l, cout, nm(b, sizeof b, prefix, "norm2"));
    if (!rc)
        rc = conv(l, cout, cout, 3, nm(b, sizeof b, prefix, "conv2"));
    if (!rc && cin != cout)
        rc = conv(l, cout, cin, 1, nm(b, sizeof b, prefix, "nin_shortcut"));
    return rc;
}

/* mid: block_1, attn_1 (norm, q, k, v, proj_out), block_2 */
static int mid(ov_mk_list *l, const char *side, int64_t c)
{
    char p[96], b[160];
    int rc = 0;
    static const char *const attn[] = {"q", "k", "v", "proj_out"};
    vae_name(p, sizeof p, "%s.mid.block_1", side);
    rc = resnet(l, p, c, c);
    vae_name(p, sizeof p, "%s.mid.attn_1", side);
    if (!rc)
        rc = norm(l, c, nm(b, sizeof b, p, "norm"));
    for (int i = 0; i < 4 && !rc; i++)
        rc = conv(l, c, c, 1, nm(b, sizeof b, p, attn[i]));
    vae_name(p, sizeof p, "%s.mid.block_2", side);
    if (!rc)
        rc = resnet(l, p, c, c);
    return rc;
}

static int encoder(ov_mk_list *l, const vae_cfg *c)
{
    char p[96];
    int rc = conv(l, c->ch, 3, 3, "encoder.conv_in");
    int64_t block_in = c->ch;
    for (int i = 0; i < c->n_levels && !rc; i++) {
        int64_t block_out = (int64_t)c->ch * c->mult[i];
        for (int j = 0; j < c->n_res && !rc; j++) {
            vae_name(p, sizeof p, "encoder.down.%d.block.%d", i, j);
            rc = resnet(l, p, block_in, block_out);
            block_in = block_out;
        }
        if (!rc && i != c->n_levels - 1) {
            vae_name(p, sizeof p, "encoder.down.%d.downsample.conv", i);
            rc = conv(l, block_in, block_in, 3, p);
        }
    }
    if (!rc)
        rc = mid(l, "encoder", block_in);
    if (!rc)
        rc = norm(l, block_in, "encoder.norm_out");
    if (!rc)
        rc = conv(l, 2 * c->z, block_in, 3, "encoder.conv_out");
    return rc;
}

static int decoder(ov_mk_list *l, const vae_cfg *c)
{
    char p[96];
    int64_t block_in = (int64_t)c->ch * c->mult[c->n_levels - 1];
    int rc = conv(l, block_in, c->z, 3, "decoder.conv_in");
    if (!rc)
        rc = mid(l, "decoder", block_in);
    for (int i = c->n_levels - 1; i >= 0 && !rc; i--) {
        int64_t block_out = (int64_t)c->ch * c->mult[i];
        for (int j = 0; j < c->n_res + 1 && !rc; j++) {
            vae_name(p, sizeof p, "decoder.up.%d.block.%d", i, j);
            rc = resnet(l, p, block_in, block_out);
            block_in = block_out;
        }
        if (!rc && i != 0) {
            vae_name(p, sizeof p, "decoder.up.%d.upsample.conv", i);
            rc = conv(l, block_in, block_in, 3, p);
        }
    }
    if (!rc)
        rc = norm(l, block_in, "decoder.norm_out");
    if (!rc)
        rc = conv(l, 3, block_in, 3, "decoder.conv_out");
    return rc;
}

int ov_mk_sdxl_vae(ov_mk_list *l, const char *preset)
{
    vae_cfg c;
    if (strcmp(preset, "tiny") == 0)
        c = (vae_cfg){32, 4, {1, 2, 2, 2}, 2, 4};
    else if (strcmp(preset, "full") == 0)
        c = (vae_cfg){128, 4, {1, 2, 4, 4}, 2, 4};
    else
        return OV_EINVAL;
    int rc = encoder(l, &c);
    if (!rc)
        rc = decoder(l, &c);
    if (!rc)
        rc = conv(l, 2 * c.z, 2 * c.z, 1, "quant_conv");
    if (!rc)
        rc = conv(l, c.z, c.z, 1, "post_quant_conv");
    return rc;
}
