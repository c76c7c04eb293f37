/* CUDA GEMMs: linear (x·Wᵀ + b) and batched matmul through cuBLAS (bf16/f16 inputs with f32
 * accumulation, or exact f32); weights of another dtype (or with a scale) are converted on the
 * device into scratch first. */
#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256

static cudaDataType_t cu_type(int dt)
{
    switch (dt) {
    case OV_DTYPE_F16: return CUDA_R_16F;
    case OV_DTYPE_BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
    }
}

static size_t esize(int dt)
{
    return dt == OV_DTYPE_F32 ? 4 : 2;
}

__global__ void k_convert(void *dst, int ddt, const void *src, int sdt, float scale, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(dst, ddt, i, ov_ld(src, sdt, i) * scale);
}

__global__ void k_add_bias(void *y, int ydt, const void *b, int bdt, int64_t N, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(y, ydt, i, ov_ld(y, ydt, i) + ov_ld(b, bdt, i % N));
}

/* cuBLAS output types it can pair with the input type (compute 32F). */
static int out_ok(int in_dt, int out_dt)
{
    return out_dt == in_dt || (in_dt != OV_DTYPE_F32 && out_dt == OV_DTYPE_F32);
}

static int too_big(int64_t v)
{
    return v > 0x7fffffffLL;
}

/* Stride between rows of x flattened to [M, K] (ops.c guarantees one stride for size>1 dims). */
static int64_t row_stride(const ov_tensor *x, int64_t K)
{
    for (int i = x->ndim - 2; i >= 0; i--)
        if (x->shape[i] > 1)
            return x->stride[i] < K ? K : x->stride[i];
    return K;
}

int ov_cuda_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    const char *op = "linear";
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, w, 1);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    ov_cuda *c = ov_cuda_of(be);
    const int64_t K = w->shape[1], N = w->shape[0];
    const int64_t M = K ? ov_tensor_nelem(x) / K : ov_tensor_nelem(y) / (N ? N : 1);
    if (M == 0 || N == 0)
        return 0;
    if (!out_ok(x->dtype, y->dtype))
        return ov_tensor_fail(OV_EUNSUPP,
                              "linear: x '%s' %s -> y '%s' %s: this dtype pair is not supported on CUDA",
                              x->name, ov_dtype_name(x->dtype), y->name, ov_dtype_name(y->dtype));
    if (too_big(M) || too_big(N) || too_big(K))
        return ov_tensor_fail(OV_EUNSUPP, "linear: '%s' [%lld x %lld x %lld] exceeds cuBLAS int dims",
                              y->name, (long long)M, (long long)N, (long long)K);
    if (K == 0) { /* y = b (or 0) */
        rc = ov_cuda_check(be, cudaMemsetAsync(y->data, 0, (size_t)(M * N) * esize(y->dtype), c->stream), op,
                           "cudaMemsetAsync");
    } else {
        const void *wp = w->data;
        float ws = w->scale == 0.0f ? 1.0f : w->scale;
        if (w->dtype != x->dtype || ws != 1.0f) {
            void *tmp = NULL;
            rc = ov_cuda_scratch(be, (size_t)(N * K) * esize(x->dtype), &tmp, op);
            if (rc)
                return rc;
            k_convert<<<ov_cu_blocks(N * K, THREADS), THREADS, 0, c->stream>>>(tmp, x->dtype, w->data,
                                                                               w->dtype, ws, N * K);
            rc = ov_cuda_launched(be, op);
            if (rc)
                return rc;
            wp = tmp;
        }
        const float one = 1.0f, zero = 0.0f;
        cudaDataType_t it = cu_type(x->dtype);
        rc = ov_cuda_blas_check(be,
                                cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &one,
                                             wp, it, (int)K, x->data, it, (int)row_stride(x, K), &zero,
                                             y->data, cu_type(y->dtype), (int)N, CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT),
                                op, "cublasGemmEx");
    }
    if (rc || !b)
        return rc;
    k_add_bias<<<ov_cu_blocks(M * N, THREADS), THREADS, 0, c->stream>>>(y->data, y->dtype, b->data, b->dtype,
                                                                        N, M * N);
    return ov_cuda_launched(be, op);
}

/* Row-major y[i] = alpha·op(a[i])·op(b[i]) is column-major yᵀ = op(b)ᵀ·op(a)ᵀ: b is cuBLAS's A. */
int ov_cuda_matmul(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a,
                   int trans_b, float alpha)
{
    const char *op = "matmul";
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, a, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    if (rc)
        return rc;
    if (a->dtype != b->dtype || !out_ok(a->dtype, y->dtype))
        return ov_tensor_fail(
            OV_EUNSUPP, "matmul: '%s' %s · '%s' %s -> '%s' %s: dtype mix not supported on CUDA", a->name,
            ov_dtype_name(a->dtype), b->name, ov_dtype_name(b->dtype), y->name, ov_dtype_name(y->dtype));
    ov_cuda *c = ov_cuda_of(be);
    const int64_t B = y->shape[0], M = y->shape[1], N = y->shape[2];
    const int64_t K = trans_a ? a->shape[1] : a->shape[2];
    if (B == 0 || M == 0 || N == 0)
        return 0;
    if (too_big(M) || too_big(N) || too_big(K) || too_big(B))
        return ov_tensor_fail(OV_EUNSUPP, "matmul: '%s' exceeds cuBLAS int dims", y->name);
    if (K == 0)
        return ov_cuda_check(be,
                             cudaMemsetAsync(y->data, 0, (size_t)(B * M * N) * esize(y->dtype), c->stream),
                             op, "cudaMemsetAsync");
    /* leading dims: the row stride, or the row length when there is one row (any stride allowed) */
    int64_t lda_b = b->shape[1] > 1 ? b->stride[1] : b->shape[2];
    int64_t lda_a = a->shape[1] > 1 ? a->stride[1] : a->shape[2];
    if (lda_b < b->shape[2])
        lda_b = b->shape[2];
    if (lda_a < a->shape[2])
        lda_a = a->shape[2];
    long long sb = b->shape[0] == 1 ? 0 : b->stride[0], sa = a->shape[0] == 1 ? 0 : a->stride[0];
    const float zero = 0.0f;
    cudaDataType_t it = cu_type(a->dtype);
    return ov_cuda_blas_check(
        be,
        cublasGemmStridedBatchedEx(
            c->blas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M,
            (int)K, &alpha, b->data, it, (int)lda_b, sb, a->data, it, (int)lda_a, sa, &zero, y->data,
            cu_type(y->dtype), (int)N, (long long)(M * N), (int)B, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        op, "cublasGemmStridedBatchedEx");
}
