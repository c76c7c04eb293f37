/* SDXL text encoders' CPU encode time at real SDXL base shapes (random weights): CLIP-L and bigG
 * separately, then the whole ov_sdxl_text_encode of one 77-token window.
 *
 * build/bench/bench_sdxl_text [--model FILE] [--write FILE] [--iters N] [--f32]
 *   --model FILE  an SDXL single-file checkpoint (a real one, or ourvidz-mkmodel sdxl --preset full).
 *   --write FILE  without --model: write the full-shape te1 + te2 (f16, mkmodel lists) here first if
 *                 it is missing, then use it. Default /tmp/ourvidz_sdxl_te_full.safetensors.
 *   --iters N     timed runs after one untimed warm-up (default 2; the best is reported).
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
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/clip_text.h"
#include "workers/sdxl/sdxl_text.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_te_full(const char *path)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_te1(&l, "full");
    if (!rc)
        rc = ov_mk_sdxl_te2(&l, "full");
    char err[512] = "";
    const char *meta[] = {"ourvidz.preset", "full (text encoders only)"};
    if (!rc) {
        fprintf(stderr, "bench_sdxl_text: writing %s (%zu tensors, f16)...\n", path, l.n);
        rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F16, 42, meta, 1, err, sizeof err);
    }
    if (rc)
        fprintf(stderr, "bench_sdxl_text: %s (code %d)\n", err, rc);
    ov_mk_list_free(&l);
    return rc;
}

/* Multiply-adds of one block over L tokens: q/k/v/out (4·W²), MLP (2·W·M), attention (2·L·W). */
static double block_gflop(const ov_clip_text *e, double L)
{
    double W = e->width, M = e->mlp;
    return 2.0 * (L * (4.0 * W * W + 2.0 * W * M) + 2.0 * L * L * W) * 1e-9;
}

