/* CUDA backend benchmarks: bf16 GEMM and decode GEMV vs plain cuBLAS, fused decode linears vs unfused,
 * attention at WAN's shape, page cache -> VRAM. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/loader.h"
#include "common/tensor/backend.h"
#include "common/tensor/cuda/backend_cuda.h"
#include "common/tensor/ops.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A device tensor of random bf16/f32 values in ±[0.05, 1]. */
static int dev_tensor(ov_backend *be, ov_tensor *t, const char *name, int dtype, int ndim,
                      const int64_t *shape)
{
    if (ov_tensor_init(t, name, dtype, ndim, shape, NULL, be))
        return -1;
    size_t bytes = ov_tensor_nbytes(t);
    if (be->ops->alloc(be, bytes, &t->data))
        return -1;
    int64_t n = ov_tensor_nelem(t);
    float *f = malloc((size_t)n * sizeof(float));
    void *raw = malloc(bytes);
    if (!f || !raw) {
        free(f);
        free(raw);
        return -1;
    }
    uint64_t s = 0x9E3779B97F4A7C15ull ^ (uint64_t)bytes;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double v = 0.05 + 0.95 * (double)(s >> 11) / 9007199254740992.0;
        f[i] = (float)((s & 1) ? -v : v);
    }
    int rc = ov_dtype_from_f32(dtype, f, raw, n);
    if (!rc)
        rc = ov_tensor_upload(t, raw, bytes);
    free(f);
    free(raw);
    return rc;
}

static void dev_free(ov_backend *be, ov_tensor *t)
{
    be->ops->free(be, t->data);
    t->data = NULL;
}

/* ---- GEMM ---- */

struct gemm_shape {
    const char *what;
    int64_t M, N, K;
};

static void bench_gemm(ov_backend *be)
{
    static const struct gemm_shape shapes[] = {
        {"WAN qkv/o (32760x1536x1536)", 32760, 1536, 1536},
        {"WAN ffn up (32760x8960x1536)", 32760, 8960, 1536},
        {"WAN ffn down (32760x1536x8960)", 32760, 1536, 8960},
        {"SDXL attn 64x64 (8192x640x640)", 8192, 640, 640},
        {"SDXL geglu (2048x10240x1280)", 2048, 10240, 1280},
        {"Qwen prefill qkv (512x4608x3584)", 512, 4608, 3584},
        {"Qwen ffn gate (512x18944x3584)", 512, 18944, 3584},
        {"Qwen decode (1x18944x3584)", 1, 18944, 3584},
    };
    cublasHandle_t h;
    cudaStream_t st;
    void *ws = NULL;
    if (cudaStreamCreate(&st) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS ||
        cudaMalloc(&ws, 32u << 20) != cudaSuccess) {
        printf("gemm: cuBLAS setup failed\n");
        return;
    }
    cublasSetStream(h, st);
    cublasSetWorkspace(h, ws, 32u << 20);
    printf("\n### bf16 GEMM (y = x·Wᵀ, f32 accumulate)\n\n");
    printf("| shape | ov_op_linear TFLOP/s | cublasGemmEx TFLOP/s | ratio |\n|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const struct gemm_shape *g = &shapes[i];
        ov_tensor x, w, y;
        const int64_t sx[2] = {g->M, g->K}, sw[2] = {g->N, g->K}, sy[2] = {g->M, g->N};
        if (dev_tensor(be, &x, "x", OV_DTYPE_BF16, 2, sx) || dev_tensor(be, &w, "w", OV_DTYPE_BF16, 2, sw) ||
            dev_tensor(be, &y, "y", OV_DTYPE_BF16, 2, sy)) {
            printf("| %s | alloc failed: %s | | |\n", g->what, ov_tensor_last_error());
            continue;
        }
        double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K;
        int iters = flops > 1e11 ? 20 : 100;
        double t_ours = 0, t_ref = 0;
        for (int rep = 0; rep < 2; rep++) { /* rep 0 warms up */
            double t0 = now_s();
            for (int it = 0; it < iters; it++)
                if (ov_op_linear(&y, &x, &w, NULL)) {
                    printf("linear: %s\n", ov_tensor_last_error());
                    break;
                }
            ov_backend_sync(be);
            t_ours = (now_s() - t0) / iters;
            const float one = 1.0f, zero = 0.0f;
            t0 = now_s();
            for (int it = 0; it < iters; it++)
                cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)g->N, (int)g->M, (int)g->K, &one, w.data,
                             CUDA_R_16BF, (int)g->K, x.data, CUDA_R_16BF, (int)g->K, &zero, y.data,
                             CUDA_R_16BF, (int)g->N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            cudaStreamSynchronize(st);
            t_ref = (now_s() - t0) / iters;
        }
        printf("| %s | %.1f | %.1f | %.2f |\n", g->what, flops / t_ours * 1e-12, flops / t_ref * 1e-12,
               t_ref / t_ours);
        dev_free(be, &x);
        dev_free(be, &w);
        dev_free(be, &y);
    }
    cublasDestroy(h);
    cudaFree(ws);
    cudaStreamDestroy(st);
}

