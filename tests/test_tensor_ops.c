/* Every op against a float64 reference on fresh random (non-zero) inputs at several shapes.
 *
 * Tolerances (CPU, f32 compute; a bf16/f16 backend scales them by tt_tol()):
 * - GEMM-like (linear, matmul, conv, attention): f32 accumulation of K products of values
 *   |v| <= 1 has a worst-case error ~K·2^-24·sum|terms|; we allow atol 2e-6·(K+8) and rtol 1e-5
 *   (orders of magnitude below a wrong index or a missing term, which moves outputs by ~0.1).
 *   Quantised weights are compared with their dequantised values, so the tolerance is the same.
 * - Norms, softmax, activations: a few f32 roundings per element: rtol 1e-5, atol 1e-6.
 * - RoPE/timestep tables: angles in double, cos/sin rounded once to f32, products rounded:
 *   atol 2e-6 (timestep angles up to 1000 rad: float(t) is exact for our inputs). */
#include "test_tensor_util.h"

#include "common/tensor/dtype.h"
#include "common/tensor/ops_cpu_simd.h" /* force the scalar / AVX2 weight kernels */

static double *dalloc(int64_t n)
{
    double *d = calloc((size_t)(n ? n : 1), sizeof(double));
    ck_assert_ptr_nonnull(d);
    return d;
}

/* ---- linear ---- */

static void check_linear(ov_backend *be, int wdt, int64_t M, int64_t K, int64_t N, int with_bias,
                         int strided_x, float wscale)
{
    tt_ctx c;
    tt_begin(&c, be);
    int64_t ldx = strided_x ? K + 3 : K;
    float *xv = tt_rand(M * ldx, 1.0), *wv = tt_rand(N * K, 1.0), *bv = tt_rand(N, 1.0);
    ov_tensor *xb = tt_act(&c, "x", 2, SHAPE(M, ldx), xv);
    ov_tensor x;
    TT_OK(ov_tensor_slice(&x, xb, 1, 2 * strided_x, K));
    ov_tensor *w = tt_input(&c, "w", wdt, 2, SHAPE(N, K), wv);
    w->scale = wscale;
    ov_tensor *b = with_bias ? tt_act(&c, "b", 1, SHAPE(N), bv) : NULL;
    ov_tensor *y = tt_out(&c, "y", 2, SHAPE(M, N));
    TT_OK(ov_op_linear(y, &x, w, b));
    double *ref = dalloc(M * N);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = with_bias ? bv[n] : 0.0;
            for (int64_t k = 0; k < K; k++)
                s += (double)xv[m * ldx + 2 * strided_x + k] * wv[n * K + k] * wscale;
            ref[m * N + n] = s;
        }
    char what[96];
    snprintf(what, sizeof what, "linear %s M%lld K%lld N%lld", ov_dtype_name(wdt), (long long)M, (long long)K,
             (long long)N);
    tt_expect(what, y, ref, 2e-6 * (double)(K + 8) * tt_tol(be), 1e-5 * tt_tol(be));
    free(ref);
    free(xv);
    free(wv);
    free(bv);
    tt_end(&c);
}

static void body_linear(ov_backend *be)
{
    /* f32: GEMV path (M <= 8) and sgemm path, odd sizes, strided rows */
    check_linear(be, OV_DTYPE_F32, 1, 33, 5, 1, 0, 1.0f);
    check_linear(be, OV_DTYPE_F32, 3, 1, 67, 1, 1, 1.0f);
    check_linear(be, OV_DTYPE_F32, 37, 129, 61, 1, 1, 1.0f);
    check_linear(be, OV_DTYPE_F32, 20, 64, 16, 0, 0, 1.0f);
    /* dequantised on the fly: both paths */
    int dts[] = {OV_DTYPE_F16, OV_DTYPE_BF16, OV_DTYPE_F8_E4M3, OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        float sc = dts[i] == OV_DTYPE_F8_E4M3 ? 0.5f : 1.0f;
        check_linear(be, dts[i], 3, 256, 7, 1, 0, sc);
        check_linear(be, dts[i], 19, 512, 33, 1, 1, sc);
    }
    /* CPU prefill plan (M > 8, non-f32 weights): weights over 1M elements run as equal tiles of
     * 16-row multiples on the pool (2 tiles here; N = 1100: 560 + 540 rows), smaller ones as one
     * dequantised panel; the bench-only plans 1 (old 1 MB tiles) and 2 (panels) must agree too. */
    check_linear(be, OV_DTYPE_F16, 9, 1024, 1040, 1, 0, 1.0f);
    check_linear(be, OV_DTYPE_BF16, 12, 1024, 1100, 0, 1, 1.0f);
    for (int mode = 1; mode <= 2; mode++) {
        ov_cpu_prefill_force(mode);
        check_linear(be, OV_DTYPE_F16, 10, 512, 700, 1, 1, 1.0f);
        ov_cpu_prefill_force(0);
    }
    /* batched leading dims: [2, 5, K] */
    tt_ctx c;
    tt_begin(&c, be);
    float *xv = tt_rand(2 * 5 * 24, 1.0), *wv = tt_rand(9 * 24, 1.0);
    ov_tensor *x = tt_act(&c, "x", 3, SHAPE(2, 5, 24), xv);
    ov_tensor *w = tt_input(&c, "w", OV_DTYPE_F32, 2, SHAPE(9, 24), wv);
    ov_tensor *y = tt_out(&c, "y", 3, SHAPE(2, 5, 9));
    TT_OK(ov_op_linear(y, x, w, NULL));
    double *ref = dalloc(90);
    for (int m = 0; m < 10; m++)
        for (int n = 0; n < 9; n++)
            for (int k = 0; k < 24; k++)
                ref[m * 9 + n] += (double)xv[m * 24 + k] * wv[n * 24 + k];
    tt_expect("linear batched", y, ref, 1e-4 * tt_tol(be), 1e-5 * tt_tol(be));
    free(ref);
    free(xv);
    free(wv);
    tt_end(&c);
}

START_TEST(linear_all_weight_dtypes)
{
    ov_cpu_q8act_force(0); /* f32 activations: the f32-summation tolerance above holds for q8_0 too */
    tt_run(body_linear);
    ov_cpu_q8act_force(1);
}
END_TEST

/* The CPU weight kernels at every SIMD level (scalar always; AVX2 where the CPU has it):
 * - the row dequantiser is bit-identical to ov_dtype_to_f32 (same arithmetic, so exact);
 * - the fused decode GEMV (M <= 8) and the dequantised-tile sgemm (M > 8) meet the GEMM tolerance
 *   above for every weight dtype at M = 1, 3, 8, 9, 10, 12, with odd N (several threads' row
 *   chunks or tiles), odd K for the plain types (vector tails), K that ends in a partial
 *   512-element piece, and K long enough that one tile holds only 64 rows. */
static int simd_levels(int *lv)
{
    int n = 0;
    lv[n++] = OV_CPU_SIMD_SCALAR;
    ov_cpu_simd_force(OV_CPU_SIMD_AVX2);
    if (ov_cpu_simd_level() == OV_CPU_SIMD_AVX2)
        lv[n++] = OV_CPU_SIMD_AVX2;
    ov_cpu_simd_force(-1);
    return n;
}

static const int k_weight_dts[] = {OV_DTYPE_F32,  OV_DTYPE_F16,  OV_DTYPE_BF16, OV_DTYPE_F8_E4M3,
                                   OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};

START_TEST(cpu_dequant_row_exact)
{
    int lv[2], nl = simd_levels(lv);
    enum { NMAX = 1024 + 256 };
    float *src = tt_rand(NMAX, 3.0), *ref = malloc(NMAX * sizeof(float)), *got = malloc(NMAX * sizeof(float));
    uint8_t *raw = malloc(NMAX * 4);
    ck_assert(ref && got && raw);
    for (int l = 0; l < nl; l++) {
        ov_cpu_simd_force(lv[l]);
        for (size_t d = 1; d < sizeof k_weight_dts / sizeof k_weight_dts[0]; d++) {
            int dt = k_weight_dts[d];
            int64_t blk = (int64_t)ov_dtype_block_elems(dt);
            int64_t lens[] = {blk, 5 * blk, blk == 1 ? 13 : 4 * blk, NMAX};
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
                int64_t n = lens[li];
                ck_assert_int_eq(ov_dtype_from_f32(dt, src, raw, n), 0);
                if (dt == OV_DTYPE_F8_E4M3) /* every code, NaN (0x7f, 0xff) and subnormals included */
                    for (int64_t i = 0; i < n && i < 256; i++)
                        raw[i] = (uint8_t)i;
                ck_assert_int_eq(ov_dtype_to_f32(dt, raw, ref, n), 0);
                memset(got, 0xff, (size_t)n * sizeof(float));
                ov_cpu_dequant_row(dt, raw, got, n);
                for (int64_t i = 0; i < n; i++)
                    ck_assert_msg(memcmp(&got[i], &ref[i], 4) == 0 || (isnan(got[i]) && isnan(ref[i])),
                                  "%s dequant %s n=%lld [%lld]: %.9g vs %.9g", ov_cpu_simd_name(lv[l]),
                                  ov_dtype_name(dt), (long long)n, (long long)i, got[i], ref[i]);
            }
        }
    }
    ov_cpu_simd_force(-1);
    free(src);
    free(ref);
    free(got);
    free(raw);
}
END_TEST

