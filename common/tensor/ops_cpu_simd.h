/* Internal to the CPU backend: SIMD weight dequantisation and the fused decode GEMV, with runtime dispatch.
 */
#ifndef OV_OPS_CPU_SIMD_H
#define OV_OPS_CPU_SIMD_H

#include <stdint.h>

/* Kernel levels. AVX2 means AVX2 + FMA + F16C (x86-64 since Haswell / Zen 1); anything else runs
 * the portable scalar code, which gives the same results up to f32 summation order. */
enum { OV_CPU_SIMD_SCALAR = 0, OV_CPU_SIMD_AVX2 = 1 };

/* The level the kernels use now: the best the CPU supports, unless OURVIDZ_CPU_SIMD=scalar (or 0)
 * was set in the environment at first use, or ov_cpu_simd_force() overrides it. */
int ov_cpu_simd_level(void);
/* Test/bench hook: force a level (OV_CPU_SIMD_SCALAR / OV_CPU_SIMD_AVX2; a level the CPU lacks falls
 * back to scalar) or -1 to return to automatic choice. Not for use while ops run on other threads. */
void ov_cpu_simd_force(int level);
/* Name of a level: "scalar", "avx2". */
const char *ov_cpu_simd_name(int level);

/* Dequantise n elements of a weight row stored as dtype at src to f32 at dst (no scale). Results
 * are bit-identical to ov_dtype_to_f32() at every level (same per-element arithmetic). n must be
 * a multiple of the dtype's block; src is the start of a block. */
void ov_cpu_dequant_row(int dtype, const void *src, float *dst, int64_t n);

/* Fused decode GEMV over weight rows [n0, n1) of W [N, K] (dtype, contiguous, row-major):
 *   y[m·ldy + n] = scale · Σ_k W[n, k] · x[m·ldx + k] (+ bias[n] when bias is not NULL)
 * for m < M, n0 <= n < n1.
 * f16, bf16, f8_e4m3 and q8_0 weights are converted in registers and dotted with two activation
 * rows at a time; q4_K and q6_K are dequantised in L1-sized pieces and dotted with all M rows
 * while hot. Either way each weight byte is read from memory once per call (M <= 8).
 * Accumulation is f32 (weights exactly as ov_dtype_to_f32 gives them). Never fails. */
void ov_cpu_gemv_rows(int dtype, const void *w, int64_t K, int64_t n0, int64_t n1, const float *x,
                      int64_t ldx, int64_t M, float *y, int64_t ldy, float scale, const float *bias);

/* q8_0 weights at M <= 8 on AVX2 quantise the activation rows to q8_0 blocks and use integer
 * dot products (llama.cpp's decode arithmetic; see ops_cpu_quant.c for the error bound). Test hook:
 * 0 turns that off (f32 activations, f32-summation accuracy), nonzero back on (the default). Not for
 * use while ops run on other threads. */
void ov_cpu_q8act_force(int on);

/* SwiGLU over one row: y[j] = silu(g[j]) · a[j] for the leading elements an AVX2 pass covers (a
 * vector exp, ~1e-7 relative from expf: ops_cpu_act_simd.c); returns how many it wrote (0 on the
 * scalar level), the caller does the rest. */
int64_t ov_cpu_swiglu_row_simd(const float *a, const float *g, float *y, int64_t n);

/* Test hook: stride-1 conv2d runs in bands of this many output rows (0: sized for the cache, the
 * default). Lets small tests cross band boundaries. Not for use while ops run on other threads. */
void ov_cpu_conv_band_force(int64_t rows);
/* Bench hook: how f16/bf16/f8/quant linear runs at M > 8. 0 automatic, 1 the previous plan (per-thread
 * 1 MB dequantised tiles + single-threaded sgemm), 2 whole dequantised panels (up to 32 MB) + one
 * OpenBLAS-threaded sgemm each. */
void ov_cpu_prefill_force(int mode);

#endif
