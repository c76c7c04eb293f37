/* CPU GEMM family: linear (fused dequant GEMV for decode, dequantised tiles + sgemm for prefill), matmul,
 * conv. */
#include <cblas.h>
#include <math.h>
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
    float beta;         /* 0: y = x·Wᵀ; 1: y += x·Wᵀ (linear_add) */
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
                    c->x, (int)c->ldx, buf, (int)c->K, c->beta, c->y + n0, (int)c->N);
    }
    atomic_store(&c->in_use[slot], 0);
}

static int g_prefill_mode; /* bench hook, see ov_cpu_prefill_force() */

void ov_cpu_prefill_force(int mode)
{
    g_prefill_mode = mode;
}

struct panel_ctx {
    const ov_tensor *w;
    int64_t K, n0;
    float *dst;
};

static void panel_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct panel_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++)
        ov_cpu_dequant_row(c->w->dtype, ov_cpu_elem_ptr(c->w, (c->n0 + r) * c->K), c->dst + r * c->K, c->K);
}

/* Whole panels: dequantise up to OV_CPU_TILE_FLOATS·4 of weight rows on the pool, then one sgemm that
 * OpenBLAS threads itself. */
static int linear_panel(const ov_tensor *w, const float *xp, int64_t M, int64_t K, int64_t N, int64_t ldx,
                        float *yp, float beta)
{
    int64_t rows = 4 * OV_CPU_TILE_FLOATS / K;
    if (rows < 1)
        rows = 1;
    if (rows > N)
        rows = N;
    float *buf = malloc((size_t)(rows * K) * sizeof(float));
    if (!buf)
        return nomem("linear", w, (size_t)(rows * K) * sizeof(float));
    for (int64_t n0 = 0; n0 < N; n0 += rows) {
        int64_t cnt = N - n0 < rows ? N - n0 : rows;
        struct panel_ctx c = {w, K, n0, buf};
        ov_cpu_parallel(cnt, 8, panel_rows, &c);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)cnt, (int)K, w->scale, xp, (int)ldx,
                    buf, (int)K, beta, yp + n0, (int)N);
    }
    free(buf);
    return 0;
}

/* Tile plan. Weights of up to OV_CPU_ONE_TILE_FLOATS run as one panel: dequantised on the pool, and
 * OpenBLAS threads the sgemm (the 896x896 Qwen projections ran 1.3x faster so than as four
 * single-threaded tiles). Bigger weights: tiles of up to OV_CPU_BIG_TILE_FLOATS, their count a
 * multiple of the thread count so every thread gets the same number of equal tiles, rows a
 * multiple of 16 (the sgemm kernel's column block). Bigger tiles than the old 1 MB mean fewer
 * re-packings of x per call (one per tile) and wider sgemm calls (down proj: 152 not 53 rows). */
#define OV_CPU_ONE_TILE_FLOATS ((int64_t)1 << 20) /* 4 MB of f32 */
#define OV_CPU_BIG_TILE_FLOATS ((int64_t)1 << 20) /* 4 MB of f32 per thread */

