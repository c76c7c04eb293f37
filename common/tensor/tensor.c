/* Tensor headers: init, sizes, contiguity, reshape/permute/slice views, thread-local op errors. */
#include "common/tensor/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

static _Thread_local char g_err[OV_TENSOR_ERR_LEN];

const char *ov_tensor_last_error(void)
{
    return g_err;
}

int ov_tensor_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    ov_log(OV_LOG_DEBUG, "tensor_error", "code=%s msg=\"%s\"", ov_errname(code), g_err);
    return code;
}

static void set_name(ov_tensor *t, const char *name)
{
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}

ov_tensor *ov_tensor_set_name(ov_tensor *t, const char *name)
{
    set_name(t, name);
    return t;
}

static void contiguous_strides(ov_tensor *t)
{
    int64_t s = 1;
    for (int i = OV_TENSOR_MAX_DIMS - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

int ov_tensor_init(ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape, void *data,
                   struct ov_backend *backend)
{
    memset(t, 0, sizeof *t);
    set_name(t, name);
    if (ndim < 0 || ndim > OV_TENSOR_MAX_DIMS || (ndim > 0 && !shape))
        return ov_tensor_fail(OV_EINVAL, "tensor '%s': rank %d out of range 0..%d", t->name, ndim,
                              OV_TENSOR_MAX_DIMS);
    if (!ov_dtype_name(dtype))
        return ov_tensor_fail(OV_EINVAL, "tensor '%s': invalid dtype %d", t->name, dtype);
    t->dtype = dtype;
    t->ndim = ndim;
    t->scale = 1.0f;
    t->data = data;
    t->backend = backend;
    int64_t n = 1;
    for (int i = 0; i < OV_TENSOR_MAX_DIMS; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        if (t->shape[i] < 0)
            return ov_tensor_fail(OV_EINVAL, "tensor '%s': negative dim %d (%lld)", t->name, i,
                                  (long long)t->shape[i]);
        if (t->shape[i] && n > INT64_MAX / 8 / t->shape[i])
            return ov_tensor_fail(OV_EINVAL, "tensor '%s': element count overflows", t->name);
        n *= t->shape[i];
    }
    /* dims past ndim are 1 (kept at the end so the strides of real dims stay right) */
    if (ndim < OV_TENSOR_MAX_DIMS) {
        int64_t s = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            t->stride[i] = s;
            s *= t->shape[i];
        }
        for (int i = ndim; i < OV_TENSOR_MAX_DIMS; i++)
            t->stride[i] = 1;
    } else {
        contiguous_strides(t);
    }
    size_t blk = ov_dtype_block_elems(dtype);
    if (blk > 1 && (ndim == 0 || t->shape[ndim - 1] % (int64_t)blk))
        return ov_tensor_fail(OV_EINVAL, "tensor '%s': %s needs a last dim that is a multiple of %zu",
                              t->name, ov_dtype_name(dtype), blk);
    return 0;
}

int64_t ov_tensor_nelem(const ov_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t ov_tensor_elem_offset_bytes(int dtype, int64_t elem)
{
    size_t blk = ov_dtype_block_elems(dtype);
    if (!blk)
        return 0;
    return (size_t)(elem / (int64_t)blk) * ov_dtype_block_bytes(dtype);
}

size_t ov_tensor_nbytes(const ov_tensor *t)
{
    return ov_tensor_elem_offset_bytes(t->dtype, ov_tensor_nelem(t));
}

int ov_tensor_is_contiguous(const ov_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1)
            continue;
        if (t->stride[i] != s)
            return 0;
        s *= t->shape[i];
    }
    return 1;
}

int ov_tensor_same_shape(const ov_tensor *a, const ov_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const char *ov_tensor_shape_str(const ov_tensor *t, char *buf, size_t n)
{
    size_t o = 0;
    if (!n)
        return buf;
    buf[0] = '\0';
    int w = snprintf(buf, n, "[");
    o = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < t->ndim && o < n; i++) {
        w = snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        o += w > 0 ? (size_t)w : 0;
    }
    if (o < n) {
        const char *dn = ov_dtype_name(t->dtype);
        snprintf(buf + o, n - o, "] %s", dn ? dn : "?");
    }
    return buf;
}