/* ---- decode GEMV (1 row, bf16, Qwen2.5-7B's projections): GB/s of weights read. Each call reads
 * the next of `copies` weight copies (>= 256 MiB in all), so the weights come from HBM, not the
 * 50 MiB L2. Columns: ov_op_linear (the GEMV kernel, bias fused), the same op on a backend opened
 * with OURVIDZ_CUDA_GEMV=0 (cuBLAS + the separate bias kernel), plain cublasGemmEx (no bias).
 * Per call times include the host launch, which bounds the smallest shapes (k/v). ---- */

struct gemv_shape {
    const char *what;
    int64_t N, K;
    int bias;
};

/* Seconds per call of ov_op_linear(y, x, w[i % copies], b) on w's backend. */
static double time_linear(ov_tensor *y, ov_tensor *x, ov_tensor *w, int copies, ov_tensor *b, int iters)
{
    double t = 0;
    for (int rep = 0; rep < 2; rep++) { /* rep 0 warms up */
        double t0 = now_s();
        for (int it = 0; it < iters; it++)
            if (ov_op_linear(y, x, &w[it % copies], b)) {
                printf("linear: %s\n", ov_tensor_last_error());
                return -1;
            }
        if (ov_backend_sync(y->backend))
            return -1;
        t = (now_s() - t0) / iters;
    }
    return t;
}

#define GEMV_MAX_COPIES 64

/* A bf16 device tensor with every element 0x3c3c (~0.0115): the GEMV's speed does not depend on
 * the values, and random fills of ~1 GiB of weights would cost seconds of host time. */
static int dev_fill(ov_backend *be, ov_tensor *t, const char *name, int ndim, const int64_t *shape)
{
    if (ov_tensor_init(t, name, OV_DTYPE_BF16, ndim, shape, NULL, be))
        return -1;
    const size_t bytes = ov_tensor_nbytes(t);
    if (be->ops->alloc(be, bytes, &t->data))
        return -1;
    if (cudaMemset(t->data, 0x3c, bytes) != cudaSuccess) {
        be->ops->free(be, t->data);
        t->data = NULL;
        return -1;
    }
    return 0;
}

/* Biased linears at SDXL's shapes (batch 12): cuBLASLt with the bias in its epilogue (the default)
 * against cuBLAS + the bias kernel (a backend opened with OURVIDZ_CUDA_LT=0), ms and TFLOP/s. */
static void bench_linear_bias(ov_backend *be)
{
    static const struct {
        const char *what;
        int64_t M, N, K;
    } shapes[] = {
        {"SDXL 64x64 to_out 49152x640x640", 49152, 640, 640},
        {"SDXL 64x64 ff.proj 49152x5120x640", 49152, 5120, 640},
        {"SDXL 32x32 ff.proj 12288x10240x1280", 12288, 10240, 1280},
        {"SDXL 32x32 ff.out 12288x1280x5120", 12288, 1280, 5120},
    };
    ov_backend *off = NULL;
    setenv("OURVIDZ_CUDA_LT", "0", 1);
    int orc = ov_backend_open(OV_BACKEND_CUDA, 0, &off);
    unsetenv("OURVIDZ_CUDA_LT");
    if (orc) {
        printf("linear + bias: second backend failed: %s\n", ov_tensor_last_error());
        return;
    }
    printf("\n### linear + bias (bf16): cuBLASLt bias epilogue vs cuBLAS + bias kernel\n\n");
    printf("| shape | epilogue ms | TFLOP/s | OURVIDZ_CUDA_LT=0 ms | TFLOP/s | epilogue used |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t M = shapes[i].M, N = shapes[i].N, K = shapes[i].K;
        const int64_t sx[2] = {M, K}, sw[2] = {N, K}, sy[2] = {M, N}, sb[1] = {N};
        ov_tensor x, w, y, b, xo, wo, yo, bo;
        if (dev_fill(be, &x, "x", 2, sx) || dev_fill(be, &w, "w", 2, sw) || dev_fill(be, &y, "y", 2, sy) ||
            dev_fill(be, &b, "b", 1, sb)) {
            printf("| %s | alloc failed: %s | | | | |\n", shapes[i].what, ov_tensor_last_error());
            continue; /* a failed alloc leaks: the benchmark is ending anyway */
        }
        ov_tensor_init(&xo, "x", OV_DTYPE_BF16, 2, sx, x.data, off);
        ov_tensor_init(&wo, "w", OV_DTYPE_BF16, 2, sw, w.data, off);
        ov_tensor_init(&yo, "y", OV_DTYPE_BF16, 2, sy, y.data, off);
        ov_tensor_init(&bo, "b", OV_DTYPE_BF16, 1, sb, b.data, off);
        const long long lt0 = ov_backend_cuda_lt_calls(be);
        const double t_lt = time_linear(&y, &x, &w, 1, &b, 20), t_off = time_linear(&yo, &xo, &wo, 1, &bo, 20);
        const double fl = 2.0 * (double)M * (double)N * (double)K;
        printf("| %s | %.3f | %.1f | %.3f | %.1f | %s |\n", shapes[i].what, t_lt * 1e3, fl / t_lt / 1e12,
               t_off * 1e3, fl / t_off / 1e12, ov_backend_cuda_lt_calls(be) > lt0 ? "yes" : "no (declined)");
        dev_free(be, &x);
        dev_free(be, &w);
        dev_free(be, &y);
        dev_free(be, &b);
    }
    ov_backend_close(off);
}

