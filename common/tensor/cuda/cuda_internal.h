/* Internal to the CUDA backend: per-backend state, status checks, scratch, device views. */
#ifndef OV_CUDA_INTERNAL_H
#define OV_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "common/error.h"
#include "common/tensor/backend.h"
}
#include "common/tensor/cuda/index_plan.h"

#define OV_CUDA_BLAS_WS_BYTES (32u << 20) /* cuBLAS / cuBLASLt workspace (Hopper wants >= 32 MiB) */
#define OV_LT_CACHE 64                      /* cuBLASLt shapes remembered (gemm_lt_cuda.cu) */
#define OV_CUDA_FUSE_ADD 1 /* ov_cuda.fuse: linear_add into the residual (GEMV store, GEMM beta = 1) */
#define OV_CUDA_FUSE_GLU 2 /* ov_cuda.fuse: linear_swiglu's dual-matrix GEMV */

struct ov_gemm_plan;

/* Backend-private state (ov_backend.impl). */
typedef struct ov_cuda {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    int sticky; /* a sticky device error was seen: every later call returns OV_EGPU */
    char sticky_msg[160];
    void *scratch; /* reusable device scratch (weight conversion, GEMM staging) */
    size_t scratch_bytes;
    void *blas_ws;         /* cuBLAS workspace bound to the handle */
    char name[16];         /* "cuda:N" */
    long long flash_calls; /* attention calls the flash kernel served */
    struct ov_sdpa_cache *sdpa_cache; /* cuDNN SDPA plans per shape (sdpa_cudnn.cu; NULL until used) */
    long long sdpa_calls;             /* attention calls cuDNN's SDPA served */
    int flash; /* flash attention: 0 off, 1-3, 5, 6 one variant, 4 per shape (ov_cuda_flash_mode) */
    struct {
        uint32_t key; /* shape class (flash_attn_cuda.cu fa_class) */
        int mode;     /* the variant measured fastest for it */
    } fa_tune[32];
    int n_fa_tune;
    double fa_tune_min; /* FLOPs a call needs before its class is timed ($OURVIDZ_CUDA_FLASH_TUNE_MIN; tests: 0) */
    int im2col_fast; /* conv: the 32-bit im2col kernel where it fits ($OURVIDZ_CUDA_IM2COL=0: never) */
    int gn_split;    /* group norm split path: -1 by shape, 0 never, 1 always ($OURVIDZ_CUDA_GN_SPLIT) */
    /* conv2d through cuDNN (conv_cuda.cu, cudnn_loader.h): 0 off ($OURVIDZ_CUDA_CUDNN=0, or cuDNN
     * unusable), 1 algorithm benchmarked once per shape (default), 2 heuristic ("heur") */
    int cudnn;
    long long cudnn_calls;              /* conv2d calls cuDNN served */
    long long cudnn_part_calls;         /* of those, served in parts (cudnn_split_bytes) */
    void *cudnn_handle;                 /* cudnnHandle_t on `stream`, created at the first conv2d */
    void *cudnn_ws;                     /* cuDNN workspace: its own buffer, never the scratch */
    size_t cudnn_ws_bytes;
    struct ov_cudnn_cache *cudnn_cache; /* per-shape algorithm choice (conv_cuda.cu) */
    size_t cudnn_split_bytes; /* a call's x + y + w past this goes in output-channel parts (conv_cuda.cu;
                                 $OURVIDZ_CUDA_CUDNN_SPLIT_KB, default 768 MiB) */
    int decode_attn; /* split-K decode attention for Lq <= 8 ($OURVIDZ_CUDA_DECODE_ATTN=0: never) */
    long long decode_calls; /* attention calls the decode kernel served */
    int sm_count;           /* multiprocessors (0 until the decode kernel first asks) */
    int gemv;        /* linear with <= 8 rows: the GEMV kernel where it fits ($OURVIDZ_CUDA_GEMV=0: never) */
    int lt_on;       /* linear's bias in cuBLASLt's epilogue ($OURVIDZ_CUDA_LT=0: never; off when unavailable) */
    int vec8;        /* element-wise 16-byte vector paths for dense 16-bit operands ($OURVIDZ_CUDA_VEC=0: never) */
    struct ov_lt *lt;      /* cuBLASLt handle and shape cache (gemm_lt_cuda.cu; NULL until first use) */
    long long lt_calls;    /* linears cuBLASLt served */
    /* linear_add / linear_swiglu fused: OV_CUDA_FUSE_* bits ($OURVIDZ_CUDA_FUSE: "0" none, "add"
     * linear_add only, "glu" linear_swiglu only, else both); unfused = the op pairs they replace */
    int fuse;
    long long fused_calls; /* linear_add / linear_swiglu calls a fused path served */
    void *fuse_tmp;        /* the unfused paths' [M, N] intermediate (grown on demand, stream-ordered) */
    size_t fuse_tmp_bytes;
    cudaEvent_t slot_ev[OV_BACKEND_SLOTS]; /* upload_async: recorded after each copy of a slot (lazy) */
    int slot_pending[OV_BACKEND_SLOTS];
    struct ov_cuda_prof *prof; /* OURVIDZ_CUDA_PROFILE=1: per-op stream time (NULL: off) */
} ov_cuda;

