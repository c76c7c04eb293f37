/* SDXL text-to-image and image-to-image pipeline: load once; per request encode the prompts (and the
 * init image), run the CFG batch loop, decode. */
#include "pipeline.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/image/rgb8.h"
#include "common/model/weights.h"
#include "common/rng.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/ops.h"
#include "common/text/tok_clip.h"
#include "workers/sdxl/diffusers_names.h"
#include "workers/sdxl/sdxl_text.h"
#include "workers/sdxl/unet.h"
#include "workers/sdxl/vae.h"

#define MIB ((size_t)1 << 20)
#define HASH_BYTES ((size_t)1 << 20)

struct ov_sdxl_pipeline {
    ov_backend *be;
    ov_mem mem;
    ov_tok_clip *tok;
    ov_sdxl_text *te;
    ov_sdxl_unet *unet;
    ov_sdxl_vae *vae;
    ov_sdxl_model_info info;
    int context_dim, pooled_dim, adm_dim, time_dim;
    void *img[2];   /* decode_all's two f32 image buffers (pinned when the backend can), kept */
    size_t img_cap; /* bytes each */
    int img_pinned; /* img[] from the backend's host_alloc */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- load ---- */

/* FNV-1a over the file's first MiB (the safetensors header and the first tensors): cheap, stable,
 * and different for different checkpoints in practice. A folder hashes its path. */
static void model_hash(const char *path, char out[16])
{
    uint64_t h = 0;
    struct stat st;
    FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
    if (f) {
        unsigned char *buf = malloc(HASH_BYTES);
        size_t n = buf ? fread(buf, 1, HASH_BYTES, f) : 0;
        h = ov_hash64(buf ? buf : (const unsigned char *)"", n);
        free(buf);
        fclose(f);
    } else {
        h = ov_hash64(path, strlen(path));
    }
    snprintf(out, 16, "%010llx", (unsigned long long)(h >> 24));
}

/* The checkpoint file a folder path stands for (a folder with one .safetensors, as
 * ov_weights_open accepts it, e.g. <models_dir>/sdxl/model.safetensors), else the path itself. */
static void checkpoint_file(const char *path, char *out, size_t cap)
{
    struct stat st;
    snprintf(out, cap, "%s", path);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    int n = 0;
    char found[512] = "";
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 12 && strcmp(e->d_name + l - 12, ".safetensors") == 0 && n++ == 0)
            snprintf(found, sizeof found, "%s", e->d_name);
    }
    closedir(d);
    if (n == 1)
        snprintf(out, cap, "%.3500s/%s", path, found);
}

/* The CLIP merges file: the explicit path, the standard places (ov_tok_clip_load_default), next to
 * the model, then relative to the executable (PREFIX/bin or PREFIX/lib/ourvidz -> PREFIX/share/
 * ourvidz/clip; a build tree's build/bin -> the source copy in common/text/data). */
static int load_tokenizer(const ov_sdxl_load_opts *o, ov_tok_clip **tok, char *err, size_t errlen)
{
    const char *fname = "bpe_simple_vocab_16e6.txt.gz";
    if (o->merges_path && *o->merges_path) {
        int rc = ov_tok_clip_load(tok, o->merges_path);
        return rc ? fail(err, errlen, rc, "cannot load the CLIP merges file %s (%s)", o->merges_path,
                         ov_strerror(rc))
                  : 0;
    }
    int rc = ov_tok_clip_load_default(tok);
    if (rc != OV_ENOENT)
        return rc ? fail(err, errlen, rc, "cannot load the CLIP merges file (%s)", ov_strerror(rc)) : 0;
    char cand[4][4096];
    int nc = 0;
    const char *slash = strrchr(o->model_path, '/');
    if (slash)
        snprintf(cand[nc++], sizeof cand[0], "%.*s/%s", (int)(slash - o->model_path), o->model_path, fname);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *s = strrchr(exe, '/');
        if (s) {
            *s = '\0';
            snprintf(cand[nc++], sizeof cand[0], "%.3000s/../share/ourvidz/clip/%s", exe, fname);
            snprintf(cand[nc++], sizeof cand[0], "%.3000s/../../share/ourvidz/clip/%s", exe, fname);
            snprintf(cand[nc++], sizeof cand[0], "%.3000s/../../common/text/data/%s", exe, fname);
        }
    }
    for (int i = 0; i < nc; i++) {
        rc = ov_tok_clip_load(tok, cand[i]);
        if (rc != OV_ENOENT)
            return rc ? fail(err, errlen, rc, "cannot load the CLIP merges file %s (%s)", cand[i],
                             ov_strerror(rc))
                      : 0;
    }
    return fail(err, errlen, OV_ENOENT,
                "CLIP merges file %s not found: set OURVIDZ_CLIP_MERGES (the file) or OURVIDZ_DATA_DIR (with "
                "clip/%s)",
                fname, fname);
}

/* Tensors every SDXL single-file checkpoint has, one per component: a file without them is not
 * SDXL (or not the sgm layout), and saying which is missing beats a shape error deep inside. */
static int check_layout(ov_weights *w, char *err, size_t errlen)
{
    static const char *const need[][2] = {
        {"unet.input_blocks.0.0.weight", "model.diffusion_model.input_blocks.0.0.weight (UNet)"},
        {"te1.text_model.embeddings.token_embedding.weight",
         "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight (CLIP-L)"},
        {"te2.token_embedding.weight",
         "conditioner.embedders.1.model.token_embedding.weight (OpenCLIP bigG)"},
        {"vae.decoder.conv_in.weight", "first_stage_model.decoder.conv_in.weight (VAE)"},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!ov_weights_has(w, need[i][0]))
            return fail(err, errlen, OV_EFORMAT,
                        "%s is not an SDXL checkpoint (sgm single file or diffusers folder): tensor %s is missing",
                        ov_weights_path(w), need[i][1]);
    return 0;
}

