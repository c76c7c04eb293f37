/* CPU element-wise family: copies/layout, norms, activations, broadcasting arithmetic, RoPE, embeddings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/cpu_internal.h"
#include "common/tensor/ops_cpu_simd.h"

/* Rows = all elements of the outer dims (the last dim is the row). */
static int64_t last_dim(const ov_tensor *t)
{
    return t->ndim ? t->shape[t->ndim - 1] : 1;
}

static int64_t n_rows(const ov_tensor *t)
{
    int64_t n = last_dim(t);
    return n ? ov_tensor_nelem(t) / n : 0;
}

static int64_t last_stride(const ov_tensor *t)
{
    return t->ndim ? t->stride[t->ndim - 1] : 1;
}

/* Element offset of the first element of row `row` (row index over the outer dims of `shape`),
 * using `stride` (which may hold 0 for broadcast dims). */
static int64_t row_offset(int ndim, const int64_t *shape, const int64_t *stride, int64_t row)
{
    int64_t off = 0;
    for (int i = ndim - 2; i >= 0; i--) {
        int64_t c = row % shape[i];
        row /= shape[i];
        off += c * stride[i];
    }
    return off;
}

/* ---- copy (any strides, dtype conversion) ---- */

struct copy_ctx {
    ov_tensor *y;
    const ov_tensor *x;
    int failed;
};

static void copy_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct copy_ctx *c = vctx;
    const ov_tensor *x = c->x;
    ov_tensor *y = c->y;
    int64_t n = last_dim(y), xs = last_stride(x), ys = last_stride(y);
    int conv_row = x->dtype != OV_DTYPE_F32 && (xs == 1 || n == 1);
    float *buf = NULL;
    if (conv_row && !(buf = malloc((size_t)n * sizeof(float)))) {
        c->failed = 1;
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        int64_t xo = row_offset(x->ndim, x->shape, x->stride, r);
        float *yp = (float *)y->data + row_offset(y->ndim, y->shape, y->stride, r);
        if (x->dtype == OV_DTYPE_F32) {
            const float *xp = (const float *)x->data + xo;
            if (xs == 1 && ys == 1 && x->scale == 1.0f)
                memmove(yp, xp, (size_t)n * sizeof(float));
            else
                for (int64_t j = 0; j < n; j++)
                    yp[j * ys] = xp[j * xs] * x->scale;
        } else if (conv_row) {
            ov_cpu_to_f32(x->dtype, ov_cpu_elem_ptr(x, xo), buf, n, x->scale);
            for (int64_t j = 0; j < n; j++)
                yp[j * ys] = buf[j];
        } else { /* strided plain type: element by element */
            for (int64_t j = 0; j < n; j++) {
                float v;
                ov_cpu_to_f32(x->dtype, ov_cpu_elem_ptr(x, xo + j * xs), &v, 1, x->scale);
                yp[j * ys] = v;
            }
        }
    }
    free(buf);
}

int ov_cpu_copy(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    (void)be;
    OV_CPU_NEED_F32("copy", y);
    if (ov_tensor_nelem(y) == 0)
        return 0;
    struct copy_ctx c = {y, x, 0};
    ov_cpu_parallel(n_rows(y), 16, copy_rows, &c);
    return c.failed ? ov_tensor_fail(OV_ENOMEM, "copy: no memory for a row of '%s'", x->name) : 0;
}

int ov_cpu_concat(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim)
{
    ov_tensor ya, yb;
    ov_tensor_slice(&ya, y, dim, 0, a->shape[dim]);
    ov_tensor_slice(&yb, y, dim, a->shape[dim], b->shape[dim]);
    int rc = ov_cpu_copy(be, &ya, a);
    return rc ? rc : ov_cpu_copy(be, &yb, b);
}

struct fill_ctx {
    float *y;
    float v;
};

static void fill_task(void *vctx, int64_t i0, int64_t i1)
{
    struct fill_ctx *c = vctx;
    for (int64_t i = i0; i < i1; i++)
        c->y[i] = c->v;
}

