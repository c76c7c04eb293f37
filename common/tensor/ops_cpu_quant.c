/* CPU weight kernels: SIMD dequantisation of f16/bf16/f8/q8_0/q4_K/q6_K rows and the fused decode GEMV.
 *
 * Block layouts and the per-element dequantisation arithmetic follow ggml (ggml-org/ggml
 * src/ggml-common.h block_q8_0/block_q4_K/block_q6_K, src/ggml-quants.c dequantize_row_*), exactly
 * as common/tensor/dtype.c does, so every level produces the same f32 weights bit for bit. The
 * decode GEMV keeps activations in f32 for every weight type except q8_0: results then stay within
 * f32 summation error of a float64 reference.
 *
 * q8_0 at M <= 8 (decode) on AVX2: like ggml-cpu (ggml-quants.c quantize_row_q8_0 +
 * ggml-cpu/arch/x86/quants.c ggml_vec_dot_q8_0_q8_0) the activation row is itself quantised to
 * q8_0 blocks (d = max|x|/127 rounded to f16, q = round(x/d)) and each 32-element block is an
 * integer dot product (maddubs/madd), scaled by d_w·d_x and summed in f32. This reads the activation
 * as 1 byte per element and does 1/8 of the f32 work, so the kernel is bandwidth-bound again.
 * Numerics change: each x is off by at most d_x/2 = max|x_block|/254, so a row's result moves by at
 * most Σ_k |w_k|·max|x_block(k)|/254 from the f32-activation result — and it now matches llama.cpp's
 * own q8_0 decode arithmetic. ov_cpu_q8act_force(0) restores the f32-activation path.
 *
 * Runtime dispatch: the AVX2 functions carry __attribute__((target("avx2,fma,f16c"))) and run only
 * when the CPU has all three; everything else is portable C (also chosen at build time on other
 * architectures or with -DOV_CPU_NO_SIMD). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cpu_internal.h"
#include "common/tensor/dtype.h"
#include "common/tensor/ops_cpu_simd.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(OV_CPU_NO_SIMD)
#define OV_X86 1
#include <cpuid.h>
#include <immintrin.h>
#define OV_AVX2 __attribute__((target("avx2,fma,f16c")))
#else
#define OV_X86 0
#endif

#define PIECE 512 /* weights dequantised per step: 2 KB of f32, stays in L1 with the x rows */
#define MROWS 8   /* activation rows dotted per pass over the weights */

/* ---- dispatch ---- */

static int g_detected;
static pthread_once_t g_detect_once = PTHREAD_ONCE_INIT;
static atomic_int g_forced = -1;

static int cpu_has_avx2(void)
{
#if OV_X86
    /* clang's __builtin_cpu_supports does not know "f16c": CPUID.1:ECX bit 29 says it */
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29)))
        return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static void detect(void)
{
    const char *env = getenv("OURVIDZ_CPU_SIMD");
    int want_scalar = env && (strcmp(env, "scalar") == 0 || strcmp(env, "0") == 0);
    g_detected = !want_scalar && cpu_has_avx2() ? OV_CPU_SIMD_AVX2 : OV_CPU_SIMD_SCALAR;
}

int ov_cpu_simd_level(void)
{
    int f = atomic_load(&g_forced);
    if (f >= 0)
        return f;
    pthread_once(&g_detect_once, detect);
    return g_detected;
}

void ov_cpu_simd_force(int level)
{
    if (level == OV_CPU_SIMD_AVX2 && !cpu_has_avx2())
        level = OV_CPU_SIMD_SCALAR;
    atomic_store(&g_forced, level < 0 ? -1 : level);
}

const char *ov_cpu_simd_name(int level)
{
    return level == OV_CPU_SIMD_AVX2 ? "avx2" : "scalar";
}

/* ---- scalar ---- */

static float dot_scalar(const float *w, const float *x, int64_t n)
{
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        a0 += w[k] * x[k];
        a1 += w[k + 1] * x[k + 1];
        a2 += w[k + 2] * x[k + 2];
        a3 += w[k + 3] * x[k + 3];
    }
    for (; k < n; k++)
        a0 += w[k] * x[k];
    return (a0 + a1) + (a2 + a3);
}

