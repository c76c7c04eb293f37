/* CUDA flash attention on tensor cores (FA2 scheme, Dao 2023 "FlashAttention-2", Algorithm 1;
 * fragment layouts from the PTX ISA "mma.m16n8k16" and "ldmatrix" sections): bf16/f16 q, k, v
 * with head dim 64 or 128, f32 online softmax, GQA, causal with a KV-cache offset; no bias (that,
 * f32 inputs, other head dims and unaligned views take attention_cuda.cu's kernel).
 *
 * One CTA = 128 query rows of one (batch, head): 8 warps x 16 rows (or 4 x 32, see k_flash). The Q tile and
 * double-buffered 64-key K/V tiles are staged in shared memory with cp.async (rows padded by 16 bytes, so the
 * 8 row addresses of an ldmatrix hit distinct banks). Per K/V tile each warp computes
 * S = Q·Kᵀ (16 x 64) with mma.sync m16n8k16 (f32 accumulate), masks, rescales its running max /
 * sum in the log2 domain, packs P to bf16/f16 straight from the S accumulator registers (the
 * C-fragment layout of two n8 tiles is the A-fragment layout of one k16 slice) and accumulates
 * O += P·V with V read through ldmatrix.trans. Causal CTAs stop at the last visible key tile and
 * are launched heaviest first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/flash_layout.h"

#define FA_BM 128 /* query rows per CTA */
#define FA_BN 64  /* keys per K/V tile */
#define FA_WARPS 8
#define FA_THREADS (FA_WARPS * 32)

struct fa_args {
    const void *q, *k, *v;
    void *o;
    int64_t qs0, qs1, qs2, ks0, ks1, ks2, vs0, vs1, vs2, os0, os1, os2; /* element strides */
    int Lq, Lk, group, qoff; /* <= 2^29 (checked by the host): 32-bit index math in the kernel */
    int causal, odt, n_qtiles;
    float scale_log2; /* scale · log2(e): softmax in exp2 */
};

__device__ __forceinline__ uint32_t fa_smem_addr(const void *p)
{
    return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void fa_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ __forceinline__ void fa_wait(void)
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void fa_ldm4(uint32_t (&r)[4], const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(fa_smem_addr(p)));
}

__device__ __forceinline__ void fa_ldm4t(uint32_t (&r)[4], const void *p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(fa_smem_addr(p)));
}

