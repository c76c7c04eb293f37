/* SDXL results as PNG files with the A1111 "parameters" text chunk; a batch is encoded on one
 * thread per image (zlib is the cost: ~185 ms per 1024² image on the H200 host, 2026-11-27). */
#include "workers/sdxl/png_out.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/params.h"
#include "common/image/png.h"

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
                          .model_name = name,
                          .denoising_strength = r->init_image ? (float)r->strength : 0.0f};
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

struct png_job {
    const char *path;
    const ov_sdxl_result *res;
    int i;
    const ov_sdxl_request *r;
    const ov_sdxl_model_info *info;
    int rc;
    char err[256];
};

static void *png_job_run(void *arg)
{
    struct png_job *j = arg;
    j->rc = ov_sdxl_write_png(j->path, j->res, j->i, j->r, j->info, j->err, sizeof j->err);
    return NULL;
}

int ov_sdxl_write_pngs(const char *const *paths, const ov_sdxl_result *res, const ov_sdxl_request *r,
                       const ov_sdxl_model_info *info, int *failed, char *err, size_t errlen)
{
    int n = res->count;
    if (failed)
        *failed = -1;
    if (n <= 0)
        return 0;
    struct png_job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    char *started = calloc((size_t)n, 1);
    if (!jobs || !tid || !started) {
        free(jobs);
        free(tid);
        free(started);
        snprintf(err, errlen, "out of memory");
        return OV_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct png_job){.path = paths[i], .res = res, .i = i, .r = r, .info = info};
        /* image 0 on this thread; the others on their own (inline if a thread cannot start) */
        started[i] = i > 0 && pthread_create(&tid[i], NULL, png_job_run, &jobs[i]) == 0;
    }
    for (int i = 0; i < n; i++)
        if (!started[i])
            png_job_run(&jobs[i]);
    for (int i = 0; i < n; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if (jobs[i].rc) {
            rc = jobs[i].rc;
            if (failed)
                *failed = i;
            snprintf(err, errlen, "%s", jobs[i].err);
        }
    free(jobs);
    free(tid);
    free(started);
    return rc;
}