static inline ov_cuda *ov_cuda_of(ov_backend *be)
{
    return (ov_cuda *)be->impl;
}

/* Make be's device current and refuse with OV_EGPU when a sticky error was seen. With
 * OURVIDZ_CUDA_PROFILE=1 (read at open) it also records an event on the stream, named op: the
 * stream time from one op's event to the next is that op's, summed per name and printed to stderr
 * when the backend closes (profile_cuda.cu). */
int ov_cuda_enter(ov_backend *be, const char *op);
/* The profiler (profile_cuda.cu): start when $OURVIDZ_CUDA_PROFILE is 1, mark an op, report + free. */
void ov_cuda_prof_open(ov_cuda *c);
void ov_cuda_prof_mark(ov_cuda *c, const char *op);
/* After an op's last launch (ov_cuda_launched, a successful cuBLAS call): the end of its kernels,
 * so the table splits each op's time into its own and the idle gap before the next op. */
void ov_cuda_prof_end(ov_cuda *c);
/* ov_backend_phase: later marks are charged to phase `name` (a string literal; "load" until the
 * first call), one table per phase. */
void ov_cuda_prof_phase(ov_cuda *c, const char *name);
/* Profiling only (a no-op when off): a shape key for the op marked last (printf-style, e.g.
 * "3x3 320->320 128x128 B12 cudnn") and its FLOPs per call (0: unknown). The close report adds,
 * per phase, the (op, key) pairs with the most busy time and their TFLOP/s. */