START_TEST(cpu_linear_weight_kernels)
{
    ov_backend *be = ov_backend_cpu();
    int lv[2], nl = simd_levels(lv);
    ov_cpu_q8act_force(0); /* the int8-activation q8_0 decode path has its own test below */
    for (int l = 0; l < nl; l++) {
        ov_cpu_simd_force(lv[l]);
        for (size_t d = 0; d < sizeof k_weight_dts / sizeof k_weight_dts[0]; d++) {
            int dt = k_weight_dts[d];
            float sc = dt == OV_DTYPE_F8_E4M3 ? 0.375f : 1.0f;
            int64_t blk = (int64_t)ov_dtype_block_elems(dt);
            /* plain types: odd K (8-wide tails); blocks: K ends in a partial 512-element piece */
            int64_t k_odd = blk == 1 ? 37 : blk == 32 ? 544 : 768;
            int64_t ms[] = {1, 3, 8, 9};
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
                check_linear(be, dt, ms[mi], k_odd, 41, mi & 1, mi == 1, sc);
                check_linear(be, dt, ms[mi], blk == 1 ? 1 : blk, 19, 1, 0, sc);
            }
            check_linear(be, dt, 1, blk == 1 ? 1031 : 1024, 67, 0, 0, sc);
            /* prefill tiles: N split over the threads' tiles, and K long enough for 64-row tiles */
            check_linear(be, dt, 12, blk == 1 ? 129 : 256, 200, 1, 1, sc);
            check_linear(be, dt, 10, blk == 1 ? 4099 : 4096, 150, 0, 0, sc);
        }
    }
    ov_cpu_simd_force(-1);
    ov_cpu_q8act_force(1);
}
END_TEST

/* q8_0 weights at M <= 8 on AVX2 (the default decode path): the activation rows are quantised to
 * q8_0 blocks and dotted in integers, as llama.cpp does (ggml quantize_row_q8_0 +
 * ggml_vec_dot_q8_0_q8_0). Two checks per output:
 * - against a float64 emulation of that arithmetic (d = amax/127, q = round-half-even(x/d) — what
 *   the vector round gives — d_x stored as f16, integer block sums exact): only the f32 sums over
 *   blocks differ, so |Δ| <= 1e-5·Σ|terms| + 1e-6;
 * - against the exact float64 product with f32 activations: each activation is off by at most
 *   d/2 + 127·|d - f16(d)| <= (amax/127)·(1/2 + 127·2^-11), so
 *   |Δ| <= Σ_k |w_k|·(amax_block(k)/127)·0.563 + 1e-5·Σ|w x| + 1e-6 (per output row, scale included).
 * M = 1, 3, 8 (one, odd and the largest GEMV row count); K = 32 (one block), 544 (odd block count),
 * 896 and 4864 (Qwen2.5-0.5B's widths); x amplitude 3 with one large outlier per row. */
static void check_q8act(int64_t M, int64_t K, int64_t N, float wscale)
{
    ov_backend *be = ov_backend_cpu();
    tt_ctx c;
    tt_begin(&c, be);
    int64_t ldx = K + 32;
    float *xv = tt_rand(M * ldx, 3.0), *wv = tt_rand(N * K, 1.0), *bv = tt_rand(N, 1.0);
    for (int64_t m = 0; m < M; m++)
        xv[m * ldx + (m * 37) % K] = 40.0f;
    ov_tensor *xb = tt_act(&c, "x", 2, SHAPE(M, ldx), xv);
    ov_tensor x;
    TT_OK(ov_tensor_slice(&x, xb, 1, 0, K));
    ov_tensor *w = tt_input(&c, "w", OV_DTYPE_Q8_0, 2, SHAPE(N, K), wv); /* wv now holds q·d exactly */
    w->scale = wscale;
    ov_tensor *b = tt_act(&c, "b", 1, SHAPE(N), bv);
    ov_tensor *y = tt_out(&c, "y", 2, SHAPE(M, N));
    TT_OK(ov_op_linear(y, &x, w, b));
    float *got = malloc((size_t)(M * N) * sizeof(float));
    double *xq = dalloc(K), *dmax = dalloc(K);
    ck_assert_ptr_nonnull(got);
    TT_OK(ov_tensor_download(y, got, (size_t)(M * N) * sizeof(float)));
    double worst_emu = 0, worst_f32 = 0, worst_f32_tol = 0;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = xv + m * ldx;
        for (int64_t k0 = 0; k0 < K; k0 += 32) {
            float amax = 0;
            for (int k = 0; k < 32; k++)
                amax = fmaxf(amax, fabsf(xr[k0 + k]));
            float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            float dh = ov_f16_to_f32(ov_f32_to_f16(d));
            for (int k = 0; k < 32; k++) {
                xq[k0 + k] = (double)nearbyintf(xr[k0 + k] * id) * dh;
                dmax[k0 + k] = amax / 127.0;
            }
        }
        for (int64_t n = 0; n < N; n++) {
            double emu = 0, exact = 0, mag = 0, qerr = 0;
            for (int64_t k = 0; k < K; k++) {
                double wk = (double)wv[n * K + k] * wscale;
                emu += wk * xq[k];
                exact += wk * xr[k];
                mag += fabs(wk * xr[k]);
                qerr += fabs(wk) * dmax[k] * 0.563;
            }
            double g = got[m * N + n], slack = 1e-5 * mag + 1e-6;
            double e1 = fabs(g - (emu + bv[n])), e2 = fabs(g - (exact + bv[n]));
            ck_assert_msg(e1 <= slack, "q8act M%lld K%lld [%lld,%lld]: %.9g vs emulated %.9g (tol %.3g)",
                          (long long)M, (long long)K, (long long)m, (long long)n, g, emu + bv[n], slack);
            ck_assert_msg(e2 <= qerr + slack, "q8act M%lld K%lld [%lld,%lld]: %.9g vs f32 %.9g (tol %.3g)",
                          (long long)M, (long long)K, (long long)m, (long long)n, g, exact + bv[n], qerr + slack);
            worst_emu = fmax(worst_emu, e1 / slack);
            worst_f32 = fmax(worst_f32, e2);
            worst_f32_tol = fmax(worst_f32_tol, e2 / (qerr + slack));
        }
    }
    printf("q8act M%lld K%lld: max |d| vs f32 %.3g (%.2f of bound), vs emulation %.2f of bound\n", (long long)M,
           (long long)K, worst_f32, worst_f32_tol, worst_emu);
    free(got);
    free(xq);
    free(dmax);
    free(xv);
    free(wv);
    free(bv);
    tt_end(&c);
}

START_TEST(cpu_linear_q8_0_int8_activations)
{
    ov_cpu_simd_force(OV_CPU_SIMD_AVX2);
    if (ov_cpu_simd_level() != OV_CPU_SIMD_AVX2) {
        ov_cpu_simd_force(-1);
        return; /* scalar-only CPU: q8_0 keeps f32 activations, covered above */
    }
    int64_t ks[] = {32, 544, 896, 4864}, ms[] = {1, 3, 8};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            if (ms[mi] * ks[ki] <= 32768) /* larger M·K take the f32 path (covered above) */
                check_q8act(ms[mi], ks[ki], 45, mi == 1 ? 0.5f : 1.0f);
    ov_cpu_simd_force(-1);
}
END_TEST

/* ---- fused linears: linear_add (y = x·Wᵀ + b + r) and linear_swiglu (y = SiLU(x·W_gᵀ)·(x·W_uᵀ)) ----
 * Against float64 on the values the tensors hold. linear_add: the GEMM tolerance above (r adds one
 * exact term). linear_swiglu: weights of amplitude 2/√K keep gate/up near 1; a gate/up error δ
 * moves the output by at most |SiLU'(g)|·|u|·δ + |SiLU(g)|·δ (|SiLU'| <= 1.1), so the GEMM
 * tolerance (scaled by the amplitude) times 1 + 1.1·|u| + |SiLU(g)| per element, rtol 1e-5. Rows 1,
 * 3 (decode GEMV + epilogue) and 17, 64 (sgemm beta = 1 / GEMMs + SwiGLU); K 64..896. Outputs start
 * as NaN (the in-place residual holds r, so its rows are compared with r added). */