/* c += a·b, m16n8k16, f32 accumulate. */
template <bool F16>
__device__ __forceinline__ void fa_mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    if (F16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
            "{%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Two floats as one register of two 16-bit values, `lo` in the low half (the lower column). */
template <bool F16> __device__ __forceinline__ uint32_t fa_pack(float lo, float hi)
{
    uint32_t u;
    if (F16) {
        __half2 h = __floats2half2_rn(lo, hi);
        memcpy(&u, &h, sizeof u);
    } else {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        memcpy(&u, &h, sizeof u);
    }
    return u;
}

/* One CTA: FA_BM query rows = (8 / RB) warps x RB row blocks of 16. RB = 2 (FA2's layout: each
 * warp 32 rows) halves the K/V shared-memory reads per FLOP at the cost of twice the accumulator
 * registers. MINB: CTAs per SM the register allocation must allow. Which variant is fastest is
 * measured by bench_ops_cuda (OURVIDZ_CUDA_FLASH selects it; ov_cuda_flash_mode). */
template <int D, bool F16, int MINB, int RB, bool QREG = false, int BN = FA_BN>
__global__ void __launch_bounds__(FA_THREADS / RB, MINB) k_flash(fa_args a)
{
    constexpr int NTHR = FA_THREADS / RB;
    constexpr int DS = D + 8;     /* padded smem row, elements */
    constexpr int CH = D / 8;     /* 16-byte chunks per row */
    constexpr int NT = BN / 8; /* n8 tiles of S */
    constexpr int DT = D / 8;     /* n8 tiles of O */
    extern __shared__ __align__(16) uint16_t fa_sm[];
    uint16_t *qsm = fa_sm;                /* [FA_BM][DS] */
    uint16_t *ksm = qsm + FA_BM * DS;     /* [2][BN][DS] */
    uint16_t *vsm = ksm + 2 * BN * DS; /* [2][BN][DS] */

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int qt = a.causal ? a.n_qtiles - 1 - (int)blockIdx.x : (int)blockIdx.x;
    const int q0 = qt * FA_BM, wr0 = q0 + warp * 16 * RB; /* this warp's first row */
    const int64_t bi = blockIdx.z, h = blockIdx.y, hk = h / a.group;
    const uint16_t *qg = (const uint16_t *)a.q + bi * a.qs0 + h * a.qs1;
    const uint16_t *kg = (const uint16_t *)a.k + bi * a.ks0 + hk * a.ks1;
    const uint16_t *vg = (const uint16_t *)a.v + bi * a.vs0 + hk * a.vs1;
    const int qrows = a.Lq - q0 < FA_BM ? a.Lq - q0 : FA_BM;
    const int kend = ov_fa_kend(a.Lk, a.causal, a.qoff, q0, qrows);
    const int ntiles = kend > 0 ? (int)((kend + BN - 1) / BN) : 0;

    for (int c = tid; c < FA_BM * CH; c += NTHR) {
        const int r = c / CH, cc = c % CH;
        const bool ok = r < qrows;
        ov_cp_async16(qsm + r * DS + cc * 8, ok ? qg + (int64_t)(q0 + r) * a.qs2 + cc * 8 : qg, ok ? 16 : 0);
    }
    auto load_kv = [&](int j, int buf) {
        const int k0 = j * BN;
        uint16_t *kd = ksm + buf * BN * DS, *vd = vsm + buf * BN * DS;
        for (int c = tid; c < BN * CH; c += NTHR) {
            const int r = c / CH, cc = c % CH;
            const bool ok = k0 + r < a.Lk;
            ov_cp_async16(kd + r * DS + cc * 8, ok ? kg + (int64_t)(k0 + r) * a.ks2 + cc * 8 : kg, ok ? 16 : 0);
            ov_cp_async16(vd + r * DS + cc * 8, ok ? vg + (int64_t)(k0 + r) * a.vs2 + cc * 8 : vg, ok ? 16 : 0);
        }
    };
    if (ntiles > 0)
        load_kv(0, 0);
    fa_commit();

    float oacc[RB][DT][4];
    float m[RB][2], l[RB][2]; /* per row block: rows lr0 and lr1 of this lane */
#pragma unroll
    for (int rb = 0; rb < RB; rb++) {
#pragma unroll
        for (int i = 0; i < DT; i++)
            oacc[rb][i][0] = oacc[rb][i][1] = oacc[rb][i][2] = oacc[rb][i][3] = 0.0f;
        m[rb][0] = m[rb][1] = -INFINITY;
        l[rb][0] = l[rb][1] = 0.0f;
    }
    int lr0, lr1, lc;
    ov_fa_c_elem(lane, 0, &lr0, &lc);
    ov_fa_c_elem(lane, 2, &lr1, &lc);
    int qr, qc, kr, kc_, vr, vc;
    ov_fa_q_addr(lane, &qr, &qc);
    ov_fa_k_addr(lane, &kr, &kc_);
    ov_fa_v_addr(lane, &vr, &vc);
    const uint16_t *qw = qsm + (warp * 16 * RB + qr) * DS + qc; /* row block rb: + rb·16 rows */
    /* QREG (RB 1): this warp's Q fragments are read from shared memory once, after the first wait,
     * and kept in registers for every K tile (FA2 keeps Q resident; the other variants re-read it
     * with ldmatrix per tile: a fifth of their shared-memory reads at D 128) */
    uint32_t qreg[QREG ? D / 16 : 1][4];
    bool qloaded = false;

    for (int j = 0; j < ntiles; j++) {
        if (j + 1 < ntiles)
            load_kv(j + 1, (j + 1) & 1);
        fa_commit();
        fa_wait<1>(); /* everything but the group just issued: Q and tile j are in */
        __syncthreads();
        const uint16_t *ks = ksm + (j & 1) * BN * DS, *vs = vsm + (j & 1) * BN * DS;
        if (QREG && !qloaded) {
#pragma unroll
            for (int kk = 0; kk < (QREG ? D / 16 : 1); kk++)
                fa_ldm4(qreg[kk], qw + kk * 16);
            qloaded = true;
        }

        /* S = Q·Kᵀ: this warp's rows x BN keys; each K fragment serves every row block */
        float s[RB][NT][4];
#pragma unroll
        for (int rb = 0; rb < RB; rb++)
#pragma unroll
            for (int i = 0; i < NT; i++)
                s[rb][i][0] = s[rb][i][1] = s[rb][i][2] = s[rb][i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t qa[RB][4];
#pragma unroll
            for (int rb = 0; rb < RB; rb++) {
                if (QREG) {
#pragma unroll
                    for (int r = 0; r < 4; r++)
                        qa[rb][r] = qreg[QREG ? kk : 0][r];
                } else {
                    fa_ldm4(qa[rb], qw + rb * 16 * DS + kk * 16);
                }
            }
#pragma unroll
            for (int np = 0; np < BN / 16; np++) {
                uint32_t kb[4];
                fa_ldm4(kb, ks + (np * 16 + kr) * DS + kk * 16 + kc_);
#pragma unroll
                for (int rb = 0; rb < RB; rb++) {
                    fa_mma<F16>(s[rb][2 * np], qa[rb], kb[0], kb[1]);
                    fa_mma<F16>(s[rb][2 * np + 1], qa[rb], kb[2], kb[3]);
                }
            }
        }

        /* scale into the log2 domain, mask keys past Lk and (causal) past each row's position;
         * only tiles at the end or across this warp's diagonal need the compares */
        const int k0 = j * BN;
        const bool need_mask = ov_fa_need_mask(k0, BN, a.Lk, a.causal, a.qoff, wr0);
#pragma unroll
        for (int rb = 0; rb < RB; rb++) {
            float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int er, ec;
                    ov_fa_c_elem(lane, e, &er, &ec);
                    const int key = k0 + nt * 8 + ec, row = wr0 + rb * 16 + er;
                    float x = s[rb][nt][e] * a.scale_log2;
                    if (need_mask && !ov_fa_visible(key, row, a.Lk, a.causal, a.qoff))
                        x = -INFINITY;
                    s[rb][nt][e] = x;
                    if (e < 2)
                        mx0 = fmaxf(mx0, x);
                    else
                        mx1 = fmaxf(mx1, x);
                }
            }
            /* the 4 lanes of a quad hold one row's 2·NT·4 columns */
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
            float b0, b1, c0, c1;
            ov_fa_rescale(m[rb][0], mx0, &m[rb][0], &b0, &c0);
            ov_fa_rescale(m[rb][1], mx1, &m[rb][1], &b1, &c1);
            float ls0 = 0.0f, ls1 = 0.0f;
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                s[rb][nt][0] = exp2f(s[rb][nt][0] - b0);
                s[rb][nt][1] = exp2f(s[rb][nt][1] - b0);
                s[rb][nt][2] = exp2f(s[rb][nt][2] - b1);
                s[rb][nt][3] = exp2f(s[rb][nt][3] - b1);
                ls0 += s[rb][nt][0] + s[rb][nt][1];
                ls1 += s[rb][nt][2] + s[rb][nt][3];
            }
            l[rb][0] = l[rb][0] * c0 + ls0; /* per-lane partial sums; the quad adds them at the end */
            l[rb][1] = l[rb][1] * c1 + ls1;
#pragma unroll
            for (int i = 0; i < DT; i++) {
                oacc[rb][i][0] *= c0;
                oacc[rb][i][1] *= c0;
                oacc[rb][i][2] *= c1;
                oacc[rb][i][3] *= c1;
            }
        }

        /* O += P·V, P from registers: k16 slice kc = S tiles 2kc (cols 0-7) and 2kc+1 (cols 8-15);
         * each V fragment serves every row block */
