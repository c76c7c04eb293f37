/* ov_op_*: check ranks, shapes, dtypes and params once, then dispatch to the tensors' backend. */
#include "common/tensor/ops.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/backend.h"

/* Rotating thread-local buffers so one message can print several shapes. */
static const char *shp(const ov_tensor *t)
{
    static _Thread_local char bufs[8][96];
    static _Thread_local int next;
    char *b = bufs[next++ & 7];
    if (!t)
        return "(null)";
    return ov_tensor_shape_str(t, b, 96);
}

static const char *nm(const ov_tensor *t)
{
    return t ? t->name : "(null)";
}

static int is_float(int dt)
{
    return dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16;
}

static int is_weight(int dt)
{
    return is_float(dt) || dt == OV_DTYPE_F8_E4M3 || dt == OV_DTYPE_F8_E5M2 || ov_dtype_is_quantized(dt);
}

/* Every non-NULL operand: has memory, lives on the first operand's backend. */
static int chk_common(const char *op, ov_backend **be_out, int n, const ov_tensor *const *ts)
{
    ov_backend *be = NULL;
    for (int i = 0; i < n; i++) {
        const ov_tensor *t = ts[i];
        if (!t)
            continue;
        if (!t->backend || (!t->data && ov_tensor_nelem(t) > 0))
            return ov_tensor_fail(OV_EINVAL, "%s: tensor '%s' %s has no memory", op, nm(t), shp(t));
        if (!be)
            be = t->backend;
        else if (t->backend != be)
            return ov_tensor_fail(OV_EINVAL, "%s: tensor '%s' is on backend %s, '%s' on %s", op, nm(t),
                                  t->backend->name, nm(ts[0]), be->name);
    }
    if (!be)
        return ov_tensor_fail(OV_EINVAL, "%s: no tensors", op);
    *be_out = be;
    return 0;
}

#define CHECK_COMMON(op, ...)                                                                                \
    ov_backend *be = NULL;                                                                                   \
    do {                                                                                                     \
        const ov_tensor *ts_[] = {__VA_ARGS__};                                                              \
        int rc_ = chk_common(op, &be, (int)(sizeof ts_ / sizeof ts_[0]), ts_);                               \
        if (rc_)                                                                                             \
            return rc_;                                                                                      \
    } while (0)

#define DISPATCH(op, entry, ...)                                                                             \
    do {                                                                                                     \
        if (!be->ops->entry)                                                                                 \
            return ov_tensor_fail(OV_EUNSUPP, "%s: not supported by backend %s", op, be->name);              \
        return be->ops->entry(be, __VA_ARGS__);                                                              \
    } while (0)

static int chk_act(const char *op, const ov_tensor *t)
{
    if (!is_float(t->dtype))
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s must be an activation dtype (f32/f16/bf16)", op, nm(t),
                              shp(t));
    return 0;
}

static int chk_contig(const char *op, const ov_tensor *t)
{
    if (!ov_tensor_is_contiguous(t))
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s must be contiguous", op, nm(t), shp(t));
    return 0;
}

static int chk_last_contig(const char *op, const ov_tensor *t)
{
    if (t->ndim > 0 && t->shape[t->ndim - 1] > 1 && t->stride[t->ndim - 1] != 1)
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s needs a contiguous last dim", op, nm(t), shp(t));
    return 0;
}

static int chk_same(const char *op, const ov_tensor *y, const ov_tensor *x)
{
    if (!ov_tensor_same_shape(y, x))
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s and '%s' %s differ in shape", op, nm(y), shp(y), nm(x),
                              shp(x));
    return 0;
}

static int chk_vec(const char *op, const ov_tensor *v, int64_t n, const char *what)
{
    if (!v)
        return 0;
    if (v->ndim != 1 || v->shape[0] != n || !is_float(v->dtype) || !ov_tensor_is_contiguous(v))
        return ov_tensor_fail(OV_EINVAL, "%s: %s '%s' %s must be [%lld] f32/f16/bf16 contiguous", op, what,
                              nm(v), shp(v), (long long)n);
    return 0;
}

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        int rc__ = (x);                                                                                      \
        if (rc__)                                                                                            \
            return rc__;                                                                                     \
    } while (0)

/* ---- copies and layout ---- */

int ov_op_copy(ov_tensor *y, const ov_tensor *x)
{
    const char *op = "copy";
    CHECK_COMMON(op, y, x);
    TRY(chk_same(op, y, x));
    TRY(chk_act(op, y));
    if (!is_weight(x->dtype))
        return ov_tensor_fail(OV_EINVAL, "copy: '%s' %s dtype cannot be converted", nm(x), shp(x));
    if (ov_dtype_is_quantized(x->dtype))
        TRY(chk_last_contig(op, x));
    DISPATCH(op, copy, y, x);
}

