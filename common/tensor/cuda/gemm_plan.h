/* Host-side GEMM argument planning for the CUDA backend (plain C, no CUDA headers): the cuBLAS
 * column-major arguments for linear / matmul / conv chunks, and the im2col source index. Built
 * into ov_tensor_cuda and, without nvcc, into tests/test_cuda_plan.c, which runs these plans
 * through a CPU emulation of cublasGemmStridedBatchedEx against the CPU backend. */
#ifndef OV_CUDA_GEMM_PLAN_H
#define OV_CUDA_GEMM_PLAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/tensor/tensor.h"

#ifdef __CUDACC__
#define OV_HD __host__ __device__
#else
#define OV_HD
#endif

/* One cuBLAS call, column-major: C[m×n] = alpha·op(A)[m×k]·op(B)[k×n] (+ beta·C), `batch`
 * times with element strides stride_* between batch items (0 = the same matrix each time).
 * op = transpose when trans_* is 1. Pointers: A, B, C named by the planner (see each function). */
typedef struct ov_gemm_plan {
    int trans_a, trans_b;
    int m, n, k;
    int lda, ldb, ldc;
    long long stride_a, stride_b, stride_c;
    int batch;
} ov_gemm_plan;

/* linear y = x·Wᵀ: cuBLAS A = W (data of w), B = x (data of x), C = y. x's leading dims must
 * flatten to rows of one stride >= K (a row stride of 0 or < K: broadcast or overlapping rows,
 * which cuBLAS cannot express). Returns 0, OV_EUNSUPP (layout or int range; message set), or 1
 * when there is nothing to compute (M or N is 0; K = 0 is planned with k = 0: the caller zeroes y). */
int ov_gemm_plan_linear(ov_gemm_plan *p, const ov_tensor *y, const ov_tensor *x, const ov_tensor *w);

/* matmul y[i] = op(a[i])·op(b[i]) (row-major, ops.h): cuBLAS A = b, B = a, C = y (row-major
 * yᵀ = op(b)ᵀ·op(a)ᵀ). Batch dims of size 1 broadcast (stride 0). Same returns as above. */
int ov_gemm_plan_matmul(ov_gemm_plan *p, const ov_tensor *y, const ov_tensor *a, const ov_tensor *b,
                        int trans_a, int trans_b);

/* ---- convolution as im2col + GEMM ---- */

typedef struct ov_conv_geom {
    int64_t C, T, H, W; /* input channels (all groups) and extents (T = 1 for 2D) */
    int64_t kt, kh, kw; /* kernel */
    int64_t st, sh, sw; /* strides */
    int64_t pt, ph, pw; /* zero padding: pt frames in front only (causal), ph/pw both sides */
    int64_t dh, dw;     /* dilations (time has none) */
    int64_t To, Ho, Wo; /* output extents */
} ov_conv_geom;

/* Column r (0 <= r < Cg·kt·kh·kw, the weight's [c, dt, dy, dx] order) of output position p
 * (0 <= p < To·Ho·Wo): the element offset in one sample's input, relative to the group's first
 * channel, or -1 when the tap falls into padding. */
static inline OV_HD int64_t ov_im2col_src(const ov_conv_geom *g, int64_t r, int64_t p)
{
    const int64_t kvol = g->kt * g->kh * g->kw, ci = r / kvol, rem = r % kvol;
    const int64_t dt = rem / (g->kh * g->kw), dy = rem / g->kw % g->kh, dx = rem % g->kw;
    const int64_t HWo = g->Ho * g->Wo, to = p / HWo, q = p % HWo, oy = q / g->Wo, ox = q % g->Wo;
    const int64_t ti = to * g->st - g->pt + dt, iy = oy * g->sh - g->ph + dy * g->dh,
                  ix = ox * g->sw - g->pw + dx * g->dw;
    if (ti < 0 || ti >= g->T || iy < 0 || iy >= g->H || ix < 0 || ix >= g->W)
        return -1;
    return ((ci * g->T + ti) * g->H + iy) * g->W + ix;
}

/* The same offsets in 32-bit arithmetic, for the fast im2col kernel: column r's taps decoded once
 * (ov_im2col_row_of), then one position p at a time (ov_im2col_src32). Valid when
 * ov_im2col_fast_ok() says the geometry fits; test_cuda_plan compares it with ov_im2col_src. */
typedef struct ov_im2col_row {
    int ci, dt, dy, dx;
} ov_im2col_row;

