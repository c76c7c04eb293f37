/* CUDA convolutions (conv2d, causal conv3d): im2col into device scratch (chunks of output
 * positions) + one cuBLAS GEMM per (sample, group, chunk); weights converted to the act dtype.
 * TODO(perf): implicit-GEMM kernel (no col buffer) and NHWC for the VAE's large convs. */
#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256
#define COL_BYTES_MAX ((size_t)256 << 20) /* im2col chunk cap */

struct conv_geom {
    int64_t C, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, dh, dw, To, Ho, Wo;
};

__global__ void k_im2col(void *col, int cdt, const void *x, int xdt, conv_geom g, int64_t c0, int64_t KK,
                         int64_t p0, int64_t np)
{
    const int64_t n = KK * np, HWo = g.Ho * g.Wo;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = e / np, p = p0 + e % np;
        int64_t kvol = g.kt * g.kh * g.kw, ci = r / kvol, rem = r % kvol;
        int64_t dt = rem / (g.kh * g.kw), dy = rem / g.kw % g.kh, dx = rem % g.kw;
        int64_t to = p / HWo, q = p % HWo, oy = q / g.Wo, ox = q % g.Wo;
        int64_t ti = to * g.st - g.pt + dt, iy = oy * g.sh - g.ph + dy * g.dh,
                ix = ox * g.sw - g.pw + dx * g.dw;
        float v = 0.0f;
        if (ti >= 0 && ti < g.T && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W)
            v = ov_ld(x, xdt, (((c0 + ci) * g.T + ti) * g.H + iy) * g.W + ix);
        ov_st(col, cdt, e, v);
    }
}

__global__ void k_conv_cvt(void *dst, int ddt, const void *src, int sdt, float scale, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(dst, ddt, i, ov_ld(src, sdt, i) * scale);
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

static int conv_run(ov_backend *be, const char *op, const conv_geom *g, int groups, ov_tensor *y,
                    const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, w, 1);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    if (!ov_tensor_is_contiguous(x))
        return ov_tensor_fail(OV_EUNSUPP, "%s: input '%s' must be contiguous on CUDA (copy it first)", op,
                              x->name);
    int adt = x->dtype;
    if (!(y->dtype == adt || (adt != OV_DTYPE_F32 && y->dtype == OV_DTYPE_F32)))
        return ov_tensor_fail(OV_EUNSUPP, "%s: x '%s' %s -> y '%s' %s: dtype pair not supported on CUDA", op,
                              x->name, ov_dtype_name(adt), y->name, ov_dtype_name(y->dtype));
    ov_cuda *c = ov_cuda_of(be);
    const int64_t Nb = x->shape[0], O = w->shape[0], Og = O / groups, Cg = g->C / groups;
    const int64_t KK = Cg * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    if (Nb == 0 || O == 0 || P == 0)
        return 0;
    if (KK == 0)
        return ov_tensor_fail(OV_EUNSUPP, "%s: empty kernel", op);
    if (KK > 0x7fffffffLL || P > 0x7fffffffLL || Og > 0x7fffffffLL)
        return ov_tensor_fail(OV_EUNSUPP, "%s: '%s' exceeds cuBLAS int dims", op, y->name);
    int64_t np = (int64_t)(COL_BYTES_MAX / ((size_t)KK * esz(adt)));
    if (np < 256)
        np = 256;
    if (np > P)
        np = P;
    size_t wbytes = (size_t)(O * KK) * esz(adt);
    wbytes = (wbytes + 255) & ~(size_t)255;
    float ws = w->scale == 0.0f ? 1.0f : w->scale;
    int need_w = w->dtype != adt || ws != 1.0f;
    void *scr = NULL;
    rc = ov_cuda_scratch(be, (need_w ? wbytes : 0) + (size_t)(KK * np) * esz(adt), &scr, op);
    if (rc)
        return rc;
    const void *wp = w->data;
    char *colp = (char *)scr;
    if (need_w) {
        k_conv_cvt<<<ov_cu_blocks(O * KK, THREADS), THREADS, 0, c->stream>>>(scr, adt, w->data, w->dtype, ws,
                                                                             O * KK);
        if ((rc = ov_cuda_launched(be, op)))
            return rc;
        wp = scr;
        colp += wbytes;
    }
    const float one = 1.0f, zero = 0.0f;
    const size_t xs = (size_t)(g->C * g->T * g->H * g->W), ys = (size_t)(O * P);
    for (int64_t n = 0; n < Nb; n++) {
        const char *xn = (const char *)x->data + n * xs * esz(adt);
        char *yn = (char *)y->data + n * ys * esz(y->dtype);
        for (int gi = 0; gi < groups; gi++) {
            for (int64_t p0 = 0; p0 < P; p0 += np) {
                int64_t cnt = P - p0 < np ? P - p0 : np;
                k_im2col<<<ov_cu_blocks(KK * cnt, THREADS), THREADS, 0, c->stream>>>(colp, adt, xn, adt, *g,
                                                                                     gi * Cg, KK, p0, cnt);
                if ((rc = ov_cuda_launched(be, op)))
                    return rc;
                /* row-major y[gi·Og.., p0..] (ld P) = W[g] [Og, KK] · col [KK, cnt] */
                rc = ov_cuda_blas_check(
                    be,
                    cublasGemmEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)cnt, (int)Og, (int)KK, &one, colp,
                                 cty(adt), (int)cnt, (const char *)wp + (size_t)(gi * Og * KK) * esz(adt),
                                 cty(adt), (int)KK, &zero, yn + ((size_t)(gi * Og) * P + p0) * esz(y->dtype),
                                 cty(y->dtype), (int)P, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
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
    conv_geom g = {x->shape[1], 1,           x->shape[2], x->shape[3],   1,
                   w->shape[2], w->shape[3], 1,           p->stride_h,   p->stride_w,
                   0,           p->pad_h,    p->pad_w,    p->dilation_h, p->dilation_w,
                   1,           y->shape[2], y->shape[3]};
    return conv_run(be, "conv2d", &g, p->groups, y, x, w, b);
}

int ov_cuda_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                          const ov_tensor *b, const ov_conv3d_params *p)
{
    conv_geom g = {x->shape[1], x->shape[2], x->shape[3], x->shape[4], w->shape[2],    w->shape[3],
                   w->shape[4], p->stride_t, p->stride_h, p->stride_w, p->pad_t_front, p->pad_h,
                   p->pad_w,    1,           1,           y->shape[2], y->shape[3],    y->shape[4]};
    return conv_run(be, "conv3d_causal", &g, 1, y, x, w, b);
}
