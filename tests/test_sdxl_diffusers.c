/* SDXL diffusers folders (workers/sdxl/diffusers_names.c, the pipeline's folder load path).
 * The tiny single file (ourvidz-mkmodel sdxl --preset tiny) is written out as a diffusers folder by
 * this test with its own sgm -> diffusers translation (plus the two data changes: te2's packed
 * in_proj split into q/k/v, its text_projection transposed into a Linear weight; the VAE
 * attention 1x1 convs saved as Linear [C, C]). That folder must list exactly the tensor names,
 * dtypes and shapes diffusers' save_pretrained writes for the same model
 * (tests/golden/sdxl/diffusers_listing.txt.gz, made by tests/golden/sdxl/make_diffusers.py), so
 * the layout is the real one; then the pipeline loaded from the folder must give the same bytes as
 * the single file (images, float pixels and latents of a 2-step CFG run: tolerance 0, the weights
 * are the same f32 values and the compute is the same). A folder without unet/ is refused naming
 * it; a unet stored only as the .fp16 variant file name, or as shards + index.json, is found. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/formats/safetensors.h"
#include "common/model/weights.h"
#include "common/tensor/dtype.h"
#include "workers/sdxl/diffusers_names.h"
#include "workers/sdxl/pipeline.h"

static char g_dir[] = "/tmp/ov_sdxl_dfs_XXXXXX";
static char g_single[600], g_folder[600];

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static const char *const PREFIXES[] = {"te1.", "te2.", "unet.", "vae."};

/* ---- writing a diffusers folder from the single file ---- */

typedef struct otensor {
    char name[256];
    int ndim;
    int64_t shape[4];
    float *data;
} otensor;

typedef struct olist {
    otensor *v;
    size_t n, cap;
} olist;

