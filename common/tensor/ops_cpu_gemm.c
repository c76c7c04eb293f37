/* CPU GEMM family: linear (fused dequant GEMV for decode, dequantised tiles + sgemm for prefill), matmul,
 * conv. */
#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/cpu_internal.h"
#include "common/tensor/ops_cpu_simd.h"

#define OV_CPU_TILE_FLOATS ((int64_t)2 << 20) /* 8 MB of dequantised weight or im2col per tile */
#define OV_CPU_GEMV_MAX_ROWS 8                /* up to this many x rows: fused dequant + dot */

static int nomem(const char *op, const ov_tensor *t, size_t bytes)
{
    return ov_tensor_fail(OV_ENOMEM, "%s: no memory for %zu bytes of scratch for '%s'", op, bytes, t->name);
}

/* ---- bias ---- */

struct bias_ctx {
    float *y;
    const float *b;
    int64_t n, ld;
};

static void bias_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct bias_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *row = c->y + r * c->ld;
        for (int64_t j = 0; j < c->n; j++)
            row[j] += c->b[j];
    }
}

/* ---- linear ---- */

struct gemv_ctx {
    const ov_tensor *w;
    const float *x;
    int64_t M, K, N, ldx;
    float *y;
    const float *bias; /* NULL or [N] */
};

/* Few rows (decode): each task streams its weight rows once through the fused dequant-dot kernel. */
static void gemv_rows(void *vctx, int64_t n0, int64_t n1)
{
    struct gemv_ctx *c = vctx;
    ov_cpu_gemv_rows(c->w->dtype, c->w->data, c->K, n0, n1, c->x, c->ldx, c->M, c->y, c->N, c->w->scale,
                     c->bias);
}

/* Many rows (prefill): each task dequantises a tile of weight rows into its own L2-sized buffer
 * and runs a single-threaded sgemm for y's column block, so dequantisation overlaps other
 * threads' sgemm and the tile is consumed while cache-hot. One buffer per pool thread. */
#define OV_CPU_LOCAL_TILE_FLOATS ((int64_t)256 << 10) /* 1 MB of f32 per thread */

struct tile_ctx {
    const ov_tensor *w;
    const float *x;
    int64_t M, K, N, ldx, rows;
    float *y;
    float *bufs;        /* nslots x rows x K */
    atomic_int *in_use; /* nslots flags */
    int nslots;
};

static void tile_task(void *vctx, int64_t t0, int64_t t1)
{
    struct tile_ctx *c = vctx;
    int slot = 0;
    /* at most nslots tasks run at once (the pool's threads), so a free slot always exists */
    for (;; slot = (slot + 1) % c->nslots)
        if (!atomic_exchange(&c->in_use[slot], 1))
            break;
    float *buf = c->bufs + (int64_t)slot * c->rows * c->K;
    for (int64_t t = t0; t < t1; t++) {
        int64_t n0 = t * c->rows, cnt = c->N - n0 < c->rows ? c->N - n0 : c->rows;
        for (int64_t r = 0; r < cnt; r++)
            ov_cpu_dequant_row(c->w->dtype, ov_cpu_elem_ptr(c->w, (n0 + r) * c->K), buf + r * c->K, c->K);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->M, (int)cnt, (int)c->K, c->w->scale,
                    c->x, (int)c->ldx, buf, (int)c->K, 0.0f, c->y + n0, (int)c->N);
    }
    atomic_store(&c->in_use[slot], 0);
}

static int linear_tiles(const ov_tensor *w, const float *xp, int64_t M, int64_t K, int64_t N, int64_t ldx,
                        float *yp)
{
    int64_t rows = OV_CPU_LOCAL_TILE_FLOATS / K;
    if (rows < 16)
        rows = 16;
    int nslots = ov_cpu_threads();
    int64_t ntiles = (N + rows - 1) / rows;
    if (ntiles < 2 * nslots && N >= 32 * nslots) { /* keep every thread busy on small N */
        rows = (N + 2 * nslots - 1) / (2 * nslots);
        ntiles = (N + rows - 1) / rows;
    }
    if (rows > N)
        rows = N;
    size_t bytes = (size_t)(rows * K) * sizeof(float) * (size_t)nslots;
    float *bufs = malloc(bytes);
    atomic_int *in_use = calloc((size_t)nslots, sizeof *in_use);
    if (!bufs || !in_use) {
        free(bufs);
        free(in_use);
        return nomem("linear", w, bytes);
    }
    struct tile_ctx c = {w, xp, M, K, N, ldx, rows, yp, bufs, in_use, nslots};
    if (ntiles == 1) {
        tile_task(&c, 0, 1); /* small N: one tile, and OpenBLAS keeps its threads for the M rows */
    } else {
        ov_cpu_blas_single_begin();
        ov_cpu_parallel(ntiles, 1, tile_task, &c);
        ov_cpu_blas_single_end();
    }
    free(bufs);
    free(in_use);
    return 0;
}

