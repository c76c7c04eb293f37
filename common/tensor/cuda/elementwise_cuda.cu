/* CUDA element-wise and layout ops: copy, concat, pad, upsample, unary, binary, modulate, GLUs,
 * embeddings. One thread per output element (grid-stride); inputs read through strided views, in
 * 32-bit index math with multiply-high divisions where every offset fits (index_plan.h: the
 * 64-bit div/mod per dimension cost a broadcast add on an H100 10x its memory time), and
 * transposing copies through shared-memory tiles. */
#include <math.h>
#include <stdlib.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256

static int prologue(ov_backend *be, const char *op, const ov_tensor *y)
{
    int rc = ov_cuda_enter(be, op);
    if (rc)
        return rc;
    return ov_cuda_need_float(op, y, 0);
}

/* ---- copy ---- */

/* Fits the 32-bit kernels: n elements and every view's offsets below 2^31 (index_plan.h). */
static int fits32(int64_t n)
{
    return n < ((int64_t)1 << 31);
}

template <class V>
__global__ void k_copy(void *y, V yv, V xv, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(y, yv.dtype, ov_off(yv, i), ov_ldvw(xv, i));
}

/* y (dense) = the source read as [n, r, c] with r contiguous (ov_transpose_plan_of): 32x32 tiles
 * through shared memory, so both the reads (along r) and the writes (along c) are coalesced. A
 * permute copy read element by element touches one 32-byte sector per element instead. */
#define TT 32
#define TR 8
__global__ void k_transpose(void *y, int ydt, const void *x, int xdt, float scale, ov_transpose_plan t)
{
    __shared__ float tile[TT][TT + 1];
    const int c0 = blockIdx.x * TT, r0 = blockIdx.y * TT, tx = threadIdx.x, ty = threadIdx.y;
    const int64_t xb = (int64_t)blockIdx.z * t.sn;
    for (int k = 0; k < TT; k += TR) {
        const int c = c0 + ty + k, r = r0 + tx;
        if (c < t.c && r < t.r)
            tile[ty + k][tx] = ov_ld(x, xdt, xb + r + (int64_t)c * t.sc) * scale;
    }
    __syncthreads();
    const int64_t yb = (int64_t)blockIdx.z * t.r * t.c;
    for (int k = 0; k < TT; k += TR) {
        const int r = r0 + ty + k, c = c0 + tx;
        if (c < t.c && r < t.r)
            ov_st(y, ydt, yb + (int64_t)r * t.c + c, tile[tx][ty + k]);
    }
}

static int is_plain_float(int dt)
{
    return dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16 || dt == OV_DTYPE_F8_E4M3 ||
           dt == OV_DTYPE_F8_E5M2;
}

/* y = x element by element (shapes may differ, element counts equal): the tiled transpose when x is
 * a transposed view and y dense, else the strided kernel in 32-bit index math where it fits. */
static int launch_copy(ov_backend *be, const char *op, ov_tensor *y, const ov_tensor *x)
{
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    cudaStream_t st = ov_cuda_of(be)->stream;
    ov_cu_view yv = ov_cu_view_of(y), xv = ov_cu_view_of(x);
    ov_cu_v32 y32, x32;
    if (fits32(n) && ov_cu_v32_of(&yv, &y32) && ov_cu_v32_of(&xv, &x32)) {
        ov_transpose_plan tp;
        if (y32.ix.dense && is_plain_float(x->dtype) &&
            ov_transpose_plan_of(&tp, xv.ndim, xv.shape, xv.stride) && (tp.r + TT - 1) / TT <= 65535) {
            dim3 grid((unsigned)((tp.c + TT - 1) / TT), (unsigned)((tp.r + TT - 1) / TT), (unsigned)tp.n);
            k_transpose<<<grid, dim3(TT, TR), 0, st>>>(y->data, y->dtype, x->data, x->dtype, xv.scale, tp);
        } else {
            k_copy<ov_cu_v32><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y32, x32, n);
        }
    } else {
        k_copy<ov_cu_view><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, yv, xv, n);
    }
    return ov_cuda_launched(be, op);
}