static otensor *push(olist *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    otensor *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Canonical name -> the diffusers name inside the component file (our prefix stripped). */
static void dfs_name(const ov_sdxl_dfs_layout *L, const char *prefix, const char *canon, char *out,
                     size_t cap)
{
    char full[300];
    int rc = ov_sdxl_sgm_to_diffusers(L, canon, full, sizeof full);
    ck_assert_msg(rc == 1, "no diffusers name for %s (%d)", canon, rc);
    ck_assert(strncmp(full, prefix, strlen(prefix)) == 0);
    snprintf(out, cap, "%s", full + strlen(prefix));
}

static int write_component(ov_weights *w, const ov_sdxl_dfs_layout *L, const char *prefix, const char *folder,
                           const char *file_stem_suffix)
{
    olist l = {0};
    size_t np = strlen(prefix);
    for (size_t i = 0; i < ov_weights_count(w); i++) {
        const char *canon = ov_weights_name_at(w, i);
        if (strncmp(canon, prefix, np) != 0)
            continue;
        ov_weight_info info;
        ck_assert_int_eq(ov_weights_info(w, canon, &info), 0);
        int64_t n = 1;
        for (int d = 0; d < info.ndim; d++)
            n *= info.shape[d];
        float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
        ck_assert_ptr_nonnull(v);
        int layer, end = 0;
        char which[8] = "";
        if (info.dtype == OV_DTYPE_I64 || info.dtype == OV_DTYPE_I32) { /* position_ids: not in diffusers */
            free(v);
            continue;
        }
        ck_assert_int_eq(ov_weights_read_f32(w, canon, v, n), 0);
        if (sscanf(canon, "te2.transformer.resblocks.%d.attn.in_proj_%7[a-z]%n", &layer, which, &end) == 2 &&
            !canon[end]) {
            /* nn.MultiheadAttention packs rows [q; k; v]: diffusers' convert_open_clip_checkpoint splits */
            int64_t W = info.shape[0] / 3, per = n / 3;
            const char *qkv = "qkv";
            for (int p = 0; p < 3; p++) {
                char c[200];
                snprintf(c, sizeof c, "te2.transformer.resblocks.%d.attn.%c_proj.%s", layer, qkv[p], which);
                otensor *t = push(&l);
                dfs_name(L, prefix, c, t->name, sizeof t->name);
                t->ndim = info.ndim;
                t->shape[0] = W;
                t->shape[1] = info.ndim > 1 ? info.shape[1] : 0;
                t->data = malloc((size_t)per * sizeof(float));
                ck_assert_ptr_nonnull(t->data);
                memcpy(t->data, v + p * per, (size_t)per * sizeof(float));
            }
            free(v);
            continue;
        }
        if (strcmp(canon, "te2.text_projection") == 0) {
            /* open_clip x @ P, P [W, proj]; HF Linear weight [proj, W] = P^T */
            int64_t W = info.shape[0], Pd = info.shape[1];
            otensor *t = push(&l);
            dfs_name(L, prefix, "te2.text_projection.weight", t->name, sizeof t->name);
            t->ndim = 2;
            t->shape[0] = Pd;
            t->shape[1] = W;
            t->data = malloc((size_t)n * sizeof(float));
            ck_assert_ptr_nonnull(t->data);
            for (int64_t a = 0; a < W; a++)
                for (int64_t b = 0; b < Pd; b++)
                    t->data[b * W + a] = v[a * Pd + b];
            free(v);
            continue;
        }
        char full[300];
        int rc = ov_sdxl_sgm_to_diffusers(L, canon, full, sizeof full);
        ck_assert_int_ge(rc, 0);
        if (rc == 0) { /* no diffusers counterpart: te2.logit_scale */
            ck_assert_msg(strcmp(canon, "te2.logit_scale") == 0, "%s dropped", canon);
            free(v);
            continue;
        }
        otensor *t = push(&l);
        snprintf(t->name, sizeof t->name, "%s", full + np);
        t->ndim = info.ndim;
        for (int d = 0; d < info.ndim; d++)
            t->shape[d] = info.shape[d];
        /* diffusers' VAE attention is Linear: [C, C, 1, 1] saved as [C, C] (same bytes) */
        if (strstr(full, "mid_block.attentions.0.to_") && info.ndim == 4 && info.shape[2] == 1 &&
            info.shape[3] == 1)
            t->ndim = 2;
        t->data = v;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", folder, ov_sdxl_diffusers_subdir(prefix));
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s%s.safetensors", folder, ov_sdxl_diffusers_subdir(prefix),
             ov_sdxl_diffusers_stem(prefix), file_stem_suffix);
    ov_st_wtensor *wt = calloc(l.n, sizeof *wt);
    ck_assert_ptr_nonnull(wt);
    for (size_t i = 0; i < l.n; i++)
        wt[i] = (ov_st_wtensor){.name = l.v[i].name,
                                .dtype = OV_DTYPE_F32,
                                .n_dims = l.v[i].ndim,
                                .shape = l.v[i].shape,
                                .data = l.v[i].data};
    char err[512] = "";
    int rc = ov_st_write(path, wt, l.n, NULL, 0, err, sizeof err);
    ck_assert_msg(rc == 0, "write %s: %s", path, err);
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].data);
    free(l.v);
    free(wt);
    return 0;
}

static void write_model_index(const char *folder)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/model_index.json", folder);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\n  \"_class_name\": \"StableDiffusionXLPipeline\",\n  \"force_zeros_for_empty_prompt\": true,\n"
          "  \"scheduler\": [\"diffusers\", \"EulerDiscreteScheduler\"],\n"
          "  \"text_encoder\": [\"transformers\", \"CLIPTextModel\"],\n"
          "  \"text_encoder_2\": [\"transformers\", \"CLIPTextModelWithProjection\"],\n"
          "  \"tokenizer\": [\"transformers\", \"CLIPTokenizer\"],\n"
          "  \"tokenizer_2\": [\"transformers\", \"CLIPTokenizer\"],\n"
          "  \"unet\": [\"diffusers\", \"UNet2DConditionModel\"],\n"
          "  \"vae\": [\"diffusers\", \"AutoencoderKL\"]\n}\n",
          f);
    fclose(f);
}

