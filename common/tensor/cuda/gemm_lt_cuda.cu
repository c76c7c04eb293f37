/* linear's y = x·Wᵀ + b through cuBLASLt with the bias added in the GEMM's epilogue
 * (CUBLASLT_EPILOGUE_BIAS: the bias vector broadcast along the columns of the column-major result,
 * i.e. per output feature), instead of a GEMM and then a bias kernel reading and writing y again —
 * SDXL's UNet biases ~12 G outputs a step at batch 12 (cuBLASLt API: NVIDIA cuBLAS documentation,
 * "cuBLASLt API Reference"; PyTorch's at::cuda::blas::gemm_and_bias does the same).
 *
 * Descriptors, layouts and the heuristic's first algorithm are cached per GEMM shape on the backend
 * (OV_LT_CACHE entries, least recently added replaced); a shape cuBLASLt declines is remembered and
 * goes to the caller's cuBLAS + bias-kernel path (return 1). The bias must be in the output's dtype
 * (the caller converts it); the workspace is the cuBLAS handle's (same stream, so never in use by
 * two calls at once). linear_add passes beta = 1 with the residual already in C (C == D, the same
 * layout: cuBLASLt's in-place case); such shapes are cached apart, so a decline there never turns
 * the plain biased linear of the same shape away from the epilogue. */
#include <string.h>

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/gemm_plan.h"

struct ov_lt_entry {
    int used, ok;
    int m, n, k, lda, ldb, ldc, ta, tb;
    int acc;        /* beta = 1 (C read) */
    uint32_t align; /* the pointers' common alignment, bytes (the heuristic's minimum) */
    cudaDataType_t it, ot;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
};

struct ov_lt {
    cublasLtHandle_t h;
    int next; /* the entry the next new shape takes */
    struct ov_lt_entry e[OV_LT_CACHE];
};

static void entry_free(struct ov_lt_entry *e)
{
    if (e->op)
        (void)cublasLtMatmulDescDestroy(e->op);
    if (e->la)
        (void)cublasLtMatrixLayoutDestroy(e->la);
    if (e->lb)
        (void)cublasLtMatrixLayoutDestroy(e->lb);
    if (e->lc)
        (void)cublasLtMatrixLayoutDestroy(e->lc);
    memset(e, 0, sizeof *e);
}

void ov_cuda_lt_close(ov_cuda *c)
{
    struct ov_lt *lt = c->lt;
    if (!lt)
        return;
    for (int i = 0; i < OV_LT_CACHE; i++)
        entry_free(&lt->e[i]);
    if (lt->h)
        (void)cublasLtDestroy(lt->h);
    free(lt);
    c->lt = NULL;
}

/* Build the descriptors and ask the heuristic for one algorithm: 1 when cuBLASLt can run it. */
static int entry_make(struct ov_lt *lt, struct ov_lt_entry *e, size_t ws_bytes)
{
    const cublasOperation_t ta = e->ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = e->tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    const cudaDataType_t bt = e->ot;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res;
    int nres = 0;
    memset(&res, 0, sizeof res);
    int ok = cublasLtMatmulDescCreate(&e->op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt) ==
                 CUBLAS_STATUS_SUCCESS &&
             /* op(A) is m x k, op(B) k x n: stored (rows, cols) swapped when transposed */
             cublasLtMatrixLayoutCreate(&e->la, e->it, e->ta ? e->k : e->m, e->ta ? e->m : e->k, e->lda) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&e->lb, e->it, e->tb ? e->n : e->k, e->tb ? e->k : e->n, e->ldb) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&e->lc, e->ot, e->m, e->n, e->ldc) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                  sizeof ws_bytes) == CUBLAS_STATUS_SUCCESS &&
             /* only algorithms that work at the pointers' alignment (the default assumes 256 bytes) */
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &e->align,
                                                  sizeof e->align) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &e->align,
                                                  sizeof e->align) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &e->align,
                                                  sizeof e->align) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &e->align,
                                                  sizeof e->align) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulAlgoGetHeuristic(lt->h, e->op, e->la, e->lb, e->lc, e->lc, pref, 1, &res, &nres) ==
                 CUBLAS_STATUS_SUCCESS &&
             nres > 0 && res.state == CUBLAS_STATUS_SUCCESS;
    if (pref)
        (void)cublasLtMatmulPreferenceDestroy(pref);
    if (ok)
        e->algo = res.algo;
    return ok;
}