static int linear_tiles(const ov_tensor *w, const float *xp, int64_t M, int64_t K, int64_t N, int64_t ldx,
                        float *yp, float beta)
{
    if (g_prefill_mode == 2)
        return linear_panel(w, xp, M, K, N, ldx, yp, beta);
    int nslots = ov_cpu_threads();
    int64_t rows, ntiles;
    if (g_prefill_mode == 1) { /* the previous plan, for the bench */
        rows = OV_CPU_LOCAL_TILE_FLOATS / K;
        if (rows < 16)
            rows = 16;
        ntiles = (N + rows - 1) / rows;
        if (ntiles < 2 * nslots && N >= 32 * nslots) {
            rows = (N + 2 * nslots - 1) / (2 * nslots);
            ntiles = (N + rows - 1) / rows;
        }
    } else if (N * K <= OV_CPU_ONE_TILE_FLOATS) {
        return linear_panel(w, xp, M, K, N, ldx, yp, beta); /* dequantised on the pool, sgemm BLAS-threaded */
    } else {
        int64_t chunk = (int64_t)nslots * OV_CPU_BIG_TILE_FLOATS, per = (N * K + chunk - 1) / chunk;
        ntiles = per * nslots;
        rows = (N + ntiles - 1) / ntiles;
        rows = (rows + 15) / 16 * 16;
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
    struct tile_ctx c = {w, xp, M, K, N, ldx, rows, yp, beta, bufs, in_use, nslots};
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

/* ---- decode rows with an epilogue (linear_add, linear_swiglu at M <= 8) ----
 * The fused GEMV (ov_cpu_gemv_rows) runs over pieces of FUSE_COLS output features into a stack
 * buffer, and the piece's epilogue (+ residual, or SiLU(gate)·up) writes y while the buffer is in
 * L1: one pass over y, no [M, N] intermediate. */
#define FUSE_COLS 256

struct fuse_ctx {
    const ov_tensor *w, *w2; /* w2: the up projection (swiglu), else NULL */
    const float *x, *bias;   /* bias [N] or NULL (linear_add only) */
    const float *r;          /* residual [M, N] (may be y), or NULL (swiglu) */
    float *y;
    int64_t M, K, N, ldx;
};

static float silu_f(float v)
{
    return v / (1.0f + expf(-v));
}

static void fuse_rows(void *vctx, int64_t n0, int64_t n1)
{
    const struct fuse_ctx *c = vctx;
    float g[OV_CPU_GEMV_MAX_ROWS * FUSE_COLS], u[OV_CPU_GEMV_MAX_ROWS * FUSE_COLS];
    const size_t row_bytes = ov_dtype_row_bytes(c->w->dtype, c->K);
    const size_t row_bytes2 = c->w2 ? ov_dtype_row_bytes(c->w2->dtype, c->K) : 0;
    for (int64_t c0 = n0; c0 < n1; c0 += FUSE_COLS) {
        const int64_t cnt = n1 - c0 < FUSE_COLS ? n1 - c0 : FUSE_COLS;
        ov_cpu_gemv_rows(c->w->dtype, (const uint8_t *)c->w->data + (size_t)c0 * row_bytes, c->K, 0, cnt,
                         c->x, c->ldx, c->M, g, cnt, c->w->scale, c->bias ? c->bias + c0 : NULL);
        if (c->w2)
            ov_cpu_gemv_rows(c->w2->dtype, (const uint8_t *)c->w2->data + (size_t)c0 * row_bytes2, c->K, 0,
                             cnt, c->x, c->ldx, c->M, u, cnt, c->w2->scale, NULL);
        for (int64_t m = 0; m < c->M; m++) {
            float *yr = c->y + m * c->N + c0;
            const float *gr = g + m * cnt;
            if (c->w2) {
                const float *ur = u + m * cnt;
                for (int64_t j = ov_cpu_swiglu_row_simd(ur, gr, yr, cnt); j < cnt; j++)
                    yr[j] = silu_f(gr[j]) * ur[j];
            } else {
                const float *rr = c->r + m * c->N + c0; /* read before y is written: r may be y */
                for (int64_t j = 0; j < cnt; j++)
                    yr[j] = gr[j] + rr[j];
            }
        }
    }
}

/* y [M, N] = x·Wᵀ·scale + b, plus y's previous contents when acc (linear_add: y already holds the
 * residual, so sgemm runs with beta = 1). M > 8 or acc == 0 at M <= 8; no epilogue here. */
static int linear_core(const ov_tensor *w, const ov_tensor *b, const float *xp, int64_t M, int64_t K,
                       int64_t N, int64_t ldx, float *yp, int acc)
{
    const float beta = acc ? 1.0f : 0.0f;
    if (M == 0 || N == 0)
        return 0;
    if (K == 0) {
        if (!acc)
            memset(yp, 0, (size_t)(M * N) * sizeof(float));
    } else if (w->dtype == OV_DTYPE_F32 && M > OV_CPU_GEMV_MAX_ROWS) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, w->scale, xp, (int)ldx,
                    w->data, (int)K, beta, yp, (int)N);
    } else if (M <= OV_CPU_GEMV_MAX_ROWS && !acc) {
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
        int rc = linear_tiles(w, xp, M, K, N, ldx, yp, beta);
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
    return 0;
}

/* x's rows: count and stride (ops.c checked they flatten to one stride). */
static void x_rows(const ov_tensor *x, const ov_tensor *y, int64_t N, int64_t *M, int64_t *ldx)
{
    const int64_t K = x->shape[x->ndim - 1];
    *M = ov_tensor_nelem(y) / (N ? N : 1);
    *ldx = x->ndim >= 2 && *M > 1 ? x->stride[x->ndim - 2] : K;
}

int ov_cpu_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    (void)be;
    OV_CPU_NEED_F32("linear", y, x);
    int64_t M, ldx, N = w->shape[0];
    x_rows(x, y, N, &M, &ldx);
    return linear_core(w, b, x->data, M, w->shape[1], N, ldx, y->data, 0);
}