void ov_cuda_prof_detail(ov_cuda *c, double flops, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ov_cuda_prof_close(ov_cuda *c);
/* Check a CUDA status from op (what = the call): 0, or OV_EGPU / OV_ENOMEM with a message naming
 * the op; sticky errors latch. */
int ov_cuda_check(ov_backend *be, cudaError_t e, const char *op, const char *what);
/* After a kernel launch: cudaGetLastError checked as above. */
int ov_cuda_launched(ov_backend *be, const char *op);
int ov_cuda_blas_check(ov_backend *be, cublasStatus_t s, const char *op, const char *what);
/* Device scratch of at least `bytes` (grown on demand; valid until the next ov_cuda_scratch on be;
 * stream-ordered, so it may be reused by the next op on the same stream). */
int ov_cuda_scratch(ov_backend *be, size_t bytes, void **out, const char *op);
/* Refuse dtypes the CUDA kernels cannot read: f32/f16/bf16 (+ f8 when allow_f8). */
int ov_cuda_need_float(const char *op, const ov_tensor *t, int allow_f8);

/* Refuse weight dtypes the CUDA backend cannot read: f32/f16/bf16/f8 and Q8_0/Q4_K/Q6_K pass. */
int ov_cuda_need_weight(const char *op, const ov_tensor *w);
/* The prologue of the weighted ops (linear family, conv): ov_cuda_enter, y and x float, w a
 * weight, b (NULL: none) float. */
int ov_cuda_enter_weighted(ov_backend *be, const char *op, const ov_tensor *y, const ov_tensor *x,
                           const ov_tensor *w, const ov_tensor *b);
/* A tensor's read scale (1 when unset). */
static inline float ov_cuda_scale_of(const ov_tensor *t)
{
    return t->scale == 0.0f ? 1.0f : t->scale;
}
/* Convert the first n elements of contiguous weight w (any dtype ov_cuda_need_weight accepts, its
 * scale applied) to dtype ddt (f32/f16/bf16) at device memory dst, on be's stream. */
int ov_cuda_weight_to(ov_backend *be, const char *op, void *dst, int ddt, const ov_tensor *w, int64_t n);

/* A tensor view passed by value to kernels. */
typedef struct ov_cu_view {
    const void *data;
    int dtype;
    int ndim;
    int64_t shape[OV_TENSOR_MAX_DIMS];
    int64_t stride[OV_TENSOR_MAX_DIMS];
    float scale;
    int dense; /* row-major dense over shape (ov_dense_strides): offset == linear index */
} ov_cu_view;

/* Views are built only here (dense is derived from shape and stride: set both, then this). */
ov_cu_view ov_cu_view_of(const ov_tensor *t);
/* t's view aligned right to `ndim` dims (missing leading dims size 1), size-1 dims that broadcast
 * to y get stride 0. */
ov_cu_view ov_cu_view_bcast(const ov_tensor *t, const ov_tensor *y);

/* A view addressed with 32-bit index math (index_plan.h: simplified dims, multiply-high divisors). */
typedef struct ov_cu_v32 {
    const void *data;
    int dtype;
    float scale;
    ov_ix32 ix;
} ov_cu_v32;

/* v with 32-bit index math: 1 when it fits (ov_ix32_make), else 0 (keep the 64-bit view). */
int ov_cu_v32_of(const ov_cu_view *v, ov_cu_v32 *o);

/* Launch geometry for n elements, grid-stride loops. */
static inline unsigned ov_cu_blocks(int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    if (b > 65535LL * 8)
        b = 65535LL * 8;
    return (unsigned)b;
}

/* ---- entries (one file per family) ---- */
int ov_cuda_copy(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cuda_concat(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim);
int ov_cuda_pad(ov_backend *be, ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after,
                float value);
int ov_cuda_upsample_nearest2x(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cuda_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b);
int ov_cuda_linear_add(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                       const ov_tensor *b, const ov_tensor *r);
int ov_cuda_linear_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate,
                          const ov_tensor *w_up);
/* gemv_cuda.cu: linear for 1..8 rows of bf16/f16 x with a same-dtype unscaled weight (K % 8 == 0,
 * 16-byte aligned, rows back to back), bias fused: 0 or an error once launched, 1 when the case
 * does not fit or c->gemv is off (the caller runs cuBLAS). r (NULL: none): a residual of y's dtype
 * and shape, contiguous, may be y, added at the store. w_up (NULL: none; then b and r are NULL):
 * y = SiLU(x·wᵀ)·(x·w_upᵀ) through the dual-matrix kernel, 1..2 rows, w_up like w. */
int ov_cuda_gemv(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                 const ov_tensor *r, const ov_tensor *w_up);
/* gemm_lt_cuda.cu: C = op(A)·op(B) + beta·C + bias (per row of the column-major C, i.e. per output
 * feature; beta 0 or 1, the latter in place: linear_add's residual already in C) as planned
 * (gemm_plan.h; batch 1, bf16/f16 in, out the same or f32, bias in the out dtype and 16-byte
 * aligned): 0 or an error once launched, 1 when cuBLASLt declines (the caller runs cuBLAS and its
 * bias kernel). ov_cuda_lt_close frees the handle and cache at backend close. */
int ov_cuda_gemm_bias_lt(ov_backend *be, const struct ov_gemm_plan *p, const void *A, const void *B,
                         int in_dt, void *C, int out_dt, const void *bias, float beta);
void ov_cuda_lt_close(ov_cuda *c);
int ov_cuda_matmul(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a,
                   int trans_b, float alpha);
int ov_cuda_conv2d(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                   const ov_conv2d_params *p);
int ov_cuda_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                          const ov_tensor *b, const ov_conv3d_params *p);
/* Backend close (stream drained): destroy the cuDNN handle and descriptors, free its workspace. */
void ov_cuda_cudnn_close(ov_cuda *c);
int ov_cuda_layer_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                       const ov_tensor *beta, float eps);
int ov_cuda_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps);
int ov_cuda_group_norm_silu(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                            const ov_tensor *beta, float eps);
int ov_cuda_group_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                       const ov_tensor *beta, float eps);
int ov_cuda_channel_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                             float eps);
int ov_cuda_softmax(ov_backend *be, ov_tensor *y, const ov_tensor *x, float scale);
int ov_cuda_unary(ov_backend *be, ov_tensor *y, const ov_tensor *x, int kind, float a, float b);
int ov_cuda_binary(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind);
int ov_cuda_modulate(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *shift,
                     const ov_tensor *scale);