static void write_folder(const char *single, const char *folder)
{
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(single, &w), 0);
    ck_assert_int_eq(ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL), 0);
    size_t n = ov_weights_count(w);
    const char **names = malloc(n * sizeof *names);
    ck_assert_ptr_nonnull(names);
    for (size_t i = 0; i < n; i++)
        names[i] = ov_weights_name_at(w, i);
    ov_sdxl_dfs_layout L;
    ck_assert_int_eq(ov_sdxl_dfs_layout_sgm(names, n, &L), 0);
    free(names);
    mkdir(folder, 0755);
    for (size_t c = 0; c < 4; c++)
        write_component(w, &L, PREFIXES[c], folder, "");
    write_model_index(folder);
    ov_weights_close(w);
}

static void setup_once(void)
{
    if (!mkdtemp(g_dir))
        abort();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/ourvidz-mkmodel sdxl --preset tiny --out %s/single > /dev/null",
             env_or("OURVIDZ_BIN_DIR", "bin"), g_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_sdxl_diffusers: %s failed\n", cmd);
        abort();
    }
    snprintf(g_single, sizeof g_single, "%s/single/model.safetensors", g_dir);
    snprintf(g_folder, sizeof g_folder, "%s/dfs", g_dir);
    write_folder(g_single, g_folder);
}

static void teardown_once(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", g_dir);
}

/* ---- names ---- */

/* The tiny model has the full model's block counts (3 levels, 2 resnets per level, attention in
 * the two deeper levels), so these are also real SDXL base names. */
