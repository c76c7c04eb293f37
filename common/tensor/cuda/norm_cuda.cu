/* CUDA normalisations and softmax: one block per row/group, statistics in f32 (two passes). */
#include <math.h>

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/gemm_plan.h"

#define THREADS 256

struct vec_arg {
    const void *p; /* NULL: none */
    int dt;
};

static vec_arg vec_of(const ov_tensor *t)
{
    vec_arg v;
    v.p = t ? t->data : NULL;
    v.dt = t ? t->dtype : 0;
    return v;
}

__device__ __forceinline__ float vec_ld(vec_arg v, int64_t i, float dflt)
{
    return v.p ? ov_ld(v.p, v.dt, i) : dflt;
}

static int prologue(ov_backend *be, const char *op, const ov_tensor *y, const ov_tensor *x,
                    const ov_tensor *g, const ov_tensor *b)
{
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, g, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    return rc;
}

/* mode 0: layer norm, 1: rms norm */
__global__ void k_rownorm(void *y, int ydt, const void *x, int xdt, vec_arg g, vec_arg b, int64_t C,
                          float eps, int mode)
{
    __shared__ float sh[32];
    const int64_t row = blockIdx.x;
    const int64_t base = row * C;
    float mean = 0.0f;
    if (mode == 0) {
        float s = 0.0f;
#pragma unroll 4
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
            s += ov_ld(x, xdt, base + c);
        mean = ov_block_sum(s, sh) / (float)C;
    }
    float s2 = 0.0f;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float d = ov_ld(x, xdt, base + c) - mean;
        s2 += d * d;
    }
    float inv = rsqrtf(ov_block_sum(s2, sh) / (float)C + eps);
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float v = (ov_ld(x, xdt, base + c) - mean) * inv * vec_ld(g, c, 1.0f) + vec_ld(b, c, 0.0f);
        ov_st(y, ydt, base + c, v);
    }
}

/* Many rows of at most 32·E values (SDXL's layer norms: 49,152 rows of 640): one warp per row,
 * the row read once into registers (E per lane, constant indices), shuffles only; mean and
 * variance in two register passes as above. The block-per-row kernel read each row three times
 * with two block barriers per pass (an H100 took 111 µs for [49152, 640] bf16, ~40 µs of traffic).
 * Templated on x's and y's dtype DT (ov_ld/ov_st's switch folds away) and taking gamma/beta as f32
 * (or NULL): with a runtime dtype switch per unrolled element, five buckets cost 5 MB of code. */
template <int E, int DT>
__global__ void __launch_bounds__(256) k_rownorm_warp(void *y, const void *x, const float *g, const float *b,
                                                     int C, int64_t rows, float eps, int mode)
{
    const int lane = threadIdx.x % 32;
    const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows)
        return;
    const int64_t base = row * C;
    float v[E];
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < E; i++) {
        const int c = lane + 32 * i;
        v[i] = c < C ? ov_ld(x, DT, base + c) : 0.0f;
        s += v[i];
    }
    float mean = 0.0f;
    if (mode == 0) {
        for (int o = 16; o > 0; o >>= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        mean = s / (float)C;
    }
    float s2 = 0.0f;
#pragma unroll
    for (int i = 0; i < E; i++) {
        const float d = lane + 32 * i < C ? v[i] - mean : 0.0f;
        s2 += d * d;
    }
    for (int o = 16; o > 0; o >>= 1)
        s2 += __shfl_xor_sync(0xffffffffu, s2, o);
    const float inv = rsqrtf(s2 / (float)C + eps);
#pragma unroll
    for (int i = 0; i < E; i++) {
        const int c = lane + 32 * i;
        if (c < C)
            ov_st(y, DT, base + c, (v[i] - mean) * inv * (g ? g[c] : 1.0f) + (b ? b[c] : 0.0f));
    }
}

/* The warp kernel for C <= 1536 (E 48: a 64-value bucket spilled registers) when x and y share an
 * f32/f16/bf16 dtype and gamma/beta are f32 or absent: 0 launched, 1 not its case. */
template <int DT>
static int rownorm_warp_dt(cudaStream_t st, ov_tensor *y, const ov_tensor *x, const float *g, const float *b,
                           int64_t rows, int C, float eps, int mode)
{
    const unsigned blocks = (unsigned)((rows + 7) / 8);
    if (C <= 256)
        k_rownorm_warp<8, DT><<<blocks, 256, 0, st>>>(y->data, x->data, g, b, C, rows, eps, mode);
    else if (C <= 512)
        k_rownorm_warp<16, DT><<<blocks, 256, 0, st>>>(y->data, x->data, g, b, C, rows, eps, mode);
    else if (C <= 1024)
        k_rownorm_warp<32, DT><<<blocks, 256, 0, st>>>(y->data, x->data, g, b, C, rows, eps, mode);
    else
        k_rownorm_warp<48, DT><<<blocks, 256, 0, st>>>(y->data, x->data, g, b, C, rows, eps, mode);
    return 0;
}

