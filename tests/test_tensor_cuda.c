/* CUDA backend vs the CPU backend: every CUDA op on the same random inputs, f32 and bf16. */
#include <sys/wait.h>
#include <unistd.h>

#include "common/tensor/cuda/backend_cuda.h"
#include "tests/test_tensor_util.h"

/* Tolerances (|got − ref| <= atol + rtol·|ref|, ref = the CPU backend in f32 on the same rounded
 * inputs): f32 activations 1e-4 / 1e-4 (GEMM and attention 1e-3 abs: different summation orders);
 * bf16 activations: outputs are rounded to bf16 (2^-8 relative) so 1.5e-2 / 1.5e-2. */
#define NDT 2
static const int g_dts[NDT] = {OV_DTYPE_F32, OV_DTYPE_BF16};

typedef struct pair {
    tt_ctx cpu, gpu;
    int dt; /* GPU activation dtype */
} pair;

static void pair_begin(pair *p, int dt)
{
    ov_backend *g = NULL;
    ck_assert_msg(ov_backend_open(OV_BACKEND_CUDA, 0, &g) == 0, "open: %s", ov_tensor_last_error());
    tt_begin(&p->cpu, ov_backend_cpu());
    tt_begin(&p->gpu, g);
    p->dt = dt;
}

static void pair_end(pair *p)
{
    ov_backend *g = p->gpu.be;
    tt_end(&p->cpu);
    tt_end(&p->gpu);
    ov_backend_close(g);
}

/* The same values on both: dtype `gdt` on the GPU (vals rounded), f32 on the CPU. */
static void in2(pair *p, ov_tensor **c, ov_tensor **g, const char *name, int gdt, int ndim,
                const int64_t *shape, float *vals)
{
    *g = tt_input(&p->gpu, name, gdt, ndim, shape, vals);
    *c = tt_input(&p->cpu, name, OV_DTYPE_F32, ndim, shape, vals);
}

static void act2(pair *p, ov_tensor **c, ov_tensor **g, const char *name, int ndim, const int64_t *shape,
                 double amp)
{
    ov_tensor t;
    ck_assert_int_eq(ov_tensor_init(&t, name, OV_DTYPE_F32, ndim, shape, NULL, NULL), 0);
    int64_t n = ov_tensor_nelem(&t);
    float *v = tt_rand(n, amp);
    in2(p, c, g, name, p->dt, ndim, shape, v);
    free(v);
}

/* Poisoned outputs: f32 on the CPU, the pair's dtype on the GPU. */
static ov_tensor *out_dt(tt_ctx *c, const char *name, int dt, int ndim, const int64_t *shape)
{
    ov_tensor *t = tt_alloc(c, name, dt, ndim, shape);
    int64_t n = ov_tensor_nelem(t);
    float *nan = malloc((size_t)(n ? n : 1) * sizeof(float));
    size_t bytes = ov_tensor_nbytes(t);
    void *raw = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(nan);
    ck_assert_ptr_nonnull(raw);
    for (int64_t i = 0; i < n; i++)
        nan[i] = NAN;
    ck_assert_int_eq(ov_dtype_from_f32(dt, nan, raw, n), 0);
    ck_assert_int_eq(ov_tensor_upload(t, raw, bytes), 0);
    free(raw);
    free(nan);
    return t;
}

static void out2(pair *p, ov_tensor **c, ov_tensor **g, const char *name, int ndim, const int64_t *shape)
{
    *c = out_dt(&p->cpu, name, OV_DTYPE_F32, ndim, shape);
    *g = out_dt(&p->gpu, name, p->dt, ndim, shape);
}

/* Compare the GPU output with the CPU one. */
static void same(pair *p, const char *what, const ov_tensor *c, const ov_tensor *g, double atol32)
{
    float *cf = tt_fetch(c);
    int64_t n = ov_tensor_nelem(c);
    double *ref = malloc((size_t)(n ? n : 1) * sizeof(double));
    ck_assert_ptr_nonnull(ref);
    for (int64_t i = 0; i < n; i++)
        ref[i] = cf[i];
    char msg[192];
    snprintf(msg, sizeof msg, "%s [%s]", what, ov_dtype_name(p->dt));
    if (p->dt == OV_DTYPE_F32)
        tt_expect(msg, g, ref, atol32, 1e-4);
    else
        tt_expect(msg, g, ref, 1.5e-2, 1.5e-2);
    free(ref);
    free(cf);
}

#define RUN2(call_c, call_g)                                                                                 \
    do {                                                                                                     \
        ck_assert_msg((call_c) == 0, "cpu: %s", ov_tensor_last_error());                                     \
        ck_assert_msg((call_g) == 0, "cuda: %s", ov_tensor_last_error());                                    \
    } while (0)

#define FOR_DT(body_fn)                                                                                      \
    for (int di = 0; di < NDT; di++) {                                                                       \
        pair p;                                                                                              \
        pair_begin(&p, g_dts[di]);                                                                           \
        body_fn(&p);                                                                                         \
        pair_end(&p);                                                                                        \
    }

/* ---- element-wise ---- */

static void body_unary(pair *p)
{
    const int64_t s[3] = {3, 37, 65};
    ov_tensor *xc, *xg, *yc, *yg;
    act2(p, &xc, &xg, "x", 3, s, 4.0);
    out2(p, &yc, &yg, "y", 3, s);
    RUN2(ov_op_silu(yc, xc), ov_op_silu(yg, xg));
    same(p, "silu", yc, yg, 1e-4);
    for (int k = 0; k < 3; k++) {
        RUN2(ov_op_gelu(yc, xc, k), ov_op_gelu(yg, xg, k));
        same(p, "gelu", yc, yg, 1e-4);
    }
    RUN2(ov_op_scale(yc, xc, 0.75f, -0.3f), ov_op_scale(yg, xg, 0.75f, -0.3f));
    same(p, "scale", yc, yg, 1e-4);
    RUN2(ov_op_clamp(yc, xc, -1.5f, 2.0f), ov_op_clamp(yg, xg, -1.5f, 2.0f));
    same(p, "clamp", yc, yg, 1e-4);
    /* in place */
    RUN2(ov_op_silu(xc, xc), ov_op_silu(xg, xg));
    same(p, "silu in place", xc, xg, 1e-4);
}

static void body_binary(pair *p)
{
    const int64_t sa[4] = {2, 3, 1, 5}, sb[3] = {3, 4, 1}, sy[4] = {2, 3, 4, 5};
    ov_tensor *ac, *ag, *bc, *bg, *yc, *yg;
    act2(p, &ac, &ag, "a", 4, sa, 2.0);
    act2(p, &bc, &bg, "b", 3, sb, 2.0);
    out2(p, &yc, &yg, "y", 4, sy);
    RUN2(ov_op_add(yc, ac, bc), ov_op_add(yg, ag, bg));
    same(p, "add bcast", yc, yg, 1e-4);
    RUN2(ov_op_mul(yc, ac, bc), ov_op_mul(yg, ag, bg));
    same(p, "mul bcast", yc, yg, 1e-4);
    /* modulate: x [2, 7, 64], shift/scale [2, 1, 64] */
    const int64_t sx[3] = {2, 7, 64}, sm[3] = {2, 1, 64};
    ov_tensor *xc, *xg, *shc, *shg, *scc, *scg, *mc, *mg;
    act2(p, &xc, &xg, "x", 3, sx, 2.0);
    act2(p, &shc, &shg, "shift", 3, sm, 1.0);
    act2(p, &scc, &scg, "scale", 3, sm, 1.0);
    out2(p, &mc, &mg, "y", 3, sx);
    RUN2(ov_op_modulate(mc, xc, shc, scc), ov_op_modulate(mg, xg, shg, scg));
    same(p, "modulate", mc, mg, 1e-4);
}

/* GEGLU of [rows, 2·half] and SwiGLU of two [rows, half]; checks named "<tag>geglu" / "<tag>swiglu". */
static void glu_cases(pair *p, int64_t rows, int64_t half, const char *tag)
{
    const int64_t sx[2] = {rows, 2 * half}, sy[2] = {rows, half};
    ov_tensor *xc, *xg, *yc, *yg, *uc, *ug, *gc, *gg;
    char what[32];
    act2(p, &xc, &xg, "glu_x", 2, sx, 3.0);
    out2(p, &yc, &yg, "glu_y", 2, sy);
    RUN2(ov_op_geglu(yc, xc), ov_op_geglu(yg, xg));
    snprintf(what, sizeof what, "%sgeglu", tag);
    same(p, what, yc, yg, 1e-4);
    act2(p, &gc, &gg, "gate", 2, sy, 3.0);
    act2(p, &uc, &ug, "up", 2, sy, 3.0);
    RUN2(ov_op_swiglu(yc, gc, uc), ov_op_swiglu(yg, gg, ug));
    snprintf(what, sizeof what, "%sswiglu", tag);
    same(p, what, yc, yg, 1e-4);
}

static void body_glu(pair *p)
{
    glu_cases(p, 5, 48, "");
}

/* Shapes the 16-byte vector paths take (elementwise_cuda.cu: dense 16-bit, counts and broadcast
 * inner sizes multiples of 8): dense add/mul, a per-row broadcast ([N, C, 1, 1] over [N, C, H, W],
 * either operand order), a per-column one ([C] over [rows, C]), in place, unary, GEGLU, SwiGLU, and
 * a view one element off 16-byte alignment (must take the scalar kernel). t_vec8 runs it with the
 * paths on and with OURVIDZ_CUDA_VEC=0; f32 never takes them. */