int ov_sdxl_pipeline_load(const ov_sdxl_load_opts *o, ov_sdxl_pipeline **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->model_path || !*o->model_path)
        return fail(err, errlen, OV_EINVAL, "no SDXL model path given");
    double t0 = now_ms();
    ov_sdxl_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return fail(err, errlen, OV_ENOMEM, "out of memory");
    ov_weights *w = NULL;
    int rc = ov_backend_open(o->backend_kind, o->device, &p->be);
    if (rc) {
        fail(err, errlen, rc, "cannot open the compute backend: %s", ov_tensor_last_error());
        goto bad;
    }
    ov_mem_init(&p->mem, p->be, o->budget_bytes);
    if ((rc = load_tokenizer(o, &p->tok, err, errlen)))
        goto bad;
    if (ov_sdxl_is_diffusers_folder(o->model_path)) {
        /* A diffusers folder: its four component files under canonical names (diffusers_names.c). */
        if ((rc = ov_sdxl_diffusers_open(o->model_path, &w, err, errlen)))
            goto bad;
    } else if ((rc = ov_weights_open(o->model_path, &w))) {
        fail(err, errlen, rc, "%s", ov_tensor_last_error());
        goto bad;
    } else if ((rc = ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL))) {
        fail(err, errlen, rc, "%s: cannot apply the SDXL name layout", o->model_path);
        goto bad;
    }
    if ((rc = check_layout(w, err, errlen)))
        goto bad;
    const char *what = "text encoders";
    /* -1: float weights in the backend's activation dtype where it computes in 16 bits (CUDA: an
     * f16 checkpoint's matrices become bf16 once at load instead of at every op), else as stored */
    const int wd = o->weight_dtype == -1 ? OV_WEIGHTS_DTYPE_ACT : o->weight_dtype;
    rc = ov_sdxl_text_load(w, &p->mem, wd, &p->te);
    if (!rc) {
        what = "UNet";
        rc = ov_sdxl_unet_load(w, &p->mem, wd, &p->unet);
    }
    if (!rc) {
        what = "VAE";
        rc = ov_sdxl_vae_load(w, &p->mem, wd, &p->vae);
    }
    if (rc) {
        fail(err, errlen, rc, "cannot load the SDXL %s: %s", what, ov_tensor_last_error());
        goto bad;
    }
    ov_weights_close(w);
    w = NULL;

    const ov_sdxl_text_info *ti = ov_sdxl_text_get_info(p->te);
    const ov_sdxl_unet_info *ui = ov_sdxl_unet_get_info(p->unet);
    p->context_dim = ti->context_dim;
    p->pooled_dim = ti->pooled_dim;
    p->adm_dim = ui->adm_in_channels;
    p->time_dim = (p->adm_dim - p->pooled_dim) / 6;
    if (ui->context_dim != ti->context_dim || p->time_dim < 1 ||
        p->pooled_dim + 6 * p->time_dim != p->adm_dim ||
        ui->in_channels != ov_sdxl_vae_latent_channels(p->vae) || ui->out_channels != ui->in_channels) {
        rc = fail(err, errlen, OV_EFORMAT,
                  "%s: components do not fit together (text context %d vs UNet %d; pooled %d + 6 time ids vs "
                  "ADM %d; "
                  "UNet in/out %d/%d vs VAE latent %d)",
                  o->model_path, ti->context_dim, ui->context_dim, p->pooled_dim, p->adm_dim, ui->in_channels,
                  ui->out_channels, ov_sdxl_vae_latent_channels(p->vae));
        goto bad;
    }
    ov_sdxl_model_info *in = &p->info;
    char file[4096];
    checkpoint_file(o->model_path, file, sizeof file);
    const char *base = strrchr(file, '/');
    base = base && base[1] ? base + 1 : file;
    snprintf(in->file_name, sizeof in->file_name, "%.127s", base);
    model_hash(file, in->hash);
    snprintf(in->model_id, sizeof in->model_id, "%.120s@%s", in->file_name, in->hash);
    in->vae_factor = ov_sdxl_vae_factor(p->vae);
    in->latent_align = in->vae_factor * (1 << (ui->n_levels - 1));
    in->weight_bytes = (int64_t)p->mem.used_bytes;
    in->backend = p->be->name;
    in->load_s = (now_ms() - t0) / 1e3;
    *out = p;
    return 0;
bad:
    ov_weights_close(w);
    ov_sdxl_pipeline_free(p);
    return rc;
}

static void img_bufs_free(ov_sdxl_pipeline *p);

void ov_sdxl_pipeline_free(ov_sdxl_pipeline *p)
{
    if (!p)
        return;
    if (p->te)
        ov_sdxl_text_free(p->te, &p->mem);
    if (p->unet)
        ov_sdxl_unet_free(p->unet, &p->mem);
    if (p->vae)
        ov_sdxl_vae_free(p->vae, &p->mem);
    ov_tok_clip_free(p->tok);
    if (p->be)
        img_bufs_free(p); /* before the backend closes: its host_free */
    if (p->be)
        ov_backend_close(p->be);
    free(p);
}

const ov_sdxl_model_info *ov_sdxl_pipeline_info(const ov_sdxl_pipeline *p)
{
    return &p->info;
}

/* ---- validation ---- */

int ov_sdxl_request_validate(const ov_sdxl_pipeline *p, const ov_sdxl_request *r, char *err, size_t errlen)
{
    if (!r->prompt)
        return fail(err, errlen, OV_EINVAL, "prompt is required (an empty string is allowed)");
    if (r->steps < 1 || r->steps > OV_SDXL_STEPS_MAX)
        return fail(err, errlen, OV_EINVAL, "steps must be 1..%d (got %d)", OV_SDXL_STEPS_MAX, r->steps);
    if (!(r->cfg > 0.0) || !(r->cfg <= OV_SDXL_CFG_MAX))
        return fail(err, errlen, OV_EINVAL, "cfg (guidance scale) must be > 0 and <= %g (got %g)",
                    OV_SDXL_CFG_MAX, r->cfg);
    if (r->sampler < 0 || r->sampler >= OV_SDXL_SAMPLER_COUNT)
        return fail(err, errlen, OV_EINVAL,
                    "unknown sampler (use euler, euler_a, dpmpp_2m or dpmpp_2m_karras)");
    if (r->count < 1 || r->count > OV_SDXL_COUNT_MAX)
        return fail(err, errlen, OV_EINVAL, "count (num_images) must be 1..%d (got %d)", OV_SDXL_COUNT_MAX,
                    r->count);
    if (r->init_image && (!(r->strength >= 0.0) || !(r->strength <= 1.0)))
        return fail(err, errlen, OV_EINVAL,
                    "denoise strength must be in [0, 1] for image-to-image (got %g)", r->strength);
    const int dims[2] = {r->width, r->height};
    const char *names[2] = {"width", "height"};
    int align = p ? p->info.latent_align : 8;
    for (int i = 0; i < 2; i++) {
        if (dims[i] < 8 || dims[i] > OV_SDXL_SIZE_MAX)
            return fail(err, errlen, OV_EINVAL, "%s must be 8..%d (got %d)", names[i], OV_SDXL_SIZE_MAX,
                        dims[i]);
        if (dims[i] % 8)
            return fail(err, errlen, OV_EINVAL, "%s must be a multiple of 8 (got %d)", names[i], dims[i]);
        if (dims[i] % align)
            return fail(
                err, errlen, OV_EINVAL,
                "%s must be a multiple of %d for this model (VAE factor 8 × UNet down-sampling; got %d)",
                names[i], align, dims[i]);
    }
    return 0;
}

