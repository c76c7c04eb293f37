/* The CUDA backend's host-side planning, proven on the CPU: the cuBLAS arguments it computes for
 * linear / matmul / conv (common/tensor/cuda/gemm_plan.c) are run through an emulation of
 * cublasGemmStridedBatchedEx (column-major, leading dims, batch strides, argument checks as
 * cuBLAS documents them) on the CPU backend's own tensors, and must give what the CPU backend's
 * ov_op_linear / ov_op_matmul / ov_op_conv* give; the device's per-element GGUF decode
 * (quant_elem.h) must match ov_dtype_to_f32. No GPU and no nvcc needed. */
#include "common/tensor/cuda/flash_layout.h"
#include "common/tensor/cuda/gemm_plan.h"
#include "common/tensor/cuda/index_plan.h"
#include "common/tensor/cuda/quant_elem.h"
#include "tests/test_tensor_util.h"

/* cuBLAS column-major semantics: C[i + j·ldc] = alpha·Σ_l op(A)(i, l)·op(B)(l, j), per batch item.
 * Argument checks are cublas<t>gemm's CUBLAS_STATUS_INVALID_VALUE conditions. Accumulates in
 * double, so differences against the CPU backend are its f32 summation only. */
static void emu_gemm(const ov_gemm_plan *p, float alpha, const float *A, const float *B, float *C)
{
    ck_assert_int_ge(p->m, 0);
    ck_assert_int_ge(p->n, 0);
    ck_assert_int_ge(p->k, 0);
    ck_assert_int_ge(p->batch, 1);
    ck_assert_msg(p->lda >= (p->trans_a ? p->k : p->m) && p->lda >= 1, "lda %d too small", p->lda);
    ck_assert_msg(p->ldb >= (p->trans_b ? p->n : p->k) && p->ldb >= 1, "ldb %d too small", p->ldb);
    ck_assert_msg(p->ldc >= p->m && p->ldc >= 1, "ldc %d too small", p->ldc);
    for (int bi = 0; bi < p->batch; bi++) {
        const float *a = A + bi * p->stride_a, *b = B + bi * p->stride_b;
        float *c = C + bi * p->stride_c;
        for (int j = 0; j < p->n; j++)
            for (int i = 0; i < p->m; i++) {
                double s = 0.0;
                for (int l = 0; l < p->k; l++) {
                    double av = p->trans_a ? a[l + (int64_t)i * p->lda] : a[i + (int64_t)l * p->lda];
                    double bv = p->trans_b ? b[j + (int64_t)l * p->ldb] : b[l + (int64_t)j * p->ldb];
                    s += av * bv;
                }
                c[i + (int64_t)j * p->ldc] = (float)(alpha * s);
            }
    }
}

/* |got − ref| <= 1e-4·(1 + |ref|) elementwise over n contiguous floats (f32 vs double sums). */
static void near(const char *what, const float *got, const float *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        ck_assert_msg(isfinite(got[i]) && e <= 1e-4 * (1.0 + fabs((double)ref[i])),
                      "%s: element %lld = %.7g, CPU backend %.7g", what, (long long)i, (double)got[i],
                      (double)ref[i]);
    }
}

/* A random f32 input [shape] on the CPU. */
static ov_tensor *rnd(tt_ctx *c, const char *name, int ndim, const int64_t *shape)
{
    ov_tensor t;
    ck_assert_int_eq(ov_tensor_init(&t, name, OV_DTYPE_F32, ndim, shape, NULL, NULL), 0);
    float *v = tt_rand(ov_tensor_nelem(&t), 1.0);
    ov_tensor *r = tt_input(c, name, OV_DTYPE_F32, ndim, shape, v);
    free(v);
    return r;
}

/* ---- matmul: every transpose pair, batch broadcast [1|B] on either side, strided rows and
 * batches (slices of wider / taller tensors) ---- */

static void matmul_case(int64_t B, int64_t Ba, int64_t Bb, int64_t M, int64_t N, int64_t K, int ta, int tb,
                        int64_t pad_row, int64_t pad_rows)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    /* a logical [Ba, M, K] (or [Ba, K, M]); stored in [Ba, rows + pad_rows, cols + pad_row] */
    int64_t ar = ta ? K : M, acn = ta ? M : K, br = tb ? N : K, bcn = tb ? K : N;
    const int64_t sa_full[3] = {Ba, ar + pad_rows, acn + pad_row},
                  sb_full[3] = {Bb, br + pad_rows, bcn + pad_row};
    ov_tensor *af = rnd(&c, "a", 3, sa_full), *bf = rnd(&c, "b", 3, sb_full);
    ov_tensor a1, a, b1, b;
    ck_assert_int_eq(ov_tensor_slice(&a1, af, 1, pad_rows, ar), 0);
    ck_assert_int_eq(ov_tensor_slice(&a, &a1, 2, 0, acn), 0);
    ck_assert_int_eq(ov_tensor_slice(&b1, bf, 1, 0, br), 0);
    ck_assert_int_eq(ov_tensor_slice(&b, &b1, 2, pad_row, bcn), 0);
    const int64_t sy[3] = {B, M, N};
    ov_tensor *y = tt_out(&c, "y", 3, sy);
    const float alpha = 0.75f;
    ck_assert_msg(ov_op_matmul(y, &a, &b, ta, tb, alpha) == 0, "%s", ov_tensor_last_error());
    ov_gemm_plan p;
    ck_assert_msg(ov_gemm_plan_matmul(&p, y, &a, &b, ta, tb) == 0, "%s", ov_tensor_last_error());
    float *got = malloc((size_t)(B * M * N) * sizeof(float));
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < B * M * N; i++)
        got[i] = NAN;
    emu_gemm(&p, alpha, b.data, a.data, got);
    char what[128];
    snprintf(what, sizeof what, "matmul B%lld(a%lld,b%lld) M%lld N%lld K%lld ta%d tb%d pad%lld/%lld",
             (long long)B, (long long)Ba, (long long)Bb, (long long)M, (long long)N, (long long)K, ta, tb,
             (long long)pad_row, (long long)pad_rows);
    near(what, got, y->data, B * M * N);
    free(got);
    tt_end(&c);
}

