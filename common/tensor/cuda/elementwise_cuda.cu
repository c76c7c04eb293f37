/* CUDA element-wise and layout ops: copy, concat, pad, upsample, unary, binary, modulate, GLUs,
 * embeddings. One thread per output element (grid-stride); inputs read through strided views, in
 * 32-bit index math with multiply-high divisions where every offset fits (index_plan.h: the
 * 64-bit div/mod per dimension cost a broadcast add on an H100 10x its memory time), and
 * transposing copies through shared-memory tiles. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- dense 16-bit fast paths: 8 values per thread through 16-byte loads and stores ----
 * The scalar kernels move 2 bytes per load and thread; these keep 16 in flight, for the large
 * bf16 activations of the SDXL UNet (an add over [12, 320, 128, 128] is 126 MB per operand).
 * Same f32 arithmetic and round-to-nearest stores as the scalar kernels, so results are equal bit
 * for bit. Taken only for 16-byte-aligned storage, element counts (and broadcast inner sizes) that
 * are multiples of 8, one 16-bit dtype throughout and unscaled views; everything else stays on the
 * scalar kernels. $OURVIDZ_CUDA_VEC=0 at backend open turns them off (A/B). */
static int vec8_enabled(ov_backend *be)
{
    return ov_cuda_of(be)->vec8;
}

static int is16(int dt)
{
    return dt == OV_DTYPE_BF16 || dt == OV_DTYPE_F16;
}

static int aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

template <bool BF> __device__ __forceinline__ void unpack8(const uint4 u, float f[8])
{
    float2 t = ov_unpack2<BF>(u.x);
    f[0] = t.x, f[1] = t.y;
    t = ov_unpack2<BF>(u.y);
    f[2] = t.x, f[3] = t.y;
    t = ov_unpack2<BF>(u.z);
    f[4] = t.x, f[5] = t.y;
    t = ov_unpack2<BF>(u.w);
    f[6] = t.x, f[7] = t.y;
}

template <bool BF> __device__ __forceinline__ uint32_t pack2(float a, float b)
{
    if (BF) {
        __nv_bfloat162 h = __floats2bfloat162_rn(a, b); /* .x (a) in the low half, as stored */
        return *reinterpret_cast<uint32_t *>(&h);
    }
    __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<uint32_t *>(&h);
}

template <bool BF> __device__ __forceinline__ uint4 pack8(const float f[8])
{
    return make_uint4(pack2<BF>(f[0], f[1]), pack2<BF>(f[2], f[3]), pack2<BF>(f[4], f[5]), pack2<BF>(f[6], f[7]));
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

template <bool BF>
__global__ void k_unary_v8(uint4 *y, const uint4 *x, int kind, float a, float b, uint32_t n8)
{
    for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < n8; v += gridDim.x * blockDim.x) {
        float f[8];
        unpack8<BF>(x[v], f);
#pragma unroll
        for (int k = 0; k < 8; k++)
            f[k] = unary_fn(kind, f[k], a, b);
        y[v] = pack8<BF>(f);
    }
}

/* Dense same-dtype 16-bit operands of n (a multiple of 8) elements, 16-byte aligned. */
static int dense_v8(ov_backend *be, const ov_tensor *y, const ov_tensor *x, int64_t n)
{
    return vec8_enabled(be) && is16(y->dtype) && x->dtype == y->dtype && n % 8 == 0 && fits32(n) &&
           aligned16(y->data) && aligned16(x->data) && ov_tensor_is_contiguous(x) && ov_tensor_is_contiguous(y);
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
    cudaStream_t st = ov_cuda_of(be)->stream;
    if (dense_v8(be, y, x, n)) {
        const uint32_t n8 = (uint32_t)(n / 8);
        if (y->dtype == OV_DTYPE_BF16)
            k_unary_v8<true><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>((uint4 *)y->data, (const uint4 *)x->data,
                                                                            kind, a, b, n8);
        else
            k_unary_v8<false><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>(
                (uint4 *)y->data, (const uint4 *)x->data, kind, a, b, n8);
        return ov_cuda_launched(be, op);
    }
    k_unary<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(y->data, y->dtype, x->data, x->dtype, kind, a, b, n);
    return ov_cuda_launched(be, op);
}

