/* The ourvidz-sdxl binary's own pieces (main.c, cli.c, service.c): not part of the ov_sdxl library. */
#ifndef OV_SDXL_BIN_H
#define OV_SDXL_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "workers/sdxl/pipeline.h"
#include "workers/sdxl/png_out.h"

/* Service mode (--worker ...): the ov_worker_ops for kind "sdxl". Returns the exit code. */
int ov_sdxl_service_main(int argc, char **argv);
/* One-shot mode: ourvidz-sdxl --model FILE --prompt TEXT ... --out DIR. Returns the exit code. */
int ov_sdxl_cli_main(int argc, char **argv);

#endif