/* y = x·Wᵀ·scale + b + r, in place (y is r) or into a separate poisoned y; x rows strided when asked. */
static void check_linear_add(ov_backend *be, int wdt, int64_t M, int64_t K, int64_t N, int with_bias,
                             int in_place, int strided_x)
{
    tt_ctx c;
    tt_begin(&c, be);
    int64_t ldx = strided_x ? K + 5 : K;
    float *xv = tt_rand(M * ldx, 1.0), *wv = tt_rand(N * K, 1.0), *bv = tt_rand(N, 1.0),
          *rv = tt_rand(M * N, 2.0);
    ov_tensor *xb = tt_act(&c, "x", 2, SHAPE(M, ldx), xv);
    ov_tensor x;
    TT_OK(ov_tensor_slice(&x, xb, 1, strided_x, K));
    ov_tensor *w = tt_input(&c, "w", wdt, 2, SHAPE(N, K), wv);
    float sc = wdt == OV_DTYPE_Q8_0 ? 0.5f : 1.0f;
    w->scale = sc;
    ov_tensor *b = with_bias ? tt_act(&c, "b", 1, SHAPE(N), bv) : NULL;
    ov_tensor *r = tt_act(&c, "r", 2, SHAPE(M, N), rv);
    ov_tensor *y = in_place ? r : tt_out(&c, "y", 2, SHAPE(M, N));
    TT_OK(ov_op_linear_add(y, &x, w, b, r));
    double *ref = dalloc(M * N);
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = (with_bias ? bv[n] : 0.0) + rv[m * N + n];
            for (int64_t k = 0; k < K; k++)
                s += (double)xv[m * ldx + strided_x + k] * wv[n * K + k] * sc;
            ref[m * N + n] = s;
        }
    char what[128];
    snprintf(what, sizeof what, "linear_add %s M%lld K%lld N%lld bias %d %s%s", ov_dtype_name(wdt),
             (long long)M, (long long)K, (long long)N, with_bias, in_place ? "in place" : "separate",
             strided_x ? " strided x" : "");
    tt_expect(what, y, ref, 2e-6 * (double)(K + 8) * tt_tol(be), 1e-5 * tt_tol(be));
    if (!in_place) { /* r is an input: untouched */
        for (int64_t i = 0; i < M * N; i++)
            ref[i] = rv[i];
        tt_expect("linear_add leaves r alone", r, ref, 0, 0);
    }
    free(ref);
    free(xv);
    free(wv);
    free(bv);
    free(rv);
    tt_end(&c);
}

static double silu_d(double v)
{
    return v / (1.0 + exp(-v));
}

static void check_linear_swiglu(ov_backend *be, int wdt, int64_t M, int64_t K, int64_t I, int strided_x)
{
    tt_ctx c;
    tt_begin(&c, be);
    const double amp = 2.0 / sqrt((double)K);
    int64_t ldx = strided_x ? K + 3 : K;
    float *xv = tt_rand(M * ldx, 1.0), *gv = tt_rand(I * K, amp), *uv = tt_rand(I * K, amp);
    ov_tensor *xb = tt_act(&c, "x", 2, SHAPE(M, ldx), xv);
    ov_tensor x;
    TT_OK(ov_tensor_slice(&x, xb, 1, strided_x, K));
    ov_tensor *wg = tt_input(&c, "gate_proj", wdt, 2, SHAPE(I, K), gv);
    /* up in f32 when gate is narrow: the op allows different weight dtypes */
    ov_tensor *wu = tt_input(&c, "up_proj", wdt == OV_DTYPE_F16 ? OV_DTYPE_F32 : wdt, 2, SHAPE(I, K), uv);
    ov_tensor *y = tt_out(&c, "y", 2, SHAPE(M, I));
    TT_OK(ov_op_linear_swiglu(y, &x, wg, wu));
    const double gemm_atol = 2e-6 * (double)(K + 8) * amp * tt_tol(be), rtol = 1e-5 * tt_tol(be);
    float *got = tt_fetch(y);
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t i = 0; i < I; i++) {
            double g = 0, u = 0;
            for (int64_t k = 0; k < K; k++) {
                double xk = xv[m * ldx + strided_x + k];
                g += xk * gv[i * K + k];
                u += xk * uv[i * K + k];
            }
            double ref = silu_d(g) * u, e = fabs((double)got[m * I + i] - ref);
            double lim = gemm_atol * (1.0 + 1.1 * fabs(u) + fabs(silu_d(g))) + rtol * fabs(ref) +
                         tt_half_ulp(y->dtype, ref);
            ck_assert_msg(isfinite(got[m * I + i]), "linear_swiglu: [%lld,%lld] not written", (long long)m,
                          (long long)i);
            ck_assert_msg(
                e <= lim,
                "linear_swiglu %s M%lld K%lld I%lld [%lld,%lld] = %.9g, reference %.9g (|err| %.3g > %.3g)",
                ov_dtype_name(wdt), (long long)M, (long long)K, (long long)I, (long long)m, (long long)i,
                (double)got[m * I + i], ref, e, lim);
            worst = fmax(worst, e / lim);
        }
    free(got);
    free(xv);
    free(gv);
    free(uv);
    tt_end(&c);
}

static void body_linear_fused(ov_backend *be)
{
    static const int64_t ms[4] = {1, 3, 17, 64}, ks[4] = {64, 200, 512, 896};
    const int wdts[3] = {OV_DTYPE_F32, OV_DTYPE_F16, OV_DTYPE_BF16};
    for (int mi = 0; mi < 4; mi++)
        for (int d = 0; d < 3; d++) {
            int64_t K = ks[(mi + d) % 4];
            check_linear_add(be, wdts[d], ms[mi], K, 37 + 8 * d, (mi + d) & 1, 1, 0);
            check_linear_add(be, wdts[d], ms[mi], K, 45, !((mi + d) & 1), 0, mi == 1);
            check_linear_swiglu(be, wdts[d], ms[mi], K, 40 + 17 * d, mi == 2);
        }
    /* Qwen2.5-0.5B's widths: 896 -> 4864 gate/up, 4864 -> 896 down with the residual in place */
    check_linear_swiglu(be, OV_DTYPE_BF16, 1, 896, 4864, 0);
    check_linear_add(be, OV_DTYPE_BF16, 1, 4864, 896, 0, 1, 0);
    check_linear_add(be, OV_DTYPE_F32, 9, 896, 256, 1, 1, 0);
    /* q8_0 weights through the decode GEMV's piece epilogue (f32 activations, see linear tests) */
    if (be->kind == OV_BACKEND_CPU) {
        ov_cpu_q8act_force(0);
        check_linear_add(be, OV_DTYPE_Q8_0, 2, 256, 33, 1, 1, 0);
        check_linear_swiglu(be, OV_DTYPE_Q8_0, 3, 256, 33, 0);
        ov_cpu_q8act_force(1);
    }
    /* [2, 5, K] rows (leading dims flattened), in place */
    tt_ctx c;
    tt_begin(&c, be);
    float *xv = tt_rand(2 * 5 * 24, 1.0), *wv = tt_rand(9 * 24, 1.0), *rv = tt_rand(90, 1.0);
    ov_tensor *x = tt_act(&c, "x", 3, SHAPE(2, 5, 24), xv);
    ov_tensor *w = tt_input(&c, "w", OV_DTYPE_F32, 2, SHAPE(9, 24), wv);
    ov_tensor *y = tt_act(&c, "y", 3, SHAPE(2, 5, 9), rv);
    TT_OK(ov_op_linear_add(y, x, w, NULL, y));
    double *ref = dalloc(90);
    for (int m = 0; m < 10; m++)
        for (int n = 0; n < 9; n++) {
            ref[m * 9 + n] = rv[m * 9 + n];
            for (int k = 0; k < 24; k++)
                ref[m * 9 + n] += (double)xv[m * 24 + k] * wv[n * 24 + k];
        }
    tt_expect("linear_add batched", y, ref, 1e-4 * tt_tol(be), 1e-5 * tt_tol(be));
    free(ref);
    free(xv);
    free(wv);
    free(rv);
    tt_end(&c);
}

/* Refused: a residual that partly overlaps y, of another dtype or shape, x overlapping y, a gate/up
 * pair of different shapes; nothing is run. */
static void body_linear_fused_errors(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    float *v = tt_rand(16 * 16, 1.0); /* enough for every tensor below */
    ov_tensor *buf = tt_act(&c, "buf", 2, SHAPE(4, 16), v);
    ov_tensor *x = tt_act(&c, "x", 2, SHAPE(2, 16), v);
    ov_tensor *w = tt_input(&c, "w", OV_DTYPE_F32, 2, SHAPE(8, 16), v);
    ov_tensor *w2 = tt_input(&c, "w2", OV_DTYPE_F32, 2, SHAPE(4, 16), v);
    ov_tensor *y = tt_out(&c, "y", 2, SHAPE(2, 8));
    ov_tensor ya, ra;
    int64_t s28[2] = {2, 8};
    TT_OK(ov_tensor_reshape(&ya, buf, 2, SHAPE(8, 8)));
    TT_OK(ov_tensor_slice(&ra, &ya, 0, 1, 2)); /* rows 1..2 of the buffer */
    TT_OK(ov_tensor_slice(&ya, &ya, 0, 0, 2)); /* rows 0..1: overlaps ra by one row */
    TT_FAILS(ov_op_linear_add(&ya, x, w, NULL, &ra), OV_EINVAL, "overlaps");
    ov_tensor *r16 =
        tt_input(&c, "r16", be->act_dtype == OV_DTYPE_F32 ? OV_DTYPE_F16 : OV_DTYPE_F32, 2, s28, v);
    TT_FAILS(ov_op_linear_add(y, x, w, NULL, r16), OV_EINVAL, "residual");
    TT_FAILS(ov_op_linear_add(y, x, w, NULL, x), OV_EINVAL, "differ in shape");
    TT_FAILS(ov_op_linear_add(y, x, w, NULL, NULL), OV_EINVAL, "no residual");
    TT_FAILS(ov_op_linear_swiglu(y, x, w, w2), OV_EINVAL, "shapes do not match");
    /* x is y's own bytes */
    ov_tensor *ys = tt_out(&c, "ys", 2, SHAPE(2, 16));
    ov_tensor *wsq = tt_input(&c, "wsq", OV_DTYPE_F32, 2, SHAPE(16, 16), v);
    TT_FAILS(ov_op_linear_swiglu(ys, ys, wsq, wsq), OV_EINVAL, "overlaps");
    TT_FAILS(ov_op_linear_add(ys, ys, wsq, NULL, ys), OV_EINVAL, "overlaps");
    free(v);
    tt_end(&c);
}