static void bench_gemv(ov_backend *be)
{
    static const struct gemv_shape shapes[] = {
        {"q/o 1x3584x3584", 3584, 3584, 0},    {"q 1x3584x3584 + bias", 3584, 3584, 1},
        {"k/v 1x512x3584", 512, 3584, 0},      {"gate/up 1x18944x3584", 18944, 3584, 0},
        {"down 1x3584x18944", 3584, 18944, 0}, {"lm_head 1x152064x3584", 152064, 3584, 0},
    };
    ov_backend *off = NULL;
    setenv("OURVIDZ_CUDA_GEMV", "0", 1);
    int orc = ov_backend_open(OV_BACKEND_CUDA, 0, &off);
    unsetenv("OURVIDZ_CUDA_GEMV");
    cublasHandle_t h;
    cudaStream_t st;
    void *ws = NULL;
    if (orc || cudaStreamCreate(&st) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS ||
        cudaMalloc(&ws, 32u << 20) != cudaSuccess) {
        printf("gemv: setup failed\n");
        ov_backend_close(off);
        return;
    }
    cublasSetStream(h, st);
    cublasSetWorkspace(h, ws, 32u << 20);
    printf("\n### decode GEMV (bf16, 1 row, GB/s of weights)\n\n");
    printf("| shape | ov_op_linear GB/s | OURVIDZ_CUDA_GEMV=0 GB/s | cublasGemmEx GB/s | ours / cublasGemmEx "
           "|\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const struct gemv_shape *g = &shapes[i];
        const double wbytes = 2.0 * (double)g->N * (double)g->K;
        int copies = (int)((256.0 * (1 << 20) + wbytes - 1) / wbytes);
        copies = copies < 1 ? 1 : copies > GEMV_MAX_COPIES ? GEMV_MAX_COPIES : copies;
        ov_tensor x, y, b, w[GEMV_MAX_COPIES], xo, yo, bo, wo[GEMV_MAX_COPIES];
        const int64_t sx[2] = {1, g->K}, sw[2] = {g->N, g->K}, sy[2] = {1, g->N}, sb[1] = {g->N};
        int nw = 0, rc = dev_tensor(be, &x, "x", OV_DTYPE_BF16, 2, sx) ||
                         dev_tensor(be, &y, "y", OV_DTYPE_BF16, 2, sy) ||
                         dev_tensor(be, &b, "b", OV_DTYPE_BF16, 1, sb);
        while (!rc && nw < copies && !(rc = dev_fill(be, &w[nw], "w", 2, sw)))
            nw++;
        if (rc) {
            printf("| %s | alloc failed: %s | | | |\n", g->what, ov_tensor_last_error());
            for (int c = 0; c < nw; c++)
                dev_free(be, &w[c]);
            continue; /* x/y/b leak on a failed alloc: the benchmark is ending anyway */
        }
        /* the same device memory seen from the GEMV=0 backend (same device and process) */
        ov_tensor_init(&xo, "x", OV_DTYPE_BF16, 2, sx, x.data, off);
        ov_tensor_init(&yo, "y", OV_DTYPE_BF16, 2, sy, y.data, off);
        ov_tensor_init(&bo, "b", OV_DTYPE_BF16, 1, sb, b.data, off);
        for (int c = 0; c < nw; c++)
            ov_tensor_init(&wo[c], "w", OV_DTYPE_BF16, 2, sw, w[c].data, off);
        const int iters = copies * (wbytes > 1e8 ? 8 : 20);
        const double t_ours = time_linear(&y, &x, w, nw, g->bias ? &b : NULL, iters);
        const double t_off = time_linear(&yo, &xo, wo, nw, g->bias ? &bo : NULL, iters);
        double t_ref = 0;
        for (int rep = 0; rep < 2; rep++) {
            const float one = 1.0f, zero = 0.0f;
            double t0 = now_s();
            for (int it = 0; it < iters; it++)
                cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)g->N, 1, (int)g->K, &one, w[it % nw].data,
                             CUDA_R_16BF, (int)g->K, x.data, CUDA_R_16BF, (int)g->K, &zero, y.data,
                             CUDA_R_16BF, (int)g->N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            cudaStreamSynchronize(st);
            t_ref = (now_s() - t0) / iters;
        }
        if (t_ours > 0 && t_off > 0 && t_ref > 0)
            printf("| %s | %.0f (%.1f us) | %.0f (%.1f us) | %.0f (%.1f us) | %.2f |\n", g->what,
                   wbytes / t_ours * 1e-9, t_ours * 1e6, wbytes / t_off * 1e-9, t_off * 1e6,
                   wbytes / t_ref * 1e-9, t_ref * 1e6, t_ref / t_ours);
        for (int c = 0; c < nw; c++)
            dev_free(be, &w[c]);
        dev_free(be, &x);
        dev_free(be, &y);
        dev_free(be, &b);
    }
    cublasDestroy(h);
    cudaFree(ws);
    cudaStreamDestroy(st);
    ov_backend_close(off);
}