START_TEST(t_matmul_plan)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            matmul_case(1, 1, 1, 7, 5, 9, ta, tb, 0, 0);
            matmul_case(3, 3, 3, 6, 11, 4, ta, tb, 0, 0);
            matmul_case(3, 1, 3, 5, 8, 6, ta, tb, 3, 2);   /* a broadcast, strided rows and batches */
            matmul_case(2, 2, 1, 9, 3, 7, ta, tb, 5, 1);   /* b broadcast */
            matmul_case(2, 2, 2, 1, 6, 5, ta, tb, 2, 0);   /* one row */
            matmul_case(2, 2, 2, 4, 1, 5, ta, tb, 0, 3);   /* one column */
            matmul_case(4, 4, 4, 12, 16, 1, ta, tb, 1, 1); /* K = 1 */
        }
}
END_TEST

/* Rows that overlap or broadcast (row stride < row length) cannot be a cuBLAS leading dim: refused
 * with a message instead of silently reading other rows. */
START_TEST(t_matmul_plan_overlap_refused)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    const int64_t s[3] = {2, 4, 6}, sy[3] = {2, 4, 4};
    ov_tensor *a = rnd(&c, "a", 3, s), *y = tt_out(&c, "y", 3, sy);
    ov_tensor bcast = *a; /* rows broadcast: stride 0 on the row dim */
    bcast.shape[1] = 6;
    bcast.shape[2] = 4;
    bcast.stride[1] = 0;
    ov_gemm_plan p;
    ck_assert_int_eq(ov_gemm_plan_matmul(&p, y, a, &bcast, 0, 0), OV_EUNSUPP);
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "row stride"));
    tt_end(&c);
}
END_TEST

/* ---- linear: flattened leading dims, strided rows, refused layouts ---- */

static void linear_case(int ndim, const int64_t *sx_full, int cut_dim, int64_t cut_len, int64_t N)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    ov_tensor *xf = rnd(&c, "x", ndim, sx_full), x;
    ck_assert_int_eq(ov_tensor_slice(&x, xf, cut_dim, 0, cut_len), 0);
    const int64_t K = x.shape[ndim - 1], sw[2] = {N, K};
    ov_tensor *w = rnd(&c, "w", 2, sw);
    int64_t sy[OV_TENSOR_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        sy[i] = x.shape[i];
    sy[ndim - 1] = N;
    ov_tensor *y = tt_out(&c, "y", ndim, sy);
    ck_assert_msg(ov_op_linear(y, &x, w, NULL) == 0, "%s", ov_tensor_last_error());
    ov_gemm_plan p;
    ck_assert_msg(ov_gemm_plan_linear(&p, y, &x, w) == 0, "%s", ov_tensor_last_error());
    int64_t n = ov_tensor_nelem(y);
    float *got = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < n; i++)
        got[i] = NAN;
    emu_gemm(&p, 1.0f, w->data, x.data, got);
    near("linear", got, y->data, n);
    free(got);
    tt_end(&c);
}

START_TEST(t_linear_plan)
{
    const int64_t s3[3] = {2, 5, 12}, s2[2] = {7, 20}, s1[3] = {1, 3, 10}, sr[3] = {3, 1, 9};
    linear_case(3, s3, 2, 12, 9); /* contiguous [2,5,12] */
    linear_case(3, s3, 2, 8, 6);  /* rows of 8 with stride 12 (a slice of the last dim) */
    linear_case(2, s2, 1, 13, 4); /* [7,13] of a [7,20] */
    linear_case(3, s1, 2, 10, 5); /* leading size-1 dim */
    linear_case(3, sr, 2, 9, 3);  /* size-1 middle dim */
    linear_case(2, s2, 0, 1, 3);  /* one row */
}
END_TEST

START_TEST(t_linear_plan_refused)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    const int64_t sx[2] = {4, 8}, sw[2] = {3, 8}, sy[2] = {4, 3};
    ov_tensor *x = rnd(&c, "x", 2, sx), *w = rnd(&c, "w", 2, sw), *y = tt_out(&c, "y", 2, sy);
    ov_gemm_plan p;
    ov_tensor bx = *x;
    bx.stride[0] = 0; /* every row the same row: cuBLAS cannot take ldb = 0 */
    ck_assert_int_eq(ov_gemm_plan_linear(&p, y, &bx, w), OV_EUNSUPP);
    bx.stride[0] = 4; /* overlapping rows */
    ck_assert_int_eq(ov_gemm_plan_linear(&p, y, &bx, w), OV_EUNSUPP);
    /* [2, 2, 8] whose batch stride is not 2 rows: not one row stride */
    const int64_t s3[3] = {2, 2, 8}, sy3[3] = {2, 2, 3};
    ov_tensor *x3 = rnd(&c, "x3", 3, s3), *y3 = tt_out(&c, "y3", 3, sy3);
    ov_tensor ux = *x3;
    ux.stride[0] = 24;
    ck_assert_int_eq(ov_gemm_plan_linear(&p, y3, &ux, w), OV_EUNSUPP);
    /* nothing to do: planned as "skip" */
    const int64_t s0[2] = {0, 8}, sy0[2] = {0, 3};
    ov_tensor x0, y0;
    ck_assert_int_eq(ov_tensor_init(&x0, "x0", OV_DTYPE_F32, 2, s0, NULL, ov_backend_cpu()), 0);
    ck_assert_int_eq(ov_tensor_init(&y0, "y0", OV_DTYPE_F32, 2, sy0, NULL, ov_backend_cpu()), 0);
    ck_assert_int_eq(ov_gemm_plan_linear(&p, &y0, &x0, w), 1);
    tt_end(&c);
}
END_TEST

/* ---- convolution: im2col (ov_im2col_src) + chunked GEMM plans vs the CPU backend ---- */

static void conv_emulate(const ov_conv_geom *g, int groups, const ov_tensor *x, const ov_tensor *w, float *y,
                         size_t col_bytes_max)
{
    const int64_t Nb = x->shape[0], O = w->shape[0], Cg = g->C / groups;
    const int64_t KK = Cg * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    const int64_t np = ov_conv_chunk(g, groups, sizeof(float), col_bytes_max);
    ck_assert_int_ge(np, 1);
    float *col = malloc((size_t)(KK * np) * sizeof(float));
    ck_assert_ptr_nonnull(col);
    const float *xd = x->data, *wd = w->data;
    for (int64_t n = 0; n < Nb; n++)
        for (int gi = 0; gi < groups; gi++)
            for (int64_t p0 = 0; p0 < P; p0 += np) {
                int64_t cnt = P - p0 < np ? P - p0 : np;
                const float *xg = xd + (n * g->C + gi * Cg) * g->T * g->H * g->W;
                for (int64_t e = 0; e < KK * cnt; e++) { /* k_im2col's body */
                    int64_t src = ov_im2col_src(g, e / cnt, p0 + e % cnt);
                    col[e] = src < 0 ? 0.0f : xg[src];
                }
                ov_gemm_plan p;
                int64_t w_off = 0, y_off = 0;
                ck_assert_int_eq(ov_gemm_plan_conv(&p, g, groups, O, gi, p0, cnt, &w_off, &y_off), 0);
                emu_gemm(&p, 1.0f, col, wd + w_off, y + n * O * P + y_off);
            }
    free(col);
}