START_TEST(linear_add_and_swiglu)
{
    tt_run(body_linear_fused);
    tt_run(body_linear_fused_errors);
}
END_TEST

/* The CPU's fused decode epilogues at each SIMD level (the AVX2 SwiGLU covers 8-wide pieces, the
 * scalar tail the rest: I = 40 + 17·d leaves tails). */
START_TEST(cpu_linear_fused_simd_levels)
{
    ov_backend *be = ov_backend_cpu();
    int lv[2], nl = simd_levels(lv);
    for (int l = 0; l < nl; l++) {
        ov_cpu_simd_force(lv[l]);
        for (int64_t m = 1; m <= 8; m += 7) {
            check_linear_add(be, OV_DTYPE_F16, m, 136, 300, 1, 1, 0);
            check_linear_swiglu(be, OV_DTYPE_BF16, m, 136, 301, 0);
        }
    }
    ov_cpu_simd_force(-1);
}
END_TEST

static void body_matmul(ov_backend *be)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            tt_ctx c;
            tt_begin(&c, be);
            int64_t B = 3, M = 7, K = 13, N = 5;
            float *av = tt_rand(B * M * K, 1.0), *bv = tt_rand(K * N, 1.0);
            ov_tensor *a =
                ta ? tt_act(&c, "a", 3, SHAPE(B, K, M), av) : tt_act(&c, "a", 3, SHAPE(B, M, K), av);
            ov_tensor *b =
                tb ? tt_act(&c, "b", 3, SHAPE(1, N, K), bv) : tt_act(&c, "b", 3, SHAPE(1, K, N), bv);
            ov_tensor *y = tt_out(&c, "y", 3, SHAPE(B, M, N));
            TT_OK(ov_op_matmul(y, a, b, ta, tb, 0.5f));
            double *ref = dalloc(B * M * N);
            for (int64_t i = 0; i < B; i++)
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double s = 0;
                        for (int64_t k = 0; k < K; k++) {
                            double x = ta ? av[(i * K + k) * M + m] : av[(i * M + m) * K + k];
                            double z = tb ? bv[n * K + k] : bv[k * N + n];
                            s += x * z;
                        }
                        ref[(i * M + m) * N + n] = 0.5 * s;
                    }
            tt_expect("matmul", y, ref, 1e-5 * tt_tol(be), 1e-5 * tt_tol(be));
            free(ref);
            free(av);
            free(bv);
            tt_end(&c);
        }
}

START_TEST(matmul_batched_transposed)
{
    tt_run(body_matmul);
}
END_TEST

/* ---- convolution ---- */

static void check_conv2d_s(ov_backend *be, int wdt, float wscale, int64_t N, int64_t C, int64_t H, int64_t W,
                           int64_t O, int kh, int kw, ov_conv2d_params p, int bias)
{
    tt_ctx c;
    tt_begin(&c, be);
    int g = p.groups ? p.groups : 1, dh = p.dilation_h ? p.dilation_h : 1,
        dw = p.dilation_w ? p.dilation_w : 1;
    int64_t Cg = C / g, Og = O / g;
    int64_t Ho = (H + 2 * p.pad_h - dh * (kh - 1) - 1) / p.stride_h + 1;
    int64_t Wo = (W + 2 * p.pad_w - dw * (kw - 1) - 1) / p.stride_w + 1;
    float *xv = tt_rand(N * C * H * W, 1.0), *wv = tt_rand(O * Cg * kh * kw, 1.0), *bv = tt_rand(O, 1.0);
    ov_tensor *x = tt_act(&c, "x", 4, SHAPE(N, C, H, W), xv);
    ov_tensor *w = tt_input(&c, "w", wdt, 4, SHAPE(O, Cg, kh, kw), wv);
    w->scale = wscale;
    ov_tensor *b = bias ? tt_act(&c, "b", 1, SHAPE(O), bv) : NULL;
    ov_tensor *y = tt_out(&c, "y", 4, SHAPE(N, O, Ho, Wo));
    TT_OK(ov_op_conv2d(y, x, w, b, &p));
    double *ref = dalloc(N * O * Ho * Wo);
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double s = bias ? bv[o] : 0.0;
                    int64_t gi = o / Og;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int64_t iy = oy * p.stride_h - p.pad_h + ky * dh,
                                        ix = ox * p.stride_w - p.pad_w + kx * dw;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                s += (double)xv[((n * C + gi * Cg + ci) * H + iy) * W + ix] *
                                     wv[((o * Cg + ci) * kh + ky) * kw + kx] * wscale;
                            }
                    ref[((n * O + o) * Ho + oy) * Wo + ox] = s;
                }
    int64_t K = Cg * kh * kw;
    char what[128];
    snprintf(what, sizeof what, "conv2d %s N%lld C%lld %lldx%lld O%lld k%dx%d s%dx%d p%dx%d d%dx%d g%d",
             ov_dtype_name(wdt), (long long)N, (long long)C, (long long)H, (long long)W, (long long)O, kh, kw,
             p.stride_h, p.stride_w, p.pad_h, p.pad_w, dh, dw, g);
    tt_expect(what, y, ref, 2e-6 * (double)(K + 8) * tt_tol(be), 1e-5 * tt_tol(be));
    free(ref);
    free(xv);
    free(wv);
    free(bv);
    tt_end(&c);
}

static void check_conv2d(ov_backend *be, int wdt, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                         int kh, int kw, ov_conv2d_params p, int bias)
{
    check_conv2d_s(be, wdt, 1.0f, N, C, H, W, O, kh, kw, p, bias);
}

static void body_conv2d(ov_backend *be)
{
    check_conv2d(be, OV_DTYPE_F32, 2, 5, 9, 11, 7, 3, 3, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 1}, 1);
    check_conv2d(be, OV_DTYPE_F32, 1, 4, 10, 7, 6, 3, 3, (ov_conv2d_params){2, 2, 1, 1, 1, 1, 1},
                 1); /* down */
    check_conv2d(be, OV_DTYPE_F32, 1, 3, 12, 13, 4, 3, 2, (ov_conv2d_params){1, 2, 2, 0, 2, 1, 1},
                 0); /* dil */
    check_conv2d(be, OV_DTYPE_F32, 2, 6, 5, 5, 4, 3, 3, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 2},
                 1); /* groups */
    check_conv2d(be, OV_DTYPE_F32, 2, 8, 6, 7, 5, 1, 1, (ov_conv2d_params){1, 1, 0, 0, 1, 1, 1}, 1); /* 1x1 */
    check_conv2d(be, OV_DTYPE_F16, 1, 4, 8, 8, 8, 3, 3, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 1}, 1);
    check_conv2d(be, OV_DTYPE_BF16, 1, 3, 64, 80, 2, 3, 3, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 1}, 1);
    /* CPU fast paths. Stride 1, groups 1, C >= 16 (any kernel, pad, dilation): shifted GEMMs over
     * a padded band of rows; bands forced to 3 rows here so band edges (a last band of 1-2 rows) are crossed. */
    ov_conv2d_params s1p1 = {1, 1, 1, 1, 1, 1, 1};
    for (int band = 0; band <= 3; band += 3) {
        ov_cpu_conv_band_force(band);
        check_conv2d(be, OV_DTYPE_F32, 3, 17, 7, 13, 9, 3, 3, s1p1, 0);  /* odd sizes, batch 3 */
        check_conv2d(be, OV_DTYPE_F32, 2, 16, 11, 6, 4, 3, 3, s1p1, 1);  /* W < H, Ho % 3 = 2 */
        check_conv2d(be, OV_DTYPE_F16, 2, 19, 10, 5, 11, 3, 3, s1p1, 1); /* f16 weights, converted once */
        check_conv2d_s(be, OV_DTYPE_F8_E4M3, 0.5f, 1, 16, 5, 9, 4, 3, 3, s1p1, 1); /* f8 with scale */
        check_conv2d(be, OV_DTYPE_F32, 1, 16, 7, 6, 2, 3, 3, (ov_conv2d_params){1, 1, 0, 0, 1, 1, 1}, 1);
        check_conv2d(be, OV_DTYPE_F32, 2, 16, 9, 10, 4, 3, 3, (ov_conv2d_params){1, 1, 2, 2, 2, 2, 1}, 1);
        check_conv2d(be, OV_DTYPE_F32, 1, 16, 6, 8, 5, 1, 3, (ov_conv2d_params){1, 1, 0, 1, 1, 1, 1}, 1);
        check_conv2d(be, OV_DTYPE_F32, 1, 18, 5, 4, 3, 5, 3, (ov_conv2d_params){1, 1, 2, 1, 1, 1, 1}, 1);
        check_conv2d(be, OV_DTYPE_F32, 1, 16, 4, 5, 2, 1, 1, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 1}, 1);
        check_conv2d(be, OV_DTYPE_F32, 2, 3, 9, 7, 5, 3, 3, s1p1, 1); /* C < 16: the im2col path */
    }
    ov_cpu_conv_band_force(0);
    /* 1x1, no padding: one GEMM per sample, no im2col; batch 3, f16 weights, odd sizes */
    check_conv2d(be, OV_DTYPE_F16, 3, 7, 5, 9, 6, 1, 1, (ov_conv2d_params){1, 1, 0, 0, 1, 1, 1}, 1);
    check_conv2d(be, OV_DTYPE_F32, 1, 6, 4, 5, 4, 1, 1, (ov_conv2d_params){1, 1, 0, 0, 1, 1, 2}, 1);
    /* generic im2col path: groups > 1 at stride 1 falls back, big padding (all-zero rows), stride 3 */
    check_conv2d(be, OV_DTYPE_F16, 2, 6, 7, 9, 9, 3, 3, (ov_conv2d_params){1, 1, 1, 1, 1, 1, 3}, 1);
    check_conv2d(be, OV_DTYPE_F32, 1, 3, 5, 6, 4, 3, 3, (ov_conv2d_params){2, 2, 2, 2, 1, 1, 1}, 1);
    check_conv2d(be, OV_DTYPE_F32, 2, 2, 11, 9, 3, 3, 3, (ov_conv2d_params){3, 2, 1, 2, 2, 1, 1}, 1);
}