START_TEST(names_known_pairs)
{
    ov_sdxl_dfs_layout L = {.unet_levels = 3, .unet_layers = 2, .unet_up_attn = 3u, .vae_levels = 4};
    static const char *const pairs[][2] = {
        {"unet.down_blocks.0.resnets.1.norm1.weight", "unet.input_blocks.2.0.in_layers.0.weight"},
        {"unet.down_blocks.1.resnets.0.conv_shortcut.bias", "unet.input_blocks.4.0.skip_connection.bias"},
        {"unet.down_blocks.1.attentions.1.transformer_blocks.0.attn1.to_q.weight",
         "unet.input_blocks.5.1.transformer_blocks.0.attn1.to_q.weight"},
        {"unet.down_blocks.1.downsamplers.0.conv.weight", "unet.input_blocks.6.0.op.weight"},
        {"unet.down_blocks.2.resnets.1.time_emb_proj.weight", "unet.input_blocks.8.0.emb_layers.1.weight"},
        {"unet.mid_block.resnets.1.conv2.weight", "unet.middle_block.2.out_layers.3.weight"},
        {"unet.mid_block.attentions.0.proj_in.weight", "unet.middle_block.1.proj_in.weight"},
        {"unet.up_blocks.0.upsamplers.0.conv.weight", "unet.output_blocks.2.2.conv.weight"},
        {"unet.up_blocks.1.attentions.2.norm.weight", "unet.output_blocks.5.1.norm.weight"},
        {"unet.up_blocks.2.resnets.2.norm2.bias", "unet.output_blocks.8.0.out_layers.0.bias"},
        {"unet.time_embedding.linear_2.weight", "unet.time_embed.2.weight"},
        {"unet.add_embedding.linear_1.bias", "unet.label_emb.0.0.bias"},
        {"unet.conv_norm_out.weight", "unet.out.0.weight"},
        {"unet.conv_in.weight", "unet.input_blocks.0.0.weight"},
        {"vae.decoder.up_blocks.0.resnets.0.conv1.weight", "vae.decoder.up.3.block.0.conv1.weight"},
        {"vae.decoder.up_blocks.2.upsamplers.0.conv.bias", "vae.decoder.up.1.upsample.conv.bias"},
        {"vae.encoder.down_blocks.1.resnets.0.conv_shortcut.weight",
         "vae.encoder.down.1.block.0.nin_shortcut.weight"},
        {"vae.encoder.down_blocks.0.downsamplers.0.conv.weight", "vae.encoder.down.0.downsample.conv.weight"},
        {"vae.decoder.mid_block.attentions.0.to_out.0.weight", "vae.decoder.mid.attn_1.proj_out.weight"},
        {"vae.encoder.mid_block.attentions.0.group_norm.bias", "vae.encoder.mid.attn_1.norm.bias"},
        {"vae.encoder.mid_block.resnets.1.norm2.weight", "vae.encoder.mid.block_2.norm2.weight"},
        {"vae.decoder.conv_norm_out.weight", "vae.decoder.norm_out.weight"},
        {"vae.decoder.conv_in.weight", "vae.decoder.conv_in.weight"},
        {"vae.post_quant_conv.weight", "vae.post_quant_conv.weight"},
        {"te2.text_model.encoder.layers.1.mlp.fc2.bias", "te2.transformer.resblocks.1.mlp.c_proj.bias"},
        {"te2.text_model.encoder.layers.0.layer_norm1.weight", "te2.transformer.resblocks.0.ln_1.weight"},
        {"te2.text_model.encoder.layers.0.self_attn.k_proj.weight",
         "te2.transformer.resblocks.0.attn.k_proj.weight"},
        {"te2.text_model.embeddings.position_embedding.weight", "te2.positional_embedding"},
        {"te2.text_model.final_layer_norm.bias", "te2.ln_final.bias"},
        {"te2.text_projection.weight", "te2.text_projection.weight"},
        {"te1.encoder.layers.2.self_attn.q_proj.weight",
         "te1.text_model.encoder.layers.2.self_attn.q_proj.weight"},
    };
    char out[300];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int rc = ov_sdxl_diffusers_to_sgm(&L, pairs[i][0], out, sizeof out);
        ck_assert_msg(rc >= 0, "%s: %d", pairs[i][0], rc);
        ck_assert_msg(strcmp(rc ? out : pairs[i][0], pairs[i][1]) == 0, "%s -> %s, want %s", pairs[i][0],
                      rc ? out : pairs[i][0], pairs[i][1]);
        rc = ov_sdxl_sgm_to_diffusers(&L, pairs[i][1], out, sizeof out);
        ck_assert_msg(rc == 1 && strcmp(out, pairs[i][0]) == 0, "%s -> %s, want %s", pairs[i][1],
                      rc ? out : "-", pairs[i][0]);
    }
    /* Older transformers keep text_encoder's text_model. wrapper: kept as it is (canonical). */
    ck_assert_int_eq(ov_sdxl_diffusers_to_sgm(&L, "te1.text_model.final_layer_norm.weight", out, sizeof out),
                     0);
    /* Older diffusers VAE attention names. */
    ck_assert_int_eq(
        ov_sdxl_diffusers_to_sgm(&L, "vae.decoder.mid_block.attentions.0.proj_attn.bias", out, sizeof out),
        1);
    ck_assert_str_eq(out, "vae.decoder.mid.attn_1.proj_out.bias");
    ck_assert_int_eq(ov_sdxl_diffusers_to_sgm(&L, "unet.conv_in.weight", out, 8), OV_ERANGE);
}
END_TEST

/* A different structure (4 levels, 1 resnet per down block, attention in up level 1 only): the
 * numbering follows the counts, and the counts are read back from either side's names. */