static void body_vec8(pair *p)
{
    const int64_t s4[4] = {2, 16, 8, 8}, r4[4] = {2, 16, 1, 1}, s2[2] = {6, 64}, c1[1] = {64};
    ov_tensor *ac, *ag, *bc, *bg, *rc, *rg, *yc, *yg;
    act2(p, &ac, &ag, "a", 4, s4, 2.0);
    act2(p, &bc, &bg, "b", 4, s4, 2.0);
    act2(p, &rc, &rg, "row", 4, r4, 2.0);
    out2(p, &yc, &yg, "y", 4, s4);
    RUN2(ov_op_add(yc, ac, bc), ov_op_add(yg, ag, bg));
    same(p, "vec8 add dense", yc, yg, 1e-4);
    RUN2(ov_op_mul(yc, ac, bc), ov_op_mul(yg, ag, bg));
    same(p, "vec8 mul dense", yc, yg, 1e-4);
    RUN2(ov_op_add(yc, ac, rc), ov_op_add(yg, ag, rg));
    same(p, "vec8 add row bcast", yc, yg, 1e-4);
    RUN2(ov_op_mul(yc, rc, ac), ov_op_mul(yg, rg, ag));
    same(p, "vec8 mul row bcast (swapped)", yc, yg, 1e-4);
    RUN2(ov_op_add(ac, ac, bc), ov_op_add(ag, ag, bg));
    same(p, "vec8 add in place", ac, ag, 1e-4);
    ov_tensor *xc, *xg, *cc, *cg, *zc, *zg;
    act2(p, &xc, &xg, "x2", 2, s2, 2.0);
    act2(p, &cc, &cg, "col", 1, c1, 2.0);
    out2(p, &zc, &zg, "z", 2, s2);
    RUN2(ov_op_add(zc, xc, cc), ov_op_add(zg, xg, cg));
    same(p, "vec8 add column bcast", zc, zg, 1e-4);
    RUN2(ov_op_silu(zc, xc), ov_op_silu(zg, xg));
    same(p, "vec8 silu", zc, zg, 1e-4);
    RUN2(ov_op_gelu(zc, xc, OV_GELU_ERF), ov_op_gelu(zg, xg, OV_GELU_ERF));
    same(p, "vec8 gelu", zc, zg, 1e-4);
    /* one element in: storage no longer 16-byte aligned (scalar kernel), same numbers */
    ov_tensor avc, avg, bvc, bvg;
    ck_assert_int_eq(ov_tensor_slice(&avc, xc, 1, 1, 56), 0);
    ck_assert_int_eq(ov_tensor_slice(&avg, xg, 1, 1, 56), 0);
    ck_assert_int_eq(ov_tensor_slice(&bvc, xc, 1, 0, 56), 0);
    ck_assert_int_eq(ov_tensor_slice(&bvg, xg, 1, 0, 56), 0);
    const int64_t s56[2] = {6, 56};
    ov_tensor *mc, *mg;
    out2(p, &mc, &mg, "m", 2, s56);
    RUN2(ov_op_add(mc, &avc, &bvc), ov_op_add(mg, &avg, &bvg));
    same(p, "vec8 misaligned view add", mc, mg, 1e-4);
    glu_cases(p, 3, 128, "vec8 ");
}

/* ---- norms and softmax ---- */

/* [N, C, H, W] norms: group_norm (named gn_what), then channel_rms_norm when asked. */
static void norm4d_case(pair *p, const char *gn_what, int channel_rms)
{
    const int64_t s4[4] = {2, 32, 5, 6}, c32[1] = {32};
    ov_tensor *x4c, *x4g, *y4c, *y4g, *g4c, *g4g, *b4c, *b4g;
    act2(p, &x4c, &x4g, "x4", 4, s4, 3.0);
    act2(p, &g4c, &g4g, "gamma4", 1, c32, 1.0);
    act2(p, &b4c, &b4g, "beta4", 1, c32, 1.0);
    out2(p, &y4c, &y4g, "y4", 4, s4);
    RUN2(ov_op_group_norm(y4c, x4c, 8, g4c, b4c, 1e-5f), ov_op_group_norm(y4g, x4g, 8, g4g, b4g, 1e-5f));
    same(p, gn_what, y4c, y4g, 1e-4);
    /* fused SiLU (one pass on CUDA) against the CPU's group_norm + SiLU */
    RUN2(ov_op_group_norm_silu(y4c, x4c, 8, g4c, b4c, 1e-5f), ov_op_group_norm_silu(y4g, x4g, 8, g4g, b4g, 1e-5f));
    same(p, "group_norm_silu", y4c, y4g, 1e-4);
    if (!channel_rms)
        return;
    RUN2(ov_op_channel_rms_norm(y4c, x4c, g4c, 1e-12f), ov_op_channel_rms_norm(y4g, x4g, g4g, 1e-12f));
    same(p, "channel_rms_norm", y4c, y4g, 1e-4);
}

static void body_norm(pair *p)
{
    const int64_t s[3] = {4, 33, 96}, sc[1] = {96};
    ov_tensor *xc, *xg, *yc, *yg, *gc, *gg, *bc, *bg;
    act2(p, &xc, &xg, "x", 3, s, 3.0);
    act2(p, &gc, &gg, "gamma", 1, sc, 1.0);
    act2(p, &bc, &bg, "beta", 1, sc, 1.0);
    out2(p, &yc, &yg, "y", 3, s);
    RUN2(ov_op_layer_norm(yc, xc, gc, bc, 1e-6f), ov_op_layer_norm(yg, xg, gg, bg, 1e-6f));
    same(p, "layer_norm", yc, yg, 1e-4);
    RUN2(ov_op_layer_norm(yc, xc, NULL, NULL, 1e-6f), ov_op_layer_norm(yg, xg, NULL, NULL, 1e-6f));
    same(p, "layer_norm plain", yc, yg, 1e-4);
    RUN2(ov_op_rms_norm(yc, xc, gc, 1e-6f), ov_op_rms_norm(yg, xg, gg, 1e-6f));
    same(p, "rms_norm", yc, yg, 1e-4);
    RUN2(ov_op_softmax(yc, xc, 0.7f), ov_op_softmax(yg, xg, 0.7f));
    same(p, "softmax", yc, yg, 1e-5);
    norm4d_case(p, "group_norm", 1);
}

/* layer_norm / rms_norm over `rows` rows of C, in contexts of their own: each of norm_cuda.cu's row
 * kernels by shape — one row of 3584 (decode: up to 1024 threads per row), a few hundred rows (one
 * 256-thread block each) and >= 1024 rows of C <= 1536 (a warp per row, the row in registers: each
 * register bucket E 8/16/32/48, C not a multiple of 32 included; f32 gamma/beta, x and y of one
 * dtype, else the block kernel) */