int ov_cpu_linear_add(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                      const ov_tensor *b, const ov_tensor *r)
{
    (void)be;
    OV_CPU_NEED_F32("linear_add", y, x, r);
    int64_t M, ldx, N = w->shape[0], K = w->shape[1];
    x_rows(x, y, N, &M, &ldx);
    float *yp = y->data;
    const float *rp = r->data;
    if (M == 0 || N == 0)
        return 0;
    if (M <= OV_CPU_GEMV_MAX_ROWS && K > 0) {
        float *btmp = NULL;
        const float *bp = b ? ov_cpu_vec_f32(b, &btmp) : NULL;
        if (b && !bp)
            return nomem("linear_add", b, (size_t)N * sizeof(float));
        struct fuse_ctx c = {w, NULL, x->data, bp, rp, yp, M, K, N, ldx};
        ov_cpu_parallel(N, 16, fuse_rows, &c);
        free(btmp);
        return 0;
    }
    if (rp != yp) /* ops.c: r is y or does not overlap it */
        memcpy(yp, rp, (size_t)(M * N) * sizeof(float));
    return linear_core(w, b, x->data, M, K, N, ldx, yp, 1);
}

struct swiglu_ctx {
    float *g;       /* gate rows (y), overwritten with the result */
    const float *u; /* up rows */
    int64_t n;
};

static void swiglu_rows(void *vctx, int64_t r0, int64_t r1)
{
    const struct swiglu_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *g = c->g + r * c->n;
        const float *u = c->u + r * c->n;
        for (int64_t j = ov_cpu_swiglu_row_simd(u, g, g, c->n); j < c->n; j++)
            g[j] = silu_f(g[j]) * u[j];
    }
}

#define SWIGLU_UP_FLOATS ((int64_t)8 << 20) /* 32 MB of up-projection rows per block (prefill) */

int ov_cpu_linear_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate,
                         const ov_tensor *w_up)
{
    (void)be;
    OV_CPU_NEED_F32("linear_swiglu", y, x);
    int64_t M, ldx, N = w_gate->shape[0], K = w_gate->shape[1];
    x_rows(x, y, N, &M, &ldx);
    float *yp = y->data;
    const float *xp = x->data;
    if (M == 0 || N == 0)
        return 0;
    if (K == 0) { /* SiLU(0)·0 */
        memset(yp, 0, (size_t)(M * N) * sizeof(float));
        return 0;
    }
    if (M <= OV_CPU_GEMV_MAX_ROWS) {
        struct fuse_ctx c = {w_gate, w_up, xp, NULL, NULL, yp, M, K, N, ldx};
        ov_cpu_parallel(N, 16, fuse_rows, &c);
        return 0;
    }
    /* prefill: gate straight into y, up into a bounded block of rows, SwiGLU in place */
    int64_t rows = SWIGLU_UP_FLOATS / N;
    if (rows < OV_CPU_GEMV_MAX_ROWS + 1)
        rows = OV_CPU_GEMV_MAX_ROWS + 1;
    if (rows > M)
        rows = M;
    float *up = malloc((size_t)(rows * N) * sizeof(float));
    if (!up)
        return nomem("linear_swiglu", y, (size_t)(rows * N) * sizeof(float));
    int rc = 0;
    for (int64_t m0 = 0; m0 < M && !rc; m0 += rows) {
        const int64_t mb = M - m0 < rows ? M - m0 : rows;
        rc = linear_core(w_gate, NULL, xp + m0 * ldx, mb, K, N, ldx, yp + m0 * N, 0);
        if (!rc)
            rc = linear_core(w_up, NULL, xp + m0 * ldx, mb, K, N, ldx, up, 0);
        if (!rc) {
            struct swiglu_ctx sc = {yp + m0 * N, up, N};
            ov_cpu_parallel(mb, 8, swiglu_rows, &sc);
        }
    }
    free(up);
    return rc;
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

/* One im2col row r = (channel, dt, dy, dx) over output pixels [p0, p0 + np): walks output rows with
 * counters (no division per element); a stride-1 row is one memcpy between zeroed edges. */
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
        int64_t oy = c->p0 / g->Wo, ox0 = c->p0 % g->Wo, left = c->np;
        /* output columns ox with 0 <= ox·sw - pw + dx·dw < W: [xlo, xhi) */
        int64_t off = dx * g->dw - g->pw, xlo = 0, xhi;
        while (xlo < g->Wo && xlo * g->sw + off < 0)
            xlo++;
        xhi = xlo;
        while (xhi < g->Wo && xhi * g->sw + off < g->W)
            xhi++;
        for (; left > 0; oy++, ox0 = 0) {
            int64_t cnt = g->Wo - ox0 < left ? g->Wo - ox0 : left, iy = oy * g->sh - g->ph + dy * g->dh;
            if (iy < 0 || iy >= g->H) {
                memset(dst, 0, (size_t)cnt * sizeof(float));
            } else {
                const float *src = plane + iy * g->W + off;
                int64_t a = xlo > ox0 ? xlo : ox0, e = xhi < ox0 + cnt ? xhi : ox0 + cnt, ox = ox0;
                for (; ox < a && ox < ox0 + cnt; ox++)
                    dst[ox - ox0] = 0.0f;
                if (g->sw == 1 && e > a) {
                    memcpy(dst + (a - ox0), src + a, (size_t)(e - a) * sizeof(float));
                    ox = e;
                } else {
                    for (; ox < e; ox++)
                        dst[ox - ox0] = src[ox * g->sw];
                }
                for (; ox < ox0 + cnt; ox++)
                    dst[ox - ox0] = 0.0f;
            }
            dst += cnt;
            left -= cnt;
        }
    }
}