static int rownorm_warp(cudaStream_t st, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                        const ov_tensor *beta, int64_t rows, int64_t C, float eps, int mode)
{
    if (rows < 1024 || C > 1536 || x->dtype != y->dtype || (gamma && gamma->dtype != OV_DTYPE_F32) ||
        (beta && beta->dtype != OV_DTYPE_F32))
        return 1;
    const float *g = gamma ? (const float *)gamma->data : NULL, *b = beta ? (const float *)beta->data : NULL;
    switch (x->dtype) {
    case OV_DTYPE_F32: return rownorm_warp_dt<OV_DTYPE_F32>(st, y, x, g, b, rows, (int)C, eps, mode);
    case OV_DTYPE_F16: return rownorm_warp_dt<OV_DTYPE_F16>(st, y, x, g, b, rows, (int)C, eps, mode);
    case OV_DTYPE_BF16: return rownorm_warp_dt<OV_DTYPE_BF16>(st, y, x, g, b, rows, (int)C, eps, mode);
    default: return 1;
    }
}

static int rownorm(ov_backend *be, const char *op, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                   const ov_tensor *beta, float eps, int mode)
{
    int rc = prologue(be, op, y, x, gamma, beta);
    if (rc)
        return rc;
    int64_t C = x->shape[x->ndim - 1], rows = C ? ov_tensor_nelem(x) / C : 0;
    if (rows == 0)
        return 0;
    if (rows > 0x7fffffffLL)
        return ov_tensor_fail(OV_EUNSUPP, "%s: %lld rows is too many for one launch", op, (long long)rows);
    if (rownorm_warp(ov_cuda_of(be)->stream, y, x, gamma, beta, rows, C, eps, mode) == 0)
        return ov_cuda_launched(be, op);
    /* Few rows (LLM decode: one row of 3584): the row's load latency is the whole cost, so more
     * threads per row, ~4 elements each (the H100 took 15 µs per decode rms_norm with 256) */
    int threads = THREADS;
    if (rows < 512) {
        const int64_t want = (C + 3) / 4;
        threads = want >= 1024 ? 1024 : want <= 32 ? 32 : (int)((want + 31) / 32 * 32);
    }
    k_rownorm<<<(unsigned)rows, threads, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, x->data, x->dtype, vec_of(gamma), vec_of(beta), C, eps, mode);
    return ov_cuda_launched(be, op);
}

int ov_cuda_layer_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                       const ov_tensor *beta, float eps)
{
    return rownorm(be, "layer_norm", y, x, gamma, beta, eps, 0);
}

int ov_cuda_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps)
{
    return rownorm(be, "rms_norm", y, x, gamma, NULL, eps, 1);
}

/* One block per (n, group): the group's elements are contiguous (C/groups · S). */
/* act 1: SiLU on the normalised value before the store (ov_op_group_norm_silu). */
__device__ __forceinline__ float gn_act(float v, int act)
{
    return act ? v / (1.0f + expf(-v)) : v;
}

__global__ void __launch_bounds__(1024) k_groupnorm(void *y, int ydt, const void *x, int xdt, vec_arg g,
                                                    vec_arg b, int64_t C, int groups, int64_t S, float eps, int act)
{
    __shared__ float sh[32];
    const int64_t ng = blockIdx.x, n = ng / groups, gi = ng % groups;
    const int64_t cpg = C / groups, cnt = cpg * S;
    const int64_t base = (n * C + gi * cpg) * S;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x)
        s += ov_ld(x, xdt, base + i);
    float mean = ov_block_sum(s, sh) / (float)cnt;
    float s2 = 0.0f;
    for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        float d = ov_ld(x, xdt, base + i) - mean;
        s2 += d * d;
    }
    float inv = rsqrtf(ov_block_sum(s2, sh) / (float)cnt + eps);
    /* channel by channel: no division per element */
    for (int64_t cc = 0; cc < cpg; cc++) {
        const int64_t c = gi * cpg + cc, cb = base + cc * S;
        const float gs = vec_ld(g, c, 1.0f) * inv, bb = vec_ld(b, c, 0.0f);
        for (int64_t i = threadIdx.x; i < S; i += blockDim.x)
            ov_st(y, ydt, cb + i, gn_act((ov_ld(x, xdt, cb + i) - mean) * gs + bb, act));
    }
}

