/* CUDA decode attention (flash-decoding, split-K: Dao, Haziza, Massa, Sizov 2023 "Flash-Decoding
 * for long-context inference"; the split/combine scheme of FlashAttention's
 * flash_fwd_splitkv_kernel + flash_fwd_splitkv_combine_kernel) for few query rows: Lq <= 8 (LLM
 * decode and tiny chunks), no bias, head dim <= 256 with D % 8 == 0, q/k/v/o all f32, f16 or bf16.
 *
 * The FA2 kernel (flash_attn_cuda.cu) and the general one (attention_cuda.cu) give one CTA per
 * (query tile, head): at decode that is Hq CTAs (28 for Qwen2.5-7B) each walking the whole KV
 * cache. Here the keys are split instead: grid (key split, kv head x row group, batch). A CTA
 * stages 64-key K/V tiles of its split for ONE kv head in shared memory (16-byte cp.async, the
 * whole tile and the q rows in flight together: one memory latency per tile) and its 4
 * warps compute every query row of that GQA group (Hq/Hkv heads x Lq rows, up to 16 per CTA)
 * against them: scores in f32 (one key per lane), the split's running max m (log2 domain), sum l
 * and unnormalised P·V acc[D]. With one split the CTA writes o directly; otherwise (m, l, acc) go
 * to the backend scratch and k_decode_combine rescales the splits per (b, h, row):
 * o = Σ_s 2^(m_s − M)·acc_s / Σ_s 2^(m_s − M)·l_s, M = max_s m_s.
 *
 * Semantics are the general kernel's: query head h reads kv head h / (Hq/Hkv), causal row i sees
 * keys <= q_pos_offset + i, a split with no visible key for a row gives m = −inf (weight 0) and a
 * row with no visible key at all gives zeros.
 *
 * Splits: 2 CTAs per SM over the grid, each split a multiple of 32 keys (>= 32). Qwen2.5-7B decode
 * (Hkv 4, one row group of 7 rows) on 132 SMs: Lk 500 -> 16 splits of 32 keys, 64 CTAs; Lk 2000 ->
 * 63 splits of 32, 252 CTAs. bench_ops_cuda on an H200 (2026-11-27, µs per call incl. launches):
 * Lk 512 13.0 (25.7 with this kernel off), Lk 2048 16.1 (88.6). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <type_traits>

#include "common/tensor/cuda/cuda_device.cuh"

#define DA_TK 64               /* keys per shared-memory tile (two per lane) */
#define DA_NW 4                /* warps per CTA */
#define DA_RB 16               /* query rows (GQA heads x Lq) per CTA */
#define DA_RPW (DA_RB / DA_NW) /* row slots per warp */
#define DA_SPLIT_MIN 32        /* keys per split at least (one per lane) */
#define DA_MAX_LQ 8
#define DA_MAX_D 256

struct da_args {
    const void *q, *k, *v;
    void *o;
    float *part_acc; /* [rows][nsplit][D]: unnormalised P·V per split (rows = (b·Hq + h)·Lq + i) */
    float *part_ml;  /* [rows][nsplit][2]: running max (log2 domain) and sum */
    int64_t qs0, qs1, qs2, ks0, ks1, ks2, vs0, vs1, vs2, os0, os1, os2; /* element strides */
    int64_t qoff;
    int D, Lq, Hq, G, nrg, nsplit, split_len, kend, causal, vec, odt;
    float scale_log2; /* scale · log2(e): softmax in exp2 */
};

/* Two 16-bit values packed in w (the lower element in the low half) as floats. */
template <int DT> __device__ __forceinline__ void da_2f(uint32_t w, float &lo, float &hi)
{
    const float2 f = ov_unpack2<DT == OV_DTYPE_BF16>(w);
    lo = f.x;
    hi = f.y;
}

/* Eight consecutive elements at 16-byte aligned shared memory p. */
template <int DT> __device__ __forceinline__ void da_ld8(const unsigned char *p, float (&x)[8])
{
    if (DT == OV_DTYPE_F32) {
        const float4 a = ((const float4 *)p)[0], b = ((const float4 *)p)[1];
        x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
        x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
    } else {
        const uint4 u = *(const uint4 *)p;
        da_2f<DT>(u.x, x[0], x[1]);
        da_2f<DT>(u.y, x[2], x[3]);
        da_2f<DT>(u.z, x[4], x[5]);
        da_2f<DT>(u.w, x[6], x[7]);
    }
}