/* ---- conv weights as f32, converted once per call ---- */

struct wconv_ctx {
    const ov_tensor *w;
    int64_t L, KS, O; /* row length C·KS, taps per input channel, output channels */
    float *dst;
    int transpose; /* 0: dst = w as f32 [O, L]; 1: dst [KS][O][L/KS] (one [O, C] matrix per tap) */
    atomic_int failed;
};

/* n elements from element e0 as f32 times the scale (SIMD dequantiser: F16C for f16) */
static void wconv_row(const ov_tensor *w, int64_t e0, float *dst, int64_t n)
{
    ov_cpu_dequant_row(w->dtype, ov_cpu_elem_ptr(w, e0), dst, n);
    if (w->scale != 1.0f)
        for (int64_t i = 0; i < n; i++)
            dst[i] *= w->scale;
}

static void wconv_rows(void *vctx, int64_t o0, int64_t o1)
{
    struct wconv_ctx *c = vctx;
    const ov_tensor *w = c->w;
    float *row = NULL;
    if (c->transpose && !(w->dtype == OV_DTYPE_F32 && w->scale == 1.0f)) {
        row = malloc((size_t)c->L * sizeof(float));
        if (!row) {
            atomic_store(&c->failed, 1);
            return;
        }
    }
    int64_t C = c->L / c->KS;
    for (int64_t o = o0; o < o1; o++) {
        if (!c->transpose) {
            wconv_row(w, o * c->L, c->dst + o * c->L, c->L);
            continue;
        }
        const float *src = (const float *)w->data + o * c->L;
        if (row) {
            wconv_row(w, o * c->L, row, c->L);
            src = row;
        }
        for (int64_t k = 0; k < c->KS; k++) {
            float *d = c->dst + (k * c->O + o) * C;
            for (int64_t ci = 0; ci < C; ci++)
                d[ci] = src[ci * c->KS + k];
        }
    }
    free(row);
}

/* w [O, C, taps...] as f32 in a malloc'd buffer (*tmp), or w's own data when it is f32 with scale 1
 * and no transpose is asked for. Rows are converted on the pool (conv weights are never block
 * quantised: the op layer refuses them). */