int ov_cuda_copy(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    const char *op = "copy";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_weight(op, x);
    if (rc)
        return rc;
    return launch_copy(be, op, y, x);
}

/* ---- concat: two copies into slices of y ---- */

int ov_cuda_concat(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim)
{
    const char *op = "concat";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, a, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    if (ov_tensor_nelem(y) == 0)
        return 0;
    const int64_t na = a->shape[dim];
    ov_tensor ya, yb;
    rc = ov_tensor_slice(&ya, y, dim, 0, na);
    if (!rc)
        rc = ov_tensor_slice(&yb, y, dim, na, y->shape[dim] - na);
    if (!rc)
        rc = launch_copy(be, op, &ya, a);
    if (!rc)
        rc = launch_copy(be, op, &yb, b);
    return rc;
}

/* ---- pad ---- */

struct pad_args {
    int64_t before[OV_TENSOR_MAX_DIMS];
};

__global__ void k_pad(void *y, int ydt, ov_cu_view yv, ov_cu_view xv, pad_args pa, float value, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t li = i, off = 0;
        int inside = 1;
        for (int d = yv.ndim - 1; d >= 0; d--) {
            int64_t c = li % yv.shape[d] - pa.before[d];
            li /= yv.shape[d];
            if (c < 0 || c >= xv.shape[d])
                inside = 0;
            else
                off += c * xv.stride[d];
        }
        ov_st(y, ydt, i, inside ? ov_ld(xv.data, xv.dtype, off) : value);
    }
}

int ov_cuda_pad(ov_backend *be, ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after,
                float value)
{
    (void)after;
    const char *op = "pad";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    pad_args pa;
    for (int i = 0; i < OV_TENSOR_MAX_DIMS; i++)
        pa.before[i] = i < x->ndim ? before[i] : 0;
    k_pad<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, ov_cu_view_of(y), ov_cu_view_of(x), pa, value, n);
    return ov_cuda_launched(be, op);
}

/* ---- upsample ---- */

__global__ void k_up2(void *y, int ydt, const void *x, int xdt, int64_t H, int64_t W, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ox = i % (2 * W), t = i / (2 * W);
        int64_t oy = t % (2 * H), p = t / (2 * H);
        ov_st(y, ydt, i, ov_ld(x, xdt, (p * H + oy / 2) * W + ox / 2));
    }
}

/* The same with multiply-high divisions (n < 2^31). */
__global__ void k_up2_32(void *y, int ydt, const void *x, int xdt, uint32_t H, uint32_t W, ov_fdiv d2w,
                         ov_fdiv d2h, uint32_t n)
{
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const uint32_t t = ov_fdiv_q(d2w, i), ox = i - t * 2 * W;
        const uint32_t p = ov_fdiv_q(d2h, t), oy = t - p * 2 * H;
        ov_st(y, ydt, i, ov_ld(x, xdt, (int64_t)(p * H + oy / 2) * W + ox / 2));
    }
}

int ov_cuda_upsample_nearest2x(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    const char *op = "upsample_nearest2x";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    const int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1];
    cudaStream_t st = ov_cuda_of(be)->stream;
    if (fits32(n))
        k_up2_32<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x->data, x->dtype, (uint32_t)H,
                                                              (uint32_t)W, ov_fdiv_make((uint32_t)(2 * W)),
                                                              ov_fdiv_make((uint32_t)(2 * H)), (uint32_t)n);
    else
        k_up2<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x->data, x->dtype, H, W, n);
    return ov_cuda_launched(be, op);
}

/* ---- unary ---- */

__device__ __forceinline__ float unary_fn(int kind, float x, float a, float b)
{
    switch (kind) {
    case OV_UNARY_SILU: return x / (1.0f + expf(-x));
    case OV_UNARY_GELU_ERF: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case OV_UNARY_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case OV_UNARY_GELU_QUICK: return x / (1.0f + expf(-1.702f * x));
    case OV_UNARY_SCALE: return x * a + b;
    case OV_UNARY_CLAMP: return fminf(fmaxf(x, a), b);
    default: return x;
    }
}

