/* Strided-view index math for the CUDA element-wise kernels (plain C, no CUDA headers; built into
 * ov_tensor_cuda and, without nvcc, into tests/test_cuda_plan.c):
 *  - ov_view_simplify: drop size-1 dims and merge adjacent dims that are contiguous with each other,
 *    so a view addresses the same elements through fewer divisions (a [12, 320, 1, 1] bias broadcast
 *    over [12, 320, 128, 128] becomes [3840, 16384] with strides [1, 0]);
 *  - ov_fdiv: division by a runtime constant with a multiply-high, an add and a shift (the
 *    Granlund–Montgomery round-up method, as PyTorch's IntDivider), for n < 2^31;
 *  - ov_ix32: a view whose every linear index and storage offset fits 32 bits, addressed with those
 *    divisors instead of 64-bit div/mod (tens of instructions each on a GPU).
 * The 64-bit path stays for views that do not fit. */
#ifndef OV_CUDA_INDEX_PLAN_H
#define OV_CUDA_INDEX_PLAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/tensor/tensor.h"

#ifdef __CUDACC__
#define OV_IX_HD __host__ __device__
#else
#define OV_IX_HD
#endif

/* q = n / d for 0 <= n < 2^31 and 1 <= d <= 2^31. */
typedef struct ov_fdiv {
    uint32_t d, m, s;
} ov_fdiv;

ov_fdiv ov_fdiv_make(uint32_t d);

static inline OV_IX_HD uint32_t ov_fdiv_q(ov_fdiv f, uint32_t n)
{
#ifdef __CUDA_ARCH__
    const uint32_t hi = __umulhi(n, f.m);
#else
    const uint32_t hi = (uint32_t)(((uint64_t)n * f.m) >> 32);
#endif
    return (hi + n) >> f.s;
}

/* In place: remove size-1 dims and merge dim d into d+1 where stride[d] == shape[d+1]·stride[d+1]
 * (the pair walks memory as one dim). The row-major linear index → storage offset map is unchanged.
 * Returns the new ndim (>= 1: a view of one element becomes shape [1], stride [0]); a view with a
 * zero-size dim is returned as shape [0]. */
int ov_view_simplify(int ndim, int64_t *shape, int64_t *stride);

/* A view addressed with 32-bit math. div[d] divides by shape[d]; dims are innermost last. */
typedef struct ov_ix32 {
    int ndim;
    int dense; /* offset == linear index */
    ov_fdiv div[OV_TENSOR_MAX_DIMS];
    int32_t stride[OV_TENSOR_MAX_DIMS];
} ov_ix32;

/* Fill *o from a view (simplified first, on a copy): 1 when the element count and every storage
 * offset (negative strides included) stay below 2^31, else 0 (*o unusable: take the 64-bit path). */
int ov_ix32_make(ov_ix32 *o, int ndim, const int64_t *shape, const int64_t *stride);

/* Storage offset of linear index li (< the view's element count). On the device the loop is
 * unrolled over every possible dim so each array index is a constant: a dynamic index into a kernel
 * parameter makes the compiler copy the whole view to per-thread local memory (a 200-300 byte stack
 * frame per thread, which made a dense add on an H100 ten times slower than its memory traffic). */
static inline OV_IX_HD int32_t ov_ix32_off(const ov_ix32 *v, uint32_t li)
{
    if (v->dense)
        return (int32_t)li;
    int32_t off = 0;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
    for (int d = OV_TENSOR_MAX_DIMS - 1; d > 0; d--) {
        if (d < v->ndim) {
            const uint32_t q = ov_fdiv_q(v->div[d], li);
            off += (int32_t)(li - q * v->div[d].d) * v->stride[d];
            li = q;
        }
    }
    return off + (int32_t)li * v->stride[0];
}

/* The batched 2-D transpose a tiled copy kernel serves: after simplification the source is
 * [n, r, c] with strides [sn, 1, sc] (rows contiguous in the source's inner dim r, the destination's
 * inner dim c strided) — [B, C, H, W] read as [B, H·W, C] and back. Fills n, r, c and the strides;
 * 1 when src (ndim, shape, stride) is such a view with every offset < 2^31 and n <= 65535. */
typedef struct ov_transpose_plan {
    int32_t n, r, c;
    int32_t sn, sc;
} ov_transpose_plan;

int ov_transpose_plan_of(ov_transpose_plan *t, int ndim, const int64_t *shape, const int64_t *stride);

#ifdef __cplusplus
}
#endif

#endif