/* ---- fused decode linears (1 row, bf16, Qwen2.5-7B): ov_op_linear_add into the residual in place
 * (o_proj 3584x3584, down_proj 3584x18944) and ov_op_linear_swiglu (gate + up 18944x3584 each), on
 * the default backend (GEMV residual / dual-matrix epilogues) against a backend opened with
 * OURVIDZ_CUDA_FUSE=0 (the same ops unfused: linear into a temporary + add, two linears + swiglu:
 * what the model ran before). GB/s counts the weights read (both matrices for gate/up); weights in
 * enough copies to come from HBM, as bench_gemv. ---- */

/* Seconds per call: kind 0 linear_add(y, x, w[i], NULL, y), kind 1 linear_swiglu(y, x, w[i], w2[i]). */
static double time_fused(int kind, ov_tensor *y, ov_tensor *x, ov_tensor *w, ov_tensor *w2, int copies,
                         int iters)
{
    double t = 0;
    for (int rep = 0; rep < 2; rep++) { /* rep 0 warms up */
        double t0 = now_s();
        for (int it = 0; it < iters; it++) {
            int rc = kind == 0 ? ov_op_linear_add(y, x, &w[it % copies], NULL, y)
                               : ov_op_linear_swiglu(y, x, &w[it % copies], &w2[it % copies]);
            if (rc) {
                printf("fused: %s\n", ov_tensor_last_error());
                return -1;
            }
        }
        if (ov_backend_sync(y->backend))
            return -1;
        t = (now_s() - t0) / iters;
    }
    return t;
}

static void bench_fused(ov_backend *be)
{
    static const struct {
        const char *what;
        int kind; /* 0 linear_add, 1 linear_swiglu */
        int64_t N, K;
    } shapes[] = {
        {"o_proj + residual 1x3584x3584", 0, 3584, 3584},
        {"down_proj + residual 1x3584x18944", 0, 3584, 18944},
        {"gate/up + SwiGLU 1x18944x3584 (x2)", 1, 18944, 3584},
    };
    ov_backend *off = NULL;
    setenv("OURVIDZ_CUDA_FUSE", "0", 1);
    int orc = ov_backend_open(OV_BACKEND_CUDA, 0, &off);
    unsetenv("OURVIDZ_CUDA_FUSE");
    if (orc) {
        printf("fused: second backend failed: %s\n", ov_tensor_last_error());
        return;
    }
    printf("\n### fused decode linears (bf16, 1 row): fused vs OURVIDZ_CUDA_FUSE=0 (unfused ops)\n\n");
    printf("| shape | fused us (GB/s) | FUSE=0 us (GB/s) | unfused / fused | fused path served |\n"
           "|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int kind = shapes[i].kind;
        const int64_t N = shapes[i].N, K = shapes[i].K;
        const double wbytes = (kind ? 4.0 : 2.0) * (double)N * (double)K;
        int copies = (int)((256.0 * (1 << 20) + wbytes - 1) / wbytes);
        copies = copies < 1 ? 1 : copies > GEMV_MAX_COPIES ? GEMV_MAX_COPIES : copies;
        ov_tensor x, y, w[GEMV_MAX_COPIES], w2[GEMV_MAX_COPIES], xo, yo, wo[GEMV_MAX_COPIES],
            w2o[GEMV_MAX_COPIES];
        const int64_t sx[2] = {1, K}, sw[2] = {N, K}, sy[2] = {1, N};
        int nw = 0, rc = dev_tensor(be, &x, "x", OV_DTYPE_BF16, 2, sx) ||
                         dev_tensor(be, &y, "y", OV_DTYPE_BF16, 2, sy);
        while (!rc && nw < copies && !(rc = dev_fill(be, &w[nw], "w", 2, sw))) {
            if (kind && (rc = dev_fill(be, &w2[nw], "w2", 2, sw))) {
                dev_free(be, &w[nw]);
                break;
            }
            nw++;
        }
        if (rc) {
            printf("| %s | alloc failed: %s | | | |\n", shapes[i].what, ov_tensor_last_error());
            for (int c = 0; c < nw; c++) {
                dev_free(be, &w[c]);
                if (kind)
                    dev_free(be, &w2[c]);
            }
            continue; /* x/y leak on a failed alloc: the benchmark is ending anyway */
        }
        ov_tensor_init(&xo, "x", OV_DTYPE_BF16, 2, sx, x.data, off);
        ov_tensor_init(&yo, "y", OV_DTYPE_BF16, 2, sy, y.data, off);
        for (int c = 0; c < nw; c++) {
            ov_tensor_init(&wo[c], "w", OV_DTYPE_BF16, 2, sw, w[c].data, off);
            if (kind)
                ov_tensor_init(&w2o[c], "w2", OV_DTYPE_BF16, 2, sw, w2[c].data, off);
        }
        const int iters = copies * (wbytes > 1e8 ? 8 : 20);
        const long long f0 = ov_backend_cuda_fused_calls(be);
        const double t_on = time_fused(kind, &y, &x, w, w2, nw, iters);
        const double t_off = time_fused(kind, &yo, &xo, wo, w2o, nw, iters);
        if (t_on > 0 && t_off > 0)
            printf("| %s | %.1f (%.0f) | %.1f (%.0f) | %.2f | %s |\n", shapes[i].what, t_on * 1e6,
                   wbytes / t_on * 1e-9, t_off * 1e6, wbytes / t_off * 1e-9, t_off / t_on,
                   ov_backend_cuda_fused_calls(be) > f0 ? "yes" : "no");
        for (int c = 0; c < nw; c++) {
            dev_free(be, &w[c]);
            if (kind)
                dev_free(be, &w2[c]);
        }
        dev_free(be, &x);
        dev_free(be, &y);
    }
    ov_backend_close(off);
}

