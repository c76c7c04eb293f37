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
 * of latency asks on 132 SMs; 2..8 rows take 44..62 registers (4-5 blocks, 64-80 KiB).
 *
 * Fused epilogues (ov_op_linear_add, ov_op_linear_swiglu): the store adds a residual r[m, n] (r may
 * be y itself: each element is read and written by the same lane), or — the dual-matrix variant
 * (NW = 2) — the warp streams row n of W_gate and of W_up together (GV_UNROLL / 2 loads of each in
 * flight, so bytes in flight per lane stay the same), each x uint4 unpacked once for both dot
 * products, and stores SiLU(g)·u: llama.cpp's ggml-cuda mmv.cu does the same "fused gate" GLU.
 * It takes 1..2 rows (40 and 48 registers, no spills; 3..8 rows run as two GEMVs + SwiGLU: each
 * more row count would add ~23 KB of fat binary for rows that decode never has). */
#include <limits.h>
#include <stdint.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define GV_WARPS 8
#define GV_THREADS (GV_WARPS * 32)
#define GV_UNROLL 4       /* weight loads in flight per lane */
#define GV_MAX_ROWS 8     /* rows of x the kernel takes (more: cuBLAS) */
#define GV_MIN_BLOCKS 512 /* ~4 blocks per SM on a 132-SM H100 */
#ifndef GV_SWIGLU_MAX_ROWS
#define GV_SWIGLU_MAX_ROWS 2 /* rows the dual-matrix (SwiGLU) kernel takes; more: two GEMVs + SwiGLU */
#endif

