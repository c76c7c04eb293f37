/* CUDA flash attention on tensor cores (FA2 scheme, Dao 2023 "FlashAttention-2", Algorithm 1;
 * fragment layouts from the PTX ISA "mma.m16n8k16" and "ldmatrix" sections): bf16/f16 q, k, v
 * with head dim 64 or 128, f32 online softmax, GQA, causal with a KV-cache offset; no bias (that,
 * f32 inputs, other head dims and unaligned views take attention_cuda.cu's kernel).
 *
 * One CTA = 128 query rows of one (batch, head), 8 warps x 16 rows. The Q tile and double-buffered
 * 64-key K/V tiles are staged in shared memory with cp.async (rows padded by 16 bytes, so the
 * 8 row addresses of an ldmatrix hit distinct banks). Per K/V tile each warp computes
 * S = Q·Kᵀ (16 x 64) with mma.sync m16n8k16 (f32 accumulate), masks, rescales its running max /
 * sum in the log2 domain, packs P to bf16/f16 straight from the S accumulator registers (the
 * C-fragment layout of two n8 tiles is the A-fragment layout of one k16 slice) and accumulates
 * O += P·V with V read through ldmatrix.trans. Causal CTAs stop at the last visible key tile and
 * are launched heaviest first. */
#include <stdint.h>
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

/* 16 bytes global -> shared, asynchronously; src_bytes 0 writes zeros (rows past the end). */
__device__ __forceinline__ void fa_cp16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(fa_smem_addr(dst)), "l"(src),
                 "r"(src_bytes));
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

/* MINB: CTAs per SM the register allocation must allow (D = 128: 1 -> ~178 registers, no spills;
 * 2 -> 128 registers with ~100 bytes of spills; which is faster is measured by bench_ops_cuda). */