static void dot_rows_scalar(const float *w, const float *x, int64_t ldx, int64_t M, int64_t n, float *acc)
{
    for (int64_t m = 0; m < M; m++)
        acc[m] += dot_scalar(w, x + m * ldx, n);
}

/* ---- AVX2 + FMA + F16C ---- */

#if OV_X86

OV_AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* acc[m] += Σ_k w[k]·x[m·ldx + k]: pairs of rows share each weight load; a lone row uses four
 * accumulators so the FMA latency is hidden. */
OV_AVX2 static void dot_rows_avx2(const float *w, const float *x, int64_t ldx, int64_t M, int64_t n,
                                  float *acc)
{
    int64_t m = 0;
    for (; m + 2 <= M; m += 2) {
        const float *x0 = x + m * ldx, *x1 = x0 + ldx;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
        int64_t k = 0;
        for (; k + 16 <= n; k += 16) {
            __m256 w0 = _mm256_loadu_ps(w + k), w1 = _mm256_loadu_ps(w + k + 8);
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + k), a0);
            a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + k + 8), a1);
            b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + k), b0);
            b1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + k + 8), b1);
        }
        for (; k + 8 <= n; k += 8) {
            __m256 w0 = _mm256_loadu_ps(w + k);
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + k), a0);
            b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + k), b0);
        }
        float s0 = hsum8(_mm256_add_ps(a0, a1)), s1 = hsum8(_mm256_add_ps(b0, b1));
        for (; k < n; k++) {
            s0 += w[k] * x0[k];
            s1 += w[k] * x1[k];
        }
        acc[m] += s0;
        acc[m + 1] += s1;
    }
    if (m < M) {
        const float *x0 = x + m * ldx;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t k = 0;
        for (; k + 32 <= n; k += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x0 + k), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(x0 + k + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 16), _mm256_loadu_ps(x0 + k + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 24), _mm256_loadu_ps(x0 + k + 24), a3);
        }
        for (; k + 8 <= n; k += 8)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x0 + k), a0);
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; k < n; k++)
            s += w[k] * x0[k];
        acc[m] += s;
    }
}

OV_AVX2 static inline float half_avx2(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

OV_AVX2 static void dq_f16_avx2(const uint8_t *s, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
    for (; i < n; i++)
        y[i] = half_avx2(s + 2 * i);
}

OV_AVX2 static void dq_bf16_avx2(const uint8_t *s, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++)
        y[i] = ov_bf16_to_f32((uint16_t)(s[2 * i] | s[2 * i + 1] << 8));
}

/* e4m3fn -> f16 bit pattern (sign, then exponent+mantissa shifted into place) is the value / 2^8,
 * subnormals included; the one NaN code (x111 1111) gets an all-ones exponent. */
OV_AVX2 static void dq_f8_e4m3_avx2(const uint8_t *s, float *y, int64_t n)
{
    const __m256i m7f = _mm256_set1_epi16(0x7f), m80 = _mm256_set1_epi16(0x80),
                  nan = _mm256_set1_epi16(0x7e00);
    const __m256 k256 = _mm256_set1_ps(256.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(s + i)));
        __m256i mag = _mm256_and_si256(v, m7f);
        __m256i h =
            _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(v, m80), 8), _mm256_slli_epi16(mag, 7));
        h = _mm256_or_si256(h, _mm256_and_si256(_mm256_cmpeq_epi16(mag, m7f), nan));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), k256));
        _mm256_storeu_ps(y + i + 8, _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), k256));
    }
    for (; i < n; i++)
        y[i] = ov_f8_e4m3_to_f32(s[i]);
}