int ov_op_concat(ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim)
{
    const char *op = "concat";
    CHECK_COMMON(op, y, a, b);
    TRY(chk_act(op, y));
    TRY(chk_act(op, a));
    TRY(chk_act(op, b));
    TRY(chk_contig(op, y));
    if (a->ndim != y->ndim || b->ndim != y->ndim || dim < 0 || dim >= y->ndim)
        return ov_tensor_fail(OV_EINVAL, "concat: dim %d of '%s' %s + '%s' %s -> '%s' %s", dim, nm(a), shp(a),
                              nm(b), shp(b), nm(y), shp(y));
    for (int i = 0; i < y->ndim; i++) {
        int64_t want = i == dim ? a->shape[i] + b->shape[i] : a->shape[i];
        if ((i != dim && b->shape[i] != a->shape[i]) || y->shape[i] != want)
            return ov_tensor_fail(OV_EINVAL, "concat: dim %d of '%s' %s + '%s' %s -> '%s' %s", dim, nm(a),
                                  shp(a), nm(b), shp(b), nm(y), shp(y));
    }
    DISPATCH(op, concat, y, a, b, dim);
}

int ov_op_pad(ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after, float value)
{
    const char *op = "pad";
    CHECK_COMMON(op, y, x);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    if (y->ndim != x->ndim)
        return ov_tensor_fail(OV_EINVAL, "pad: '%s' %s -> '%s' %s rank differs", nm(x), shp(x), nm(y),
                              shp(y));
    for (int i = 0; i < x->ndim; i++) {
        if (before[i] < 0 || after[i] < 0 || y->shape[i] != x->shape[i] + before[i] + after[i])
            return ov_tensor_fail(OV_EINVAL, "pad: '%s' %s dim %d + %lld/%lld != '%s' %s", nm(x), shp(x), i,
                                  (long long)before[i], (long long)after[i], nm(y), shp(y));
    }
    DISPATCH(op, pad, y, x, before, after, value);
}

int ov_op_upsample_nearest2x(ov_tensor *y, const ov_tensor *x)
{
    const char *op = "upsample_nearest2x";
    CHECK_COMMON(op, y, x);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, x));
    int n = x->ndim;
    int ok = n >= 2 && y->ndim == n;
    for (int i = 0; ok && i < n; i++)
        ok = y->shape[i] == (i >= n - 2 ? 2 * x->shape[i] : x->shape[i]);
    if (!ok)
        return ov_tensor_fail(OV_EINVAL,
                              "upsample_nearest2x: '%s' %s -> '%s' %s (want last two dims doubled)", nm(x),
                              shp(x), nm(y), shp(y));
    DISPATCH(op, upsample_nearest2x, y, x);
}

/* ---- GEMM ---- */

/* The shape and layout rules every linear-family op shares (ov_op_linear's contract). */
static int chk_linear(const char *op, const ov_tensor *y, const ov_tensor *x, const ov_tensor *w)
{
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_last_contig(op, x));
    if (w->ndim != 2 || !is_weight(w->dtype) || !ov_tensor_is_contiguous(w))
        return ov_tensor_fail(OV_EINVAL, "%s: weight '%s' %s must be [out, in] contiguous, a weight dtype",
                              op, nm(w), shp(w));
    if (x->ndim < 1 || y->ndim != x->ndim || x->shape[x->ndim - 1] != w->shape[1] ||
        y->shape[y->ndim - 1] != w->shape[0])
        return ov_tensor_fail(OV_EINVAL, "%s: x '%s' %s · W '%s' %s^T -> y '%s' %s: shapes do not match", op,
                              nm(x), shp(x), nm(w), shp(w), nm(y), shp(y));
    for (int i = 0; i < x->ndim - 1; i++)
        if (x->shape[i] != y->shape[i])
            return ov_tensor_fail(OV_EINVAL, "%s: x '%s' %s and y '%s' %s differ in leading dims", op, nm(x),
                                  shp(x), nm(y), shp(y));
    /* leading dims of x must flatten to rows with one stride */
    for (int i = 0; i + 2 < x->ndim; i++)
        if (x->shape[i] > 1 && x->stride[i] != x->stride[i + 1] * x->shape[i + 1])
            return ov_tensor_fail(OV_EINVAL, "%s: x '%s' %s rows are not evenly strided (copy it first)", op,
                                  nm(x), shp(x));
    return 0;
}

