/* Strided-view index math for the CUDA element-wise kernels (index_plan.h). */
#include "common/tensor/cuda/index_plan.h"

#include <string.h>

#define LIM32 ((int64_t)1 << 31)

ov_fdiv ov_fdiv_make(uint32_t d)
{
    ov_fdiv f;
    f.d = d ? d : 1;
    uint32_t s = 0;
    while (s < 32 && ((uint64_t)1 << s) < f.d)
        s++;
    f.s = s;
    /* m = floor(2^32·(2^s − d) / d) + 1, below 2^32 since 2^(s−1) < d <= 2^s (s <= 31) */
    f.m = (uint32_t)(((((uint64_t)1 << s) - f.d) << 32) / f.d + 1);
    return f;
}

int ov_view_simplify(int ndim, int64_t *shape, int64_t *stride)
{
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 0) {
            shape[0] = 0;
            stride[0] = 0;
            return 1;
        }
        if (shape[d] == 1)
            continue;
        if (n > 0 && stride[n - 1] == shape[d] * stride[d]) { /* previous kept dim merges into this one */
            shape[n - 1] *= shape[d];
            stride[n - 1] = stride[d];
            continue;
        }
        shape[n] = shape[d];
        stride[n] = stride[d];
        n++;
    }
    if (n == 0) {
        shape[0] = 1;
        stride[0] = 0;
        n = 1;
    }
    return n;
}

/* Copy to scratch and simplify; the element count and the largest |offset| reached. */
static int simplified(int ndim, const int64_t *shape, const int64_t *stride, int64_t *sh, int64_t *st,
                      int64_t *count, int64_t *span)
{
    if (ndim < 0 || ndim > OV_TENSOR_MAX_DIMS)
        return -1;
    if (ndim == 0) {
        sh[0] = 1;
        st[0] = 0;
        ndim = 1;
    } else {
        memcpy(sh, shape, (size_t)ndim * sizeof *sh);
        memcpy(st, stride, (size_t)ndim * sizeof *st);
    }
    int n = ov_view_simplify(ndim, sh, st);
    int64_t c = 1, s = 0;
    for (int d = 0; d < n; d++) {
        if (sh[d] < 0 || sh[d] >= LIM32 || st[d] <= -LIM32 || st[d] >= LIM32)
            return -1;
        c *= sh[d];
        if (c >= LIM32)
            return -1;
        if (sh[d] > 0)
            s += (sh[d] - 1) * (st[d] < 0 ? -st[d] : st[d]);
        if (s >= LIM32)
            return -1;
    }
    *count = c;
    *span = s;
    return n;
}

int ov_ix32_make(ov_ix32 *o, int ndim, const int64_t *shape, const int64_t *stride)
{
    memset(o, 0, sizeof *o);
    int64_t sh[OV_TENSOR_MAX_DIMS], st[OV_TENSOR_MAX_DIMS], count = 0, span = 0;
    int n = simplified(ndim, shape, stride, sh, st, &count, &span);
    if (n < 1)
        return 0;
    o->ndim = n;
    int64_t want = 1;
    o->dense = 1;
    for (int d = n - 1; d >= 0; d--) {
        o->div[d] = ov_fdiv_make((uint32_t)(sh[d] > 0 ? sh[d] : 1));
        o->stride[d] = (int32_t)st[d];
        if (sh[d] != 1 && st[d] != want)
            o->dense = 0;
        want *= sh[d];
    }
    return 1;
}

int ov_transpose_plan_of(ov_transpose_plan *t, int ndim, const int64_t *shape, const int64_t *stride)
{
    memset(t, 0, sizeof *t);
    int64_t sh[OV_TENSOR_MAX_DIMS], st[OV_TENSOR_MAX_DIMS], count = 0, span = 0;
    int n = simplified(ndim, shape, stride, sh, st, &count, &span);
    if (n < 2 || n > 3 || count == 0)
        return 0;
    if (n == 2) { /* one batch item */
        sh[2] = sh[1];
        st[2] = st[1];
        sh[1] = sh[0];
        st[1] = st[0];
        sh[0] = 1;
        st[0] = 0;
    }
    /* source [n, r, c]: r contiguous, c strided by at least a full r run (a real transpose) */
    if (st[1] != 1 || st[2] < sh[1] || sh[0] > 65535 || st[0] < 0)
        return 0;
    t->n = (int32_t)sh[0];
    t->r = (int32_t)sh[1];
    t->c = (int32_t)sh[2];
    t->sn = (int32_t)st[0];
    t->sc = (int32_t)st[2];
    return 1;
}