int ov_cpu_pad(ov_backend *be, ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after,
               float value)
{
    (void)after;
    OV_CPU_NEED_F32("pad", y);
    struct fill_ctx f = {y->data, value};
    ov_cpu_parallel(ov_tensor_nelem(y), 4096, fill_task, &f);
    ov_tensor inner = *y;
    for (int i = 0; i < x->ndim; i++)
        ov_tensor_slice(&inner, &inner, i, before[i], x->shape[i]);
    return ov_cpu_copy(be, &inner, x);
}

struct up_ctx {
    const float *x;
    float *y;
    int64_t H, W;
};

static void up_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct up_ctx *c = vctx;
    /* row r of y = plane r/(2H), output row r%(2H) */
    for (int64_t r = r0; r < r1; r++) {
        int64_t plane = r / (2 * c->H), oy = r % (2 * c->H);
        const float *src = c->x + (plane * c->H + oy / 2) * c->W;
        float *dst = c->y + r * 2 * c->W;
        for (int64_t j = 0; j < c->W; j++)
            dst[2 * j] = dst[2 * j + 1] = src[j];
    }
}

int ov_cpu_upsample_nearest2x(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    (void)be;
    OV_CPU_NEED_F32("upsample_nearest2x", y, x);
    struct up_ctx c = {x->data, y->data, x->shape[x->ndim - 2], x->shape[x->ndim - 1]};
    ov_cpu_parallel(n_rows(y), 16, up_rows, &c);
    return 0;
}

/* ---- norms over the last dim ---- */

struct norm_ctx {
    const float *x;
    float *y;
    const float *gamma, *beta;
    int64_t n;
    float eps;
    int rms;
};

static void norm_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct norm_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->x + r * c->n;
        float *y = c->y + r * c->n;
        double mean = 0.0, var = 0.0;
        if (c->rms) {
            for (int64_t j = 0; j < c->n; j++)
                var += (double)x[j] * x[j];
            var /= (double)c->n;
        } else {
            for (int64_t j = 0; j < c->n; j++)
                mean += x[j];
            mean /= (double)c->n;
            for (int64_t j = 0; j < c->n; j++) {
                double d = x[j] - mean;
                var += d * d;
            }
            var /= (double)c->n;
        }
        float inv = (float)(1.0 / sqrt(var + c->eps)), mu = (float)mean;
        for (int64_t j = 0; j < c->n; j++) {
            float v = (x[j] - mu) * inv;
            if (c->gamma)
                v *= c->gamma[j];
            if (c->beta)
                v += c->beta[j];
            y[j] = v;
        }
    }
}

static int norm_last(const char *op, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                     const ov_tensor *beta, float eps, int rms)
{
    OV_CPU_NEED_F32(op, y, x);
    float *gt = NULL, *bt = NULL;
    const float *g = ov_cpu_vec_f32(gamma, &gt), *b = ov_cpu_vec_f32(beta, &bt);
    int64_t n = last_dim(x);
    int rc = 0;
    if ((gamma && !g) || (beta && !b))
        rc = ov_tensor_fail(OV_ENOMEM, "%s: no memory", op);
    else if (n > 0) {
        struct norm_ctx c = {x->data, y->data, g, b, n, eps, rms};
        ov_cpu_parallel(n_rows(x), 8, norm_rows, &c);
    }
    free(gt);
    free(bt);
    return rc;
}

int ov_cpu_layer_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps)
{
    (void)be;
    return norm_last("layer_norm", y, x, gamma, beta, eps, 0);
}

int ov_cpu_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps)
{
    (void)be;
    return norm_last("rms_norm", y, x, gamma, NULL, eps, 1);
}

struct gn_ctx {
    const float *x;
    float *y;
    const float *gamma, *beta;
    int64_t C, G, S; /* S = spatial elements per channel */
    float eps;
};