START_TEST(names_follow_structure)
{
    static const char *const sgm[] = {
        "unet.input_blocks.0.0.weight",
        "unet.input_blocks.1.0.in_layers.0.weight",
        "unet.input_blocks.2.0.op.weight",
        "unet.input_blocks.3.0.in_layers.0.weight",
        "unet.input_blocks.3.1.norm.weight",
        "unet.input_blocks.4.0.op.weight",
        "unet.input_blocks.5.0.in_layers.0.weight",
        "unet.input_blocks.6.0.op.weight",
        "unet.input_blocks.7.0.in_layers.0.weight",
        "unet.output_blocks.1.1.conv.weight",
        "unet.output_blocks.2.0.in_layers.0.weight",
        "unet.output_blocks.2.1.norm.weight",
        "unet.output_blocks.3.2.conv.weight",
        "vae.decoder.up.1.block.0.conv1.weight",
        "vae.decoder.up.0.block.0.conv1.weight",
    };
    size_t n = sizeof sgm / sizeof sgm[0];
    ov_sdxl_dfs_layout L, D;
    ck_assert_int_eq(ov_sdxl_dfs_layout_sgm(sgm, n, &L), 0);
    ck_assert_int_eq(L.unet_levels, 4);
    ck_assert_int_eq(L.unet_layers, 1);
    ck_assert_uint_eq(L.unet_up_attn, 2u);
    ck_assert_int_eq(L.vae_levels, 2);
    char dfs[16][300];
    const char *dp[16];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(ov_sdxl_sgm_to_diffusers(&L, sgm[i], dfs[i], sizeof dfs[i]), 1);
        dp[i] = dfs[i];
    }
    ck_assert_str_eq(dfs[2], "unet.down_blocks.0.downsamplers.0.conv.weight");
    ck_assert_str_eq(dfs[7], "unet.down_blocks.2.downsamplers.0.conv.weight");
    ck_assert_str_eq(dfs[8], "unet.down_blocks.3.resnets.0.norm1.weight");
    ck_assert_str_eq(dfs[9], "unet.up_blocks.0.upsamplers.0.conv.weight");
    ck_assert_str_eq(dfs[11], "unet.up_blocks.1.attentions.0.norm.weight");
    ck_assert_str_eq(dfs[12], "unet.up_blocks.1.upsamplers.0.conv.weight");
    ck_assert_str_eq(dfs[13], "vae.decoder.up_blocks.0.resnets.0.conv1.weight");
    ck_assert_str_eq(dfs[14], "vae.decoder.up_blocks.1.resnets.0.conv1.weight");
    ck_assert_int_eq(ov_sdxl_dfs_layout_diffusers(dp, n, &D), 0);
    ck_assert_int_eq(D.unet_levels, 4);
    ck_assert_int_eq(D.unet_layers, 1);
    ck_assert_uint_eq(D.unet_up_attn, 2u);
    ck_assert_int_eq(D.vae_levels, 2);
    char back[300];
    for (size_t i = 0; i < n; i++) {
        int rc = ov_sdxl_diffusers_to_sgm(&D, dfs[i], back, sizeof back);
        ck_assert_msg(strcmp(rc ? back : dfs[i], sgm[i]) == 0, "%s -> %s, want %s", dfs[i], back, sgm[i]);
    }
}
END_TEST