__global__ void k_unary(void *y, int ydt, const void *x, int xdt, int kind, float a, float b, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(y, ydt, i, unary_fn(kind, ov_ld(x, xdt, i), a, b));
}

int ov_cuda_unary(ov_backend *be, ov_tensor *y, const ov_tensor *x, int kind, float a, float b)
{
    const char *op = "unary";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    if (kind < OV_UNARY_SILU || kind > OV_UNARY_CLAMP)
        return ov_tensor_fail(OV_EINVAL, "unary: unknown kind %d", kind);
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    k_unary<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(y->data, y->dtype, x->data,
                                                                              x->dtype, kind, a, b, n);
    return ov_cuda_launched(be, op);
}

/* ---- binary / modulate (broadcasting) ---- */

template <class V>
__global__ void k_binary(void *y, int ydt, V av, V bv, int kind, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float a = ov_ld(av.data, av.dtype, ov_off(av, i));
        float b = ov_ld(bv.data, bv.dtype, ov_off(bv, i));
        ov_st(y, ydt, i, kind == OV_BINARY_MUL ? a * b : a + b);
    }
}

int ov_cuda_binary(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind)
{
    const char *op = kind == OV_BINARY_MUL ? "mul" : "add";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, a, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    cudaStream_t st = ov_cuda_of(be)->stream;
    ov_cu_view av = ov_cu_view_bcast(a, y), bv = ov_cu_view_bcast(b, y);
    ov_cu_v32 a32, b32;
    if (fits32(n) && ov_cu_v32_of(&av, &a32) && ov_cu_v32_of(&bv, &b32))
        k_binary<ov_cu_v32><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, a32, b32, kind, n);
    else
        k_binary<ov_cu_view><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, av, bv, kind, n);
    return ov_cuda_launched(be, op);
}

template <class V>
__global__ void k_modulate(void *y, int ydt, V xv, V shv, V scv, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float x = ov_ld(xv.data, xv.dtype, ov_off(xv, i));
        float sh = ov_ld(shv.data, shv.dtype, ov_off(shv, i));
        float sc = ov_ld(scv.data, scv.dtype, ov_off(scv, i));
        ov_st(y, ydt, i, x * (1.0f + sc) + sh);
    }
}

int ov_cuda_modulate(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *shift,
                     const ov_tensor *scale)
{
    const char *op = "modulate";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, shift, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, scale, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    cudaStream_t st = ov_cuda_of(be)->stream;
    ov_cu_view xv = ov_cu_view_bcast(x, y), hv = ov_cu_view_bcast(shift, y), cv = ov_cu_view_bcast(scale, y);
    ov_cu_v32 x32, h32, c32;
    if (fits32(n) && ov_cu_v32_of(&xv, &x32) && ov_cu_v32_of(&hv, &h32) && ov_cu_v32_of(&cv, &c32))
        k_modulate<ov_cu_v32><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x32, h32, c32, n);
    else
        k_modulate<ov_cu_view><<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, xv, hv, cv, n);
    return ov_cuda_launched(be, op);
}

/* ---- GLUs ---- */

__global__ void k_geglu(void *y, int ydt, const void *x, int xdt, int64_t half, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / half, c = i % half;
        float a = ov_ld(x, xdt, r * 2 * half + c), g = ov_ld(x, xdt, r * 2 * half + half + c);
        ov_st(y, ydt, i, a * unary_fn(OV_UNARY_GELU_ERF, g, 0, 0));
    }
}

/* The same with a multiply-high division (2·n < 2^31). */
__global__ void k_geglu32(void *y, int ydt, const void *x, int xdt, ov_fdiv dh, uint32_t n)
{
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const uint32_t r = ov_fdiv_q(dh, i), c = i - r * dh.d, xa = r * 2 * dh.d + c;
        float a = ov_ld(x, xdt, xa), g = ov_ld(x, xdt, xa + dh.d);
        ov_st(y, ydt, i, a * unary_fn(OV_UNARY_GELU_ERF, g, 0, 0));
    }
}