/* bmode 0: b dense like a; 1: one b value per row of `inner` elements (a [N, C, 1, 1] bias over
 * [N, C, H, W]); 2: b repeats every `inner` elements (a [C] bias over [rows, C]). in8 divides by
 * inner / 8. */
template <bool BF>
__global__ void k_binary_v8(uint4 *y, const uint4 *a, const void *b, int mul, int bmode, ov_fdiv in8, uint32_t n8)
{
    for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < n8; v += gridDim.x * blockDim.x) {
        float fa[8], fb[8];
        unpack8<BF>(a[v], fa);
        if (bmode == 1) {
            const float s = ov_ld(b, BF ? OV_DTYPE_BF16 : OV_DTYPE_F16, ov_fdiv_q(in8, v));
#pragma unroll
            for (int k = 0; k < 8; k++)
                fb[k] = s;
        } else {
            const uint32_t bi = bmode == 0 ? v : v - ov_fdiv_q(in8, v) * in8.d;
            unpack8<BF>(((const uint4 *)b)[bi], fb);
        }
#pragma unroll
        for (int k = 0; k < 8; k++)
            fa[k] = mul ? fa[k] * fb[k] : fa[k] + fb[k];
        y[v] = pack8<BF>(fa);
    }
}

/* How a 32-bit view addresses its elements, for the fast path: 0 dense, 1 / 2 as bmode above with
 * *inner set, -1 neither. */
static int v8_mode(const ov_cu_v32 *v, int64_t *inner)
{
    if (v->scale != 1.0f || !is16(v->dtype))
        return -1;
    if (v->ix.dense)
        return aligned16(v->data) ? 0 : -1;
    if (v->ix.ndim == 2 && v->ix.div[1].d % 8 == 0) {
        *inner = v->ix.div[1].d;
        if (v->ix.stride[0] == 1 && v->ix.stride[1] == 0)
            return 1; /* scalar loads of b: any alignment */
        if (v->ix.stride[0] == 0 && v->ix.stride[1] == 1)
            return aligned16(v->data) ? 2 : -1;
    }
    return -1;
}