/* ---- memory planning ---- */

/* Conservative activation estimate for one UNet forward (workers/sdxl/unet.c keeps every input
 * block output as a skip, ping-pongs two buffers on the output side sized for the largest
 * activation, and a SpatialTransformer block holds about a dozen [L, C] tensors plus its GEGLU
 * [L, 8C]). Per sample, in floats: skips Σ 3·c·P + ping-pong 2·max(c·P at the upsampled size) +
 * the worst transient (concat + ResBlock temporaries + transformer block); ×1.5 margin. */
size_t ov_sdxl_pipeline_unet_bytes(const ov_sdxl_pipeline *p, int64_t batch, int64_t h, int64_t w,
                                   int64_t ctx_len)
{
    const ov_sdxl_unet_info *u = ov_sdxl_unet_get_info(p->unet);
    double P0 = (double)h * (double)w, skips = 0, pp = 0, worst = 0;
    for (int l = 0; l < u->n_levels; l++) {
        double c = (double)u->model_channels * u->channel_mult[l];
        double P = P0 / (double)(1 << (2 * l));
        double up = l > 0 ? c * P * 4 : c * P; /* an upsample output at the next finer level */
        skips += 3.0 * c * P;
        pp = fmax(pp, up);
        int depth =
            l == u->n_levels - 1 ? (u->depth[l] > u->mid_depth ? u->depth[l] : u->mid_depth) : u->depth[l];
        double st = depth > 0 ? 24.0 * c * P + 4.0 * c * (double)ctx_len : 0;
        double res = 3.0 * c * P /* concat */ + 6.0 * c * P /* norm, conv, skip temporaries */;
        worst = fmax(worst, st + res + up);
    }
    double per = skips + 2.0 * pp + worst;
    double emb = 8.0 * u->time_embed_dim + u->adm_in_channels;
    double bytes = 1.5 * 4.0 * (double)batch * (per + emb) + 4.0 * (double)MIB;
    return bytes > 9e18 ? SIZE_MAX : (size_t)bytes;
}

static size_t text_arena_bytes(const ov_sdxl_pipeline *p, size_t chunks)
{
    const ov_sdxl_text_info *ti = ov_sdxl_text_get_info(p->te);
    int wmax = ti->te1_hidden > ti->te2_hidden ? ti->te1_hidden : ti->te2_hidden;
    /* outputs (context, pooled, ADM), three [77, w] streams, a block's temporaries (qkv, MLP 4w) */
    size_t per_chunk = (size_t)OV_CLIP_CTX * (size_t)p->context_dim * 4;
    size_t block = (size_t)OV_CLIP_CTX * (size_t)wmax * 4 * 24;
    return 2 * (chunks * per_chunk + block) + MIB;
}

/* ---- tensors between host and backend ---- */

/* A new arena tensor of `dtype` holding host f32 data (converted on the backend when dtype is
 * not f32). */
static int put_f32(ov_arena *a, const char *name, int dtype, int ndim, const int64_t *shape, const float *src,
                   ov_tensor *out)
{
    ov_tensor t;
    int rc = ov_arena_tensor(a, &t, name, OV_DTYPE_F32, ndim, shape);
    if (!rc)
        rc = ov_tensor_upload(&t, src, ov_tensor_nbytes(&t));
    if (rc || dtype == OV_DTYPE_F32) {
        *out = t;
        return rc;
    }
    rc = ov_arena_tensor(a, out, name, dtype, ndim, shape);
    return rc ? rc : ov_op_copy(out, &t);
}

/* Download any-dtype tensor t into host f32 dst (n = its element count). Scratch from a. */
static int get_f32(ov_arena *a, const ov_tensor *t, float *dst)
{
    if (t->dtype == OV_DTYPE_F32 && ov_tensor_is_contiguous(t))
        return ov_tensor_download(t, dst, ov_tensor_nbytes(t));
    size_t mark = ov_arena_mark(a);
    ov_tensor f;
    int rc = ov_arena_tensor(a, &f, "to_f32", OV_DTYPE_F32, t->ndim, t->shape);
    if (!rc)
        rc = ov_op_copy(&f, t);
    if (!rc)
        rc = ov_tensor_download(&f, dst, ov_tensor_nbytes(&f));
    ov_arena_release(a, mark);
    return rc;
}

static int64_t first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return (int64_t)i;
    return -1;
}

/* ---- text conditioning ---- */

typedef struct cond {
    float *ctx_pos, *ctx_neg; /* [L, D] each (L = 77·chunks, equal after padding) */
    float *y_pos, *y_neg;     /* [adm] */
    int64_t L;
} cond;

static void cond_free(cond *c)
{
    free(c->ctx_pos);
    free(c->ctx_neg);
    free(c->y_pos);
    free(c->y_neg);
    memset(c, 0, sizeof *c);
}

/* Encode one prompt into host context rows and its ADM vector. zero: the diffusers SDXL empty
 * negative (context and pooled all zeros, L copied from `zero_len`). */