/* Two consecutive elements at (element-pair aligned) shared memory p. */
template <int DT> __device__ __forceinline__ void da_ld2(const unsigned char *p, float &a, float &b)
{
    if (DT == OV_DTYPE_F32) {
        const float2 f = *(const float2 *)p;
        a = f.x;
        b = f.y;
    } else {
        da_2f<DT>(*(const uint32_t *)p, a, b);
    }
}

__device__ __forceinline__ void da_cp_wait_all(void)
{
    asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::);
}

/* Issue the loads of tile rows [0, n) (keys k0..k0 + n − 1); rows past n are never used (their
 * scores are masked, P·V stops at n). vec: 16-byte asynchronous copies (base and row strides
 * 16-byte aligned, checked by the host), completed by da_cp_wait_all; else element copies,
 * batched 8 per thread so their latencies overlap. */
template <int ES>
__device__ __forceinline__ void da_load_tile(unsigned char *dst, const unsigned char *src, int64_t rstride,
                                             int k0, int n, int D, int pitch, int vec)
{
    if (vec) {
        const int ch = D * ES / 16;
        for (int e = threadIdx.x; e < n * ch; e += blockDim.x) {
            const int j = e / ch, c = e % ch;
            ov_cp_async16(dst + j * pitch + c * 16, src + ((int64_t)(k0 + j) * rstride) * ES + c * 16, 16);
        }
        return;
    }
    typedef typename std::conditional<ES == 4, uint32_t, uint16_t>::type el;
    const int ne = n * D;
    for (int e0 = threadIdx.x; e0 < ne; e0 += 8 * blockDim.x) {
        el x[8];
#pragma unroll
        for (int u = 0; u < 8; u++) {
            const int e = e0 + u * (int)blockDim.x;
            x[u] = e < ne ? ((const el *)src)[(int64_t)(k0 + e / D) * rstride + e % D] : (el)0;
        }
#pragma unroll
        for (int u = 0; u < 8; u++) {
            const int e = e0 + u * (int)blockDim.x;
            if (e < ne)
                ((el *)(dst + (e / D) * pitch))[e % D] = x[u];
        }
    }
}

/* One CTA: keys [split·split_len, min(+split_len, kend)) of kv head hk, batch b, against query
 * rows gr0 .. gr0 + nr − 1 of the group (row gr = head (gr / Lq) of the group, query gr % Lq).
 * Warp w owns rows w, w + 4, w + 8, w + 12: scores, softmax state and acc stay in that warp (no
 * CTA barrier between S and P·V). MD: head dims up to MD (lane owns element pairs 2·lane + 64·j). */
