/* CPU op benchmark: linear per weight dtype (decode GEMV vs memory bandwidth, prefill vs raw sgemm),
 * attention, conv. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/cpu_internal.h" /* ov_cpu_threads() */
#include "common/tensor/ops.h"
#include "common/tensor/ops_cpu_simd.h" /* kernel level: scalar vs avx2 */

#define REPS 7

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t g_seed = 88172645463325252ull;

static float frand(void)
{
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return (float)((double)(g_seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static ov_mem g_mem;

static ov_tensor mk(const char *name, int dtype, int ndim, const int64_t *shape)
{
    ov_tensor t;
    if (ov_mem_alloc_tensor(&g_mem, &t, name, dtype, ndim, shape)) {
        fprintf(stderr, "alloc %s: %s\n", name, ov_tensor_last_error());
        exit(1);
    }
    int64_t n = ov_tensor_nelem(&t);
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        v[i] = frand();
    if (dtype == OV_DTYPE_F32) {
        memcpy(t.data, v, (size_t)n * sizeof(float));
    } else if (ov_dtype_from_f32(dtype, v, t.data, n)) {
        fprintf(stderr, "convert %s\n", name);
        exit(1);
    }
    free(v);
    return t;
}

/* Best (shortest) seconds of REPS runs after one warm-up: dev machines are shared, and the best
 * run is the one least disturbed by other processes (medians drift with the neighbours' load). */
#define TIME_BEST(out, stmt)                                                                                 \
    do {                                                                                                     \
        double ts_[REPS];                                                                                    \
        stmt;                                                                                                \
        for (int r_ = 0; r_ < REPS; r_++) {                                                                  \
            double t0_ = now_s();                                                                            \
            stmt;                                                                                            \
            ts_[r_] = now_s() - t0_;                                                                         \
        }                                                                                                    \
        qsort(ts_, REPS, sizeof(double), cmp_d);                                                             \
        out = ts_[0];                                                                                        \
    } while (0)

#define CHECK(call)                                                                                          \
    do {                                                                                                     \
        if ((call) != 0) {                                                                                   \
            fprintf(stderr, "%s: %s\n", #call, ov_tensor_last_error());                                      \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

static void bench_gemm(const char *label, int64_t M, int64_t K, int64_t N)
{
    ov_tensor x = mk("x", OV_DTYPE_F32, 2, (int64_t[]){M, K});
    ov_tensor w = mk("w", OV_DTYPE_F32, 2, (int64_t[]){N, K});
    ov_tensor y = mk("y", OV_DTYPE_F32, 2, (int64_t[]){M, N});
    ov_tensor b = mk("b", OV_DTYPE_F32, 1, (int64_t[]){N});
    ov_tensor wq = mk("wq8", OV_DTYPE_Q8_0, 2, (int64_t[]){N, K});
    ov_tensor wh = mk("wf16", OV_DTYPE_F16, 2, (int64_t[]){N, K});
    double flop = 2.0 * (double)M * (double)K * (double)N, t_raw, t_op, t_bias, t_q8, t_f16;
    TIME_BEST(t_raw, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f,
                                 x.data, (int)K, w.data, (int)K, 0.0f, y.data, (int)N));
    TIME_BEST(t_op, CHECK(ov_op_linear(&y, &x, &w, NULL)));
    TIME_BEST(t_bias, CHECK(ov_op_linear(&y, &x, &w, &b)));
    TIME_BEST(t_f16, CHECK(ov_op_linear(&y, &x, &wh, &b)));
    TIME_BEST(t_q8, CHECK(ov_op_linear(&y, &x, &wq, &b)));
    printf("| %s | %lldx%lldx%lld | %.1f | %.1f (%.0f%%) | %.1f (%.0f%%) | %.1f | %.1f |\n", label,
           (long long)M, (long long)K, (long long)N, flop / t_raw * 1e-9, flop / t_op * 1e-9,
           100.0 * t_raw / t_op, flop / t_bias * 1e-9, 100.0 * t_raw / t_bias, flop / t_f16 * 1e-9,
           flop / t_q8 * 1e-9);
    ov_tensor *all[] = {&x, &w, &y, &b, &wq, &wh};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ov_mem_free_tensor(&g_mem, all[i]);
}

/* f16 prefill GEMMs under each CPU strategy (ov_cpu_prefill_force), interleaved in one process so the
 * neighbours' load hits every mode alike. */
static void bench_prefill_modes(void)
{
    static const int64_t shapes[][2] = {{896, 4864}, {4864, 896}, {896, 896}};
    printf("\n| f16 W, M=128, GFLOP/s | KxN | raw f32 sgemm | auto (new plan) | old 1 MB tiles | panels, BLAS-threaded "
           "|\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = 128, K = shapes[s][0], N = shapes[s][1];
        ov_tensor x = mk("x", OV_DTYPE_F32, 2, (int64_t[]){M, K});
        ov_tensor w = mk("w", OV_DTYPE_F32, 2, (int64_t[]){N, K});
        ov_tensor wh = mk("wf16", OV_DTYPE_F16, 2, (int64_t[]){N, K});
        ov_tensor y = mk("y", OV_DTYPE_F32, 2, (int64_t[]){M, N});
        double flop = 2.0 * (double)M * (double)K * (double)N, best[4] = {1e9, 1e9, 1e9, 1e9};
        for (int round = 0; round < 10; round++) {
            double t;
            TIME_BEST(t, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f,
                                     x.data, (int)K, w.data, (int)K, 0.0f, y.data, (int)N));
            best[0] = t < best[0] ? t : best[0];
            for (int m = 0; m < 3; m++) {
                ov_cpu_prefill_force(m);
                TIME_BEST(t, CHECK(ov_op_linear(&y, &x, &wh, NULL)));
                best[m + 1] = t < best[m + 1] ? t : best[m + 1];
            }
            ov_cpu_prefill_force(0);
        }
        printf("| | %lldx%lld | %.1f | %.1f | %.1f | %.1f |\n", (long long)K, (long long)N, flop / best[0] * 1e-9,
               flop / best[1] * 1e-9, flop / best[2] * 1e-9, flop / best[3] * 1e-9);
        ov_tensor *all[] = {&x, &w, &wh, &y};
        for (size_t i = 0; i < 4; i++)
            ov_mem_free_tensor(&g_mem, all[i]);
    }
}

/* ---- memory bandwidth (the decode ceiling) ---- */

struct rd_ctx {
    const uint64_t *p;
    uint64_t sum[64];
};

static void read_task(void *vctx, int64_t b, int64_t e)
{
    struct rd_ctx *c = vctx;
    const uint64_t *p = c->p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t i = b * 512; i < e * 512; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    c->sum[(b / 8) & 63] += s0 ^ s1 ^ s2 ^ s3; /* keeps the loads; races here are harmless */
}

static double g_read_gbs;

/* STREAM-like: a 1 GiB buffer read by our pool's threads (each reads 4 KB lines in order), and
 * a single-threaded memcpy of 512 MiB; best of 5 after a warm-up. */
static void bench_bandwidth(void)
{
    size_t bytes = (size_t)1 << 30;
    uint64_t *buf = malloc(bytes);
    char *dst = malloc(bytes / 2);
    if (!buf || !dst) {
        fprintf(stderr, "bandwidth: no memory\n");
        exit(1);
    }
    memset(buf, 1, bytes);
    memset(dst, 2, bytes / 2);
    struct rd_ctx c = {buf, {0}};
    double best = 1e9, best_cp = 1e9;
    for (int r = 0; r < 6; r++) {
        double t0 = now_s();
        ov_cpu_parallel((int64_t)(bytes / 4096), 1024, read_task, &c);
        double t = now_s() - t0;
        if (r && t < best)
            best = t;
        t0 = now_s();
        memcpy(dst, buf, bytes / 2);
        t = now_s() - t0;
        if (r && t < best_cp)
            best_cp = t;
    }
    g_read_gbs = (double)bytes / best * 1e-9;
    printf(
        "memory: read %.1f GB/s (%d threads, 1 GiB), memcpy %.1f GB/s copied (1 thread, 512 MiB) [%llu]\n\n",
        g_read_gbs, ov_cpu_threads(), (double)(bytes / 2) / best_cp * 1e-9,
        (unsigned long long)(c.sum[0] + (unsigned char)dst[12345]));
    free(buf);
    free(dst);
}

/* ---- linear per weight dtype at the Qwen shapes ---- */

static const int k_dts[] = {OV_DTYPE_F32,  OV_DTYPE_F16,  OV_DTYPE_BF16, OV_DTYPE_F8_E4M3,
                            OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};

/* y [M, N] = x [M, K] · W [N, K]ᵀ for each weight dtype: M = 1 (decode: fused dequant-dot, bound by
 * reading the weights, so also as GB/s of weight bytes and % of the read bandwidth; once more with
 * the scalar kernels), then M = prefill_m (dequantised tiles + sgemm, as % of raw f32 sgemm). */
static void bench_linear_dtypes(const char *label, int64_t K, int64_t N, int64_t prefill_m)
{
    int64_t M = prefill_m;
    ov_tensor x = mk("x", OV_DTYPE_F32, 2, (int64_t[]){M, K});
    ov_tensor y = mk("y", OV_DTYPE_F32, 2, (int64_t[]){M, N});
    ov_tensor x1, y1;
    ov_tensor_slice(&x1, &x, 0, 0, 1);
    ov_tensor_slice(&y1, &y, 0, 0, 1);
    double flop1 = 2.0 * (double)K * (double)N, flopm = flop1 * (double)M, t_raw = 0;
    for (size_t d = 0; d < sizeof k_dts / sizeof k_dts[0]; d++) {
        int dt = k_dts[d];
        if (ov_dtype_block_elems(dt) > 1 && K % (int64_t)ov_dtype_block_elems(dt) != 0) {
            printf("| %s | %s | K %% %zu != 0 (llama.cpp stores such rows as q8_0/q5_0) | | | | | | |\n",
                   label, ov_dtype_name(dt), ov_dtype_block_elems(dt));
            continue;
        }
        ov_tensor w = mk("w", dt, 2, (int64_t[]){N, K});
        if (dt == OV_DTYPE_F8_E4M3)
            w.scale = 0.5f;
        double wbytes = (double)ov_tensor_nbytes(&w), t1, t1s, tm;
        if (dt == OV_DTYPE_F32)
            TIME_BEST(t_raw, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K,
                                         1.0f, x.data, (int)K, w.data, (int)K, 0.0f, y.data, (int)N));
        TIME_BEST(t1, CHECK(ov_op_linear(&y1, &x1, &w, NULL)));
        ov_cpu_simd_force(OV_CPU_SIMD_SCALAR);
        TIME_BEST(t1s, CHECK(ov_op_linear(&y1, &x1, &w, NULL)));
        ov_cpu_simd_force(-1);
        TIME_BEST(tm, CHECK(ov_op_linear(&y, &x, &w, NULL)));
        printf("| %s | %s | %.1f MB | %.2f ms | %.1f | %.1f (%.0f %%) | %.1f | %.1f | %.0f %% |\n", label,
               ov_dtype_name(dt), wbytes * 1e-6, t1 * 1e3, flop1 / t1 * 1e-9, wbytes / t1 * 1e-9,
               100.0 * wbytes / t1 * 1e-9 / g_read_gbs, wbytes / t1s * 1e-9, flopm / tm * 1e-9,
               100.0 * t_raw / tm);
        ov_mem_free_tensor(&g_mem, &w);
    }
    printf("| %s | raw cblas_sgemm M=%lld | | | | | | %.1f | 100 %% |\n", label, (long long)M,
           flopm / t_raw * 1e-9);
    ov_mem_free_tensor(&g_mem, &x);
    ov_mem_free_tensor(&g_mem, &y);
}

static void bench_attn(const char *label, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk,
                       int64_t D, int causal)
{
    ov_tensor q = mk("q", OV_DTYPE_F32, 4, (int64_t[]){B, Hq, Lq, D});
    ov_tensor k = mk("k", OV_DTYPE_F32, 4, (int64_t[]){B, Hkv, Lk, D});
    ov_tensor v = mk("v", OV_DTYPE_F32, 4, (int64_t[]){B, Hkv, Lk, D});
    ov_tensor o = mk("o", OV_DTYPE_F32, 4, (int64_t[]){B, Hq, Lq, D});
    ov_attn_params p = {.causal = causal, .q_pos_offset = causal ? Lk - Lq : 0};
    /* causal work: each query sees off + i + 1 keys */
    double pairs = causal ? (double)Lq * (double)(Lk - Lq) + (double)Lq * (double)(Lq + 1) / 2.0
                          : (double)Lq * (double)Lk;
    double flop = 4.0 * (double)B * (double)Hq * pairs * (double)D, t;
    TIME_BEST(t, CHECK(ov_op_attention(&o, &q, &k, &v, &p)));
    printf("| %s | B%lld Hq%lld Hkv%lld Lq%lld Lk%lld D%lld%s | %.2f ms | %.1f |\n", label, (long long)B,
           (long long)Hq, (long long)Hkv, (long long)Lq, (long long)Lk, (long long)D, causal ? " causal" : "",
           t * 1e3, flop / t * 1e-9);
    ov_tensor *all[] = {&q, &k, &v, &o};
    for (size_t i = 0; i < 4; i++)
        ov_mem_free_tensor(&g_mem, all[i]);
}

static void bench_conv2d(const char *label, int64_t C, int64_t H, int64_t W, int64_t O, int k, int stride,
                         int wdt)
{
    int pad = k / 2;
    int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    ov_tensor x = mk("x", OV_DTYPE_F32, 4, (int64_t[]){1, C, H, W});
    ov_tensor w = mk("w", wdt, 4, (int64_t[]){O, C, k, k});
    ov_tensor wf = mk("wf", OV_DTYPE_F32, 4, (int64_t[]){O, C, k, k});
    ov_tensor b = mk("b", OV_DTYPE_F32, 1, (int64_t[]){O});
    ov_tensor y = mk("y", OV_DTYPE_F32, 4, (int64_t[]){1, O, Ho, Wo});
    ov_conv2d_params p = {stride, stride, pad, pad, 1, 1, 1};
    double flop = 2.0 * (double)O * (double)Ho * (double)Wo * (double)C * k * k, t;
    TIME_BEST(t, CHECK(ov_op_conv2d(&y, &x, &w, &b, &p)));
    /* the same GEMM without im2col, for the ceiling */
    ov_tensor col = mk("col", OV_DTYPE_F32, 2, (int64_t[]){C * k * k, Ho * Wo});
    double t_g;
    TIME_BEST(t_g, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)O, (int)(Ho * Wo),
                               (int)(C * k * k), 1.0f, wf.data, (int)(C * k * k), col.data, (int)(Ho * Wo),
                               0.0f, y.data, (int)(Ho * Wo)));
    printf("| %s | [%lld,%lld,%lld] k%d s%d -> %lld, %s W | %.2f ms | %.1f | %.1f |\n", label, (long long)C,
           (long long)H, (long long)W, k, stride, (long long)O, ov_dtype_name(wdt), t * 1e3, flop / t * 1e-9,
           flop / t_g * 1e-9);
    ov_tensor *all[] = {&x, &w, &wf, &b, &y, &col};
    for (size_t i = 0; i < 6; i++)
        ov_mem_free_tensor(&g_mem, all[i]);
}

static void bench_conv3d(const char *label, int64_t C, int64_t T, int64_t H, int64_t W, int64_t O)
{
    ov_tensor x = mk("x", OV_DTYPE_F32, 5, (int64_t[]){1, C, T, H, W});
    ov_tensor w = mk("w", OV_DTYPE_F32, 5, (int64_t[]){O, C, 3, 3, 3});
    ov_tensor b = mk("b", OV_DTYPE_F32, 1, (int64_t[]){O});
    ov_tensor y = mk("y", OV_DTYPE_F32, 5, (int64_t[]){1, O, T, H, W});
    ov_conv3d_params p = {1, 1, 1, 2, 1, 1};
    double flop = 2.0 * (double)O * (double)T * (double)H * (double)W * (double)C * 27, t;
    TIME_BEST(t, CHECK(ov_op_conv3d_causal(&y, &x, &w, &b, &p)));
    printf("| %s | [%lld,%lld,%lld,%lld] k3 causal -> %lld | %.2f ms | %.1f | — |\n", label, (long long)C,
           (long long)T, (long long)H, (long long)W, (long long)O, t * 1e3, flop / t * 1e-9);
    ov_tensor *all[] = {&x, &w, &b, &y};
    for (size_t i = 0; i < 4; i++)
        ov_mem_free_tensor(&g_mem, all[i]);
}

/* SDXL UNet and VAE decoder shapes (the VAE rows are a 256² decode: 32² latent, then 64², 128², 256²),
 * the generic strided path, the 1x1 shortcut (a plain GEMM) and f16 weights. */
static void bench_convs(void)
{
    printf("\n| conv | shape | time | GFLOP/s | raw sgemm same dims |\n|---|---|---|---|---|\n");
    bench_conv2d("SDXL res conv @320 (64x64 latent)", 320, 64, 64, 320, 3, 1, OV_DTYPE_F32);
    bench_conv2d("SDXL res conv @640 (32x32)", 640, 32, 32, 640, 3, 1, OV_DTYPE_F32);
    bench_conv2d("SDXL downsample 320", 320, 64, 64, 320, 3, 2, OV_DTYPE_F32);
    bench_conv2d("VAE conv_in-like 4->512 (64x64)", 4, 64, 64, 512, 3, 1, OV_DTYPE_F32);
    bench_conv2d("VAE dec mid @512 (32x32)", 512, 32, 32, 512, 3, 1, OV_DTYPE_F32);
    bench_conv2d("VAE dec mid @512 (32x32)", 512, 32, 32, 512, 3, 1, OV_DTYPE_F16);
    bench_conv2d("VAE dec up @256 (128x128)", 256, 128, 128, 256, 3, 1, OV_DTYPE_F32);
    bench_conv2d("VAE dec up @128 (256x256)", 128, 256, 256, 128, 3, 1, OV_DTYPE_F32);
    bench_conv2d("VAE dec conv_out 128->3 (256x256)", 128, 256, 256, 3, 3, 1, OV_DTYPE_F32);
    bench_conv2d("VAE shortcut 1x1 512->256 (128x128)", 512, 128, 128, 256, 1, 1, OV_DTYPE_F32);
    bench_conv2d("VAE shortcut 1x1 512->256 (128x128)", 512, 128, 128, 256, 1, 1, OV_DTYPE_F16);
    bench_conv3d("WAN VAE causal conv3d @96 (3 frames, 64x64)", 96, 3, 64, 64, 96);
}

int main(int argc, char **argv)
{
    int quick = 0, linear_only = 0, conv_only = 0, prefill_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1; /* the smallest Qwen shape only, fewer GEMM shapes */
        else if (strcmp(argv[i], "--linear") == 0)
            linear_only = 1; /* bandwidth + the per-dtype linear table only */
        else if (strcmp(argv[i], "--prefill") == 0)
            prefill_only = 1; /* f16/bf16/q8_0 prefill GEMMs at Qwen-0.5B shapes, 128 tokens */
        else if (strcmp(argv[i], "--conv") == 0)
            conv_only = 1; /* the conv table only */
        else {
            fprintf(stderr, "usage: %s [--quick] [--linear] [--prefill] [--conv]\n", argv[0]);
            return 2;
        }
    }
    ov_mem_init(&g_mem, ov_backend_cpu(), 0);
    printf("threads: ours %d, openblas %d; best of %d runs\n\n", ov_cpu_threads(), openblas_get_num_threads(),
           REPS);
    printf("kernels: %s; %s\n", ov_cpu_simd_name(ov_cpu_simd_level()), ov_cpu_blas_info());
    if (conv_only) {
        bench_convs();
        return 0;
    }
    if (prefill_only) {
        printf("\n| GEMM y = x·Wᵀ | MxKxN | raw sgemm GFLOP/s | ov_op_linear | + bias | f16 W + bias | q8_0 W + "
               "bias |\n");
        printf("|---|---|---|---|---|---|---|\n");
        bench_gemm("Qwen-0.5B MLP up, 128 tokens", 128, 896, 4864);
        bench_gemm("Qwen-0.5B MLP down, 128 tokens", 128, 4864, 896);
        bench_gemm("Qwen-0.5B q/o proj, 128 tokens", 128, 896, 896);
        bench_prefill_modes();
        return 0;
    }
    bench_bandwidth();
    printf("| y = x·Wᵀ, W [N, K] | W dtype | W bytes | M=1 time | M=1 GFLOP/s | M=1 W GB/s (%% of read bw) | "
           "M=1 scalar W GB/s | M=64 GFLOP/s | M=64 %% of f32 sgemm |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    bench_linear_dtypes("Qwen2.5-0.5B MLP up 4864x896", 896, 4864, 64);
    if (!quick) {
        bench_linear_dtypes("Qwen2.5-7B MLP up 18944x3584", 3584, 18944, 64);
        bench_linear_dtypes("Qwen2.5 lm_head 151936x896", 896, 151936, 64);
    }
    if (linear_only)
        return 0;
    printf("\n| GEMM y = x·Wᵀ | MxKxN | raw sgemm GFLOP/s | ov_op_linear | + bias | f16 W + bias | q8_0 W + "
           "bias |\n");
    printf("|---|---|---|---|---|---|---|\n");
    bench_gemm("Qwen-0.5B MLP up, 128 tokens", 128, 896, 4864);
    bench_gemm("WAN-1.3B q/k/v, 512 tokens", 512, 1536, 1536);
    bench_gemm("SDXL attn proj, 1024 tokens @640", 1024, 640, 640);
    if (!quick)
        bench_gemm("WAN FFN up, 256 tokens", 256, 1536, 8960);
    bench_gemm("Qwen decode (GEMV), 1 token", 1, 896, 4864);
    printf("\n| attention | shape | time | GFLOP/s |\n|---|---|---|---|\n");
    bench_attn("WAN self-attn (L scaled 32760 -> 1024)", 1, 12, 12, 1024, 1024, 128, 0);
    bench_attn("WAN cross-attn to 512 text rows", 1, 12, 12, 1024, 512, 128, 0);
    bench_attn("SDXL self-attn @64x64/2 (1024 tok, 10x64)", 1, 10, 10, 1024, 1024, 64, 0);
    bench_attn("SDXL cross-attn to 77", 1, 10, 10, 1024, 77, 64, 0);
    bench_attn("Qwen-0.5B prefill 512 (GQA 14/2)", 1, 14, 2, 512, 512, 64, 1);
    bench_attn("Qwen-0.5B decode at 1024 ctx", 1, 14, 2, 1, 1024, 64, 1);
    bench_convs();
    return 0;
}
