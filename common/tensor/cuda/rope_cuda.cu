/* CUDA rotary position embeddings: NEOX rotate-half (Qwen) and WAN 3D interleaved pairs.
 * Angles and sin/cos in f64 like the reference implementations (positions reach 32k). */
#include <math.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256

/* One thread per rotated pair; x [B, L, H, D] strided (last dim contiguous), y contiguous. */
__global__ void k_rope_neox(void *y, int ydt, ov_cu_view xv, int64_t pos0, double theta, int64_t npairs)
{
    const int64_t L = xv.shape[1], H = xv.shape[2], D = xv.shape[3], half = D / 2;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < npairs;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t j = i % half, t = i / half;
        int64_t h = t % H, t2 = t / H;
        int64_t l = t2 % L, b = t2 / L;
        int64_t xo = b * xv.stride[0] + l * xv.stride[1] + h * xv.stride[2];
        int64_t yo = ((b * L + l) * H + h) * D;
        double ang = (double)(pos0 + l) * pow(theta, -2.0 * (double)j / (double)D);
        double s, c;
        sincos(ang, &s, &c);
        float x1 = ov_ld(xv.data, xv.dtype, xo + j), x2 = ov_ld(xv.data, xv.dtype, xo + j + half);
        ov_st(y, ydt, yo + j, (float)((double)x1 * c - (double)x2 * s));
        ov_st(y, ydt, yo + j + half, (float)((double)x2 * c + (double)x1 * s));
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
        y->data, y->dtype, ov_cu_view_of(x), pos_offset, (double)theta, n);
    return ov_cuda_launched(be, op);
}

/* Pair j of token l: axis t for j < ct, h for j < ct + ch, else w; each axis a table
 * theta^(-2k/D_axis) with D_axis = 2·c_axis and k the pair index within the axis. */
__global__ void k_rope_wan3d(void *y, int ydt, ov_cu_view xv, int64_t gt, int64_t gh, int64_t gw,
                             double theta, int64_t npairs)
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
        double ang = (double)pos * pow(theta, -2.0 * (double)k / (double)dax);
        double s, co;
        sincos(ang, &s, &co);
        ov_st(y, ydt, yo, (float)((double)a * co - (double)bb * s));
        ov_st(y, ydt, yo + 1, (float)((double)a * s + (double)bb * co));
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
        y->data, y->dtype, ov_cu_view_of(x), gt, gh, gw, (double)theta, n);
    return ov_cuda_launched(be, op);
}
