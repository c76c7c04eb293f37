/* SDXL results as PNG files with the A1111 "parameters" text chunk; a batch is encoded on one
 * thread per image (zlib is the cost: ~185 ms per 1024² image on the H200 host, 2026-11-27), each
 * started as soon as its image is decoded when the batch is the pipeline's on_image consumer. */
#include "workers/sdxl/png_out.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/params.h"
#include "common/image/png.h"

/* One image's PNG: rgb (width·height·3) with the parameters chunk for its seed. */
static int write_one(const char *path, const uint8_t *rgb, int width, int height, uint64_t seed,
                     const ov_sdxl_request *r, const ov_sdxl_model_info *info, char *err, size_t errlen)
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
                          .seed = seed,
                          .width = width,
                          .height = height,
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
    rc = ov_png_write(path, rgb, width, height, chunks, 2, err, errlen);
    free(text);
    return rc;
}

int ov_sdxl_write_png(const char *path, const ov_sdxl_result *res, int i, const ov_sdxl_request *r,
                      const ov_sdxl_model_info *info, char *err, size_t errlen)
{
    const size_t plane = (size_t)res->width * (size_t)res->height * 3;
    return write_one(path, res->rgb + (size_t)i * plane, res->width, res->height, res->seeds[i], r, info, err,
                     errlen);
}

struct png_job {
    const struct ov_sdxl_png_batch *b;
    const char *path;
    const uint8_t *rgb; /* own (a copy made by ..._add) or the result's */
    uint8_t *own;
    int width, height;
    uint64_t seed;
    int state; /* 0 not added, 1 thread running, 2 done */
    pthread_t tid;
    int rc;
    char err[256];
};

struct ov_sdxl_png_batch {
    const char *const *paths;
    int n;
    const ov_sdxl_request *r;
    const ov_sdxl_model_info *info;
    struct png_job *jobs;
};

static int job_write(struct png_job *j)
{
    return write_one(j->path, j->rgb, j->width, j->height, j->seed, j->b->r, j->b->info, j->err, sizeof j->err);
}

static void *png_job_run(void *arg)
{
    struct png_job *j = arg;
    j->rc = job_write(j);
    return NULL;
}

/* Start job j's encode on its own thread (inline when none can start). */
static void job_start(struct png_job *j)
{
    if (pthread_create(&j->tid, NULL, png_job_run, j) == 0) {
        j->state = 1;
        return;
    }
    j->rc = job_write(j);
    j->state = 2;
}

int ov_sdxl_png_batch_open(ov_sdxl_png_batch **out, const char *const *paths, int n, const ov_sdxl_request *r,
                           const ov_sdxl_model_info *info)
{
    *out = NULL;
    ov_sdxl_png_batch *b = calloc(1, sizeof *b);
    struct png_job *jobs = n > 0 ? calloc((size_t)n, sizeof *jobs) : NULL;
    if (!b || (n > 0 && !jobs)) {
        free(b);
        free(jobs);
        return OV_ENOMEM;
    }
    *b = (ov_sdxl_png_batch){.paths = paths, .n = n, .r = r, .info = info, .jobs = jobs};
    for (int i = 0; i < n; i++)
        jobs[i].b = b;
    *out = b;
    return 0;
}

int ov_sdxl_png_batch_add(void *batch, const ov_sdxl_result *res, int idx)
{
    ov_sdxl_png_batch *b = batch;
    if (!b || idx < 0 || idx >= b->n || b->jobs[idx].state)
        return OV_EINVAL;
    struct png_job *j = &b->jobs[idx];
    const size_t plane = (size_t)res->width * (size_t)res->height * 3;
    if (!(j->own = malloc(plane)))
        return OV_ENOMEM;
    memcpy(j->own, res->rgb + (size_t)idx * plane, plane);
    j->path = b->paths[idx];
    j->rgb = j->own;
    j->width = res->width;
    j->height = res->height;
    j->seed = res->seeds[idx];
    job_start(j);
    return 0;
}

int ov_sdxl_png_batch_close(ov_sdxl_png_batch *b, const ov_sdxl_result *res, int *failed, char *err,
                            size_t errlen)
{
    if (failed)
        *failed = -1;
    if (!b)
        return 0;
    const size_t plane = res ? (size_t)res->width * (size_t)res->height * 3 : 0;
    /* the images never added: from res (every one but the last on its own thread, the last here) */
    int last = -1;
    for (int i = 0; res && i < b->n && i < res->count; i++)
        if (!b->jobs[i].state)
            last = i;
    for (int i = 0; res && i < b->n && i < res->count; i++) {
        struct png_job *j = &b->jobs[i];
        if (j->state)
            continue;
        j->path = b->paths[i];
        j->rgb = res->rgb + (size_t)i * plane;
        j->width = res->width;
        j->height = res->height;
        j->seed = res->seeds[i];
        if (i == last) {
            j->rc = job_write(j);
            j->state = 2;
        } else {
            job_start(j);
        }
    }
    int rc = 0;
    for (int i = 0; i < b->n; i++) {
        struct png_job *j = &b->jobs[i];
        if (j->state == 1)
            pthread_join(j->tid, NULL);
        if (j->state && j->rc && !rc) {
            rc = j->rc;
            if (failed)
                *failed = i;
            snprintf(err, errlen, "%s", j->err);
        }
        free(j->own);
    }
    if (res) /* asked for every image: one never written is a failure */
        for (int i = 0; i < b->n && !rc; i++)
            if (!b->jobs[i].state) {
                rc = OV_EINVAL;
                if (failed)
                    *failed = i;
                snprintf(err, errlen, "image %d is not in the result (%d images)", i + 1, res->count);
            }
    free(b->jobs);
    free(b);
    return rc;
}
