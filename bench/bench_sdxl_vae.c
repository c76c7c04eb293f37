/* SDXL VAE CPU decode/encode time at real SDXL shapes (random weights), and the PNG write after it.
 *
 * build/bench/bench_sdxl_vae [--model FILE] [--write FILE] [--size PX] [--encode] [--png FILE]
 *   --model FILE  an SDXL single-file checkpoint (or a VAE-only file with first_stage_model.* names).
 *   --write FILE  without --model: write the full-shape random VAE (mkmodel "full": ch 128,
 *                 mult 1,2,4,4; f16) here first if missing. Default /tmp/ourvidz_sdxl_vae_full.safetensors.
 *   --size PX     image side (default 1024 -> a 128×128 latent).
 *   --encode      also time an encode of the decoded image.
 *   --png FILE    also write the decoded image as PNG (time reported).
 * Weights are loaded as f32. Threads: OURVIDZ_CPU_THREADS (default all cores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/image/png.h"
#include "common/model/weights.h"
#include "common/rng.h"
#include "common/tensor/backend.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/vae.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_full(const char *path)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    char err[512] = "";
    int rc = ov_mk_sdxl_vae(&l, "full");
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F16, 42, NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "bench_sdxl_vae: writing %s: %s\n", path, err);
    ov_mk_list_free(&l);
    return rc;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *write = "/tmp/ourvidz_sdxl_vae_full.safetensors", *png = NULL;
    long size = 1024;
    int encode = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--write") && i + 1 < argc)
            write = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--png") && i + 1 < argc)
            png = argv[++i];
        else if (!strcmp(argv[i], "--encode"))
            encode = 1;
        else {
            fprintf(
                stderr,
                "usage: bench_sdxl_vae [--model FILE] [--write FILE] [--size PX] [--encode] [--png FILE]\n");
            return 2;
        }
    }
    if (size < 64 || size % 8 || size > 4096) {
        fprintf(stderr, "bench_sdxl_vae: --size must be a multiple of 8 in 64..4096\n");
        return 2;
    }
    struct stat st;
    if (!model) {
        if (stat(write, &st) != 0) {
            double t0 = now_s();
            if (write_full(write))
                return 1;
            printf("wrote %s in %.1f s\n", write, now_s() - t0);
        }
        model = write;
    }
    ov_weights *w = NULL;
    ov_mem mem;
    ov_mem_init(&mem, ov_backend_cpu(), 0);
    ov_sdxl_vae *vae = NULL;
    double t0 = now_s();
    int rc = ov_weights_open(model, &w);
    if (!rc)
        rc = ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL);
    if (!rc)
        rc = ov_sdxl_vae_load(w, &mem, OV_DTYPE_F32, &vae);
    if (rc) {
        fprintf(stderr, "bench_sdxl_vae: %s: %s\n", model, ov_tensor_last_error());
        return 1;
    }
    printf("loaded %s: %.1f MB of weights (f32) in %.1f s\n", model, (double)mem.used_bytes / 1e6,
           now_s() - t0);

    int64_t f = ov_sdxl_vae_factor(vae), h = size / f, wd = size / f, zc = ov_sdxl_vae_latent_channels(vae);
    size_t need = ov_sdxl_vae_decode_scratch_bytes(vae, h, wd);
    if (encode && ov_sdxl_vae_encode_scratch_bytes(vae, size, size) > need)
        need = ov_sdxl_vae_encode_scratch_bytes(vae, size, size);
    ov_arena arena;
    ov_tensor z, img, mean;
    int64_t zs[4] = {1, zc, h, wd}, is[4] = {1, 3, size, size};
    if ((rc = ov_arena_init(&arena, &mem, "vae", need)) ||
        (rc = ov_mem_alloc_tensor(&mem, &z, "z", OV_DTYPE_F32, 4, zs)) ||
        (rc = ov_mem_alloc_tensor(&mem, &img, "img", OV_DTYPE_F32, 4, is)) ||
        (rc = ov_mem_alloc_tensor(&mem, &mean, "mean", OV_DTYPE_F32, 4, zs))) {
        fprintf(stderr, "bench_sdxl_vae: %s\n", ov_tensor_last_error());
        return 1;
    }
    size_t nz = (size_t)(zc * h * wd);
    float *zh = malloc(nz * sizeof(float));
    ov_rng rng;
    ov_rng_seed(&rng, 1);
    for (size_t i = 0; i < nz; i++)
        zh[i] = ov_rng_normal(&rng);
    ov_tensor_upload(&z, zh, nz * sizeof(float));
    printf("decode %ldx%ld (latent %lldx%lld), arena %.2f GiB, threads: OURVIDZ_CPU_THREADS=%s\n", size, size,
           (long long)h, (long long)wd, (double)need / (1 << 30),
           getenv("OURVIDZ_CPU_THREADS") ? getenv("OURVIDZ_CPU_THREADS") : "(all)");
    t0 = now_s();
    rc = ov_sdxl_vae_decode(vae, &arena, &z, &img);
    double dt = now_s() - t0;
    if (rc) {
        fprintf(stderr, "bench_sdxl_vae: decode: %s\n", ov_tensor_last_error());
        return 1;
    }
    printf("decode: %.2f s (arena peak %.2f GiB)\n", dt, (double)arena.peak_bytes / (1 << 30));
    if (encode) {
        t0 = now_s();
        rc = ov_sdxl_vae_encode(vae, &arena, &img, &mean);
        if (rc) {
            fprintf(stderr, "bench_sdxl_vae: encode: %s\n", ov_tensor_last_error());
            return 1;
        }
        printf("encode: %.2f s\n", now_s() - t0);
    }
    if (png) {
        size_t ni = (size_t)(3 * size * size);
        float *host = malloc(ni * sizeof(float));
        ov_tensor_download(&img, host, ni * sizeof(float));
        /* random weights give values far outside [-1, 1]: squash so the PNG has detail to compress */
        for (size_t i = 0; i < ni; i++)
            host[i] = host[i] / (1.0f + (host[i] < 0 ? -host[i] : host[i]));
        char err[512];
        ov_png_text t = {"Software", "ourvidz bench_sdxl_vae"};
        t0 = now_s();
        rc = ov_png_write_float(png, host, (int)size, (int)size, &t, 1, err, sizeof err);
        if (rc)
            fprintf(stderr, "bench_sdxl_vae: %s\n", err);
        else if (stat(png, &st) == 0)
            printf("png: %.3f s, %.1f KB (%s)\n", now_s() - t0, (double)st.st_size / 1e3, png);
        free(host);
    }
    free(zh);
    ov_mem_free_tensor(&mem, &z);
    ov_mem_free_tensor(&mem, &img);
    ov_mem_free_tensor(&mem, &mean);
    ov_arena_free(&arena);
    ov_sdxl_vae_free(vae, &mem);
    ov_weights_close(w);
    return rc ? 1 : 0;
}