int ov_cuda_gemm_bias_lt(ov_backend *be, const ov_gemm_plan *p, const void *A, const void *B, int in_dt,
                         void *C, int out_dt, const void *bias, float beta)
{
    const int acc = beta != 0.0f;
    ov_cuda *c = ov_cuda_of(be);
    if (!c->lt_on || p->batch != 1 || (in_dt != OV_DTYPE_BF16 && in_dt != OV_DTYPE_F16) ||
        (out_dt != in_dt && out_dt != OV_DTYPE_F32) || ((uintptr_t)bias % 16) != 0)
        return 1;
    if (!c->lt) {
        struct ov_lt *lt = (struct ov_lt *)calloc(1, sizeof *lt);
        if (!lt || cublasLtCreate(&lt->h) != CUBLAS_STATUS_SUCCESS) {
            free(lt);
            c->lt_on = 0; /* no cuBLASLt here: the plain path from now on */
            (void)cudaGetLastError();
            return 1;
        }
        c->lt = lt;
    }
    struct ov_lt *lt = c->lt;
    uint32_t align = 256;
    const uintptr_t ptrs[3] = {(uintptr_t)A, (uintptr_t)B, (uintptr_t)C};
    for (int i = 0; i < 3; i++)
        while (align > 1 && ptrs[i] % align)
            align /= 2;
    const cudaDataType_t it = in_dt == OV_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF,
                         ot = out_dt == OV_DTYPE_F32 ? CUDA_R_32F : it;
    struct ov_lt_entry *e = NULL;
    for (int i = 0; i < OV_LT_CACHE && !e; i++) {
        struct ov_lt_entry *x = &lt->e[i];
        if (x->used && x->m == p->m && x->n == p->n && x->k == p->k && x->lda == p->lda && x->ldb == p->ldb &&
            x->ldc == p->ldc && x->ta == p->trans_a && x->tb == p->trans_b && x->it == it && x->ot == ot &&
            x->align == align && x->acc == acc)
            e = x;
    }
    if (!e) {
        e = &lt->e[lt->next];
        lt->next = (lt->next + 1) % OV_LT_CACHE;
        entry_free(e);
        e->used = 1;
        e->m = p->m;
        e->n = p->n;
        e->k = p->k;
        e->lda = p->lda;
        e->ldb = p->ldb;
        e->ldc = p->ldc;
        e->ta = p->trans_a;
        e->tb = p->trans_b;
        e->it = it;
        e->ot = ot;
        e->align = align;
        e->acc = acc;
        e->ok = entry_make(lt, e, OV_CUDA_BLAS_WS_BYTES);
        (void)cudaGetLastError();
    }
    if (!e->ok)
        return 1;
    if (cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) !=
        CUBLAS_STATUS_SUCCESS)
        return 1;
    const float one = 1.0f;
    cublasStatus_t s = cublasLtMatmul(lt->h, e->op, &one, A, e->la, B, e->lb, &beta, C, e->lc, C, e->lc,
                                      &e->algo, c->blas_ws, OV_CUDA_BLAS_WS_BYTES, c->stream);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE) {
        e->ok = 0; /* declined at run time: this shape takes the plain path from now on */
        (void)cudaGetLastError();
        return 1;
    }
    c->lt_calls++;
    return ov_cuda_blas_check(be, s, "linear", "cublasLtMatmul");
}
