/* SDXL conditioning: prompt -> 77-token windows -> CLIP-L ‖ bigG penultimate states (with A1111
 * emphasis), bigG pooled vector, and the ADM vector of pooled text and size/crop ids.
 * References: Stability-AI/generative-models sgm/modules/encoders/modules.py (GeneralConditioner,
 * FrozenCLIPEmbedder layer="hidden" layer_idx=11, FrozenOpenCLIPEmbedder2 layer="penultimate"
 * always_return_pooled), AUTOMATIC1111/stable-diffusion-webui modules/sd_hijack_clip.py (chunks,
 * pooled of the first chunk) and modules/sd_emphasis.py (EmphasisOriginal), diffusers
 * pipeline_stable_diffusion_xl.py (_get_add_time_ids) and unet_2d_condition.py (add_time_proj). */
#include "workers/sdxl/sdxl_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/backend.h"
#include "common/tensor/ops.h"
#include "workers/sdxl/clip_text.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto out;                                                                                        \
    } while (0)

/* More windows than this is a caller mistake (a 256 KiB prompt is far fewer tokens per window). */
#define SDXL_TEXT_MAX_CHUNKS 4096u

struct ov_sdxl_text {
    ov_clip_text te1, te2;
    ov_sdxl_text_info info;
};

int ov_sdxl_text_load(ov_weights *w, ov_mem *mem, int weight_dtype, ov_sdxl_text **out)
{
    *out = NULL;
    ov_sdxl_text *te = calloc(1, sizeof *te);
    if (!te)
        return ov_tensor_fail(OV_ENOMEM, "sdxl text: out of memory");
    int rc = ov_clip_l_load(w, mem, weight_dtype, &te->te1);
    if (!rc)
        rc = ov_clip_g_load(w, mem, weight_dtype, &te->te2);
    if (rc) {
        ov_sdxl_text_free(te, mem);
        return rc;
    }
    te->info = (ov_sdxl_text_info){
        .te1_hidden = te->te1.width,
        .te1_layers = te->te1.layers,
        .te2_hidden = te->te2.width,
        .te2_layers = te->te2.layers,
        .te2_proj = te->te2.proj,
        .context_dim = te->te1.width + te->te2.width,
        .pooled_dim = te->te2.proj,
    };
    *out = te;
    return 0;
}

void ov_sdxl_text_free(ov_sdxl_text *te, ov_mem *mem)
{
    if (!te)
        return;
    ov_clip_text_free(&te->te1, mem);
    ov_clip_text_free(&te->te2, mem);
    free(te);
}

const ov_sdxl_text_info *ov_sdxl_text_get_info(const ov_sdxl_text *te)
{
    return te ? &te->info : NULL;
}

/* Emphasis, A1111 "Original" (modules/sd_emphasis.py EmphasisOriginal.after_transformers), applied
 * to each encoder's chunk output z [1, 77, C] separately (A1111 wraps each SDXL embedder on its own):
 *     original_mean = z.mean()                      over all 77·C elements
 *     z = z * multipliers[:, :, None]               BOS/EOS/padding weigh 1.0
 *     z = z * (original_mean / z.mean())
 * i.e. row t is scaled by w_t · S / Σ_t w_t·s_t with s_t the sum of row t and S = Σ_t s_t. The sums
 * are taken in double on the host (A1111 uses the tensor dtype). Differences: a chunk whose
 * weights are all 1 is left untouched (A1111's ratio is then exactly 1 anyway), and when the
 * weighted sum is 0 or not finite the mean is not restored (A1111 divides by zero). The pooled
 * vector is taken before emphasis, as in A1111 (process_tokens reads z.pooled first). */
static int apply_emphasis(ov_tensor *z, const float *w, ov_arena *a)
{
    int all_one = 1;
    for (int t = 0; t < OV_CLIP_CTX; t++)
        all_one &= w[t] == 1.0f;
    if (all_one)
        return 0;
    const int64_t L = z->shape[1], C = z->shape[2];
    size_t n = (size_t)(L * C);
    float *host = malloc(n * sizeof *host);
    if (!host)
        return ov_tensor_fail(OV_ENOMEM, "sdxl text: out of memory (emphasis)");
    int rc;
    size_t mark = ov_arena_mark(a);
    int64_t s_m[3] = {1, L, 1};
    float mult[OV_CLIP_CTX];
    ov_tensor m, z32 = *z;
    if (z->dtype != OV_DTYPE_F32) { /* a bf16/f16 activation backend: read the sums from an f32 copy */
        TRY(ov_arena_tensor(a, &z32, "emphasis_z", OV_DTYPE_F32, 3, z->shape));
        TRY(ov_op_copy(&z32, z));
    }
    TRY(ov_tensor_download(&z32, host, n * sizeof *host));
    double S = 0.0, Sw = 0.0;
    for (int64_t t = 0; t < L; t++) {
        double s = 0.0;
        for (int64_t c = 0; c < C; c++)
            s += host[t * C + c];
        S += s;
        Sw += (double)w[t] * s;
    }
    double ratio = (Sw != 0.0 && isfinite(S / Sw)) ? S / Sw : 1.0;
    for (int64_t t = 0; t < L; t++)
        mult[t] = (float)((double)w[t] * ratio);
    TRY(ov_arena_tensor(a, &m, "emphasis", z->dtype, 3, s_m));
    TRY(ov_tensor_upload(&m, mult, sizeof mult));
    TRY(ov_op_mul(z, z, &m));
out:
    ov_arena_release(a, mark);
    free(host);
    return rc;
}