static void conv2d_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t kh, int64_t kw,
                        ov_conv2d_params cp, size_t col_bytes_max)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    int g = cp.groups ? cp.groups : 1, dh = cp.dilation_h ? cp.dilation_h : 1,
        dw = cp.dilation_w ? cp.dilation_w : 1;
    int64_t Ho = (H + 2 * cp.pad_h - dh * (kh - 1) - 1) / cp.stride_h + 1;
    int64_t Wo = (W + 2 * cp.pad_w - dw * (kw - 1) - 1) / cp.stride_w + 1;
    const int64_t sx[4] = {N, C, H, W}, sw[4] = {O, C / g, kh, kw}, sy[4] = {N, O, Ho, Wo};
    ov_tensor *x = rnd(&c, "x", 4, sx), *w = rnd(&c, "w", 4, sw), *y = tt_out(&c, "y", 4, sy);
    ck_assert_msg(ov_op_conv2d(y, x, w, NULL, &cp) == 0, "%s", ov_tensor_last_error());
    ov_conv_geom gm = {C,           1, H,        W,        1,  kh, kw, 1,  cp.stride_h,
                       cp.stride_w, 0, cp.pad_h, cp.pad_w, dh, dw, 1,  Ho, Wo};
    int64_t n = ov_tensor_nelem(y);
    float *got = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < n; i++)
        got[i] = NAN;
    conv_emulate(&gm, g, x, w, got, col_bytes_max);
    near("conv2d", got, y->data, n);
    free(got);
    tt_end(&c);
}

START_TEST(t_conv2d_plan)
{
    const size_t big = (size_t)256 << 20, tiny = 1; /* one chunk / 256-position chunks */
    for (int i = 0; i < 2; i++) {
        size_t cap = i ? tiny : big;
        conv2d_case(2, 8, 9, 11, 6, 3, 3,
                    (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}, cap);
        conv2d_case(1, 4, 10, 10, 4, 3, 3, (ov_conv2d_params){.stride_h = 2, .stride_w = 2, .pad_w = 1}, cap);
        conv2d_case(1, 8, 7, 7, 8, 3, 3,
                    (ov_conv2d_params){.stride_h = 1,
                                       .stride_w = 1,
                                       .pad_h = 2,
                                       .pad_w = 2,
                                       .dilation_h = 2,
                                       .dilation_w = 2,
                                       .groups = 2},
                    cap);
        conv2d_case(2, 6, 5, 4, 9, 1, 1, (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .groups = 3}, cap);
        conv2d_case(1, 3, 20, 17, 5, 3, 2, (ov_conv2d_params){.stride_h = 1, .stride_w = 2, .pad_h = 1}, cap);
        conv2d_case(2, 4, 20, 17, 6, 3, 2,
                    (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .groups = 2},
                    cap); /* 320 positions: two chunks under the tiny cap */
    }
}
END_TEST

static void conv3d_case(int64_t C, int64_t T, int64_t H, int64_t W, int64_t O, int64_t kt,
                        ov_conv3d_params cp, size_t cap)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    int64_t To = (T + cp.pad_t_front - kt) / cp.stride_t + 1;
    int64_t Ho = (H + 2 * cp.pad_h - 3) / cp.stride_h + 1, Wo = (W + 2 * cp.pad_w - 3) / cp.stride_w + 1;
    const int64_t sx[5] = {2, C, T, H, W}, sw[5] = {O, C, kt, 3, 3}, sy[5] = {2, O, To, Ho, Wo};
    ov_tensor *x = rnd(&c, "x", 5, sx), *w = rnd(&c, "w", 5, sw), *y = tt_out(&c, "y", 5, sy);
    ck_assert_msg(ov_op_conv3d_causal(y, x, w, NULL, &cp) == 0, "%s", ov_tensor_last_error());
    ov_conv_geom gm = {
        C,        T,        H, W, kt, 3,  3, cp.stride_t, cp.stride_h, cp.stride_w, cp.pad_t_front,
        cp.pad_h, cp.pad_w, 1, 1, To, Ho, Wo};
    int64_t n = ov_tensor_nelem(y);
    float *got = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < n; i++)
        got[i] = NAN;
    conv_emulate(&gm, 1, x, w, got, cap);
    near("conv3d_causal", got, y->data, n);
    free(got);
    tt_end(&c);
}

START_TEST(t_conv3d_plan)
{
    for (int i = 0; i < 2; i++) {
        size_t cap = i ? 1 : (size_t)256 << 20;
        conv3d_case(
            4, 5, 6, 7, 6, 3,
            (ov_conv3d_params){
                .stride_t = 1, .stride_h = 1, .stride_w = 1, .pad_t_front = 2, .pad_h = 1, .pad_w = 1},
            cap);
        conv3d_case(
            3, 6, 8, 8, 5, 3,
            (ov_conv3d_params){
                .stride_t = 2, .stride_h = 2, .stride_w = 2, .pad_t_front = 0, .pad_h = 1, .pad_w = 0},
            cap);
        conv3d_case(
            2, 4, 12, 12, 3, 2,
            (ov_conv3d_params){
                .stride_t = 1, .stride_h = 1, .stride_w = 1, .pad_t_front = 1, .pad_h = 1, .pad_w = 1},
            cap); /* 576 positions: three chunks under the tiny cap */
        conv3d_case(2, 4, 5, 5, 3, 1,
                    (ov_conv3d_params){.stride_t = 1, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1},
                    cap);
    }
}
END_TEST

/* ---- the fast im2col kernel's 32-bit index math vs the generic one, every (column, position) ---- */

static ov_conv_geom geom(int64_t C, int64_t T, int64_t H, int64_t W, int64_t kt, int64_t kh, int64_t kw,
                         int64_t st, int64_t sh, int64_t sw, int64_t pt, int64_t ph, int64_t pw, int64_t dh,
                         int64_t dw)
{
    ov_conv_geom g = {C, T, H, W, kt, kh, kw, st, sh, sw, pt, ph, pw, dh, dw, 0, 0, 0};
    g.To = (T + pt - kt) / st + 1;
    g.Ho = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
    g.Wo = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    return g;
}