/* ---- attention: WAN 1.3B (32,760 tokens, 12 heads x 128, non-causal), SDXL 64x64 self-attention
 * (4096 tokens, 10 heads x 64, CFG batch 2), Qwen prefill (4096 tokens causal, 28 q / 4 kv heads
 * x 128), SDXL 64x64 cross-attention (77 text keys, 6 images with CFG), each on every flash
 * variant, cuDNN's SDPA, the per-shape default and the general kernel.
 * TFLOP/s = 4·B·H·Lq·Lk·D / time (causal: halved). ---- */

struct attn_shape {
    const char *what;
    int64_t B, Hq, Hkv, L, D;
    int causal;
    int64_t Lk; /* keys (0: L, self-attention) */
};

/* Seconds of one attention call over the first *lq_out queries (best of 3 after a warm-up). A
 * slow kernel is timed on a 512-query slice (cost is linear in Lq at fixed Lk) and the full
 * shape only when it would fit in ~10 s. Causal slices are the last rows (q_pos_offset = L − lq).
 * Returns < 0 on error (message printed). */
static double time_attention(ov_backend *be, ov_tensor *q, ov_tensor *k, ov_tensor *v, ov_tensor *o,
                             int causal, int64_t *lq_out)
{
    const int64_t L = q->shape[2];
    int64_t lq = L < 512 ? L : 512;
    for (;;) {
        ov_tensor qs, os;
        ov_tensor_slice(&qs, q, 2, 0, lq);
        ov_tensor_slice(&os, o, 2, 0, lq);
        ov_attn_params p = {.causal = causal, .q_pos_offset = causal ? L - lq : 0};
        double best = 1e30;
        for (int rep = 0; rep < 4; rep++) { /* rep 0 warms up (and sizes a slice) */
            double t0 = now_s();
            int rc = ov_op_attention(&os, &qs, k, v, &p);
            if (!rc)
                rc = ov_backend_sync(be);
            if (rc) {
                printf("attention: %s\n", ov_tensor_last_error());
                return -1;
            }
            double dt = now_s() - t0;
            if (rep == 0 && lq < L) {
                if (dt * (double)L / (double)lq > 10.0) { /* too slow for the full shape */
                    *lq_out = lq;
                    return dt;
                }
                break;
            }
            if (rep > 0 && dt < best)
                best = dt;
        }
        if (lq == L) {
            *lq_out = lq;
            return best;
        }
        lq = L;
    }
}