static const float *conv_weight_f32(const ov_tensor *w, int64_t KS, int transpose, float **tmp)
{
    *tmp = NULL;
    if (!transpose && w->dtype == OV_DTYPE_F32 && w->scale == 1.0f)
        return w->data;
    int64_t n = ov_tensor_nelem(w), O = w->shape[0], L = O ? n / O : 0;
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*tmp)
        return NULL;
    struct wconv_ctx c = {w, L, KS, O, *tmp, transpose, 0};
    ov_cpu_parallel(O, 8, wconv_rows, &c);
    if (atomic_load(&c.failed)) {
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    return *tmp;
}

/* ---- bias over [N·O] planes of P pixels ---- */

struct plane_bias_ctx {
    float *y;
    const float *b;
    int64_t O, P;
};

static void plane_bias(void *vctx, int64_t r0, int64_t r1)
{
    struct plane_bias_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *row = c->y + r * c->P, bv = c->b[r % c->O];
        for (int64_t i = 0; i < c->P; i++)
            row[i] += bv;
    }
}

/* ---- stride-1 2D conv (any kernel, padding, dilation; groups 1) without im2col ----
 * Pad a band of input rows once into xb [C, rows_in, Wp] (Wp = W + 2·pw, zero edges). Output pixel
 * (oy, ox) of the band is column q = oy·Wp + ox of a [O, nb·Wp] GEMM result, and tap (dy, dx) reads
 * input column q + dy·dh·Wp + dx·dw: for every tap the input is the same matrix shifted, so
 *   yb = Σ_taps W_tap [O, C] · xb_shift [C, nb·Wp]   (ldb = rows_in·Wp)
 * is kh·kw OpenBLAS GEMMs accumulating (beta 1) into one result. The Wp - Wo columns per row past
 * the output are computed and dropped (1-6 % extra at SDXL sizes); the copy-out adds the bias.
 * Same arithmetic as the im2col GEMM (C·KS products per output, f32), different summation order. */
#define OV_CPU_CONV_BAND_FLOATS ((int64_t)4 << 20) /* 16 MB of padded input + band output */

#define OV_CPU_CONV_SHIFT_MIN_C 16 /* fewer input channels: im2col */

static int64_t g_band_rows; /* test hook: 0 = automatic */

void ov_cpu_conv_band_force(int64_t rows)
{
    g_band_rows = rows > 0 ? rows : 0;
}

/* band fill (per input channel) and copy-out + bias (per output channel), on the pool */
struct band_ctx {
    const struct conv_geom *g;
    const float *xn; /* sample input [C, H, W] */
    float *xb, *yb;
    const float *bias; /* NULL or [O] */
    float *yn;         /* sample output [O, Ho, Wo] */
    int64_t oy0, nr, rows_in, Wp;
};

static void band_fill(void *vctx, int64_t c0, int64_t c1)
{
    const struct band_ctx *c = vctx;
    const struct conv_geom *g = c->g;
    for (int64_t ci = c0; ci < c1; ci++) {
        for (int64_t r = 0; r < c->rows_in; r++) {
            float *d = c->xb + (ci * c->rows_in + r) * c->Wp;
            int64_t iy = c->oy0 - g->ph + r;
            if (iy < 0 || iy >= g->H) {
                memset(d, 0, (size_t)c->Wp * sizeof(float));
                continue;
            }
            memset(d, 0, (size_t)g->pw * sizeof(float));
            memcpy(d + g->pw, c->xn + (ci * g->H + iy) * g->W, (size_t)g->W * sizeof(float));
            memset(d + g->pw + g->W, 0, (size_t)g->pw * sizeof(float));
        }
    }
}

static void band_out(void *vctx, int64_t o0, int64_t o1)
{
    const struct band_ctx *c = vctx;
    const struct conv_geom *g = c->g;
    for (int64_t o = o0; o < o1; o++) {
        float bv = c->bias ? c->bias[o] : 0.0f;
        for (int64_t r = 0; r < c->nr; r++) {
            const float *s = c->yb + (o * c->nr + r) * c->Wp;
            float *d = c->yn + (o * g->Ho + c->oy0 + r) * g->Wo;
            for (int64_t i = 0; i < g->Wo; i++)
                d[i] = s[i] + bv;
        }
    }
}