#pragma unroll
        for (int kc = 0; kc < BN / 16; kc++) {
            uint32_t pa[RB][4];
#pragma unroll
            for (int rb = 0; rb < RB; rb++)
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const float *st = s[rb][2 * kc + ov_fa_p_tile(r)];
                    pa[rb][r] = fa_pack<F16>(st[ov_fa_p_elem(r)], st[ov_fa_p_elem(r) + 1]);
                }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t vb[4];
                fa_ldm4t(vb, vs + (kc * 16 + vr) * DS + dp * 16 + vc);
#pragma unroll
                for (int rb = 0; rb < RB; rb++) {
                    fa_mma<F16>(oacc[rb][2 * dp], pa[rb], vb[0], vb[1]);
                    fa_mma<F16>(oacc[rb][2 * dp + 1], pa[rb], vb[2], vb[3]);
                }
            }
        }
        __syncthreads(); /* buffer j & 1 is refilled by the next iteration's prefetch */
    }
    fa_wait<0>();

#pragma unroll
    for (int rb = 0; rb < RB; rb++) {
        float l0 = l[rb][0], l1 = l[rb][1];
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        const int row0 = wr0 + rb * 16 + lr0, row1 = wr0 + rb * 16 + lr1; /* this lane's two rows */
        const int64_t ob0 = bi * a.os0 + h * a.os1 + (int64_t)row0 * a.os2,
                      ob1 = bi * a.os0 + h * a.os1 + (int64_t)row1 * a.os2;
#pragma unroll
        for (int i = 0; i < DT; i++) {
            const int d = i * 8 + lc; /* elements 0,1 (row0) and 2,3 (row1) share columns lc, lc + 1 */
            if (row0 < a.Lq) {
                ov_st(a.o, a.odt, ob0 + d, oacc[rb][i][0] * inv0);
                ov_st(a.o, a.odt, ob0 + d + 1, oacc[rb][i][1] * inv0);
            }
            if (row1 < a.Lq) {
                ov_st(a.o, a.odt, ob1 + d, oacc[rb][i][2] * inv1);
                ov_st(a.o, a.odt, ob1 + d + 1, oacc[rb][i][3] * inv1);
            }
        }
    }
}