START_TEST(t_im2col_fast_index)
{
    const ov_conv_geom gs[] = {
        geom(8, 1, 9, 11, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1),  /* 3x3 same */
        geom(4, 1, 10, 10, 1, 3, 3, 1, 2, 2, 0, 0, 1, 1, 1), /* stride 2, asymmetric pad */
        geom(4, 1, 7, 7, 1, 3, 3, 1, 1, 1, 0, 2, 2, 2, 2),   /* dilation 2 */
        geom(6, 1, 5, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1),   /* 1x1 */
        geom(3, 1, 20, 17, 1, 3, 2, 1, 1, 2, 0, 1, 0, 1, 1), /* non-square kernel */
        geom(4, 5, 6, 7, 3, 3, 3, 1, 1, 1, 2, 1, 1, 1, 1),   /* causal 3D */
        geom(3, 6, 8, 8, 3, 3, 3, 2, 2, 2, 0, 1, 0, 1, 1),   /* 3D strides */
        geom(5, 1, 33, 31, 1, 3, 3, 1, 2, 2, 0, 1, 1, 1, 1), /* SDXL downsample shape, odd sides */
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        const ov_conv_geom *g = &gs[i];
        int64_t KK = g->C * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
        ck_assert_msg(ov_im2col_fast_ok(g, KK, P), "geometry %zu refused", i);
        for (int64_t r = 0; r < KK; r++) {
            ov_im2col_row t = ov_im2col_row_of(g, (int)r);
            for (int64_t p = 0; p < P; p++)
                ck_assert_msg(ov_im2col_src32(g, t, (unsigned)p) == ov_im2col_src(g, r, p),
                              "geometry %zu column %lld position %lld: %lld vs %lld", i, (long long)r,
                              (long long)p, (long long)ov_im2col_src32(g, t, (unsigned)p),
                              (long long)ov_im2col_src(g, r, p));
        }
    }
    /* SDXL's widest conv (2560 -> 1280 at 128x128, KK 23,040) fits; beyond 65,535 columns or 2^30
     * positions it does not (the generic kernel runs) */
    ov_conv_geom sd = geom(2560, 1, 128, 128, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    ck_assert(ov_im2col_fast_ok(&sd, 2560 * 9, 128 * 128));
    ck_assert(!ov_im2col_fast_ok(&sd, 65536, 128 * 128));
    ck_assert(!ov_im2col_fast_ok(&sd, 2560 * 9, (int64_t)1 << 30));
    ov_conv_geom huge = geom(4, 1, (int64_t)1 << 30, 4, 1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1);
    ck_assert(!ov_im2col_fast_ok(&huge, 36, 16));
}
END_TEST

/* ---- dense views: ov_off's shortcut (offset = linear index) only where the loop agrees ---- */

static int64_t off_loop(int nd, const int64_t *shape, const int64_t *stride, int64_t li)
{
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        off += (li % shape[d]) * stride[d];
        li /= shape[d];
    }
    return off;
}

