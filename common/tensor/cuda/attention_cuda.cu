/* CUDA fused attention (flash-attention style): K/V tiles in shared memory, online softmax in
 * f32, no Lq×Lk matrix. Causal, GQA, KV-cache offset and an optional additive f32 bias.
 *
 * This first version is the correctness baseline: one warp per query row, 8 rows per block,
 * 32-key tiles, CUDA-core FMAs (bf16/f16/f32 in, f32 accumulate). It is far from the H100 target.
 * TODO(perf, plan): FA2-class kernel on tensor cores — 128-row Q tile per block (4 warps × 16
 * rows... as FA2: each warp owns 16 query rows), K/V tiles of 64-128 keys staged with cp.async
 * (double buffer) in bf16 with a swizzled layout, S = Q·Kᵀ with mma.sync m16n8k16 bf16→f32,
 * online softmax on the accumulator fragments (exp2f with log2e folded into the scale), P
 * converted to bf16 in registers and P·V by mma.sync; causal tiles skipped wholesale, masking
 * only on the diagonal tile. Then FA3-class on Hopper: TMA loads + wgmma (m64nNk16) with a
 * producer warp group and 2 consumer warp groups ping-ponging softmax and GEMMs (~450 TFLOP/s at
 * D = 128). The entry and its tests stay the same; keep this kernel as the fallback for D > 128 (up to 512),
 * f32 inputs and the bias path. */
#include <math.h>

#include "common/tensor/cuda/cuda_device.cuh"

#define ROWS 8   /* query rows (warps) per block */
#define KT 32    /* keys per tile (one per lane) */
#define MAXD 512 /* head dims handled: up to 256 (8 per lane) or 512 (16 per lane; the SDXL VAE's
                  * single-head mid-block attention, C = 512) */

struct attn_args {
    ov_cu_view q, k, v, o, bias;
    int has_bias;
    int causal;
    int64_t qoff;
    float scale;
    int64_t group; /* Hq / Hkv */
};

template <int MD>
__global__ void __launch_bounds__(ROWS * 32) k_attn(attn_args a)
{
    extern __shared__ float smem[];
    const int64_t D = a.q.shape[3], Lq = a.q.shape[2], Lk = a.k.shape[2];
    const int64_t DP = D + 1; /* padded row: conflict-free column reads */
    float *ks = smem, *vs = ks + KT * DP, *qs = vs + KT * DP;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int64_t bi = blockIdx.z, h = blockIdx.y, hk = h / a.group;
    const int64_t q0 = (int64_t)blockIdx.x * ROWS, qi = q0 + warp;
    const int active = qi < Lq;

    const int64_t qb = bi * a.q.stride[0] + h * a.q.stride[1];
    const int64_t kb = bi * a.k.stride[0] + hk * a.k.stride[1];
    const int64_t vb = bi * a.v.stride[0] + hk * a.v.stride[1];
    for (int64_t d = lane; d < D; d += 32)
        qs[warp * DP + d] = active ? ov_ld(a.q.data, a.q.dtype, qb + qi * a.q.stride[2] + d) : 0.0f;
    int64_t bias_b = 0;
    if (a.has_bias)
        bias_b = (a.bias.shape[0] == 1 ? 0 : bi * a.bias.stride[0]) +
                 (a.bias.shape[1] == 1 ? 0 : h * a.bias.stride[1]);

    float acc[MD / 32];
#pragma unroll
    for (int i = 0; i < MD / 32; i++)
        acc[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    int64_t kend = Lk;
    if (a.causal) { /* last key any row of this block can see */
        int64_t last = a.qoff + (q0 + ROWS - 1 < Lq ? q0 + ROWS - 1 : Lq - 1) + 1;
        kend = last < Lk ? last : Lk;
    }
    for (int64_t k0 = 0; k0 < kend; k0 += KT) {
        __syncthreads(); /* previous tile consumed (and qs written) */
        for (int64_t e = threadIdx.x; e < KT * D; e += blockDim.x) {
            int64_t j = e / D, d = e % D, key = k0 + j;
            float kvk = 0.0f, kvv = 0.0f;
            if (key < Lk) {
                kvk = ov_ld(a.k.data, a.k.dtype, kb + key * a.k.stride[2] + d);
                kvv = ov_ld(a.v.data, a.v.dtype, vb + key * a.v.stride[2] + d);
            }
            ks[j * DP + d] = kvk;
            vs[j * DP + d] = kvv;
        }
        __syncthreads();
        if (!active)
            continue;
        const int64_t key = k0 + lane;
        float s = -INFINITY;
        if (key < Lk && (!a.causal || key <= a.qoff + qi)) {
            float dot = 0.0f;
            const float *qr = qs + warp * DP, *kr = ks + lane * DP;
            for (int64_t d = 0; d < D; d++)
                dot = fmaf(qr[d], kr[d], dot);
            s = dot * a.scale;
            if (a.has_bias)
                s += ov_ld(a.bias.data, OV_DTYPE_F32, bias_b + qi * a.bias.stride[2] + key);
        }
        float mt = s;
        for (int o = 16; o > 0; o >>= 1)
            mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, o));
        const float mn = fmaxf(m, mt);
        if (mn == -INFINITY)
            continue; /* everything so far masked */
        const float p = s == -INFINITY ? 0.0f : __expf(s - mn);
        const float corr = m == -INFINITY ? 0.0f : __expf(m - mn);
        float ps = p;
        for (int o = 16; o > 0; o >>= 1)
            ps += __shfl_xor_sync(0xffffffffu, ps, o);
        l = l * corr + ps;
        m = mn;
#pragma unroll
        for (int i = 0; i < MD / 32; i++)
            acc[i] *= corr;
        for (int j = 0; j < KT; j++) {
            const float pj = __shfl_sync(0xffffffffu, p, j);
            if (pj == 0.0f)
                continue;
            const float *vr = vs + j * DP;
#pragma unroll
            for (int i = 0; i < MD / 32; i++) {
                const int64_t d = lane + 32 * i;
                if (d < D)
                    acc[i] = fmaf(pj, vr[d], acc[i]);
            }
        }
    }
    if (!active)
        return;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const int64_t ob = bi * a.o.stride[0] + h * a.o.stride[1] + qi * a.o.stride[2];