static void gn_groups(void *vctx, int64_t i0, int64_t i1)
{
    struct gn_ctx *c = vctx;
    int64_t cg = c->C / c->G, len = cg * c->S;
    for (int64_t i = i0; i < i1; i++) {
        int64_t g = i % c->G;
        const float *x = c->x + i * len;
        float *y = c->y + i * len;
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < len; j++)
            mean += x[j];
        mean /= (double)len;
        for (int64_t j = 0; j < len; j++) {
            double d = x[j] - mean;
            var += d * d;
        }
        var /= (double)len;
        float inv = (float)(1.0 / sqrt(var + c->eps)), mu = (float)mean;
        for (int64_t ch = 0; ch < cg; ch++) {
            int64_t cc = g * cg + ch;
            float ga = c->gamma ? c->gamma[cc] : 1.0f, be = c->beta ? c->beta[cc] : 0.0f;
            const float *xs = x + ch * c->S;
            float *ys = y + ch * c->S;
            for (int64_t j = 0; j < c->S; j++)
                ys[j] = (xs[j] - mu) * inv * ga + be;
        }
    }
}

int ov_cpu_group_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps)
{
    (void)be;
    OV_CPU_NEED_F32("group_norm", y, x);
    float *gt = NULL, *bt = NULL;
    const float *g = ov_cpu_vec_f32(gamma, &gt), *b = ov_cpu_vec_f32(beta, &bt);
    int64_t C = x->shape[1], NC = x->shape[0] * C;
    int64_t S = NC ? ov_tensor_nelem(x) / NC : 0;
    int rc = 0;
    if ((gamma && !g) || (beta && !b))
        rc = ov_tensor_fail(OV_ENOMEM, "group_norm: no memory");
    else if (S > 0 && C > 0) {
        struct gn_ctx c = {x->data, y->data, g, b, C, groups, S, eps};
        ov_cpu_parallel(x->shape[0] * groups, 1, gn_groups, &c);
    }
    free(gt);
    free(bt);
    return rc;
}

struct crms_ctx {
    const float *x;
    float *y;
    const float *gamma;
    int64_t C, P, chunk;
    float eps;
};

#define CRMS_CHUNK 256

static void crms_task(void *vctx, int64_t i0, int64_t i1)
{
    struct crms_ctx *c = vctx;
    int64_t nchunks = (c->P + CRMS_CHUNK - 1) / CRMS_CHUNK;
    double ss[CRMS_CHUNK];
    float sc = (float)sqrt((double)c->C);
    for (int64_t i = i0; i < i1; i++) {
        int64_t n = i / nchunks, p0 = (i % nchunks) * CRMS_CHUNK;
        int64_t np = c->P - p0 < CRMS_CHUNK ? c->P - p0 : CRMS_CHUNK;
        const float *x = c->x + n * c->C * c->P + p0;
        float *y = c->y + n * c->C * c->P + p0;
        for (int64_t p = 0; p < np; p++)
            ss[p] = 0.0;
        for (int64_t ch = 0; ch < c->C; ch++)
            for (int64_t p = 0; p < np; p++)
                ss[p] += (double)x[ch * c->P + p] * x[ch * c->P + p];
        float inv[CRMS_CHUNK];
        for (int64_t p = 0; p < np; p++) {
            double nrm = sqrt(ss[p]);
            inv[p] = (float)(1.0 / (nrm > c->eps ? nrm : c->eps)) * sc;
        }
        for (int64_t ch = 0; ch < c->C; ch++) {
            float g = c->gamma ? c->gamma[ch] : 1.0f;
            for (int64_t p = 0; p < np; p++)
                y[ch * c->P + p] = x[ch * c->P + p] * inv[p] * g;
        }
    }
}

int ov_cpu_channel_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                            float eps)
{
    (void)be;
    OV_CPU_NEED_F32("channel_rms_norm", y, x);
    float *gt = NULL;
    const float *g = ov_cpu_vec_f32(gamma, &gt);
    if (gamma && !g)
        return ov_tensor_fail(OV_ENOMEM, "channel_rms_norm: no memory");
    int64_t N = x->shape[0], C = x->shape[1];
    int64_t P = (N * C) != 0 ? ov_tensor_nelem(x) / (N * C) : 0;
    if (P > 0) {
        struct crms_ctx c = {x->data, y->data, g, C, P, CRMS_CHUNK, eps};
        ov_cpu_parallel(N * ((P + CRMS_CHUNK - 1) / CRMS_CHUNK), 1, crms_task, &c);
    }
    free(gt);
    return 0;
}

/* ---- unary ---- */

struct un_ctx {
    const float *x;
    float *y;
    int kind;
    float a, b;
};