int ov_cpu_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    OV_CPU_NEED_F32("linear", y, x);
    int64_t K = w->shape[1], N = w->shape[0];
    int64_t M = ov_tensor_nelem(y) / (N ? N : 1);
    int64_t ldx = x->ndim >= 2 && M > 1 ? x->stride[x->ndim - 2] : K;
    const float *xp = x->data;
    float *yp = y->data;
    if (M == 0 || N == 0)
        return 0;
    if (K == 0) {
        memset(yp, 0, (size_t)(M * N) * sizeof(float));
    } else if (w->dtype == OV_DTYPE_F32 && M > OV_CPU_GEMV_MAX_ROWS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, w->scale, xp, (int)ldx,
                    w->data, (int)K, 0.0f, yp, (int)N);
    } else if (M <= OV_CPU_GEMV_MAX_ROWS) {
        /* the bias is added by the kernel: one pass over y, one pool dispatch per decode linear */
        float *btmp = NULL;
        const float *bp = b ? ov_cpu_vec_f32(b, &btmp) : NULL;
        if (b && !bp)
            return nomem("linear", b, (size_t)N * sizeof(float));
        struct gemv_ctx c = {w, xp, M, K, N, ldx, yp, bp};
        ov_cpu_parallel(N, 16, gemv_rows, &c);
        free(btmp);
        return 0;
    } else {
        int rc = linear_tiles(w, xp, M, K, N, ldx, yp);
        if (rc)
            return rc;
    }
    if (b) {
        float *tmp;
        const float *bp = ov_cpu_vec_f32(b, &tmp);
        if (!bp)
            return nomem("linear", b, (size_t)N * sizeof(float));
        struct bias_ctx bc = {yp, bp, N, N};
        ov_cpu_parallel(M, 64, bias_rows, &bc);
        free(tmp);
    }
    (void)be;
    return 0;
}

/* ---- matmul ---- */

int ov_cpu_matmul(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a,
                  int trans_b, float alpha)
{
    (void)be;
    OV_CPU_NEED_F32("matmul", y, a, b);
    int64_t B = y->shape[0], M = y->shape[1], N = y->shape[2];
    int64_t K = trans_a ? a->shape[1] : a->shape[2];
    int lda = (int)(a->shape[1] > 1 ? a->stride[1] : a->shape[2]);
    int ldb = (int)(b->shape[1] > 1 ? b->stride[1] : b->shape[2]);
    for (int64_t i = 0; i < B; i++) {
        const float *ap = (const float *)a->data + (a->shape[0] == 1 ? 0 : i * a->stride[0]);
        const float *bp = (const float *)b->data + (b->shape[0] == 1 ? 0 : i * b->stride[0]);
        float *yp = (float *)y->data + i * M * N;
        if (K == 0) {
            memset(yp, 0, (size_t)(M * N) * sizeof(float));
            continue;
        }
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, ap, lda < 1 ? 1 : lda, bp, ldb < 1 ? 1 : ldb, 0.0f, yp,
                    (int)(N ? N : 1));
    }
    return 0;
}

/* ---- convolution (2D and causal 3D share one im2col) ---- */

struct conv_geom {
    int64_t C, T, H, W; /* input (per sample) */
    int64_t kt, kh, kw;
    int st, sh, sw;
    int pt, ph, pw; /* pt: front time padding only */
    int dh, dw;
    int64_t To, Ho, Wo;
};

struct im2col_ctx {
    const struct conv_geom *g;
    const float *x; /* sample base [C, T, H, W] */
    int64_t c0;     /* first channel of the group */
    int64_t to;     /* output frame */
    int64_t p0, np; /* output pixel range */
    float *col;     /* [Cg·kt·kh·kw, np] */
};

static void im2col_rows(void *vctx, int64_t r0, int64_t r1)
{
    const struct im2col_ctx *c = vctx;
    const struct conv_geom *g = c->g;
    int64_t kk = g->kt * g->kh * g->kw;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / kk, rem = r % kk;
        int64_t dt = rem / (g->kh * g->kw), dy = rem / g->kw % g->kh, dx = rem % g->kw;
        int64_t ti = c->to * g->st - g->pt + dt;
        float *dst = c->col + r * c->np;
        if (ti < 0 || ti >= g->T) {
            memset(dst, 0, (size_t)c->np * sizeof(float));
            continue;
        }
        const float *plane = c->x + ((c->c0 + ci) * g->T + ti) * g->H * g->W;
        for (int64_t p = 0; p < c->np; p++) {
            int64_t oy = (c->p0 + p) / g->Wo, ox = (c->p0 + p) % g->Wo;
            int64_t iy = oy * g->sh - g->ph + dy * g->dh, ix = ox * g->sw - g->pw + dx * g->dw;
            dst[p] = (iy >= 0 && iy < g->H && ix >= 0 && ix < g->W) ? plane[iy * g->W + ix] : 0.0f;
        }
    }
}