template <int DT, int MD> __global__ void __launch_bounds__(DA_NW * 32) k_decode_split(da_args a)
{
    constexpr int ES = DT == OV_DTYPE_F32 ? 4 : 2;
    constexpr int NP = MD / 64; /* element pairs per lane */
    extern __shared__ __align__(16) unsigned char da_sm[];
    const int D = a.D, pitch = D * ES + 16; /* padded row: 8 lanes' 16-byte reads hit distinct banks */
    const int nr_alloc = a.G * a.Lq < DA_RB ? a.G * a.Lq : DA_RB;
    unsigned char *ksm = da_sm, *vsm = ksm + DA_TK * pitch;
    float *qsm = (float *)(vsm + DA_TK * pitch); /* [nr_alloc][D] f32 */
    float *psm = qsm + nr_alloc * D;             /* [nr_alloc][DA_TK] probabilities */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int split = blockIdx.x, hk = blockIdx.y / a.nrg, gr0 = (blockIdx.y % a.nrg) * DA_RB;
    const int64_t b = blockIdx.z;
    const int nr = a.G * a.Lq - gr0 < DA_RB ? a.G * a.Lq - gr0 : DA_RB;

    int rrow[DA_RPW];
    int64_t vis[DA_RPW]; /* last key the row sees */
    float m[DA_RPW], l[DA_RPW], acc[DA_RPW][2 * NP];
#pragma unroll
    for (int s = 0; s < DA_RPW; s++) {
        const int rr = warp + s * DA_NW;
        rrow[s] = rr < nr ? rr : -1;
        vis[s] = a.causal ? a.qoff + (gr0 + rr) % a.Lq : INT64_MAX;
        m[s] = -INFINITY;
        l[s] = 0.0f;
#pragma unroll
        for (int x = 0; x < 2 * NP; x++)
            acc[s][x] = 0.0f;
    }

    const unsigned char *kg = (const unsigned char *)a.k + (b * a.ks0 + hk * a.ks1) * ES;
    const unsigned char *vg = (const unsigned char *)a.v + (b * a.vs0 + hk * a.vs1) * ES;
    const int kb = split * a.split_len;
    const int ke = kb + a.split_len < a.kend ? kb + a.split_len : a.kend;
    for (int k0 = kb; k0 < ke; k0 += DA_TK) {
        const int n = ke - k0 < DA_TK ? ke - k0 : DA_TK;
        __syncthreads(); /* the previous tile is consumed */
        da_load_tile<ES>(ksm, kg, a.ks2, k0, n, D, pitch, a.vec);
        da_load_tile<ES>(vsm, vg, a.vs2, k0, n, D, pitch, a.vec);
        if (k0 == kb) /* the q rows as f32, while the first tile is in flight (8 loads per batch) */
            for (int e0 = threadIdx.x; e0 < nr * D; e0 += 8 * blockDim.x) {
                float x[8];
#pragma unroll
                for (int u = 0; u < 8; u++) {
                    const int e = e0 + u * (int)blockDim.x, rr = e / D, gr = gr0 + rr;
                    const int64_t h = (int64_t)hk * a.G + gr / a.Lq, i = gr % a.Lq;
                    x[u] = e < nr * D ? ov_ld(a.q, DT, b * a.qs0 + h * a.qs1 + i * a.qs2 + e % D) : 0.0f;
                }
#pragma unroll
                for (int u = 0; u < 8; u++) {
                    const int e = e0 + u * (int)blockDim.x;
                    if (e < nr * D)
                        qsm[e] = x[u];
                }
            }
        if (a.vec)
            da_cp_wait_all();
        __syncthreads();

        /* S for keys k0 + lane and k0 + lane + 32, online softmax per row */
#pragma unroll
        for (int s = 0; s < DA_RPW; s++) {
            if (rrow[s] < 0) /* warp-uniform */
                continue;
            const float *qr = qsm + rrow[s] * D;
            const unsigned char *kr0 = ksm + lane * pitch, *kr1 = ksm + (lane + 32) * pitch;
            float d0 = 0.0f, d1 = 0.0f;
            if (n > 32) /* CTA-uniform: the tile's second half of keys */
                for (int c = 0; c < D; c += 8) {
                    const float4 qa = *(const float4 *)(qr + c), qb = *(const float4 *)(qr + c + 4);
                    const float qv[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
                    float x0[8], x1[8];
                    da_ld8<DT>(kr0 + c * ES, x0);
                    da_ld8<DT>(kr1 + c * ES, x1);
#pragma unroll
                    for (int t = 0; t < 8; t++) {
                        d0 = fmaf(qv[t], x0[t], d0);
                        d1 = fmaf(qv[t], x1[t], d1);
                    }
                }
            else
                for (int c = 0; c < D; c += 8) {
                    const float4 qa = *(const float4 *)(qr + c), qb = *(const float4 *)(qr + c + 4);
                    const float qv[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
                    float x0[8];
                    da_ld8<DT>(kr0 + c * ES, x0);
#pragma unroll
                    for (int t = 0; t < 8; t++)
                        d0 = fmaf(qv[t], x0[t], d0);
                }
            const int64_t key0 = k0 + lane, key1 = key0 + 32;
            const float s0 = lane < n && key0 <= vis[s] ? d0 * a.scale_log2 : -INFINITY;
            const float s1 = lane + 32 < n && key1 <= vis[s] ? d1 * a.scale_log2 : -INFINITY;
            float tm = fmaxf(s0, s1);
            for (int off = 16; off > 0; off >>= 1)
                tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, off));
            const float mn = fmaxf(m[s], tm);
            float p0 = 0.0f, p1 = 0.0f, corr = 1.0f;
            if (mn != -INFINITY) { /* else nothing visible so far: acc and l stay 0 */
                p0 = s0 == -INFINITY ? 0.0f : exp2f(s0 - mn);
                p1 = s1 == -INFINITY ? 0.0f : exp2f(s1 - mn);
                corr = m[s] == -INFINITY ? 0.0f : exp2f(m[s] - mn);
            }
            float ps = p0 + p1;
            for (int off = 16; off > 0; off >>= 1)
                ps += __shfl_xor_sync(0xffffffffu, ps, off);
            l[s] = l[s] * corr + ps;
            m[s] = mn;
#pragma unroll
            for (int x = 0; x < 2 * NP; x++)
                acc[s][x] *= corr;
            psm[rrow[s] * DA_TK + lane] = p0;
            psm[rrow[s] * DA_TK + lane + 32] = p1;
        }
        __syncwarp(); /* this warp's P rows are written */

        /* acc += P·V: each V element pair read once for all of the warp's rows */
        for (int j = 0; j < n; j++) {
            const unsigned char *vr = vsm + j * pitch;
            float vx[2 * NP];
#pragma unroll
            for (int jj = 0; jj < NP; jj++) {
                const int d = 2 * lane + 64 * jj;
                if (d < D)
                    da_ld2<DT>(vr + d * ES, vx[2 * jj], vx[2 * jj + 1]);
                else
                    vx[2 * jj] = vx[2 * jj + 1] = 0.0f;
            }
#pragma unroll
            for (int s = 0; s < DA_RPW; s++) {
                if (rrow[s] < 0)
                    continue;
                const float pj = psm[rrow[s] * DA_TK + j];
#pragma unroll
                for (int x = 0; x < 2 * NP; x++)
                    acc[s][x] = fmaf(pj, vx[x], acc[s][x]);
            }
        }
    }

#pragma unroll
    for (int s = 0; s < DA_RPW; s++) {
        if (rrow[s] < 0)
            continue;
        const int gr = gr0 + rrow[s];
        const int64_t h = (int64_t)hk * a.G + gr / a.Lq, i = gr % a.Lq;
        if (a.nsplit == 1) { /* the only split: normalise and store o */
            const float inv = l[s] > 0.0f ? 1.0f / l[s] : 0.0f;
            const int64_t ob = b * a.os0 + h * a.os1 + i * a.os2;
#pragma unroll
            for (int jj = 0; jj < NP; jj++) {
                const int d = 2 * lane + 64 * jj;
                if (d < D) {
                    ov_st(a.o, a.odt, ob + d, acc[s][2 * jj] * inv);
                    ov_st(a.o, a.odt, ob + d + 1, acc[s][2 * jj + 1] * inv);
                }
            }
        } else {
            const int64_t slot = ((b * a.Hq + h) * a.Lq + i) * a.nsplit + split;
            float *pa = a.part_acc + slot * D;
#pragma unroll
            for (int jj = 0; jj < NP; jj++) {
                const int d = 2 * lane + 64 * jj;
                if (d < D) {
                    pa[d] = acc[s][2 * jj];
                    pa[d + 1] = acc[s][2 * jj + 1];
                }
            }
            if (lane == 0) {
                a.part_ml[slot * 2] = m[s];
                a.part_ml[slot * 2 + 1] = l[s];
            }
        }
    }
}