START_TEST(t_dense_views)
{
    /* contiguous, with size-1 dims of any stride: dense */
    ck_assert(ov_dense_strides(3, (int64_t[]){2, 3, 4}, (int64_t[]){12, 4, 1}));
    ck_assert(ov_dense_strides(4, (int64_t[]){1, 3, 1, 4}, (int64_t[]){999, 4, 7, 1}));
    /* permuted, sliced (row stride > width), broadcast (stride 0): not */
    ck_assert(!ov_dense_strides(2, (int64_t[]){3, 4}, (int64_t[]){1, 3}));
    ck_assert(!ov_dense_strides(2, (int64_t[]){3, 4}, (int64_t[]){8, 1}));
    ck_assert(!ov_dense_strides(2, (int64_t[]){3, 4}, (int64_t[]){0, 1}));
    ck_assert(!ov_dense_strides(2, (int64_t[]){3, 4}, (int64_t[]){4, 0}));
    /* brute force over small shapes and strides: dense => the loop gives the linear index */
    uint64_t seed = 12345;
    for (int it = 0; it < 20000; it++) {
        int nd = 1 + (int)((seed >> 7) % 4);
        int64_t shape[4], stride[4], n = 1;
        for (int d = 0; d < nd; d++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            shape[d] = 1 + (int64_t)((seed >> 33) % 4);
            n *= shape[d];
        }
        int64_t want = 1;
        for (int d = nd - 1; d >= 0; d--) { /* dense, then perturb one stride half the time */
            stride[d] = want;
            want *= shape[d];
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if ((seed >> 40) & 1) {
            int d = (int)((seed >> 20) % (uint64_t)nd);
            stride[d] = (int64_t)((seed >> 45) % 7);
        }
        int dense = ov_dense_strides(nd, shape, stride), agree = 1;
        for (int64_t li = 0; li < n; li++)
            if (off_loop(nd, shape, stride, li) != li)
                agree = 0;
        if (dense) /* (not dense but agreeing is harmless: the loop runs) */
            ck_assert_msg(agree, "iteration %d: dense but the loop disagrees", it);
    }
}
END_TEST

/* ---- 32-bit index math (index_plan.h): multiply-high division, simplified views, transposes ---- */

START_TEST(t_fdiv)
{
    /* divisors: small, powers of two and their neighbours, SDXL/WAN extents, the largest */
    uint32_t ds[64];
    int nd = 0;
    for (uint32_t d = 1; d <= 20; d++)
        ds[nd++] = d;
    for (int s = 5; s <= 31; s += 2) {
        ds[nd++] = (1u << s) - 1;
        ds[nd++] = 1u << s;
    }
    ds[nd++] = 320;
    ds[nd++] = 16384;
    ds[nd++] = 32760;
    ds[nd++] = 0x7fffffffu;
    ds[nd++] = 0x80000000u;
    uint64_t seed = 99;
    for (int i = 0; i < nd; i++) {
        ov_fdiv f = ov_fdiv_make(ds[i]);
        const uint32_t edge[6] = {0, 1, ds[i] - 1, ds[i] < 0x80000000u ? ds[i] : 0, 0x7ffffffeu, 0x7fffffffu};
        for (int e = 0; e < 6; e++)
            ck_assert_msg(ov_fdiv_q(f, edge[e]) == edge[e] / ds[i], "%u / %u = %u", edge[e], ds[i],
                          ov_fdiv_q(f, edge[e]));
        for (int k = 0; k < 20000; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t n = (uint32_t)(seed >> 33); /* < 2^31 */
            if (k & 1)
                n %= ds[i] * 4u + 3u; /* near small multiples too */
            ck_assert_msg(ov_fdiv_q(f, n) == n / ds[i], "%u / %u = %u", n, ds[i], ov_fdiv_q(f, n));
        }
    }
}
END_TEST

/* random views: simplified / 32-bit offsets equal the 64-bit loop for every linear index */
START_TEST(t_ix32_views)
{
    uint64_t seed = 4242;
#define RND() (seed = seed * 6364136223846793005ull + 1442695040888963407ull, (seed >> 33))
    int merged = 0;
    for (int it = 0; it < 6000; it++) {
        int nd = 1 + (int)(RND() % OV_TENSOR_MAX_DIMS);
        int64_t shape[OV_TENSOR_MAX_DIMS], dense[OV_TENSOR_MAX_DIMS], stride[OV_TENSOR_MAX_DIMS], n = 1;
        for (int d = 0; d < nd; d++) {
            shape[d] = 1 + (int64_t)(RND() % 5);
            n *= shape[d];
        }
        int64_t want = 1;
        for (int d = nd - 1; d >= 0; d--) {
            dense[d] = want;
            want *= shape[d] + (int64_t)(RND() % 2); /* sometimes padded rows (slices) */
        }
        int perm[OV_TENSOR_MAX_DIMS]; /* a random permutation of the dense strides */
        for (int d = 0; d < nd; d++)
            perm[d] = d;
        for (int d = nd - 1; d > 0 && (RND() % 2); d--) {
            int j = (int)(RND() % (uint64_t)(d + 1)), t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        for (int d = 0; d < nd; d++) {
            stride[d] = dense[perm[d]];
            if (RND() % 6 == 0)
                stride[d] = 0; /* broadcast */
            else if (RND() % 9 == 0)
                stride[d] = -stride[d]; /* negative (offsets relative to a base) */
        }
        int64_t ss[OV_TENSOR_MAX_DIMS], st[OV_TENSOR_MAX_DIMS];
        memcpy(ss, shape, sizeof ss);
        memcpy(st, stride, sizeof st);
        int sn = ov_view_simplify(nd, ss, st);
        ck_assert_int_ge(sn, 1);
        ck_assert_int_le(sn, nd);
        merged += sn < nd;
        ov_ix32 ix;
        ck_assert_msg(ov_ix32_make(&ix, nd, shape, stride), "iteration %d: small view refused", it);
        for (int64_t li = 0; li < n; li++) {
            int64_t ref = off_loop(nd, shape, stride, li);
            ck_assert_msg(off_loop(sn, ss, st, li) == ref, "iteration %d: simplified view moved index %lld", it,
                          (long long)li);
            ck_assert_msg(ov_ix32_off(&ix, (uint32_t)li) == ref, "iteration %d: 32-bit offset of %lld: %d, want %lld",
                          it, (long long)li, ov_ix32_off(&ix, (uint32_t)li), (long long)ref);
        }
    }
    ck_assert_int_gt(merged, 1000); /* the merging path ran */
    /* SDXL's bias broadcast collapses to 2 dims; a WAN-size view at 2^31 elements is refused */
    int64_t sh[4] = {12, 320, 128, 128}, st[4] = {320, 1, 0, 0};
    ck_assert_int_eq(ov_view_simplify(4, sh, st), 2);
    ck_assert(sh[0] == 3840 && sh[1] == 16384 && st[0] == 1 && st[1] == 0);
    ov_ix32 ix;
    ck_assert(!ov_ix32_make(&ix, 2, (int64_t[]){32768, 65536}, (int64_t[]){65536, 1}));
    ck_assert(ov_ix32_make(&ix, 2, (int64_t[]){32767, 65536}, (int64_t[]){65536, 1}) && ix.dense);
    ck_assert(!ov_ix32_make(&ix, 2, (int64_t[]){2, 3}, (int64_t[]){(int64_t)1 << 31, 1}));
    /* a zero-size view: nothing to address, accepted */
    ck_assert(ov_ix32_make(&ix, 2, (int64_t[]){0, 3}, (int64_t[]){3, 1}));
#undef RND
}
END_TEST

START_TEST(t_transpose_plan)
{
    /* the SDXL spatial transformer's two permutes, B 2, C 6, H 3, W 5 */
    const int64_t B = 2, C = 6, H = 3, W = 5;
    const int64_t tok_shape[4] = {B, H, W, C}, tok_stride[4] = {C * H * W, W, 1, H * W};
    const int64_t img_shape[4] = {B, C, H, W}, img_stride[4] = {H * W * C, 1, W * C, C};
    const int64_t *shapes[2] = {tok_shape, img_shape}, *strides[2] = {tok_stride, img_stride};
    for (int v = 0; v < 2; v++) {
        ov_transpose_plan t;
        ck_assert(ov_transpose_plan_of(&t, 4, shapes[v], strides[v]));
        ck_assert_int_eq((int64_t)t.n * t.r * t.c, B * C * H * W);
        /* the plan's (n, r, c) in row-major order is the view's linear index */
        for (int64_t li = 0; li < B * C * H * W; li++) {
            int64_t c = li % t.c, r = (li / t.c) % t.r, nb = li / ((int64_t)t.c * t.r);
            ck_assert_int_eq(nb * t.sn + r + c * t.sc, off_loop(4, shapes[v], strides[v], li));
        }
    }
    ov_transpose_plan t;
    /* dense, a broadcast, a strided inner dim that is not a transpose: no */
    ck_assert(!ov_transpose_plan_of(&t, 3, (int64_t[]){2, 3, 4}, (int64_t[]){12, 4, 1}));
    ck_assert(!ov_transpose_plan_of(&t, 2, (int64_t[]){3, 4}, (int64_t[]){1, 0}));
    ck_assert(!ov_transpose_plan_of(&t, 2, (int64_t[]){3, 4}, (int64_t[]){8, 2}));
    /* a plain 2-D transpose is one batch item */
    ck_assert(ov_transpose_plan_of(&t, 2, (int64_t[]){4, 3}, (int64_t[]){1, 4}));
    ck_assert(t.n == 1 && t.r == 4 && t.c == 3 && t.sc == 4);
}
END_TEST

/* ---- group norm split path: part ranges tile the group, merged (mean, var) = direct ---- */

START_TEST(t_gn_merge)
{
    const int64_t cnts[] = {1, 5, 31, 32, 33, 120, 1000, 65536 + 7};
    uint64_t seed = 99;
    for (size_t c = 0; c < sizeof cnts / sizeof cnts[0]; c++) {
        int64_t cnt = cnts[c];
        float *x = malloc((size_t)cnt * sizeof *x);
        ck_assert_ptr_nonnull(x);
        for (int64_t i = 0; i < cnt; i++) { /* a large offset: naive sum-of-squares would cancel */
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = 1000.0f + (float)((int64_t)(seed >> 40) % 2001 - 1000) / 250.0f;
        }
        float part[2 * OV_GN_PARTS];
        int64_t covered = 0, prev_hi = 0;
        for (int pi = 0; pi < OV_GN_PARTS; pi++) {
            int64_t lo, hi;
            ov_gn_part_range(cnt, pi, &lo, &hi);
            double m = 0, m2 = 0;
            if (hi > lo) {
                ck_assert_int_eq(lo, prev_hi); /* consecutive, no gap or overlap */
                for (int64_t i = lo; i < hi; i++)
                    m += x[i];
                m /= (double)(hi - lo);
                for (int64_t i = lo; i < hi; i++)
                    m2 += (x[i] - m) * (x[i] - m);
                covered += hi - lo;
                prev_hi = hi;
            }
            part[2 * pi] = (float)m;
            part[2 * pi + 1] = (float)m2;
        }
        ck_assert_int_eq(covered, cnt);
        double mean = 0, var = 0, rm = 0, rv = 0;
        ov_gn_merge(part, cnt, &mean, &var);
        for (int64_t i = 0; i < cnt; i++)
            rm += x[i];
        rm /= (double)cnt;
        for (int64_t i = 0; i < cnt; i++)
            rv += (x[i] - rm) * (x[i] - rm);
        rv /= (double)cnt;
        ck_assert_msg(fabs(mean - rm) <= 1e-4 && fabs(var - rv) <= 1e-5 + 1e-5 * rv,
                      "cnt %lld: mean %.9g vs %.9g, var %.9g vs %.9g", (long long)cnt, mean, rm, var, rv);
        free(x);
    }
}
END_TEST

/* ---- GGUF decode per element (device code path) vs ov_dtype_to_f32 ---- */

START_TEST(t_quant_elem)
{
    const int dts[3] = {OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};
    const int64_t n = 4 * 256;
    float *src = tt_rand(n, 3.0), *ref = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(ref);
    src[5] = 40.0f; /* a wide block so the scales differ */
    for (int t = 0; t < 3; t++) {
        size_t bytes = ov_dtype_row_bytes(dts[t], n);
        uint8_t *q = malloc(bytes);
        ck_assert_ptr_nonnull(q);
        ck_assert_int_eq(ov_dtype_from_f32(dts[t], src, q, n), 0);
        ck_assert_int_eq(ov_dtype_to_f32(dts[t], q, ref, n), 0);
        for (int64_t i = 0; i < n; i++) {
            float got = ov_quant_elem(q, dts[t], i);
            ck_assert_msg(fabsf(got - ref[i]) <= 1e-6f * fabsf(ref[i]),
                          "%s element %lld: %.9g, ov_dtype_to_f32 %.9g", ov_dtype_name(dts[t]), (long long)i,
                          (double)got, (double)ref[i]);
        }
        free(q);
    }
    /* f16 scale decoding: normals, subnormals, zero, inf */
    const uint16_t hs[6] = {0x3c00, 0x0001, 0x8000, 0x7c00, 0xc500, 0x03ff};
    for (int i = 0; i < 6; i++) {
        uint8_t b[2] = {(uint8_t)(hs[i] & 0xff), (uint8_t)(hs[i] >> 8)};
        float want = ov_f16_to_f32(hs[i]), got = ov_qe_f16(b);
        ck_assert_msg(memcmp(&want, &got, sizeof got) == 0, "f16 0x%04x: %g vs %g", hs[i], (double)got,
                      (double)want);
    }
    free(src);
    free(ref);
}
END_TEST

/* ---- flash attention fragment maps: one warp's tile through ldmatrix / mma.m16n8k16 as the PTX
 * ISA defines them (sections "Warp-level matrix load instruction: ldmatrix" and "Matrix fragments
 * for mma.m16n8k16 with floating point type"), with flash_attn_cuda.cu's lane maps ---- */

#define FD 128 /* head dim */
#define FN 64  /* keys per tile */

typedef double reg2[2]; /* one 32-bit register = two 16-bit elements, lower column first */

/* ldmatrix.x4: matrix i takes its 8 row addresses from lanes 8i..8i+7; lane l receives, in
 * register i, row l/4 columns 2(l%4), +1 (trans: rows 2(l%4), +1 of column l/4). */
static void emu_ldm4(reg2 out[32][4], const double *m, int ld, const int *lrow, const int *lcol, int trans)
{
    for (int i = 0; i < 4; i++)
        for (int l = 0; l < 32; l++)
            for (int j = 0; j < 2; j++) {
                int src_lane = 8 * i + (trans ? 2 * (l % 4) + j : l / 4);
                int c = trans ? l / 4 : 2 * (l % 4) + j;
                out[l][i][j] = m[lrow[src_lane] * ld + lcol[src_lane] + c];
            }
}

/* c += A·B for one m16n8k16: A from 4 registers per lane (a0a1: row g, cols 2t..; a2a3: row g+8;
 * a4a5: row g, cols 2t+8..; a6a7: row g+8, cols 2t+8..), B from 2 (b0b1: rows 2t.., col g; b2b3:
 * rows 2t+8..), C 4 floats (c0c1: row g, cols 2t..; c2c3: row g+8). g = lane/4, t = lane%4. */
static void emu_mma(double c[32][4], reg2 a[32][4], const reg2 *b0, const reg2 *b1)
{
    double A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        int g = l / 4, t = l % 4;
        for (int j = 0; j < 2; j++) {
            A[g][2 * t + j] = a[l][0][j];
            A[g + 8][2 * t + j] = a[l][1][j];
            A[g][2 * t + 8 + j] = a[l][2][j];
            A[g + 8][2 * t + 8 + j] = a[l][3][j];
            B[2 * t + j][g] = b0[l][j];
            B[2 * t + 8 + j][g] = b1[l][j];
        }
    }
    for (int l = 0; l < 32; l++) {
        int g = l / 4, t = l % 4;
        for (int e = 0; e < 4; e++) {
            int r = g + (e >= 2 ? 8 : 0), col = 2 * t + (e & 1);
            double d = 0;
            for (int k = 0; k < 16; k++)
                d += A[r][k] * B[k][col];
            c[l][e] += d;
        }
    }
}

START_TEST(t_flash_fragments)
{
    static double Q[16 * FD], K[FN * FD], V[FN * FD], S[16][FN], O[16][FD];
    static double s[32][FN / 8][4], o[32][FD / 8][4];
    for (int i = 0; i < 16 * FD; i++)
        Q[i] = tt_uniform() - 0.5;
    for (int i = 0; i < FN * FD; i++) {
        K[i] = tt_uniform() - 0.5;
        V[i] = tt_uniform() - 0.5;
    }
    int qr[32], qc[32], kr[32], kc[32], vr[32], vc[32];
    for (int l = 0; l < 32; l++) {
        ov_fa_q_addr(l, &qr[l], &qc[l]);
        ov_fa_k_addr(l, &kr[l], &kc[l]);
        ov_fa_v_addr(l, &vr[l], &vc[l]);
    }
    memset(s, 0, sizeof s);
    memset(o, 0, sizeof o);
    /* S = Q·Kᵀ exactly as the kernel's loops address shared memory */
    for (int kk = 0; kk < FD / 16; kk++) {
        reg2 qa[32][4], kb[32][4];
        emu_ldm4(qa, Q + kk * 16, FD, qr, qc, 0);
        for (int np = 0; np < FN / 16; np++) {
            emu_ldm4(kb, K + np * 16 * FD + kk * 16, FD, kr, kc, 0);
            reg2 b[4][32];
            for (int l = 0; l < 32; l++)
                for (int r = 0; r < 4; r++)
                    memcpy(b[r][l], kb[l][r], sizeof(reg2));
            double t0[32][4], t1[32][4];
            for (int l = 0; l < 32; l++)
                for (int e = 0; e < 4; e++) {
                    t0[l][e] = s[l][2 * np][e];
                    t1[l][e] = s[l][2 * np + 1][e];
                }
            emu_mma(t0, qa, b[0], b[1]);
            emu_mma(t1, qa, b[2], b[3]);
            for (int l = 0; l < 32; l++)
                for (int e = 0; e < 4; e++) {
                    s[l][2 * np][e] = t0[l][e];
                    s[l][2 * np + 1][e] = t1[l][e];
                }
        }
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < FN; j++) {
            double d = 0;
            for (int k = 0; k < FD; k++)
                d += Q[i * FD + k] * K[j * FD + k];
            S[i][j] = d;
        }
    for (int l = 0; l < 32; l++)
        for (int nt = 0; nt < FN / 8; nt++)
            for (int e = 0; e < 4; e++) {
                int r, c;
                ov_fa_c_elem(l, e, &r, &c);
                ck_assert_msg(fabs(s[l][nt][e] - S[r][nt * 8 + c]) < 1e-9, "S lane %d tile %d elem %d", l, nt,
                              e);
            }
    /* O = P·V with P taken from the S registers (the kernel's pa[] packing) */
    for (int kc2 = 0; kc2 < FN / 16; kc2++) {
        reg2 pa[32][4], vb[32][4];
        for (int l = 0; l < 32; l++)
            for (int r = 0; r < 4; r++) {
                pa[l][r][0] = s[l][2 * kc2 + ov_fa_p_tile(r)][ov_fa_p_elem(r)];
                pa[l][r][1] = s[l][2 * kc2 + ov_fa_p_tile(r)][ov_fa_p_elem(r) + 1];
            }
        for (int dp = 0; dp < FD / 16; dp++) {
            emu_ldm4(vb, V + kc2 * 16 * FD + dp * 16, FD, vr, vc, 1);
            reg2 b[4][32];
            for (int l = 0; l < 32; l++)
                for (int r = 0; r < 4; r++)
                    memcpy(b[r][l], vb[l][r], sizeof(reg2));
            double t0[32][4], t1[32][4];
            for (int l = 0; l < 32; l++)
                for (int e = 0; e < 4; e++) {
                    t0[l][e] = o[l][2 * dp][e];
                    t1[l][e] = o[l][2 * dp + 1][e];
                }
            emu_mma(t0, pa, b[0], b[1]);
            emu_mma(t1, pa, b[2], b[3]);
            for (int l = 0; l < 32; l++)
                for (int e = 0; e < 4; e++) {
                    o[l][2 * dp][e] = t0[l][e];
                    o[l][2 * dp + 1][e] = t1[l][e];
                }
        }
    }
    for (int i = 0; i < 16; i++)
        for (int d = 0; d < FD; d++) {
            double acc = 0;
            for (int j = 0; j < FN; j++)
                acc += S[i][j] * V[j * FD + d];
            O[i][d] = acc;
        }
    for (int l = 0; l < 32; l++)
        for (int dt = 0; dt < FD / 8; dt++)
            for (int e = 0; e < 4; e++) {
                int r, c;
                ov_fa_c_elem(l, e, &r, &c);
                ck_assert_msg(fabs(o[l][dt][e] - O[r][dt * 8 + c]) < 1e-9,
                              "O lane %d tile %d elem %d: %g vs %g", l, dt, e, o[l][dt][e], O[r][dt * 8 + c]);
            }
}
END_TEST

/* ---- the flash kernel's loop (tiles, causal key bound, masks, online softmax in exp2, GQA,
 * P rounded to bf16 before P·V), replayed on the CPU with the kernel's own decision functions
 * (flash_layout.h) and compared with the CPU backend's attention. Tolerance 1e-2 abs + rel: the
 * only difference by design is P in bf16 (2^-9 relative) times |v| <= 1 averaged. ---- */

#define FA_BM_ 128 /* flash_attn_cuda.cu: FA_BM, 8 warps x 16 rows; key tiles of BN 64 (FA_BN) or 128 */
#define FA_BN_MAX 128

static void flash_replay(const float *q, const float *k, const float *v, float *o, int B, int Hq, int Hkv,
                         int Lq, int Lk, int D, int causal, int qoff, float scale, int RB, int bn)
{
    const float sl2 = scale * 1.4426950408889634f;
    const int nqt = (Lq + FA_BM_ - 1) / FA_BM_, group = Hq / Hkv;
    float *acc = malloc((size_t)D * sizeof(float)), x[FA_BN_MAX];
    ck_assert_ptr_nonnull(acc);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < Hq; h++) {
            const int hk = h / group;
            const float *kb = k + ((int64_t)b * Hkv + hk) * Lk * D,
                        *vb = v + ((int64_t)b * Hkv + hk) * Lk * D;
            for (int qt = 0; qt < nqt; qt++) {
                const int q0 = qt * FA_BM_, qrows = Lq - q0 < FA_BM_ ? Lq - q0 : FA_BM_;
                const int kend = ov_fa_kend(Lk, causal, qoff, q0, qrows);
                const int ntiles = kend > 0 ? (kend + bn - 1) / bn : 0;
                for (int w = 0; w < 8 / RB; w++) /* warps of 16·RB rows (RB row blocks) */
                    for (int rr = 0; rr < 16 * RB; rr++) {
                        const int r0 = q0 + w * 16 * RB, row = r0 + rr;
                        const float *qr = q + (((int64_t)b * Hq + h) * Lq + (row < Lq ? row : 0)) * D;
                        float m = -INFINITY, l = 0.0f;
                        for (int d = 0; d < D; d++)
                            acc[d] = 0.0f;
                        for (int j = 0; j < ntiles; j++) {
                            const int k0 = j * bn;
                            const int nm = ov_fa_need_mask(k0, bn, Lk, causal, qoff, r0);
                            float mx = -INFINITY;
                            for (int c = 0; c < bn; c++) {
                                const int key = k0 + c;
                                float dot = 0.0f;
                                for (int d = 0; row < Lq && key < Lk && d < D; d++) /* zero-filled rows */
                                    dot += qr[d] * kb[(int64_t)key * D + d];
                                x[c] = dot * sl2;
                                if (nm && !ov_fa_visible(key, row, Lk, causal, qoff))
                                    x[c] = -INFINITY;
                                mx = fmaxf(mx, x[c]);
                            }
                            float base, corr, ls = 0.0f;
                            ov_fa_rescale(m, mx, &m, &base, &corr);
                            for (int d = 0; d < D; d++)
                                acc[d] *= corr;
                            for (int c = 0; c < bn; c++) {
                                const float p = exp2f(x[c] - base);
                                ls += p;
                                const float p16 = ov_bf16_to_f32(ov_f32_to_bf16(p));
                                for (int d = 0; k0 + c < Lk && d < D; d++)
                                    acc[d] += p16 * vb[(int64_t)(k0 + c) * D + d];
                            }
                            l = l * corr + ls;
                        }
                        if (row < Lq)
                            for (int d = 0; d < D; d++)
                                o[(((int64_t)b * Hq + h) * Lq + row) * D + d] =
                                    acc[d] * (l > 0.0f ? 1.0f / l : 0.0f);
                    }
            }
        }
    free(acc);
}