static void bench_attention(void)
{
    static const struct attn_shape shapes[] = {
        {"WAN 1x12x32760x128", 1, 12, 12, 32760, 128, 0, 0},
        {"SDXL 2x10x4096x64", 2, 10, 10, 4096, 64, 0, 0},
        {"Qwen prefill 1x28(4)x4096x128 causal", 1, 28, 4, 4096, 128, 1, 0},
        {"SDXL cross 12x10x4096x64, 77 keys", 12, 10, 10, 4096, 64, 0, 77},
    };
    /* the general kernel first: should a flash variant fault, the context is lost for the rest */
    static const char *const modes[8] = {"0", "1", "2", "3", "5", "6", "7", "4"};
    static const char *const mode_names[8] = {"general kernel",
                                              "flash 1 (8 warps x 16 rows)",
                                              "flash 2 (2 CTA/SM cap)",
                                              "flash 3 (4 warps x 32 rows)",
                                              "flash 5 (1, Q in registers)",
                                              "flash 6 (5, 128-key tiles)",
                                              "flash 7 (cuDNN fused SDPA)",
                                              "flash default (per shape)"};
    printf(
        "\n### attention (bf16)\n\n| shape | kernel | Lq timed | time | TFLOP/s |\n|---|---|---|---|---|\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const struct attn_shape *a = &shapes[si];
        for (int m = 0; m < 8; m++) {
            setenv("OURVIDZ_CUDA_FLASH", modes[m], 1);
            ov_backend *be = NULL;
            if (ov_backend_open(OV_BACKEND_CUDA, 0, &be)) {
                printf("| %s | %s | open failed: %s | | |\n", a->what, mode_names[m], ov_tensor_last_error());
                continue;
            }
            ov_tensor q, k, v, o;
            const int64_t Lk = a->Lk ? a->Lk : a->L;
            const int64_t sq[4] = {a->B, a->Hq, a->L, a->D}, sk[4] = {a->B, a->Hkv, Lk, a->D};
            if (dev_tensor(be, &q, "q", OV_DTYPE_BF16, 4, sq) ||
                dev_tensor(be, &k, "k", OV_DTYPE_BF16, 4, sk) ||
                dev_tensor(be, &v, "v", OV_DTYPE_BF16, 4, sk) ||
                dev_tensor(be, &o, "o", OV_DTYPE_BF16, 4, sq)) {
                printf("| %s | %s | alloc failed: %s | | |\n", a->what, mode_names[m],
                       ov_tensor_last_error());
                ov_backend_close(be);
                continue;
            }
            long long f0 = ov_backend_cuda_flash_calls(be), s0 = ov_backend_cuda_sdpa_calls(be);
            int64_t lq = 0;
            double t = time_attention(be, &q, &k, &v, &o, a->causal, &lq);
            int used_flash = ov_backend_cuda_flash_calls(be) > f0;
            const int sdpa_declined = modes[m][0] == '7' && ov_backend_cuda_sdpa_calls(be) == s0;
            if (t > 0) {
                double flops = 4.0 * (double)a->B * (double)a->Hq * (double)lq * (double)Lk * (double)a->D;
                if (a->causal) /* the last lq rows of an L x L causal square */
                    flops *= ((double)a->L - (double)lq / 2.0) / (double)a->L;
                printf("| %s | %s%s | %lld%s | %.2f ms | %.1f |\n", a->what, mode_names[m],
                       m > 0 && !used_flash       ? " (NOT dispatched: general kernel ran)"
                       : sdpa_declined ? " (cuDNN declined: static flash variant ran)"
                                                  : "",
                       (long long)lq,
                       lq == a->L ? "" : " (slice)", t * 1e3, flops / t * 1e-12);
            }
            dev_free(be, &q);
            dev_free(be, &k);
            dev_free(be, &v);
            dev_free(be, &o);
            ov_backend_close(be);
        }
    }
    unsetenv("OURVIDZ_CUDA_FLASH");
}

/* ---- Qwen2.5-7B decode attention: q [1, 28, 1, 128] against k/v [1, 4, Lk, 128] (GQA 7:1,
 * causal at q_pos_offset Lk − 1, bf16), the split-K decode kernel vs $OURVIDZ_CUDA_DECODE_ATTN=0
 * (the flash kernel's 128-row tile, or the general kernel), µs per call: mean of 200 calls queued
 * back to back after a warm-up (launch cost included, as in the model's layer loop). ---- */

static void bench_decode_attention(void)
{
    static const int64_t lks[2] = {512, 2048};
    static const char *const modes[2] = {"0", "1"};
    static const char *const mode_names[2] = {"decode off (flash / general)", "split-K decode kernel"};
    printf("\n### Qwen decode attention (bf16, q [1,28,1,128], k/v [1,4,Lk,128], causal)\n\n"
           "| Lk | kernel | µs per call |\n|---|---|---|\n");
    for (int li = 0; li < 2; li++)
        for (int m = 0; m < 2; m++) {
            setenv("OURVIDZ_CUDA_DECODE_ATTN", modes[m], 1);
            ov_backend *be = NULL;
            if (ov_backend_open(OV_BACKEND_CUDA, 0, &be)) {
                printf("| %lld | %s | open failed: %s |\n", (long long)lks[li], mode_names[m],
                       ov_tensor_last_error());
                continue;
            }
            ov_tensor q, k, v, o;
            const int64_t sq[4] = {1, 28, 1, 128}, sk[4] = {1, 4, lks[li], 128};
            if (dev_tensor(be, &q, "q", OV_DTYPE_BF16, 4, sq) || dev_tensor(be, &k, "k", OV_DTYPE_BF16, 4, sk) ||
                dev_tensor(be, &v, "v", OV_DTYPE_BF16, 4, sk) || dev_tensor(be, &o, "o", OV_DTYPE_BF16, 4, sq)) {
                printf("| %lld | %s | alloc failed: %s |\n", (long long)lks[li], mode_names[m],
                       ov_tensor_last_error());
                ov_backend_close(be);
                continue;
            }
            ov_attn_params p = {.causal = 1, .q_pos_offset = lks[li] - 1};
            const long long d0 = ov_backend_cuda_decode_attn_calls(be);
            int rc = 0;
            for (int i = 0; i < 10 && !rc; i++) /* warm-up */
                rc = ov_op_attention(&o, &q, &k, &v, &p);
            if (!rc)
                rc = ov_backend_sync(be);
            const int n = 200;
            double t0 = now_s();
            for (int i = 0; i < n && !rc; i++)
                rc = ov_op_attention(&o, &q, &k, &v, &p);
            if (!rc)
                rc = ov_backend_sync(be);
            double us = (now_s() - t0) / n * 1e6;
            const int used = ov_backend_cuda_decode_attn_calls(be) > d0;
            if (rc)
                printf("| %lld | %s | failed: %s |\n", (long long)lks[li], mode_names[m], ov_tensor_last_error());
            else
                printf("| %lld | %s%s | %.1f |\n", (long long)lks[li], mode_names[m],
                       used != m ? (used ? " (decode kernel ran anyway)" : " (NOT dispatched)") : "", us);
            dev_free(be, &q);
            dev_free(be, &k);
            dev_free(be, &v);
            dev_free(be, &o);
            ov_backend_close(be);
        }
    unsetenv("OURVIDZ_CUDA_DECODE_ATTN");
}