/* y [N, O, To, Ho, Wo] (To = 1 for 2D) = w [O, C/groups, kt, kh, kw] * x. */
static int conv_run(const char *op, const struct conv_geom *g, int groups, ov_tensor *y, const ov_tensor *x,
                    const ov_tensor *w, const ov_tensor *b)
{
    OV_CPU_NEED_F32(op, y, x);
    float *wtmp = NULL, *btmp = NULL, *col = NULL;
    const float *wp = ov_cpu_weight_f32(w, &wtmp);
    if (!wp)
        return nomem(op, w, ov_tensor_nelem(w) * sizeof(float));
    int64_t Nb = x->shape[0], O = w->shape[0], Og = O / groups, Cg = g->C / groups;
    int64_t KK = Cg * g->kt * g->kh * g->kw, HWo = g->Ho * g->Wo;
    int rc = 0;
    int pointwise = g->kt == 1 && g->kh == 1 && g->kw == 1 && g->st == 1 && g->sh == 1 && g->sw == 1 &&
                    g->pt == 0 && g->ph == 0 && g->pw == 0;
    int64_t np_max = pointwise ? 0 : OV_CPU_TILE_FLOATS / (KK ? KK : 1);
    if (!pointwise) {
        if (np_max < 64)
            np_max = 64;
        if (np_max > HWo)
            np_max = HWo;
        col = malloc((size_t)(KK * np_max) * sizeof(float));
        if (!col) {
            rc = nomem(op, x, (size_t)(KK * np_max) * sizeof(float));
            goto out;
        }
    }
    for (int64_t n = 0; n < Nb; n++) {
        const float *xn = (const float *)x->data + n * g->C * g->T * g->H * g->W;
        float *yn = (float *)y->data + n * O * g->To * HWo;
        if (pointwise) {
            /* 1×1(×1) conv: y[g] [Og, T·H·W] = w[g] [Og, Cg] · x[g] [Cg, T·H·W] */
            int64_t P = g->T * g->H * g->W;
            for (int gi = 0; gi < groups; gi++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Og, (int)P, (int)Cg, 1.0f,
                            wp + gi * Og * Cg, (int)Cg, xn + gi * Cg * P, (int)P, 0.0f, yn + gi * Og * P,
                            (int)P);
            continue;
        }
        for (int64_t to = 0; to < g->To; to++) {
            for (int gi = 0; gi < groups; gi++) {
                for (int64_t p0 = 0; p0 < HWo; p0 += np_max) {
                    int64_t np = HWo - p0 < np_max ? HWo - p0 : np_max;
                    struct im2col_ctx ic = {g, xn, gi * Cg, to, p0, np, col};
                    ov_cpu_parallel(KK, 4, im2col_rows, &ic);
                    /* y[n, gi·Og.., to, p0..] has row stride To·HWo between output channels */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Og, (int)np, (int)KK, 1.0f,
                                wp + gi * Og * KK, (int)KK, col, (int)np, 0.0f,
                                yn + (gi * Og * g->To + to) * HWo + p0, (int)(g->To * HWo));
                }
            }
        }
    }
    if (b) {
        const float *bp = ov_cpu_vec_f32(b, &btmp);
        if (!bp) {
            rc = nomem(op, b, (size_t)O * sizeof(float));
            goto out;
        }
        int64_t P = g->To * HWo;
        for (int64_t n = 0; n < Nb; n++) {
            float *yn = (float *)y->data + n * O * P;
            for (int64_t o = 0; o < O; o++)
                for (int64_t i = 0; i < P; i++)
                    yn[o * P + i] += bp[o];
        }
    }
out:
    free(wtmp);
    free(btmp);
    free(col);
    return rc;
}

int ov_cpu_conv2d(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                  const ov_conv2d_params *p)
{
    (void)be;
    struct conv_geom g = {
        .C = x->shape[1],
        .T = 1,
        .H = x->shape[2],
        .W = x->shape[3],
        .kt = 1,
        .kh = w->shape[2],
        .kw = w->shape[3],
        .st = 1,
        .sh = p->stride_h,
        .sw = p->stride_w,
        .pt = 0,
        .ph = p->pad_h,
        .pw = p->pad_w,
        .dh = p->dilation_h,
        .dw = p->dilation_w,
        .To = 1,
        .Ho = y->shape[2],
        .Wo = y->shape[3],
    };
    return conv_run("conv2d", &g, p->groups, y, x, w, b);
}

int ov_cpu_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                         const ov_tensor *b, const ov_conv3d_params *p)
{
    (void)be;
    struct conv_geom g = {
        .C = x->shape[1],
        .T = x->shape[2],
        .H = x->shape[3],
        .W = x->shape[4],
        .kt = w->shape[2],
        .kh = w->shape[3],
        .kw = w->shape[4],
        .st = p->stride_t,
        .sh = p->stride_h,
        .sw = p->stride_w,
        .pt = p->pad_t_front,
        .ph = p->pad_h,
        .pw = p->pad_w,
        .dh = 1,
        .dw = 1,
        .To = y->shape[2],
        .Ho = y->shape[3],
        .Wo = y->shape[4],
    };
    return conv_run("conv3d_causal", &g, 1, y, x, w, b);
}