static int conv2d_shift(const char *op, const struct conv_geom *g, ov_tensor *y, const ov_tensor *x,
                        const ov_tensor *w, const ov_tensor *b)
{
    int64_t Nb = x->shape[0], O = w->shape[0], C = g->C, KS = g->kh * g->kw;
    int64_t Wp = g->W + 2 * g->pw, span = (g->kh - 1) * g->dh, tail = (g->kw - 1) * g->dw + 8;
    int64_t per_row = (C + O) * Wp, nb = OV_CPU_CONV_BAND_FLOATS / (per_row ? per_row : 1) - span;
    if (nb < 4)
        nb = 4;
    if (g_band_rows)
        nb = g_band_rows;
    if (nb > g->Ho)
        nb = g->Ho;
    float *wtmp = NULL, *btmp = NULL, *xb = NULL, *yb = NULL;
    int rc = 0;
    const float *wk = conv_weight_f32(w, KS, 1, &wtmp);
    if (!wk)
        return nomem(op, w, (size_t)ov_tensor_nelem(w) * sizeof(float));
    const float *bp = b ? ov_cpu_vec_f32(b, &btmp) : NULL;
    size_t xbytes = (size_t)(C * (nb + span) * Wp + tail) * sizeof(float);
    size_t ybytes = (size_t)(O * nb * Wp) * sizeof(float);
    xb = malloc(xbytes);
    yb = malloc(ybytes);
    if ((b && !bp) || !xb || !yb) {
        rc = nomem(op, x, xbytes + ybytes);
        goto out;
    }
    for (int64_t n = 0; n < Nb; n++) {
        const float *xn = (const float *)x->data + n * C * g->H * g->W;
        float *yn = (float *)y->data + n * O * g->Ho * g->Wo;
        for (int64_t oy0 = 0; oy0 < g->Ho; oy0 += nb) {
            int64_t nr = g->Ho - oy0 < nb ? g->Ho - oy0 : nb, rows_in = nr + span, plane = rows_in * Wp;
            struct band_ctx bc = {g, xn, xb, yb, bp, yn, oy0, nr, rows_in, Wp};
            ov_cpu_parallel(C, 4, band_fill, &bc);
            memset(xb + C * plane, 0, (size_t)tail * sizeof(float)); /* read only by dropped columns */
            for (int64_t k = 0; k < KS; k++) {
                int64_t dy = k / g->kw, dx = k % g->kw, off = dy * g->dh * Wp + dx * g->dw;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)O, (int)(nr * Wp), (int)C, 1.0f,
                            wk + k * O * C, (int)C, xb + off, (int)plane, k ? 1.0f : 0.0f, yb, (int)(nr * Wp));
            }
            ov_cpu_parallel(O, 4, band_out, &bc);
        }
    }
out:
    free(wtmp);
    free(btmp);
    free(xb);
    free(yb);
    return rc;
}

/* y [N, O, To, Ho, Wo] (To = 1 for 2D) = w [O, C/groups, kt, kh, kw] * x. */
static int conv_run(const char *op, const struct conv_geom *g, int groups, ov_tensor *y, const ov_tensor *x,
                    const ov_tensor *w, const ov_tensor *b)
{
    OV_CPU_NEED_F32(op, y, x);
    int64_t Nb = x->shape[0], O = w->shape[0], Og = O / groups, Cg = g->C / groups;
    int64_t KK = Cg * g->kt * g->kh * g->kw, HWo = g->Ho * g->Wo;
    int pointwise = g->kt == 1 && g->kh == 1 && g->kw == 1 && g->st == 1 && g->sh == 1 && g->sw == 1 &&
                    g->pt == 0 && g->ph == 0 && g->pw == 0;
    /* few input channels (conv_in: 4) make K = C GEMMs too thin: im2col's one K = 9·C GEMM wins */
    if (!pointwise && groups == 1 && g->kt == 1 && g->T == 1 && g->To == 1 && g->pt == 0 && g->sh == 1 &&
        g->sw == 1 && g->C >= OV_CPU_CONV_SHIFT_MIN_C && HWo > 0)
        return conv2d_shift(op, g, y, x, w, b);
    float *wtmp = NULL, *btmp = NULL, *col = NULL;
    const float *wp = conv_weight_f32(w, 1, 0, &wtmp);
    if (!wp)
        return nomem(op, w, ov_tensor_nelem(w) * sizeof(float));
    int rc = 0;
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
        struct plane_bias_ctx bc = {y->data, bp, O, g->To * HWo};
        ov_cpu_parallel(Nb * O, 4, plane_bias, &bc);
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