template <int D, bool F16, int MINB> __global__ void __launch_bounds__(FA_THREADS, MINB) k_flash(fa_args a)
{
    constexpr int DS = D + 8;     /* padded smem row, elements */
    constexpr int CH = D / 8;     /* 16-byte chunks per row */
    constexpr int NT = FA_BN / 8; /* n8 tiles of S */
    constexpr int DT = D / 8;     /* n8 tiles of O */
    extern __shared__ __align__(16) uint16_t fa_sm[];
    uint16_t *qsm = fa_sm;                /* [FA_BM][DS] */
    uint16_t *ksm = qsm + FA_BM * DS;     /* [2][FA_BN][DS] */
    uint16_t *vsm = ksm + 2 * FA_BN * DS; /* [2][FA_BN][DS] */

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int qt = a.causal ? a.n_qtiles - 1 - (int)blockIdx.x : (int)blockIdx.x;
    const int q0 = qt * FA_BM;
    const int64_t bi = blockIdx.z, h = blockIdx.y, hk = h / a.group;
    const uint16_t *qg = (const uint16_t *)a.q + bi * a.qs0 + h * a.qs1;
    const uint16_t *kg = (const uint16_t *)a.k + bi * a.ks0 + hk * a.ks1;
    const uint16_t *vg = (const uint16_t *)a.v + bi * a.vs0 + hk * a.vs1;
    const int qrows = a.Lq - q0 < FA_BM ? a.Lq - q0 : FA_BM;
    const int kend = ov_fa_kend(a.Lk, a.causal, a.qoff, q0, qrows);
    const int ntiles = kend > 0 ? (int)((kend + FA_BN - 1) / FA_BN) : 0;

    for (int c = tid; c < FA_BM * CH; c += FA_THREADS) {
        const int r = c / CH, cc = c % CH;
        const bool ok = r < qrows;
        fa_cp16(qsm + r * DS + cc * 8, ok ? qg + (int64_t)(q0 + r) * a.qs2 + cc * 8 : qg, ok ? 16 : 0);
    }
    auto load_kv = [&](int j, int buf) {
        const int k0 = j * FA_BN;
        uint16_t *kd = ksm + buf * FA_BN * DS, *vd = vsm + buf * FA_BN * DS;
        for (int c = tid; c < FA_BN * CH; c += FA_THREADS) {
            const int r = c / CH, cc = c % CH;
            const bool ok = k0 + r < a.Lk;
            fa_cp16(kd + r * DS + cc * 8, ok ? kg + (int64_t)(k0 + r) * a.ks2 + cc * 8 : kg, ok ? 16 : 0);
            fa_cp16(vd + r * DS + cc * 8, ok ? vg + (int64_t)(k0 + r) * a.vs2 + cc * 8 : vg, ok ? 16 : 0);
        }
    };
    if (ntiles > 0)
        load_kv(0, 0);
    fa_commit();

    float oacc[DT][4];
#pragma unroll
    for (int i = 0; i < DT; i++)
        oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f; /* rows g and g + 8 of this warp */
    int lr0, lr1, lc;
    ov_fa_c_elem(lane, 0, &lr0, &lc);
    ov_fa_c_elem(lane, 2, &lr1, &lc);
    const int row0 = q0 + warp * 16 + lr0, row1 = q0 + warp * 16 + lr1; /* this lane's two rows */
    int qr, qc, kr, kc_, vr, vc;
    ov_fa_q_addr(lane, &qr, &qc);
    ov_fa_k_addr(lane, &kr, &kc_);
    ov_fa_v_addr(lane, &vr, &vc);
    const uint16_t *qw = qsm + (warp * 16 + qr) * DS + qc;

    for (int j = 0; j < ntiles; j++) {
        if (j + 1 < ntiles)
            load_kv(j + 1, (j + 1) & 1);
        fa_commit();
        fa_wait<1>(); /* everything but the group just issued: Q and tile j are in */
        __syncthreads();
        const uint16_t *ks = ksm + (j & 1) * FA_BN * DS, *vs = vsm + (j & 1) * FA_BN * DS;

        /* S = Q·Kᵀ: rows of this warp x FA_BN keys */
        float s[NT][4];
#pragma unroll
        for (int i = 0; i < NT; i++)
            s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t qa[4];
            fa_ldm4(qa, qw + kk * 16);
#pragma unroll
            for (int np = 0; np < FA_BN / 16; np++) {
                uint32_t kb[4];
                fa_ldm4(kb, ks + (np * 16 + kr) * DS + kk * 16 + kc_);
                fa_mma<F16>(s[2 * np], qa, kb[0], kb[1]);
                fa_mma<F16>(s[2 * np + 1], qa, kb[2], kb[3]);
            }
        }

        /* scale into the log2 domain, mask keys past Lk and (causal) past each row's position;
         * only tiles at the end or across this warp's diagonal need the compares */
        const int k0 = j * FA_BN;
        const bool need_mask = ov_fa_need_mask(k0, FA_BN, a.Lk, a.causal, a.qoff, q0 + warp * 16);
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int er, ec;
                ov_fa_c_elem(lane, e, &er, &ec);
                const int key = k0 + nt * 8 + ec, row = q0 + warp * 16 + er;
                float x = s[nt][e] * a.scale_log2;
                if (need_mask && !ov_fa_visible(key, row, a.Lk, a.causal, a.qoff))
                    x = -INFINITY;
                s[nt][e] = x;
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
        ov_fa_rescale(m0, mx0, &m0, &b0, &c0);
        ov_fa_rescale(m1, mx1, &m1, &b1, &c1);
        float ls0 = 0.0f, ls1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            s[nt][0] = exp2f(s[nt][0] - b0);
            s[nt][1] = exp2f(s[nt][1] - b0);
            s[nt][2] = exp2f(s[nt][2] - b1);
            s[nt][3] = exp2f(s[nt][3] - b1);
            ls0 += s[nt][0] + s[nt][1];
            ls1 += s[nt][2] + s[nt][3];
        }
        l0 = l0 * c0 + ls0; /* per-lane partial sums; the quad adds them at the end */
        l1 = l1 * c1 + ls1;
#pragma unroll
        for (int i = 0; i < DT; i++) {
            oacc[i][0] *= c0;
            oacc[i][1] *= c0;
            oacc[i][2] *= c1;
            oacc[i][3] *= c1;
        }

        /* O += P·V, P from registers: k16 slice kc = S tiles 2kc (cols 0-7) and 2kc+1 (cols 8-15) */
