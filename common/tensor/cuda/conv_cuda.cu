/* CUDA convolutions (conv2d, causal conv3d): im2col into device scratch (chunks of output
 * positions) + one cuBLAS GEMM per (sample, group, chunk); weights converted to the act dtype.
 * TODO(perf): implicit-GEMM kernel (no col buffer) and NHWC for the VAE's large convs. */

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/gemm_plan.h"

#define THREADS 256
#define COL_BYTES_MAX ((size_t)256 << 20) /* im2col chunk cap */

/* col [KK, np] row-major for output positions [p0, p0 + np) of channel group starting at x. */
__global__ void k_im2col(void *col, int cdt, const void *x, int xdt, ov_conv_geom g, int64_t KK, int64_t p0,
                         int64_t np)
{
    const int64_t n = KK * np;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t src = ov_im2col_src(&g, e / np, p0 + e % np);
        ov_st(col, cdt, e, src < 0 ? 0.0f : ov_ld(x, xdt, src));
    }
}

/* The same column chunk, faster: one block row per column r (its (c, dt, dy, dx) decoded once),
 * threads over the positions with 32-bit index math, and a raw copy of the element bits (x and
 * the column share the act dtype, so no conversion: E is the element's storage type). The generic
 * kernel above did ~11 64-bit divisions and two dtype switches per element; the SDXL UNet at 1024²
 * writes ~15 G column elements per step (batch 12). Used when every index fits 32 bits and the
 * column count fits a grid's y extent (ov_im2col_fast_ok; the index math is gemm_plan.h's,
 * checked against the generic one on the CPU by test_cuda_plan). */
template <typename E>
__global__ void k_im2col_fast(E *col, const E *x, ov_conv_geom g, int p0, int np)
{
    const ov_im2col_row t = ov_im2col_row_of(&g, (int)blockIdx.y);
    E *dst = col + (int64_t)blockIdx.y * np;
    for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < np; i += (int)(gridDim.x * blockDim.x)) {
        const int64_t src = ov_im2col_src32(&g, t, (unsigned)(p0 + i));
        dst[i] = src < 0 ? (E)0 : x[src];
    }
}

__global__ void k_conv_bias(void *y, int ydt, const void *b, int bdt, int64_t O, int64_t P, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(y, ydt, i, ov_ld(y, ydt, i) + ov_ld(b, bdt, (i / P) % O));
}

static size_t esz(int dt)
{
    return dt == OV_DTYPE_F32 ? 4 : 2;
}

static cudaDataType_t cty(int dt)
{
    return dt == OV_DTYPE_F32 ? CUDA_R_32F : dt == OV_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
}