/* The binary op on the fast path when it applies: 1 launched (status in *rc), 0 not taken. */
static int binary_v8(ov_backend *be, const char *op, ov_tensor *y, const ov_cu_v32 *a32, const ov_cu_v32 *b32,
                     int kind, int64_t n, int *rc)
{
    if (!vec8_enabled(be) || !is16(y->dtype) || n % 8 != 0 || !aligned16(y->data) || a32->dtype != y->dtype ||
        b32->dtype != y->dtype)
        return 0;
    int64_t ia = 0, ib = 0;
    int ma = v8_mode(a32, &ia), mb = v8_mode(b32, &ib);
    const ov_cu_v32 *da = a32, *bb = b32;
    int64_t inner = ib;
    if (ma != 0) { /* add and mul commute: the dense operand goes first */
        da = b32;
        bb = a32;
        inner = ia;
        const int t = ma;
        ma = mb;
        mb = t;
    }
    if (ma != 0 || mb < 0 || (mb == 1 && inner < 8))
        return 0;
    const uint32_t n8 = (uint32_t)(n / 8);
    const ov_fdiv in8 = ov_fdiv_make(mb == 0 ? 1u : (uint32_t)(inner / 8));
    cudaStream_t st = ov_cuda_of(be)->stream;
    const int mul = kind == OV_BINARY_MUL;
    if (y->dtype == OV_DTYPE_BF16)
        k_binary_v8<true><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>((uint4 *)y->data, (const uint4 *)da->data,
                                                                         bb->data, mul, mb, in8, n8);
    else
        k_binary_v8<false><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>(
            (uint4 *)y->data, (const uint4 *)da->data, bb->data, mul, mb, in8, n8);
    *rc = ov_cuda_launched(be, op);
    return 1;
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
    const int v32 = fits32(n) && ov_cu_v32_of(&av, &a32) && ov_cu_v32_of(&bv, &b32);
    if (v32 && binary_v8(be, op, y, &a32, &b32, kind, n, &rc))
        return rc;
    if (v32)
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

/* y[r, c8] = a · gelu(g) for 8 columns at a time: a = x[r, c], g = x[r, half + c]; h8 divides by
 * half / 8 (in 16-byte units). */
template <bool BF> __global__ void k_geglu_v8(uint4 *y, const uint4 *x, ov_fdiv h8, uint32_t n8)
{
    for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < n8; v += gridDim.x * blockDim.x) {
        const uint32_t r = ov_fdiv_q(h8, v), xa = v + r * h8.d; /* r·2·(half/8) + c8 */
        float fa[8], fg[8];
        unpack8<BF>(x[xa], fa);
        unpack8<BF>(x[xa + h8.d], fg);
#pragma unroll
        for (int k = 0; k < 8; k++)
            fa[k] = fa[k] * unary_fn(OV_UNARY_GELU_ERF, fg[k], 0, 0);
        y[v] = pack8<BF>(fa);
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
    if (half % 8 == 0 && dense_v8(be, y, x, 2 * n)) {
        const uint32_t n8 = (uint32_t)(n / 8);
        const ov_fdiv h8 = ov_fdiv_make((uint32_t)(half / 8));
        if (y->dtype == OV_DTYPE_BF16)
            k_geglu_v8<true><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>((uint4 *)y->data, (const uint4 *)x->data,
                                                                            h8, n8);
        else
            k_geglu_v8<false><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>((uint4 *)y->data,
                                                                             (const uint4 *)x->data, h8, n8);
        return ov_cuda_launched(be, op);
    }
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

template <bool BF> __global__ void k_swiglu_v8(uint4 *y, const uint4 *g, const uint4 *u, uint32_t n8)
{
    for (uint32_t v = blockIdx.x * blockDim.x + threadIdx.x; v < n8; v += gridDim.x * blockDim.x) {
        float fg[8], fu[8];
        unpack8<BF>(g[v], fg);
        unpack8<BF>(u[v], fu);
#pragma unroll
        for (int k = 0; k < 8; k++)
            fg[k] = fg[k] / (1.0f + expf(-fg[k])) * fu[k];
        y[v] = pack8<BF>(fg);
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
    if (dense_v8(be, y, gate, n) && dense_v8(be, y, up, n)) {
        const uint32_t n8 = (uint32_t)(n / 8);
        cudaStream_t st = ov_cuda_of(be)->stream;
        if (y->dtype == OV_DTYPE_BF16)
            k_swiglu_v8<true><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>(
                (uint4 *)y->data, (const uint4 *)gate->data, (const uint4 *)up->data, n8);
        else
            k_swiglu_v8<false><<<ov_cu_blocks(n8, THREADS), THREADS, 0, st>>>(
                (uint4 *)y->data, (const uint4 *)gate->data, (const uint4 *)up->data, n8);
        return ov_cuda_launched(be, op);
    }
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

/* Host ids (checked by ov_op_embedding_host): copied into stream-ordered scratch (a pageable copy is
 * staged before cudaMemcpyAsync returns, so ids may go away), then the gather; no sync. */
int ov_cuda_embedding_host(ov_backend *be, ov_tensor *y, const ov_tensor *table, const int32_t *ids, int64_t n)
{
    const char *op = "embedding";
    int rc = prologue(be, op, y);
    if (!rc)
        rc = ov_cuda_need_weight(op, table);
    if (rc)
        return rc;
    const int64_t D = table->shape[1];
    if (n == 0 || D == 0)
        return 0;
    int32_t *dids = NULL;
    if ((rc = ov_cuda_scratch(be, (size_t)n * sizeof *dids, (void **)&dids, op)))
        return rc;
    cudaStream_t st = ov_cuda_of(be)->stream;
    if ((rc = ov_cuda_check(be, cudaMemcpyAsync(dids, ids, (size_t)n * sizeof *dids, cudaMemcpyHostToDevice, st), op,
                            "cudaMemcpyAsync(ids)")))
        return rc;
    const float sc = table->scale != 0.0f ? table->scale : 1.0f;
    const int64_t m = n * D;
    k_embedding<<<ov_cu_blocks(m, THREADS), THREADS, 0, st>>>(y->data, y->dtype, table->data, table->dtype, sc, dids,
                                                              D, m);
    return ov_cuda_launched(be, op);
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
