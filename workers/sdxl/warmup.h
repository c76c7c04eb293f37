/* SDXL warm-up before a worker reports ready: one short generation per batch size it will serve, so
 * the one-time per-shape GPU work (cuDNN's algorithm search for every conv shape, the attention
 * tuning and cuDNN graph builds) is paid at start, not by the first job of each size. On an H100
 * (2026-11-27, docs/BENCHMARKS.md) the first 6-image job of a process took 9.2 s instead of 3.6 s,
 * a 1-image job 2.7 s instead of 1.0 s. */
#ifndef OV_SDXL_WARMUP_H
#define OV_SDXL_WARMUP_H

#include <stddef.h>

#include "workers/sdxl/pipeline.h"

#define OV_SDXL_WARMUP_MAX 8 /* runs in one plan */

typedef struct ov_sdxl_warmup_plan {
    int n;                           /* text-to-image runs (0: none) */
    int counts[OV_SDXL_WARMUP_MAX];  /* images per run (the batch sizes to prepare) */
    int img2img;                     /* plus one 1-image image-to-image run (the VAE encoder's shapes) */
    int width, height;               /* every run's size */
} ov_sdxl_warmup_plan;

/* The plan the GPU default takes when $OURVIDZ_SDXL_WARMUP is unset: the contract's batch sizes and
 * image-to-image at 1024². */
#define OV_SDXL_WARMUP_DEFAULT "1,3,6,i2i@1024x1024"

/* Parse a spec: "off" or "" (nothing), else a comma list of image counts (1..OV_SDXL_COUNT_MAX) and
 * "i2i", optionally ending "@WxH" (default 1024x1024), e.g. "1,3,6,i2i@1024x1024". 0, or OV_EINVAL
 * with err naming the bad part. */
int ov_sdxl_warmup_parse(const char *spec, ov_sdxl_warmup_plan *out, char *err, size_t errlen);

/* Run the plan on p: each run 1 denoising step (image-to-image: strength 0.5 of 2 steps), decode
 * and all, results thrown away. ms[i] gets run i's time (the image-to-image run last), n_ms the
 * runs done. 0, or the first failing run's code with err (OV_EGPU: the device is lost; anything
 * else leaves the pipeline usable). */
int ov_sdxl_warmup_run(ov_sdxl_pipeline *p, const ov_sdxl_warmup_plan *w, double *ms, int *n_ms, char *err,
                       size_t errlen);

#endif