/* ---- the folder ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folder this test wrote lists exactly what diffusers' save_pretrained writes. */
START_TEST(folder_matches_diffusers_listing)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/tests/golden/sdxl/diffusers_listing.txt.gz", env_or("OURVIDZ_SOURCE_DIR", "."));
    gzFile g = gzopen(p, "rb");
    ck_assert_msg(g != NULL, "cannot open %s", p);
    char **want = NULL;
    size_t nw = 0, cw = 0;
    char line[1024];
    while (gzgets(g, line, sizeof line)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || !line[0])
            continue;
        if (nw == cw) {
            cw = cw ? 2 * cw : 1024;
            want = realloc(want, cw * sizeof *want);
            ck_assert_ptr_nonnull(want);
        }
        want[nw++] = strdup(line);
    }
    gzclose(g);
    ck_assert_uint_gt(nw, 900);

    char **have = NULL;
    size_t nh = 0, ch = 0;
    for (size_t c = 0; c < 4; c++) {
        char rel[256], path[1200];
        snprintf(rel, sizeof rel, "%s/%s.safetensors", ov_sdxl_diffusers_subdir(PREFIXES[c]),
                 ov_sdxl_diffusers_stem(PREFIXES[c]));
        snprintf(path, sizeof path, "%s/%s", g_folder, rel);
        ov_safetensors *st = NULL;
        char err[512];
        ck_assert_msg(ov_st_open(path, &st, err, sizeof err) == 0, "%s", err);
        for (size_t i = 0; i < ov_st_count(st); i++) {
            const ov_st_tensor *t = ov_st_at(st, i);
            char sh[128] = "";
            size_t o = 0;
            for (int d = 0; d < t->n_dims; d++)
                o += (size_t)snprintf(sh + o, sizeof sh - o, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            if (nh == ch) {
                ch = ch ? 2 * ch : 1024;
                have = realloc(have, ch * sizeof *have);
                ck_assert_ptr_nonnull(have);
            }
            snprintf(line, sizeof line, "%s\t%s\t%s\t%s", rel, t->name, ov_st_dtype_string(t->dtype), sh);
            have[nh++] = strdup(line);
        }
        ov_st_close(st);
    }
    qsort(want, nw, sizeof *want, cmp_str);
    qsort(have, nh, sizeof *have, cmp_str);
    size_t i = 0, j = 0, bad = 0;
    while (i < nw || j < nh) {
        int c = i == nw ? 1 : j == nh ? -1 : strcmp(want[i], have[j]);
        if (c < 0 && bad++ < 8)
            fprintf(stderr, "missing from the C-written folder: %s\n", want[i]);
        if (c > 0 && bad++ < 8)
            fprintf(stderr, "not in diffusers' folder: %s\n", have[j]);
        i += c <= 0;
        j += c >= 0;
    }
    ck_assert_msg(bad == 0 && nw == nh, "%zu listing differences (%zu golden, %zu written)", bad, nw, nh);
    for (i = 0; i < nw; i++)
        free(want[i]);
    for (j = 0; j < nh; j++)
        free(have[j]);
    free(want);
    free(have);
}
END_TEST

static ov_sdxl_pipeline *load(const char *path)
{
    char err[512] = "";
    ov_sdxl_load_opts o = {.model_path = path, .weight_dtype = -1};
    ov_sdxl_pipeline *p = NULL;
    int rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    ck_assert_msg(rc == 0, "load %s: %d %s", path, rc, err);
    return p;
}

static void run(ov_sdxl_pipeline *p, ov_sdxl_result *res)
{
    ov_sdxl_request r = {.prompt = "a photo of a cat",
                         .negative_prompt = "blurry",
                         .steps = 2,
                         .cfg = 6.0,
                         .sampler = OV_SDXL_EULER,
                         .width = 64,
                         .height = 64,
                         .count = 1,
                         .seed = 77,
                         .keep_float = 1};
    char err[512] = "";
    int rc = ov_sdxl_generate(p, &r, NULL, NULL, res, err, sizeof err);
    ck_assert_msg(rc == 0, "generate: %d %s", rc, err);
}