/* block_q8_0: half d; int8 qs[32]. y = (float)q · d. */
OV_AVX2 static void dq_q8_0_avx2(const uint8_t *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i += 32, b += 34, y += 32) {
        __m256 d = _mm256_set1_ps(half_avx2(b));
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + 8 * c)));
            _mm256_storeu_ps(y + 8 * c, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

/* get_scale_min_k4 (ggml-quants.c): 6-bit scale and min of sub-block j from the 12 packed bytes. */
static inline void q4k_scale_min(int j, const uint8_t *q, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* block_q4_K: half d, dmin; u8 scales[12]; u8 qs[128]. y = d·sc·q - dmin·m per 32-element sub-block. */
OV_AVX2 static void dq_q4_k_avx2(const uint8_t *b, float *y, int64_t n)
{
    const __m256i lo4 = _mm256_set1_epi32(0xf);
    for (int64_t i = 0; i < n; i += 256, b += 144) {
        float d = half_avx2(b), dmin = half_avx2(b + 2);
        const uint8_t *scales = b + 4, *q = b + 16;
        for (int j = 0; j < 4; j++, q += 32, y += 64) {
            int sc, m;
            q4k_scale_min(2 * j, scales, &sc, &m);
            __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            q4k_scale_min(2 * j + 1, scales, &sc, &m);
            __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * c)));
                __m256 ql = _mm256_cvtepi32_ps(_mm256_and_si256(v, lo4));
                __m256 qh = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
                _mm256_storeu_ps(y + 8 * c, _mm256_sub_ps(_mm256_mul_ps(d1, ql), m1));
                _mm256_storeu_ps(y + 32 + 8 * c, _mm256_sub_ps(_mm256_mul_ps(d2, qh), m2));
            }
        }
    }
}

/* Weights l0..l0+7 of each of the four 32-element quarters of a q6_K half-block (ql[64], qh[32],
 * sc[8] of that half): w[k] = (d·sc)·(q - 32) for elements l0 + 32k .. +7. Shared by the
 * dequantiser and the dot kernel so both give the same values. */
OV_AVX2 static inline __attribute__((always_inline)) void
q6k_weights8(const uint8_t *ql, const uint8_t *qh, const int8_t *sc, float d, int l0, __m256 w[4])
{
    const __m256i lo4 = _mm256_set1_epi32(0xf), three = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
    const int is = l0 / 16;
    __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + l0)));
    __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(ql + l0 + 32)));
    __m256i hb = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + l0)));
    __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, lo4), _mm256_slli_epi32(_mm256_and_si256(hb, three), 4));
    __m256i q2 = _mm256_or_si256(_mm256_and_si256(c, lo4),
                                 _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hb, 2), three), 4));
    __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(a, 4),
                                 _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hb, 4), three), 4));
    __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_srli_epi32(hb, 6), 4));
    const __m256i q[4] = {q1, q2, q3, q4};
    for (int k = 0; k < 4; k++)
        w[k] = _mm256_mul_ps(_mm256_set1_ps(d * (float)sc[is + 2 * k]),
                             _mm256_cvtepi32_ps(_mm256_sub_epi32(q[k], k32)));
}

/* block_q6_K: u8 ql[128]; u8 qh[64]; int8 scales[16]; half d. y = (d·sc)·(q - 32). */
OV_AVX2 static void dq_q6_k_avx2(const uint8_t *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i += 256, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = half_avx2(b + 208);
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l0 = 0; l0 < 32; l0 += 8) {
                __m256 w[4];
                q6k_weights8(ql, qh, sc, d, l0, w);
                for (int k = 0; k < 4; k++)
                    _mm256_storeu_ps(y + l0 + 32 * k, w[k]);
            }
        }
    }
}

/* 1 if dtype has an AVX2 dequantiser (then it ran), 0 to fall back to the scalar one. */
static int dequant_avx2(int dtype, const uint8_t *s, float *y, int64_t n)
{
    switch (dtype) {
    case OV_DTYPE_F16: dq_f16_avx2(s, y, n); return 1;
    case OV_DTYPE_BF16: dq_bf16_avx2(s, y, n); return 1;
    case OV_DTYPE_F8_E4M3: dq_f8_e4m3_avx2(s, y, n); return 1;
    case OV_DTYPE_Q8_0: dq_q8_0_avx2(s, y, n); return 1;
    case OV_DTYPE_Q4_K: dq_q4_k_avx2(s, y, n); return 1;
    case OV_DTYPE_Q6_K: dq_q6_k_avx2(s, y, n); return 1;
    default: return 0;
    }
}

/* ---- fused dot kernels: weights converted in registers, never stored (f16, bf16, f8, q8_0) ---- */

/* 8 weights of a plain type at p as f32 (dt is a constant after inlining). f8_e4m3 gives the
 * value / 256 (its bits placed into an f16); dot_plain multiplies the sums back, which is exact. */