/* The bytes [*lo, *hi) an activation view can touch (empty when it has no elements). */
static void byte_span(const ov_tensor *t, uintptr_t *lo, uintptr_t *hi)
{
    int64_t last = 0;
    *lo = *hi = (uintptr_t)t->data;
    if (ov_tensor_nelem(t) == 0)
        return;
    for (int i = 0; i < t->ndim; i++)
        last += (t->shape[i] - 1) * (t->stride[i] < 0 ? -t->stride[i] : t->stride[i]);
    *hi = *lo + ov_tensor_elem_offset_bytes(t->dtype, last + 1);
}

static int overlaps(const ov_tensor *a, const ov_tensor *b)
{
    uintptr_t alo, ahi, blo, bhi;
    byte_span(a, &alo, &ahi);
    byte_span(b, &blo, &bhi);
    return alo < ahi && blo < bhi && alo < bhi && blo < ahi;
}

int ov_op_linear(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b)
{
    const char *op = "linear";
    CHECK_COMMON(op, y, x, w, b);
    TRY(chk_linear(op, y, x, w));
    TRY(chk_vec(op, b, w->shape[0], "bias"));
    DISPATCH(op, linear, y, x, w, b);
}

int ov_op_linear_add(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                     const ov_tensor *r)
{
    const char *op = "linear_add";
    if (!r)
        return ov_tensor_fail(OV_EINVAL, "linear_add: no residual for y '%s' %s", nm(y), shp(y));
    CHECK_COMMON(op, y, x, w, b, r);
    TRY(chk_linear(op, y, x, w));
    TRY(chk_vec(op, b, w->shape[0], "bias"));
    TRY(chk_same(op, y, r));
    TRY(chk_contig(op, r));
    if (r->dtype != y->dtype)
        return ov_tensor_fail(OV_EINVAL, "linear_add: residual '%s' %s is %s, y '%s' %s", nm(r), shp(r),
                              ov_dtype_name(r->dtype), nm(y), ov_dtype_name(y->dtype));
    if (r->data != y->data && overlaps(r, y))
        return ov_tensor_fail(OV_EINVAL, "linear_add: residual '%s' %s partly overlaps y '%s' %s", nm(r),
                              shp(r), nm(y), shp(y));
    if (overlaps(x, y))
        return ov_tensor_fail(OV_EINVAL, "linear_add: x '%s' %s overlaps y '%s' %s", nm(x), shp(x), nm(y),
                              shp(y));
    DISPATCH(op, linear_add, y, x, w, b, r);
}

int ov_op_linear_swiglu(ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate, const ov_tensor *w_up)
{
    const char *op = "linear_swiglu";
    if (!w_gate || !w_up)
        return ov_tensor_fail(OV_EINVAL, "linear_swiglu: gate '%s' / up '%s' weight missing", nm(w_gate),
                              nm(w_up));
    CHECK_COMMON(op, y, x, w_gate, w_up);
    TRY(chk_linear(op, y, x, w_gate));
    TRY(chk_linear(op, y, x, w_up));
    if (overlaps(x, y))
        return ov_tensor_fail(OV_EINVAL, "linear_swiglu: x '%s' %s overlaps y '%s' %s", nm(x), shp(x), nm(y),
                              shp(y));
    DISPATCH(op, linear_swiglu, y, x, w_gate, w_up);
}

int ov_op_matmul(ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a, int trans_b, float alpha)
{
    const char *op = "matmul";
    CHECK_COMMON(op, y, a, b);
    TRY(chk_act(op, y));
    TRY(chk_act(op, a));
    TRY(chk_act(op, b));
    TRY(chk_contig(op, y));
    TRY(chk_last_contig(op, a));
    TRY(chk_last_contig(op, b));
    if (y->ndim != 3 || a->ndim != 3 || b->ndim != 3)
        return ov_tensor_fail(OV_EINVAL, "matmul: '%s' %s · '%s' %s -> '%s' %s need rank 3", nm(a), shp(a),
                              nm(b), shp(b), nm(y), shp(y));
    int64_t B = y->shape[0], M = y->shape[1], N = y->shape[2];
    int64_t am = trans_a ? a->shape[2] : a->shape[1], ak = trans_a ? a->shape[1] : a->shape[2];
    int64_t bk = trans_b ? b->shape[2] : b->shape[1], bn = trans_b ? b->shape[1] : b->shape[2];
    if (am != M || bn != N || ak != bk || (a->shape[0] != B && a->shape[0] != 1) ||
        (b->shape[0] != B && b->shape[0] != 1))
        return ov_tensor_fail(OV_EINVAL, "matmul: '%s' %s%s · '%s' %s%s -> '%s' %s: shapes do not match",
                              nm(a), shp(a), trans_a ? "^T" : "", nm(b), shp(b), trans_b ? "^T" : "", nm(y),
                              shp(y));
    DISPATCH(op, matmul, y, a, b, trans_a, trans_b, alpha);
}

