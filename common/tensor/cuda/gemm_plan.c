/* GEMM argument planning for the CUDA backend: row-major ops.h operands -> cuBLAS column-major
 * (m, n, k, transposes, leading dims, batch strides). Plain C so the CPU test proves it. */
#include "common/tensor/cuda/gemm_plan.h"

#include "common/error.h"

#define INT_DIM_MAX 0x7fffffffLL

static int fits_int(int64_t v)
{
    return v >= 0 && v <= INT_DIM_MAX;
}

/* Stride between consecutive rows when x's leading dims are flattened to rows of its last dim:
 * the stride of the innermost leading dim of size > 1, checked to be consistent for every
 * outer leading dim of size > 1. *rs = K when there is at most one row. Returns 0 or -1. */
static int flat_row_stride(const ov_tensor *x, int64_t K, int64_t *rs)
{
    int64_t stride = -1, span = 1; /* rows covered by the dims inside the current one */
    for (int i = x->ndim - 2; i >= 0; i--) {
        if (x->shape[i] == 1)
            continue;
        if (stride < 0)
            stride = x->stride[i];
        else if (x->stride[i] != stride * span)
            return -1;
        span *= x->shape[i];
    }
    *rs = stride < 0 ? K : stride;
    return 0;
}

int ov_gemm_plan_linear(ov_gemm_plan *p, const ov_tensor *y, const ov_tensor *x, const ov_tensor *w)
{
    const int64_t K = w->shape[1], N = w->shape[0];
    const int64_t M = K ? ov_tensor_nelem(x) / K : ov_tensor_nelem(y) / (N ? N : 1);
    if (M == 0 || N == 0)
        return 1;
    int64_t rs = K;
    if (flat_row_stride(x, K, &rs))
        return ov_tensor_fail(OV_EUNSUPP, "linear: x '%s' rows are not evenly strided (copy it first)",
                              x->name);
    if (M == 1)
        rs = K; /* one row: any stride is fine, cuBLAS only needs ldb >= k */
    if (rs < K || rs < 1)
        return ov_tensor_fail(OV_EUNSUPP,
                              "linear: x '%s' row stride %lld < %lld (broadcast or overlapping rows; copy it "
                              "first)",
                              x->name, (long long)rs, (long long)K);
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(rs))
        return ov_tensor_fail(OV_EUNSUPP, "linear: '%s' [%lld x %lld x %lld] exceeds cuBLAS int dims",
                              y->name, (long long)M, (long long)N, (long long)K);
    /* row-major y[M,N] = x[M,K]·W[N,K]ᵀ  <=>  column-major yᵀ[N,M] = W'[N,K]·x'[K,M] where the
     * column-major reading of row-major W [N,K] (ld K) is [K,N], so op(A) = T; x read as [K,M]
     * with ld = row stride, op(B) = N. */
    p->trans_a = 1;
    p->trans_b = 0;
    p->m = (int)N;
    p->n = (int)M;
    p->k = (int)K;
    p->lda = (int)(K ? K : 1);
    p->ldb = (int)(rs ? rs : 1);
    p->ldc = (int)N;
    p->stride_a = p->stride_b = p->stride_c = 0;
    p->batch = 1;
    return 0;
}

