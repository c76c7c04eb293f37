/* ourvidz-sdxl: the SDXL batch text-to-image worker (service mode) and its one-shot CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/params.h"
#include "common/image/png.h"
#include "common/tensor/backend.h"
#include "workers/runtime/worker.h"
#include "workers/sdxl/sdxl_bin.h"

int ov_sdxl_write_png(const char *path, const ov_sdxl_result *res, int i, const ov_sdxl_request *r,
                      const ov_sdxl_model_info *info, char *err, size_t errlen)
{
    char name[128];
    snprintf(name, sizeof name, "%s", info->file_name);
    char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".safetensors") == 0)
        *dot = '\0';
    ov_image_params ip = {.prompt = r->prompt,
                          .negative_prompt = r->negative_prompt,
                          .steps = r->steps,
                          .sampler = ov_sdxl_sampler_a1111_name(r->sampler),
                          .cfg_scale = (float)r->cfg,
                          .seed = res->seeds[i],
                          .width = res->width,
                          .height = res->height,
                          .model_hash = info->hash,
                          .model_name = name};
    size_t need = 0;
    char small[1];
    ov_image_params_format(&ip, small, sizeof small, &need);
    char *text = malloc(need + 1);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return OV_ENOMEM;
    }
    int rc = ov_image_params_format(&ip, text, need + 1, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot format the PNG parameters (%s)", ov_strerror(rc));
        free(text);
        return rc;
    }
    ov_png_text chunks[2] = {{"parameters", text}, {"Software", "ourvidz-sdxl"}};
    size_t plane = (size_t)res->width * (size_t)res->height * 3;
    rc = ov_png_write(path, res->rgb + (size_t)i * plane, res->width, res->height, chunks, 2, err, errlen);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (ov_worker_service_mode(argc, argv))
        return ov_sdxl_service_main(argc, argv);
    return ov_sdxl_cli_main(argc, argv);
}