static int conv_run(ov_backend *be, const char *op, const ov_conv_geom *g, int groups, ov_tensor *y,
                    const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_weight(op, w);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    if (!ov_tensor_is_contiguous(x) || !ov_tensor_is_contiguous(y))
        return ov_tensor_fail(OV_EUNSUPP, "%s: '%s' and '%s' must be contiguous on CUDA (copy first)", op,
                              x->name, y->name);
    int adt = x->dtype;
    if (!(y->dtype == adt || (adt != OV_DTYPE_F32 && y->dtype == OV_DTYPE_F32)))
        return ov_tensor_fail(OV_EUNSUPP, "%s: x '%s' %s -> y '%s' %s: dtype pair not supported on CUDA", op,
                              x->name, ov_dtype_name(adt), y->name, ov_dtype_name(y->dtype));
    ov_cuda *c = ov_cuda_of(be);
    const int64_t Nb = x->shape[0], O = w->shape[0], Cg = g->C / groups;
    const int64_t KK = Cg * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    if (Nb == 0 || O == 0 || P == 0)
        return 0;
    if (KK == 0)
        return ov_tensor_fail(OV_EUNSUPP, "%s: empty kernel", op);
    const int64_t np = ov_conv_chunk(g, groups, esz(adt), COL_BYTES_MAX);
    size_t wbytes = (size_t)(O * KK) * esz(adt);
    wbytes = (wbytes + 255) & ~(size_t)255;
    const int need_w = w->dtype != adt || ov_cuda_scale_of(w) != 1.0f;
    void *scr = NULL;
    rc = ov_cuda_scratch(be, (need_w ? wbytes : 0) + (size_t)(KK * np) * esz(adt), &scr, op);
    if (rc)
        return rc;
    const void *wp = w->data;
    char *colp = (char *)scr;
    if (need_w) {
        if ((rc = ov_cuda_weight_to(be, op, scr, adt, w, O * KK)))
            return rc;
        wp = scr;
        colp += wbytes;
    }
    const float one = 1.0f, zero = 0.0f;
    const bool fast = c->im2col_fast && ov_im2col_fast_ok(g, KK, P);
    const size_t xs = (size_t)(g->C * g->T * g->H * g->W), ys = (size_t)(O * P),
                 gx = (size_t)(Cg * g->T * g->H * g->W);
    for (int64_t n = 0; n < Nb; n++) {
        const char *xn = (const char *)x->data + n * xs * esz(adt);
        char *yn = (char *)y->data + n * ys * esz(y->dtype);
        for (int gi = 0; gi < groups; gi++) {
            for (int64_t p0 = 0; p0 < P; p0 += np) {
                const int64_t cnt = P - p0 < np ? P - p0 : np;
                ov_gemm_plan pl;
                int64_t w_off = 0, y_off = 0;
                if ((rc = ov_gemm_plan_conv(&pl, g, groups, O, gi, p0, cnt, &w_off, &y_off)))
                    return rc;
                const char *xg = xn + (size_t)gi * gx * esz(adt);
                if (fast) {
                    unsigned bx = (unsigned)((cnt + THREADS - 1) / THREADS);
                    dim3 grid(bx > 64 ? 64 : bx, (unsigned)KK);
                    if (adt == OV_DTYPE_F32)
                        k_im2col_fast<uint32_t><<<grid, THREADS, 0, c->stream>>>(
                            (uint32_t *)colp, (const uint32_t *)xg, *g, (int)p0, (int)cnt);
                    else
                        k_im2col_fast<uint16_t><<<grid, THREADS, 0, c->stream>>>(
                            (uint16_t *)colp, (const uint16_t *)xg, *g, (int)p0, (int)cnt);
                } else {
                    k_im2col<<<ov_cu_blocks(KK * cnt, THREADS), THREADS, 0, c->stream>>>(colp, adt, xg, adt, *g,
                                                                                       KK, p0, cnt);
                }
                if ((rc = ov_cuda_launched(be, op)))
                    return rc;
                rc = ov_cuda_blas_check(
                    be,
                    cublasGemmEx(c->blas, pl.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 pl.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, pl.m, pl.n, pl.k, &one, colp,
                                 cty(adt), pl.lda, (const char *)wp + (size_t)w_off * esz(adt), cty(adt),
                                 pl.ldb, &zero, yn + (size_t)y_off * esz(y->dtype), cty(y->dtype), pl.ldc,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    op, "cublasGemmEx");
                if (rc)
                    return rc;
            }
        }
    }
    if (!b)
        return 0;
    int64_t n = Nb * O * P;
    k_conv_bias<<<ov_cu_blocks(n, THREADS), THREADS, 0, c->stream>>>(y->data, y->dtype, b->data, b->dtype, O,
                                                                     P, n);
    return ov_cuda_launched(be, op);
}

int ov_cuda_conv2d(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                   const ov_conv2d_params *p)
{
    ov_conv_geom g;
    g.C = x->shape[1];
    g.T = 1;
    g.H = x->shape[2];
    g.W = x->shape[3];
    g.kt = 1;
    g.kh = w->shape[2];
    g.kw = w->shape[3];
    g.st = 1;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.pt = 0;
    g.ph = p->pad_h;
    g.pw = p->pad_w;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.To = 1;
    g.Ho = y->shape[2];
    g.Wo = y->shape[3];
    return conv_run(be, "conv2d", &g, p->groups, y, x, w, b);
}

int ov_cuda_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                          const ov_tensor *b, const ov_conv3d_params *p)
{
    ov_conv_geom g;
    g.C = x->shape[1];
    g.T = x->shape[2];
    g.H = x->shape[3];
    g.W = x->shape[4];
    g.kt = w->shape[2];
    g.kh = w->shape[3];
    g.kw = w->shape[4];
    g.st = p->stride_t;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.pt = p->pad_t_front;
    g.ph = p->pad_h;
    g.pw = p->pad_w;
    g.dh = 1;
    g.dw = 1;
    g.To = y->shape[2];
    g.Ho = y->shape[3];
    g.Wo = y->shape[4];
    return conv_run(be, "conv3d_causal", &g, 1, y, x, w, b);
}