static int encode_one(ov_sdxl_pipeline *p, ov_arena *a, const char *prompt, int emphasis, int zero,
                      int64_t zero_len, const float time_ids[6], float **ctx_out, int64_t *len_out,
                      float **y_out, char *err, size_t errlen)
{
    size_t mark = ov_arena_mark(a);
    ov_tensor ctx, pooled, y;
    size_t nch = 0;
    int64_t D = p->context_dim;
    int rc;
    if (zero) {
        float *zp = calloc((size_t)p->pooled_dim, sizeof *zp);
        rc = zp ? put_f32(a, "pooled_zero", p->be->act_dtype, 2, (int64_t[]){1, p->pooled_dim}, zp, &pooled)
                : OV_ENOMEM;
        free(zp);
        *ctx_out = calloc((size_t)(zero_len * D), sizeof(float));
        *len_out = zero_len;
        if (!rc && !*ctx_out)
            rc = OV_ENOMEM;
    } else {
        ov_backend_phase(p->be, "text");
        rc = ov_sdxl_text_encode(p->te, p->tok, prompt, emphasis, OV_SDXL_PROMPT_CHUNKS, a, &ctx, &pooled,
                                 &nch);
        if (rc == OV_ERANGE) {
            ov_arena_release(a, mark);
            return fail(err, errlen, OV_EINVAL,
                        "prompt too long: more than %d windows of 75 CLIP tokens (%d tokens); shorten it",
                        OV_SDXL_PROMPT_CHUNKS, OV_SDXL_PROMPT_CHUNKS * OV_CLIP_CHUNK);
        }
        if (!rc) {
            *len_out = ctx.shape[1];
            *ctx_out = malloc((size_t)(ctx.shape[1] * D) * sizeof(float));
            rc = *ctx_out ? get_f32(a, &ctx, *ctx_out) : OV_ENOMEM;
        }
    }
    if (!rc)
        rc = ov_sdxl_adm_vector(&pooled, time_ids, p->time_dim, a, &y);
    if (!rc) {
        *y_out = malloc((size_t)p->adm_dim * sizeof(float));
        rc = *y_out ? get_f32(a, &y, *y_out) : OV_ENOMEM;
    }
    ov_arena_release(a, mark);
    if (rc && !(err && err[0]))
        fail(err, errlen, rc, "text encoding failed: %s", ov_tensor_last_error());
    return rc;
}

/* Grow ctx [L, D] to new_len rows by appending copies of `pad` [77, D] (A1111's pad_cond: the
 * shorter of cond/uncond is extended with the encoding of "" window by window). */
static int pad_context(float **ctx, int64_t L, int64_t new_len, const float *pad, int64_t D)
{
    float *n = realloc(*ctx, (size_t)(new_len * D) * sizeof(float));
    if (!n)
        return OV_ENOMEM;
    for (int64_t r = L; r < new_len; r += OV_CLIP_CTX)
        memcpy(n + r * D, pad, (size_t)(OV_CLIP_CTX * D) * sizeof(float));
    *ctx = n;
    return 0;
}

static int encode_prompts(ov_sdxl_pipeline *p, const ov_sdxl_request *r, cond *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const float time_ids[6] = {(float)r->height, (float)r->width, 0.0f, 0.0f,
                               (float)r->height, (float)r->width};
    const int64_t D = p->context_dim;
    ov_arena a;
    int rc = ov_arena_init(&a, &p->mem, "text", text_arena_bytes(p, OV_SDXL_PROMPT_CHUNKS + 1));
    if (rc)
        return fail(err, errlen, rc, "text encoder activations: %s", ov_tensor_last_error());
    int64_t Lp = 0, Ln = 0;
    int neg_zero = !r->negative_prompt || !r->negative_prompt[0];
    rc = encode_one(p, &a, r->prompt, r->emphasis, 0, 0, time_ids, &c->ctx_pos, &Lp, &c->y_pos, err, errlen);
    if (!rc)
        rc = encode_one(p, &a, r->negative_prompt, r->emphasis, neg_zero, Lp, time_ids, &c->ctx_neg, &Ln,
                        &c->y_neg, err, errlen);
    if (!rc && Lp != Ln) {
        float *pad = NULL, *py = NULL;
        int64_t Le = 0;
        rc = encode_one(p, &a, "", 0, 0, 0, time_ids, &pad, &Le, &py, err, errlen);
        if (!rc && Le != OV_CLIP_CTX)
            rc = fail(err, errlen, OV_EINTERNAL, "empty prompt encoded to %lld rows", (long long)Le);
        if (!rc)
            rc =
                Lp < Ln ? pad_context(&c->ctx_pos, Lp, Ln, pad, D) : pad_context(&c->ctx_neg, Ln, Lp, pad, D);
        free(pad);
        free(py);
    }
    c->L = Lp > Ln ? Lp : Ln;
    ov_arena_free(&a);
    if (rc)
        cond_free(c);
    return rc;
}

/* ---- generation ---- */

size_t ov_sdxl_pipeline_arena_bytes(const ov_sdxl_pipeline *p, int images, int cfg, int width, int height,
                                    int64_t ctx_len)
{
    const int64_t lh = height / p->info.vae_factor, lw = width / p->info.vae_factor;
    const int64_t C = ov_sdxl_unet_get_info(p->unet)->in_channels;
    const int64_t B = (int64_t)images * (cfg ? 2 : 1);
    /* batch tensors (x, t, context, y, eps) + the UNet's activations; or one image's decode */
    size_t io = (size_t)(B * (ctx_len * p->context_dim + p->adm_dim + 2 * C * lh * lw + 1)) * 4 + 2 * MIB;
    size_t unet = io + ov_sdxl_pipeline_unet_bytes(p, B, lh, lw, ctx_len);
    size_t vae = ov_sdxl_vae_decode_scratch_bytes(p->vae, lh, lw) +
                 (size_t)(C * lh * lw + 3 * (int64_t)width * height) * 4 * 2 + 2 * MIB;
    return unet > vae ? unet : vae;
}

/* Sub-batch size: as many images per UNet batch as the budget allows, split evenly. */
static int plan_batches(ov_sdxl_pipeline *p, const ov_sdxl_request *r, int64_t L, int cfg_mult,
                        int *per_batch, size_t *capacity, char *err, size_t errlen)
{
    size_t avail = p->mem.budget_bytes > p->mem.used_bytes ? p->mem.budget_bytes - p->mem.used_bytes : 0;
    for (int n_sb = 1; n_sb <= r->count; n_sb++) {
        int b = (r->count + n_sb - 1) / n_sb;
        size_t need = ov_sdxl_pipeline_arena_bytes(p, b, cfg_mult == 2, r->width, r->height, L);
        if (need <= avail) {
            *per_batch = b;
            *capacity = need;
            return 0;
        }
        if (b == 1) {
            return fail(
                err, errlen, OV_EBUDGET,
                "one %dx%d image needs about %zu MiB of activations (a UNet batch of %d), but only %zu MiB "
                "of the worker's memory budget is left after the %zu MiB of weights",
                r->width, r->height, need / MIB, cfg_mult, avail / MIB, p->mem.used_bytes / MIB);
        }
    }
    return fail(err, errlen, OV_EINTERNAL, "batch planning failed");
}