static inline float gelu_erf(float v)
{
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
}

static inline float gelu_tanh(float v)
{
    return 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
}

static inline float silu(float v)
{
    return v / (1.0f + expf(-v));
}

static void un_task(void *vctx, int64_t i0, int64_t i1)
{
    struct un_ctx *c = vctx;
    const float *x = c->x;
    float *y = c->y;
    switch (c->kind) {
    case OV_UNARY_SILU:
        for (int64_t i = i0; i < i1; i++)
            y[i] = silu(x[i]);
        break;
    case OV_UNARY_GELU_ERF:
        for (int64_t i = i0; i < i1; i++)
            y[i] = gelu_erf(x[i]);
        break;
    case OV_UNARY_GELU_TANH:
        for (int64_t i = i0; i < i1; i++)
            y[i] = gelu_tanh(x[i]);
        break;
    case OV_UNARY_GELU_QUICK:
        for (int64_t i = i0; i < i1; i++)
            y[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
        break;
    case OV_UNARY_SCALE:
        for (int64_t i = i0; i < i1; i++)
            y[i] = x[i] * c->a + c->b;
        break;
    case OV_UNARY_CLAMP:
        for (int64_t i = i0; i < i1; i++)
            y[i] = x[i] < c->a ? c->a : (x[i] > c->b ? c->b : x[i]);
        break;
    }
}

int ov_cpu_unary(ov_backend *be, ov_tensor *y, const ov_tensor *x, int kind, float a, float b)
{
    (void)be;
    OV_CPU_NEED_F32("unary", y, x);
    if (kind < OV_UNARY_SILU || kind > OV_UNARY_CLAMP)
        return ov_tensor_fail(OV_EINVAL, "unary: unknown kind %d", kind);
    struct un_ctx c = {x->data, y->data, kind, a, b};
    ov_cpu_parallel(ov_tensor_nelem(x), 4096, un_task, &c);
    return 0;
}

/* ---- broadcasting arithmetic ---- */

/* Strides of t aligned right to y's dims, 0 where t broadcasts. */
static void bcast_strides(const ov_tensor *y, const ov_tensor *t, int64_t *st)
{
    for (int i = 0; i < y->ndim; i++) {
        int it = i - (y->ndim - t->ndim);
        st[i] = (it < 0 || t->shape[it] == 1) ? 0 : t->stride[it];
    }
}

struct bin_ctx {
    ov_tensor *y;
    const float *a, *b, *c; /* c: modulate's scale (a = x, b = shift) */
    int64_t sa[OV_TENSOR_MAX_DIMS], sb[OV_TENSOR_MAX_DIMS], sc[OV_TENSOR_MAX_DIMS];
    int kind; /* OV_BINARY_*, or -1 for modulate */
};

static void bin_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct bin_ctx *c = vctx;
    const ov_tensor *y = c->y;
    int64_t n = last_dim(y), d = y->ndim - 1;
    int64_t ja = d >= 0 ? c->sa[d] : 0, jb = d >= 0 ? c->sb[d] : 0, jc = d >= 0 ? c->sc[d] : 0;
    for (int64_t r = r0; r < r1; r++) {
        float *yp = (float *)y->data + r * n;
        const float *ap = c->a + row_offset(y->ndim, y->shape, c->sa, r);
        const float *bp = c->b + row_offset(y->ndim, y->shape, c->sb, r);
        if (c->kind == OV_BINARY_ADD) {
            for (int64_t j = 0; j < n; j++)
                yp[j] = ap[j * ja] + bp[j * jb];
        } else if (c->kind == OV_BINARY_MUL) {
            for (int64_t j = 0; j < n; j++)
                yp[j] = ap[j * ja] * bp[j * jb];
        } else {
            const float *cp = c->c + row_offset(y->ndim, y->shape, c->sc, r);
            for (int64_t j = 0; j < n; j++)
                yp[j] = ap[j * ja] * (1.0f + cp[j * jc]) + bp[j * jb];
        }
    }
}