template <int D, bool F16, int MINB, int RB, bool QREG = false, int BN = FA_BN>
static int fa_launch(ov_backend *be, const fa_args &a, int64_t B, int64_t Hq)
{
    const size_t sm = (size_t)(FA_BM + 4 * BN) * (D + 8) * sizeof(uint16_t);
    int rc = ov_cuda_check(be,
                           cudaFuncSetAttribute(k_flash<D, F16, MINB, RB, QREG, BN>,
                                                cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm),
                           "attention", "cudaFuncSetAttribute(flash)");
    if (rc)
        return rc;
    dim3 grid((unsigned)a.n_qtiles, (unsigned)Hq, (unsigned)B);
    k_flash<D, F16, MINB, RB, QREG, BN><<<grid, FA_THREADS / RB, sm, ov_cuda_of(be)->stream>>>(a);
    return ov_cuda_launched(be, "attention");
}

/* Strides (elements) of dims 0..2 multiples of 8 and the base 16-byte aligned: every row chunk
 * is a 16-byte cp.async source. */
static int fa_aligned(const ov_tensor *t)
{
    if ((uintptr_t)t->data % 16)
        return 0;
    for (int i = 0; i < 3; i++)
        if (t->shape[i] > 1 && t->stride[i] % 8)
            return 0;
    return 1;
}

int ov_cuda_flash_mode(void)
{
    const char *e = getenv("OURVIDZ_CUDA_FLASH");
    if (e && e[0] >= '0' && e[0] <= '7' && e[1] == '\0')
        return e[0] - '0';
    return 4;
}

/* Mode 4's choice for calls too small to be worth timing: the variant bench_ops_cuda measured
 * fastest for the shape's class on an H200 (2026-11-27, docs/BENCHMARKS.md): D 64 -> 2 (SDXL 4096
 * tokens: 169 vs 149 TFLOP/s for 1), D 128 non-causal -> 3 (WAN 32760 tokens: 235 vs 220), D 128
 * causal -> 1 (Qwen prefill: 174 vs 168-169). */
static int fa_auto_mode(int64_t D, bool causal)
{
    if (D == 64)
        return 2;
    return causal ? 1 : 3;
}

