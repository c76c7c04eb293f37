/* Lane -> matrix-element maps of flash_attn_cuda.cu (ldmatrix row addresses, mma C fragments, the
 * S -> P register reuse), in plain C so tests/test_cuda_plan.c can run one warp's tile through an
 * emulation of ldmatrix / mma.m16n8k16 as the PTX ISA defines them and compare with a plain
 * matrix product. */
#ifndef OV_CUDA_FLASH_LAYOUT_H
#define OV_CUDA_FLASH_LAYOUT_H

#include <math.h>

#ifdef __CUDACC__
#define OV_FL_HD __host__ __device__
#else
#define OV_FL_HD
#endif

/* ldmatrix.x4 of a 16x16 A tile (Q rows x head dims): the row / column this lane points at. */
static inline OV_FL_HD void ov_fa_q_addr(int lane, int *row, int *col)
{
    *row = lane % 16;
    *col = (lane / 16) * 8;
}

/* ldmatrix.x4 (no trans) of K rows [16 keys x 16 dims] giving the B fragments of two n8 key
 * tiles: registers 0,1 -> keys 0-7, registers 2,3 -> keys 8-15. */
static inline OV_FL_HD void ov_fa_k_addr(int lane, int *row, int *col)
{
    *row = (lane % 8) + (lane / 16) * 8;
    *col = ((lane / 8) % 2) * 8;
}

/* ldmatrix.x4.trans of V rows [16 keys x 16 dims] giving the B fragments of two n8 dim tiles:
 * registers 0,1 -> dims 0-7, registers 2,3 -> dims 8-15. */
static inline OV_FL_HD void ov_fa_v_addr(int lane, int *row, int *col)
{
    *row = (lane % 8) + ((lane / 8) % 2) * 8;
    *col = (lane / 16) * 8;
}

/* Accumulator element e (0..3) of a 16x8 mma tile held by lane: its row and column. */
static inline OV_FL_HD void ov_fa_c_elem(int lane, int e, int *row, int *col)
{
    *row = (lane >> 2) + (e >= 2 ? 8 : 0);
    *col = 2 * (lane & 3) + (e & 1);
}

/* P as the A operand of k16 slice kc: register r (0..3) packs accumulator elements
 * ov_fa_p_elem(r) and +1 of S tile 2·kc + ov_fa_p_tile(r). */
static inline OV_FL_HD int ov_fa_p_tile(int r)
{
    return r >> 1;
}

static inline OV_FL_HD int ov_fa_p_elem(int r)
{
    return (r & 1) * 2;
}

/* ---- the per-tile decisions of the kernel's loop (the test replays the loop with them) ---- */

/* Keys [0, kend) that any row of a CTA holding query rows [q0, q0 + qrows) may see. */
static inline OV_FL_HD int ov_fa_kend(int Lk, int causal, int qoff, int q0, int qrows)
{
    return causal && qoff + q0 + qrows < Lk ? qoff + q0 + qrows : Lk;
}

/* Key tile [k0, k0 + bn) needs per-element masks for rows from r0 on: it runs past Lk or (causal)
 * holds a key past the first row's position. Other tiles are fully visible to every row. */
static inline OV_FL_HD int ov_fa_need_mask(int k0, int bn, int Lk, int causal, int qoff, int r0)
{
    return k0 + bn > Lk || (causal && k0 + bn - 1 > qoff + r0);
}

/* ops.h: key j is visible to query i iff j < Lk and, when causal, j <= q_pos_offset + i. */
static inline OV_FL_HD int ov_fa_visible(int key, int row, int Lk, int causal, int qoff)
{
    return key < Lk && !(causal && key > qoff + row);
}

/* One online-softmax step in the log2 domain: running max m, this tile's max mx. *mn = max;
 * *base = the value exponents subtract (0 while nothing is visible, so exp2(-inf - base) = 0
 * and no inf - inf appears); *corr = what the old sum and accumulator are scaled by. */
static inline OV_FL_HD void ov_fa_rescale(float m, float mx, float *mn, float *base, float *corr)
{
    *mn = fmaxf(m, mx);
    *base = *mn == -INFINITY ? 0.0f : *mn;
    *corr = exp2f(m - *base);
}

#endif