START_TEST(conv2d_stride_pad_dilation_groups)
{
    tt_run(body_conv2d);
}
END_TEST

static void check_conv3d(ov_backend *be, int64_t C, int64_t T, int64_t H, int64_t W, int64_t O, int kt,
                         int kh, int kw, ov_conv3d_params p)
{
    tt_ctx c;
    tt_begin(&c, be);
    int st = p.stride_t ? p.stride_t : 1, sh = p.stride_h ? p.stride_h : 1, sw = p.stride_w ? p.stride_w : 1;
    int64_t To = (T + p.pad_t_front - kt) / st + 1, Ho = (H + 2 * p.pad_h - kh) / sh + 1,
            Wo = (W + 2 * p.pad_w - kw) / sw + 1;
    float *xv = tt_rand(C * T * H * W, 1.0), *wv = tt_rand(O * C * kt * kh * kw, 1.0), *bv = tt_rand(O, 1.0);
    ov_tensor *x = tt_act(&c, "x", 5, SHAPE(1, C, T, H, W), xv);
    ov_tensor *w = tt_input(&c, "w", OV_DTYPE_F32, 5, SHAPE(O, C, kt, kh, kw), wv);
    ov_tensor *b = tt_act(&c, "b", 1, SHAPE(O), bv);
    ov_tensor *y = tt_out(&c, "y", 5, SHAPE(1, O, To, Ho, Wo));
    TT_OK(ov_op_conv3d_causal(y, x, w, b, &p));
    double *ref = dalloc(O * To * Ho * Wo);
    for (int64_t o = 0; o < O; o++)
        for (int64_t to = 0; to < To; to++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double s = bv[o];
                    for (int64_t ci = 0; ci < C; ci++)
                        for (int dt = 0; dt < kt; dt++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++) {
                                    int64_t it = to * st - p.pad_t_front + dt; /* front zeros only */
                                    int64_t iy = oy * sh - p.pad_h + ky, ix = ox * sw - p.pad_w + kx;
                                    if (it < 0 || it >= T || iy < 0 || iy >= H || ix < 0 || ix >= W)
                                        continue;
                                    s += (double)xv[((ci * T + it) * H + iy) * W + ix] *
                                         wv[(((o * C + ci) * kt + dt) * kh + ky) * kw + kx];
                                }
                    ref[((o * To + to) * Ho + oy) * Wo + ox] = s;
                }
    tt_expect("conv3d_causal", y, ref, 2e-6 * (double)(C * kt * kh * kw + 8) * tt_tol(be), 1e-5 * tt_tol(be));
    free(ref);
    free(xv);
    free(wv);
    free(bv);
    tt_end(&c);
}

static void body_conv3d(ov_backend *be)
{
    /* WAN CausalConv3d k=3 pad=1: time padded 2 in front, none after */
    check_conv3d(be, 3, 5, 6, 7, 4, 3, 3, 3, (ov_conv3d_params){1, 1, 1, 2, 1, 1});
    /* downsample3d time_conv: kernel (3,1,1), stride (2,1,1), no padding */
    check_conv3d(be, 4, 7, 3, 5, 4, 3, 1, 1, (ov_conv3d_params){2, 1, 1, 0, 0, 0});
    /* upsample3d time_conv: kernel (3,1,1), pad (1,0,0) -> 2 front frames */
    check_conv3d(be, 2, 4, 3, 3, 4, 3, 1, 1, (ov_conv3d_params){1, 1, 1, 2, 0, 0});
    /* patch embedding: kernel = stride = (1,2,2); 1x1x1 shortcut */
    check_conv3d(be, 3, 2, 6, 8, 5, 1, 2, 2, (ov_conv3d_params){1, 2, 2, 0, 0, 0});
    check_conv3d(be, 6, 3, 4, 5, 3, 1, 1, 1, (ov_conv3d_params){1, 1, 1, 0, 0, 0});
}

START_TEST(conv3d_causal_wan_shapes)
{
    tt_run(body_conv3d);
}
END_TEST

/* ---- norms ---- */

static void body_norms(ov_backend *be)
{
    double tol = tt_tol(be);
    int64_t shapes[][2] = {{5, 7}, {3, 64}, {2, 1001}};
    for (int si = 0; si < 3; si++) {
        int64_t R = shapes[si][0], C = shapes[si][1];
        for (int affine = 0; affine < 2; affine++) {
            tt_ctx c;
            tt_begin(&c, be);
            float *xv = tt_rand(R * C, 3.0), *gv = tt_rand(C, 1.0), *bv = tt_rand(C, 1.0);
            for (int64_t i = 0; i < R * C; i++)
                xv[i] += 2.0f; /* a mean far from 0: catches a missing mean subtraction */
            ov_tensor *x = tt_act(&c, "x", 2, SHAPE(R, C), xv);
            ov_tensor *g = affine ? tt_act(&c, "g", 1, SHAPE(C), gv) : NULL;
            ov_tensor *b = affine ? tt_act(&c, "b", 1, SHAPE(C), bv) : NULL;
            ov_tensor *y = tt_out(&c, "y", 2, SHAPE(R, C)), *z = tt_out(&c, "z", 2, SHAPE(R, C));
            TT_OK(ov_op_layer_norm(y, x, g, b, 1e-6f));
            TT_OK(ov_op_rms_norm(z, x, g, 1e-6f));
            double *ref = dalloc(R * C), *rz = dalloc(R * C);
            for (int64_t r = 0; r < R; r++) {
                double mu = 0, var = 0, ms = 0;
                for (int64_t j = 0; j < C; j++)
                    mu += xv[r * C + j], ms += (double)xv[r * C + j] * xv[r * C + j];
                mu /= C;
                ms /= C;
                for (int64_t j = 0; j < C; j++)
                    var += (xv[r * C + j] - mu) * (xv[r * C + j] - mu);
                var /= C;
                for (int64_t j = 0; j < C; j++) {
                    ref[r * C + j] =
                        (xv[r * C + j] - mu) / sqrt(var + 1e-6) * (affine ? gv[j] : 1) + (affine ? bv[j] : 0);
                    rz[r * C + j] = xv[r * C + j] / sqrt(ms + 1e-6) * (affine ? gv[j] : 1);
                }
            }
            tt_expect("layer_norm", y, ref, 1e-5 * tol, 1e-5 * tol);
            tt_expect("rms_norm", z, rz, 1e-5 * tol, 1e-5 * tol);
            /* in place */
            TT_OK(ov_op_rms_norm(x, x, g, 1e-6f));
            tt_expect("rms_norm in place", x, rz, 1e-5 * tol, 1e-5 * tol);
            free(ref);
            free(rz);
            free(xv);
            free(gv);
            free(bv);
            tt_end(&c);
        }
    }
    /* per-head RMS norm: [L, H, D] with gamma [D] */
    {
        tt_ctx c;
        tt_begin(&c, be);
        float *xv = tt_rand(4 * 3 * 16, 2.0), *gv = tt_rand(16, 1.0);
        ov_tensor *x = tt_act(&c, "x", 3, SHAPE(4, 3, 16), xv);
        ov_tensor *g = tt_act(&c, "g", 1, SHAPE(16), gv);
        ov_tensor *y = tt_out(&c, "y", 3, SHAPE(4, 3, 16));
        TT_OK(ov_op_rms_norm(y, x, g, 1e-6f));
        double ref[192];
        for (int r = 0; r < 12; r++) {
            double ms = 0;
            for (int j = 0; j < 16; j++)
                ms += (double)xv[r * 16 + j] * xv[r * 16 + j];
            for (int j = 0; j < 16; j++)
                ref[r * 16 + j] = xv[r * 16 + j] / sqrt(ms / 16 + 1e-6) * gv[j];
        }
        tt_expect("rms_norm per head", y, ref, 1e-5 * tol, 1e-5 * tol);
        free(xv);
        free(gv);
        tt_end(&c);
    }
    /* group norm: [N, C, H, W] and [N, C, T, H, W]; channel RMS norm (WAN VAE) */
    int64_t gs[][5] = {{2, 8, 3, 5, 4}, {1, 6, 7, 1, 3}, {2, 32, 4, 4, 32}};
    for (int gi = 0; gi < 3; gi++) {
        int64_t N = gs[gi][0], C = gs[gi][1], H = gs[gi][2], W = gs[gi][3], G = gs[gi][4], S = H * W;
        tt_ctx c;
        tt_begin(&c, be);
        float *xv = tt_rand(N * C * S, 2.0), *gv = tt_rand(C, 1.0), *bv = tt_rand(C, 1.0);
        for (int64_t i = 0; i < N * C * S; i++)
            xv[i] += 1.5f;
        ov_tensor *x = tt_act(&c, "x", 4, SHAPE(N, C, H, W), xv);
        ov_tensor *g = tt_act(&c, "g", 1, SHAPE(C), gv);
        ov_tensor *b = tt_act(&c, "b", 1, SHAPE(C), bv);
        ov_tensor *y = tt_out(&c, "y", 4, SHAPE(N, C, H, W)), *z = tt_out(&c, "z", 4, SHAPE(N, C, H, W));
        ov_tensor *ys = tt_out(&c, "ys", 4, SHAPE(N, C, H, W));
        TT_OK(ov_op_group_norm(y, x, (int)G, g, b, 1e-5f));
        TT_OK(ov_op_group_norm_silu(ys, x, (int)G, g, b, 1e-5f));
        TT_OK(ov_op_channel_rms_norm(z, x, g, 1e-12f));
        double *ref = dalloc(N * C * S), *rz = dalloc(N * C * S);
        int64_t cg = C / G;
        for (int64_t n = 0; n < N; n++) {
            for (int64_t grp = 0; grp < G; grp++) {
                double mu = 0, var = 0;
                const float *base = xv + (n * C + grp * cg) * S;
                for (int64_t i = 0; i < cg * S; i++)
                    mu += base[i];
                mu /= (double)(cg * S);
                for (int64_t i = 0; i < cg * S; i++)
                    var += (base[i] - mu) * (base[i] - mu);
                var /= (double)(cg * S);
                for (int64_t i = 0; i < cg * S; i++) {
                    int64_t ch = grp * cg + i / S;
                    ref[(n * C + grp * cg) * S + i] = (base[i] - mu) / sqrt(var + 1e-5) * gv[ch] + bv[ch];
                }
            }
            for (int64_t p = 0; p < S; p++) {
                double ss = 0;
                for (int64_t ch = 0; ch < C; ch++)
                    ss += (double)xv[(n * C + ch) * S + p] * xv[(n * C + ch) * S + p];
                double nrm = sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12;
                for (int64_t ch = 0; ch < C; ch++)
                    rz[(n * C + ch) * S + p] = xv[(n * C + ch) * S + p] / nrm * sqrt((double)C) * gv[ch];
            }
        }
        tt_expect("group_norm", y, ref, 1e-5 * tol, 1e-5 * tol);
        for (int64_t i = 0; i < N * C * S; i++)
            ref[i] = ref[i] / (1.0 + exp(-ref[i])); /* SiLU */
        tt_expect("group_norm_silu", ys, ref, 1e-5 * tol, 1e-5 * tol);
        tt_expect("channel_rms_norm", z, rz, 1e-5 * tol, 1e-5 * tol);
        free(ref);
        free(rz);
        free(xv);
        free(gv);
        free(bv);
        tt_end(&c);
    }
}