/* Split path for few, large groups (the VAE: one image, 32 groups of up to 8 M elements, where one
 * block per group left three quarters of the SMs idle): PARTS blocks per group each reduce a
 * chunk to (mean, M2) with two passes over it, k_gn_merge combines them per group (Chan et al.'s
 * pairwise formula: no sum-of-squares cancellation), k_gn_apply normalises every element. */
#define GN_PARTS OV_GN_PARTS

__global__ void __launch_bounds__(THREADS) k_gn_partial(float *part /* [NG][PARTS][2] */, const void *x, int xdt,
                                                        int64_t cnt)
{
    __shared__ float sh[32];
    const int64_t ng = blockIdx.x;
    int64_t lo, hi;
    ov_gn_part_range(cnt, (int)blockIdx.y, &lo, &hi);
    const int64_t base = ng * cnt, pi = blockIdx.y;
    float s = 0.0f;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x)
        s += ov_ld(x, xdt, base + i);
    const float n = hi > lo ? (float)(hi - lo) : 0.0f;
    const float mean = n > 0.0f ? ov_block_sum(s, sh) / n : 0.0f;
    float s2 = 0.0f;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float d = ov_ld(x, xdt, base + i) - mean;
        s2 += d * d;
    }
    const float m2 = n > 0.0f ? ov_block_sum(s2, sh) : 0.0f;
    if (threadIdx.x == 0) {
        part[(ng * GN_PARTS + pi) * 2] = mean;
        part[(ng * GN_PARTS + pi) * 2 + 1] = m2;
    }
}

/* One thread per group: merge the parts (sizes from the same chunking) into mean and 1/σ. */
__global__ void k_gn_merge(float *stat /* [NG][2] */, const float *part, int64_t cnt, int64_t ngroups, float eps)
{
    const int64_t ng = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (ng >= ngroups)
        return;
    double mean, var;
    ov_gn_merge(part + ng * GN_PARTS * 2, cnt, &mean, &var);
    stat[ng * 2] = (float)mean;
    stat[ng * 2 + 1] = rsqrtf((float)var + eps);
}

__global__ void k_gn_apply(void *y, int ydt, const void *x, int xdt, const float *stat, vec_arg g, vec_arg b,
                           int64_t C, int groups, int64_t S, int64_t n, int act)
{
    const int64_t cpg = C / groups;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = (i / S) % C, ng = (i / S) / C * groups + c / cpg;
        float v = (ov_ld(x, xdt, i) - stat[ng * 2]) * stat[ng * 2 + 1] * vec_ld(g, c, 1.0f) + vec_ld(b, c, 0.0f);
        ov_st(y, ydt, i, gn_act(v, act));
    }
}

/* The same with multiply-high divisions (n < 2^31): q = i / S is (sample, channel). */
__global__ void k_gn_apply32(void *y, int ydt, const void *x, int xdt, const float *stat, vec_arg g, vec_arg b,
                             ov_fdiv dS, ov_fdiv dC, uint32_t cpg, uint32_t groups, uint32_t n, int act)
{
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        const uint32_t q = ov_fdiv_q(dS, i), nb = ov_fdiv_q(dC, q), c = q - nb * dC.d;
        const uint32_t ng = nb * groups + c / cpg;
        const float gs = vec_ld(g, c, 1.0f) * stat[ng * 2 + 1];
        ov_st(y, ydt, i, gn_act((ov_ld(x, xdt, i) - stat[ng * 2]) * gs + vec_ld(b, c, 0.0f), act));
    }
}

/* The split path when few groups would leave SMs idle and each group is big (the backend's
 * gn_split, from $OURVIDZ_CUDA_GN_SPLIT at open, forces it off / on). */
static int gn_split(const ov_cuda *c, int64_t ngroups, int64_t cnt)
{
    if (c->gn_split >= 0)
        return c->gn_split;
    return ngroups < 256 && cnt >= ((int64_t)1 << 16);
}