/* One window through `blocks` blocks of e (plus bigG's pooled projection when pool); best of iters. */
static int time_encoder(const ov_clip_text *e, int blocks, int pool, ov_arena *a, long iters, double *best)
{
    int32_t ids[OV_CLIP_CTX];
    for (int i = 0; i < OV_CLIP_CTX; i++)
        ids[i] = i == 0 ? OV_CLIP_BOS : (i < 20 ? 320 + 7 * i : (i == 20 ? OV_CLIP_EOS : 0));
    int64_t s[3] = {1, OV_CLIP_CTX, e->width}, sp[2] = {1, e->proj > 0 ? e->proj : 1};
    *best = 1e30;
    for (long it = 0; it <= iters; it++) {
        size_t mark = ov_arena_mark(a);
        ov_tensor x, pooled;
        double t0 = now_s();
        int rc = ov_arena_tensor(a, &x, "x", OV_DTYPE_F32, 3, s);
        if (!rc)
            rc = ov_clip_embed(e, ids, a, &x);
        for (int b = 0; !rc && b < blocks; b++)
            rc = ov_clip_block(e, b, &x, a);
        if (!rc && pool) {
            rc = ov_arena_tensor(a, &pooled, "pooled", OV_DTYPE_F32, 2, sp);
            if (!rc)
                rc = ov_clip_pool(e, &x, 20, a, &pooled);
        }
        if (!rc)
            rc = ov_backend_sync(ov_backend_cpu());
        double dt = now_s() - t0;
        ov_arena_release(a, mark);
        if (rc)
            return rc;
        if (it > 0 && dt < *best)
            *best = dt;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *write = "/tmp/ourvidz_sdxl_te_full.safetensors";
    long iters = 2;
    int f32 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--f32") == 0) {
            f32 = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: see the comment at the top of bench/bench_sdxl_text.c\n");
            return 2;
        }
        i++;
        if (strcmp(a, "--model") == 0) {
            model = v;
        } else if (strcmp(a, "--write") == 0) {
            write = v;
        } else if (strcmp(a, "--iters") == 0) {
            char *end = NULL;
            iters = strtol(v, &end, 10);
            if (*end || iters < 1 || iters > 100) {
                fprintf(stderr, "bench_sdxl_text: bad --iters %s\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_sdxl_text: unknown argument %s\n", a);
            return 2;
        }
    }
    struct stat st;
    if (!model) {
        if (stat(write, &st) != 0 && write_te_full(write) != 0)
            return 1;
        model = write;
    }
    ov_mem mem;
    ov_mem_init(&mem, ov_backend_cpu(), 0);
    ov_weights *w = NULL;
    ov_sdxl_text *te = NULL;
    ov_clip_text l, g;
    ov_arena arena = {0};
    ov_tok_clip *tok = NULL;
    double t0 = now_s();
    int rc = ov_weights_open(model, &w);
    if (!rc)
        rc = ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL);
    int wd = f32 ? OV_DTYPE_F32 : -1;
    if (!rc)
        rc = ov_clip_l_load(w, &mem, wd, &l);
    if (!rc)
        rc = ov_clip_g_load(w, &mem, wd, &g);
    double t_load = now_s() - t0;
    if (!rc)
        rc = ov_arena_init(&arena, &mem, "activations", 64u << 20);
    if (rc) {
        fprintf(stderr, "bench_sdxl_text: %s: %s\n", model, ov_tensor_last_error());
        return 1;
    }
    printf("model %s\nweights %.2f GB (%s), loaded in %.1f s; threads %d\n", model,
           (double)mem.used_bytes / 1e9, f32 ? "f32" : "as stored", t_load, ov_cpu_threads());
    double t1 = 0, t2 = 0;
    rc = time_encoder(&l, l.layers - 1, 0, &arena, iters, &t1);
    if (!rc)
        rc = time_encoder(&g, g.layers, 1, &arena, iters, &t2);
    if (rc) {
        fprintf(stderr, "bench_sdxl_text: %s\n", ov_tensor_last_error());
        return 1;
    }
    double f1 = (l.layers - 1) * block_gflop(&l, OV_CLIP_CTX), f2 = g.layers * block_gflop(&g, OV_CLIP_CTX);
    printf("te1 CLIP-L %d/%d wide, %d of %d blocks: %.3f s, %.1f GFLOP, %.1f GFLOP/s\n", l.width, l.mlp,
           l.layers - 1, l.layers, t1, f1, f1 / t1);
    printf("te2 bigG %d/%d wide, %d blocks + pooled: %.3f s, %.1f GFLOP, %.1f GFLOP/s\n", g.width, g.mlp,
           g.layers, t2, f2, f2 / t2);
    ov_clip_text_free(&l, &mem);
    ov_clip_text_free(&g, &mem);

    /* the public path: both encoders, one window, prompt tokenized */
    rc = ov_tok_clip_load_default(&tok);
    if (!rc)
        rc = ov_sdxl_text_load(w, &mem, wd, &te);
    double best = 1e30;
    for (long it = 0; !rc && it <= iters; it++) {
        size_t mark = ov_arena_mark(&arena);
        ov_tensor ctx, pooled;
        double s0 = now_s();
        rc = ov_sdxl_text_encode(te, tok, "a (photo:1.2) of a cat sitting on a red sofa, golden hour", 1, 3,
                                 &arena, &ctx, &pooled, NULL);
        double dt = now_s() - s0;
        ov_arena_release(&arena, mark);
        if (it > 0 && dt < best)
            best = dt;
    }
    if (rc) {
        fprintf(stderr, "bench_sdxl_text: encode: %s\n", ov_tensor_last_error());
        return 1;
    }
    printf("ov_sdxl_text_encode (1 window, weighted): %.3f s (best of %ld); arena peak %.1f MB\n", best,
           iters, (double)arena.peak_bytes / 1e6);
    ov_sdxl_text_free(te, &mem);
    ov_tok_clip_free(tok);
    ov_arena_free(&arena);
    ov_weights_close(w);
    return 0;
}
