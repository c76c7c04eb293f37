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

/* Every image of res, image i to paths[i], encoded concurrently (one thread per image). 0, or the
 * first failing image's code with its index in *failed (NULL allowed) and its message in err;
 * the other files may have been written. */
int ov_sdxl_write_pngs(const char *const *paths, const ov_sdxl_result *res, const ov_sdxl_request *r,
                       const ov_sdxl_model_info *info, int *failed, char *err, size_t errlen);

#endif