/* One CTA per (b, h, row): merge the nsplit partial results (splits with m = −inf weigh 0; a row
 * with no visible key anywhere gives zeros, as the general kernel). The split weights
 * 2^(m_s − M) go through shared memory; then DA_CG groups of threads each sum every DA_CG-th
 * split's acc (float4 per thread, 4 splits in flight) and the groups' sums are added. */
#define DA_CT 256           /* combine threads */
#define DA_CG (DA_CT / 64)  /* split groups: 64 float4 columns cover D <= 256 */
#define DA_CMAX_SPLITS 2048 /* shared weights; the host keeps nsplit below */
__global__ void __launch_bounds__(DA_CT) k_decode_combine(da_args a)
{
    __shared__ float wsm[DA_CMAX_SPLITS];
    __shared__ float red[32];
    __shared__ float4 part[DA_CG - 1][64];
    const int64_t row = blockIdx.x;
    const int64_t i = row % a.Lq, h = (row / a.Lq) % a.Hq, b = row / ((int64_t)a.Lq * a.Hq);
    const float *ml = a.part_ml + row * a.nsplit * 2;
    const float *pa = a.part_acc + row * a.nsplit * a.D;
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

    float mx = -INFINITY; /* M: block max of the split maxima */
    for (int s = tid; s < a.nsplit; s += DA_CT)
        mx = fmaxf(mx, ml[2 * s]);
    for (int off = 16; off > 0; off >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    if (lane == 0)
        red[warp] = mx;
    __syncthreads();
    float M = -INFINITY;
    for (int wi = 0; wi < DA_CT / 32; wi++)
        M = fmaxf(M, red[wi]);
    __syncthreads(); /* red is reused for the sum */
    float den = 0.0f;
    for (int s = tid; s < a.nsplit; s += DA_CT) {
        const float ms = ml[2 * s];
        const float w = M == -INFINITY || ms == -INFINITY ? 0.0f : exp2f(ms - M);
        wsm[s] = w;
        den = fmaf(w, ml[2 * s + 1], den);
    }
    for (int off = 16; off > 0; off >>= 1)
        den += __shfl_xor_sync(0xffffffffu, den, off);
    if (lane == 0)
        red[warp] = den;
    __syncthreads(); /* wsm and red are complete */
    den = 0.0f;
    for (int wi = 0; wi < DA_CT / 32; wi++)
        den += red[wi];
    const float inv = den > 0.0f ? 1.0f / den : 0.0f;

    const int c4 = tid % 64, g = tid / 64, d = 4 * c4;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (d < a.D) {
#pragma unroll 4
        for (int s = g; s < a.nsplit; s += DA_CG) {
            const float w = wsm[s];
            const float4 x = *(const float4 *)(pa + (int64_t)s * a.D + d);
            acc.x = fmaf(w, x.x, acc.x);
            acc.y = fmaf(w, x.y, acc.y);
            acc.z = fmaf(w, x.z, acc.z);
            acc.w = fmaf(w, x.w, acc.w);
        }
    }
    if (g > 0)
        part[g - 1][c4] = acc;
    __syncthreads();
    if (g > 0 || d >= a.D)
        return;
    for (int k = 0; k < DA_CG - 1; k++) {
        const float4 x = part[k][c4];
        acc.x += x.x;
        acc.y += x.y;
        acc.z += x.z;
        acc.w += x.w;
    }
    const int64_t ob = b * a.os0 + h * a.os1 + i * a.os2 + d;
    ov_st(a.o, a.odt, ob, acc.x * inv);
    ov_st(a.o, a.odt, ob + 1, acc.y * inv);
    ov_st(a.o, a.odt, ob + 2, acc.z * inv);
    ov_st(a.o, a.odt, ob + 3, acc.w * inv);
}

/* Base 16-byte aligned and the strides of dims 0..2 (elements) whole 16-byte units. */
static int da_aligned(const ov_tensor *t, int es)
{
    if ((uintptr_t)t->data % 16)
        return 0;
    for (int d = 0; d < 3; d++)
        if (t->shape[d] > 1 && (t->stride[d] * es) % 16)
            return 0;
    return 1;
}

template <int DT, int MD> static int da_launch(ov_backend *be, const da_args &a, dim3 grid, size_t sm)
{
    if (sm > 48 * 1024) {
        int rc = ov_cuda_check(be,
                               cudaFuncSetAttribute(k_decode_split<DT, MD>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm),
                               "attention", "cudaFuncSetAttribute(decode)");
        if (rc)
            return rc;
    }
    k_decode_split<DT, MD><<<grid, DA_NW * 32, sm, ov_cuda_of(be)->stream>>>(a);
    return ov_cuda_launched(be, "attention");
}

int ov_cuda_decode_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                             const ov_tensor *v, const ov_attn_params *p)
{
    ov_cuda *c = ov_cuda_of(be);
    const int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    const int64_t Hkv = k->shape[1], Lk = k->shape[2];
    const int dt = q->dtype;
    if (!c->decode_attn || p->bias || Lq < 1 || Lq > DA_MAX_LQ || D < 8 || D > DA_MAX_D || D % 8 || Lk < 1 ||
        Lk > (1 << 30) || Hkv < 1 || Hq % Hkv ||
        (dt != OV_DTYPE_F32 && dt != OV_DTYPE_F16 && dt != OV_DTYPE_BF16) || k->dtype != dt ||
        v->dtype != dt || o->dtype != dt || q->stride[3] != 1 || k->stride[3] != 1 || v->stride[3] != 1 ||
        o->stride[3] != 1)
        return 1; /* not this kernel's case */
    const int64_t G = Hq / Hkv, nrg = (G * Lq + DA_RB - 1) / DA_RB;
    if (B > 65535 || Hkv * nrg > 65535 || G * Lq > (1 << 20) || B * Hq * Lq > 0x7fffffffLL)
        return 1;
    const int es = dt == OV_DTYPE_F32 ? 4 : 2;
    int64_t kend = Lk; /* keys past the last row's position are never visible */
    if (p->causal && p->q_pos_offset + Lq < kend)
        kend = p->q_pos_offset + Lq;

    /* Splits: aim for 2 CTAs per SM over the whole grid, but never under DA_SPLIT_MIN keys (a lane
     * per key; smaller splits would write as many partial bytes as they read K/V). */
    if (c->sm_count <= 0) {
        int n = 0;
        if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, c->device) != cudaSuccess || n <= 0) {
            (void)cudaGetLastError();
            n = 132;
        }
        c->sm_count = n;
    }
    const int64_t ctas = B * Hkv * nrg, want0 = (2 * (int64_t)c->sm_count + ctas - 1) / ctas;
    const int64_t want = want0 < DA_CMAX_SPLITS ? want0 : DA_CMAX_SPLITS; /* so nsplit <= DA_CMAX_SPLITS */
    int64_t split = (kend + want - 1) / want;
    split = (split + DA_SPLIT_MIN - 1) / DA_SPLIT_MIN * DA_SPLIT_MIN;
    const int64_t nsplit = (kend + split - 1) / split;

    da_args a;
    memset(&a, 0, sizeof a);
    ov_attn_io_fill(a, q, k, v, o);
    a.qoff = p->q_pos_offset;
    a.D = (int)D;
    a.Lq = (int)Lq;
    a.Hq = (int)Hq;
    a.G = (int)G;
    a.nrg = (int)nrg;
    a.nsplit = (int)nsplit;
    a.split_len = (int)split;
    a.kend = (int)kend;
    a.causal = p->causal != 0;
    a.vec = da_aligned(k, es) && da_aligned(v, es);
    a.odt = o->dtype;
    a.scale_log2 = p->scale * 1.4426950408889634f;
    const char *op = "attention";
    const int64_t rows = B * Hq * Lq;
    if (nsplit > 1) {
        void *scr = NULL;
        const size_t bytes = (size_t)rows * (size_t)nsplit * (size_t)(D + 2) * sizeof(float);
        int rc = ov_cuda_scratch(be, bytes, &scr, op);
        if (rc)
            return rc;
        a.part_acc = (float *)scr;
        a.part_ml = a.part_acc + rows * nsplit * D;
    }
    const int64_t nr_alloc = G * Lq < DA_RB ? G * Lq : DA_RB;
    const size_t sm = (size_t)2 * DA_TK * (size_t)(D * es + 16) + (size_t)nr_alloc * (size_t)(D + DA_TK) * 4;
    const dim3 grid((unsigned)nsplit, (unsigned)(Hkv * nrg), (unsigned)B);
    c->decode_calls++;
    int rc;
    if (dt == OV_DTYPE_BF16)
        rc = D <= 128 ? da_launch<OV_DTYPE_BF16, 128>(be, a, grid, sm)
                      : da_launch<OV_DTYPE_BF16, 256>(be, a, grid, sm);
    else if (dt == OV_DTYPE_F16)
        rc = D <= 128 ? da_launch<OV_DTYPE_F16, 128>(be, a, grid, sm)
                      : da_launch<OV_DTYPE_F16, 256>(be, a, grid, sm);
    else
        rc = D <= 128 ? da_launch<OV_DTYPE_F32, 128>(be, a, grid, sm)
                      : da_launch<OV_DTYPE_F32, 256>(be, a, grid, sm);
    if (rc || nsplit == 1)
        return rc;
    k_decode_combine<<<(unsigned)rows, DA_CT, 0, c->stream>>>(a);
    return ov_cuda_launched(be, op);
}