int ov_cpu_binary(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind)
{
    (void)be;
    OV_CPU_NEED_F32("binary", y, a, b);
    if (kind != OV_BINARY_ADD && kind != OV_BINARY_MUL)
        return ov_tensor_fail(OV_EINVAL, "binary: unknown kind %d", kind);
    struct bin_ctx c = {.y = y, .a = a->data, .b = b->data, .kind = kind};
    bcast_strides(y, a, c.sa);
    bcast_strides(y, b, c.sb);
    ov_cpu_parallel(n_rows(y), 8, bin_rows, &c);
    return 0;
}

int ov_cpu_modulate(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *shift,
                    const ov_tensor *scale)
{
    (void)be;
    OV_CPU_NEED_F32("modulate", y, x, shift, scale);
    struct bin_ctx c = {.y = y, .a = x->data, .b = shift->data, .c = scale->data, .kind = -1};
    bcast_strides(y, x, c.sa);
    bcast_strides(y, shift, c.sb);
    bcast_strides(y, scale, c.sc);
    ov_cpu_parallel(n_rows(y), 8, bin_rows, &c);
    return 0;
}

struct glu_ctx {
    const float *a, *g;
    float *y;
    int64_t n, lda; /* row length of y; row stride of the inputs */
    int geglu;
};

static void glu_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct glu_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *a = c->a + r * c->lda, *g = c->g + r * c->lda;
        float *y = c->y + r * c->n;
        if (c->geglu)
            for (int64_t j = 0; j < c->n; j++)
                y[j] = a[j] * gelu_erf(g[j]);
        else
            for (int64_t j = ov_cpu_swiglu_row_simd(a, g, y, c->n); j < c->n; j++)
                y[j] = silu(g[j]) * a[j];
    }
}

int ov_cpu_geglu(ov_backend *be, ov_tensor *y, const ov_tensor *x)
{
    (void)be;
    OV_CPU_NEED_F32("geglu", y, x);
    int64_t n = last_dim(y);
    if (!n)
        return 0;
    struct glu_ctx c = {x->data, (const float *)x->data + n, y->data, n, 2 * n, 1};
    ov_cpu_parallel(n_rows(y), 8, glu_rows, &c);
    return 0;
}

int ov_cpu_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *gate, const ov_tensor *up)
{
    (void)be;
    OV_CPU_NEED_F32("swiglu", y, gate, up);
    int64_t n = last_dim(y);
    if (!n)
        return 0;
    struct glu_ctx c = {up->data, gate->data, y->data, n, n, 0};
    ov_cpu_parallel(n_rows(y), 8, glu_rows, &c);
    return 0;
}

/* ---- RoPE ---- */

struct rope_ctx {
    ov_tensor *y;
    const ov_tensor *x;
    int64_t pos_offset, gt, gh, gw;
    double theta;
    int wan;
    int failed;
};

/* One task = one (b, l) token: its angle table is shared by all heads. */
static void rope_tokens(void *vctx, int64_t t0, int64_t t1)
{
    struct rope_ctx *c = vctx;
    const ov_tensor *x = c->x;
    ov_tensor *y = c->y;
    int64_t L = x->shape[1], H = x->shape[2], D = x->shape[3], half = D / 2;
    float *cs = malloc((size_t)D * sizeof(float)); /* cos[half], sin[half] */
    if (!cs) {
        c->failed = 1;
        return;
    }
    float *sn = cs + half;
    int64_t ct = half - 2 * (half / 3), ch = half / 3;
    for (int64_t t = t0; t < t1; t++) {
        int64_t b = t / L, l = t % L;
        int rotate = 1;
        if (!c->wan) {
            double pos = (double)(c->pos_offset + l);
            for (int64_t i = 0; i < half; i++) {
                double ang = pos * pow(c->theta, -2.0 * (double)i / (double)D);
                cs[i] = (float)cos(ang);
                sn[i] = (float)sin(ang);
            }
        } else if (l < c->gt * c->gh * c->gw) {
            double f = (double)(l / (c->gh * c->gw)), hh = (double)(l / c->gw % c->gh),
                   ww = (double)(l % c->gw);
            for (int64_t j = 0; j < half; j++) {
                double ang;
                if (j < ct)
                    ang = f * pow(c->theta, -2.0 * (double)j / (double)(2 * ct));
                else if (j < ct + ch)
                    ang = hh * pow(c->theta, -2.0 * (double)(j - ct) / (double)(2 * ch));
                else
                    ang = ww * pow(c->theta, -2.0 * (double)(j - ct - ch) / (double)(2 * ch));
                cs[j] = (float)cos(ang);
                sn[j] = (float)sin(ang);
            }
        } else {
            rotate = 0;
        }
        for (int64_t h = 0; h < H; h++) {
            const float *xp = (const float *)x->data + b * x->stride[0] + l * x->stride[1] + h * x->stride[2];
            float *yp = (float *)y->data + ((b * L + l) * H + h) * D;
            if (!rotate) {
                memmove(yp, xp, (size_t)D * sizeof(float));
            } else if (!c->wan) {
                for (int64_t i = 0; i < half; i++) {
                    float a = xp[i], bb = xp[i + half];
                    yp[i] = a * cs[i] - bb * sn[i];
                    yp[i + half] = bb * cs[i] + a * sn[i];
                }
            } else {
                for (int64_t j = 0; j < half; j++) {
                    float a = xp[2 * j], bb = xp[2 * j + 1];
                    yp[2 * j] = a * cs[j] - bb * sn[j];
                    yp[2 * j + 1] = a * sn[j] + bb * cs[j];
                }
            }
        }
    }
    free(cs);
}

