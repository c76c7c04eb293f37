/* SDXL results as PNG files (library part; needs common/image, so built only with libpng). */
#ifndef OV_SDXL_PNG_OUT_H
#define OV_SDXL_PNG_OUT_H

#include <stddef.h>

#include "workers/sdxl/pipeline.h"

/* Write image i of res as a PNG to path with the A1111 "parameters" text chunk (prompt, negative,
 * steps, sampler, CFG, the image's seed, size, model hash and name). 0 or the ov_png_write code
 * with err. */
int ov_sdxl_write_png(const char *path, const ov_sdxl_result *res, int i, const ov_sdxl_request *r,
                      const ov_sdxl_model_info *info, char *err, size_t errlen);

/* A batch written as images arrive: open with the n paths (borrowed, like r and info, until close;
 * each read when its image is added), pass ov_sdxl_png_batch_add and the batch as the request's
 * on_image / on_image_ud, generate, then close. add copies image idx of res and starts its encode
 * on a thread (0, OV_EINVAL for an index out of range or added twice, OV_ENOMEM). close waits for
 * every encode started, then (res not NULL) writes the images never added from res; 0, or the first
 * failing image's code with its index in *failed (NULL allowed) and its message in err. res NULL:
 * the job failed, close only waits (the caller removes whatever files were written). close frees
 * the batch (NULL: no-op). Without add, close writes every image of res, concurrently. */
typedef struct ov_sdxl_png_batch ov_sdxl_png_batch;
int ov_sdxl_png_batch_open(ov_sdxl_png_batch **out, const char *const *paths, int n, const ov_sdxl_request *r,
                           const ov_sdxl_model_info *info);
int ov_sdxl_png_batch_add(void *batch, const ov_sdxl_result *res, int idx);
int ov_sdxl_png_batch_close(ov_sdxl_png_batch *b, const ov_sdxl_result *res, int *failed, char *err,
                            size_t errlen);

#endif