/* ---- convolution ---- */

static int conv_out(int64_t in, int pad0, int pad1, int dil, int64_t k, int stride)
{
    int64_t span = in + pad0 + pad1 - (int64_t)dil * (k - 1) - 1;
    return span < 0 ? -1 : (int)(span / stride + 1);
}

int ov_op_conv2d(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                 const ov_conv2d_params *pin)
{
    const char *op = "conv2d";
    CHECK_COMMON(op, y, x, w, b);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, x));
    ov_conv2d_params p = *pin;
    if (!p.dilation_h)
        p.dilation_h = 1;
    if (!p.dilation_w)
        p.dilation_w = 1;
    if (!p.groups)
        p.groups = 1;
    if (p.stride_h < 1 || p.stride_w < 1 || p.pad_h < 0 || p.pad_w < 0 || p.dilation_h < 1 ||
        p.dilation_w < 1 || p.groups < 1)
        return ov_tensor_fail(OV_EINVAL, "conv2d: bad params stride %dx%d pad %dx%d dilation %dx%d groups %d",
                              p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups);
    if (w->ndim != 4 || !is_weight(w->dtype) || !ov_tensor_is_contiguous(w) ||
        ov_dtype_is_quantized(w->dtype))
        return ov_tensor_fail(OV_EINVAL, "conv2d: weight '%s' %s must be [O, C/g, kh, kw] contiguous float",
                              nm(w), shp(w));
    if (x->ndim != 4 || y->ndim != 4)
        return ov_tensor_fail(OV_EINVAL, "conv2d: x '%s' %s and y '%s' %s must be [N, C, H, W]", nm(x),
                              shp(x), nm(y), shp(y));
    int64_t C = x->shape[1], O = w->shape[0];
    int ho = conv_out(x->shape[2], p.pad_h, p.pad_h, p.dilation_h, w->shape[2], p.stride_h);
    int wo = conv_out(x->shape[3], p.pad_w, p.pad_w, p.dilation_w, w->shape[3], p.stride_w);
    if (C % p.groups || O % p.groups || w->shape[1] * p.groups != C || y->shape[0] != x->shape[0] ||
        y->shape[1] != O || ho < 1 || wo < 1 || y->shape[2] != ho || y->shape[3] != wo)
        return ov_tensor_fail(OV_EINVAL,
                              "conv2d: x '%s' %s * w '%s' %s (stride %dx%d pad %dx%d dil %dx%d groups %d) -> "
                              "y '%s' %s: shapes do not match (want [%lld,%lld,%d,%d])",
                              nm(x), shp(x), nm(w), shp(w), p.stride_h, p.stride_w, p.pad_h, p.pad_w,
                              p.dilation_h, p.dilation_w, p.groups, nm(y), shp(y), (long long)x->shape[0],
                              (long long)O, ho, wo);
    TRY(chk_vec(op, b, O, "bias"));
    DISPATCH(op, conv2d, y, x, w, b, &p);
}