typedef struct job {
    ov_sdxl_pipeline *p;
    const ov_sdxl_request *r;
    ov_sdxl_progress_fn progress;
    void *ud;
    char *err;
    size_t errlen;
    ov_arena arena;
    cond c;
    ov_sdxl_schedule sch;
    int cfg_mult;
    int64_t lh, lw, per; /* latent h, w; floats per image latent */
    float *x;            /* count·per latents */
    float *eps_enc;      /* image-to-image: count·per posterior draws (then consumed) */
    int begin;           /* first schedule step (image-to-image), else 0 */
    ov_rng rng[OV_SDXL_COUNT_MAX];
    int64_t steps_done, steps_total;
} job;

static int report(job *j, const char *phase, int64_t step, int64_t total)
{
    if (j->progress && j->progress(j->ud, phase, step, total))
        return fail(j->err, j->errlen, OV_ECANCELED, "cancelled during %s (%lld of %lld)", phase,
                    (long long)step, (long long)total);
    return 0;
}

/* The sampler loop for images [i0, i0 + nb): one UNet batch of cfg_mult·nb per step
 * ([uncond × nb, cond × nb] as diffusers' torch.cat([latents] * 2)). */
static int denoise(job *j, int i0, int nb, ov_sdxl_result *res)
{
    ov_sdxl_pipeline *p = j->p;
    const int64_t B = (int64_t)nb * j->cfg_mult, per = j->per, L = j->c.L, D = p->context_dim;
    const int64_t C = ov_sdxl_unet_get_info(p->unet)->in_channels;
    const float cfg = (float)j->r->cfg;
    size_t mark = ov_arena_mark(&j->arena);
    float *host = malloc((size_t)(B * per) * 2 * sizeof(float) + (size_t)(nb * per) * sizeof(float));
    float *tv = malloc((size_t)B * sizeof(float));
    ov_sdxl_sampler sp = {0};
    int rc = host && tv ? 0 : OV_ENOMEM;
    float *xin = host, *eps = host + B * per, *noise = eps + B * per;
    ov_tensor x_t, t_t, ctx_t, y_t, out_t;
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &x_t, "x", OV_DTYPE_F32, 4, (int64_t[]){B, C, j->lh, j->lw});
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &t_t, "t", OV_DTYPE_F32, 1, (int64_t[]){B});
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &ctx_t, "context", OV_DTYPE_F32, 3, (int64_t[]){B, L, D});
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &y_t, "y", OV_DTYPE_F32, 2, (int64_t[]){B, p->adm_dim});
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &out_t, "eps", OV_DTYPE_F32, 4, (int64_t[]){B, C, j->lh, j->lw});
    /* the batch's conditioning rows: uncond first (with CFG), then cond */
    for (int64_t b = 0; !rc && b < B; b++) {
        int uncond = j->cfg_mult == 2 && b < nb;
        ov_tensor row;
        rc = ov_tensor_slice(&row, &ctx_t, 0, b, 1);
        if (!rc)
            rc =
                ov_tensor_upload(&row, uncond ? j->c.ctx_neg : j->c.ctx_pos, (size_t)(L * D) * sizeof(float));
        if (!rc)
            rc = ov_tensor_slice(&row, &y_t, 0, b, 1);
        if (!rc)
            rc = ov_tensor_upload(&row, uncond ? j->c.y_neg : j->c.y_pos, (size_t)p->adm_dim * sizeof(float));
    }
    if (rc) {
        if (!j->err[0])
            fail(j->err, j->errlen, rc, "UNet batch setup: %s", ov_tensor_last_error());
        goto out;
    }
    if ((rc = ov_sdxl_sampler_init(&sp, &j->sch, (size_t)(nb * per))) ||
        (j->begin && (rc = ov_sdxl_sampler_begin_at(&sp, j->begin))))
        goto out;
    float *xs = j->x + (int64_t)i0 * per;
    for (int i = j->begin; i < j->sch.steps; i++) {
        double t0 = now_ms();
        /* the first step apart: it carries one-time costs (cuDNN's per-shape algorithm search) */
        ov_backend_phase(p->be, i == j->begin && i0 == 0 ? "unet step 1" : "unet");
        /* scale_model_input: x / √(σ² + 1) (Euler kinds; DPM++ feeds x as is) */
        const float div = ov_sdxl_schedule_input_divisor(&j->sch, i);
        for (int m = 0; m < j->cfg_mult; m++)
            for (int64_t k = 0; k < nb * per; k++)
                xin[m * nb * per + k] = xs[k] / div;
        for (int64_t b = 0; b < B; b++)
            tv[b] = j->sch.timesteps[i];
        rc = ov_tensor_upload(&x_t, xin, (size_t)(B * per) * sizeof(float));
        if (!rc)
            rc = ov_tensor_upload(&t_t, tv, (size_t)B * sizeof(float));
        if (!rc)
            rc = ov_sdxl_unet_forward(p->unet, &j->arena, &x_t, &t_t, &ctx_t, &y_t, &out_t);
        if (!rc)
            rc = ov_tensor_download(&out_t, eps, (size_t)(B * per) * sizeof(float));
        if (rc) {
            fail(j->err, j->errlen, rc, "UNet step %d of %d: %s", i + 1, j->sch.steps,
                 ov_tensor_last_error());
            goto out;
        }
        int64_t bad = first_nonfinite(eps, (size_t)(B * per));
        if (bad >= 0) {
            rc = fail(
                j->err, j->errlen, OV_ERANGE,
                "the UNet produced NaN/Inf at step %d of %d (image %lld of the batch): the checkpoint or its "
                "precision is broken; no image was made",
                i + 1, j->sch.steps, (long long)(i0 + (bad / per) % nb + 1));
            goto out;
        }
        /* noise_pred = uncond + cfg · (text − uncond) */
        if (j->cfg_mult == 2) {
            const float *u = eps, *c = eps + nb * per;
            for (int64_t k = 0; k < nb * per; k++)
                eps[k] = u[k] + cfg * (c[k] - u[k]);
        }
        const float *nz = NULL;
        if (ov_sdxl_sampler_needs_noise(j->sch.kind)) {
            for (int b = 0; b < nb; b++)
                ov_rng_fill_normal(&j->rng[i0 + b], noise + (int64_t)b * per, (size_t)per, 0.0f, 1.0f);
            nz = noise;
        }
        if ((rc = ov_sdxl_sampler_step(&sp, i, eps, xs, nz))) {
            fail(j->err, j->errlen, rc, "sampler step %d failed", i + 1);
            goto out;
        }
        double dt = now_ms() - t0;
        ov_sdxl_timings *tm = &res->t;
        tm->step_ms_min = j->steps_done == 0 || dt < tm->step_ms_min ? dt : tm->step_ms_min;
        tm->step_ms_max = dt > tm->step_ms_max ? dt : tm->step_ms_max;
        tm->step_ms_mean += dt;
        j->steps_done++;
        if ((rc = report(j, "denoise", j->steps_done, j->steps_total)))
            goto out;
    }
    int64_t bad = first_nonfinite(xs, (size_t)(nb * per));
    if (bad >= 0)
        rc = fail(j->err, j->errlen, OV_ERANGE,
                  "NaN/Inf in the final latents of image %lld; no image was made",
                  (long long)(i0 + bad / per + 1));