int ov_gemm_plan_matmul(ov_gemm_plan *p, const ov_tensor *y, const ov_tensor *a, const ov_tensor *b,
                        int trans_a, int trans_b)
{
    const int64_t B = y->shape[0], M = y->shape[1], N = y->shape[2];
    const int64_t K = trans_a ? a->shape[1] : a->shape[2];
    if (B == 0 || M == 0 || N == 0)
        return 1;
    /* leading dim (column-major) = row stride of the row-major matrix; with one row any value
     * >= the row length is valid, so use the row length */
    int64_t ldb_ = b->shape[1] > 1 ? b->stride[1] : b->shape[2];
    int64_t lda_ = a->shape[1] > 1 ? a->stride[1] : a->shape[2];
    if (ldb_ < b->shape[2] || lda_ < a->shape[2])
        return ov_tensor_fail(
            OV_EUNSUPP, "matmul: '%s' / '%s' rows overlap or broadcast (row stride < row length; copy first)",
            a->name, b->name);
    const int64_t sa = a->shape[0] == 1 ? 0 : a->stride[0], sb = b->shape[0] == 1 ? 0 : b->stride[0];
    if (sa < 0 || sb < 0)
        return ov_tensor_fail(OV_EUNSUPP, "matmul: negative batch stride");
    if (!fits_int(M) || !fits_int(N) || !fits_int(K) || !fits_int(B) || !fits_int(lda_) || !fits_int(ldb_))
        return ov_tensor_fail(OV_EUNSUPP, "matmul: '%s' exceeds cuBLAS int dims", y->name);
    /* row-major y[M,N] = op(a)[M,K]·op(b)[K,N]  <=>  column-major yᵀ[N,M] = op(b)ᵀ·op(a)ᵀ:
     * row-major b [K,N] is column-major [N,K] = op(b)ᵀ as stored (N), row-major b [N,K]
     * (trans_b) is column-major [K,N] (T); likewise a. */
    p->trans_a = trans_b ? 1 : 0;
    p->trans_b = trans_a ? 1 : 0;
    p->m = (int)N;
    p->n = (int)M;
    p->k = (int)K;
    p->lda = (int)(ldb_ ? ldb_ : 1);
    p->ldb = (int)(lda_ ? lda_ : 1);
    p->ldc = (int)N;
    p->stride_a = sb;
    p->stride_b = sa;
    p->stride_c = (long long)(M * N);
    p->batch = (int)B;
    return 0;
}

int64_t ov_conv_chunk(const ov_conv_geom *g, int groups, size_t esize, size_t col_bytes_max)
{
    const int64_t KK = g->C / groups * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    int64_t np = KK > 0 ? (int64_t)(col_bytes_max / ((size_t)KK * esize)) : P;
    if (np < 256)
        np = 256;
    if (np > P)
        np = P;
    return np;
}

int ov_gemm_plan_conv(ov_gemm_plan *p, const ov_conv_geom *g, int groups, int64_t O, int gi, int64_t p0,
                      int64_t cnt, int64_t *w_off, int64_t *y_off)
{
    const int64_t Og = O / groups, KK = g->C / groups * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    if (!fits_int(KK) || !fits_int(P) || !fits_int(Og) || !fits_int(cnt))
        return ov_tensor_fail(OV_EUNSUPP, "conv: [%lld x %lld x %lld] exceeds cuBLAS int dims", (long long)Og,
                              (long long)P, (long long)KK);
    /* row-major y_g[Og, cnt] (ld P) = W_g[Og, KK]·col[KK, cnt]  <=>  column-major
     * y_gᵀ[cnt, Og] = colᵀ[cnt, KK]·W_gᵀ[KK, Og]: col read column-major is [cnt, KK] (ld cnt),
     * W_g read column-major is [KK, Og] (ld KK); neither transposed. */
    p->trans_a = 0;
    p->trans_b = 0;
    p->m = (int)cnt;
    p->n = (int)Og;
    p->k = (int)KK;
    p->lda = (int)(cnt ? cnt : 1);
    p->ldb = (int)(KK ? KK : 1);
    p->ldc = (int)P;
    p->stride_a = p->stride_b = p->stride_c = 0;
    p->batch = 1;
    *w_off = (int64_t)gi * Og * KK;
    *y_off = (int64_t)gi * Og * P + p0;
    return 0;
}

int ov_im2col_fast_ok(const ov_conv_geom *g, int64_t KK, int64_t P)
{
    const int64_t lim = (int64_t)1 << 30, small = 65536;
    if (KK < 1 || KK > 65535 || P >= lim || g->kt * g->kh * g->kw >= lim)
        return 0;
    const int64_t v[] = {g->T, g->H, g->W, g->To * g->Ho * g->Wo};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 0 || v[i] >= lim)
            return 0;
    const int64_t sm[] = {g->kt, g->kh, g->kw, g->st, g->sh, g->sw, g->pt, g->ph, g->pw, g->dh, g->dw};
    for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++)
        if (sm[i] < 0 || sm[i] >= small)
            return 0;
    /* the largest products formed: o·stride + d·dilation below 2^31 */
    return g->To * g->st + g->kt < lim && g->Ho * g->sh + g->kh * g->dh < lim && g->Wo * g->sw + g->kw * g->dw < lim;
}

int ov_dense_strides(int ndim, const int64_t *shape, const int64_t *stride)
{
    int64_t want = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] == 0)
            return 1; /* nothing to address */
        if (shape[d] != 1 && stride[d] != want)
            return 0;
        want *= shape[d];
    }
    return 1;
}