int ov_op_conv3d_causal(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                        const ov_conv3d_params *pin)
{
    const char *op = "conv3d_causal";
    CHECK_COMMON(op, y, x, w, b);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, x));
    ov_conv3d_params p = *pin;
    if (!p.stride_t)
        p.stride_t = 1;
    if (!p.stride_h)
        p.stride_h = 1;
    if (!p.stride_w)
        p.stride_w = 1;
    if (p.stride_t < 1 || p.stride_h < 1 || p.stride_w < 1 || p.pad_t_front < 0 || p.pad_h < 0 || p.pad_w < 0)
        return ov_tensor_fail(OV_EINVAL, "conv3d_causal: bad params stride %dx%dx%d pad %d(front)x%dx%d",
                              p.stride_t, p.stride_h, p.stride_w, p.pad_t_front, p.pad_h, p.pad_w);
    if (w->ndim != 5 || !is_weight(w->dtype) || !ov_tensor_is_contiguous(w) ||
        ov_dtype_is_quantized(w->dtype))
        return ov_tensor_fail(OV_EINVAL,
                              "conv3d_causal: weight '%s' %s must be [O, C, kt, kh, kw] contiguous float",
                              nm(w), shp(w));
    if (x->ndim != 5 || y->ndim != 5)
        return ov_tensor_fail(OV_EINVAL, "conv3d_causal: x '%s' %s and y '%s' %s must be [N, C, T, H, W]",
                              nm(x), shp(x), nm(y), shp(y));
    int to = conv_out(x->shape[2], p.pad_t_front, 0, 1, w->shape[2], p.stride_t);
    int ho = conv_out(x->shape[3], p.pad_h, p.pad_h, 1, w->shape[3], p.stride_h);
    int wo = conv_out(x->shape[4], p.pad_w, p.pad_w, 1, w->shape[4], p.stride_w);
    if (w->shape[1] != x->shape[1] || y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0] || to < 1 ||
        ho < 1 || wo < 1 || y->shape[2] != to || y->shape[3] != ho || y->shape[4] != wo)
        return ov_tensor_fail(OV_EINVAL,
                              "conv3d_causal: x '%s' %s * w '%s' %s -> y '%s' %s: shapes do not match (want "
                              "[%lld,%lld,%d,%d,%d])",
                              nm(x), shp(x), nm(w), shp(w), nm(y), shp(y), (long long)x->shape[0],
                              (long long)w->shape[0], to, ho, wo);
    TRY(chk_vec(op, b, w->shape[0], "bias"));
    DISPATCH(op, conv3d_causal, y, x, w, b, &p);
}

/* ---- normalisation ---- */

static int chk_unary(const char *op, ov_backend *be, const ov_tensor *y, const ov_tensor *x)
{
    (void)be;
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, x));
    TRY(chk_same(op, y, x));
    return 0;
}

static int chk_eps(const char *op, float eps)
{
    if (!(eps >= 0.0f) || isinf(eps))
        return ov_tensor_fail(OV_EINVAL, "%s: eps %g must be finite and >= 0", op, (double)eps);
    return 0;
}

int ov_op_layer_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, const ov_tensor *beta,
                     float eps)
{
    const char *op = "layer_norm";
    CHECK_COMMON(op, y, x, gamma, beta);
    TRY(chk_unary(op, be, y, x));
    TRY(chk_eps(op, eps));
    if (x->ndim < 1)
        return ov_tensor_fail(OV_EINVAL, "layer_norm: '%s' is a scalar", nm(x));
    int64_t C = x->shape[x->ndim - 1];
    TRY(chk_vec(op, gamma, C, "gamma"));
    TRY(chk_vec(op, beta, C, "beta"));
    DISPATCH(op, layer_norm, y, x, gamma, beta, eps);
}

int ov_op_rms_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps)
{
    const char *op = "rms_norm";
    CHECK_COMMON(op, y, x, gamma);
    TRY(chk_unary(op, be, y, x));
    TRY(chk_eps(op, eps));
    if (x->ndim < 1)
        return ov_tensor_fail(OV_EINVAL, "rms_norm: '%s' is a scalar", nm(x));
    TRY(chk_vec(op, gamma, x->shape[x->ndim - 1], "gamma"));
    DISPATCH(op, rms_norm, y, x, gamma, eps);
}

static int group_norm_check(const char *op, ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups,
                            const ov_tensor *gamma, const ov_tensor *beta, float eps)
{
    TRY(chk_unary(op, be, y, x));
    TRY(chk_eps(op, eps));
    if (x->ndim < 2 || groups < 1 || x->shape[1] % groups)
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s must be [N, C, ...] with C divisible by %d groups", op, nm(x),
                              shp(x), groups);
    TRY(chk_vec(op, gamma, x->shape[1], "gamma"));
    TRY(chk_vec(op, beta, x->shape[1], "beta"));
    return 0;
}

int ov_op_group_norm_silu(ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                          const ov_tensor *beta, float eps)
{
    const char *op = "group_norm_silu";
    CHECK_COMMON(op, y, x, gamma, beta);
    TRY(group_norm_check(op, be, y, x, groups, gamma, beta, eps));
    if (be->ops->group_norm_silu)
        return be->ops->group_norm_silu(be, y, x, groups, gamma, beta, eps);
    TRY(ov_op_group_norm(y, x, groups, gamma, beta, eps));
    return ov_op_silu(y, y);
}

int ov_op_group_norm(ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                     const ov_tensor *beta, float eps)
{
    const char *op = "group_norm";
    CHECK_COMMON(op, y, x, gamma, beta);
    TRY(group_norm_check(op, be, y, x, groups, gamma, beta, eps));
    DISPATCH(op, group_norm, y, x, groups, gamma, beta, eps);
}

