/* Decode-time GEMV for ov_cuda_linear: y[m, n] = Σ_k x[m, k]·W[n, k] (+ b[n]) for 1..8 rows of x
 * (LLM decode), where cublasGemmEx reaches ~2.4 TB/s of weights on an H100 and the bias costs a
 * second launch. Same scheme as llama.cpp's ggml/src/ggml-cuda/mmv.cu (warps stream a weight row
 * with 16-byte loads, warp-shuffle reduction); numerics as the cuBLAS path (CUBLAS_COMPUTE_32F):
 * products and sums in f32, the bias added in f32, the output rounded once (round to nearest).
 *
 * Layout: 256-thread blocks of 8 warps; `wpr` warps (1, 2 or 4) share one output feature n, so a
 * block covers 8 / wpr features. Lane l of slice s reads uint4 (8 halves) number
 * i = s·32 + l + j·wpr·32 of W's row n, GV_UNROLL loads issued before their FMAs (the last < GV_UNROLL
 * predicated, also together), and the matching
 * uint4 of each x row through the read-only cache (x is at most 8·K·2 bytes and stays in L1/L2).
 * Each lane keeps one f32 sum per row m; the warp reduces them with shuffles, slices meet in
 * shared memory, and lanes m < M of the first warp add the bias and store y[m, n]. wpr grows
 * (small N: k/v projections) until the grid has >= GV_MIN_BLOCKS blocks, as long as every lane
 * still gets >= 2 loads. Index math is 32-bit (checked on the host) except the row base n·K.
 * In flight: one row takes 32 registers (k_gemv1), so 8 blocks = 64 warps per SM, each lane with
 * 4 x 16 B outstanding: up to 128 KiB per SM, against the ~20 KiB per SM that 3.35 TB/s x ~0.8 us
 * of latency asks on 132 SMs; 2..8 rows take 44..62 registers (4-5 blocks, 64-80 KiB). */
#include <limits.h>
#include <stdint.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define GV_WARPS 8
#define GV_THREADS (GV_WARPS * 32)
#define GV_UNROLL 4       /* weight loads in flight per lane */
#define GV_MAX_ROWS 8     /* rows of x the kernel takes (more: cuBLAS) */
#define GV_MIN_BLOCKS 512 /* ~4 blocks per SM on a 132-SM H100 */

struct gv_args {
    const uint4 *x; /* M rows of K8 uint4 */
    const uint4 *w; /* N rows of K8 uint4 */
    void *y;        /* [M, N] of ydt */
    const void *b;  /* [N] of bdt, or NULL */
    int ydt, bdt;
    int N, K8, wpr;
};

/* Weights are read once: bypass L1 so x stays there. */
__device__ __forceinline__ uint4 gv_ld_w(const uint4 *p)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
        : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
        : "l"(p));
    return r;
#else
    return __ldg(p);
#endif
}

template <bool BF> __device__ __forceinline__ void gv_unpack(const uint4 &v, float (&f)[8])
{
    const float2 a = ov_unpack2<BF>(v.x), b = ov_unpack2<BF>(v.y), c = ov_unpack2<BF>(v.z),
                 d = ov_unpack2<BF>(v.w);
    f[0] = a.x;
    f[1] = a.y;
    f[2] = b.x;
    f[3] = b.y;
    f[4] = c.x;
    f[5] = c.y;
    f[6] = d.x;
    f[7] = d.y;
}

/* acc[m] += W[n, 8i .. 8i+7] · x[m, 8i .. 8i+7] for every row m. */
template <bool BF, int M>
__device__ __forceinline__ void gv_dot(float (&acc)[M], const uint4 &wv, const uint4 *__restrict__ x, int i,
                                       int K8)
{
    float wf[8];
    gv_unpack<BF>(wv, wf);
#pragma unroll
    for (int m = 0; m < M; m++) {
        float xf[8];
        gv_unpack<BF>(__ldg(x + m * K8 + i), xf);
        float s = acc[m];
#pragma unroll
        for (int j = 0; j < 8; j++)
            s = fmaf(wf[j], xf[j], s);
        acc[m] = s;
    }
}