static void same_images(const char *a_path, const char *b_path)
{
    ov_sdxl_pipeline *a = load(a_path);
    ov_sdxl_result ra;
    run(a, &ra);
    int64_t wa = ov_sdxl_pipeline_info(a)->weight_bytes;
    ov_sdxl_pipeline_free(a);
    ov_sdxl_pipeline *b = load(b_path);
    ov_sdxl_result rb;
    run(b, &rb);
    ck_assert_int_eq(ov_sdxl_pipeline_info(b)->weight_bytes, wa);
    ov_sdxl_pipeline_free(b);
    size_t npx = (size_t)ra.count * (size_t)ra.width * (size_t)ra.height * 3;
    size_t nlat = (size_t)ra.count * 4 * (size_t)(ra.width / 8) * (size_t)(ra.height / 8);
    ck_assert_int_eq(rb.width, ra.width);
    ck_assert_int_eq(rb.height, ra.height);
    ck_assert_int_eq(memcmp(ra.latents, rb.latents, nlat * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(ra.pixels, rb.pixels, npx * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(ra.rgb, rb.rgb, npx), 0);
    ov_sdxl_result_free(&ra);
    ov_sdxl_result_free(&rb);
}

/* The folder loads into the same model: identical bytes, not just close. */
START_TEST(folder_gives_identical_images)
{
    same_images(g_single, g_folder);
}
END_TEST

/* A folder with the other components (symlinked) but `skip` left out, and, when variant is set,
 * its unet file only under the .fp16 variant name. */
static void partial_folder(char *out, size_t cap, const char *name, const char *skip, int fp16_unet)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    ck_assert_int_eq(mkdir(out, 0755), 0);
    char a[1400], b[1400];
    static const char *const items[] = {"model_index.json", "text_encoder", "text_encoder_2", "unet", "vae"};
    for (size_t i = 0; i < 5; i++) {
        if (skip && strcmp(items[i], skip) == 0)
            continue;
        snprintf(a, sizeof a, "%s/%s", g_folder, items[i]);
        snprintf(b, sizeof b, "%s/%s", out, items[i]);
        if (fp16_unet && strcmp(items[i], "unet") == 0) {
            ck_assert_int_eq(mkdir(b, 0755), 0);
            snprintf(a, sizeof a, "%s/unet/diffusion_pytorch_model.safetensors", g_folder);
            snprintf(b, sizeof b, "%s/unet/diffusion_pytorch_model.fp16.safetensors", out);
        }
        ck_assert_int_eq(symlink(a, b), 0);
    }
}

START_TEST(folder_without_unet_is_refused)
{
    char dir[700];
    partial_folder(dir, sizeof dir, "nounet", "unet", 0);
    char err[512] = "";
    ov_sdxl_load_opts o = {.model_path = dir, .weight_dtype = -1};
    ov_sdxl_pipeline *p = NULL;
    int rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    ck_assert_int_eq(rc, OV_ENOENT);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err, "unet/") && strstr(err, "UNet") && strstr(err, dir), "message: %s", err);
    /* and a unet/ folder without a weights file */
    char u[800];
    snprintf(u, sizeof u, "%s/unet", dir);
    ck_assert_int_eq(mkdir(u, 0755), 0);
    rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    ck_assert_int_eq(rc, OV_ENOENT);
    ck_assert_msg(strstr(err, "diffusion_pytorch_model"), "message: %s", err);
}
END_TEST

/* unet/diffusion_pytorch_model.fp16.safetensors (the variant name; its data is f32 here) is found
 * and gives the same model. */
START_TEST(fp16_variant_name_is_found)
{
    char dir[700];
    partial_folder(dir, sizeof dir, "fp16", NULL, 1);
    ov_weights *w = NULL;
    char err[512] = "";
    ck_assert_msg(ov_sdxl_diffusers_open(dir, &w, err, sizeof err) == 0, "%s", err);
    ck_assert(ov_weights_has(w, "unet.output_blocks.2.2.conv.weight"));
    ck_assert(ov_weights_has(w, "vae.decoder.mid.attn_1.q.weight"));
    ov_weight_info info;
    ck_assert_int_eq(ov_weights_info(w, "unet.input_blocks.0.0.weight", &info), 0);
    ck_assert_ptr_nonnull(strstr(info.file_name, "conv_in.weight"));
    ov_weights_close(w);
    ov_sdxl_pipeline *p = load(dir);
    ov_sdxl_pipeline_free(p);
}
END_TEST