/* ---- conv2d (bf16, bias): im2col + cuBLAS ($OURVIDZ_CUDA_CUDNN=0) vs cuDNN with the heuristic
 * algorithm ("heur") and the benchmarked one (default), one backend opened per mode. SDXL's UNet 3x3
 * convs at 1024² (batch 12: 6 images with CFG) and its VAE decoder's. ms per call: mean of 5 after
 * a warm-up (which runs cuDNN's algorithm search). ---- */

struct conv_shape {
    const char *what;
    int64_t N, C, H, W, O;
};

static void bench_conv(void)
{
    static const struct conv_shape shapes[] = {
        {"UNet 3x3 320->320 128x128 x12", 12, 320, 128, 128, 320},
        {"UNet 3x3 640->640 64x64 x12", 12, 640, 64, 64, 640},
        {"VAE 3x3 128->128 1024x1024 x1", 1, 128, 1024, 1024, 128},
        {"VAE 3x3 512->512 128x128 x1", 1, 512, 128, 128, 512},
        {"VAE 3x3 256->256 1024x1024 x1", 1, 256, 1024, 1024, 256},
    };
    /* OURVIDZ_CUDA_CUDNN, OURVIDZ_CUDA_CUDNN_SPLIT_KB (NULL: unset); the last mode is one call
     * however large (no output-channel parts: conv_cuda.cu) */
    static const char *const modes[4][2] = {{"0", NULL}, {"heur", NULL}, {NULL, NULL}, {NULL, "1073741824"}};
    static const char *const mode_names[4] = {"im2col + cuBLAS", "cuDNN heuristic", "cuDNN benchmarked",
                                              "cuDNN benchmarked, one call (no parts)"};
    printf("\n### conv2d (bf16, 3x3 pad 1, bias)\n\n| shape | path | ms | TFLOP/s |\n|---|---|---|---|\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const struct conv_shape *a = &shapes[si];
        for (int m = 0; m < 4; m++) {
            const double operand_bytes = 2.0 * (double)a->N * (double)(a->C + a->O) * (double)a->H * (double)a->W;
            if (m == 3 && operand_bytes <= (double)(768 << 20))
                continue; /* parts only start past 768 MiB of operands (bf16 x and y) */
            if (modes[m][0])
                setenv("OURVIDZ_CUDA_CUDNN", modes[m][0], 1);
            else
                unsetenv("OURVIDZ_CUDA_CUDNN");
            if (modes[m][1])
                setenv("OURVIDZ_CUDA_CUDNN_SPLIT_KB", modes[m][1], 1);
            else
                unsetenv("OURVIDZ_CUDA_CUDNN_SPLIT_KB");
            ov_backend *be = NULL;
            if (ov_backend_open(OV_BACKEND_CUDA, 0, &be)) {
                printf("| %s | %s | open failed: %s | |\n", a->what, mode_names[m], ov_tensor_last_error());
                continue;
            }
            ov_tensor x, w, b, y;
            const int64_t sx[4] = {a->N, a->C, a->H, a->W}, sw[4] = {a->O, a->C, 3, 3}, sb[1] = {a->O},
                          sy[4] = {a->N, a->O, a->H, a->W};
            if (dev_fill(be, &x, "x", 4, sx) || dev_fill(be, &w, "w", 4, sw) ||
                dev_fill(be, &b, "b", 1, sb) || dev_fill(be, &y, "y", 4, sy)) {
                printf("| %s | %s | alloc failed: %s | |\n", a->what, mode_names[m], ov_tensor_last_error());
                ov_backend_close(be);
                continue;
            }
            const ov_conv2d_params cp = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
            const long long c0 = ov_backend_cuda_cudnn_calls(be);
            int rc = ov_op_conv2d(&y, &x, &w, &b, &cp); /* warm-up: cuDNN's algorithm search */
            if (!rc)
                rc = ov_backend_sync(be);
            const int n = 5;
            double t0 = now_s();
            for (int i = 0; i < n && !rc; i++)
                rc = ov_op_conv2d(&y, &x, &w, &b, &cp);
            if (!rc)
                rc = ov_backend_sync(be);
            const double t = (now_s() - t0) / n;
            const int used = ov_backend_cuda_cudnn_calls(be) > c0;
            const double flops =
                2.0 * (double)a->N * (double)a->O * (double)a->H * (double)a->W * (double)a->C * 9;
            if (rc)
                printf("| %s | %s | failed: %s | |\n", a->what, mode_names[m], ov_tensor_last_error());
            else
                printf("| %s | %s%s | %.3f | %.1f |\n", a->what, mode_names[m],
                       m > 0 && !used ? " (NOT served: im2col ran)" : "", t * 1e3, flops / t * 1e-12);
            dev_free(be, &x);
            dev_free(be, &w);
            dev_free(be, &b);
            dev_free(be, &y);
            ov_backend_close(be);
        }
    }
    unsetenv("OURVIDZ_CUDA_CUDNN");
    unsetenv("OURVIDZ_CUDA_CUDNN_SPLIT_KB");
}