out:
    ov_sdxl_sampler_free(&sp);
    free(host);
    free(tv);
    ov_arena_release(&j->arena, mark);
    if (rc == OV_ENOMEM && !j->err[0])
        fail(j->err, j->errlen, rc, "out of host memory");
    return rc;
}

/* VAE decode of image idx into host f32 img (3·H·W, planar): z = latents / 0.13025 on the backend,
 * the image downloaded as it comes out of the VAE (the range mapping is post_image's). */
static int decode_gpu(job *j, int idx, float *img, char *err, size_t errlen)
{
    ov_sdxl_pipeline *p = j->p;
    const int64_t C = ov_sdxl_unet_get_info(p->unet)->in_channels, H = j->r->height, W = j->r->width;
    size_t mark = ov_arena_mark(&j->arena);
    float *z = malloc((size_t)j->per * sizeof(float));
    int rc = z ? 0 : OV_ENOMEM;
    ov_tensor zt, it;
    const float *lat = j->x + (int64_t)idx * j->per;
    for (int64_t k = 0; !rc && k < j->per; k++)
        z[k] = lat[k] / OV_SDXL_VAE_SCALING;
    const int dt = p->be->act_dtype;
    if (!rc)
        rc = put_f32(&j->arena, "z", dt, 4, (int64_t[]){1, C, j->lh, j->lw}, z, &zt);
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &it, "image", dt, 4, (int64_t[]){1, 3, H, W});
    /* the first image apart: it carries the one-time conv setup (cuDNN's search per shape) */
    ov_backend_phase(p->be, idx == 0 ? "vae image 1" : "vae");
    if (!rc)
        rc = ov_sdxl_vae_decode(p->vae, &j->arena, &zt, &it);
    if (!rc)
        rc = get_f32(&j->arena, &it, img);
    if (rc)
        fail(err, errlen, rc, "VAE decode of image %d: %s", idx + 1,
             rc == OV_ENOMEM ? "out of memory" : ov_tensor_last_error());
    free(z);
    ov_arena_release(&j->arena, mark);
    return rc;
}

/* Image idx from the VAE's f32 output to the result: image = clamp(x·0.5 + 0.5, 0, 1), then
 * round(·255) (diffusers VaeImageProcessor.denormalize + numpy_to_pil, via ov_image_to_rgb8), the
 * float copy when kept, then r->on_image. Runs on decode_all's helper thread: touches only image
 * idx's part of res and its own err. */
static int post_image(const ov_sdxl_request *r, ov_sdxl_result *res, int idx, const float *img, char *err,
                      size_t errlen)
{
    const int64_t H = r->height, W = r->width;
    if (ov_image_has_nonfinite(img, (size_t)(3 * H * W)))
        return fail(err, errlen, OV_ERANGE,
                    "the VAE produced NaN/Inf for image %d (fp16 overflow or a broken VAE); no image was made",
                    idx + 1);
    int rc = ov_image_to_rgb8(img, (int)W, (int)H, res->rgb + (size_t)idx * (size_t)(3 * H * W));
    if (rc)
        return fail(err, errlen, rc, "image %d: conversion to RGB8 failed", idx + 1);
    if (res->pixels) {
        float *pix = res->pixels + (size_t)idx * (size_t)(3 * H * W);
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int64_t ch = 0; ch < 3; ch++) {
                    float v = img[(ch * H + y) * W + x] * 0.5f + 0.5f;
                    pix[(y * W + x) * 3 + ch] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                }
    }
    if (r->on_image && (rc = r->on_image(r->on_image_ud, res, idx)))
        return fail(err, errlen, rc, "image %d could not be handed on for encoding (%s)", idx + 1,
                    ov_strerror(rc));
    return 0;
}

typedef struct post_job {
    const ov_sdxl_request *r;
    ov_sdxl_result *res;
    int idx;
    const float *img;
    int rc;
    char err[512];
} post_job;

static void *post_run(void *arg)
{
    post_job *q = arg;
    q->rc = post_image(q->r, q->res, q->idx, q->img, q->err, sizeof q->err);
    return NULL;
}

/* Host buffers for two decoded f32 images of `bytes` each, kept on the pipeline across jobs: pinned
 * where the backend offers it (a device-to-host copy at full speed, no page faults), else malloc. */
static int img_bufs(ov_sdxl_pipeline *p, size_t bytes)
{
    if (bytes <= p->img_cap)
        return 0;
    const ov_backend_ops *o = p->be->ops;
    for (int k = 0; k < 2; k++) {
        if (p->img_pinned)
            o->host_free(p->be, p->img[k]);
        else
            free(p->img[k]);
        p->img[k] = NULL;
    }
    p->img_cap = 0;
    p->img_pinned = o->host_alloc && o->host_free;
    for (int k = 0; k < 2; k++) {
        void *q = NULL;
        if (p->img_pinned ? o->host_alloc(p->be, bytes, &q) != 0 || !q : !(q = malloc(bytes)))
            return OV_ENOMEM;
        p->img[k] = q;
    }
    p->img_cap = bytes;
    return 0;
}

static void img_bufs_free(ov_sdxl_pipeline *p)
{
    for (int k = 0; k < 2; k++) {
        if (p->img_pinned && p->img[k])
            p->be->ops->host_free(p->be, p->img[k]);
        else
            free(p->img[k]);
        p->img[k] = NULL;
    }
    p->img_cap = 0;
}