static void flash_replay_case(int B, int Hq, int Hkv, int Lq, int Lk, int D, int causal)
{
    tt_ctx c;
    tt_begin(&c, ov_backend_cpu());
    const int64_t sq[4] = {B, Hq, Lq, D}, sk[4] = {B, Hkv, Lk, D};
    ov_tensor *q = rnd(&c, "q", 4, sq), *k = rnd(&c, "k", 4, sk), *v = rnd(&c, "v", 4, sk),
              *o = tt_out(&c, "o", 4, sq);
    ov_attn_params p = {.scale = 0, .causal = causal, .q_pos_offset = causal ? Lk - Lq : 0};
    ck_assert_msg(ov_op_attention(o, q, k, v, &p) == 0, "%s", ov_tensor_last_error());
    int64_t n = ov_tensor_nelem(o);
    float *got = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(got);
    for (int64_t i = 0; i < n; i++)
        got[i] = NAN;
    const float *ref = o->data;
    /* variants 1-3 and 5 (64-key tiles, RB 1 or 2) and 6 (128-key tiles, RB 1) */
    static const int rbs[3] = {1, 2, 1}, bns[3] = {64, 64, 128};
    for (int vi = 0; vi < 3; vi++) {
        const int RB = rbs[vi], BN = bns[vi];
        for (int64_t i = 0; i < n; i++)
            got[i] = NAN;
        flash_replay(q->data, k->data, v->data, got, B, Hq, Hkv, Lq, Lk, D, causal, causal ? Lk - Lq : 0,
                     (float)(1.0 / sqrt((double)D)), RB, BN);
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(
                isfinite(got[i]) && fabs((double)got[i] - ref[i]) <= 1e-2 * (1.0 + fabs((double)ref[i])),
                "flash replay RB%d BN%d B%d Hq%d Hkv%d Lq%d Lk%d D%d causal%d: element %lld = %g, CPU %g", RB,
                BN, B, Hq, Hkv, Lq, Lk, D, causal, (long long)i, (double)got[i], (double)ref[i]);
    }
    free(got);
    tt_end(&c);
}