/* Views of quantised tensors keep their last dim whole and contiguous (blocks are indivisible). */
int ov_tensor_reshape(ov_tensor *out, const ov_tensor *t, int ndim, const int64_t *shape)
{
    char sb[96];
    if (ndim < 0 || ndim > OV_TENSOR_MAX_DIMS || (ndim > 0 && !shape))
        return ov_tensor_fail(OV_EINVAL, "reshape: '%s' rank %d out of range", t->name, ndim);
    if (!ov_tensor_is_contiguous(t))
        return ov_tensor_fail(OV_EINVAL, "reshape: '%s' %s is not contiguous (copy it first)", t->name,
                              ov_tensor_shape_str(t, sb, sizeof sb));
    int64_t want = ov_tensor_nelem(t), known = 1;
    int infer = -1;
    int64_t s[OV_TENSOR_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            if (infer >= 0)
                return ov_tensor_fail(OV_EINVAL, "reshape: '%s' more than one -1 dim", t->name);
            infer = i;
        } else if (s[i] < 0) {
            return ov_tensor_fail(OV_EINVAL, "reshape: '%s' negative dim %lld", t->name, (long long)s[i]);
        } else {
            known *= s[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || want % known)
            return ov_tensor_fail(OV_EINVAL, "reshape: '%s' %s cannot infer a dim", t->name,
                                  ov_tensor_shape_str(t, sb, sizeof sb));
        s[infer] = want / known;
        known = want;
    }
    if (known != want)
        return ov_tensor_fail(OV_EINVAL, "reshape: '%s' %s has %lld elements, new shape %lld", t->name,
                              ov_tensor_shape_str(t, sb, sizeof sb), (long long)want, (long long)known);
    ov_tensor r;
    int rc = ov_tensor_init(&r, t->name, t->dtype, ndim, s, t->data, t->backend);
    if (rc)
        return rc;
    r.scale = t->scale;
    r.flags = t->flags & ~OV_TENSOR_OWNED;
    *out = r;
    return 0;
}

int ov_tensor_permute(ov_tensor *out, const ov_tensor *t, const int *perm)
{
    int seen[OV_TENSOR_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]]++)
            return ov_tensor_fail(OV_EINVAL, "permute: '%s' invalid permutation for rank %d", t->name,
                                  t->ndim);
    }
    if (ov_dtype_is_quantized(t->dtype) && t->ndim > 0 && perm[t->ndim - 1] != t->ndim - 1)
        return ov_tensor_fail(OV_EINVAL, "permute: '%s' is %s; its last dim cannot move", t->name,
                              ov_dtype_name(t->dtype));
    ov_tensor r = *t;
    for (int i = 0; i < t->ndim; i++) {
        r.shape[i] = t->shape[perm[i]];
        r.stride[i] = t->stride[perm[i]];
    }
    r.flags &= ~OV_TENSOR_OWNED;
    *out = r;
    return 0;
}

int ov_tensor_slice(ov_tensor *out, const ov_tensor *t, int dim, int64_t start, int64_t len)
{
    char sb[96];
    if (dim < 0 || dim >= t->ndim || start < 0 || len < 0 || start > t->shape[dim] ||
        len > t->shape[dim] - start)
        return ov_tensor_fail(OV_EINVAL, "slice: '%s' %s dim %d [%lld, +%lld) out of range", t->name,
                              ov_tensor_shape_str(t, sb, sizeof sb), dim, (long long)start, (long long)len);
    int q = ov_dtype_is_quantized(t->dtype);
    if (q && dim == t->ndim - 1 && (start != 0 || len != t->shape[dim]))
        return ov_tensor_fail(OV_EINVAL, "slice: '%s' is %s; its last dim cannot be cut", t->name,
                              ov_dtype_name(t->dtype));
    ov_tensor r = *t;
    r.shape[dim] = len;
    int64_t off = start * t->stride[dim];
    if (t->data) {
        if (q)
            r.data = (uint8_t *)t->data + ov_tensor_elem_offset_bytes(t->dtype, off);
        else
            r.data = (uint8_t *)t->data + (size_t)off * ov_dtype_block_bytes(t->dtype);
    }
    r.flags &= ~OV_TENSOR_OWNED;
    *out = r;
    return 0;
}