/* Launch variant `mode` (1, 2, 3, 5, 6). */
static int fa_run(ov_backend *be, int mode, const fa_args &a, int64_t B, int64_t Hq, int64_t D, bool f16)
{
    if (mode == 6) /* 5 with 128-key K/V tiles: half the barriers and rescales per key */
        return D == 64 ? (f16 ? fa_launch<64, true, 1, 1, true, 128>(be, a, B, Hq)
                              : fa_launch<64, false, 1, 1, true, 128>(be, a, B, Hq))
                       : (f16 ? fa_launch<128, true, 1, 1, true, 128>(be, a, B, Hq)
                              : fa_launch<128, false, 1, 1, true, 128>(be, a, B, Hq));
    if (mode == 5) /* 8 warps x 16 rows, Q resident in registers */
        return D == 64 ? (f16 ? fa_launch<64, true, 1, 1, true>(be, a, B, Hq)
                              : fa_launch<64, false, 1, 1, true>(be, a, B, Hq))
                       : (f16 ? fa_launch<128, true, 1, 1, true>(be, a, B, Hq)
                              : fa_launch<128, false, 1, 1, true>(be, a, B, Hq));
    if (D == 64) {
        if (mode == 3)
            return f16 ? fa_launch<64, true, 2, 2>(be, a, B, Hq) : fa_launch<64, false, 2, 2>(be, a, B, Hq);
        if (mode == 2)
            return f16 ? fa_launch<64, true, 2, 1>(be, a, B, Hq) : fa_launch<64, false, 2, 1>(be, a, B, Hq);
        return f16 ? fa_launch<64, true, 1, 1>(be, a, B, Hq) : fa_launch<64, false, 1, 1>(be, a, B, Hq);
    }
    if (mode == 3)
        return f16 ? fa_launch<128, true, 1, 2>(be, a, B, Hq) : fa_launch<128, false, 1, 2>(be, a, B, Hq);
    if (mode == 2)
        return f16 ? fa_launch<128, true, 2, 1>(be, a, B, Hq) : fa_launch<128, false, 2, 1>(be, a, B, Hq);
    return f16 ? fa_launch<128, true, 1, 1>(be, a, B, Hq) : fa_launch<128, false, 1, 1>(be, a, B, Hq);
}

/* ---- mode 4: measured per shape class ----
 * Which variant wins depends on the GPU, the head dim, causality and how many CTAs the shape
 * makes (one H200 run: 2 for SDXL, 3 for WAN, 1 for Qwen prefill; 5 and 6 were added later). So the
 * first call of a shape class with at least 2e9 FLOPs ($OURVIDZ_CUDA_FLASH_TUNE_MIN: the tests
 * use 0; 2e10 until the H200 run of 2026-11-27 12:23 showed SDXL's cross-attention, 5e9-1e10 FLOPs
 * a call with 77 keys, at 51 TFLOP/s, ~6x its memory time, on the untimed static choice) runs
 * every variant twice on the
 * stream (event-timed; each writes the full output, so the caller gets a correct result whichever
 * ran last), keeps the fastest for the class (per backend, up to 32 classes) and uses it from then
 * on — as cuDNN's benchmarked algorithm choice does for conv2d. Smaller calls take the static
 * choice above. Classes: D, causal, dtype and log2 buckets of Lq, Lk and B·H. OURVIDZ_CUDA_FLASH=N
 * pins one variant (e.g. for run-to-run bit-identical results across processes). */
#define FA_TUNE_SLOTS 32

static uint32_t fa_log2(int64_t v)
{
    uint32_t l = 0;
    while (v > 1 && l < 63) {
        v >>= 1;
        l++;
    }
    return l;
}

static uint32_t fa_class(int64_t D, bool causal, bool f16, int64_t Lq, int64_t Lk, int64_t BH)
{
    return (uint32_t)(D == 64) | (uint32_t)causal << 1 | (uint32_t)f16 << 2 | fa_log2(Lq) << 3 | fa_log2(Lk) << 9 |
           fa_log2(BH) << 15;
}

/* The call's tensors, for the cuDNN candidate (mode 7), which takes them rather than fa_args. */
struct fa_call {
    ov_tensor *o;
    const ov_tensor *q, *k, *v;
    const ov_attn_params *p;
};

/* Variant `mode` (1, 2, 3, 5, 6, or 7 = cuDNN's SDPA: 1 when it declines). */
static int fa_run_any(ov_backend *be, int mode, const fa_args &a, const fa_call &call, int64_t B, int64_t Hq,
                      int64_t D, bool f16)
{
    if (mode == 7)
        return ov_cuda_sdpa_cudnn(be, call.o, call.q, call.k, call.v, call.p);
    return fa_run(be, mode, a, B, Hq, D, f16);
}