struct gv_args {
    const uint4 *x;  /* M rows of K8 uint4 */
    const uint4 *w;  /* N rows of K8 uint4 (SwiGLU: W_gate) */
    const uint4 *w2; /* SwiGLU: W_up, N rows of K8 uint4; else NULL */
    void *y;         /* [M, N] of ydt */
    const void *b;   /* [N] of bdt, or NULL */
    const void *r;   /* residual [M, N] of ydt (may be y), or NULL */
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

/* acc[j][m] += W_j[n, 8i .. 8i+7] · x[m, 8i .. 8i+7] for every row m and each of the NW matrices
 * (one x load and unpack serves both). */
template <bool BF, int M, int NW>
__device__ __forceinline__ void gv_dot(float (&acc)[NW][M], const uint4 (&wv)[NW],
                                       const uint4 *__restrict__ x, int i, int K8)
{
    float wf[NW][8];
#pragma unroll
    for (int j = 0; j < NW; j++)
        gv_unpack<BF>(wv[j], wf[j]);
#pragma unroll
    for (int m = 0; m < M; m++) {
        float xf[8];
        gv_unpack<BF>(__ldg(x + m * K8 + i), xf);
#pragma unroll
        for (int j = 0; j < NW; j++) {
            float s = acc[j][m];
#pragma unroll
            for (int e = 0; e < 8; e++)
                s = fmaf(wf[j][e], xf[e], s);
            acc[j][m] = s;
        }
    }
}

template <bool BF, int M, int NW> __device__ __forceinline__ void gv_body(const gv_args &a)
{
    constexpr int U = GV_UNROLL / NW; /* loads of each matrix in flight */
    __shared__ float part[GV_WARPS][NW * M];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int slice = warp % a.wpr;
    const int n = (int)blockIdx.x * (GV_WARPS / a.wpr) + warp / a.wpr;
    float acc[NW][M];
#pragma unroll
    for (int j = 0; j < NW; j++)
#pragma unroll
        for (int m = 0; m < M; m++)
            acc[j][m] = 0.0f;
    if (n < a.N) {
        const uint4 *__restrict__ wr[NW];
        wr[0] = a.w + (int64_t)n * a.K8;
        if (NW > 1)
            wr[NW - 1] = a.w2 + (int64_t)n * a.K8;
        const int step = a.wpr * 32;
        int i = slice * 32 + lane;
        for (; i + (U - 1) * step < a.K8; i += U * step) {
            uint4 wv[U][NW];
#pragma unroll
            for (int u = 0; u < U; u++)
#pragma unroll
                for (int j = 0; j < NW; j++)
                    wv[u][j] = gv_ld_w(wr[j] + i + u * step);
#pragma unroll
            for (int u = 0; u < U; u++)
                gv_dot<BF, M, NW>(acc, wv[u], a.x, i + u * step, a.K8);
        }
        /* tail: fewer than U loads of each left, issued together (one round trip, not three) */
        if (U > 1) {
            uint4 wv[U > 1 ? U - 1 : 1][NW];
#pragma unroll
            for (int u = 0; u < U - 1; u++)
#pragma unroll
                for (int j = 0; j < NW; j++)
                    wv[u][j] =
                        i + u * step < a.K8 ? gv_ld_w(wr[j] + i + u * step) : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
            for (int u = 0; u < U - 1; u++)
                if (i + u * step < a.K8)
                    gv_dot<BF, M, NW>(acc, wv[u], a.x, i + u * step, a.K8);
        }
    }
#pragma unroll
    for (int j = 0; j < NW; j++)
#pragma unroll
        for (int m = 0; m < M; m++)
#pragma unroll
            for (int o = 16; o > 0; o >>= 1)
                acc[j][m] += __shfl_xor_sync(0xffffffffu, acc[j][m], o);
    if (a.wpr > 1) { /* block-uniform: every warp reaches the barrier */
        if (lane == 0)
#pragma unroll
            for (int j = 0; j < NW; j++)
#pragma unroll
                for (int m = 0; m < M; m++)
                    part[warp][j * M + m] = acc[j][m];
        __syncthreads();
        if (slice == 0)
#pragma unroll
            for (int j = 0; j < NW; j++)
#pragma unroll
                for (int m = 0; m < M; m++) {
                    float s = 0.0f;
                    for (int q = 0; q < a.wpr; q++)
                        s += part[warp + q][j * M + m];
                    acc[j][m] = s;
                }
    }
    if (slice == 0 && n < a.N && lane < M) {
        float v[NW];
#pragma unroll
        for (int j = 0; j < NW; j++) {
            v[j] = acc[j][0];
#pragma unroll
            for (int m = 1; m < M; m++)
                if (lane == m)
                    v[j] = acc[j][m];
        }
        const int64_t o = (int64_t)lane * a.N + n;
        float out;
        if (NW > 1) {
            out = v[0] / (1.0f + expf(-v[0])) * v[NW - 1]; /* SiLU(gate)·up, as k_swiglu */
        } else {
            out = v[0];
            if (a.b)
                out += ov_ld(a.b, a.bdt, n);
            if (a.r) /* read before the store: r may be y */
                out += ov_ld(a.r, a.ydt, o);
        }
        ov_st(a.y, a.ydt, o, out);
    }
}

/* One row (decode) needs 32 registers: 8 blocks (64 warps) per SM; the dual-matrix one 40 (6 blocks,
 * the same 64 B in flight per lane). More rows: the compiler's choice. */
template <bool BF, int NW> __global__ void __launch_bounds__(GV_THREADS, NW == 1 ? 8 : 6) k_gemv1(gv_args a)
{
    gv_body<BF, 1, NW>(a);
}

template <bool BF, int M, int NW> __global__ void __launch_bounds__(GV_THREADS) k_gemv(gv_args a)
{
    gv_body<BF, M, NW>(a);
}

template <bool BF, int NW> static void gv_launch(int M, unsigned blocks, cudaStream_t s, const gv_args &a)
{
    if constexpr (NW > 1) { /* the dual-matrix kernel exists for GV_SWIGLU_MAX_ROWS rows at most */
        switch (M) {
        case 1: k_gemv1<BF, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
#if GV_SWIGLU_MAX_ROWS >= 4
        case 3: k_gemv<BF, 3, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 4: k_gemv<BF, 4, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
#endif
        default: k_gemv<BF, 2, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        }
    } else {
        switch (M) {
        case 1: k_gemv1<BF, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 2: k_gemv<BF, 2, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 3: k_gemv<BF, 3, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 4: k_gemv<BF, 4, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 5: k_gemv<BF, 5, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 6: k_gemv<BF, 6, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        case 7: k_gemv<BF, 7, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        default: k_gemv<BF, 8, NW><<<blocks, GV_THREADS, 0, s>>>(a); break;
        }
    }
}

static int gv_float(int dt)
{
    return dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16;
}

int ov_cuda_gemv(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                 const ov_tensor *r, const ov_tensor *w_up)
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
    if (r && (r->dtype != y->dtype || !ov_tensor_is_contiguous(r) || ov_tensor_nelem(r) != M * N))
        return 1;
    if (w_up && (M > GV_SWIGLU_MAX_ROWS || b || r || w_up->dtype != dt || ov_cuda_scale_of(w_up) != 1.0f ||
                 w_up->ndim != 2 || w_up->shape[0] != N || w_up->shape[1] != K ||
                 !ov_tensor_is_contiguous(w_up) || ((uintptr_t)w_up->data & 15u)))
        return 1;
    gv_args a;
    a.x = (const uint4 *)x->data;
    a.w = (const uint4 *)w->data;
    a.w2 = w_up ? (const uint4 *)w_up->data : NULL;
    a.y = y->data;
    a.b = b ? b->data : NULL;
    a.r = r ? r->data : NULL;
    a.ydt = y->dtype;
    a.bdt = b ? b->dtype : OV_DTYPE_F32;
    a.N = (int)N;
    a.K8 = (int)(K / 8);
    a.wpr = 1;
    while (a.wpr < 4 && (N * a.wpr + GV_WARPS - 1) / GV_WARPS < GV_MIN_BLOCKS && a.K8 >= 2 * a.wpr * 32 * 2)
        a.wpr *= 2;
    const int rpb = GV_WARPS / a.wpr;
    const unsigned blocks = (unsigned)((N + rpb - 1) / rpb);
    if (w_up && dt == OV_DTYPE_BF16)
        gv_launch<true, 2>((int)M, blocks, c->stream, a);
    else if (w_up)
        gv_launch<false, 2>((int)M, blocks, c->stream, a);
    else if (dt == OV_DTYPE_BF16)
        gv_launch<true, 1>((int)M, blocks, c->stream, a);
    else
        gv_launch<false, 1>((int)M, blocks, c->stream, a);
    return ov_cuda_launched(be, w_up ? "linear_swiglu" : r ? "linear_add" : "linear");
}