int ov_cuda_geglu(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    const char *op = "geglu";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y), half = y->shape[y->ndim - 1];
    if (n == 0)
        return 0;
    cudaStream_t st = ov_cuda_of(be)->stream;
    if (fits32(2 * n))
        k_geglu32<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x->data, x->dtype,
                                                               ov_fdiv_make((uint32_t)half), (uint32_t)n);
    else
        k_geglu<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x->data, x->dtype, half, n);
    return ov_cuda_launched(be, op);
}

__global__ void k_swiglu(void *y, int ydt, const void *g, int gdt, const void *u, int udt, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float a = ov_ld(g, gdt, i);
        ov_st(y, ydt, i, a / (1.0f + expf(-a)) * ov_ld(u, udt, i));
    }
}

int ov_cuda_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *gate, const ov_tensor *up)
{
    const char *op = "swiglu";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_float(op, gate, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, up, 0);
    if (rc)
        return rc;
    int64_t n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    k_swiglu<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, gate->data, gate->dtype, up->data, up->dtype, n);
    return ov_cuda_launched(be, op);
}

/* ---- embeddings ---- */

__global__ void k_timestep(void *y, int ydt, const float *t, int64_t dim, int64_t half, double lnmax,
                           double shift, double scale, int flip, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / dim, c = i % dim;
        float v = 0.0f;
        if (c < 2 * half) {
            int64_t j = c < half ? c : c - half;
            double ang = scale * (double)t[r] * exp(-lnmax * (double)j / ((double)half - shift));
            int first = c < half; /* first half: cos when flipped, else sin */
            v = (float)((first == (flip != 0)) ? cos(ang) : sin(ang));
        }
        ov_st(y, ydt, i, v);
    }
}

int ov_cuda_timestep_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p)
{
    const char *op = "timestep_embedding";
    int rc = prologue(be, op, y);
    if (rc)
        return rc;
    int64_t dim = y->shape[1], n = ov_tensor_nelem(y);
    if (n == 0)
        return 0;
    k_timestep<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, (const float *)t->data, dim, dim / 2, log((double)p->max_period),
        (double)p->downscale_freq_shift, (double)p->scale, p->flip_sin_to_cos, n);
    return ov_cuda_launched(be, op);
}

__global__ void k_embedding(void *y, int ydt, const void *tab, int tdt, float scale, const int32_t *ids,
                            int64_t D, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i / D, c = i % D;
        ov_st(y, ydt, i, ov_ldw(tab, tdt, (int64_t)ids[r] * D + c) * scale);
    }
}

int ov_cuda_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *table, const ov_tensor *ids)
{
    const char *op = "embedding";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_weight(op, table);
    if (rc)
        return rc;
    int64_t N = ids->shape[0], V = table->shape[0], D = table->shape[1];
    if (N == 0 || D == 0)
        return 0;
    /* ids are checked on the host (ops.h promises OV_EINVAL naming a bad id): N is small (tokens) */
    int32_t *h = (int32_t *)malloc((size_t)N * sizeof *h);
    if (!h)
        return ov_tensor_fail(OV_ENOMEM, "embedding: no host memory for %lld ids", (long long)N);
    rc = be->ops->download(be, h, ids->data, (size_t)N * sizeof *h);
    for (int64_t i = 0; !rc && i < N; i++)
        if (h[i] < 0 || h[i] >= V)
            rc = ov_tensor_fail(OV_EINVAL, "embedding: ids '%s'[%lld] = %d outside table '%s' [0, %lld)",
                                ids->name, (long long)i, h[i], table->name, (long long)V);
    free(h);
    if (rc)
        return rc;
    int64_t n = N * D;
    float sc = table->scale == 0.0f ? 1.0f : table->scale;
    k_embedding<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, table->data, table->dtype, sc, (const int32_t *)ids->data, D, n);
    return ov_cuda_launched(be, op);
}
