/* SDXL pipeline benchmark: model load, text encode, s/step, VAE decode, PNG encode and total for N
 * images per request, on the tiny model (written here from the mkmodel lists) or a given
 * checkpoint (e.g. ourvidz-mkmodel sdxl --preset full).
 *
 *   build/bench/bench_sdxl [--model FILE] [--size WxH] [--count N] [--steps N] [--sampler S]
 *                          [--cfg X] [--repeat R] [--backend cpu|cuda|auto] [--dtype keep|f32|f16|bf16]
 *                          [--strength X] [--png-after 0|1]
 * --strength runs image-to-image from a synthetic gradient picture at the output size (the VAE
 * encode is reported as encode_ms; s/step is over the steps that run). PNGs are encoded as the
 * worker does, each image's as soon as it is decoded (png_ms: what is left after the last decode);
 * --png-after 1 encodes them all after generate returns (the pre-overlap way, for A/B).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/image/params.h"
#include "workers/sdxl/png_out.h"
#include "common/image/png.h"
#include "common/tensor/backend.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mk.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/pipeline.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int write_tiny(const char *path)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_unet(&l, "tiny");
    if (!rc)
        rc = ov_mk_sdxl_te1(&l, "tiny");
    if (!rc)
        rc = ov_mk_sdxl_te2(&l, "tiny");
    if (!rc)
        rc = ov_mk_sdxl_vae(&l, "tiny");
    char err[256] = "";
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F32, 42, NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "bench_sdxl: cannot write the tiny model: %s\n", err[0] ? err : ov_strerror(rc));
    ov_mk_list_free(&l);
    return rc;
}

static int backend_kind(const char *name, int *kind)
{
    if (strcmp(name, "cpu") == 0) {
        *kind = OV_BACKEND_CPU;
        return 0;
    }
    ov_backend *be = NULL;
    if (ov_backend_open(OV_BACKEND_CUDA, 0, &be) == 0) {
        ov_backend_close(be);
        *kind = OV_BACKEND_CUDA;
        return 0;
    }
    *kind = OV_BACKEND_CPU;
    return strcmp(name, "cuda") == 0 ? OV_EUNSUPP : 0;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *backend = "cpu", *dtype = "keep";
    ov_sdxl_request r = {.prompt =
                             "a photo of a cat sitting on a windowsill, soft morning light, detailed fur",
                         .negative_prompt = "blurry, low quality",
                         .steps = 4,
                         .cfg = 7.5,
                         .sampler = OV_SDXL_EULER,
                         .width = 256,
                         .height = 256,
                         .count = 1,
                         .seed = 42};
    int repeat = 1, png_after = 0;
    double strength = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--size") == 0 && sscanf(v, "%dx%d", &r.width, &r.height) == 2)
            ;
        else if (strcmp(a, "--count") == 0)
            r.count = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--steps") == 0)
            r.steps = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--cfg") == 0)
            r.cfg = strtod(v, NULL);
        else if (strcmp(a, "--repeat") == 0)
            repeat = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--backend") == 0)
            backend = v;
        else if (strcmp(a, "--dtype") == 0)
            dtype = v;
        else if (strcmp(a, "--strength") == 0)
            strength = strtod(v, NULL);
        else if (strcmp(a, "--png-after") == 0)
            png_after = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--sampler") == 0) {
            if (ov_sdxl_sampler_parse(v, &r.sampler, NULL, 0)) {
                fprintf(stderr, "bench_sdxl: unknown sampler %s\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_sdxl: unknown argument %s\n", a);
            return 2;
        }
    }
    char tiny[] = "/tmp/bench_sdxl_XXXXXX";
    char tiny_path[128] = "";
    if (!model) {
        if (!mkdtemp(tiny))
            return 1;
        snprintf(tiny_path, sizeof tiny_path, "%s/tiny.safetensors", tiny);
        if (write_tiny(tiny_path))
            return 1;
        model = tiny_path;
    }
    ov_sdxl_load_opts o = {.model_path = model, .weight_dtype = -1};
    if (strcmp(dtype, "f32") == 0)
        o.weight_dtype = OV_DTYPE_F32;
    else if (strcmp(dtype, "f16") == 0)
        o.weight_dtype = OV_DTYPE_F16;
    else if (strcmp(dtype, "bf16") == 0)
        o.weight_dtype = OV_DTYPE_BF16;
    if (backend_kind(backend, &o.backend_kind)) {
        fprintf(stderr, "bench_sdxl: backend %s not available\n", backend);
        return 1;
    }
    char err[1024];
    ov_sdxl_pipeline *p = NULL;
    double t0 = now_ms();
    int rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    double load_ms = now_ms() - t0;
    if (rc) {
        fprintf(stderr, "bench_sdxl: %s\n", err);
        return 1;
    }
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(p);
    printf("model %s on %s: %.1f MiB weights, load %.2f s; threads %s\n", in->model_id, in->backend,
           (double)in->weight_bytes / (1 << 20), load_ms / 1e3,
           getenv("OURVIDZ_CPU_THREADS") ? getenv("OURVIDZ_CPU_THREADS") : "(all cpus)");
    uint8_t *init = NULL;
    if (strength >= 0) {
        init = malloc((size_t)r.width * (size_t)r.height * 3);
        if (!init)
            return 1;
        for (int y = 0; y < r.height; y++)
            for (int x = 0; x < r.width; x++) {
                uint8_t *px = init + ((size_t)y * (size_t)r.width + (size_t)x) * 3;
                px[0] = (uint8_t)(255 * x / r.width);
                px[1] = (uint8_t)(255 * y / r.height);
                px[2] = (uint8_t)((x ^ y) & 255);
            }
        r.init_image = init;
        r.strength = strength;
    }
    printf("request: %d image(s) %dx%d, %s, %d steps, cfg %.1f%s\n", r.count, r.width, r.height,
           ov_sdxl_sampler_name(r.sampler), r.steps, r.cfg, init ? ", image-to-image" : "");
    printf("%-4s %9s %9s %10s %10s %10s %9s %9s %9s\n", "run", "text_ms", "encode_ms", "s/step", "step_min",
           "decode_ms", "png_ms", "total_s", "s/image");
    for (int k = 0; k < repeat; k++) {
        /* PNG encode of every image as the worker does it (one thread per image, started as each
         * image is decoded, with the parameters chunk; --png-after 1: all after generate returns),
         * to temp files. png_ms: the encoding left once generate returns. */
        char paths[OV_SDXL_COUNT_MAX][256];
        const char *pp[OV_SDXL_COUNT_MAX];
        for (int i = 0; i < r.count && i < OV_SDXL_COUNT_MAX; i++) {
            snprintf(paths[i], sizeof paths[i], "/tmp/bench_sdxl_%d_%d.png", (int)getpid(), i);
            pp[i] = paths[i];
        }
        ov_sdxl_png_batch *pngs = NULL;
        if (ov_sdxl_png_batch_open(&pngs, pp, r.count, &r, in)) {
            fprintf(stderr, "bench_sdxl: out of memory\n");
            rc = 1;
            break;
        }
        r.on_image = png_after ? NULL : ov_sdxl_png_batch_add;
        r.on_image_ud = pngs;
        ov_sdxl_result res;
        rc = ov_sdxl_generate(p, &r, NULL, NULL, &res, err, sizeof err);
        if (rc) {
            fprintf(stderr, "bench_sdxl: %s\n", err);
            (void)ov_sdxl_png_batch_close(pngs, NULL, NULL, NULL, 0);
            break;
        }
        double tp = now_ms();
        if (ov_sdxl_png_batch_close(pngs, &res, NULL, err, sizeof err) != 0)
            fprintf(stderr, "bench_sdxl: png: %s\n", err);
        double png_ms = now_ms() - tp;
        for (int i = 0; i < res.count; i++)
            unlink(paths[i]);
        double total = (res.t.total_ms + png_ms) / 1e3;
        printf("%-4d %9.1f %9.1f %10.3f %10.3f %10.1f %9.1f %9.2f %9.2f\n", k, res.t.text_ms, res.t.encode_ms,
               res.t.step_ms_mean / 1e3, res.t.step_ms_min / 1e3, res.t.decode_ms, png_ms, total,
               total / res.count);
        if (k == 0)
            printf("     (UNet batch %d x %d image(s), arena %.1f MiB, UNet-phase peak %.1f MiB, estimate "
                   "%.1f MiB)\n",
                   res.sub_batches, res.batch_images, (double)res.arena_bytes / (1 << 20),
                   (double)res.unet_peak_bytes / (1 << 20),
                   (double)ov_sdxl_pipeline_unet_bytes(p, res.batch_images * (r.cfg > 1 ? 2 : 1),
                                                       r.height / 8, r.width / 8, 77) /
                       (1 << 20));
        ov_sdxl_result_free(&res);
    }
    ov_sdxl_pipeline_free(p);
    free(init);
    if (tiny_path[0]) {
        unlink(tiny_path);
        rmdir(tiny);
    }
    return rc ? 1 : 0;
}