OV_AVX2 static inline __attribute__((always_inline)) __m256 ld8_plain(int dt, const uint8_t *p)
{
    if (dt == OV_DTYPE_F8_E4M3) {
        __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p));
        __m128i mag = _mm_and_si128(v, _mm_set1_epi16(0x7f));
        __m128i h =
            _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x80)), 8), _mm_slli_epi16(mag, 7));
        h = _mm_or_si128(h,
                         _mm_and_si128(_mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7f)), _mm_set1_epi16(0x7e00)));
        return _mm256_cvtph_ps(h);
    }
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (dt == OV_DTYPE_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

OV_AVX2 static inline __attribute__((always_inline)) float ld1_plain(int dt, const uint8_t *p)
{
    if (dt == OV_DTYPE_F8_E4M3)
        return ov_f8_e4m3_to_f32(*p) * (1.0f / 256.0f);
    uint16_t h;
    memcpy(&h, p, 2);
    return dt == OV_DTYPE_F16 ? _cvtsh_ss(h) : ov_bf16_to_f32(h);
}

/* *o0 += Σ w[k]·x0[k] (and *o1 with x1 when x1 is not NULL) for a row of K weights of a plain
 * type. One row: four accumulators hide the FMA latency; two rows share each converted vector. */
OV_AVX2 static inline __attribute__((always_inline)) void
dot_plain(int dt, const uint8_t *w, const float *x0, const float *x1, int64_t K, float *o0, float *o1)
{
    const int64_t E = dt == OV_DTYPE_F8_E4M3 ? 1 : 2;          /* bytes per weight */
    const float post = dt == OV_DTYPE_F8_E4M3 ? 256.0f : 1.0f; /* see ld8_plain */
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    if (!x1) {
        for (; k + 32 <= K; k += 32) {
            a0 = _mm256_fmadd_ps(ld8_plain(dt, w + E * k), _mm256_loadu_ps(x0 + k), a0);
            a1 = _mm256_fmadd_ps(ld8_plain(dt, w + E * (k + 8)), _mm256_loadu_ps(x0 + k + 8), a1);
            a2 = _mm256_fmadd_ps(ld8_plain(dt, w + E * (k + 16)), _mm256_loadu_ps(x0 + k + 16), a2);
            a3 = _mm256_fmadd_ps(ld8_plain(dt, w + E * (k + 24)), _mm256_loadu_ps(x0 + k + 24), a3);
        }
        for (; k + 8 <= K; k += 8)
            a0 = _mm256_fmadd_ps(ld8_plain(dt, w + E * k), _mm256_loadu_ps(x0 + k), a0);
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; k < K; k++)
            s += ld1_plain(dt, w + E * k) * x0[k];
        *o0 += s * post;
        return;
    }
    for (; k + 16 <= K; k += 16) {
        __m256 w0 = ld8_plain(dt, w + E * k), w1 = ld8_plain(dt, w + E * (k + 8));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + k), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + k + 8), a1);
        a2 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + k), a2);
        a3 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + k + 8), a3);
    }
    for (; k + 8 <= K; k += 8) {
        __m256 w0 = ld8_plain(dt, w + E * k);
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + k), a0);
        a2 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + k), a2);
    }
    float s0 = hsum8(_mm256_add_ps(a0, a1)), s1 = hsum8(_mm256_add_ps(a2, a3));
    for (; k < K; k++) {
        float wk = ld1_plain(dt, w + E * k);
        s0 += wk * x0[k];
        s1 += wk * x1[k];
    }
    *o0 += s0 * post;
    *o1 += s1 * post;
}

OV_AVX2 static void dot_f16_avx2(const uint8_t *w, const float *x0, const float *x1, int64_t K, float *o0,
                                 float *o1)
{
    dot_plain(OV_DTYPE_F16, w, x0, x1, K, o0, o1);
}

OV_AVX2 static void dot_bf16_avx2(const uint8_t *w, const float *x0, const float *x1, int64_t K, float *o0,
                                  float *o1)
{
    dot_plain(OV_DTYPE_BF16, w, x0, x1, K, o0, o1);
}

OV_AVX2 static void dot_f8_e4m3_avx2(const uint8_t *w, const float *x0, const float *x1, int64_t K, float *o0,
                                     float *o1)
{
    dot_plain(OV_DTYPE_F8_E4M3, w, x0, x1, K, o0, o1);
}