static void norm_rows_case(pair *p, int64_t rows, int64_t C)
{
    pair q = {.dt = p->dt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    const int64_t s[2] = {rows, C}, sc[1] = {C};
    ov_tensor *xc, *xg, *yc, *yg, *gc, *gg, *bc, *bg;
    act2(&q, &xc, &xg, "x", 2, s, 3.0);
    /* gamma/beta in f32 on both sides, as the models load them (the warp kernel's case) */
    float *gv = tt_rand(C, 1.0), *bv = tt_rand(C, 1.0);
    in2(&q, &gc, &gg, "gamma", OV_DTYPE_F32, 1, sc, gv);
    in2(&q, &bc, &bg, "beta", OV_DTYPE_F32, 1, sc, bv);
    free(gv);
    free(bv);
    out2(&q, &yc, &yg, "y", 2, s);
    char what[96];
    snprintf(what, sizeof what, "layer_norm %lld x %lld", (long long)rows, (long long)C);
    RUN2(ov_op_layer_norm(yc, xc, gc, bc, 1e-6f), ov_op_layer_norm(yg, xg, gg, bg, 1e-6f));
    same(&q, what, yc, yg, 1e-4);
    snprintf(what, sizeof what, "rms_norm %lld x %lld", (long long)rows, (long long)C);
    RUN2(ov_op_rms_norm(yc, xc, gc, 1e-6f), ov_op_rms_norm(yg, xg, gg, 1e-6f));
    same(&q, what, yc, yg, 1e-4);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

static void body_norm_rows(pair *p)
{
    norm_rows_case(p, 1, 3584);
    norm_rows_case(p, 2, 1000);
    norm_rows_case(p, 600, 96);
    norm_rows_case(p, 1030, 100);
    norm_rows_case(p, 1024, 500);
    norm_rows_case(p, 1100, 640);
    norm_rows_case(p, 1025, 1280);
    norm_rows_case(p, 1024, 1500);
    norm_rows_case(p, 1024, 2000); /* over the warp kernel's 1536: block per row */
}

/* group_norm on the split path (several blocks per group, merged statistics), run with it forced
 * on these small groups (t_norm) */
static void body_gn_split(pair *p)
{
    norm4d_case(p, "group_norm split", 0);
}

/* ---- GEMM ---- */

static void body_linear(pair *p)
{
    const int64_t sx[3] = {2, 17, 96}, sw[2] = {80, 96}, sb[1] = {80}, sy[3] = {2, 17, 80};
    ov_tensor *xc, *xg, *bc, *bg, *yc, *yg, *wc, *wg;
    act2(p, &xc, &xg, "x", 3, sx, 1.0);
    act2(p, &bc, &bg, "b", 1, sb, 1.0);
    out2(p, &yc, &yg, "y", 3, sy);
    /* weights: the act dtype (direct cuBLAS), f32 and f8 with a scale (converted on the device) */
    const int wdts[3] = {p->dt, OV_DTYPE_F32, OV_DTYPE_F8_E4M3};
    for (int i = 0; i < 3; i++) {
        float *w = tt_rand(80 * 96, 1.0);
        /* The device runs the GEMM in x's dtype and converts other weights to it first (by design:
         * one cuBLAS bf16/f16 GEMM). For f32 weights the CPU reference gets the same rounded values,
         * so the comparison measures the GEMM, not that documented rounding (with 96 terms of ±1 its
         * error alone reaches ~3 % of a small output). */
        if (wdts[i] == OV_DTYPE_F32 && p->dt != OV_DTYPE_F32)
            tt_round(p->dt, w, 80 * 96);
        in2(p, &wc, &wg, "w", wdts[i], 2, sw, w);
        free(w);
        if (wdts[i] == OV_DTYPE_F8_E4M3)
            wc->scale = wg->scale = 0.5f;
        char what[64];
        snprintf(what, sizeof what, "linear, %s weights", ov_dtype_name(wdts[i]));
        RUN2(ov_op_linear(yc, xc, wc, bc), ov_op_linear(yg, xg, wg, bg));
        same(p, what, yc, yg, 1e-3);
        snprintf(what, sizeof what, "linear no bias, %s weights", ov_dtype_name(wdts[i]));
        RUN2(ov_op_linear(yc, xc, wc, NULL), ov_op_linear(yg, xg, wg, NULL));
        same(p, what, yc, yg, 1e-3);
    }
}

/* ---- GEMV (gemv_cuda.cu): linear with 1..8 rows of bf16/f16 x and a same-dtype weight, bias
 * fused; 9 rows, K % 8 != 0, a misaligned or strided x take cuBLAS (same results expected). The f32
 * pair runs f16 x/W (the kernel's f16 path), the bf16 pair bf16. Each case writes y in x's dtype
 * (16-bit tolerance, 1.5e-2 abs + rel: output rounding) and in f32, where only the summation order
 * differs from the CPU (f32 tolerance: 1e-3 abs, 1e-4 rel). Outputs start as NaN. ---- */

/* One case in its own contexts (at most 5 tensors a side, so tt_ctx's 32 never fill up). bdt: bias
 * dtype, or -1 for none. xoff > 0: x is columns [xoff, xoff + K) of a [M, K + xoff] tensor. */
static void gemv_case(pair *p, int64_t M, int64_t K, int64_t N, int bdt, int64_t xoff)
{
    const int gdt = p->dt == OV_DTYPE_F32 ? OV_DTYPE_F16 : p->dt;
    pair q = {.dt = gdt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    const int64_t sx[2] = {M, K + xoff}, sw[2] = {N, K}, sb[1] = {N}, sy[2] = {M, N};
    ov_tensor *xc, *xg, *wc, *wg, *bc = NULL, *bg = NULL;
    float *v = tt_rand(M * (K + xoff), 1.0);
    in2(&q, &xc, &xg, "x", gdt, 2, sx, v);
    free(v);
    v = tt_rand(N * K, 0.25);
    in2(&q, &wc, &wg, "w", gdt, 2, sw, v);
    free(v);
    if (bdt >= 0) {
        v = tt_rand(N, 1.0);
        in2(&q, &bc, &bg, "b", bdt, 1, sb, v);
        free(v);
    }
    ov_tensor xvc = *xc, xvg = *xg;
    if (xoff) {
        ck_assert_int_eq(ov_tensor_slice(&xvc, xc, 1, xoff, K), 0);
        ck_assert_int_eq(ov_tensor_slice(&xvg, xg, 1, xoff, K), 0);
    }
    ov_tensor *yc = out_dt(&q.cpu, "y", OV_DTYPE_F32, 2, sy), *yg = out_dt(&q.gpu, "y", gdt, 2, sy),
              *y32 = out_dt(&q.gpu, "y32", OV_DTYPE_F32, 2, sy);
    RUN2(ov_op_linear(yc, &xvc, wc, bc), ov_op_linear(yg, &xvg, wg, bg));
    ck_assert_msg(ov_op_linear(y32, &xvg, wg, bg) == 0, "cuda: %s", ov_tensor_last_error());
    char what[128];
    snprintf(what, sizeof what, "gemv M%lld K%lld N%lld bias %s xoff %lld", (long long)M, (long long)K,
             (long long)N, bdt >= 0 ? ov_dtype_name(bdt) : "none", (long long)xoff);
    same(&q, what, yc, yg, 1e-3);
    q.dt = OV_DTYPE_F32; /* the f32 output: f32 tolerance */
    snprintf(what, sizeof what, "gemv M%lld K%lld N%lld bias %s xoff %lld, %s x -> f32 y", (long long)M,
             (long long)K, (long long)N, bdt >= 0 ? ov_dtype_name(bdt) : "none", (long long)xoff,
             ov_dtype_name(gdt));
    same(&q, what, yc, y32, 1e-3);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

static void body_gemv(pair *p)
{
    static const int64_t Ms[5] = {1, 2, 3, 8, 9}, Ks[3] = {96, 200, 100}, Ns[2] = {80, 33};
    const int gdt = p->dt == OV_DTYPE_F32 ? OV_DTYPE_F16 : p->dt, bdts[3] = {-1, gdt, OV_DTYPE_F32};
    /* every row count meets each bias kind (none, x's dtype, f32) twice over its six K x N shapes */
    for (int mi = 0; mi < 5; mi++)
        for (int ki = 0; ki < 3; ki++)
            for (int ni = 0; ni < 2; ni++)
                gemv_case(p, Ms[mi], Ks[ki], Ns[ni], bdts[(mi + ki + ni) % 3], 0);
    /* longer rows: the unrolled loop, 2 and 4 warps per output (the k/v projection's shape) */
    gemv_case(p, 1, 1000, 80, OV_DTYPE_F32, 0);
    gemv_case(p, 2, 1544, 33, -1, 0);
    gemv_case(p, 3, 4104, 33, gdt, 0);
    gemv_case(p, 8, 4104, 80, -1, 0);
    gemv_case(p, 1, 3584, 512, gdt, 0);
    /* x views: one row at a 16-byte offset (kernel), 2-byte offset (misaligned), strided rows */
    gemv_case(p, 1, 96, 80, gdt, 8);
    gemv_case(p, 1, 96, 80, -1, 1);
    gemv_case(p, 2, 96, 33, OV_DTYPE_F32, 8);
}

/* ---- fused linears (ov_op_linear_add, ov_op_linear_swiglu) against the CPU backend ----
 * GEMV paths (gemv_cuda.cu): the residual store at 1, 2, 8 rows and the dual-matrix SwiGLU kernel at
 * 1, 2 rows (8 rows: two GEMVs + SwiGLU); GEMM path at 64 rows (cuBLAS / cuBLASLt with beta = 1,
 * and gate/up GEMMs + SwiGLU). Qwen2.5-7B's widths scaled down in N only: K 3584 (hidden, gate/up
 * and o_proj input) and K 18944 (down_proj input), so each lane's K loop is the real one. As in
 * gemv_case: 16-bit x/W (bf16 in the bf16 pair, f16 in the f32 pair), outputs in x's dtype (16-bit
 * tolerance) and in f32 (f32 tolerance, the residual then f32 too); the residual in place (y is r)
 * and separate (y poisoned with NaN). SwiGLU weights have amplitude 2/√K so gate/up stay O(1) and
 * an intermediate's bf16 rounding on the unfused path stays inside the 16-bit tolerance. */
static void fused_add_case(pair *p, int64_t M, int64_t K, int64_t N, int bias, int in_place)
{
    const int gdt = p->dt == OV_DTYPE_F32 ? OV_DTYPE_F16 : p->dt;
    for (int f32y = 0; f32y < 2; f32y++) {
        pair q = {.dt = gdt};
        tt_begin(&q.cpu, p->cpu.be);
        tt_begin(&q.gpu, p->gpu.be);
        const int ydt = f32y ? OV_DTYPE_F32 : gdt;
        const int64_t sx[2] = {M, K}, sw[2] = {N, K}, sb[1] = {N}, sy[2] = {M, N};
        ov_tensor *xc, *xg, *wc, *wg, *bc = NULL, *bg = NULL, *rc, *rg;
        float *v = tt_rand(M * K, 1.0);
        in2(&q, &xc, &xg, "x", gdt, 2, sx, v);
        free(v);
        v = tt_rand(N * K, 0.25);
        in2(&q, &wc, &wg, "w", gdt, 2, sw, v);
        free(v);
        if (bias) {
            v = tt_rand(N, 1.0);
            in2(&q, &bc, &bg, "b", gdt, 1, sb, v);
            free(v);
        }
        v = tt_rand(M * N, 2.0);
        in2(&q, &rc, &rg, "r", ydt, 2, sy, v);
        free(v);
        ov_tensor *yc = in_place ? rc : out_dt(&q.cpu, "y", OV_DTYPE_F32, 2, sy);
        ov_tensor *yg = in_place ? rg : out_dt(&q.gpu, "y", ydt, 2, sy);
        RUN2(ov_op_linear_add(yc, xc, wc, bc, rc), ov_op_linear_add(yg, xg, wg, bg, rg));
        char what[128];
        snprintf(what, sizeof what, "linear_add M%lld K%lld N%lld bias %d %s -> %s y", (long long)M,
                 (long long)K, (long long)N, bias, in_place ? "in place" : "separate", ov_dtype_name(ydt));
        q.dt = ydt;
        same(&q, what, yc, yg, 1e-3);
        tt_end(&q.cpu);
        tt_end(&q.gpu);
    }
}

static void fused_swiglu_case(pair *p, int64_t M, int64_t K, int64_t I)
{
    const int gdt = p->dt == OV_DTYPE_F32 ? OV_DTYPE_F16 : p->dt;
    pair q = {.dt = gdt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    const int64_t sx[2] = {M, K}, sw[2] = {I, K}, sy[2] = {M, I};
    const double amp = 2.0 / sqrt((double)K);
    ov_tensor *xc, *xg, *gc, *gg, *uc, *ug;
    float *v = tt_rand(M * K, 1.0);
    in2(&q, &xc, &xg, "x", gdt, 2, sx, v);
    free(v);
    v = tt_rand(I * K, amp);
    in2(&q, &gc, &gg, "gate_proj", gdt, 2, sw, v);
    free(v);
    v = tt_rand(I * K, amp);
    in2(&q, &uc, &ug, "up_proj", gdt, 2, sw, v);
    free(v);
    ov_tensor *yc = out_dt(&q.cpu, "y", OV_DTYPE_F32, 2, sy), *yg = out_dt(&q.gpu, "y", gdt, 2, sy),
              *y32 = out_dt(&q.gpu, "y32", OV_DTYPE_F32, 2, sy);
    RUN2(ov_op_linear_swiglu(yc, xc, gc, uc), ov_op_linear_swiglu(yg, xg, gg, ug));
    ck_assert_msg(ov_op_linear_swiglu(y32, xg, gg, ug) == 0, "cuda: %s", ov_tensor_last_error());
    char what[128];
    snprintf(what, sizeof what, "linear_swiglu M%lld K%lld I%lld", (long long)M, (long long)K, (long long)I);
    same(&q, what, yc, yg, 1e-3);
    q.dt = OV_DTYPE_F32;
    snprintf(what, sizeof what, "linear_swiglu M%lld K%lld I%lld -> f32 y", (long long)M, (long long)K,
             (long long)I);
    same(&q, what, yc, y32, 1e-3);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

static void body_fused(pair *p)
{
    static const int64_t Ms[3] = {1, 2, 8};
    for (int mi = 0; mi < 3; mi++) {
        /* o_proj-like (bias off, in place) and q-like with bias (2 warps per output); down_proj's
         * K 18944 (4 warps per output) */
        fused_add_case(p, Ms[mi], 3584, 448, 0, 1);
        fused_add_case(p, Ms[mi], 3584, 136, 1, 0);
        fused_add_case(p, Ms[mi], 18944, 64, mi == 1, 1);
        /* gate/up: 3584 -> 18944 / 16 (2 warps per output); K 4104 with few outputs (4 warps); a
         * short K (tail loads only) and many outputs (1 warp each, the unrolled loop + its tail) */
        fused_swiglu_case(p, Ms[mi], 3584, 1184);
        fused_swiglu_case(p, Ms[mi], 4104, 33);
        fused_swiglu_case(p, Ms[mi], 200, 33);
        fused_swiglu_case(p, Ms[mi], 1000, 4200);
    }
    /* the GEMM path: 64 rows, bias (cuBLASLt epilogue with beta = 1 in the bf16 pair) and none */
    fused_add_case(p, 64, 3584, 448, 1, 1);
    fused_add_case(p, 64, 896, 200, 0, 0);
    fused_swiglu_case(p, 64, 896, 304);
}

static void body_fused_on(pair *p)
{
    const long long before = ov_backend_cuda_fused_calls(p->gpu.be);
    body_fused(p);
    ck_assert_msg(ov_backend_cuda_fused_calls(p->gpu.be) > before, "no fused path served [%s]",
                  ov_dtype_name(p->dt));
}

static void body_fused_off(pair *p)
{
    const long long before = ov_backend_cuda_fused_calls(p->gpu.be);
    body_fused(p);
    ck_assert_int_eq(ov_backend_cuda_fused_calls(p->gpu.be) - before, 0);
}

static void body_matmul(pair *p)
{
    const int64_t sa[3] = {2, 33, 48}, sb[3] = {1, 48, 40}, sy[3] = {2, 33, 40};
    const int64_t sat[3] = {2, 48, 33}, sbt[3] = {1, 40, 48};
    ov_tensor *ac, *ag, *bc, *bg, *atc, *atg, *btc, *btg, *yc, *yg;
    act2(p, &ac, &ag, "a", 3, sa, 1.0);
    act2(p, &bc, &bg, "b", 3, sb, 1.0);
    act2(p, &atc, &atg, "at", 3, sat, 1.0);
    act2(p, &btc, &btg, "bt", 3, sbt, 1.0);
    out2(p, &yc, &yg, "y", 3, sy);
    RUN2(ov_op_matmul(yc, ac, bc, 0, 0, 0.5f), ov_op_matmul(yg, ag, bg, 0, 0, 0.5f));
    same(p, "matmul nn", yc, yg, 1e-3);
    RUN2(ov_op_matmul(yc, atc, bc, 1, 0, 1.0f), ov_op_matmul(yg, atg, bg, 1, 0, 1.0f));
    same(p, "matmul tn", yc, yg, 1e-3);
    RUN2(ov_op_matmul(yc, ac, btc, 0, 1, 1.0f), ov_op_matmul(yg, ag, btg, 0, 1, 1.0f));
    same(p, "matmul nt", yc, yg, 1e-3);
    RUN2(ov_op_matmul(yc, atc, btc, 1, 1, 2.0f), ov_op_matmul(yg, atg, btg, 1, 1, 2.0f));
    same(p, "matmul tt", yc, yg, 1e-3);
    /* b an f32 weight (SDXL's pooled @ text_projection): converted to a's dtype on the device (the
     * CPU reference gets the same rounded values, as in body_linear) */
    float *wv = tt_rand(48 * 40, 1.0);
    if (p->dt != OV_DTYPE_F32)
        tt_round(p->dt, wv, 48 * 40);
    ov_tensor *wc, *wg;
    in2(p, &wc, &wg, "bw", OV_DTYPE_F32, 3, sb, wv);
    free(wv);
    RUN2(ov_op_matmul(yc, ac, wc, 0, 0, 1.0f), ov_op_matmul(yg, ag, wg, 0, 0, 1.0f));
    same(p, "matmul nn, f32 b", yc, yg, 1e-3);
}

/* ---- attention ---- */

static void attn_case(pair *p, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D,
                      int causal, int with_bias)
{
    const int64_t sq[4] = {B, Hq, Lq, D}, sk[4] = {B, Hkv, Lk, D};
    ov_tensor *qc, *qg, *kc, *kg, *vc, *vg, *oc, *og, *bsc = NULL, *bsg = NULL;
    act2(p, &qc, &qg, "q", 4, sq, 1.0);
    act2(p, &kc, &kg, "k", 4, sk, 1.0);
    act2(p, &vc, &vg, "v", 4, sk, 1.0);
    out2(p, &oc, &og, "o", 4, sq);
    if (with_bias) { /* f32 on both; some keys masked with -inf, one query row fully masked */
        const int64_t sb[4] = {1, Hq, Lq, Lk};
        int64_t n = Hq * Lq * Lk;
        float *b = tt_rand(n, 2.0);
        for (int64_t i = 0; i < n; i++) {
            if (i % 7 == 3)
                b[i] = -INFINITY;
            if ((i / Lk) % Lq == 1)
                b[i] = -INFINITY;
        }
        in2(p, &bsc, &bsg, "bias", OV_DTYPE_F32, 4, sb, b);
        free(b);
    }
    ov_attn_params pc = {.scale = 0, .causal = causal, .q_pos_offset = causal ? Lk - Lq : 0, .bias = bsc};
    ov_attn_params pg = pc;
    pg.bias = bsg;
    RUN2(ov_op_attention(oc, qc, kc, vc, &pc), ov_op_attention(og, qg, kg, vg, &pg));
    char what[160];
    const char *mode = getenv("OURVIDZ_CUDA_FLASH");
    snprintf(what, sizeof what, "attention B%lld Hq%lld Hkv%lld Lq%lld Lk%lld D%lld causal%d bias%d flash=%s",
             (long long)B, (long long)Hq, (long long)Hkv, (long long)Lq, (long long)Lk, (long long)D, causal,
             with_bias, mode ? mode : "default");
    same(p, what, oc, og, 1e-3);
}

static void body_attention(pair *p)
{
    attn_case(p, 2, 4, 2, 37, 45, 64, 0, 0);  /* GQA, cross lengths */
    attn_case(p, 1, 2, 2, 70, 70, 128, 1, 0); /* causal self */
    attn_case(p, 1, 4, 1, 5, 77, 128, 1, 0);  /* KV cache: q_pos_offset = 72 */
    attn_case(p, 1, 2, 2, 9, 40, 64, 0, 1);   /* bias with -inf and a fully masked row */
    attn_case(p, 1, 1, 1, 3, 33, 200, 0, 0);  /* odd head dim */
    attn_case(p, 1, 1, 1, 40, 40, 512, 0, 0); /* SDXL VAE mid-block: one head of 512 */

    /* the [B, L, H, D] output of a linear passed as a permuted view */
    const int64_t s[4] = {2, 19, 3, 64};
    ov_tensor *xc, *xg, *oc, *og;
    act2(p, &xc, &xg, "qkv", 4, s, 1.0);
    const int64_t so[4] = {2, 3, 19, 64};
    out2(p, &oc, &og, "o", 4, so);
    const int perm[4] = {0, 2, 1, 3};
    ov_tensor vc, vg;
    ck_assert_int_eq(ov_tensor_permute(&vc, xc, perm), 0);
    ck_assert_int_eq(ov_tensor_permute(&vg, xg, perm), 0);
    ov_attn_params ap = {0};
    RUN2(ov_op_attention(oc, &vc, &vc, &vc, &ap), ov_op_attention(og, &vg, &vg, &vg, &ap));
    same(p, "attention permuted view", oc, og, 1e-3);
}

/* ---- tensor-core flash attention (flash_attn_cuda.cu): bf16 and f16, D 64 and 128, ragged
 * tiles, GQA, causal with and without a KV-cache offset, the WAN [B, L, H, D] permuted view; each
 * case under the five kernel variants, the per-shape default and the general kernel
 * (OURVIDZ_CUDA_FLASH=1,2,3,5,6,4,0), all against the CPU backend. Tolerance as every 16-bit case (1.5e-2 abs + rel): P is rounded to
 * 16 bits before P·V (2^-9 relative for bf16) and outputs are averages of |v| <= 1. ---- */

static void flash_case(pair *p, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D,
                       int causal, int want_flash)
{
    const long long before = ov_backend_cuda_flash_calls(p->gpu.be);
    attn_case(p, B, Hq, Hkv, Lq, Lk, D, causal, 0);
    const long long ran = ov_backend_cuda_flash_calls(p->gpu.be) - before;
    ck_assert_msg(ran == (want_flash ? 1 : 0),
                  "B%lld Hq%lld Lq%lld Lk%lld D%lld: flash kernel ran %lld times, want %d", (long long)B,
                  (long long)Hq, (long long)Lq, (long long)Lk, (long long)D, ran, want_flash);
}

/* Each group stays under tt_ctx's 32 tensors (4 per case: at most 8 cases). */
static void body_flash_a(pair *p, int want)
{
    flash_case(p, 1, 2, 2, 200, 200, 128, 0, want); /* ragged: 2 query tiles, 4 key tiles */
    flash_case(p, 2, 4, 2, 130, 70, 64, 0, want);   /* GQA, cross lengths, D 64 */
    flash_case(p, 1, 2, 1, 257, 257, 128, 1, want); /* causal self, GQA 2:1 */
    flash_case(p, 1, 4, 2, 33, 300, 128, 1, want);  /* KV cache: q_pos_offset 267 */
}

static void body_flash_b(pair *p, int want)
{
    flash_case(p, 1, 2, 2, 1, 1000, 64, 1, want);   /* one-token decode */
    flash_case(p, 1, 4, 4, 640, 640, 128, 0, want); /* several full tiles */
    flash_case(p, 1, 3, 3, 500, 77, 64, 0, want);   /* SDXL cross-attention: 77 text keys */
    flash_case(p, 1, 2, 2, 48, 48, 96, 0, 0);       /* D 96: general kernel */
    flash_case(p, 1, 2, 2, 129, 129, 64, 1, want);  /* the last row's last key opens a new tile */
    flash_case(p, 1, 1, 1, 1, 65, 128, 1, want);    /* decode whose only new key opens a tile */
    flash_case(p, 1, 2, 2, 200, 201, 64, 1, want);  /* offset 1: query tile 0's last key opens a tile */
}

/* WAN layout: q, k, v are [B, L, H, D] views of one qkv [B, L, 3, H, D] buffer, permuted. */
static void body_flash_wan(pair *p, int want)
{
    const int64_t s5[5] = {2, 150, 3, 4, 128}, so[4] = {2, 4, 150, 128};
    ov_tensor *xc, *xg, *oc, *og;
    act2(p, &xc, &xg, "qkv", 5, s5, 1.0);
    out2(p, &oc, &og, "o", 4, so);
    ov_tensor vc[3], vg[3];
    for (int i = 0; i < 3; i++) {
        ov_tensor sc, sg;
        ck_assert_int_eq(ov_tensor_slice(&sc, xc, 2, i, 1), 0);
        ck_assert_int_eq(ov_tensor_slice(&sg, xg, 2, i, 1), 0);
        ov_tensor *views[2] = {&sc, &sg};
        for (int k = 0; k < 2; k++) { /* drop the size-1 dim: [B, L, 1, H, D] -> [B, L, H, D] */
            ov_tensor *t = views[k];
            t->ndim = 4;
            t->shape[2] = t->shape[3];
            t->stride[2] = t->stride[3];
            t->shape[3] = t->shape[4];
            t->stride[3] = t->stride[4];
        }
        const int perm[4] = {0, 2, 1, 3};
        ck_assert_int_eq(ov_tensor_permute(&vc[i], &sc, perm), 0);
        ck_assert_int_eq(ov_tensor_permute(&vg[i], &sg, perm), 0);
    }
    const long long before = ov_backend_cuda_flash_calls(p->gpu.be);
    ov_attn_params ap = {0};
    RUN2(ov_op_attention(oc, &vc[0], &vc[1], &vc[2], &ap), ov_op_attention(og, &vg[0], &vg[1], &vg[2], &ap));
    same(p, "attention WAN qkv view", oc, og, 1e-3);
    ck_assert_int_eq(ov_backend_cuda_flash_calls(p->gpu.be) - before, want);
}

/* Every variant pinned, the default (mode 4: small calls take the static choice), the general
 * kernel, "4t": mode 4 with OURVIDZ_CUDA_FLASH_TUNE_MIN=0, so every case's first call times all
 * variants (the output must still be complete and right), then one case again on the same backend
 * runs its class's cached choice; and "7": cuDNN's fused SDPA for the non-causal cases it takes. */
static void flash_modes(int dt)
{
    static const char *const modes[9] = {"1", "2", "3", "5", "6", "4", "0", "4t", "7"};
    static void (*const bodies[3])(pair *, int) = {body_flash_a, body_flash_b, body_flash_wan};
    /* the split-K decode kernel would take the Lq 1 cases first (t_decode_attn tests it) */
    ck_assert_int_eq(setenv("OURVIDZ_CUDA_DECODE_ATTN", "0", 1), 0);
    for (int m = 0; m < 9; m++) {
        const int tuned = modes[m][1] == 't';
        ck_assert_int_eq(setenv("OURVIDZ_CUDA_FLASH", tuned ? "4" : modes[m], 1), 0);
        if (tuned)
            ck_assert_int_eq(setenv("OURVIDZ_CUDA_FLASH_TUNE_MIN", "0", 1), 0);
        for (int b = 0; b < 3; b++) {
            pair p;
            pair_begin(&p, dt);
            const long long sdpa0 = ov_backend_cuda_sdpa_calls(p.gpu.be);
            bodies[b](&p, modes[m][0] != '0');
            if (tuned && b == 0) /* body_flash_a's first case again: its class's cached variant */
                flash_case(&p, 1, 2, 2, 200, 200, 128, 0, 1);
            if (modes[m][0] == '7') /* cuDNN's SDPA where it took the case (cuDNN >= 9.13.1), checked alike */
                fprintf(stderr, "flash mode 7 [%s], body %d: %lld call(s) served by cuDNN SDPA\n",
                        ov_dtype_name(dt), b, ov_backend_cuda_sdpa_calls(p.gpu.be) - sdpa0);
            pair_end(&p);
        }
        unsetenv("OURVIDZ_CUDA_FLASH_TUNE_MIN");
    }
    unsetenv("OURVIDZ_CUDA_FLASH");
    unsetenv("OURVIDZ_CUDA_DECODE_ATTN");
}

START_TEST(t_flash_bf16)
{
    flash_modes(OV_DTYPE_BF16);
}
END_TEST

START_TEST(t_flash_f16)
{
    flash_modes(OV_DTYPE_F16);
}
END_TEST

/* ---- split-K decode attention (decode_attn_cuda.cu): Lq <= 8, no bias, D % 8 == 0 <= 256. Qwen2.5
 * decode shapes (GQA 7:1, D 128, causal at q_pos_offset Lk − Lq) at Lk 1 (one split: o written
 * directly), 37 (two splits on a 132-SM card), 300 and 1000 (many splits + the combine); Lq 3 and
 * 8 causal (rows whose last key falls in different splits, so some splits are fully masked for
 * some rows; 42 rows = 3 row groups of 16); D 64 non-causal cross attention; the Qwen layout (q a
 * permuted [B, L, H, D] view, k/v permuted views of a longer [B, max_len, Hkv, D] cache, o a
 * permuted view). Bias and Lq 9 must not take the path. Each case is checked against the CPU
 * backend (same tolerances as every attention case: f32 1e-3 abs, 16-bit 1.5e-2 abs + rel) and
 * the decode kernel's call counter. ---- */

/* One attention case in its own contexts (4-5 tensors a side) run by the decode kernel want times. */
static void decode_case(pair *p, int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t D,
                        int causal, int with_bias, int want)
{
    pair q = {.dt = p->dt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    const long long before = ov_backend_cuda_decode_attn_calls(p->gpu.be);
    attn_case(&q, B, Hq, Hkv, Lq, Lk, D, causal, with_bias);
    const long long ran = ov_backend_cuda_decode_attn_calls(p->gpu.be) - before;
    ck_assert_msg(ran == want, "B%lld Hq%lld Hkv%lld Lq%lld Lk%lld D%lld bias%d: decode kernel ran %lld times, want %d",
                  (long long)B, (long long)Hq, (long long)Hkv, (long long)Lq, (long long)Lk, (long long)D,
                  with_bias, ran, want);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

/* Qwen's views: q/o permuted [1, L, Hq, D] rows, k/v the first Lk rows of a [1, 80, Hkv, D] cache. */
static void decode_qwen_views(pair *p, int64_t L, int64_t Lk, int want)
{
    const int64_t Hq = 14, Hkv = 2, D = 128, sq[4] = {1, L, Hq, D}, sc[4] = {1, 80, Hkv, D};
    pair q = {.dt = p->dt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    ov_tensor *xc, *xg, *kc, *kg, *vc, *vg, *oc, *og;
    act2(&q, &xc, &xg, "q rows", 4, sq, 1.0);
    act2(&q, &kc, &kg, "k cache", 4, sc, 1.0);
    act2(&q, &vc, &vg, "v cache", 4, sc, 1.0);
    out2(&q, &oc, &og, "o rows", 4, sq);
    const int perm[4] = {0, 2, 1, 3};
    ov_tensor t[8], ks[2];
    ov_tensor *src[8] = {xc, xg, kc, kg, vc, vg, oc, og};
    for (int i = 0; i < 8; i++) {
        const ov_tensor *base = src[i];
        if (i >= 2 && i < 6) { /* the cache rows [0, Lk) */
            ck_assert_int_eq(ov_tensor_slice(&ks[i % 2], src[i], 1, 0, Lk), 0);
            base = &ks[i % 2];
        }
        ck_assert_int_eq(ov_tensor_permute(&t[i], base, perm), 0);
    }
    ov_attn_params ap = {.scale = 0, .causal = 1, .q_pos_offset = Lk - L, .bias = NULL};
    const long long before = ov_backend_cuda_decode_attn_calls(p->gpu.be);
    RUN2(ov_op_attention(&t[6], &t[0], &t[2], &t[4], &ap), ov_op_attention(&t[7], &t[1], &t[3], &t[5], &ap));
    ck_assert_int_eq(ov_backend_cuda_decode_attn_calls(p->gpu.be) - before, want);
    char what[96];
    snprintf(what, sizeof what, "decode attention Qwen views L%lld Lk%lld", (long long)L, (long long)Lk);
    same(&q, what, oc, og, 1e-3); /* the whole [1, L, Hq, D] buffer: every element written */
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

/* k/v rows of D 64 inside rows of 68 elements (a column slice): a bf16 row stride of 136 bytes is
 * no 16-byte multiple, so the K/V tiles load element by element (f32: 272 bytes, 16-byte loads). */
static void decode_strided_kv(pair *p, int want)
{
    const int64_t sq[4] = {1, 4, 2, 64}, sb[4] = {1, 2, 90, 68};
    pair q = {.dt = p->dt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    ov_tensor *qc, *qg, *kc, *kg, *vc, *vg, *oc, *og;
    act2(&q, &qc, &qg, "q", 4, sq, 1.0);
    act2(&q, &kc, &kg, "k rows", 4, sb, 1.0);
    act2(&q, &vc, &vg, "v rows", 4, sb, 1.0);
    out2(&q, &oc, &og, "o", 4, sq);
    ov_tensor kvc, kvg, vvc, vvg;
    ck_assert_int_eq(ov_tensor_slice(&kvc, kc, 3, 0, 64), 0);
    ck_assert_int_eq(ov_tensor_slice(&kvg, kg, 3, 0, 64), 0);
    ck_assert_int_eq(ov_tensor_slice(&vvc, vc, 3, 4, 64), 0);
    ck_assert_int_eq(ov_tensor_slice(&vvg, vg, 3, 4, 64), 0);
    ov_attn_params ap = {.scale = 0, .causal = 1, .q_pos_offset = 88, .bias = NULL};
    const long long before = ov_backend_cuda_decode_attn_calls(p->gpu.be);
    RUN2(ov_op_attention(oc, qc, &kvc, &vvc, &ap), ov_op_attention(og, qg, &kvg, &vvg, &ap));
    ck_assert_int_eq(ov_backend_cuda_decode_attn_calls(p->gpu.be) - before, want);
    same(&q, "decode attention k/v column slices", oc, og, 1e-3);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

/* want: 1 where the decode kernel should serve the cases ($OURVIDZ_CUDA_DECODE_ATTN unset), 0 off */
static void decode_cases(pair *p, int want)
{
    decode_case(p, 1, 7, 1, 1, 1, 128, 1, 0, want);     /* first token: one key */
    decode_case(p, 1, 7, 1, 1, 37, 128, 1, 0, want);    /* two splits of 32 */
    decode_case(p, 1, 14, 2, 1, 300, 128, 1, 0, want);  /* Qwen decode, GQA 7:1 */
    decode_case(p, 1, 14, 2, 1, 1000, 128, 1, 0, want); /* longer cache */
    decode_case(p, 1, 14, 2, 3, 65, 128, 1, 0, want);   /* rows see keys 62, 63, 64: split edge */
    decode_case(p, 2, 4, 2, 8, 100, 128, 1, 0, want);   /* Lq 8, batch 2 */
    decode_case(p, 2, 4, 2, 1, 77, 64, 0, 0, want);     /* cross attention, D 64 */
    decode_case(p, 1, 3, 1, 2, 50, 200, 0, 0, want);    /* D 200: the 256-wide instance */
    decode_case(p, 1, 2, 2, 2, 40, 64, 0, 1, 0);        /* bias: never */
    decode_case(p, 1, 14, 2, 9, 300, 128, 1, 0, 0);     /* Lq 9: never */
    decode_qwen_views(p, 1, 77, want);
    decode_qwen_views(p, 5, 80, want);
    decode_strided_kv(p, want);
}

static void body_decode_attn(pair *p)
{
    decode_cases(p, 1);
}

static void body_decode_attn_off(pair *p)
{
    decode_cases(p, 0);
}


/* ---- GGUF-quantised weights: dequantised on the device into the activation dtype ---- */

static void body_quant(pair *p)
{
    const int qdts[3] = {OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};
    const int64_t sx[2] = {5, 512}, sw[2] = {48, 512}, sy[2] = {5, 48};
    ov_tensor *xc, *xg, *yc, *yg, *wc, *wg;
    act2(p, &xc, &xg, "x", 2, sx, 1.0);
    out2(p, &yc, &yg, "y", 2, sy);
    for (int i = 0; i < 3; i++) {
        float *w = tt_rand(48 * 512, 0.5);
        in2(p, &wc, &wg, "wq", qdts[i], 2, sw, w);
        free(w);
        RUN2(ov_op_linear(yc, xc, wc, NULL), ov_op_linear(yg, xg, wg, NULL));
        same(p, ov_dtype_name(qdts[i]), yc, yg, 1e-3);
        /* copy (the dequantised weight itself) */
        ov_tensor *dc, *dg;
        out2(p, &dc, &dg, "deq", 2, sw);
        RUN2(ov_op_copy(dc, wc), ov_op_copy(dg, wg));
        same(p, "copy dequant", dc, dg, 1e-6);
    }
}

/* ---- positions and embeddings ---- */

static void body_rope(pair *p)
{
    const int64_t s[4] = {2, 9, 3, 64};
    ov_tensor *xc, *xg, *yc, *yg;
    act2(p, &xc, &xg, "x", 4, s, 2.0);
    out2(p, &yc, &yg, "y", 4, s);
    RUN2(ov_op_rope_neox(yc, xc, 5, 1e6f), ov_op_rope_neox(yg, xg, 5, 1e6f));
    same(p, "rope_neox", yc, yg, 1e-4);
    RUN2(ov_op_rope_neox(yc, xc, 30000, 1e4f), ov_op_rope_neox(yg, xg, 30000, 1e4f));
    same(p, "rope_neox far", yc, yg, 1e-4);

    const int64_t sw[4] = {1, 2 * 3 * 4 + 3, 2, 128};
    ov_tensor *wc, *wg, *zc, *zg;
    act2(p, &wc, &wg, "x", 4, sw, 2.0);
    out2(p, &zc, &zg, "y", 4, sw);
    RUN2(ov_op_rope_wan3d(zc, wc, 2, 3, 4, 1e4f), ov_op_rope_wan3d(zg, wg, 2, 3, 4, 1e4f));
    same(p, "rope_wan3d", zc, zg, 1e-4);
}

static void body_embed(pair *p)
{
    const int64_t st[1] = {4};
    float t[4] = {999.0f, 500.5f, 1.0f, 0.25f};
    ov_tensor *tc, *tg, *yc, *yg;
    in2(p, &tc, &tg, "t", OV_DTYPE_F32, 1, st, t);
    const int dims[2] = {320, 257};
    for (int i = 0; i < 2; i++) {
        const int64_t sy[2] = {4, dims[i]};
        out2(p, &yc, &yg, "temb", 2, sy);
        ov_timestep_params tp = {
            .flip_sin_to_cos = i == 0, .downscale_freq_shift = (float)i, .max_period = 10000, .scale = 1};
        RUN2(ov_op_timestep_embedding(yc, tc, &tp), ov_op_timestep_embedding(yg, tg, &tp));
        same(p, "timestep_embedding", yc, yg, 1e-3);
    }
    const int64_t stab[2] = {50, 64}, sid[1] = {7}, se[2] = {7, 64};
    float *tab = tt_rand(50 * 64, 1.0);
    ov_tensor *tbc, *tbg, *ic, *ig, *ec, *eg;
    in2(p, &tbc, &tbg, "table", p->dt, 2, stab, tab);
    free(tab);
    int32_t ids[7] = {0, 49, 3, 3, 17, 8, 42};
    ic = tt_input(&p->cpu, "ids", OV_DTYPE_I32, 1, sid, (float *)ids);
    ig = tt_input(&p->gpu, "ids", OV_DTYPE_I32, 1, sid, (float *)ids);
    out2(p, &ec, &eg, "emb", 2, se);
    RUN2(ov_op_embedding(ec, tbc, ic), ov_op_embedding(eg, tbg, ig));
    same(p, "embedding", ec, eg, 1e-6);
    RUN2(ov_op_embedding_host(ec, tbc, ids, 7), ov_op_embedding_host(eg, tbg, ids, 7));
    same(p, "embedding_host", ec, eg, 1e-6);
    /* a bad id is refused, naming it */
    int32_t bad[7] = {0, 1, 2, 50, 4, 5, 6};
    ov_tensor *bi = tt_input(&p->gpu, "bad_ids", OV_DTYPE_I32, 1, sid, (float *)bad);
    ck_assert_int_eq(ov_op_embedding(eg, tbg, bi), OV_EINVAL);
}

static void body_layout(pair *p)
{
    const int64_t s[3] = {3, 4, 5};
    ov_tensor *xc, *xg;
    act2(p, &xc, &xg, "x", 3, s, 2.0);
    /* copy of a permuted view (contiguous result) */
    const int perm[3] = {2, 0, 1};
    ov_tensor pc, pg;
    ck_assert_int_eq(ov_tensor_permute(&pc, xc, perm), 0);
    ck_assert_int_eq(ov_tensor_permute(&pg, xg, perm), 0);
    const int64_t sp[3] = {5, 3, 4};
    ov_tensor *yc, *yg;
    out2(p, &yc, &yg, "y", 3, sp);
    RUN2(ov_op_copy(yc, &pc), ov_op_copy(yg, &pg));
    same(p, "copy permuted", yc, yg, 1e-6);
    /* concat along dim 1 */
    const int64_t s2[3] = {3, 2, 5}, sc[3] = {3, 6, 5};
    ov_tensor *bc, *bg, *cc, *cg;
    act2(p, &bc, &bg, "b", 3, s2, 2.0);
    out2(p, &cc, &cg, "cat", 3, sc);
    RUN2(ov_op_concat(cc, xc, bc, 1), ov_op_concat(cg, xg, bg, 1));
    same(p, "concat", cc, cg, 1e-6);
    /* pad */
    const int64_t before[3] = {0, 1, 2}, after[3] = {1, 0, 3}, spd[3] = {4, 5, 10};
    ov_tensor *dc, *dg;
    out2(p, &dc, &dg, "pad", 3, spd);
    RUN2(ov_op_pad(dc, xc, before, after, -0.5f), ov_op_pad(dg, xg, before, after, -0.5f));
    same(p, "pad", dc, dg, 1e-6);
    /* nearest x2 */
    const int64_t su[3] = {3, 8, 10};
    ov_tensor *uc, *ug;
    out2(p, &uc, &ug, "up", 3, su);
    RUN2(ov_op_upsample_nearest2x(uc, xc), ov_op_upsample_nearest2x(ug, xg));
    same(p, "upsample_nearest2x", uc, ug, 1e-6);
}

/* ---- convolutions ---- */

/* One conv2d case in its own contexts (tt_ctx holds 32 tensors a side). wdt: the weight's dtype
 * (another than the activations' is converted to theirs on the device first: the CPU reference
 * gets the same rounded weights, as in body_linear). bias 0: none. */
static void conv2d_case(pair *p, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t k,
                        ov_conv2d_params cp, int wdt, int bias)
{
    pair q = {.dt = p->dt};
    tt_begin(&q.cpu, p->cpu.be);
    tt_begin(&q.gpu, p->gpu.be);
    int g = cp.groups ? cp.groups : 1, dh = cp.dilation_h ? cp.dilation_h : 1,
        dw = cp.dilation_w ? cp.dilation_w : 1;
    int64_t Ho = (H + 2 * cp.pad_h - dh * (k - 1) - 1) / cp.stride_h + 1;
    int64_t Wo = (W + 2 * cp.pad_w - dw * (k - 1) - 1) / cp.stride_w + 1;
    const int64_t sx[4] = {N, C, H, W}, sw[4] = {O, C / g, k, k}, sb[1] = {O}, sy[4] = {N, O, Ho, Wo};
    ov_tensor *xc, *xg, *wc, *wg, *bc = NULL, *bg = NULL, *yc, *yg;
    act2(&q, &xc, &xg, "x", 4, sx, 1.0);
    float *w = tt_rand(O * (C / g) * k * k, 0.5);
    if (wdt != q.dt && q.dt != OV_DTYPE_F32)
        tt_round(q.dt, w, O * (C / g) * k * k);
    in2(&q, &wc, &wg, "w", wdt, 4, sw, w);
    free(w);
    if (bias)
        act2(&q, &bc, &bg, "b", 1, sb, 1.0);
    out2(&q, &yc, &yg, "y", 4, sy);
    RUN2(ov_op_conv2d(yc, xc, wc, bc, &cp), ov_op_conv2d(yg, xg, wg, bg, &cp));
    char what[160];
    snprintf(what, sizeof what,
             "conv2d x [%lld,%lld,%lld,%lld] O %lld k %lld stride %d pad %d dil %d groups %d w %s%s",
             (long long)N, (long long)C, (long long)H, (long long)W, (long long)O, (long long)k, cp.stride_h,
             cp.pad_h, dh, g, ov_dtype_name(wdt), bias ? " bias" : "");
    same(&q, what, yc, yg, 1e-3);
    tt_end(&q.cpu);
    tt_end(&q.gpu);
}

static void conv_cases(pair *p)
{
    conv2d_case(p, 2, 8, 9, 11, 6, 3,
                (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}, p->dt, 1);
    conv2d_case(p, 1, 8, 10, 10, 4, 3,
                (ov_conv2d_params){.stride_h = 2, .stride_w = 2, .pad_h = 0, .pad_w = 1}, OV_DTYPE_F32, 1);
    conv2d_case(p, 1, 8, 7, 7, 8, 3,
                (ov_conv2d_params){.stride_h = 1,
                                   .stride_w = 1,
                                   .pad_h = 2,
                                   .pad_w = 2,
                                   .dilation_h = 2,
                                   .dilation_w = 2,
                                   .groups = 2},
                p->dt, 1);
    conv2d_case(p, 2, 16, 5, 4, 12, 1, (ov_conv2d_params){.stride_h = 1, .stride_w = 1}, p->dt, 1);
    /* no bias: 1x1 (SDXL's proj_in / skip convs) and a 3x3 with an f16 checkpoint's weights */
    conv2d_case(p, 2, 16, 5, 4, 12, 1, (ov_conv2d_params){.stride_h = 1, .stride_w = 1}, p->dt, 0);
    conv2d_case(p, 1, 8, 9, 7, 8, 3, (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1},
                OV_DTYPE_F16, 0);
    /* SDXL's downsampler: 3x3 stride 2 pad 1 (odd and even sizes), bias */
    conv2d_case(p, 2, 16, 12, 11, 16, 3,
                (ov_conv2d_params){.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, p->dt, 1);
    /* groups > 1 with stride 2, and depthwise (groups = C), no bias */
    conv2d_case(p, 1, 8, 10, 9, 12, 3,
                (ov_conv2d_params){.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 4}, p->dt,
                0);
    conv2d_case(p, 2, 8, 6, 6, 8, 3,
                (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .groups = 8}, p->dt,
                1);
    /* a 3x3 wide enough for cuDNN's tensor-core algorithms (32 -> 64 channels) */
    conv2d_case(p, 2, 32, 16, 16, 64, 3,
                (ov_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}, p->dt, 1);

    /* causal 3D: x [1, 4, 5, 6, 7], w [6, 4, 3, 3, 3], pad_t_front 2 */
    const int64_t sx[5] = {1, 4, 5, 6, 7}, sw[5] = {6, 4, 3, 3, 3}, sb[1] = {6}, sy[5] = {1, 6, 5, 6, 7};
    ov_tensor *xc, *xg, *wc, *wg, *bc, *bg, *yc, *yg;
    act2(p, &xc, &xg, "x", 5, sx, 1.0);
    act2(p, &wc, &wg, "w", 5, sw, 0.5);
    act2(p, &bc, &bg, "b", 1, sb, 1.0);
    out2(p, &yc, &yg, "y", 5, sy);
    ov_conv3d_params c3 = {
        .stride_t = 1, .stride_h = 1, .stride_w = 1, .pad_t_front = 2, .pad_h = 1, .pad_w = 1};
    RUN2(ov_op_conv3d_causal(yc, xc, wc, bc, &c3), ov_op_conv3d_causal(yg, xg, wg, bg, &c3));
    same(p, "conv3d_causal", yc, yg, 1e-3);
}



#define TEST_DT(name, body)                                                                                  \
    START_TEST(name)                                                                                         \
    {                                                                                                        \
        FOR_DT(body);                                                                                        \
    }                                                                                                        \
    END_TEST

TEST_DT(t_unary, body_unary)
TEST_DT(t_binary, body_binary)
TEST_DT(t_glu, body_glu)
/* FOR_DT(body) with $name = value while the backends open (the CUDA backend reads its kernel
 * switches then). */
static void with_env(const char *name, const char *value, void (*body)(pair *))
{
    ck_assert_int_eq(setenv(name, value, 1), 0);
    FOR_DT(body);
    unsetenv(name);
}

START_TEST(t_vec8)
{
    FOR_DT(body_vec8);
    with_env("OURVIDZ_CUDA_VEC", "0", body_vec8);
}
END_TEST

START_TEST(t_norm)
{
    FOR_DT(body_norm);
    FOR_DT(body_norm_rows);
    with_env("OURVIDZ_CUDA_GN_SPLIT", "1", body_gn_split);
}
END_TEST
/* linear: biased 16-bit GEMMs through cuBLASLt's bias epilogue (asserted to have served), then
 * every case again on cuBLAS + the bias kernel (OURVIDZ_CUDA_LT=0) */
static void body_linear_lt(pair *p)
{
    const long long before = ov_backend_cuda_lt_calls(p->gpu.be);
    body_linear(p);
    const long long ran = ov_backend_cuda_lt_calls(p->gpu.be) - before;
    if (p->dt == OV_DTYPE_F32)
        ck_assert_msg(ran == 0, "cuBLASLt served %lld f32 linears (16-bit only)", ran);
    else
        ck_assert_msg(ran > 0, "cuBLASLt served no biased bf16 linear (its epilogue path is dead)");
}

static void body_linear_nolt(pair *p)
{
    const long long before = ov_backend_cuda_lt_calls(p->gpu.be);
    body_linear(p);
    ck_assert_int_eq(ov_backend_cuda_lt_calls(p->gpu.be) - before, 0);
}

START_TEST(t_linear)
{
    FOR_DT(body_linear_lt);
    with_env("OURVIDZ_CUDA_LT", "0", body_linear_nolt);
}
END_TEST
TEST_DT(t_gemv, body_gemv)
/* the same cases with the GEMV kernel off ($OURVIDZ_CUDA_GEMV=0): all through cuBLAS */
START_TEST(t_gemv_off)
{
    with_env("OURVIDZ_CUDA_GEMV", "0", body_gemv);
}
END_TEST
/* linear_add / linear_swiglu on the fused paths (asserted to have served), then the same cases
 * unfused ($OURVIDZ_CUDA_FUSE=0: linear + add, two linears + swiglu) and with one of the two fused */
START_TEST(t_fused)
{
    FOR_DT(body_fused_on);
    with_env("OURVIDZ_CUDA_FUSE", "0", body_fused_off);
    with_env("OURVIDZ_CUDA_FUSE", "add", body_fused_on); /* linear_swiglu unfused */
    with_env("OURVIDZ_CUDA_FUSE", "glu", body_fused_on); /* linear_add unfused */
}
END_TEST
TEST_DT(t_matmul, body_matmul)
TEST_DT(t_attention, body_attention)
TEST_DT(t_rope, body_rope)
TEST_DT(t_embed, body_embed)
TEST_DT(t_layout, body_layout)
/* conv_cases counting the conv2d calls cuDNN served: none with $OURVIDZ_CUDA_CUDNN=0; some when
 * cuDNN loads (default: benchmarked algorithm, "heur": heuristic), else none (noted). */
static void conv_cases_counted(pair *p)
{
    const char *mode = getenv("OURVIDZ_CUDA_CUDNN");
    const long long before = ov_backend_cuda_cudnn_calls(p->gpu.be);
    conv_cases(p);
    const long long served = ov_backend_cuda_cudnn_calls(p->gpu.be) - before;
    if (mode && strcmp(mode, "0") == 0) {
        ck_assert_msg(served == 0, "OURVIDZ_CUDA_CUDNN=0 but cuDNN served %lld conv2d calls", served);
    } else if (!ov_backend_cuda_cudnn_available()) {
        printf("test_tensor_cuda: cuDNN not available: conv2d ran on im2col (%s mode not exercised)\n",
               mode ? mode : "find");
        ck_assert_msg(served == 0, "cuDNN unavailable but %lld conv2d calls counted", served);
    } else {
        ck_assert_msg(served > 0, "cuDNN loaded (%s mode) but served no conv2d call [%s]",
                      mode ? mode : "find", ov_dtype_name(p->dt));
    }
}

/* conv_cases with every cuDNN call in parts (a 1 KiB cap: one sample per call, up to 8
 * output-channel parts): the same results, and some calls counted as parted */
static void conv_cases_parted(pair *p)
{
    const long long before = ov_backend_cuda_cudnn_part_calls(p->gpu.be);
    conv_cases_counted(p);
    const long long parted = ov_backend_cuda_cudnn_part_calls(p->gpu.be) - before;
    if (ov_backend_cuda_cudnn_available())
        ck_assert_msg(parted > 0, "a 1 KiB cuDNN call cap but no conv2d call went in parts [%s]",
                      ov_dtype_name(p->dt));
}

/* every case on both im2col kernels (the 32-bit one and the generic one, cuDNN off), then through
 * cuDNN (algorithm benchmarked per shape, the default, and chosen by heuristic) */
START_TEST(t_conv)
{
    ck_assert_int_eq(setenv("OURVIDZ_CUDA_CUDNN", "0", 1), 0);
    with_env("OURVIDZ_CUDA_IM2COL", "1", conv_cases_counted);
    with_env("OURVIDZ_CUDA_IM2COL", "0", conv_cases_counted);
    unsetenv("OURVIDZ_CUDA_CUDNN");
    FOR_DT(conv_cases_counted);
    with_env("OURVIDZ_CUDA_CUDNN", "heur", conv_cases_counted);
    with_env("OURVIDZ_CUDA_CUDNN_SPLIT_KB", "1", conv_cases_parted);
}
END_TEST
TEST_DT(t_quant, body_quant)
/* f32 and bf16 (the pair dtypes), f16 and the kernel switched off ($OURVIDZ_CUDA_DECODE_ATTN=0) */
START_TEST(t_decode_attn)
{
    FOR_DT(body_decode_attn);
    pair p;
    pair_begin(&p, OV_DTYPE_F16);
    body_decode_attn(&p);
    pair_end(&p);
    with_env("OURVIDZ_CUDA_DECODE_ATTN", "0", body_decode_attn_off);
}
END_TEST

/* Probe in a child so the parent never initialises CUDA (Check forks every case). */
static int have_device(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        ov_backend *be = NULL;
        int rc = ov_backend_open(OV_BACKEND_CUDA, 0, &be);
        if (rc == 0)
            ov_backend_close(be);
        else
            fprintf(stderr, "test_tensor_cuda: %s\n", ov_tensor_last_error());
        _exit(rc == 0 ? 0 : 1);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* $OURVIDZ_CUDA_TESTS (comma-separated test names, e.g. "t_flash_bf16,t_conv") runs only those:
 * scripts/gpu-check.sh uses it for the compute-sanitizer pass. Unset: all. */
static void add(TCase *tc, const TTest *t)
{
    const char *only = getenv("OURVIDZ_CUDA_TESTS");
    if (only && *only) {
        size_t n = strlen(t->name);
        const char *p = only;
        int hit = 0;
        while (!hit && (p = strstr(p, t->name)) != NULL) {
            hit = (p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0');
            p += n;
        }
        if (!hit)
            return;
    }
    tcase_add_test(tc, t);
}

int main(void)
{
    if (!have_device()) {
        printf("test_tensor_cuda: no CUDA device visible: skipped\n");
        return 77;
    }
    Suite *s = suite_create("tensor_cuda");
    TCase *tc = tcase_create("vs_cpu");
    tcase_set_timeout(tc, 120);
    const TTest *all[] = {t_unary,    t_binary, t_glu,    t_norm,       t_linear,    t_gemv,
                          t_gemv_off, t_fused,  t_matmul, t_attention,  t_rope,      t_embed,
                          t_layout,   t_conv,   t_quant,  t_flash_bf16, t_flash_f16, t_decode_attn,
                          t_vec8};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        add(tc, all[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf ? 1 : 0;
}
