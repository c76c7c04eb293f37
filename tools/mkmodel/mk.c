/* ourvidz-mkmodel: spec lists, deterministic fills and the streaming safetensors writer. */
#include "tools/mkmodel/mk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/formats/safetensors.h"
#include "common/rng.h"
#include "common/tensor/dtype.h"

void ov_mk_list_init(ov_mk_list *l) { memset(l, 0, sizeof *l); }

void ov_mk_list_free(ov_mk_list *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int vadd(ov_mk_list *l, int init, float mean, float std, int ndim, const int64_t *shape, const char *fmt,
                va_list ap) {
    if (ndim < 0 || ndim > 4)
        return OV_EINVAL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        ov_mk_spec *v = realloc(l->v, nc * sizeof *v);
        if (!v)
            return OV_ENOMEM;
        l->v = v;
        l->cap = nc;
    }
    ov_mk_spec *s = &l->v[l->n];
    memset(s, 0, sizeof *s);
    int k = vsnprintf(s->name, sizeof s->name, fmt, ap);
    if (k < 0 || (size_t)k >= sizeof s->name)
        return OV_ERANGE;
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s->shape[i] = shape[i];
    s->init = init;
    s->mean = mean;
    s->std = std;
    l->n++;
    return 0;
}

int ov_mk_add(ov_mk_list *l, int init, float mean, float std, int ndim, const int64_t *shape, const char *fmt,
              ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(l, init, mean, std, ndim, shape, fmt, ap);
    va_end(ap);
    return rc;
}

int ov_mk_weight(ov_mk_list *l, float std, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...) {
    int64_t shape[4] = {d0, d1, d2, d3};
    int ndim = 0;
    while (ndim < 4 && shape[ndim] > 0)
        ndim++;
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(l, OV_MK_NORMAL, 0.0f, std, ndim, shape, fmt, ap);
    va_end(ap);
    return rc;
}

int ov_mk_gain(ov_mk_list *l, int64_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(l, OV_MK_NORMAL, 1.0f, 0.1f, 1, &n, fmt, ap);
    va_end(ap);
    return rc;
}

int ov_mk_bias(ov_mk_list *l, int64_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vadd(l, OV_MK_NORMAL, 0.0f, 0.02f, 1, &n, fmt, ap);
    va_end(ap);
    return rc;
}

int64_t ov_mk_nelem(const ov_mk_spec *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->shape[i];
    return n;
}

void ov_mk_fill(const ov_mk_spec *s, uint64_t seed, float *dst, int64_t n) {
    if (s->init == OV_MK_CONST) {
        for (int64_t i = 0; i < n; i++)
            dst[i] = s->mean;
        return;
    }
    ov_rng r;
    ov_rng_seed(&r, seed ^ ov_hash64(s->name, strlen(s->name)));
    ov_rng_fill_normal(&r, dst, (size_t)n, s->mean, s->std);
}

int ov_mk_write_safetensors(const ov_mk_list *l, const char *path, int dtype, uint64_t seed,
                            const char *const *meta_kv, size_t n_meta, char *err, size_t err_cap) {
    if (dtype != OV_DTYPE_F32 && dtype != OV_DTYPE_F16 && dtype != OV_DTYPE_BF16) {
        snprintf(err, err_cap, "mkmodel: dtype %s not writable (f32, f16, bf16)", ov_dtype_name(dtype));
        return OV_EINVAL;
    }
    ov_st_wtensor *wt = calloc(l->n ? l->n : 1, sizeof *wt);
    if (!wt) {
        snprintf(err, err_cap, "mkmodel: out of memory");
        return OV_ENOMEM;
    }
    int64_t max_n = 1;
    for (size_t i = 0; i < l->n; i++) {
        wt[i].name = l->v[i].name;
        wt[i].dtype = dtype;
        wt[i].n_dims = l->v[i].ndim;
        wt[i].shape = l->v[i].shape;
        wt[i].data = NULL;
        int64_t n = ov_mk_nelem(&l->v[i]);
        if (n > max_n)
            max_n = n;
    }
    ov_st_writer *w = NULL;
    int rc = ov_st_writer_begin(path, wt, l->n, meta_kv, n_meta, &w, err, err_cap);
    float *f = rc ? NULL : malloc((size_t)max_n * sizeof *f);
    void *conv = rc ? NULL : malloc((size_t)max_n * 4);
    if (!rc && (!f || !conv)) {
        snprintf(err, err_cap, "mkmodel: out of memory for a %lld-element tensor", (long long)max_n);
        rc = OV_ENOMEM;
        ov_st_writer_abort(w);
        w = NULL;
    }
    for (size_t i = 0; !rc && i < l->n; i++) {
        int64_t n = ov_mk_nelem(&l->v[i]);
        ov_mk_fill(&l->v[i], seed, f, n);
        const void *bytes = f;
        if (dtype != OV_DTYPE_F32) {
            ov_dtype_from_f32(dtype, f, conv, n);
            bytes = conv;
        }
        rc = ov_st_writer_data(w, bytes, ov_dtype_row_bytes(dtype, n));
        if (rc) {
            snprintf(err, err_cap, "mkmodel: %s: write failed for %s", path, l->v[i].name);
            ov_st_writer_abort(w);
            w = NULL;
        }
    }
    if (!rc)
        rc = ov_st_writer_finish(w, err, err_cap);
    free(f);
    free(conv);
    free(wt);
    return rc;
}

int ov_mk_mkdirs(const char *path) {
    char buf[1024];
    int k = snprintf(buf, sizeof buf, "%s", path);
    if (k < 0 || (size_t)k >= sizeof buf) {
        fprintf(stderr, "mkmodel: path too long: %s\n", path);
        return OV_ERANGE;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "mkmodel: cannot create %s: %s\n", buf, strerror(errno));
            return OV_EIO;
        }
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mkmodel: cannot create %s: %s\n", buf, strerror(errno));
        return OV_EIO;
    }
    return 0;
}