/* 8 q8_0 weights (int8 at q) times the block scale: exactly ggml's (float)q · d. */
OV_AVX2 static inline __attribute__((always_inline)) __m256 ld8_q8(const uint8_t *q, __m256 d)
{
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q))), d);
}

/* The same for a q8_0 row (K a multiple of 32): one block = four 8-wide vectors. */
OV_AVX2 static void dot_q8_0_avx2(const uint8_t *b, const float *x0, const float *x1, int64_t K, float *o0,
                                  float *o1)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    if (!x1) {
        for (int64_t k = 0; k < K; k += 32, b += 34) {
            __m256 d = _mm256_set1_ps(half_avx2(b));
            a0 = _mm256_fmadd_ps(ld8_q8(b + 2, d), _mm256_loadu_ps(x0 + k), a0);
            a1 = _mm256_fmadd_ps(ld8_q8(b + 10, d), _mm256_loadu_ps(x0 + k + 8), a1);
            a2 = _mm256_fmadd_ps(ld8_q8(b + 18, d), _mm256_loadu_ps(x0 + k + 16), a2);
            a3 = _mm256_fmadd_ps(ld8_q8(b + 26, d), _mm256_loadu_ps(x0 + k + 24), a3);
        }
        *o0 += hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        return;
    }
    for (int64_t k = 0; k < K; k += 32, b += 34) {
        __m256 d = _mm256_set1_ps(half_avx2(b));
        for (int c = 0; c < 4; c += 2) {
            __m256 w0 = ld8_q8(b + 2 + 8 * c, d), w1 = ld8_q8(b + 10 + 8 * c, d);
            a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x0 + k + 8 * c), a0);
            a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x0 + k + 8 * c + 8), a1);
            a2 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x1 + k + 8 * c), a2);
            a3 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x1 + k + 8 * c + 8), a3);
        }
    }
    *o0 += hsum8(_mm256_add_ps(a0, a1));
    *o1 += hsum8(_mm256_add_ps(a2, a3));
}

/* One activation row against a q4_K row (K a multiple of 256), weights exactly as dq_q4_k_avx2
 * makes them (d·sc·q - dmin·m, no fused multiply-add), kept in registers. */
OV_AVX2 static void dot1_q4_k_avx2(const uint8_t *b, const float *x, int64_t K, float *o)
{
    const __m256i lo4 = _mm256_set1_epi32(0xf);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < K; i += 256, b += 144) {
        float d = half_avx2(b), dmin = half_avx2(b + 2);
        const uint8_t *scales = b + 4, *q = b + 16;
        const float *xb = x + i;
        for (int j = 0; j < 4; j++, q += 32, xb += 64) {
            int sc, m;
            q4k_scale_min(2 * j, scales, &sc, &m);
            __m256 d1 = _mm256_set1_ps(d * (float)sc), m1 = _mm256_set1_ps(dmin * (float)m);
            q4k_scale_min(2 * j + 1, scales, &sc, &m);
            __m256 d2 = _mm256_set1_ps(d * (float)sc), m2 = _mm256_set1_ps(dmin * (float)m);
            for (int c = 0; c < 4; c += 2) {
                __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * c)));
                __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * c + 8)));
                __m256 l0 =
                    _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_and_si256(v0, lo4))), m1);
                __m256 l1 =
                    _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_and_si256(v1, lo4))), m1);
                __m256 h0 =
                    _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4))), m2);
                __m256 h1 =
                    _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4))), m2);
                a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(xb + 8 * c), a0);
                a1 = _mm256_fmadd_ps(l1, _mm256_loadu_ps(xb + 8 * c + 8), a1);
                a2 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(xb + 32 + 8 * c), a2);
                a3 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(xb + 32 + 8 * c + 8), a3);
            }
        }
    }
    *o += hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* One activation row against a q6_K row, weights exactly as dq_q6_k_avx2 makes them. */
