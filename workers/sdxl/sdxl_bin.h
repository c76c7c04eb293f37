/* The ourvidz-sdxl binary's own pieces (main.c, cli.c, service.c): not part of the ov_sdxl library. */
#ifndef OV_SDXL_BIN_H
#define OV_SDXL_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "workers/sdxl/pipeline.h"

/* Service mode (--worker ...): the ov_worker_ops for kind "sdxl". Returns the exit code. */
int ov_sdxl_service_main(int argc, char **argv);
/* One-shot mode: ourvidz-sdxl --model FILE --prompt TEXT ... --out DIR. Returns the exit code. */
int ov_sdxl_cli_main(int argc, char **argv);

/* Backend by name: "auto" | "cpu" | "cuda"; NULL or "" = $OURVIDZ_BACKEND, else "auto" (CUDA when
 * this build has it and a device answers, else the CPU). 0 or OV_EINVAL / OV_EUNSUPP with err. */
/* Write image i of res as a PNG to path with the A1111 "parameters" text chunk (prompt, negative,
 * steps, sampler, CFG, the image's seed, size, model hash and name). 0 or the ov_png_write code
 * with err. */
int ov_sdxl_write_png(const char *path, const ov_sdxl_result *res, int i, const ov_sdxl_request *r,
                      const ov_sdxl_model_info *info, char *err, size_t errlen);

#endif
