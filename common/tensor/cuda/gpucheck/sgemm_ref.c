/* A plain-C cblas_sgemm for the standalone GPU-check build when the GPU machine has no OpenBLAS:
 * the CPU backend is only the reference there (small test shapes), so clear loops suffice. beta 0
 * never reads C (outputs are NaN-poisoned by the tests). */
#include "cblas.h"

#include <stddef.h>

static float at(const float *m, int ld, int trans, int r, int c)
{
    return trans ? m[(size_t)c * ld + r] : m[(size_t)r * ld + c];
}

void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
                 const int M, const int N, const int K, const float alpha, const float *A, const int lda,
                 const float *B, const int ldb, const float beta, float *C, const int ldc)
{
    if (order == CblasColMajor) { /* Cᵀ = op(B)ᵀ·op(A)ᵀ in row-major terms */
        cblas_sgemm(CblasRowMajor, tb, ta, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
        return;
    }
    const int tra = ta != CblasNoTrans, trb = tb != CblasNoTrans;
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (!tra && trb) { /* x·Wᵀ: dot products of contiguous rows */
            const float *a = A + (size_t)i * lda;
            for (int j = 0; j < N; j++) {
                const float *b = B + (size_t)j * ldb;
                float s = 0.0f;
                for (int k = 0; k < K; k++)
                    s += a[k] * b[k];
                c[j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[j]);
            }
        } else if (!trb) { /* rows of B are contiguous: accumulate axpy-style */
            for (int j = 0; j < N; j++)
                c[j] = beta == 0.0f ? 0.0f : beta * c[j];
            for (int k = 0; k < K; k++) {
                const float a = alpha * at(A, lda, tra, i, k);
                const float *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++)
                    c[j] += a * b[j];
            }
        } else {
            for (int j = 0; j < N; j++) {
                float s = 0.0f;
                for (int k = 0; k < K; k++)
                    s += at(A, lda, 1, i, k) * at(B, ldb, 1, k, j);
                c[j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[j]);
            }
        }
    }
}

static int g_threads = 1;

int openblas_get_num_threads(void)
{
    return g_threads;
}

void openblas_set_num_threads(int n)
{
    g_threads = n;
}

char *openblas_get_config(void)
{
    static char cfg[] = "reference sgemm (gpucheck shim, no OpenBLAS)";
    return cfg;
}

char *openblas_get_corename(void)
{
    static char core[] = "none";
    return core;
}