OV_AVX2 static void dot1_q6_k_avx2(const uint8_t *b, const float *x, int64_t K, float *o)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < K; i += 256, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = half_avx2(b + 208);
        const float *xb = x + i;
        for (int h = 0; h < 2; h++, xb += 128, ql += 64, qh += 32, sc += 8) {
            for (int l0 = 0; l0 < 32; l0 += 8) {
                __m256 w[4];
                q6k_weights8(ql, qh, sc, d, l0, w);
                a0 = _mm256_fmadd_ps(w[0], _mm256_loadu_ps(xb + l0), a0);
                a1 = _mm256_fmadd_ps(w[1], _mm256_loadu_ps(xb + l0 + 32), a1);
                a2 = _mm256_fmadd_ps(w[2], _mm256_loadu_ps(xb + l0 + 64), a2);
                a3 = _mm256_fmadd_ps(w[3], _mm256_loadu_ps(xb + l0 + 96), a3);
            }
        }
    }
    *o += hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* ---- q8_0 weights x q8_0-quantised activations (decode) ---- */

/* Activation row x[K] (K a multiple of 32) -> int8 q[K] and per-block scales dx[K/32], as ggml's
 * quantize_row_q8_0: d = amax/127, q = round-to-nearest(x·(1/d)), dx = d rounded to f16. */
OV_AVX2 static void quant_x_q8_avx2(const float *x, int64_t K, int8_t *q, float *dx)
{
    const __m256 signbit = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < K; i += 32, x += 32, q += 32) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
               v3 = _mm256_loadu_ps(x + 24);
        __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(signbit, v0), _mm256_andnot_ps(signbit, v1)),
                                  _mm256_max_ps(_mm256_andnot_ps(signbit, v2), _mm256_andnot_ps(signbit, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float d = _mm_cvtss_f32(m4) / 127.0f;
        dx[i / 32] = _cvtsh_ss(_cvtss_sh(d, 0));
        __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        const int rnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), rnd));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), rnd));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), rnd));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), rnd));
        /* packs work per 128-bit lane: the dword permute puts the 4-byte groups back in order */
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p, perm));
    }
}

/* Σ_blocks d_w·d_x·Σ_32 w·q for one q8_0 weight row against one quantised activation row.
 * |q| <= 127 and |w| <= 128, so maddubs' pairwise int16 sums (<= 2·128·127) cannot saturate. */
OV_AVX2 static float dot_q8q8_avx2(const uint8_t *b, const int8_t *q, const float *dx, int64_t nb)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, b += 68, q += 64) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 2));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(b + 36));
        __m256i x0 = _mm256_loadu_si256((const __m256i *)q);
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(q + 32));
        __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0)), ones);
        __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w1, w1), _mm256_sign_epi8(x1, w1)), ones);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(b) * dx[i]), _mm256_cvtepi32_ps(s0), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(b + 34) * dx[i + 1]), _mm256_cvtepi32_ps(s1), a1);
    }
    if (i < nb) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(b + 2));
        __m256i x0 = _mm256_loadu_si256((const __m256i *)q);
        __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0)), ones);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(half_avx2(b) * dx[i]), _mm256_cvtepi32_ps(s0), a0);
    }
    return hsum8(_mm256_add_ps(a0, a1));
}

typedef void (*fused_dot1_fn)(const uint8_t *w, const float *x, int64_t K, float *o);

/* Single-row fused kernels for the k-quants (M = 1, the decode case); M > 1 uses L1 pieces. */
static fused_dot1_fn fused_dot1_avx2(int dtype)
{
    return dtype == OV_DTYPE_Q4_K ? dot1_q4_k_avx2 : dtype == OV_DTYPE_Q6_K ? dot1_q6_k_avx2 : NULL;
}

typedef void (*fused_dot_fn)(const uint8_t *w, const float *x0, const float *x1, int64_t K, float *o0,
                             float *o1);

static fused_dot_fn fused_dot_avx2(int dtype)
{
    switch (dtype) {
    case OV_DTYPE_F16: return dot_f16_avx2;
    case OV_DTYPE_BF16: return dot_bf16_avx2;
    case OV_DTYPE_F8_E4M3: return dot_f8_e4m3_avx2;
    case OV_DTYPE_Q8_0: return dot_q8_0_avx2;
    default: return NULL;
    }
}

#endif /* OV_X86 */

/* ---- entry points ---- */

static void dequant(int level, int dtype, const uint8_t *src, float *dst, int64_t n)
{
#if OV_X86
    if (level == OV_CPU_SIMD_AVX2 && dequant_avx2(dtype, src, dst, n))
        return;
#else
    (void)level;
#endif
    ov_cpu_to_f32(dtype, src, dst, n, 1.0f);
}