/* Decode every image: the VAE of image i runs on the backend while a helper thread checks, converts
 * and hands on image i - 1 (post_image), so the host work of one image hides behind the next's
 * decode. The first failure (in image order) is the job's. */
static int decode_all(job *j, ov_sdxl_result *res)
{
    ov_sdxl_pipeline *p = j->p;
    const int n = j->r->count;
    int rc = img_bufs(p, (size_t)(3 * j->r->height * j->r->width) * sizeof(float));
    if (rc)
        return fail(j->err, j->errlen, rc, "out of host memory for the decoded images");
    post_job q[2];
    pthread_t tid;
    int running = -1; /* the q slot a helper thread is working on */
    for (int i = 0; i < n && !rc; i++) {
        post_job *cur = &q[i & 1];
        memset(cur, 0, sizeof *cur);
        if (!(rc = report(j, "decode", i, n)))
            rc = decode_gpu(j, i, p->img[i & 1], cur->err, sizeof cur->err);
        if (running >= 0) { /* image i - 1's verdict first: it is the earlier image */
            pthread_join(tid, NULL);
            const post_job *prev = &q[running];
            running = -1;
            if (prev->rc) {
                snprintf(j->err, j->errlen, "%s", prev->err);
                rc = prev->rc;
                break;
            }
        }
        if (rc) {
            if (cur->err[0]) /* report() wrote j->err itself */
                snprintf(j->err, j->errlen, "%s", cur->err);
            break;
        }
        *cur = (post_job){.r = j->r, .res = res, .idx = i, .img = p->img[i & 1]};
        if (pthread_create(&tid, NULL, post_run, cur) == 0) {
            running = i & 1;
        } else if ((rc = post_image(j->r, res, i, cur->img, j->err, j->errlen))) {
            break;
        }
    }
    if (running >= 0) {
        pthread_join(tid, NULL);
        if (!rc && q[running].rc) {
            snprintf(j->err, j->errlen, "%s", q[running].err);
            rc = q[running].rc;
        }
    }
    return rc ? rc : report(j, "decode", n, n);
}

/* Arena bytes the image-to-image encode takes: the VAE encoder's scratch at the image size, the
 * image, mean and logvar (and their f32 copies for download). */
static size_t encode_arena_bytes(const ov_sdxl_pipeline *p, int width, int height)
{
    const int64_t C = ov_sdxl_unet_get_info(p->unet)->in_channels;
    const int64_t lh = height / p->info.vae_factor, lw = width / p->info.vae_factor;
    return ov_sdxl_vae_encode_scratch_bytes(p->vae, height, width) +
           (size_t)(3 * (int64_t)width * height + 2 * C * lh * lw) * 4 * 2 + 2 * MIB;
}

/* StableDiffusionXLImg2ImgPipeline.prepare_latents with one generator per image: the init image
 * (VaeImageProcessor: bytes / 255 → 2x − 1) through the VAE encoder once; image i's latents are
 * scaling · (mean + exp(½·clamp(logvar, −30, 20)) · εᵢ) (DiagonalGaussianDistribution.sample),
 * then scheduler.add_noise at the begin step with its noise (in j->x on entry). */
static int encode_init(job *j)
{
    ov_sdxl_pipeline *p = j->p;
    const ov_sdxl_request *r = j->r;
    const int64_t C = ov_sdxl_unet_get_info(p->unet)->in_channels, H = r->height, W = r->width;
    const int64_t per = j->per;
    size_t mark = ov_arena_mark(&j->arena);
    float *img = malloc((size_t)(3 * H * W) * sizeof(float));
    float *mv = malloc((size_t)per * 2 * sizeof(float));
    float *lat = malloc((size_t)per * sizeof(float));
    int rc = img && mv && lat ? 0 : OV_ENOMEM;
    for (int64_t y = 0; !rc && y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int64_t ch = 0; ch < 3; ch++) {
                float v = (float)r->init_image[(y * W + x) * 3 + ch] / 255.0f;
                img[(ch * H + y) * W + x] = 2.0f * v - 1.0f;
            }
    const int dt = p->be->act_dtype;
    ov_tensor it, mt, lt;
    if (!rc)
        rc = put_f32(&j->arena, "init_image", dt, 4, (int64_t[]){1, 3, H, W}, img, &it);
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &mt, "posterior_mean", dt, 4, (int64_t[]){1, C, j->lh, j->lw});
    if (!rc)
        rc = ov_arena_tensor(&j->arena, &lt, "posterior_logvar", dt, 4, (int64_t[]){1, C, j->lh, j->lw});
    ov_backend_phase(p->be, "vae encode");
    if (!rc)
        rc = ov_sdxl_vae_encode_dist(p->vae, &j->arena, &it, &mt, &lt);
    if (!rc)
        rc = get_f32(&j->arena, &mt, mv);
    if (!rc)
        rc = get_f32(&j->arena, &lt, mv + per);
    if (rc) {
        fail(j->err, j->errlen, rc, "VAE encode of the init image: %s",
             rc == OV_ENOMEM ? "out of memory" : ov_tensor_last_error());
        goto out;
    }
    if (first_nonfinite(mv, (size_t)per * 2) >= 0) {
        rc = fail(j->err, j->errlen, OV_ERANGE,
                  "the VAE encoder produced NaN/Inf for the init image (a broken VAE); no image was made");
        goto out;
    }
    for (int64_t k = 0; k < per; k++) {
        float lv = mv[per + k];
        lv = lv < -30.0f ? -30.0f : lv > 20.0f ? 20.0f : lv;
        mv[per + k] = expf(0.5f * lv); /* std */
    }
    for (int i = 0; i < r->count; i++) {
        const float *e = j->eps_enc + (int64_t)i * per;
        float *xi = j->x + (int64_t)i * per;
        for (int64_t k = 0; k < per; k++)
            lat[k] = OV_SDXL_VAE_SCALING * (mv[k] + mv[per + k] * e[k]);
        ov_sdxl_schedule_add_noise(&j->sch, j->begin, lat, xi, xi, (size_t)per);
    }
out:
    free(img);
    free(mv);
    free(lat);
    ov_arena_release(&j->arena, mark);
    if (rc == OV_ENOMEM && !j->err[0])
        fail(j->err, j->errlen, rc, "out of host memory");
    return rc;
}