int ov_op_channel_rms_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps)
{
    const char *op = "channel_rms_norm";
    CHECK_COMMON(op, y, x, gamma);
    TRY(chk_unary(op, be, y, x));
    TRY(chk_eps(op, eps));
    if (x->ndim < 2)
        return ov_tensor_fail(OV_EINVAL, "channel_rms_norm: '%s' %s must be [N, C, ...]", nm(x), shp(x));
    TRY(chk_vec(op, gamma, x->shape[1], "gamma"));
    DISPATCH(op, channel_rms_norm, y, x, gamma, eps);
}

/* ---- element-wise ---- */

static int unary(const char *op, ov_tensor *y, const ov_tensor *x, int kind, float a, float b)
{
    CHECK_COMMON(op, y, x);
    TRY(chk_unary(op, be, y, x));
    DISPATCH(op, unary, y, x, kind, a, b);
}

int ov_op_silu(ov_tensor *y, const ov_tensor *x)
{
    return unary("silu", y, x, OV_UNARY_SILU, 0, 0);
}

int ov_op_gelu(ov_tensor *y, const ov_tensor *x, int kind)
{
    static const int map[] = {OV_UNARY_GELU_ERF, OV_UNARY_GELU_TANH, OV_UNARY_GELU_QUICK};
    if (kind < 0 || kind > 2)
        return ov_tensor_fail(OV_EINVAL, "gelu: unknown kind %d", kind);
    return unary("gelu", y, x, map[kind], 0, 0);
}

int ov_op_scale(ov_tensor *y, const ov_tensor *x, float alpha, float beta)
{
    return unary("scale", y, x, OV_UNARY_SCALE, alpha, beta);
}

int ov_op_clamp(ov_tensor *y, const ov_tensor *x, float lo, float hi)
{
    if (!(lo <= hi))
        return ov_tensor_fail(OV_EINVAL, "clamp: lo %g > hi %g", (double)lo, (double)hi);
    return unary("clamp", y, x, OV_UNARY_CLAMP, lo, hi);
}

/* y's shape must be the numpy broadcast of a and b (right-aligned). */
static int chk_broadcast(const char *op, const ov_tensor *y, const ov_tensor *a, const ov_tensor *b)
{
    if (a->ndim > y->ndim || b->ndim > y->ndim)
        goto bad;
    for (int i = 0; i < y->ndim; i++) {
        int ia = i - (y->ndim - a->ndim), ib = i - (y->ndim - b->ndim);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        int64_t want = sa == 1 ? sb : sa;
        if ((sa != 1 && sb != 1 && sa != sb) || y->shape[i] != want)
            goto bad;
    }
    return 0;
bad:
    return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s and '%s' %s do not broadcast to '%s' %s", op, nm(a), shp(a),
                          nm(b), shp(b), nm(y), shp(y));
}

static int binary(const char *op, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind)
{
    CHECK_COMMON(op, y, a, b);
    TRY(chk_act(op, y));
    TRY(chk_act(op, a));
    TRY(chk_act(op, b));
    TRY(chk_contig(op, y));
    TRY(chk_broadcast(op, y, a, b));
    DISPATCH(op, binary, y, a, b, kind);
}

int ov_op_add(ov_tensor *y, const ov_tensor *a, const ov_tensor *b)
{
    return binary("add", y, a, b, OV_BINARY_ADD);
}

int ov_op_mul(ov_tensor *y, const ov_tensor *a, const ov_tensor *b)
{
    return binary("mul", y, a, b, OV_BINARY_MUL);
}

int ov_op_modulate(ov_tensor *y, const ov_tensor *x, const ov_tensor *shift, const ov_tensor *scale)
{
    const char *op = "modulate";
    CHECK_COMMON(op, y, x, shift, scale);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_act(op, shift));
    TRY(chk_act(op, scale));
    TRY(chk_contig(op, y));
    TRY(chk_same(op, y, x));
    TRY(chk_broadcast(op, y, x, shift));
    TRY(chk_broadcast(op, y, x, scale));
    DISPATCH(op, modulate, y, x, shift, scale);
}