#pragma unroll
        for (int kc = 0; kc < FA_BN / 16; kc++) {
            uint32_t pa[4];
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const float *st = s[2 * kc + ov_fa_p_tile(r)];
                pa[r] = fa_pack<F16>(st[ov_fa_p_elem(r)], st[ov_fa_p_elem(r) + 1]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t vb[4];
                fa_ldm4t(vb, vs + (kc * 16 + vr) * DS + dp * 16 + vc);
                fa_mma<F16>(oacc[2 * dp], pa, vb[0], vb[1]);
                fa_mma<F16>(oacc[2 * dp + 1], pa, vb[2], vb[3]);
            }
        }
        __syncthreads(); /* buffer j & 1 is refilled by the next iteration's prefetch */
    }
    fa_wait<0>();

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    const int64_t ob0 = bi * a.os0 + h * a.os1 + (int64_t)row0 * a.os2, ob1 = ob0 + 8 * a.os2;
#pragma unroll
    for (int i = 0; i < DT; i++) {
        const int d = i * 8 + lc; /* elements 0,1 (row0) and 2,3 (row1) share columns lc, lc + 1 */
        if (row0 < a.Lq) {
            ov_st(a.o, a.odt, ob0 + d, oacc[i][0] * inv0);
            ov_st(a.o, a.odt, ob0 + d + 1, oacc[i][1] * inv0);
        }
        if (row1 < a.Lq) {
            ov_st(a.o, a.odt, ob1 + d, oacc[i][2] * inv1);
            ov_st(a.o, a.odt, ob1 + d + 1, oacc[i][3] * inv1);
        }
    }
}

template <int D, bool F16, int MINB>
static int fa_launch(ov_backend *be, const fa_args &a, int64_t B, int64_t Hq)
{
    const size_t sm = (size_t)(FA_BM + 4 * FA_BN) * (D + 8) * sizeof(uint16_t);
    int rc = ov_cuda_check(
        be, cudaFuncSetAttribute(k_flash<D, F16, MINB>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm),
        "attention", "cudaFuncSetAttribute(flash)");
    if (rc)
        return rc;
    dim3 grid((unsigned)a.n_qtiles, (unsigned)Hq, (unsigned)B);
    k_flash<D, F16, MINB><<<grid, FA_THREADS, sm, ov_cuda_of(be)->stream>>>(a);
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
    if (e && e[0] == '0')
        return 0;
    if (e && e[0] == '2')
        return 2;
    return 1;
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
    a.q = q->data;
    a.k = k->data;
    a.v = v->data;
    a.o = o->data;
    a.qs0 = q->stride[0];
    a.qs1 = q->stride[1];
    a.qs2 = q->stride[2];
    a.ks0 = k->stride[0];
    a.ks1 = k->stride[1];
    a.ks2 = k->stride[2];
    a.vs0 = v->stride[0];
    a.vs1 = v->stride[1];
    a.vs2 = v->stride[2];
    a.os0 = o->stride[0];
    a.os1 = o->stride[1];
    a.os2 = o->stride[2];
    a.Lq = (int)Lq;
    a.Lk = (int)k->shape[2];
    a.group = (int)(Hq / k->shape[1]);
    a.qoff = (int)p->q_pos_offset;
    a.causal = p->causal != 0;
    a.odt = o->dtype;
    a.n_qtiles = (int)((Lq + FA_BM - 1) / FA_BM);
    a.scale_log2 = p->scale * 1.4426950408889634f;
    ov_cuda_of(be)->flash_calls++;
    if (D == 64)
        return dt == OV_DTYPE_F16 ? fa_launch<64, true, 2>(be, a, B, Hq)
                                  : fa_launch<64, false, 2>(be, a, B, Hq);
    if (ov_cuda_of(be)->flash == 2)
        return dt == OV_DTYPE_F16 ? fa_launch<128, true, 2>(be, a, B, Hq)
                                  : fa_launch<128, false, 2>(be, a, B, Hq);
    return dt == OV_DTYPE_F16 ? fa_launch<128, true, 1>(be, a, B, Hq)
                              : fa_launch<128, false, 1>(be, a, B, Hq);
}
