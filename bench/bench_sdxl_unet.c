/* SDXL UNet CPU step time at real SDXL base shapes (random weights), FLOPs and GFLOP/s.
 *
 * build/bench/bench_sdxl_unet [--model FILE] [--write FILE] [--size PX] [--batch 1,2] [--iters N]
 *                             [--f32] [--ctx L]
 *   --model FILE  an SDXL single-file checkpoint (ourvidz-mkmodel sdxl --preset full, or a real one).
 *   --write FILE  without --model: write the full-shape random checkpoint here first if it is
 *                 missing (every SDXL component whose mkmodel list is available, f16), then use it.
 *                 Default /tmp/ourvidz_sdxl_full.safetensors.
 *   --size PX     image side; the latent is PX/8 (default 512 -> 64×64).
 *   --batch LIST  batch sizes to time (default "1,2": one image, then the CFG pair).
 *   --iters N     timed steps per batch size after one untimed warm-up (default 1; --iters 0 = no
 *                 warm-up, one timed step).
 *   --f32         load the weights as f32 (default: as stored, f16 converted per GEMM tile).
 * Threads: OURVIDZ_CPU_THREADS (default all cores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/model/weights.h"
#include "common/tensor/backend.h"
#include "common/tensor/cpu_internal.h" /* ov_cpu_threads() */
#include "common/tensor/ops.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/unet.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Full-shape random checkpoint: the UNet list always, the other components where their list exists. */
static int write_full(const char *path)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_unet(&l, "full");
    if (rc) {
        ov_mk_list_free(&l);
        return rc;
    }
    int (*const others[])(ov_mk_list *, const char *) = {ov_mk_sdxl_te1, ov_mk_sdxl_te2, ov_mk_sdxl_vae};
    const char *names[] = {"te1", "te2", "vae"};
    for (int i = 0; i < 3; i++) {
        size_t n0 = l.n;
        int r = others[i](&l, "full");
        if (r) {
            l.n = n0;
            fprintf(stderr, "bench_sdxl_unet: no %s list (%s): writing without it\n", names[i],
                    ov_errname(r));
        }
    }
    char err[512] = "";
    const char *meta[] = {"modelspec.architecture", "stable-diffusion-xl-v1-base", "ourvidz.preset", "full"};
    fprintf(stderr, "bench_sdxl_unet: writing %s (%zu tensors, f16)...\n", path, l.n);
    double t0 = now_s();
    rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F16, 42, meta, 2, err, sizeof err);
    if (rc)
        fprintf(stderr, "bench_sdxl_unet: %s\n", err);
    else
        fprintf(stderr, "bench_sdxl_unet: written in %.0f s\n", now_s() - t0);
    ov_mk_list_free(&l);
    return rc;
}