template <bool BF, int M> __device__ __forceinline__ void gv_body(const gv_args &a)
{
    __shared__ float part[GV_WARPS][M];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int slice = warp % a.wpr;
    const int n = (int)blockIdx.x * (GV_WARPS / a.wpr) + warp / a.wpr;
    float acc[M];
#pragma unroll
    for (int m = 0; m < M; m++)
        acc[m] = 0.0f;
    if (n < a.N) {
        const uint4 *__restrict__ wr = a.w + (int64_t)n * a.K8;
        const int step = a.wpr * 32;
        int i = slice * 32 + lane;
        for (; i + (GV_UNROLL - 1) * step < a.K8; i += GV_UNROLL * step) {
            uint4 wv[GV_UNROLL];
#pragma unroll
            for (int u = 0; u < GV_UNROLL; u++)
                wv[u] = gv_ld_w(wr + i + u * step);
#pragma unroll
            for (int u = 0; u < GV_UNROLL; u++)
                gv_dot<BF, M>(acc, wv[u], a.x, i + u * step, a.K8);
        }
        /* tail: fewer than GV_UNROLL loads left, issued together (one round trip, not three) */
        uint4 wv[GV_UNROLL - 1];
#pragma unroll
        for (int u = 0; u < GV_UNROLL - 1; u++)
            wv[u] = i + u * step < a.K8 ? gv_ld_w(wr + i + u * step) : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
        for (int u = 0; u < GV_UNROLL - 1; u++)
            if (i + u * step < a.K8)
                gv_dot<BF, M>(acc, wv[u], a.x, i + u * step, a.K8);
    }
#pragma unroll
    for (int m = 0; m < M; m++)
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
            acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], o);
    if (a.wpr > 1) { /* block-uniform: every warp reaches the barrier */
        if (lane == 0)
#pragma unroll
            for (int m = 0; m < M; m++)
                part[warp][m] = acc[m];
        __syncthreads();
        if (slice == 0)
#pragma unroll
            for (int m = 0; m < M; m++) {
                float s = 0.0f;
                for (int j = 0; j < a.wpr; j++)
                    s += part[warp + j][m];
                acc[m] = s;
            }
    }
    if (slice == 0 && n < a.N && lane < M) {
        float v = acc[0];
#pragma unroll
        for (int m = 1; m < M; m++)
            if (lane == m)
                v = acc[m];
        if (a.b)
            v += ov_ld(a.b, a.bdt, n);
        ov_st(a.y, a.ydt, (int64_t)lane * a.N + n, v);
    }
}

/* One row (decode) needs 32 registers: 8 blocks (64 warps) per SM. More rows: the compiler's choice. */
template <bool BF> __global__ void __launch_bounds__(GV_THREADS, 8) k_gemv1(gv_args a)
{
    gv_body<BF, 1>(a);
}

template <bool BF, int M> __global__ void __launch_bounds__(GV_THREADS) k_gemv(gv_args a)
{
    gv_body<BF, M>(a);
}

template <bool BF> static void gv_launch(int M, unsigned blocks, cudaStream_t s, const gv_args &a)
{
    switch (M) {
    case 1: k_gemv1<BF><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 2: k_gemv<BF, 2><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 3: k_gemv<BF, 3><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 4: k_gemv<BF, 4><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 5: k_gemv<BF, 5><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 6: k_gemv<BF, 6><<<blocks, GV_THREADS, 0, s>>>(a); break;
    case 7: k_gemv<BF, 7><<<blocks, GV_THREADS, 0, s>>>(a); break;
    default: k_gemv<BF, 8><<<blocks, GV_THREADS, 0, s>>>(a); break;
    }
}

static int gv_float(int dt)
{
    return dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16;
}

int ov_cuda_gemv(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    ov_cuda *c = ov_cuda_of(be);
    const int dt = x->dtype;
    if (!c->gemv || (dt != OV_DTYPE_BF16 && dt != OV_DTYPE_F16) || w->dtype != dt ||
        ov_cuda_scale_of(w) != 1.0f || (y->dtype != dt && y->dtype != OV_DTYPE_F32))
        return 1;
    if (w->ndim != 2 || !ov_tensor_is_contiguous(w) || !ov_tensor_is_contiguous(y) || x->ndim < 1)
        return 1;
    const int64_t N = w->shape[0], K = w->shape[1];
    if (N < 1 || K < 8 || K % 8 != 0)
        return 1;
    const int64_t M = ov_tensor_nelem(x) / K;
    if (M < 1 || M > GV_MAX_ROWS || M * K != ov_tensor_nelem(x) || ov_tensor_nelem(y) != M * N)
        return 1;
    /* rows back to back (one row: only its own elements need be contiguous) */
    if (x->stride[x->ndim - 1] != 1 || (M > 1 && !ov_tensor_is_contiguous(x)))
        return 1;
    if ((((uintptr_t)x->data) | ((uintptr_t)w->data)) & 15u)
        return 1;
    if (N > INT_MAX - GV_WARPS || M * N > INT_MAX || M * K > INT_MAX)
        return 1;
    if (b && (!gv_float(b->dtype) || !ov_tensor_is_contiguous(b) || ov_tensor_nelem(b) != N))
        return 1;
    gv_args a;
    a.x = (const uint4 *)x->data;
    a.w = (const uint4 *)w->data;
    a.y = y->data;
    a.b = b ? b->data : NULL;
    a.ydt = y->dtype;
    a.bdt = b ? b->dtype : OV_DTYPE_F32;
    a.N = (int)N;
    a.K8 = (int)(K / 8);
    a.wpr = 1;
    while (a.wpr < 4 && (N * a.wpr + GV_WARPS - 1) / GV_WARPS < GV_MIN_BLOCKS && a.K8 >= 2 * a.wpr * 32 * 2)
        a.wpr *= 2;
    const int rpb = GV_WARPS / a.wpr;
    const unsigned blocks = (unsigned)((N + rpb - 1) / rpb);
    if (dt == OV_DTYPE_BF16)
        gv_launch<true>((int)M, blocks, c->stream, a);
    else
        gv_launch<false>((int)M, blocks, c->stream, a);
    return ov_cuda_launched(be, "linear");
}