/* unet/ as two shards + diffusion_pytorch_model.safetensors.index.json (how large UNets ship). */
START_TEST(sharded_unet_is_found)
{
    char dir[700], src[1200], path[1400];
    partial_folder(dir, sizeof dir, "sharded", "unet", 0);
    snprintf(path, sizeof path, "%s/unet", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(src, sizeof src, "%s/unet/diffusion_pytorch_model.safetensors", g_folder);
    ov_safetensors *st = NULL;
    char err[512] = "";
    ck_assert_msg(ov_st_open(src, &st, err, sizeof err) == 0, "%s", err);
    size_t n = ov_st_count(st), half = n / 2;
    ov_st_wtensor *wt = calloc(n, sizeof *wt);
    void **data = calloc(n, sizeof *data);
    const char **names = calloc(n, sizeof *names), **files = calloc(n, sizeof *files);
    ck_assert(wt && data && names && files);
    static const char *const shard[2] = {"diffusion_pytorch_model-00001-of-00002.safetensors",
                                         "diffusion_pytorch_model-00002-of-00002.safetensors"};
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const ov_st_tensor *t = ov_st_at(st, i);
        data[i] = malloc(t->n_bytes ? t->n_bytes : 1);
        ck_assert_ptr_nonnull(data[i]);
        ck_assert_int_eq(ov_st_read(st, t, data[i], t->n_bytes, err, sizeof err), 0);
        wt[i] = (ov_st_wtensor){
            .name = t->name, .dtype = t->dtype, .n_dims = t->n_dims, .shape = t->shape, .data = data[i]};
        names[i] = t->name;
        files[i] = shard[i >= half];
        total += t->n_bytes;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/unet/%s", dir, shard[k]);
        size_t a = k ? half : 0, b = k ? n : half;
        ck_assert_msg(ov_st_write(path, wt + a, b - a, NULL, 0, err, sizeof err) == 0, "%s", err);
    }
    snprintf(path, sizeof path, "%s/unet/diffusion_pytorch_model.safetensors.index.json", dir);
    ck_assert_msg(ov_st_write_index(path, names, files, n, total, err, sizeof err) == 0, "%s", err);
    for (size_t i = 0; i < n; i++)
        free(data[i]);
    free(data);
    free(wt);
    free(names);
    free(files);
    ov_st_close(st);

    ov_weights *w = NULL, *ref = NULL;
    ck_assert_msg(ov_sdxl_diffusers_open(dir, &w, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(ov_sdxl_diffusers_open(g_folder, &ref, err, sizeof err), 0);
    ck_assert_uint_eq(ov_weights_count(w), ov_weights_count(ref));
    /* every tensor found (the count), the model loads (needs all), probes equal the one-file folder */
    static const char *const probe[] = {"unet.input_blocks.0.0.weight", "unet.out.2.weight",
                                        "unet.output_blocks.2.2.conv.weight"};
    for (size_t i = 0; i < 3; i++) {
        ov_weight_info info;
        ck_assert_int_eq(ov_weights_info(w, probe[i], &info), 0);
        int64_t m = 1;
        for (int d = 0; d < info.ndim; d++)
            m *= info.shape[d];
        float *x = malloc((size_t)m * 4), *y = malloc((size_t)m * 4);
        ck_assert(x && y);
        ck_assert_int_eq(ov_weights_read_f32(w, probe[i], x, m), 0);
        ck_assert_int_eq(ov_weights_read_f32(ref, probe[i], y, m), 0);
        ck_assert_int_eq(memcmp(x, y, (size_t)m * 4), 0);
        free(x);
        free(y);
    }
    ov_weights_close(w);
    ov_weights_close(ref);
    ov_sdxl_pipeline_free(load(dir));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sdxl_diffusers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_add_test(tc, names_known_pairs);
    tcase_add_test(tc, names_follow_structure);
    tcase_add_test(tc, folder_matches_diffusers_listing);
    tcase_add_test(tc, folder_gives_identical_images);
    tcase_add_test(tc, folder_without_unet_is_refused);
    tcase_add_test(tc, fp16_variant_name_is_found);
    tcase_add_test(tc, sharded_unet_is_found);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