static void dot_rows(int level, const float *w, const float *x, int64_t ldx, int64_t M, int64_t n, float *acc)
{
#if OV_X86
    if (level == OV_CPU_SIMD_AVX2) {
        dot_rows_avx2(w, x, ldx, M, n, acc);
        return;
    }
#else
    (void)level;
#endif
    dot_rows_scalar(w, x, ldx, M, n, acc);
}

void ov_cpu_dequant_row(int dtype, const void *src, float *dst, int64_t n)
{
    if (dtype == OV_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    dequant(ov_cpu_simd_level(), dtype, src, dst, n);
}

static atomic_int g_q8act = 1; /* see ov_cpu_q8act_force() */

void ov_cpu_q8act_force(int on)
{
    atomic_store(&g_q8act, on != 0);
}

#define Q8ACT_BYTES 32768 /* int8 activation rows quantised per call, on the stack */

void ov_cpu_gemv_rows(int dtype, const void *w, int64_t K, int64_t n0, int64_t n1, const float *x,
                      int64_t ldx, int64_t M, float *y, int64_t ldy, float scale, const float *bias)
{
    int level = ov_cpu_simd_level();
    size_t row_bytes = ov_dtype_row_bytes(dtype, K);
#if OV_X86
    if (level == OV_CPU_SIMD_AVX2 && dtype == OV_DTYPE_Q8_0 && M <= MROWS && M * K <= Q8ACT_BYTES &&
        atomic_load(&g_q8act)) {
        int8_t qx[Q8ACT_BYTES] __attribute__((aligned(32)));
        float dx[Q8ACT_BYTES / 32];
        int64_t nb = K / 32;
        for (int64_t m = 0; m < M; m++)
            quant_x_q8_avx2(x + m * ldx, K, qx + m * K, dx + m * nb);
        for (int64_t n = n0; n < n1; n++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)n * row_bytes;
            float b = bias ? bias[n] : 0.0f;
            for (int64_t m = 0; m < M; m++)
                y[m * ldy + n] = dot_q8q8_avx2(wr, qx + m * K, dx + m * nb, nb) * scale + b;
        }
        return;
    }
#endif
#if OV_X86
    fused_dot_fn fused = level == OV_CPU_SIMD_AVX2 ? fused_dot_avx2(dtype) : NULL;
    fused_dot1_fn fused1 = level == OV_CPU_SIMD_AVX2 && M == 1 ? fused_dot1_avx2(dtype) : NULL;
#else
    void (*fused)(const uint8_t *, const float *, const float *, int64_t, float *, float *) = NULL;
    void (*fused1)(const uint8_t *, const float *, int64_t, float *) = NULL;
#endif
    /* 32-byte alignment keeps the f32 piece on whole cache lines */
    float piece[PIECE] __attribute__((aligned(32)));
    for (int64_t m0 = 0; m0 < M; m0 += MROWS) {
        int64_t mc = M - m0 < MROWS ? M - m0 : MROWS;
        const float *xm = x + m0 * ldx;
        for (int64_t n = n0; n < n1; n++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)n * row_bytes;
            float acc[MROWS] = {0};
            if (dtype == OV_DTYPE_F32) {
                dot_rows(level, (const float *)wr, xm, ldx, mc, K, acc);
            } else if (fused1) {
                fused1(wr, xm, K, &acc[0]);
            } else if (fused) {
                /* rows in pairs: each weight vector is converted once per pair, in registers */
                int64_t m = 0;
                for (; m + 2 <= mc; m += 2)
                    fused(wr, xm + m * ldx, xm + (m + 1) * ldx, K, &acc[m], &acc[m + 1]);
                if (m < mc)
                    fused(wr, xm + m * ldx, NULL, K, &acc[m], NULL);
            } else {
                /* PIECE is a multiple of every block size (32, 256), so each piece starts a block */
                for (int64_t k0 = 0; k0 < K; k0 += PIECE) {
                    int64_t len = K - k0 < PIECE ? K - k0 : PIECE;
                    dequant(level, dtype, wr + ov_dtype_row_bytes(dtype, k0), piece, len);
                    dot_rows(level, piece, xm + k0, ldx, mc, len, acc);
                }
            }
            float b = bias ? bias[n] : 0.0f;
            for (int64_t m = 0; m < mc; m++)
                y[(m0 + m) * ldy + n] = acc[m] * scale + b;
        }
    }
}