/* Copy x [1, 77, C] into ctx[:, 77·chunk + (0..77), off .. off + C). */
static int put_context(ov_tensor *ctx, const ov_tensor *x, size_t chunk, int64_t off)
{
    ov_tensor rows, dst;
    int rc = ov_tensor_slice(&rows, ctx, 1, (int64_t)chunk * OV_CLIP_CTX, OV_CLIP_CTX);
    if (!rc)
        rc = ov_tensor_slice(&dst, &rows, 2, off, x->shape[2]);
    if (!rc)
        rc = ov_op_copy(&dst, x);
    return rc;
}

/* open_clip text_global_pool 'argmax': the first position of the largest id (the first EOS). */
static int64_t eos_index(const int32_t *ids)
{
    int64_t best = 0;
    for (int64_t i = 1; i < OV_CLIP_CTX; i++)
        if (ids[i] > ids[best])
            best = i;
    return best;
}

/* Tokenize the prompt (emphasis-parsed when weighted) into *ids / *wts (wts all 1 when not
 * weighted). More than max_ids tokens: OV_ERANGE. */
static int tokenize(ov_tok_clip *tok, const char *prompt, int weighted, size_t max_ids, ov_tok_ids *ids,
                    float **wts)
{
    size_t n = strlen(prompt);
    ov_tok_ids_init(ids, max_ids + 1);
    *wts = malloc((max_ids + 1) * sizeof **wts);
    if (!*wts)
        return ov_tensor_fail(OV_ENOMEM, "sdxl text: out of memory (weights)");
    int rc = weighted ? ov_tok_clip_encode_weighted(tok, prompt, n, ids, *wts)
                      : ov_tok_clip_encode(tok, prompt, n, ids);
    if (rc == OV_ENOMEM && ids->len > max_ids)
        rc = OV_ERANGE;
    if (!rc && ids->len > max_ids)
        rc = OV_ERANGE;
    if (rc == OV_ERANGE)
        return ov_tensor_fail(OV_ERANGE, "sdxl text: prompt needs more than %zu tokens", max_ids);
    if (rc)
        return ov_tensor_fail(rc, "sdxl text: tokenizing the prompt failed (code %d)", rc);
    if (!weighted)
        for (size_t i = 0; i < ids->len; i++)
            (*wts)[i] = 1.0f;
    return 0;
}