/* ---- page cache -> VRAM through the loader's double-buffered pinned staging ---- */

struct h2d_ctx {
    cudaStream_t st;
    cudaEvent_t ev[2];
    int pending[2];
    void *staging[2];
    char *dst;
};

static int h2d_submit(void *vctx, int buf, uint64_t dst_offset, size_t bytes)
{
    struct h2d_ctx *c = vctx;
    if (cudaMemcpyAsync(c->dst + dst_offset, c->staging[buf], bytes, cudaMemcpyHostToDevice, c->st) !=
            cudaSuccess ||
        cudaEventRecord(c->ev[buf], c->st) != cudaSuccess)
        return OV_EGPU;
    c->pending[buf] = 1;
    return 0;
}

static int h2d_wait(void *vctx, int buf)
{
    struct h2d_ctx *c = vctx;
    if (!c->pending[buf])
        return 0;
    c->pending[buf] = 0;
    return cudaEventSynchronize(c->ev[buf]) == cudaSuccess ? 0 : OV_EGPU;
}

static void bench_load(void)
{
    const size_t total = (size_t)1 << 30, chunk = (size_t)64 << 20;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/ov_bench_load_XXXXXX", dir);
    int fd = mkstemp(path);
    printf("\n### page cache -> VRAM (1 GiB file, 2 x 64 MiB pinned staging, ov_load_stream)\n\n");
    if (fd < 0) {
        printf("cannot create a temp file in %s\n", dir);
        return;
    }
    unlink(path);
    char *buf = malloc(chunk);
    if (!buf) {
        close(fd);
        return;
    }
    memset(buf, 0x5a, chunk);
    for (size_t off = 0; off < total; off += chunk)
        if (pwrite(fd, buf, chunk, (off_t)off) != (ssize_t)chunk) {
            printf("write failed\n");
            free(buf);
            close(fd);
            return;
        }
    free(buf);
    struct h2d_ctx c;
    memset(&c, 0, sizeof c);
    if (cudaStreamCreate(&c.st) != cudaSuccess || cudaEventCreate(&c.ev[0]) != cudaSuccess ||
        cudaEventCreate(&c.ev[1]) != cudaSuccess || cudaMallocHost(&c.staging[0], chunk) != cudaSuccess ||
        cudaMallocHost(&c.staging[1], chunk) != cudaSuccess ||
        cudaMalloc((void **)&c.dst, total) != cudaSuccess) {
        printf("CUDA setup failed\n");
        close(fd);
        return;
    }
    ov_load_sink sink = {h2d_submit, h2d_wait, &c};
    char err[256] = "";
    double best = 0;
    for (int rep = 0; rep < 3; rep++) { /* rep 0 may still fault pages in */
        double t0 = now_s();
        int rc = ov_load_stream(fd, path, 0, total, c.staging, chunk, &sink, err, sizeof err);
        cudaStreamSynchronize(c.st);
        double gbs = (double)total / (now_s() - t0) * 1e-9;
        if (rc) {
            printf("load: %s\n", err);
            break;
        }
        if (gbs > best)
            best = gbs;
    }
    double t0 = now_s();
    for (int i = 0; i < 4; i++)
        cudaMemcpyAsync(c.dst + (size_t)i * chunk, c.staging[i % 2], chunk, cudaMemcpyHostToDevice, c.st);
    cudaStreamSynchronize(c.st);
    double pinned = 4.0 * (double)chunk / (now_s() - t0) * 1e-9;
    printf("| path | GB/s |\n|---|---|\n| file (page cache) -> pinned -> VRAM | %.2f |\n"
           "| pinned -> VRAM only (ceiling) | %.2f |\n",
           best, pinned);
    cudaFree(c.dst);
    cudaFreeHost(c.staging[0]);
    cudaFreeHost(c.staging[1]);
    cudaEventDestroy(c.ev[0]);
    cudaEventDestroy(c.ev[1]);
    cudaStreamDestroy(c.st);
    close(fd);
}

int main(void)
{
    ov_backend *be = NULL;
    if (ov_backend_open(OV_BACKEND_CUDA, 0, &be)) {
        printf("bench_ops_cuda: no CUDA device (%s): nothing to measure\n", ov_tensor_last_error());
        return 0;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        printf("## bench_ops_cuda on %s (%d SMs, %.0f GiB)\n", prop.name, prop.multiProcessorCount,
               (double)prop.totalGlobalMem / (1 << 30));
    bench_gemm(be);
    bench_linear_bias(be);
    bench_gemv(be);
    bench_fused(be);
    ov_backend_close(be);
    bench_attention();
    bench_decode_attention();
    bench_conv();
    bench_load();
    return 0;
}