/* CPU seconds of the whole process (all threads): on a shared machine, GFLOP per CPU-second is the
 * load-independent figure. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill(float *v, int64_t n, uint64_t seed, float scale)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = scale * ((float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
    }
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || end == s || (*end && *end != ',') || v < lo || v > hi)
        return -1;
    *out = v;
    return (int)(end - s);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *write = "/tmp/ourvidz_sdxl_full.safetensors", *batches = "1,2";
    long size = 512, iters = 1, ctx_len = 77;
    int want_dtype = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--f32")) {
            want_dtype = OV_DTYPE_F32;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: see the comment at the top of bench/bench_sdxl_unet.c\n");
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--write"))
            write = v;
        else if (!strcmp(a, "--batch"))
            batches = v;
        else if (!strcmp(a, "--size") && parse_int(v, 64, 4096, &size) >= 0 && size % 32 == 0)
            continue;
        else if (!strcmp(a, "--iters") && parse_int(v, 0, 1000, &iters) >= 0)
            continue;
        else if (!strcmp(a, "--ctx") && parse_int(v, 1, 4096, &ctx_len) >= 0)
            continue;
        else {
            fprintf(stderr, "bench_sdxl_unet: bad argument %s %s\n", a, v);
            return 2;
        }
    }
    if (!model) {
        struct stat st;
        if (stat(write, &st) != 0 && write_full(write))
            return 1;
        model = write;
    }

    ov_backend *be = ov_backend_cpu();
    ov_mem mem;
    ov_mem_init(&mem, be, 0);
    ov_weights *w = NULL;
    ov_sdxl_unet *u = NULL;
    int rc = ov_weights_open(model, &w);
    if (!rc)
        rc = ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL);
    double t0 = now_s();
    if (!rc)
        rc = ov_sdxl_unet_load(w, &mem, want_dtype, &u);
    if (rc) {
        fprintf(stderr, "bench_sdxl_unet: %s: %s\n", model, ov_tensor_last_error());
        return 1;
    }
    const ov_sdxl_unet_info *in = ov_sdxl_unet_get_info(u);
    printf("model %s\n", model);
    printf("unet: mc %d, mult %d/%d/%d, depth %d/%d/%d, mid %d, context %d, adm %d; weights %.2f GB (%s), "
           "loaded in %.1f s\n",
           in->model_channels, in->channel_mult[0], in->channel_mult[1], in->channel_mult[2], in->depth[0],
           in->depth[1], in->depth[2], in->mid_depth, in->context_dim, in->adm_in_channels,
           in->weight_bytes / 1e9, want_dtype == OV_DTYPE_F32 ? "f32" : "as stored", now_s() - t0);
    printf("threads %d, image %ldx%ld (latent %ldx%ld), context %ld tokens\n", ov_cpu_threads(), size, size,
           size / 8, size / 8, ctx_len);

    ov_arena arena;
    if (ov_arena_init(&arena, &mem, "unet", (size_t)2 << 30)) {
        fprintf(stderr, "bench_sdxl_unet: %s\n", ov_tensor_last_error());
        return 1;
    }
    const char *p = batches;
    while (*p) {
        long B;
        int k = parse_int(p, 1, 64, &B);
        if (k < 0) {
            fprintf(stderr, "bench_sdxl_unet: bad --batch %s\n", batches);
            return 2;
        }
        p += k + (p[k] == ',');
        int64_t H = size / 8, W = size / 8;
        int64_t nx = B * 4 * H * W, nc = B * ctx_len * in->context_dim, ny = B * in->adm_in_channels;
        float *xv = malloc((size_t)nx * 4), *cv = malloc((size_t)nc * 4), *yv = malloc((size_t)ny * 4);
        float *ov = malloc((size_t)nx * 4), tv[64];
        if (!xv || !cv || !yv || !ov)
            return 1;
        fill(xv, nx, 1, 1.7f);
        fill(cv, nc, 2, 1.7f);
        fill(yv, ny, 3, 1.0f);
        for (long b = 0; b < B; b++)
            tv[b] = 999.0f - 37.0f * (float)b;
        ov_tensor x, t, c, y, o;
        ov_tensor_init(&x, "x", OV_DTYPE_F32, 4, (int64_t[]){B, 4, H, W}, xv, be);
        ov_tensor_init(&t, "t", OV_DTYPE_F32, 1, (int64_t[]){B}, tv, be);
        ov_tensor_init(&c, "context", OV_DTYPE_F32, 3, (int64_t[]){B, ctx_len, in->context_dim}, cv, be);
        ov_tensor_init(&y, "y", OV_DTYPE_F32, 2, (int64_t[]){B, in->adm_in_channels}, yv, be);
        ov_tensor_init(&o, "out", OV_DTYPE_F32, 4, (int64_t[]){B, 4, H, W}, ov, be);
        double best = 1e30, sum = 0, best_cpu = 0;
        long runs = iters > 0 ? iters + 1 : 1;
        for (long r = 0; r < runs; r++) {
            double s0 = now_s(), c0 = cpu_s();
            rc = ov_sdxl_unet_forward(u, &arena, &x, &t, &c, &y, &o);
            double dt = now_s() - s0, dc = cpu_s() - c0;
            if (rc) {
                fprintf(stderr, "bench_sdxl_unet: forward: %s\n", ov_tensor_last_error());
                return 1;
            }
            if (iters > 0 && r == 0) {
                printf("  batch %ld warm-up %.2f s\n", B, dt);
                continue;
            }
            sum += dt;
            if (dt < best) {
                best = dt;
                best_cpu = dc;
            }
        }
        long timed = iters > 0 ? iters : 1;
        double gflop = ov_sdxl_unet_flops(u, B, H, W, ctx_len) / 1e9;
        printf("batch %ld: step %.2f s (best of %ld; mean %.2f s), %.1f GFLOP/step, %.1f GFLOP/s, "
               "%.2f s per image, CPU %.1f s (%.1f GFLOP per CPU-s), arena peak %.0f MiB, out[0] %.4f\n",
               B, best, timed, sum / timed, gflop, gflop / best, best / B, best_cpu, gflop / best_cpu,
               arena.peak_bytes / 1048576.0, ov[0]);
        fflush(stdout);
        free(xv);
        free(cv);
        free(yv);
        free(ov);
    }
    ov_arena_free(&arena);
    ov_sdxl_unet_free(u, &mem);
    ov_weights_close(w);
    return 0;
}