static int rope_run(const char *op, struct rope_ctx *c)
{
    OV_CPU_NEED_F32(op, c->y, c->x);
    ov_cpu_parallel(c->x->shape[0] * c->x->shape[1], 4, rope_tokens, c);
    return c->failed ? ov_tensor_fail(OV_ENOMEM, "%s: no memory", op) : 0;
}

int ov_cpu_rope_neox(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta)
{
    (void)be;
    struct rope_ctx c = {y, x, pos_offset, 0, 0, 0, theta, 0, 0};
    return rope_run("rope_neox", &c);
}

int ov_cpu_rope_wan3d(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw,
                      float theta)
{
    (void)be;
    struct rope_ctx c = {y, x, 0, gt, gh, gw, theta, 1, 0};
    return rope_run("rope_wan3d", &c);
}

/* ---- timestep and token embeddings ---- */

int ov_cpu_timestep_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p)
{
    (void)be;
    OV_CPU_NEED_F32("timestep_embedding", y);
    int64_t N = y->shape[0], dim = y->shape[1], half = dim / 2;
    const float *tp = t->data;
    float *yp = y->data;
    double lmp = log((double)p->max_period);
    for (int64_t n = 0; n < N; n++) {
        float *row = yp + n * dim;
        for (int64_t i = 0; i < half; i++) {
            double freq = exp(-lmp * (double)i / ((double)half - p->downscale_freq_shift));
            double ang = (double)p->scale * (double)tp[n] * freq;
            float s = (float)sin(ang), co = (float)cos(ang);
            row[i] = p->flip_sin_to_cos ? co : s;
            row[half + i] = p->flip_sin_to_cos ? s : co;
        }
        if (dim % 2)
            row[dim - 1] = 0.0f;
    }
    return 0;
}

int ov_cpu_embedding_host(ov_backend *be, ov_tensor *y, const ov_tensor *table, const int32_t *id, int64_t n)
{
    (void)be;
    OV_CPU_NEED_F32("embedding", y);
    const int64_t D = table->shape[1];
    for (int64_t i = 0; i < n; i++)
        ov_cpu_to_f32(table->dtype, ov_cpu_elem_ptr(table, (int64_t)id[i] * D), (float *)y->data + i * D, D,
                      table->scale);
    return 0;
}

int ov_cpu_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *table, const ov_tensor *ids)
{
    int64_t N = ids->shape[0], V = table->shape[0];
    const int32_t *id = ids->data;
    for (int64_t i = 0; i < N; i++)
        if (id[i] < 0 || id[i] >= V)
            return ov_tensor_fail(OV_EINVAL, "embedding: ids '%s'[%lld] = %d outside table '%s' [0, %lld)",
                                  ids->name, (long long)i, id[i], table->name, (long long)V);
    return ov_cpu_embedding_host(be, y, table, id, N);
}