int ov_sdxl_text_encode(ov_sdxl_text *te, ov_tok_clip *tok, const char *prompt, int weighted,
                        size_t max_chunks, ov_arena *arena, ov_tensor *context, ov_tensor *pooled,
                        size_t *n_chunks_out)
{
    if (!te || !tok || !arena || !context || !pooled || max_chunks < 1)
        return ov_tensor_fail(OV_EINVAL, "sdxl text: encode needs a model, tokenizer, arena, outputs and "
                                         "max_chunks >= 1");
    if (n_chunks_out)
        *n_chunks_out = 0;
    if (!prompt)
        prompt = "";
    if (max_chunks > SDXL_TEXT_MAX_CHUNKS)
        max_chunks = SDXL_TEXT_MAX_CHUNKS;
    const ov_clip_text *l = &te->te1, *g = &te->te2;
    const int dt = arena->mem->backend->act_dtype;
    int rc;
    size_t nc = 0, mark = 0;
    int marked = 0;
    ov_tok_ids ids = {0};
    float *wts = NULL, *w_chunks = NULL;
    int32_t *ids_l = NULL, *ids_g = NULL;

    TRY(tokenize(tok, prompt, weighted, max_chunks * OV_CLIP_CHUNK, &ids, &wts));
    ids_l = malloc(max_chunks * OV_CLIP_CTX * sizeof *ids_l);
    ids_g = malloc(max_chunks * OV_CLIP_CTX * sizeof *ids_g);
    w_chunks = malloc(max_chunks * OV_CLIP_CTX * sizeof *w_chunks);
    if (!ids_l || !ids_g || !w_chunks) {
        rc = ov_tensor_fail(OV_ENOMEM, "sdxl text: out of memory (chunks)");
        goto out;
    }
    /* the same ids for both encoders; only the padding differs (49407 for CLIP-L, 0 for bigG) */
    TRY(ov_tok_clip_chunks(ids.v, wts, ids.len, OV_CLIP_PAD_L, max_chunks, ids_l, w_chunks, &nc));
    TRY(ov_tok_clip_chunks(ids.v, wts, ids.len, OV_CLIP_PAD_G, max_chunks, ids_g, NULL, &nc));

    int64_t s_ctx[3] = {1, (int64_t)nc * OV_CLIP_CTX, te->info.context_dim}, s_pool[2] = {1, g->proj};
    int64_t s_x1[3] = {1, OV_CLIP_CTX, l->width}, s_x2[3] = {1, OV_CLIP_CTX, g->width};
    TRY(ov_arena_tensor(arena, context, "context", dt, 3, s_ctx));
    TRY(ov_arena_tensor(arena, pooled, "pooled", dt, 2, s_pool));
    mark = ov_arena_mark(arena);
    marked = 1;
    for (size_t c = 0; c < nc; c++) {
        ov_tensor x1, x2, last;
        const float *wc = w_chunks + c * OV_CLIP_CTX;
        /* te1: hidden_states[-2], the output of block N-2 (no final LayerNorm) */
        TRY(ov_arena_tensor(arena, &x1, "te1_hidden", dt, 3, s_x1));
        TRY(ov_clip_embed(l, ids_l + c * OV_CLIP_CTX, arena, &x1));
        for (int b = 0; b < l->layers - 1; b++)
            TRY(ov_clip_block(l, b, &x1, arena));
        if (weighted)
            TRY(apply_emphasis(&x1, wc, arena));
        TRY(put_context(context, &x1, c, 0));

        /* te2: the penultimate block output for the context; the first chunk also runs the last
         * block for the pooled vector */
        TRY(ov_arena_tensor(arena, &x2, "te2_hidden", dt, 3, s_x2));
        TRY(ov_clip_embed(g, ids_g + c * OV_CLIP_CTX, arena, &x2));
        for (int b = 0; b < g->layers - 1; b++)
            TRY(ov_clip_block(g, b, &x2, arena));
        if (c == 0) {
            TRY(ov_arena_tensor(arena, &last, "te2_last", dt, 3, s_x2));
            TRY(ov_op_copy(&last, &x2));
            TRY(ov_clip_block(g, g->layers - 1, &last, arena));
            TRY(ov_clip_pool(g, &last, eos_index(ids_g), arena, pooled));
        }
        if (weighted)
            TRY(apply_emphasis(&x2, wc, arena));
        TRY(put_context(context, &x2, c, l->width));
        ov_arena_release(arena, mark);
    }
    if (n_chunks_out)
        *n_chunks_out = nc;
out:
    if (marked)
        ov_arena_release(arena, mark);
    ov_tok_ids_free(&ids);
    free(wts);
    free(w_chunks);
    free(ids_l);
    free(ids_g);
    return rc;
}

/* diffusers: add_time_ids = original_size + crops_coords_top_left + target_size (each (h, w));
 * UNet2DConditionModel: time_embeds = add_time_proj(time_ids.flatten()) with
 * Timesteps(addition_time_embed_dim, flip_sin_to_cos=True, downscale_freq_shift=0), reshaped to
 * [batch, 6·dim] and concatenated after text_embeds (sgm ConcatTimestepEmbedderND: the same). */
int ov_sdxl_adm_vector(const ov_tensor *pooled, const float time_ids[6], int time_dim, ov_arena *arena,
                       ov_tensor *y)
{
    if (!pooled || !time_ids || !arena || !y || pooled->ndim != 2 || pooled->shape[0] != 1 || time_dim < 1)
        return ov_tensor_fail(OV_EINVAL, "sdxl adm: pooled must be [1, P] and time_dim >= 1");
    int rc;
    const int64_t P = pooled->shape[1], TD = time_dim;
    int64_t s_y[2] = {1, P + 6 * TD}, s_t[1] = {6}, s_e[2] = {6, TD}, s_f[2] = {1, 6 * TD};
    ov_tensor t, e, flat;
    TRY(ov_arena_tensor(arena, y, "adm_y", pooled->dtype, 2, s_y));
    size_t mark = ov_arena_mark(arena);
    rc = ov_arena_tensor(arena, &t, "time_ids", OV_DTYPE_F32, 1, s_t);
    if (!rc)
        rc = ov_tensor_upload(&t, time_ids, 6 * sizeof *time_ids);
    if (!rc)
        rc = ov_arena_tensor(arena, &e, "time_embeds", pooled->dtype, 2, s_e);
    ov_timestep_params tp = {
        .flip_sin_to_cos = 1, .downscale_freq_shift = 0.0f, .max_period = 10000.0f, .scale = 1.0f};
    if (!rc)
        rc = ov_op_timestep_embedding(&e, &t, &tp);
    if (!rc)
        rc = ov_tensor_reshape(&flat, &e, 2, s_f);
    if (!rc)
        rc = ov_op_concat(y, pooled, &flat, 1);
    ov_arena_release(arena, mark);
out:
    return rc;
}