START_TEST(norms_layer_rms_group_channel)
{
    tt_run(body_norms);
}
END_TEST

/* ---- element-wise ---- */

static double ref_gelu_erf(double x)
{
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

static void body_elementwise(ov_backend *be)
{
    double tol = tt_tol(be);
    int64_t n = 1037;
    tt_ctx c;
    tt_begin(&c, be);
    float *xv = tt_rand(n, 6.0);
    ov_tensor *x = tt_act(&c, "x", 1, SHAPE(n), xv);
    double *ref = dalloc(n);
    const char *names[] = {"silu", "gelu_erf", "gelu_tanh", "gelu_quick", "scale", "clamp"};
    for (int k = 0; k < 6; k++) {
        ov_tensor *y = tt_out(&c, names[k], 1, SHAPE(n));
        switch (k) {
        case 0: TT_OK(ov_op_silu(y, x)); break;
        case 1: TT_OK(ov_op_gelu(y, x, OV_GELU_ERF)); break;
        case 2: TT_OK(ov_op_gelu(y, x, OV_GELU_TANH)); break;
        case 3: TT_OK(ov_op_gelu(y, x, OV_GELU_QUICK)); break;
        case 4: TT_OK(ov_op_scale(y, x, -1.5f, 0.25f)); break;
        case 5: TT_OK(ov_op_clamp(y, x, -1.0f, 1.0f)); break;
        }
        for (int64_t i = 0; i < n; i++) {
            double v = xv[i];
            switch (k) {
            case 0: ref[i] = v / (1 + exp(-v)); break;
            case 1: ref[i] = ref_gelu_erf(v); break;
            case 2: ref[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); break;
            case 3: ref[i] = v / (1 + exp(-1.702 * v)); break;
            case 4: ref[i] = v * -1.5 + 0.25; break;
            case 5: ref[i] = v < -1 ? -1 : (v > 1 ? 1 : v); break;
            }
        }
        tt_expect(names[k], y, ref, 2e-6 * tol, 2e-6 * tol);
    }
    free(ref);
    free(xv);
    tt_end(&c);

    /* GEGLU [3, 5, 2·9] and SwiGLU [4, 11] */
    tt_begin(&c, be);
    float *gv = tt_rand(3 * 5 * 18, 3.0), *av = tt_rand(44, 3.0), *uv = tt_rand(44, 3.0);
    ov_tensor *gx = tt_act(&c, "gx", 3, SHAPE(3, 5, 18), gv);
    ov_tensor *gy = tt_out(&c, "gy", 3, SHAPE(3, 5, 9));
    TT_OK(ov_op_geglu(gy, gx));
    double r1[135], r2[44];
    for (int r = 0; r < 15; r++)
        for (int j = 0; j < 9; j++)
            r1[r * 9 + j] = gv[r * 18 + j] * ref_gelu_erf(gv[r * 18 + 9 + j]);
    tt_expect("geglu", gy, r1, 2e-6 * tol, 2e-6 * tol);
    ov_tensor *sg = tt_act(&c, "gate", 2, SHAPE(4, 11), av), *su = tt_act(&c, "up", 2, SHAPE(4, 11), uv);
    ov_tensor *sy = tt_out(&c, "sy", 2, SHAPE(4, 11));
    TT_OK(ov_op_swiglu(sy, sg, su));
    for (int i = 0; i < 44; i++)
        r2[i] = av[i] / (1 + exp(-(double)av[i])) * uv[i];
    tt_expect("swiglu", sy, r2, 2e-6 * tol, 2e-6 * tol);
    free(gv);
    free(av);
    free(uv);
    tt_end(&c);
}

START_TEST(activations_and_glu)
{
    tt_run(body_elementwise);
}
END_TEST

static void body_broadcast(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    /* add: [2,3,5] + [3,1]; mul: [2,3,5] * [1,5] ([N,C,1,1]-style and row broadcasts) */
    float *av = tt_rand(30, 2.0), *bv = tt_rand(3, 2.0), *cv = tt_rand(5, 2.0);
    ov_tensor *a = tt_act(&c, "a", 3, SHAPE(2, 3, 5), av);
    ov_tensor *b = tt_act(&c, "b", 2, SHAPE(3, 1), bv);
    ov_tensor *cc = tt_act(&c, "c", 2, SHAPE(1, 5), cv);
    ov_tensor *y = tt_out(&c, "y", 3, SHAPE(2, 3, 5)), *z = tt_out(&c, "z", 3, SHAPE(2, 3, 5));
    TT_OK(ov_op_add(y, a, b));
    TT_OK(ov_op_mul(z, a, cc));
    double r1[30], r2[30];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 5; k++) {
                r1[(i * 3 + j) * 5 + k] = (double)av[(i * 3 + j) * 5 + k] + bv[j];
                r2[(i * 3 + j) * 5 + k] = (double)av[(i * 3 + j) * 5 + k] * cv[k];
            }
    tt_expect("add broadcast", y, r1, 1e-6, 1e-6 * tt_tol(be));
    tt_expect("mul broadcast", z, r2, 1e-6, 1e-6 * tt_tol(be));
    ov_tensor *bad = tt_out(&c, "bad", 3, SHAPE(2, 3, 4));
    TT_FAILS(ov_op_add(bad, a, b), OV_EINVAL, "do not broadcast");
    /* in place residual add: a += y */
    float *yv = tt_fetch(y); /* y as stored (rounded to the act dtype), the operand the add sees */
    TT_OK(ov_op_add(a, a, y));
    for (int i = 0; i < 30; i++)
        r1[i] = (double)yv[i] + av[i];
    free(yv);
    tt_expect("add in place", a, r1, 1e-6, 1e-6 * tt_tol(be));

    /* modulate (WAN): x [2,7,16], shift/scale [2,1,16] chunks of a [2,6,16] modulation tensor */
    float *xv = tt_rand(2 * 7 * 16, 2.0), *mv = tt_rand(2 * 6 * 16, 1.0);
    ov_tensor *x = tt_act(&c, "x", 3, SHAPE(2, 7, 16), xv);
    ov_tensor *mod = tt_act(&c, "mod", 3, SHAPE(2, 6, 16), mv);
    ov_tensor sh, sc;
    TT_OK(ov_tensor_slice(&sh, mod, 1, 0, 1));
    TT_OK(ov_tensor_slice(&sc, mod, 1, 1, 1));
    ov_tensor *mo = tt_out(&c, "mo", 3, SHAPE(2, 7, 16));
    TT_OK(ov_op_modulate(mo, x, &sh, &sc));
    double *rm = dalloc(224);
    for (int bb = 0; bb < 2; bb++)
        for (int l = 0; l < 7; l++)
            for (int j = 0; j < 16; j++)
                rm[(bb * 7 + l) * 16 + j] =
                    (double)xv[(bb * 7 + l) * 16 + j] * (1.0 + mv[(bb * 6 + 1) * 16 + j]) +
                    mv[(bb * 6 + 0) * 16 + j];
    tt_expect("modulate", mo, rm, 2e-6 * tt_tol(be), 2e-6 * tt_tol(be));
    free(rm);
    free(av);
    free(bv);
    free(cv);
    free(xv);
    free(mv);
    tt_end(&c);
}

