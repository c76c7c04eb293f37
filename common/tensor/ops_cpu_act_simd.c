/* CPU activations with AVX2: SwiGLU rows (silu(gate) · up) through an 8-wide exp. The scalar loop
 * spent ~5 % of a Qwen2.5-0.5B prefill in libm's expf (dev-2c, 2026-11-27 perf: 15 M SiLU values
 * per 128-token prefill).
 *
 * exp: Cephes' expf scheme (S. Moshier, Cephes Math Library, expf.c): x = n·ln2 + r, ln2 split in
 * two for an exact product, |r| <= ln2/2, e^r = 1 + r + r²·P(r) with P of degree 5, 2^n built in the
 * exponent bits. Inputs clamped to [-87.3, 88.0] so 2^n stays a normal float (above 88: +inf, so
 * silu(-inf) is NaN as with expf; between 88 and expf's overflow at 88.72 silu gives -0 for ~-3e-37).
 * Relative error ~1e-7
 * (1-2 ulp) against expf: SiLU's results match the scalar path to that, well inside every tolerance
 * that checks them (test_tensor_ops: the float64 reference; the Qwen goldens). */
#include "common/tensor/ops_cpu_simd.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(OV_CPU_NO_SIMD)
#include <immintrin.h>
#include <math.h>

#define OV_ACT_AVX2 __attribute__((target("avx2,fma")))

OV_ACT_AVX2 static inline __m256 exp8(__m256 x0)
{
    /* above 88 the result is +inf (so silu(-inf) = -inf / inf = NaN, as expf and torch give it);
     * NaN passes through the clamp as a finite value but the caller divides by it with x's NaN */
    const __m256 big = _mm256_cmp_ps(x0, _mm256_set1_ps(88.0f), _CMP_GT_OQ);
    const __m256 x = _mm256_min_ps(_mm256_max_ps(x0, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_blendv_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), _mm256_set1_ps(INFINITY), big);
}

OV_ACT_AVX2 static int64_t swiglu_avx2(const float *a, const float *g, float *y, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 gv = _mm256_loadu_ps(g + j);
        const __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, exp8(_mm256_sub_ps(zero, gv))));
        _mm256_storeu_ps(y + j, _mm256_mul_ps(s, _mm256_loadu_ps(a + j)));
    }
    return j;
}
#endif

int64_t ov_cpu_swiglu_row_simd(const float *a, const float *g, float *y, int64_t n)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(OV_CPU_NO_SIMD)
    if (ov_cpu_simd_level() == OV_CPU_SIMD_AVX2)
        return swiglu_avx2(a, g, y, n);
#else
    (void)a;
    (void)g;
    (void)y;
    (void)n;
#endif
    return 0;
}