static inline OV_HD ov_im2col_row ov_im2col_row_of(const ov_conv_geom *g, int r)
{
    const int khw = (int)(g->kh * g->kw), kvol = (int)g->kt * khw;
    ov_im2col_row o;
    o.ci = r / kvol;
    const int rem = r - o.ci * kvol;
    o.dt = rem / khw;
    o.dy = (rem - o.dt * khw) / (int)g->kw;
    o.dx = rem % (int)g->kw;
    return o;
}

static inline OV_HD int64_t ov_im2col_src32(const ov_conv_geom *g, ov_im2col_row t, unsigned p)
{
    const unsigned Wo = (unsigned)g->Wo, HWo = (unsigned)(g->Ho * g->Wo);
    const unsigned to = p / HWo, q = p - to * HWo, oy = q / Wo, ox = q - oy * Wo;
    const int ti = (int)to * (int)g->st - (int)g->pt + t.dt;
    const int iy = (int)oy * (int)g->sh - (int)g->ph + t.dy * (int)g->dh;
    const int ix = (int)ox * (int)g->sw - (int)g->pw + t.dx * (int)g->dw;
    if (ti < 0 || ti >= (int)g->T || iy < 0 || iy >= (int)g->H || ix < 0 || ix >= (int)g->W)
        return -1;
    return (((int64_t)t.ci * g->T + ti) * g->H + iy) * g->W + ix;
}

/* 1 when stride is the row-major dense layout of shape (dims of size 1 may have any stride; an
 * empty shape counts as dense): then an element's storage offset equals its linear index. */
int ov_dense_strides(int ndim, const int64_t *shape, const int64_t *stride);

/* ---- group norm, split path (norm_cuda.cu): part pi of a group of cnt elements covers
 * [lo, hi) of OV_GN_PARTS equal chunks; parts' (mean, M2) merge by Chan et al.'s formula ---- */
#define OV_GN_PARTS 32

static inline OV_HD void ov_gn_part_range(int64_t cnt, int pi, int64_t *lo, int64_t *hi)
{
    const int64_t chunk = (cnt + OV_GN_PARTS - 1) / OV_GN_PARTS;
    *lo = (int64_t)pi * chunk;
    *hi = *lo + chunk < cnt ? *lo + chunk : cnt;
}

/* part: OV_GN_PARTS (mean, M2) pairs of one group. Writes the group's mean and variance. */
static inline OV_HD void ov_gn_merge(const float *part, int64_t cnt, double *mean_out, double *var_out)
{
    double n = 0.0, mean = 0.0, m2 = 0.0;
    for (int pi = 0; pi < OV_GN_PARTS; pi++) {
        int64_t lo, hi;
        ov_gn_part_range(cnt, pi, &lo, &hi);
        if (hi <= lo)
            continue;
        const double nb = (double)(hi - lo), mb = part[2 * pi], m2b = part[2 * pi + 1];
        const double nn = n + nb, d = mb - mean;
        mean += d * nb / nn;
        m2 += m2b + d * d * n * nb / nn;
        n = nn;
    }
    *mean_out = mean;
    *var_out = m2 / (n > 0.0 ? n : 1.0);
}

/* Whether ov_im2col_src32 covers this geometry with KK columns and P positions per sample (every
 * intermediate under 2^30, KK within a grid's y extent of 65535). */
int ov_im2col_fast_ok(const ov_conv_geom *g, int64_t KK, int64_t P);

/* Output positions per im2col chunk so the column buffer [Cg·kvol, chunk] of `esize`-byte
 * elements stays under col_bytes_max (at least 256 positions, at most To·Ho·Wo). */
int64_t ov_conv_chunk(const ov_conv_geom *g, int groups, size_t esize, size_t col_bytes_max);

/* The GEMM of (sample, group gi, positions [p0, p0 + cnt)): cuBLAS A = the column chunk
 * (row-major [KK, cnt]), B = W of group gi (row-major [Og, KK], at element w_off of w),
 * C = y of the sample at element y_off (row-major [O, P]). Returns 0 or OV_EUNSUPP (int range). */
int ov_gemm_plan_conv(ov_gemm_plan *p, const ov_conv_geom *g, int groups, int64_t O, int gi, int64_t p0,
                      int64_t cnt, int64_t *w_off, int64_t *y_off);

#ifdef __cplusplus
}
#endif

#endif
