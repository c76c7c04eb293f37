/* CUDA GEMMs: linear (x·Wᵀ + b) and batched matmul through cuBLAS (bf16/f16 inputs with f32
 * accumulation, or exact f32); weights of another dtype (or with a scale) are converted on the
 * device into scratch first. A biased 16-bit linear goes through cuBLASLt with the bias in the
 * epilogue (gemm_lt_cuda.cu) where it accepts the shape; decode rows take gemv_cuda.cu.
 * The fused linears: linear_add accumulates into the residual (the GEMV's store, or the GEMM with
 * beta = 1 over y holding r: cuBLAS' C in, C out); linear_swiglu runs the GEMV's dual-matrix kernel
 * (1..2 rows) and otherwise the gate GEMM into y, the up GEMM into a temporary, then SwiGLU.
 * $OURVIDZ_CUDA_FUSE=0 runs both as the unfused op sequences they replace (for A/B timing; "add" /
 * "glu" keep one of the two fused). */
#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/gemm_plan.h"

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

/* y[m, n] += b[n]: rows over blockIdx.y (grid-stride), features over x; no division per element
 * (the 64-bit i % N it had cost SDXL's UNet more than its memory traffic: ~12 G biased outputs a
 * step at batch 12). */
__global__ void k_add_bias(void *y, int ydt, const void *b, int bdt, int64_t N, int64_t M)
{
    const int64_t col = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (col >= N)
        return;
    const float bv = ov_ld(b, bdt, col);
    for (int64_t r = blockIdx.y; r < M; r += gridDim.y)
        ov_st(y, ydt, r * N + col, ov_ld(y, ydt, r * N + col) + bv);
}

/* cuBLAS output types it can pair with the input type (compute 32F). */
static int out_ok(int in_dt, int out_dt)
{
    return out_dt == in_dt || (in_dt != OV_DTYPE_F32 && out_dt == OV_DTYPE_F32);
}