int ov_op_geglu(ov_tensor *y, const ov_tensor *x)
{
    const char *op = "geglu";
    CHECK_COMMON(op, y, x);
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, x));
    int ok = x->ndim >= 1 && y->ndim == x->ndim;
    for (int i = 0; ok && i < x->ndim; i++)
        ok = y->shape[i] == (i == x->ndim - 1 ? x->shape[i] / 2 : x->shape[i]);
    if (!ok || x->shape[x->ndim - 1] % 2)
        return ov_tensor_fail(OV_EINVAL, "geglu: '%s' %s -> '%s' %s (want the last dim halved)", nm(x),
                              shp(x), nm(y), shp(y));
    DISPATCH(op, geglu, y, x);
}

int ov_op_swiglu(ov_tensor *y, const ov_tensor *gate, const ov_tensor *up)
{
    const char *op = "swiglu";
    CHECK_COMMON(op, y, gate, up);
    TRY(chk_unary(op, be, y, gate));
    TRY(chk_unary(op, be, y, up));
    DISPATCH(op, swiglu, y, gate, up);
}

int ov_op_softmax(ov_tensor *y, const ov_tensor *x, float scale)
{
    const char *op = "softmax";
    CHECK_COMMON(op, y, x);
    TRY(chk_unary(op, be, y, x));
    if (x->ndim < 1 || !isfinite(scale))
        return ov_tensor_fail(OV_EINVAL, "softmax: '%s' %s scale %g", nm(x), shp(x), (double)scale);
    DISPATCH(op, softmax, y, x, scale);
}

/* ---- attention ---- */

int ov_op_attention(ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                    const ov_attn_params *pin)
{
    const char *op = "attention";
    ov_attn_params p = {0};
    if (pin)
        p = *pin;
    CHECK_COMMON(op, o, q, k, v, p.bias);
    TRY(chk_act(op, o));
    TRY(chk_act(op, q));
    TRY(chk_act(op, k));
    TRY(chk_act(op, v));
    TRY(chk_last_contig(op, o));
    TRY(chk_last_contig(op, q));
    TRY(chk_last_contig(op, k));
    TRY(chk_last_contig(op, v));
    if (o->ndim != 4 || q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        goto bad;
    int64_t B = q->shape[0], Hq = q->shape[1], Lq = q->shape[2], D = q->shape[3];
    int64_t Hkv = k->shape[1], Lk = k->shape[2];
    if (!ov_tensor_same_shape(o, q) || !ov_tensor_same_shape(k, v) || k->shape[0] != B || k->shape[3] != D ||
        Hkv < 1 || Hq % Hkv || D < 1)
        goto bad;
    if (p.bias) {
        const ov_tensor *bs = p.bias;
        if (bs->ndim != 4 || bs->dtype != OV_DTYPE_F32 || (bs->shape[0] != B && bs->shape[0] != 1) ||
            (bs->shape[1] != Hq && bs->shape[1] != 1) || bs->shape[2] != Lq || bs->shape[3] != Lk)
            return ov_tensor_fail(OV_EINVAL,
                                  "attention: bias '%s' %s must be [%lld|1, %lld|1, %lld, %lld] f32", nm(bs),
                                  shp(bs), (long long)B, (long long)Hq, (long long)Lq, (long long)Lk);
        TRY(chk_last_contig(op, bs));
    }
    if (p.q_pos_offset < 0 || !isfinite(p.scale))
        return ov_tensor_fail(OV_EINVAL, "attention: q_pos_offset %lld scale %g", (long long)p.q_pos_offset,
                              (double)p.scale);
    if (p.scale == 0.0f)
        p.scale = (float)(1.0 / sqrt((double)D));
    DISPATCH(op, attention, o, q, k, v, &p);
bad:
    return ov_tensor_fail(OV_EINVAL,
                          "attention: q '%s' %s, k '%s' %s, v '%s' %s -> o '%s' %s: want q/o [B,Hq,Lq,D], "
                          "k/v [B,Hkv,Lk,D] with Hq %% Hkv == 0",
                          nm(q), shp(q), nm(k), shp(k), nm(v), shp(v), nm(o), shp(o));
}

/* ---- positions ---- */

static int chk_rope(const char *op, const ov_tensor *y, const ov_tensor *x, float theta)
{
    TRY(chk_act(op, y));
    TRY(chk_act(op, x));
    TRY(chk_contig(op, y));
    TRY(chk_last_contig(op, x));
    TRY(chk_same(op, y, x));
    if (x->ndim != 4 || x->shape[3] % 2)
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s must be [B, L, H, D] with D even", op, nm(x), shp(x));
    if (!(theta > 0.0f) || isinf(theta))
        return ov_tensor_fail(OV_EINVAL, "%s: theta %g must be > 0", op, (double)theta);
    return 0;
}

int ov_op_rope_neox(ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta)
{
    const char *op = "rope_neox";
    CHECK_COMMON(op, y, x);
    TRY(chk_rope(op, y, x, theta));
    if (pos_offset < 0)
        return ov_tensor_fail(OV_EINVAL, "rope_neox: negative pos_offset %lld", (long long)pos_offset);
    DISPATCH(op, rope_neox, y, x, pos_offset, theta);
}

int ov_op_rope_wan3d(ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw, float theta)
{
    const char *op = "rope_wan3d";
    CHECK_COMMON(op, y, x);
    TRY(chk_rope(op, y, x, theta));
    if (gt < 1 || gh < 1 || gw < 1 || gt > x->shape[1] || gh > x->shape[1] || gw > x->shape[1] ||
        gt * gh * gw > x->shape[1] || x->shape[3] < 6)
        return ov_tensor_fail(OV_EINVAL, "rope_wan3d: grid %lldx%lldx%lld does not fit '%s' %s (D >= 6)",
                              (long long)gt, (long long)gh, (long long)gw, nm(x), shp(x));
    DISPATCH(op, rope_wan3d, y, x, gt, gh, gw, theta);
}

int ov_op_timestep_embedding(ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p)
{
    const char *op = "timestep_embedding";
    CHECK_COMMON(op, y, t);
    TRY(chk_act(op, y));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, t));
    if (t->ndim != 1 || t->dtype != OV_DTYPE_F32 || y->ndim != 2 || y->shape[0] != t->shape[0] ||
        y->shape[1] < 2)
        return ov_tensor_fail(OV_EINVAL,
                              "timestep_embedding: t '%s' %s must be [N] f32, y '%s' %s [N, dim>=2]", nm(t),
                              shp(t), nm(y), shp(y));
    int64_t half = y->shape[1] / 2;
    if (!p || !(p->max_period > 0.0f) || !isfinite(p->scale) || !isfinite(p->downscale_freq_shift) ||
        (double)half - p->downscale_freq_shift <= 0.0)
        return ov_tensor_fail(OV_EINVAL, "timestep_embedding: bad params for dim %lld",
                              (long long)y->shape[1]);
    DISPATCH(op, timestep_embedding, y, t, p);
}

