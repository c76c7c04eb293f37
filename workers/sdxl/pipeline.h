/* SDXL text-to-image and image-to-image pipeline: load a checkpoint (single file or diffusers folder) once, then make
 * N images per request as one CFG batch through the UNet (text encoders -> [VAE encode + add noise] -> sampler loop ->
 * VAE decode -> RGB8).
 * Reference: huggingface/diffusers pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py
 * (StableDiffusionXLPipeline.__call__) and pipeline_stable_diffusion_xl_img2img.py
 * (StableDiffusionXLImg2ImgPipeline.__call__), which tests/test_sdxl_pipeline.c and test_sdxl_img2img.c match on the
 * tiny model. */
#ifndef OV_SDXL_PIPELINE_H
#define OV_SDXL_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "workers/sdxl/sampler.h"

#define OV_SDXL_COUNT_MAX 6     /* images per request (the OurVidz contract: 1, 3 or 6) */
#define OV_SDXL_SIZE_MAX 2048   /* width and height cap (the job contract's max_width/height) */
#define OV_SDXL_CFG_MAX 30.0    /* guidance above this is refused ("absurd"), as the contract */
#define OV_SDXL_PROMPT_CHUNKS 8 /* 75-token windows per prompt (600 tokens); more is refused */
#define OV_SDXL_ID_MAX 160

typedef struct ov_sdxl_pipeline ov_sdxl_pipeline;

typedef struct ov_sdxl_load_opts {
    const char *model_path;  /* single-file .safetensors (sgm layout) or a diffusers folder */
    int backend_kind;        /* enum ov_backend_kind (OV_BACKEND_CPU = 0) */
    int device;              /* CUDA device index */
    size_t budget_bytes;     /* the worker's memory budget on the backend; 0 = unlimited */
    int weight_dtype;        /* -1: as stored, except 16/32-bit float weights in a 16-bit-activation backend's
                              * dtype (CUDA: bf16; OV_WEIGHTS_DTYPE_ACT); else OV_DTYPE_F32/F16/BF16 */
    const char *merges_path; /* CLIP merges file; NULL = ov_tok_clip_load_default() */
} ov_sdxl_load_opts;

/* Load tokenizer, both text encoders, UNet and VAE under one ov_mem budget (weights placed once).
 * The model id is "<file name>@<hash>", hash = 10 hex digits of FNV-1a over the file's first MiB
 * (header + first tensors; not A1111's sha256). Errors: OV_ENOENT (file, tokenizer), OV_EFORMAT /
 * OV_EUNSUPP (not an SDXL checkpoint: the message names the missing tensor), OV_EBUDGET (weights
 * over the budget), OV_ENOMEM, OV_EIO; err gets the message. Free with ov_sdxl_pipeline_free. */
int ov_sdxl_pipeline_load(const ov_sdxl_load_opts *o, ov_sdxl_pipeline **out, char *err, size_t errlen);
void ov_sdxl_pipeline_free(ov_sdxl_pipeline *p);

typedef struct ov_sdxl_model_info {
    char model_id[OV_SDXL_ID_MAX]; /* "lustify.safetensors@3f9a0c12b4" */
    char file_name[128];
    char hash[16];        /* the 10 hex digits */
    int vae_factor;       /* 8 */
    int latent_align;     /* image sizes must be multiples of vae_factor · 2^(levels−1) */
    int64_t weight_bytes; /* on the backend */
    double load_s;
    const char *backend; /* "cpu", "cuda:0" */
} ov_sdxl_model_info;
const ov_sdxl_model_info *ov_sdxl_pipeline_info(const ov_sdxl_pipeline *p);

struct ov_sdxl_result;