static int group_norm_act(ov_backend *be, const char *op, ov_tensor *y, const ov_tensor *x, int groups,
                          const ov_tensor *gamma, const ov_tensor *beta, float eps, int act)
{
    int rc = prologue(be, op, y, x, gamma, beta);
    if (rc)
        return rc;
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int i = 2; i < x->ndim; i++)
        S *= x->shape[i];
    if (N * groups == 0 || C * S == 0)
        return 0;
    const int64_t NG = N * groups, cnt = C / groups * S;
    if (gn_split(ov_cuda_of(be), NG, cnt) && NG <= 65535) {
        float *scr = NULL;
        rc = ov_cuda_scratch(be, (size_t)NG * (GN_PARTS * 2 + 2) * sizeof(float), (void **)&scr, op);
        if (rc)
            return rc;
        float *part = scr, *stat = scr + NG * GN_PARTS * 2;
        cudaStream_t st = ov_cuda_of(be)->stream;
        k_gn_partial<<<dim3((unsigned)NG, GN_PARTS), THREADS, 0, st>>>(part, x->data, x->dtype, cnt);
        if ((rc = ov_cuda_launched(be, op)))
            return rc;
        k_gn_merge<<<(unsigned)((NG + 127) / 128), 128, 0, st>>>(stat, part, cnt, NG, eps);
        if ((rc = ov_cuda_launched(be, op)))
            return rc;
        const int64_t n = N * C * S;
        if (n < ((int64_t)1 << 31))
            k_gn_apply32<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(
                y->data, y->dtype, x->data, x->dtype, stat, vec_of(gamma), vec_of(beta), ov_fdiv_make((uint32_t)S),
                ov_fdiv_make((uint32_t)C), (uint32_t)(C / groups), (uint32_t)groups, (uint32_t)n, act);
        else
            k_gn_apply<<<ov_cu_blocks(n, THREADS), THREADS, 0, st>>>(
                y->data, y->dtype, x->data, x->dtype, stat, vec_of(gamma), vec_of(beta), C, groups, S, n, act);
        return ov_cuda_launched(be, op);
    }
    k_groupnorm<<<(unsigned)(N * groups), 1024, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, x->data, x->dtype, vec_of(gamma), vec_of(beta), C, groups, S, eps, act);
    return ov_cuda_launched(be, op);
}

int ov_cuda_group_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                       const ov_tensor *beta, float eps)
{
    return group_norm_act(be, "group_norm", y, x, groups, gamma, beta, eps, 0);
}

int ov_cuda_group_norm_silu(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                            const ov_tensor *beta, float eps)
{
    return group_norm_act(be, "group_norm_silu", y, x, groups, gamma, beta, eps, 1);
}

/* One thread per (n, position): sum of squares over C (stride S), coalesced across positions. */
__global__ void k_chrms(void *y, int ydt, const void *x, int xdt, vec_arg g, int64_t C, int64_t S, float eps,
                        int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t nn = i / S, s = i % S, base = nn * C * S + s;
        float ss = 0.0f;
        for (int64_t c = 0; c < C; c++) {
            float v = ov_ld(x, xdt, base + c * S);
            ss += v * v;
        }
        float inv = sqrtf((float)C) / fmaxf(sqrtf(ss), eps);
        for (int64_t c = 0; c < C; c++)
            ov_st(y, ydt, base + c * S, ov_ld(x, xdt, base + c * S) * inv * vec_ld(g, c, 1.0f));
    }
}

int ov_cuda_channel_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                             float eps)
{
    const char *op = "channel_rms_norm";
    int rc = prologue(be, op, y, x, gamma, NULL);
    if (rc)
        return rc;
    int64_t N = x->shape[0], C = x->shape[1], S = 1;
    for (int i = 2; i < x->ndim; i++)
        S *= x->shape[i];
    int64_t n = N * S;
    if (n == 0 || C == 0)
        return 0;
    k_chrms<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(
        y->data, y->dtype, x->data, x->dtype, vec_of(gamma), C, S, eps, n);
    return ov_cuda_launched(be, op);
}

/* ---- softmax over the last dim of x·scale ---- */

__global__ void k_softmax(void *y, int ydt, const void *x, int xdt, int64_t C, float scale)
{
    __shared__ float sh[32];
    const int64_t base = (int64_t)blockIdx.x * C;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
        m = fmaxf(m, ov_ld(x, xdt, base + c) * scale);
    m = ov_block_max(m, sh);
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
        s += m == -INFINITY ? 0.0f : expf(ov_ld(x, xdt, base + c) * scale - m);
    s = ov_block_sum(s, sh);
    float inv = s > 0.0f ? 1.0f / s : 0.0f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float e = m == -INFINITY ? 0.0f : expf(ov_ld(x, xdt, base + c) * scale - m);
        ov_st(y, ydt, base + c, e * inv);
    }
}

int ov_cuda_softmax(ov_backend *be, ov_tensor *y, const ov_tensor *x, float scale)
{
    const char *op = "softmax";
    int rc = prologue(be, op, y, x, NULL, NULL);
    if (rc)
        return rc;
    int64_t C = x->shape[x->ndim - 1], rows = C ? ov_tensor_nelem(x) / C : 0;
    if (rows == 0)
        return 0;
    if (rows > 0x7fffffffLL)
        return ov_tensor_fail(OV_EUNSUPP, "%s: %lld rows is too many for one launch", op, (long long)rows);
    k_softmax<<<(unsigned)rows, THREADS, 0, ov_cuda_of(be)->stream>>>(y->data, y->dtype, x->data, x->dtype, C,
                                                                      scale);
    return ov_cuda_launched(be, op);
}