START_TEST(broadcast_add_mul_modulate)
{
    tt_run(body_broadcast);
}
END_TEST

static void body_softmax(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    int64_t R = 6, C = 301;
    float *xv = tt_rand(R * C, 40.0);
    for (int64_t j = 0; j < C; j++)
        xv[2 * C + j] += 1000.0f; /* stability: exp(1000) overflows without max subtraction */
    ov_tensor *x = tt_act(&c, "x", 2, SHAPE(R, C), xv);
    ov_tensor *y = tt_out(&c, "y", 2, SHAPE(R, C));
    TT_OK(ov_op_softmax(y, x, 0.125f));
    double *ref = dalloc(R * C);
    for (int64_t r = 0; r < R; r++) {
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++)
            mx = fmax(mx, 0.125 * xv[r * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(0.125 * xv[r * C + j] - mx);
        for (int64_t j = 0; j < C; j++)
            ref[r * C + j] = exp(0.125 * xv[r * C + j] - mx) / s;
    }
    tt_expect("softmax", y, ref, 1e-7 * tt_tol(be), 2e-5 * tt_tol(be));
    free(ref);
    free(xv);
    tt_end(&c);
}

START_TEST(softmax_stable)
{
    tt_run(body_softmax);
}
END_TEST

/* ---- attention ---- */

struct att_case {
    int64_t B, Hq, Hkv, Lq, Lk, D;
    int causal;
    int64_t off;
    int bias; /* 0 none, 1 [1,Hq,Lq,Lk] with -inf key mask, 2 [B,1,Lq,Lk] */
    int blhd; /* q/k/v/o stored [B, L, H, D] and passed as permuted views */
    float scale;
};

static void check_attention(ov_backend *be, struct att_case a)
{
    tt_ctx c;
    tt_begin(&c, be);
    int64_t nq = a.B * a.Hq * a.Lq * a.D, nk = a.B * a.Hkv * a.Lk * a.D;
    float *qv = tt_rand(nq, 1.0), *kv = tt_rand(nk, 1.0), *vv = tt_rand(nk, 1.0);
    int64_t nb = (a.bias == 1 ? a.Hq : a.B) * a.Lq * a.Lk;
    float *bv = tt_rand(nb ? nb : 1, 2.0);
    if (a.bias == 1) /* mask the last two keys of every row (padding), as umT5 does */
        for (int64_t i = 0; i < nb; i++)
            if (i % a.Lk >= a.Lk - 2)
                bv[i] = -INFINITY;
    ov_tensor *q, *k, *v, *o, qp, kp, vp, op;
    int perm[4] = {0, 2, 1, 3};
    if (a.blhd) {
        q = tt_act(&c, "q", 4, SHAPE(a.B, a.Lq, a.Hq, a.D), qv);
        k = tt_act(&c, "k", 4, SHAPE(a.B, a.Lk, a.Hkv, a.D), kv);
        v = tt_act(&c, "v", 4, SHAPE(a.B, a.Lk, a.Hkv, a.D), vv);
        o = tt_out(&c, "o", 4, SHAPE(a.B, a.Lq, a.Hq, a.D));
        TT_OK(ov_tensor_permute(&qp, q, perm));
        TT_OK(ov_tensor_permute(&kp, k, perm));
        TT_OK(ov_tensor_permute(&vp, v, perm));
        TT_OK(ov_tensor_permute(&op, o, perm));
    } else {
        q = tt_act(&c, "q", 4, SHAPE(a.B, a.Hq, a.Lq, a.D), qv);
        k = tt_act(&c, "k", 4, SHAPE(a.B, a.Hkv, a.Lk, a.D), kv);
        v = tt_act(&c, "v", 4, SHAPE(a.B, a.Hkv, a.Lk, a.D), vv);
        o = tt_out(&c, "o", 4, SHAPE(a.B, a.Hq, a.Lq, a.D));
        qp = *q, kp = *k, vp = *v, op = *o;
    }
    ov_tensor *bt = NULL;
    if (a.bias == 1)
        bt = tt_input(&c, "bias", OV_DTYPE_F32, 4, SHAPE(1, a.Hq, a.Lq, a.Lk), bv);
    else if (a.bias == 2)
        bt = tt_input(&c, "bias", OV_DTYPE_F32, 4, SHAPE(a.B, 1, a.Lq, a.Lk), bv);
    ov_attn_params p = {.scale = a.scale, .causal = a.causal, .q_pos_offset = a.off, .bias = bt};
    TT_OK(ov_op_attention(&op, &qp, &kp, &vp, &p));

    /* reference: naive, double, materialised scores; output in o's storage order */
    double scale = a.scale != 0.0f ? a.scale : 1.0 / sqrt((double)a.D);
    double *ref = dalloc(nq), *s = dalloc(a.Lk);
    for (int64_t b = 0; b < a.B; b++)
        for (int64_t h = 0; h < a.Hq; h++) {
            int64_t hk = h / (a.Hq / a.Hkv);
            for (int64_t i = 0; i < a.Lq; i++) {
#define QI(bb, hh, ll, dd)                                                                                   \
    (a.blhd ? (((bb)*a.Lq + (ll)) * a.Hq + (hh)) * a.D + (dd)                                                \
            : (((bb)*a.Hq + (hh)) * a.Lq + (ll)) * a.D + (dd))
#define KI(bb, hh, ll, dd)                                                                                   \
    (a.blhd ? (((bb)*a.Lk + (ll)) * a.Hkv + (hh)) * a.D + (dd)                                               \
            : (((bb)*a.Hkv + (hh)) * a.Lk + (ll)) * a.D + (dd))
                double mx = -INFINITY;
                for (int64_t j = 0; j < a.Lk; j++) {
                    double d = 0;
                    for (int64_t e = 0; e < a.D; e++)
                        d += (double)qv[QI(b, h, i, e)] * kv[KI(b, hk, j, e)];
                    d *= scale;
                    if (a.bias == 1)
                        d += bv[(h * a.Lq + i) * a.Lk + j];
                    else if (a.bias == 2)
                        d += bv[(b * a.Lq + i) * a.Lk + j];
                    if (a.causal && j > a.off + i)
                        d = -INFINITY;
                    s[j] = d;
                    mx = fmax(mx, d);
                }
                double sum = 0;
                for (int64_t j = 0; j < a.Lk; j++) {
                    s[j] = mx == -INFINITY ? 0 : exp(s[j] - mx);
                    sum += s[j];
                }
                for (int64_t e = 0; e < a.D; e++) {
                    double acc = 0;
                    for (int64_t j = 0; j < a.Lk; j++)
                        acc += s[j] * vv[KI(b, hk, j, e)];
                    ref[QI(b, h, i, e)] = sum > 0 ? acc / sum : 0.0;
                }
#undef QI
#undef KI
            }
        }
    char what[128];
    snprintf(what, sizeof what,
             "attention B%lld Hq%lld Hkv%lld Lq%lld Lk%lld D%lld causal%d off%lld bias%d blhd%d",
             (long long)a.B, (long long)a.Hq, (long long)a.Hkv, (long long)a.Lq, (long long)a.Lk,
             (long long)a.D, a.causal, (long long)a.off, a.bias, a.blhd);
    tt_expect(what, o, ref, 2e-6 * (double)(a.D + 8) * tt_tol(be), 1e-4 * tt_tol(be));
    free(ref);
    free(s);
    free(qv);
    free(kv);
    free(vv);
    free(bv);
    tt_end(&c);
}

static void body_attention(ov_backend *be)
{
    check_attention(be, (struct att_case){2, 3, 3, 37, 37, 16, 0, 0, 0, 0, 0});   /* self */
    check_attention(be, (struct att_case){1, 2, 2, 37, 11, 24, 0, 0, 1, 0, 0});   /* cross, [B,L,H,D] */
    check_attention(be, (struct att_case){1, 6, 2, 9, 9, 8, 1, 0, 0, 1, 0});      /* GQA causal */
    check_attention(be, (struct att_case){1, 4, 2, 5, 77, 16, 1, 72, 0, 1, 0});   /* KV cache decode-ish */
    check_attention(be, (struct att_case){1, 4, 1, 1, 300, 32, 1, 299, 0, 1, 0}); /* one token decode */
    check_attention(be, (struct att_case){1, 2, 2, 130, 300, 32, 0, 0, 0, 0, 0}); /* crosses q and k tiles */
    check_attention(be, (struct att_case){1, 2, 2, 200, 200, 16, 1, 0, 0, 0, 0}); /* causal, many tiles */
    check_attention(be,
                    (struct att_case){1, 3, 3, 10, 12, 8, 0, 0, 1, 0, 1.0f}); /* umT5: bias + mask, scale 1 */
    check_attention(be, (struct att_case){2, 2, 2, 7, 9, 8, 0, 0, 2, 0, 0});  /* per-batch bias */
}

START_TEST(attention_self_cross_gqa_causal_cache)
{
    tt_run(body_attention);
}
END_TEST

/* ---- positions ---- */

static void body_rope(ov_backend *be)
{
    double tol = tt_tol(be);
    /* NEOX (Qwen): [2, 9, 3, 16], positions from 5, theta 1e6; strided input view */
    {
        tt_ctx c;
        tt_begin(&c, be);
        int64_t B = 2, L = 9, H = 3, D = 16, half = D / 2;
        float *xv = tt_rand(B * L * H * D, 2.0);
        ov_tensor *x = tt_act(&c, "x", 4, SHAPE(B, L, H, D), xv);
        ov_tensor *y = tt_out(&c, "y", 4, SHAPE(B, L, H, D));
        TT_OK(ov_op_rope_neox(y, x, 5, 1e6f));
        double *ref = dalloc(B * L * H * D);
        for (int64_t b = 0; b < B; b++)
            for (int64_t l = 0; l < L; l++)
                for (int64_t h = 0; h < H; h++) {
                    const float *xp = xv + ((b * L + l) * H + h) * D;
                    double *rp = ref + ((b * L + l) * H + h) * D;
                    for (int64_t i = 0; i < half; i++) {
                        double ang = (double)(5 + l) * pow(1e6, -2.0 * (double)i / (double)D);
                        rp[i] = xp[i] * cos(ang) - xp[i + half] * sin(ang);
                        rp[i + half] = xp[i + half] * cos(ang) + xp[i] * sin(ang);
                    }
                }
        tt_expect("rope_neox", y, ref, 2e-6 * tol, 2e-6 * tol);
        TT_OK(ov_op_rope_neox(x, x, 5, 1e6f)); /* in place */
        tt_expect("rope_neox in place", x, ref, 2e-6 * tol, 2e-6 * tol);
        free(ref);
        free(xv);
        tt_end(&c);
    }
    /* WAN 3D: head dim 128 (pairs 22/21/21) and 24 (4/4/4); grid 2×3×4 plus 3 padding tokens */
    int64_t Ds[] = {128, 24};
    for (int di = 0; di < 2; di++) {
        tt_ctx c;
        tt_begin(&c, be);
        int64_t gt = 2, gh = 3, gw = 4, L = gt * gh * gw + 3, H = 2, D = Ds[di], cp = D / 2;
        int64_t ct = cp - 2 * (cp / 3), ch = cp / 3;
        float *xv = tt_rand(L * H * D, 2.0);
        ov_tensor *x = tt_act(&c, "x", 4, SHAPE(1, L, H, D), xv);
        ov_tensor *y = tt_out(&c, "y", 4, SHAPE(1, L, H, D));
        TT_OK(ov_op_rope_wan3d(y, x, gt, gh, gw, 10000.0f));
        double *ref = dalloc(L * H * D);
        for (int64_t l = 0; l < L; l++)
            for (int64_t h = 0; h < H; h++) {
                const float *xp = xv + (l * H + h) * D;
                double *rp = ref + (l * H + h) * D;
                if (l >= gt * gh * gw) {
                    for (int64_t e = 0; e < D; e++)
                        rp[e] = xp[e];
                    continue;
                }
                int64_t f = l / (gh * gw), hh = (l / gw) % gh, ww = l % gw;
                for (int64_t j = 0; j < cp; j++) {
                    /* rope_params(1024, dim): 1/theta^(arange(0, dim, 2)/dim), dim 2·ct / 2·ch */
                    double ang = j < ct ? f * pow(10000.0, -(double)(2 * j) / (double)(2 * ct))
                                 : j < ct + ch
                                     ? hh * pow(10000.0, -(double)(2 * (j - ct)) / (double)(2 * ch))
                                     : ww * pow(10000.0, -(double)(2 * (j - ct - ch)) / (double)(2 * ch));
                    double re = xp[2 * j], im = xp[2 * j + 1];
                    rp[2 * j] = re * cos(ang) - im * sin(ang);
                    rp[2 * j + 1] = re * sin(ang) + im * cos(ang);
                }
            }
        ck_assert_int_eq(D == 128 ? ct : 0, D == 128 ? 22 : 0); /* 44/42/42 real dims at D = 128 */
        tt_expect("rope_wan3d", y, ref, 2e-6 * tol, 2e-6 * tol);
        free(ref);
        free(xv);
        tt_end(&c);
    }
}

START_TEST(rope_neox_and_wan3d)
{
    tt_run(body_rope);
}
END_TEST

static void body_embeddings(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    /* timestep: SDXL (320, flip, shift 0), diffusers default (7 odd, no flip, shift 1), WAN 256 */
    float tv[3] = {999.0f, 1.5f, 0.25f};
    struct {
        int64_t dim;
        ov_timestep_params p;
    } cases[] = {
        {320, {1, 0.0f, 10000.0f, 1.0f}}, {7, {0, 1.0f, 10000.0f, 1.0f}}, {256, {1, 0.0f, 10000.0f, 1.0f}}};
    ov_tensor *t = tt_input(&c, "t", OV_DTYPE_F32, 1, SHAPE(3), tv);
    for (int ci = 0; ci < 3; ci++) {
        int64_t dim = cases[ci].dim, half = dim / 2;
        ov_tensor *y = tt_out(&c, "temb", 2, SHAPE(3, dim));
        TT_OK(ov_op_timestep_embedding(y, t, &cases[ci].p));
        double *ref = dalloc(3 * dim);
        for (int n = 0; n < 3; n++)
            for (int64_t i = 0; i < half; i++) {
                double fr =
                    exp(-log(10000.0) * (double)i / ((double)half - cases[ci].p.downscale_freq_shift));
                double ang = (double)tv[n] * fr;
                ref[n * dim + i] = cases[ci].p.flip_sin_to_cos ? cos(ang) : sin(ang);
                ref[n * dim + half + i] = cases[ci].p.flip_sin_to_cos ? sin(ang) : cos(ang);
            }
        tt_expect("timestep_embedding", y, ref, 2e-6 * tt_tol(be), 0); /* odd dim: last column 0 */
        free(ref);
    }
    /* embedding rows from f32, f16 and q8_0 tables */
    int dts[] = {OV_DTYPE_F32, OV_DTYPE_F16, OV_DTYPE_Q8_0};
    int32_t ids[5] = {3, 0, 6, 3, 1};
    for (int di = 0; di < 3; di++) {
        float *tab = tt_rand(7 * 64, 1.0);
        ov_tensor *table = tt_input(&c, "embed", dts[di], 2, SHAPE(7, 64), tab);
        ov_tensor *iv = tt_input(&c, "ids", OV_DTYPE_I32, 1, SHAPE(5), (float *)ids);
        ov_tensor *y = tt_out(&c, "emb", 2, SHAPE(5, 64));
        TT_OK(ov_op_embedding(y, table, iv));
        double ref[5 * 64];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 64; j++)
                ref[i * 64 + j] = tab[ids[i] * 64 + j];
        tt_expect("embedding", y, ref, 0, 0);
        /* host ids: the same rows; a bad one named, nothing written */
        ov_tensor *yh = tt_out(&c, "emb_host", 2, SHAPE(5, 64));
        TT_OK(ov_op_embedding_host(yh, table, ids, 5));
        tt_expect("embedding_host", yh, ref, 0, 0);
        int32_t bad[5] = {3, 0, 7, 3, 1};
        ck_assert_int_eq(ov_op_embedding_host(yh, table, bad, 5), OV_EINVAL);
        ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "id [2] = 7"));
        ck_assert_int_eq(ov_op_embedding_host(yh, table, ids, 4), OV_EINVAL); /* y is [5, 64] */
        free(tab);
    }
    tt_end(&c);
}

START_TEST(timestep_and_token_embeddings)
{
    tt_run(body_embeddings);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_all_weight_dtypes);
    tcase_add_test(tc, cpu_dequant_row_exact);
    tcase_add_test(tc, cpu_linear_weight_kernels);
    tcase_add_test(tc, cpu_linear_q8_0_int8_activations);
    tcase_add_test(tc, linear_add_and_swiglu);
    tcase_add_test(tc, cpu_linear_fused_simd_levels);
    tcase_add_test(tc, matmul_batched_transposed);
    tcase_add_test(tc, conv2d_stride_pad_dilation_groups);
    tcase_add_test(tc, conv3d_causal_wan_shapes);
    tcase_add_test(tc, norms_layer_rms_group_channel);
    tcase_add_test(tc, activations_and_glu);
    tcase_add_test(tc, broadcast_add_mul_modulate);
    tcase_add_test(tc, softmax_stable);
    tcase_add_test(tc, attention_self_cross_gqa_causal_cache);
    tcase_add_test(tc, rope_neox_and_wan3d);
    tcase_add_test(tc, timestep_and_token_embeddings);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