int ov_sdxl_generate(ov_sdxl_pipeline *p, const ov_sdxl_request *r, ov_sdxl_progress_fn progress, void *ud,
                     ov_sdxl_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
        err[0] = '\0';
    }
    int rc = ov_sdxl_request_validate(p, r, err, errlen);
    if (rc)
        return rc;
    double t_start = now_ms();
    job j = {.p = p, .r = r, .progress = progress, .ud = ud, .err = err, .errlen = errlen};
    j.cfg_mult = r->cfg > 1.0 ? 2 : 1; /* diffusers: do_classifier_free_guidance = guidance_scale > 1 */
    j.lh = r->height / p->info.vae_factor;
    j.lw = r->width / p->info.vae_factor;
    j.per = (int64_t)ov_sdxl_unet_get_info(p->unet)->in_channels * j.lh * j.lw;
    if ((rc = ov_sdxl_schedule_init(&j.sch, r->sampler, r->steps)))
        return fail(err, errlen, rc, "bad schedule");
    const int i2i = r->init_image != NULL;
    j.begin = i2i ? ov_sdxl_img2img_begin(r->steps, r->strength) : 0;
    if (j.begin < 0)
        return fail(err, errlen, OV_EINVAL, "bad image-to-image strength %g", r->strength);
    out->count = r->count;
    out->width = r->width;
    out->height = r->height;
    const size_t npix = (size_t)r->width * (size_t)r->height * 3;
    out->rgb = malloc(npix * (size_t)r->count);
    j.x = malloc((size_t)(j.per * r->count) * sizeof(float));
    if (i2i && !(j.eps_enc = malloc((size_t)(j.per * r->count) * sizeof(float)))) {
        rc = fail(err, errlen, OV_ENOMEM, "out of host memory for %d images", r->count);
        goto out;
    }
    if (r->keep_float) {
        out->pixels = malloc(npix * (size_t)r->count * sizeof(float));
        out->latents = malloc((size_t)(j.per * r->count) * sizeof(float));
    }
    if (!out->rgb || !j.x || (r->keep_float && (!out->pixels || !out->latents))) {
        rc = fail(err, errlen, OV_ENOMEM, "out of host memory for %d images", r->count);
        goto out;
    }

    /* 1. text: both prompts (the empty negative as zeros), ADM vectors with the size time ids */
    if ((rc = report(&j, "text", 0, 1)))
        goto out;
    double t0 = now_ms();
    if ((rc = encode_prompts(p, r, &j.c, err, errlen)))
        goto out;
    out->t.text_ms = now_ms() - t0;
    if ((rc = report(&j, "text", 1, 1)))
        goto out;

    /* 2. initial noise: image i from its own generator seeded seed + i (image-to-image: its
     * posterior draw first, then the noise add_noise mixes in), times init_noise_sigma for
     * text-to-image */
    for (int i = 0; i < r->count; i++) {
        out->seeds[i] = r->seed + (uint64_t)i;
        ov_rng_seed(&j.rng[i], out->seeds[i]);
        float *xi = j.x + (int64_t)i * j.per;
        if (i2i) {
            float *ei = j.eps_enc + (int64_t)i * j.per;
            if (r->init_image_eps)
                memcpy(ei, r->init_image_eps + (int64_t)i * j.per, (size_t)j.per * sizeof(float));
            else
                ov_rng_fill_normal(&j.rng[i], ei, (size_t)j.per, 0.0f, 1.0f);
        }
        if (r->init_noise)
            memcpy(xi, r->init_noise + (int64_t)i * j.per, (size_t)j.per * sizeof(float));
        else
            ov_rng_fill_normal(&j.rng[i], xi, (size_t)j.per, 0.0f, 1.0f);
        if (!i2i)
            for (int64_t k = 0; k < j.per; k++)
                xi[k] = xi[k] * j.sch.init_noise_sigma;
    }

    /* 3. sampler loop: one UNet batch for all images unless the budget needs sub-batches */
    int per_batch = r->count;
    size_t capacity = 0;
    if ((rc = plan_batches(p, r, j.c.L, j.cfg_mult, &per_batch, &capacity, err, errlen)))
        goto out;
    if (i2i) {
        size_t enc = encode_arena_bytes(p, r->width, r->height);
        capacity = enc > capacity ? enc : capacity;
    }
    if ((rc = ov_arena_init(&j.arena, &p->mem, "sdxl", capacity))) {
        fail(err, errlen, rc, "activations: %s", ov_tensor_last_error());
        goto out;
    }
    if (i2i) {
        t0 = now_ms();
        if ((rc = report(&j, "encode", 0, 1)) || (rc = encode_init(&j)) || (rc = report(&j, "encode", 1, 1)))
            goto out;
        out->t.encode_ms = now_ms() - t0;
    }
    out->begin_step = j.begin;
    out->steps_run = r->steps - j.begin;
    out->batch_images = per_batch;
    out->sub_batches = (r->count + per_batch - 1) / per_batch;
    j.steps_total = (int64_t)out->sub_batches * out->steps_run;
    t0 = now_ms();
    for (int i0 = 0; i0 < r->count; i0 += per_batch) {
        int nb = r->count - i0 < per_batch ? r->count - i0 : per_batch;
        if ((rc = denoise(&j, i0, nb, out)))
            goto out;
    }
    out->t.denoise_ms = now_ms() - t0;
    out->unet_peak_bytes = j.arena.peak_bytes;
    if (j.steps_done)
        out->t.step_ms_mean /= (double)j.steps_done;

    /* 4. decode image by image (the host side of each behind the next one's VAE) */
    t0 = now_ms();
    if ((rc = decode_all(&j, out)))
        goto out;
    out->t.decode_ms = now_ms() - t0;
    if (out->latents)
        memcpy(out->latents, j.x, (size_t)(j.per * r->count) * sizeof(float));
    out->arena_bytes = j.arena.capacity_bytes;
    out->arena_peak_bytes = j.arena.peak_bytes;
    out->t.total_ms = now_ms() - t_start;
out:
    ov_arena_free(&j.arena);
    cond_free(&j.c);
    free(j.x);
    free(j.eps_enc);
    if (rc)
        ov_sdxl_result_free(out);
    return rc;
}

void ov_sdxl_result_free(ov_sdxl_result *r)
{
    free(r->rgb);
    free(r->pixels);
    free(r->latents);
    memset(r, 0, sizeof *r);
}