START_TEST(t_flash_loop)
{
    flash_replay_case(1, 2, 2, 200, 200, 128, 0); /* ragged: 2 query tiles, 4 key tiles */
    flash_replay_case(2, 4, 2, 130, 70, 64, 0);   /* GQA, cross lengths */
    flash_replay_case(1, 2, 1, 257, 257, 128, 1); /* causal self */
    flash_replay_case(1, 4, 2, 33, 300, 128, 1);  /* KV cache: q_pos_offset 267 */
    flash_replay_case(1, 2, 2, 1, 1000, 64, 1);   /* one-token decode */
    flash_replay_case(1, 3, 3, 500, 77, 64, 0);   /* 77 text keys */
    flash_replay_case(1, 2, 2, 129, 129, 64, 1);  /* the last row's last key opens a new tile */
    flash_replay_case(1, 1, 1, 1, 65, 128, 1);    /* decode whose only new key opens a tile */
    flash_replay_case(1, 2, 2, 200, 201, 64, 1);  /* offset 1: query tile 0's last key opens a tile */
    flash_replay_case(1, 2, 2, 129, 257, 128, 1); /* 128-key tiles: the diagonal inside a tile's second half */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_plan");
    TCase *tc = tcase_create("plan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, t_matmul_plan);
    tcase_add_test(tc, t_matmul_plan_overlap_refused);
    tcase_add_test(tc, t_linear_plan);
    tcase_add_test(tc, t_linear_plan_refused);
    tcase_add_test(tc, t_conv2d_plan);
    tcase_add_test(tc, t_conv3d_plan);
    tcase_add_test(tc, t_im2col_fast_index);
    tcase_add_test(tc, t_dense_views);
    tcase_add_test(tc, t_fdiv);
    tcase_add_test(tc, t_ix32_views);
    tcase_add_test(tc, t_transpose_plan);
    tcase_add_test(tc, t_gn_merge);
    tcase_add_test(tc, t_quant_elem);
    tcase_add_test(tc, t_flash_fragments);
    tcase_add_test(tc, t_flash_loop);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
