/* CUDA rotary position embeddings: NEOX rotate-half (Qwen) and WAN 3D interleaved pairs.
 * Angles in f64 (positions reach 32k), sin/cos in f32 after an f64 reduction to [-π, π]. */
#include <math.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256

/* sin and cos of pos·θ^(-e), e = 2k/dim: the angle in f64 (exp of the host's ln θ instead of pow),
 * reduced mod 2π in f64 (error ~1e-11 rad at 32k positions), then sincosf on the reduced angle:
 * ~1e-7 relative, the outputs' own f32 precision, where f64 pow + sincos per pair made a Qwen decode
 * rope cost 6.8 µs (H100, 2026-11-27) and would dominate WAN's 25 M pairs per call. The references
 * (transformers' Qwen2 rotary embedding, llama.cpp) compute these angles in f32. */
__device__ __forceinline__ void rope_sincos(double pos, double e, double ln_theta, float *s, float *c)
{
    const double two_pi = 6.283185307179586476925286766559;
    double ang = pos * exp(-e * ln_theta);
    ang -= two_pi * rint(ang * (1.0 / two_pi));
    sincosf((float)ang, s, c);
}

/* One thread per rotated pair; x [B, L, H, D] strided (last dim contiguous), y contiguous. */
__global__ void k_rope_neox(void *y, int ydt, ov_cu_view xv, int64_t pos0, double ln_theta, int64_t npairs)
{
    const int64_t L = xv.shape[1], H = xv.shape[2], D = xv.shape[3], half = D / 2;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < npairs;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = i % half, t = i / half;
        int64_t h = t % H, t2 = t / H;
        int64_t l = t2 % L, b = t2 / L;
        int64_t xo = b * xv.stride[0] + l * xv.stride[1] + h * xv.stride[2];
        int64_t yo = ((b * L + l) * H + h) * D;
        float s, c;
        rope_sincos((double)(pos0 + l), 2.0 * (double)j / (double)D, ln_theta, &s, &c);
        float x1 = ov_ld(xv.data, xv.dtype, xo + j), x2 = ov_ld(xv.data, xv.dtype, xo + j + half);
        ov_st(y, ydt, yo + j, x1 * c - x2 * s);
        ov_st(y, ydt, yo + j + half, x2 * c + x1 * s);
    }
}

int ov_cuda_rope_neox(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta)
{
    const char *op = "rope_neox";
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(x) / 2;
    if (n == 0)
        return 0;
    k_rope_neox<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, ov_cu_view_of(x), pos_offset, log((double)theta), n);
    return ov_cuda_launched(be, op);
}

/* Pair j of token l: axis t for j < ct, h for j < ct + ch, else w; each axis a table
 * theta^(-2k/D_axis) with D_axis = 2·c_axis and k the pair index within the axis. */
__global__ void k_rope_wan3d(void *y, int ydt, ov_cu_view xv, int64_t gt, int64_t gh, int64_t gw,
                             double ln_theta, int64_t npairs)
{
    const int64_t L = xv.shape[1], H = xv.shape[2], D = xv.shape[3], c = D / 2;
    const int64_t ch = c / 3, cw = c / 3, ct = c - ch - cw;
    const int64_t ntok = gt * gh * gw;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < npairs;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = i % c, t = i / c;
        int64_t h = t % H, t2 = t / H;
        int64_t l = t2 % L, b = t2 / L;
        int64_t xo = b * xv.stride[0] + l * xv.stride[1] + h * xv.stride[2] + 2 * j;
        int64_t yo = ((b * L + l) * H + h) * D + 2 * j;
        float a = ov_ld(xv.data, xv.dtype, xo), bb = ov_ld(xv.data, xv.dtype, xo + 1);
        if (l >= ntok) {
            ov_st(y, ydt, yo, a);
            ov_st(y, ydt, yo + 1, bb);
            continue;
        }
        int64_t f = l / (gh * gw), r = l % (gh * gw), hh = r / gw, ww = r % gw;
        int64_t pos, k, dax;
        if (j < ct) {
            pos = f;
            k = j;
            dax = 2 * ct;
        } else if (j < ct + ch) {
            pos = hh;
            k = j - ct;
            dax = 2 * ch;
        } else {
            pos = ww;
            k = j - ct - ch;
            dax = 2 * cw;
        }
        float s, co;
        rope_sincos((double)pos, 2.0 * (double)k / (double)dax, ln_theta, &s, &co);
        ov_st(y, ydt, yo, a * co - bb * s);
        ov_st(y, ydt, yo + 1, a * s + bb * co);
    }
}

int ov_cuda_rope_wan3d(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw,
                       float theta)
{
    const char *op = "rope_wan3d";
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(x) / 2;
    if (n == 0)
        return 0;
    k_rope_wan3d<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, ov_cu_view_of(x), gt, gh, gw, log((double)theta), n);
    return ov_cuda_launched(be, op);
}