/* out[0] = max |x − y| (NaN wins), out[1] = max |y|, as float bits (non-negative: atomicMax on the bits). */
template <bool F16> __global__ void k_fa_cmp(const uint16_t *x, const uint16_t *y, int64_t n, unsigned *out)
{
    float d = 0.0f, m = 0.0f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float a = F16 ? __half2float(__ushort_as_half(x[i])) : __uint_as_float((unsigned)x[i] << 16);
        const float b = F16 ? __half2float(__ushort_as_half(y[i])) : __uint_as_float((unsigned)y[i] << 16);
        const float e = fabsf(a - b);
        if (!(e <= d))
            d = e; /* a NaN difference is kept */
        m = fmaxf(m, fabsf(b));
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float od = __shfl_xor_sync(0xffffffffu, d, o), om = __shfl_xor_sync(0xffffffffu, m, o);
        if (!(od <= d))
            d = od;
        m = fmaxf(m, om);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicMax(&out[0], __float_as_uint(d));
        atomicMax(&out[1], __float_as_uint(m));
    }
}

/* Before cuDNN's SDPA may compete for a class, its output must agree with variant 1's on this call
 * (both bf16/f16: |Δ| <= 2e-2 + 2e-2·max|ref| over o's storage span): 1 agrees, 0 declined or
 * disagrees (one stderr line), < 0 a device error. o ends up holding a correct result either way. */
static int fa_cudnn_agrees(ov_backend *be, const fa_args &a, const fa_call &call, int64_t B, int64_t Hq, int64_t D,
                           bool f16)
{
    ov_cuda *c = ov_cuda_of(be);
    const ov_tensor *o = call.o;
    int64_t span = 1;
    for (int i = 0; i < o->ndim; i++) {
        if (o->stride[i] < 0)
            return 0;
        span += (o->shape[i] - 1) * o->stride[i];
    }
    if (span > 4 * ov_tensor_nelem(o))
        return 0; /* a sparse view: not worth checking, cuDNN stays out */
    int rc = fa_run(be, 1, a, B, Hq, D, f16);
    if (rc)
        return rc;
    void *scr = NULL;
    const size_t bytes = (size_t)span * 2;
    if ((rc = ov_cuda_scratch(be, bytes + 64, &scr, "attention")))
        return rc;
    uint16_t *ref = (uint16_t *)scr;
    unsigned *res = (unsigned *)((char *)scr + ((bytes + 15) & ~(size_t)15));
    if ((rc = ov_cuda_check(be, cudaMemcpyAsync(ref, o->data, bytes, cudaMemcpyDeviceToDevice, c->stream),
                            "attention", "cudaMemcpyAsync(flash reference)")) ||
        (rc = ov_cuda_check(be, cudaMemsetAsync(res, 0, 2 * sizeof(unsigned), c->stream), "attention",
                            "cudaMemsetAsync")))
        return rc;
    rc = ov_cuda_sdpa_cudnn(be, call.o, call.q, call.k, call.v, call.p);
    if (rc == 1) { /* declined: o still holds variant 1's result */
        return 0;
    }
    if (rc)
        return rc;
    const unsigned blocks = (unsigned)((span + 255) / 256 < 1024 ? (span + 255) / 256 : 1024);
    if (f16)
        k_fa_cmp<true><<<blocks, 256, 0, c->stream>>>((const uint16_t *)o->data, ref, span, res);
    else
        k_fa_cmp<false><<<blocks, 256, 0, c->stream>>>((const uint16_t *)o->data, ref, span, res);
    unsigned h[2] = {0, 0};
    if ((rc = ov_cuda_launched(be, "attention")) ||
        (rc = ov_cuda_check(be, cudaMemcpyAsync(h, res, sizeof h, cudaMemcpyDeviceToHost, c->stream), "attention",
                            "cudaMemcpyAsync(compare)")) ||
        (rc = ov_cuda_check(be, cudaStreamSynchronize(c->stream), "attention", "cudaStreamSynchronize")))
        return rc;
    float d, m;
    memcpy(&d, &h[0], sizeof d);
    memcpy(&m, &h[1], sizeof m);
    if (d <= 2e-2f + 2e-2f * m)
        return 1;
    fprintf(stderr,
            "cuda (%s): cuDNN SDPA disagrees with the flash kernel (max |d| %g, max |ref| %g) for B·H %lld Lq %d "
            "Lk %d D %lld: not used for this class\n",
            c->name, (double)d, (double)m, (long long)(B * Hq), a.Lq, a.Lk, (long long)D);
    /* o holds cuDNN's disagreeing result: put the reference back */
    return ov_cuda_check(be, cudaMemcpyAsync(o->data, ref, bytes, cudaMemcpyDeviceToDevice, c->stream), "attention",
                         "cudaMemcpyAsync(flash reference back)");
}