int ov_op_embedding_host(ov_tensor *y, const ov_tensor *table, const int32_t *ids, int64_t n)
{
    const char *op = "embedding";
    CHECK_COMMON(op, y, table);
    TRY(chk_act(op, y));
    TRY(chk_contig(op, y));
    if (table->ndim != 2 || !is_weight(table->dtype) || !ov_tensor_is_contiguous(table))
        return ov_tensor_fail(OV_EINVAL, "embedding: table '%s' %s must be [V, D] contiguous, a weight dtype",
                              nm(table), shp(table));
    if (n < 0 || (n > 0 && !ids) || y->ndim != 2 || y->shape[0] != n || y->shape[1] != table->shape[1])
        return ov_tensor_fail(OV_EINVAL, "embedding: %lld host ids, y '%s' %s must be [%lld, %lld]", (long long)n,
                              nm(y), shp(y), (long long)n, (long long)table->shape[1]);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= table->shape[0])
            return ov_tensor_fail(OV_EINVAL, "embedding: id [%lld] = %d outside table '%s' [0, %lld)", (long long)i,
                                  ids[i], table->name, (long long)table->shape[0]);
    if (n == 0)
        return 0;
    DISPATCH(op, embedding_host, y, table, ids, n);
}

int ov_op_embedding(ov_tensor *y, const ov_tensor *table, const ov_tensor *ids)
{
    const char *op = "embedding";
    CHECK_COMMON(op, y, table, ids);
    TRY(chk_act(op, y));
    TRY(chk_contig(op, y));
    TRY(chk_contig(op, ids));
    if (table->ndim != 2 || !is_weight(table->dtype) || !ov_tensor_is_contiguous(table))
        return ov_tensor_fail(OV_EINVAL, "embedding: table '%s' %s must be [V, D] contiguous, a weight dtype",
                              nm(table), shp(table));
    if (ids->ndim != 1 || ids->dtype != OV_DTYPE_I32 || y->ndim != 2 || y->shape[0] != ids->shape[0] ||
        y->shape[1] != table->shape[1])
        return ov_tensor_fail(OV_EINVAL, "embedding: ids '%s' %s must be [N] i32, y '%s' %s [N, %lld]",
                              nm(ids), shp(ids), nm(y), shp(y), (long long)table->shape[1]);
    DISPATCH(op, embedding, y, table, ids);
}