/* One request. Strings are borrowed for the call. */
typedef struct ov_sdxl_request {
    const char *prompt;          /* "" allowed: encoded as "" (what diffusers does for prompt="") */
    const char *negative_prompt; /* NULL or "": zeros for context and pooled (diffusers SDXL
                                  * force_zeros_for_empty_prompt); else encoded */
    int emphasis;                /* parse A1111 "(word:1.3)" weights in both prompts */
    int steps;                   /* 1..OV_SDXL_STEPS_MAX */
    double cfg;                  /* (0, 30]; <= 1 runs the cond branch only, as diffusers */
    int sampler;                 /* enum ov_sdxl_sampler_kind */
    int width, height;           /* multiples of 8 (and of the model's latent_align), <= 2048 */
    int count;                   /* 1..OV_SDXL_COUNT_MAX */
    uint64_t seed;               /* image i uses seed + i */
    /* Image-to-image (diffusers StableDiffusionXLImg2ImgPipeline with a generator per image):
     * init_image = height·width·3 bytes (RGB rows, already fitted to the output size, e.g. by
     * common/image/resize.h ov_image_fit); NULL = text-to-image. It is VAE-encoded once; image i
     * starts from scaling · (mean + std·εᵢ) noised to the schedule step that `strength` picks
     * (ov_sdxl_img2img_begin) and runs the remaining steps. Each image's generator draws εᵢ first,
     * then its noise. */
    const uint8_t *init_image;
    double strength; /* [0, 1]: share of the schedule that runs (at least one step); ignored
                      * without init_image */
    /* Tests: initial N(0,1) noise for all images (count·4·h·w floats; text-to-image: before
     * init_noise_sigma; image-to-image: add_noise's noise) instead of drawing it from the seeds,
     * and (image-to-image) the posterior draws εᵢ likewise. NULL normally. */
    const float *init_noise;
    const float *init_image_eps;
    int keep_float; /* also return the float images and final latents */
    /* Optional: called once per image, in image order, as soon as image idx's RGB8 in res (and
     * res->width, height, seeds) is final, from a helper thread of the pipeline (one call at a
     * time) while later images still decode: a consumer can start encoding it. The image's bytes
     * stay valid only until ov_sdxl_generate returns (on failure the result is freed): copy them.
     * Non-zero fails the job with that code. */
    int (*on_image)(void *ud, const struct ov_sdxl_result *res, int idx);
    void *on_image_ud;
} ov_sdxl_request;

/* Progress: phase "text" | "encode" (image-to-image) | "denoise" | "decode", step of total. Return non-zero to cancel. */
typedef int (*ov_sdxl_progress_fn)(void *ud, const char *phase, int64_t step, int64_t total);

typedef struct ov_sdxl_timings {
    double text_ms;                                /* both prompts through both encoders + ADM vectors */
    double encode_ms;                              /* image-to-image: the VAE encode of init_image */
    double denoise_ms;                             /* the whole sampler loop (all sub-batches) */
    double step_ms_mean, step_ms_min, step_ms_max; /* one UNet batch + CFG + sampler step */
    double decode_ms;                              /* VAE, all images */
    double total_ms;
} ov_sdxl_timings;

typedef struct ov_sdxl_result {
    int count, width, height;
    uint8_t *rgb;   /* count images, each height·width·3 bytes (RGB, row-major); owned */
    float *pixels;  /* keep_float: count·height·width·3 in [0, 1] (diffusers output_type "np") */
    float *latents; /* keep_float: count·4·(height/8)·(width/8), the final latents (scaled) */
    uint64_t seeds[OV_SDXL_COUNT_MAX];
    int begin_step;   /* first schedule step run (image-to-image; 0 for text-to-image) */
    int steps_run;    /* UNet steps per batch: steps − begin_step */
    int sub_batches;  /* UNet batches per step (1 unless the budget forced a split) */
    int batch_images; /* images per UNet batch */
    size_t arena_bytes, arena_peak_bytes;
    size_t unet_peak_bytes; /* arena high-water mark at the end of the sampler loop */
    ov_sdxl_timings t;
} ov_sdxl_result;

/* Check a request against the limits and this model; 0 or OV_EINVAL with err saying which field
 * and why (the job's failed-callback text). p may be NULL (model-independent checks only). */
int ov_sdxl_request_validate(const ov_sdxl_pipeline *p, const ov_sdxl_request *r, char *err, size_t errlen);

/* Generate. 0 and *out filled (free with ov_sdxl_result_free), or: OV_EINVAL (request),
 * OV_ECANCELED (progress returned non-zero), OV_ERANGE (NaN/Inf in the UNet output, the latents
 * or the decoded images: the job fails, no image is returned), OV_EBUDGET (one image does not
 * fit the budget), OV_ENOMEM, OV_EGPU and other op errors; err gets the message. */
int ov_sdxl_generate(ov_sdxl_pipeline *p, const ov_sdxl_request *r, ov_sdxl_progress_fn progress, void *ud,
                     ov_sdxl_result *out, char *err, size_t errlen);
void ov_sdxl_result_free(ov_sdxl_result *r);

/* Activation bytes one UNet batch of `batch` samples at latent h×w with ctx_len context tokens is
 * expected to take from the arena (a conservative estimate; a run that needs more fails with
 * OV_EBUDGET naming the tensor, never overruns). */
size_t ov_sdxl_pipeline_unet_bytes(const ov_sdxl_pipeline *p, int64_t batch, int64_t h, int64_t w,
                                   int64_t ctx_len);
/* The denoise/decode arena a request reserves when `images` images share one UNet batch (cfg: with
 * the uncond half) at width×height with ctx_len context tokens. The request runs in sub-batches
 * when this exceeds what the budget leaves after the weights. */
size_t ov_sdxl_pipeline_arena_bytes(const ov_sdxl_pipeline *p, int images, int cfg, int width, int height,
                                    int64_t ctx_len);

#endif