/* Time every variant on this call and remember the fastest for its class: 0 (*mode set) or an
 * error; event failures fall back to the static choice (*mode set, nothing cached). cuDNN's SDPA
 * (7) competes once it agreed with variant 1 on this call (fa_cudnn_agrees). */
static int fa_tune(ov_backend *be, uint32_t key, const fa_args &a, const fa_call &call, int64_t B, int64_t Hq,
                   int64_t D, bool f16, int *mode)
{
    int cand[] = {1, 2, 3, 5, 6, 7};
    enum { NC = sizeof cand / sizeof cand[0], ROUNDS = 2 };
    ov_cuda *c = ov_cuda_of(be);
    int nc = NC - 1; /* 7 only when it agrees */
    if (!a.causal) {
        int ag = fa_cudnn_agrees(be, a, call, B, Hq, D, f16);
        if (ag < 0)
            return ag;
        nc = ag ? NC : NC - 1;
    }
    cudaEvent_t ev[ROUNDS][NC][2];
    memset(ev, 0, sizeof ev);
    int ok = 1, rc = 0;
    for (int r = 0; r < ROUNDS && ok; r++)
        for (int i = 0; i < nc && ok; i++)
            ok = cudaEventCreate(&ev[r][i][0]) == cudaSuccess && cudaEventCreate(&ev[r][i][1]) == cudaSuccess;
    float best = 1e30f;
    *mode = fa_auto_mode(D, a.causal != 0);
    int best_mode = *mode, runs = 0, declined = 0;
    for (int r = 0; r < ROUNDS && ok && !rc; r++)
        for (int i = 0; i < nc && !rc; i++) {
            ok = ok && cudaEventRecord(ev[r][i][0], c->stream) == cudaSuccess;
            rc = fa_run_any(be, cand[i], a, call, B, Hq, D, f16);
            if (rc == 1) { /* cuDNN declined after all: it did not run, drop it */
                rc = 0;
                declined = 1;
            } else {
                runs++;
            }
            ok = ok && cudaEventRecord(ev[r][i][1], c->stream) == cudaSuccess;
        }
    if (!runs || declined) /* no events, or the last candidate declined: this call needs its output */
        rc = rc ? rc : fa_run(be, *mode, a, B, Hq, D, f16);
    if (!rc && ok && cudaEventSynchronize(ev[ROUNDS - 1][nc - 1][1]) == cudaSuccess) {
        for (int i = 0; i < nc - declined; i++) /* a decline can only be 7's, the last candidate */
            for (int r = 0; r < ROUNDS; r++) {
                float ms = 0.0f;
                if (cudaEventElapsedTime(&ms, ev[r][i][0], ev[r][i][1]) == cudaSuccess && ms < best) {
                    best = ms;
                    best_mode = cand[i];
                }
            }
        *mode = best_mode;
        if (c->n_fa_tune < FA_TUNE_SLOTS) {
            c->fa_tune[c->n_fa_tune].key = key;
            c->fa_tune[c->n_fa_tune].mode = best_mode;
            c->n_fa_tune++;
        }
        if (c->prof)
            fprintf(stderr, "cuda (%s): flash attention class B·H %lld Lq %d Lk %d D %lld %s: variant %d (%.3f ms)\n",
                    c->name, (long long)(B * Hq), a.Lq, a.Lk, (long long)D, a.causal ? "causal" : "full", best_mode,
                    (double)best);
    }
    (void)cudaGetLastError(); /* a failed event call is not a sticky error */
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NC; i++)
            for (int e = 0; e < 2; e++)
                if (ev[r][i][e])
                    (void)cudaEventDestroy(ev[r][i][e]);
    return rc;
}