/* One planned cuBLAS call (gemm_plan.h): C = alpha·op(A)·op(B), all of dtype `it` except C. */
static int run_plan(ov_backend *be, const char *op, const ov_gemm_plan *p, float alpha, const void *A,
                    const void *B, cudaDataType_t it, void *C, cudaDataType_t ct, float beta)
{
    ov_cuda *c = ov_cuda_of(be);
    const cublasOperation_t ta = p->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                            tb = p->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (p->batch == 1)
        return ov_cuda_blas_check(be,
                                  cublasGemmEx(c->blas, ta, tb, p->m, p->n, p->k, &alpha, A, it, p->lda, B,
                                               it, p->ldb, &beta, C, ct, p->ldc, CUBLAS_COMPUTE_32F,
                                               CUBLAS_GEMM_DEFAULT),
                                  op, "cublasGemmEx");
    return ov_cuda_blas_check(be,
                              cublasGemmStridedBatchedEx(c->blas, ta, tb, p->m, p->n, p->k, &alpha, A, it,
                                                         p->lda, p->stride_a, B, it, p->ldb, p->stride_b,
                                                         &beta, C, ct, p->ldc, p->stride_c, p->batch,
                                                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                              op, "cublasGemmStridedBatchedEx");
}

/* Entry checks shared by the linear family (the device made current first). */
static int linear_enter(ov_backend *be, const char *op, const ov_tensor *y, const ov_tensor *x,
                        const ov_tensor *w, const ov_tensor *b)
{
    int rc = ov_cuda_enter_weighted(be, op, y, x, w, b);
    if (rc)
        return rc;
    if (!out_ok(x->dtype, y->dtype))
        return ov_tensor_fail(OV_EUNSUPP,
                              "%s: x '%s' %s -> y '%s' %s: this dtype pair is not supported on CUDA", op,
                              x->name, ov_dtype_name(x->dtype), y->name, ov_dtype_name(y->dtype));
    return 0;
}

/* y = x·Wᵀ + b (+ r: linear_add's residual, r->data may be y's). Checked by linear_enter. */
static int linear_run(ov_backend *be, const char *op, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                      const ov_tensor *b, const ov_tensor *r)
{
    ov_gemm_plan plan;
    int rc = ov_gemm_plan_linear(&plan, y, x, w);
    if (rc)
        return rc < 0 ? rc : 0; /* 1: nothing to compute */
    ov_cuda *c = ov_cuda_of(be);
    const int64_t N = plan.m, M = plan.n, K = plan.k;
    if (K > 0) {
        /* 1..8 rows (decode): the GEMV kernel, bias and residual fused (gemv_cuda.cu); 1 = not its case */
        rc = ov_cuda_gemv(be, y, x, w, b, r, NULL);
        if (rc <= 0) {
            c->fused_calls += !rc && r;
            return rc;
        }
    }
    /* cuBLAS accumulates into y (beta = 1): the residual goes there first unless it is y */
    if (r && r->data != y->data &&
        (rc = ov_cuda_check(
             be, cudaMemcpyAsync(y->data, r->data, ov_tensor_nbytes(y), cudaMemcpyDeviceToDevice, c->stream),
             op, "cudaMemcpyAsync(residual)")))
        return rc;
    const float beta = r ? 1.0f : 0.0f;
    if (K == 0) { /* y = b (or 0), + r */
        if (!r)
            rc = ov_cuda_check(be, cudaMemsetAsync(y->data, 0, (size_t)(M * N) * esize(y->dtype), c->stream),
                               op, "cudaMemsetAsync");
    } else {
        /* scratch: the weight converted to x's dtype (f32/f16/bf16/f8 with its scale, quantised) when
         * it is not already, then the bias in y's dtype for cuBLASLt's epilogue when it is not */
        const int conv_w = w->dtype != x->dtype || ov_cuda_scale_of(w) != 1.0f;
        const int lt_bias = b && c->lt_on && plan.batch == 1;
        const size_t wbytes = conv_w ? ((size_t)(N * K) * esize(x->dtype) + 255) / 256 * 256 : 0;
        const size_t bbytes = lt_bias && b->dtype != y->dtype ? (size_t)N * esize(y->dtype) : 0;
        void *scr = NULL;
        if (wbytes + bbytes && (rc = ov_cuda_scratch(be, wbytes + bbytes, &scr, op)))
            return rc;
        const void *wp = w->data;
        if (conv_w) {
            if ((rc = ov_cuda_weight_to(be, op, scr, x->dtype, w, N * K)))
                return rc;
            wp = scr;
        }
        c->fused_calls += r != NULL;
        if (lt_bias) {
            const void *bp = b->data;
            if (bbytes) {
                void *bt = (char *)scr + wbytes;
                if ((rc = ov_cuda_weight_to(be, op, bt, y->dtype, b, N)))
                    return rc;
                bp = bt;
            }
            rc = ov_cuda_gemm_bias_lt(be, &plan, wp, x->data, x->dtype, y->data, y->dtype, bp, beta);
            if (rc <= 0)
                return rc; /* done (bias and residual included), or failed */
        }
        rc = run_plan(be, op, &plan, 1.0f, wp, x->data, cu_type(x->dtype), y->data, cu_type(y->dtype), beta);
    }
    if (rc || !b)
        return rc;
    const dim3 grid((unsigned)((N + THREADS - 1) / THREADS), (unsigned)(M < 65535 ? M : 65535));
    k_add_bias<<<grid, THREADS, 0, c->stream>>>(y->data, y->dtype, b->data, b->dtype, N, M);
    return ov_cuda_launched(be, op);
}

int ov_cuda_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    int rc = linear_enter(be, "linear", y, x, w, b);
    return rc ? rc : linear_run(be, "linear", y, x, w, b, NULL);
}

/* The unfused paths' [M, N] intermediate: the backend's own buffer, grown on demand (the old one
 * freed in stream order, like ov_cuda_scratch) and never the scratch, which linear_run's weight
 * conversion uses in between. Freed at close. */
static int fuse_tmp(ov_backend *be, size_t bytes, void **out, const char *op)
{
    ov_cuda *c = ov_cuda_of(be);
    *out = NULL;
    if (c->fuse_tmp && bytes <= c->fuse_tmp_bytes) {
        *out = c->fuse_tmp;
        return 0;
    }
    if (c->fuse_tmp) {
        int rc = ov_cuda_check(be, cudaFreeAsync(c->fuse_tmp, c->stream), op, "cudaFreeAsync(fuse tmp)");
        c->fuse_tmp = NULL;
        c->fuse_tmp_bytes = 0;
        if (rc)
            return rc;
    }
    const size_t want = bytes < (1u << 20) ? (1u << 20) : bytes;
    void *p = NULL;
    int rc = ov_cuda_check(be, cudaMallocAsync(&p, want, c->stream), op, "cudaMallocAsync(fuse tmp)");
    if (rc)
        return rc;
    c->fuse_tmp = p;
    c->fuse_tmp_bytes = want;
    *out = p;
    return 0;
}