int ov_cuda_geglu(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cuda_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *gate, const ov_tensor *up);
int ov_cuda_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                      const ov_tensor *v, const ov_attn_params *p);
/* flash_attn_cuda.cu: the tensor-core kernel when the case fits (bf16/f16 q/k/v, D 64 or 128, no
 * bias, 16-byte aligned rows): 0 or an error once launched, 1 when the case does not fit (the
 * caller runs the general kernel). */
int ov_cuda_flash_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                            const ov_tensor *v, const ov_attn_params *p);
/* $OURVIDZ_CUDA_FLASH read when a backend opens: "0" -> 0 (general kernel only), "1".."3", "5", "6"
 * -> that flash variant (flash_attn_cuda.cu: 1 = 8 warps x 16 rows, 2 = capped for 2 CTAs/SM, 3 =
 * 32 rows per warp, 5 = 1 with Q resident in registers, 6 = 5 with 128-key tiles, 7 = cuDNN's
 * fused SDPA where it takes the case), "4" or anything
 * else -> 4 (per shape: every variant timed at a shape class's first large call, the fastest kept). */
int ov_cuda_flash_mode(void);
/* sdpa_cudnn.cu: cuDNN's fused SDPA (graph API, cuDNN >= 9.13.1) for non-causal, unbiased bf16/f16
 * attention with D contiguous: 0 or an error once launched, 1 when cuDNN does not take the case. */
int ov_cuda_sdpa_cudnn(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                       const ov_attn_params *p);
void ov_cuda_sdpa_close(ov_cuda *c);
/* decode_attn_cuda.cu: split-K (flash-decoding) kernel for Lq <= 8, no bias, D <= 256 with D % 8
 * == 0, q/k/v/o all f32, f16 or bf16: 0 or an error once launched, 1 when the case does not fit
 * (or $OURVIDZ_CUDA_DECODE_ATTN=0 turned it off at open). */
int ov_cuda_decode_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                             const ov_tensor *v, const ov_attn_params *p);
int ov_cuda_rope_neox(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta);
int ov_cuda_rope_wan3d(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw,
                       float theta);
int ov_cuda_timestep_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p);
int ov_cuda_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *table, const ov_tensor *ids);
int ov_cuda_embedding_host(ov_backend *be, ov_tensor *y, const ov_tensor *table, const int32_t *ids, int64_t n);

#endif