#pragma unroll
    for (int i = 0; i < MD / 32; i++) {
        const int64_t d = lane + 32 * i;
        if (d < D)
            ov_st((void *)a.o.data, a.o.dtype, ob + d, acc[i] * inv);
    }
}

int ov_cuda_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                      const ov_tensor *v, const ov_attn_params *p)
{
    const char *op = "attention";
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, o, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, q, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, k, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, v, 0);
    if (rc)
        return rc;
    const int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    if (D > MAXD)
        return ov_tensor_fail(OV_EUNSUPP, "attention: head dim %lld of '%s' > %d not supported on CUDA",
                              (long long)D, q->name, MAXD);
    if (B == 0 || Hq == 0 || Lq == 0)
        return 0;
    ov_cuda *cp = ov_cuda_of(be);
    if (cp->prof) {
        const int64_t Lk = k->shape[2];
        /* q·kᵀ and p·v: 4·B·H·D per visible (query, key) pair; causal: query i sees off + i + 1 keys */
        const double off = (double)p->q_pos_offset, lq = (double)Lq;
        const double pairs = p->causal ? lq * off + lq * (lq + 1.0) / 2.0 : lq * (double)Lk;
        ov_cuda_prof_detail(cp, 4.0 * (double)B * (double)Hq * (double)D * pairs,
                            "B%lld H%lld/%lld Lq%lld Lk%lld D%lld %s%s %s", (long long)B, (long long)Hq,
                            (long long)k->shape[1], (long long)Lq, (long long)Lk, (long long)D,
                            p->causal ? "causal" : "full", p->bias ? "+bias" : "", ov_dtype_name(q->dtype));
    }
    rc = ov_cuda_decode_attention(be, o, q, k, v, p);
    if (rc <= 0)
        return rc; /* few query rows: ran (or failed) on the split-K decode kernel */
    rc = ov_cuda_flash_attention(be, o, q, k, v, p);
    if (rc <= 0)
        return rc; /* ran (or failed) on the tensor-core kernel */
    if (B > 65535 || Hq > 65535 || (Lq + ROWS - 1) / ROWS > 0x7fffffffLL)
        return ov_tensor_fail(OV_EUNSUPP, "attention: '%s' grid too large", q->name);
    attn_args a;
    a.q = ov_cu_view_of(q);
    a.k = ov_cu_view_of(k);
    a.v = ov_cu_view_of(v);
    a.o = ov_cu_view_of(o);
    a.o.data = o->data;
    a.has_bias = p->bias != NULL;
    if (a.has_bias)
        a.bias = ov_cu_view_of(p->bias);
    else
        a.bias = a.q;
    a.causal = p->causal;
    a.qoff = p->q_pos_offset;
    a.scale = p->scale;
    a.group = Hq / k->shape[1];
    /* K, V tiles and the query rows in f32: (2·32 + 8)·(D + 1)·4 bytes, 148 KB at D = 512 (Hopper
     * allows 227 KB per block) */
    size_t sm = (size_t)(2 * KT + ROWS) * (size_t)(D + 1) * sizeof(float);
    void (*kern)(attn_args) = D <= 256 ? k_attn<256> : k_attn<MAXD>;
    rc = ov_cuda_check(be, cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm), op,
                       "cudaFuncSetAttribute");
    if (rc)
        return rc;
    dim3 grid((unsigned)((Lq + ROWS - 1) / ROWS), (unsigned)Hq, (unsigned)B);
    kern<<<grid, ROWS * 32, sm, ov_cuda_of(be)->stream>>>(a);
    return ov_cuda_launched(be, op);
}