int ov_cuda_linear_add(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                       const ov_tensor *b, const ov_tensor *r)
{
    const char *op = "linear_add";
    int rc = linear_enter(be, op, y, x, w, b);
    if (!rc)
        rc = ov_cuda_need_float(op, r, 0);
    if (rc)
        return rc;
    if (ov_cuda_of(be)->fuse & OV_CUDA_FUSE_ADD)
        return linear_run(be, op, y, x, w, b, r);
    /* unfused: the linear into y (a temporary when y is the residual), then the add kernel */
    if (ov_tensor_nelem(y) == 0)
        return 0;
    ov_tensor t = *y;
    if (r->data == y->data && (rc = fuse_tmp(be, ov_tensor_nbytes(y), &t.data, op)))
        return rc;
    if ((rc = linear_run(be, op, &t, x, w, b, NULL)))
        return rc;
    return t.data == y->data ? ov_cuda_binary(be, y, y, r, OV_BINARY_ADD)
                             : ov_cuda_binary(be, y, r, &t, OV_BINARY_ADD);
}

int ov_cuda_linear_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate,
                          const ov_tensor *w_up)
{
    const char *op = "linear_swiglu";
    int rc = linear_enter(be, op, y, x, w_gate, NULL);
    if (!rc)
        rc = ov_cuda_need_weight(op, w_up);
    if (rc)
        return rc;
    if (ov_tensor_nelem(y) == 0)
        return 0;
    ov_cuda *c = ov_cuda_of(be);
    if ((c->fuse & OV_CUDA_FUSE_GLU) && w_gate->shape[1] > 0) {
        /* 1..2 rows: both projections in one pass over the two weights (gemv_cuda.cu) */
        rc = ov_cuda_gemv(be, y, x, w_gate, NULL, NULL, w_up);
        if (rc <= 0) {
            c->fused_calls += !rc;
            return rc;
        }
    }
    /* gate into y, up into the temporary, SwiGLU in place (y may alias gate) */
    ov_tensor up = *y;
    if ((rc = fuse_tmp(be, ov_tensor_nbytes(y), &up.data, op)))
        return rc;
    if (!rc)
        rc = linear_run(be, op, y, x, w_gate, NULL, NULL);
    if (!rc)
        rc = linear_run(be, op, &up, x, w_up, NULL, NULL);
    if (!rc)
        rc = ov_cuda_swiglu(be, y, y, &up);
    return rc;
}

/* Row-major y[i] = alpha·op(a[i])·op(b[i]) is column-major yᵀ = op(b)ᵀ·op(a)ᵀ: b is cuBLAS's A
 * (gemm_plan.c). */
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
    /* A contiguous b of another float dtype (a weight kept in f32, e.g. SDXL's te2 text_projection,
     * used as x @ P) is converted to a's dtype in scratch first, as linear does with its weights;
     * same element layout, so the plan is unchanged. */
    ov_tensor bc = *b;
    if (a->dtype != b->dtype && ov_tensor_is_contiguous(b) && out_ok(a->dtype, y->dtype)) {
        void *tmp = NULL;
        const int64_t n = ov_tensor_nelem(b);
        rc = ov_cuda_scratch(be, (size_t)n * esize(a->dtype), &tmp, op);
        if (!rc)
            rc = ov_cuda_weight_to(be, op, tmp, a->dtype, b, n);
        if (rc)
            return rc;
        bc.data = tmp;
        bc.dtype = a->dtype;
        bc.scale = 1.0f;
    }
    if (a->dtype != bc.dtype || !out_ok(a->dtype, y->dtype))
        return ov_tensor_fail(
            OV_EUNSUPP, "matmul: '%s' %s · '%s' %s -> '%s' %s: dtype mix not supported on CUDA", a->name,
            ov_dtype_name(a->dtype), b->name, ov_dtype_name(b->dtype), y->name, ov_dtype_name(y->dtype));
    ov_gemm_plan plan;
    rc = ov_gemm_plan_matmul(&plan, y, a, &bc, trans_a, trans_b);
    if (rc)
        return rc < 0 ? rc : 0;
    if (plan.k == 0)
        return ov_cuda_check(be, cudaMemsetAsync(y->data, 0, ov_tensor_nbytes(y), ov_cuda_of(be)->stream), op,
                             "cudaMemsetAsync");
    return run_plan(be, op, &plan, alpha, bc.data, a->data, cu_type(a->dtype), y->data, cu_type(y->dtype),
                    0.0f);
}