/* Mode 4's variant for this call: cached, measured now (the call is then already done: *ran = 1),
 * or the static choice. */
static int fa_pick(ov_backend *be, const fa_args &a, const fa_call &call, int64_t B, int64_t Hq, int64_t D, bool f16,
                   int *mode, int *ran)
{
    ov_cuda *c = ov_cuda_of(be);
    *ran = 0;
    const double flops = 4.0 * (double)B * (double)Hq * (double)a.Lq * (double)a.Lk * (double)D;
    if (flops < c->fa_tune_min) {
        *mode = fa_auto_mode(D, a.causal != 0);
        return 0;
    }
    const uint32_t key = fa_class(D, a.causal != 0, f16, a.Lq, a.Lk, B * Hq);
    for (int i = 0; i < c->n_fa_tune; i++)
        if (c->fa_tune[i].key == key) {
            *mode = c->fa_tune[i].mode;
            return 0;
        }
    *ran = 1;
    return fa_tune(be, key, a, call, B, Hq, D, f16, mode);
}

int ov_cuda_flash_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k,
                            const ov_tensor *v, const ov_attn_params *p)
{
    const int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    const int dt = q->dtype;
    if (!ov_cuda_of(be)->flash || p->bias || (dt != OV_DTYPE_BF16 && dt != OV_DTYPE_F16) || k->dtype != dt ||
        v->dtype != dt || (D != 64 && D != 128) || !fa_aligned(q) || !fa_aligned(k) || !fa_aligned(v) ||
        B > 65535 || Hq > 65535 || Lq > (1 << 29) || k->shape[2] > (1 << 29) || p->q_pos_offset > (1 << 29))
        return 1; /* not this kernel's case */
    fa_args a;
    ov_attn_io_fill(a, q, k, v, o);
    a.Lq = (int)Lq;
    a.Lk = (int)k->shape[2];
    a.group = (int)(Hq / k->shape[1]);
    a.qoff = (int)p->q_pos_offset;
    a.causal = p->causal != 0;
    a.odt = o->dtype;
    a.n_qtiles = (int)((Lq + FA_BM - 1) / FA_BM);
    a.scale_log2 = p->scale * 1.4426950408889634f;
    ov_cuda_of(be)->flash_calls++;
    /* variants (ov_cuda_flash_mode; registers / spills from ptxas -v, sm_90, CUDA 13.0):
     * 1 = 8 warps x 16 rows, no register cap (D 128: 215, D 64: 143), no spills;
     * 2 = the same capped for 2 CTAs/SM (128 registers; spills 80 B at D 128, 56 B at D 64);
     * 3 = 4 warps x 32 rows (RB 2; D 128: 255 registers + 92 B spills, D 64: 241, none);
     * 4 = per shape class: measured at its first large call (fa_pick), else fa_auto_mode;
     * 5 = 1 with Q kept in registers across K tiles (D 128: 207 registers, D 64: 152, no spills;
     *     added 2026-11-27 after the last GPU run: not yet measured);
     * 6 = 5 with 128-key K/V tiles (D 128: 250 registers, 174 KB shared; D 64: 216; no spills;
     *     unmeasured likewise);
     * 7 = cuDNN's fused SDPA (sdpa_cudnn.cu) for the non-causal cases it takes, else the static
     *     choice; in mode 4's tuning a candidate once its output agreed with variant 1's
     *     (fa_cudnn_agrees; unmeasured) */
    const bool f16 = dt == OV_DTYPE_F16;
    int mode = ov_cuda_of(be)->flash;
    if (mode == 4) {
        const fa_call call = {o, q, k, v, p};
        int ran = 0, rc = fa_pick(be, a, call, B, Hq, D, f16, &mode, &ran);
        if (rc || ran)
            return rc; /* measured on this very call: the output is written */
    }
    if (mode == 7) { /* pinned, or the tuned choice: cuDNN where it takes the case, else the static variant */
        int rc = ov_cuda_sdpa_cudnn(be, o, q, k, v, p);
        if (rc <= 0)
            return rc;
        mode = fa_auto_mode(D, a.causal != 0);
    }
    return fa_run(be, mode, a, B, Hq, D, f16);
}
