/* Model weights from a checkpoint: canonical-name index over safetensors/GGUF, loads onto a backend. */
#include "common/model/weights.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/fp8_scaled.h"
#include "common/model/weights_stream.h"
#include "common/rng.h"
#include "common/tensor/backend.h"
#include "common/tensor/dtype.h"

typedef struct entry {
    char *canonical; /* owned */
    size_t file_index; /* index over all parts (file order, part after part) */
} entry;

/* One file of a multi-part set (ov_weights_open_parts). */
typedef struct part {
    ov_safetensors *st;
    ov_gguf *gg;
    size_t first, count; /* global indices [first, first + count) */
} part;

struct ov_weights {
    int format;
    char *path;
    ov_safetensors *st;
    ov_gguf *gg;
    entry *entries; /* file order */
    size_t n;
    size_t *slots; /* hash table of entry index + 1 (0 = empty) */
    size_t n_slots;
    part *parts;    /* multi-part set: n_parts files (st/gg above stay NULL) */
    size_t n_parts;
    char **stored;  /* multi-part set: prefix + name as stored, per global index */
    size_t n_stored;
    uint64_t bytes_read;
    double seconds;
    ov_wstream stream; /* staging buffers of a streaming backend (weights_stream.h) */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The file holding global index i and the index inside it. */
static void locate(const ov_weights *w, size_t i, const ov_safetensors **st, const ov_gguf **gg, size_t *local) {
    *st = w->st;
    *gg = w->gg;
    *local = i;
    for (size_t k = 0; k < w->n_parts; k++) {
        if (i >= w->parts[k].first && i < w->parts[k].first + w->parts[k].count) {
            *st = w->parts[k].st;
            *gg = w->parts[k].gg;
            *local = i - w->parts[k].first;
            return;
        }
    }
}

static const char *file_name_at(const ov_weights *w, size_t i) {
    if (w->stored)
        return w->stored[i];
    if (w->st)
        return ov_st_at(w->st, i)->name;
    return ov_gguf_at(w->gg, i)->name;
}

static size_t file_count(const ov_weights *w) {
    if (w->parts)
        return w->n_stored;
    return w->st ? ov_st_count(w->st) : ov_gguf_count(w->gg);
}

static void free_index(ov_weights *w) {
    for (size_t i = 0; i < w->n; i++)
        free(w->entries[i].canonical);
    free(w->entries);
    free(w->slots);
    w->entries = NULL;
    w->slots = NULL;
    w->n = 0;
    w->n_slots = 0;
}

/* Canonical name of a stored name: fn(ctx, stored, out, cap) > 0 renamed, 0 as stored, < 0 error. */
typedef int (*rename_fn)(void *ctx, const char *stored, char *out, size_t cap);

static int table_rename(void *ctx, const char *stored, char *out, size_t cap) {
    return ov_remap_name((const ov_remap_table *)ctx, stored, out, cap);
}

static int build_index(ov_weights *w, rename_fn fn, void *ctx) {
    free_index(w);
    size_t n = file_count(w);
    w->entries = calloc(n ? n : 1, sizeof *w->entries);
    w->n_slots = 16;
    while (w->n_slots < 2 * n + 2)
        w->n_slots <<= 1;
    w->slots = calloc(w->n_slots, sizeof *w->slots);
    if (!w->entries || !w->slots)
        return ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory for %zu names", w->path, n);
    for (size_t i = 0; i < n; i++) {
        char buf[OV_WEIGHTS_NAME_MAX + 64];
        const char *fname = file_name_at(w, i);
        int r = fn ? fn(ctx, fname, buf, sizeof buf) : 0;
        if (r < 0)
            return r == OV_ERANGE
                       ? ov_tensor_fail(OV_EFORMAT, "weights %s: tensor name too long: %.80s...", w->path, fname)
                       : ov_tensor_fail(r, "weights %s: cannot rename tensor %.200s", w->path, fname);
        if (r == 0)
            snprintf(buf, sizeof buf, "%s", fname);
        w->entries[i].canonical = strdup(buf);
        w->entries[i].file_index = i;
        if (!w->entries[i].canonical)
            return ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", w->path);
        w->n = i + 1;
        size_t h = (size_t)ov_hash64(buf, strlen(buf)) & (w->n_slots - 1);
        while (w->slots[h]) {
            if (strcmp(w->entries[w->slots[h] - 1].canonical, buf) == 0)
                break; /* duplicate after remap: first one wins */
            h = (h + 1) & (w->n_slots - 1);
        }
        if (!w->slots[h])
            w->slots[h] = i + 1;
    }
    return 0;
}

static const entry *lookup(const ov_weights *w, const char *name) {
    if (!w->n_slots)
        return NULL;
    size_t h = (size_t)ov_hash64(name, strlen(name)) & (w->n_slots - 1);
    while (w->slots[h]) {
        const entry *e = &w->entries[w->slots[h] - 1];
        if (strcmp(e->canonical, name) == 0)
            return e;
        h = (h + 1) & (w->n_slots - 1);
    }
    return NULL;
}

static int is_gguf(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char m[4] = {0};
    ssize_t r = read(fd, m, 4);
    close(fd);
    return r == 4 && m[0] == 'G' && m[1] == 'G' && m[2] == 'U' && m[3] == 'F';
}

int ov_weights_open(const char *path, ov_weights **out) {
    *out = NULL;
    ov_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", path);
    }
    char err[512] = "";
    int rc;
    if (is_gguf(path)) {
        w->format = OV_WEIGHTS_GGUF;
        rc = ov_gguf_open(path, &w->gg, err, sizeof err);
    } else {
        w->format = OV_WEIGHTS_SAFETENSORS;
        rc = ov_st_open(path, &w->st, err, sizeof err);
    }
    if (rc == 0)
        rc = build_index(w, NULL, NULL);
    else
        ov_tensor_fail(rc, "%s", err[0] ? err : "cannot open checkpoint");
    if (rc) {
        ov_weights_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

void ov_weights_close(ov_weights *w) {
    if (!w)
        return;
    ov_wstream_free(&w->stream); /* before the backend closes: its host_free */
    free_index(w);
    ov_st_close(w->st);
    ov_gguf_close(w->gg);
    for (size_t k = 0; k < w->n_parts; k++) {
        ov_st_close(w->parts[k].st);
        ov_gguf_close(w->parts[k].gg);
    }
    free(w->parts);
    for (size_t i = 0; i < w->n_stored; i++)
        free(w->stored[i]);
    free(w->stored);
    free(w->path);
    free(w);
}

int ov_weights_format(const ov_weights *w) { return w->format; }
const char *ov_weights_path(const ov_weights *w) { return w->path; }
const ov_safetensors *ov_weights_st(const ov_weights *w) { return w->st; }
const ov_gguf *ov_weights_gguf(const ov_weights *w) { return w->gg; }

int ov_weights_remap(ov_weights *w, const ov_remap_table *tables, size_t n_tables, const char **layout) {
    const ov_remap_table *t = NULL;
    if (n_tables == 1) {
        t = &tables[0];
    } else if (n_tables > 1) {
        size_t n = file_count(w);
        const char **names = malloc((n ? n : 1) * sizeof *names);
        if (!names)
            return ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", w->path);
        for (size_t i = 0; i < n; i++)
            names[i] = file_name_at(w, i);
        int k = ov_remap_detect(tables, n_tables, names, n);
        free(names);
        if (k >= 0)
            t = &tables[k];
    }
    if (layout)
        *layout = t ? t->layout : "as stored";
    return build_index(w, t ? table_rename : NULL, (void *)t);
}

int ov_weights_rename(ov_weights *w, int (*fn)(void *ctx, const char *stored, char *out, size_t cap), void *ctx) {
    return build_index(w, fn, ctx);
}

int ov_weights_open_parts(const char *label, const char *const *paths, const char *const *prefixes, size_t n,
                          ov_weights **out) {
    *out = NULL;
    ov_weights *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(label ? label : (n ? paths[0] : "")))) {
        free(w);
        return ov_tensor_fail(OV_ENOMEM, "weights: out of memory");
    }
    int rc = 0;
    w->parts = calloc(n ? n : 1, sizeof *w->parts);
    if (!w->parts)
        rc = ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", w->path);
    size_t total = 0;
    for (size_t k = 0; !rc && k < n; k++) {
        char err[512] = "";
        part *pt = &w->parts[k];
        w->n_parts = k + 1;
        if (is_gguf(paths[k]))
            rc = ov_gguf_open(paths[k], &pt->gg, err, sizeof err);
        else
            rc = ov_st_open(paths[k], &pt->st, err, sizeof err);
        if (rc) {
            ov_tensor_fail(rc, "%s", err[0] ? err : "cannot open checkpoint");
            break;
        }
        if (k == 0)
            w->format = pt->gg ? OV_WEIGHTS_GGUF : OV_WEIGHTS_SAFETENSORS;
        pt->first = total;
        pt->count = pt->st ? ov_st_count(pt->st) : ov_gguf_count(pt->gg);
        total += pt->count;
    }
    if (!rc) {
        w->stored = calloc(total ? total : 1, sizeof *w->stored);
        if (!w->stored)
            rc = ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", w->path);
    }
    for (size_t k = 0; !rc && k < n; k++) {
        const part *pt = &w->parts[k];
        const char *pre = prefixes && prefixes[k] ? prefixes[k] : "";
        for (size_t i = 0; !rc && i < pt->count; i++) {
            const char *nm = pt->st ? ov_st_at(pt->st, i)->name : ov_gguf_at(pt->gg, i)->name;
            size_t len = strlen(pre) + strlen(nm) + 1;
            char *s = malloc(len);
            if (!s) {
                rc = ov_tensor_fail(OV_ENOMEM, "weights %s: out of memory", w->path);
                break;
            }
            snprintf(s, len, "%s%s", pre, nm);
            w->stored[pt->first + i] = s;
            w->n_stored = pt->first + i + 1;
        }
    }
    if (!rc)
        rc = build_index(w, NULL, NULL);
    if (rc) {
        ov_weights_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

int ov_weights_has(const ov_weights *w, const char *name) { return lookup(w, name) != NULL; }

size_t ov_weights_count(const ov_weights *w) { return w->n; }
const char *ov_weights_name_at(const ov_weights *w, size_t i) { return i < w->n ? w->entries[i].canonical : NULL; }

int ov_weights_info(const ov_weights *w, const char *name, ov_weight_info *out) {
    memset(out, 0, sizeof *out);
    const entry *e = lookup(w, name);
    if (!e)
        return ov_tensor_fail(OV_ENOENT, "%s: tensor %s not found", w->path, name);
    out->scale = 1.0f;
    const ov_safetensors *st;
    const ov_gguf *gg;
    size_t li;
    locate(w, e->file_index, &st, &gg, &li);
    if (st) {
        const ov_st_tensor *t = ov_st_at(st, li);
        if (t->n_dims > OV_TENSOR_MAX_DIMS)
            return ov_tensor_fail(OV_EUNSUPP, "%s: tensor %s has %d dims (max %d)", w->path, name, t->n_dims,
                                  OV_TENSOR_MAX_DIMS);
        out->file_name = t->name;
        out->dtype = t->dtype;
        out->ndim = t->n_dims;
        for (int i = 0; i < t->n_dims; i++)
            out->shape[i] = t->shape[i];
        out->n_bytes = t->n_bytes;
        if (t->dtype == OV_DTYPE_F8_E4M3 || t->dtype == OV_DTYPE_F8_E5M2) {
            char err[256];
            float s = 1.0f;
            int rc = ov_fp8_weight_scale(st, t->name, &s, err, sizeof err);
            if (rc)
                return ov_tensor_fail(rc, "%s", err);
            out->scale = s;
        }
    } else {
        const ov_gguf_tensor *t = ov_gguf_at(gg, li);
        out->file_name = t->name;
        out->dtype = t->dtype;
        out->ndim = t->n_dims;
        for (int i = 0; i < t->n_dims; i++)
            out->shape[i] = t->ne[t->n_dims - 1 - i];
        out->n_bytes = t->n_bytes;
    }
    return 0;
}

static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
    return buf;
}

/* Read the stored bytes of entry e into host dst (cap bytes). */
static int read_raw(ov_weights *w, const entry *e, void *dst, size_t cap) {
    char err[512] = "";
    double t0 = now_s();
    int rc;
    uint64_t nb;
    const ov_safetensors *st;
    const ov_gguf *gg;
    size_t li;
    locate(w, e->file_index, &st, &gg, &li);
    if (st) {
        const ov_st_tensor *t = ov_st_at(st, li);
        nb = t->n_bytes;
        rc = ov_st_read(st, t, dst, cap, err, sizeof err);
    } else {
        const ov_gguf_tensor *t = ov_gguf_at(gg, li);
        nb = t->n_bytes;
        rc = ov_gguf_read(gg, t, dst, cap, err, sizeof err);
    }
    w->seconds += now_s() - t0;
    if (rc)
        return ov_tensor_fail(rc, "%s", err[0] ? err : "read failed");
    w->bytes_read += nb;
    return 0;
}

/* Where entry e's bytes are: fd (-1 for an in-memory image), absolute offset, file path. */
static void source_of(const ov_weights *w, const entry *e, int *fd, uint64_t *off, const char **path) {
    const ov_safetensors *st;
    const ov_gguf *gg;
    size_t li;
    locate(w, e->file_index, &st, &gg, &li);
    if (st) {
        const ov_st_tensor *t = ov_st_at(st, li);
        *fd = ov_st_shard_fd(st, t->shard);
        *off = t->offset;
        *path = ov_st_shard_path(st, t->shard);
    } else {
        const ov_gguf_tensor *t = ov_gguf_at(gg, li);
        *fd = ov_gguf_fd(gg);
        *off = t->offset;
        *path = ov_gguf_path(gg);
    }
    if (!*path)
        *path = w->path;
}

/* The streaming path (backends with upload_async, e.g. CUDA): the stored bytes go from the
 * file through two staging buffers (weights_stream.c) straight into out, or, when a conversion
 * is asked, into a scratch of the stored dtype that ov_op_copy converts on the device (the host
 * never converts): the backend's own scratch when it offers one (CUDA), else a scratch tensor
 * counted against mem's budget while it lives. */
static int stream_load(ov_weights *w, ov_mem *mem, const entry *e, const ov_weight_info *info, int keep,
                       ov_tensor *out) {
    int fd;
    uint64_t off;
    const char *path;
    source_of(w, e, &fd, &off, &path);
    ov_tensor raw;
    memset(&raw, 0, sizeof raw);
    ov_tensor *dst = out;
    int rc = 0;
    if (!keep) {
        ov_backend *be = mem->backend;
        void *sp = NULL;
        if (be->ops->scratch) /* the backend's own scratch: no allocation, no budget, no sync */
            rc = be->ops->scratch(be, (size_t)info->n_bytes, &sp);
        if (!rc && sp)
            rc = ov_tensor_init(&raw, out->name, info->dtype, out->ndim, out->shape, sp, be);
        else if (!rc)
            rc = ov_mem_alloc_tensor(mem, &raw, out->name, info->dtype, out->ndim, out->shape);
        if (rc)
            return rc;
        raw.scale = info->scale;
        dst = &raw;
    }
    size_t nb = ov_tensor_nbytes(dst);
    if (info->n_bytes != nb) {
        rc = ov_tensor_fail(OV_EFORMAT, "%s: %s stores %llu bytes, expected %zu", w->path, out->name,
                            (unsigned long long)info->n_bytes, nb);
    } else {
        char err[512] = "";
        double t0 = now_s();
        rc = ov_wstream_copy(&w->stream, mem->backend, fd, path, off, nb, dst->data, err, sizeof err);
        if (rc && err[0])
            ov_tensor_fail(rc, "%s: %s: %s", w->path, out->name, err);
        if (!rc && !keep)
            rc = ov_op_copy(out, &raw);
        w->seconds += now_s() - t0;
        if (!rc)
            w->bytes_read += nb;
    }
    ov_mem_free_tensor(mem, &raw);
    return rc;
}

static int is_float_dtype(int dt) {
    return dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16 || dt == OV_DTYPE_F8_E4M3 ||
           dt == OV_DTYPE_F8_E5M2 || dt == OV_DTYPE_F64 || ov_dtype_is_quantized(dt);
}

int ov_weights_load(ov_weights *w, ov_mem *mem, const char *name, int want_dtype, int expect_ndim,
                    const int64_t *expect_shape, ov_tensor *out) {
    memset(out, 0, sizeof *out);
    ov_weight_info info;
    int rc = ov_weights_info(w, name, &info);
    if (rc)
        return rc;
    int relaxed = 0;
    if (expect_ndim > 0) {
        int same = info.ndim == expect_ndim;
        for (int i = 0; same && i < expect_ndim; i++)
            same = info.shape[i] == expect_shape[i];
        if (!same && expect_ndim <= OV_TENSOR_MAX_DIMS) {
            /* Equal up to trailing size-1 dims (a Linear [C, C] stored for a 1x1 conv [C, C, 1, 1], as
             * diffusers saves the VAE attention): the same bytes, loaded in the shape the model needs. */
            int a = info.ndim, b = expect_ndim;
            while (a > 0 && info.shape[a - 1] == 1)
                a--;
            while (b > 0 && expect_shape[b - 1] == 1)
                b--;
            same = relaxed = a == b && a > 0;
            for (int i = 0; same && i < a; i++)
                same = relaxed = info.shape[i] == expect_shape[i];
        }
        if (!same) {
            char a[96], b[96];
            return ov_tensor_fail(OV_EFORMAT, "%s: %s has shape %s but the model needs %s", w->path, name,
                                  shape_str(a, sizeof a, info.ndim, info.shape),
                                  shape_str(b, sizeof b, expect_ndim, expect_shape));
        }
    }
    if (want_dtype == OV_WEIGHTS_DTYPE_ACT) {
        /* 16/32-bit float weights in the backend's 16-bit activation dtype (converted once here,
         * not by every op call); fp8, quantised and integer tensors, and every tensor on a backend
         * computing in f32, stay as stored */
        const int act = mem->backend->act_dtype;
        const int plain = info.dtype == OV_DTYPE_F32 || info.dtype == OV_DTYPE_F16 || info.dtype == OV_DTYPE_BF16;
        want_dtype = plain && (act == OV_DTYPE_F16 || act == OV_DTYPE_BF16) ? act : -1;
    }
    int keep = want_dtype < 0 || want_dtype == info.dtype;
    if (!keep) {
        if (want_dtype != OV_DTYPE_F32 && want_dtype != OV_DTYPE_F16 && want_dtype != OV_DTYPE_BF16)
            return ov_tensor_fail(OV_EUNSUPP, "%s: %s: cannot convert to %s", w->path, name,
                                  ov_dtype_name(want_dtype));
        if (!is_float_dtype(info.dtype))
            return ov_tensor_fail(OV_EUNSUPP, "%s: %s is %s, not a float tensor", w->path, name,
                                  ov_dtype_name(info.dtype));
    }
    int dt = keep ? info.dtype : want_dtype;
    int ndim = info.ndim ? info.ndim : 1;
    int64_t shape[OV_TENSOR_MAX_DIMS];
    for (int i = 0; i < OV_TENSOR_MAX_DIMS; i++)
        shape[i] = i < info.ndim ? info.shape[i] : 1;
    if (relaxed) {
        ndim = expect_ndim;
        for (int i = 0; i < OV_TENSOR_MAX_DIMS; i++)
            shape[i] = i < expect_ndim ? expect_shape[i] : 1;
    }
    rc = ov_mem_alloc_tensor(mem, out, name, dt, ndim, shape);
    if (rc)
        return rc;
    out->scale = keep ? info.scale : 1.0f;
    size_t out_bytes = ov_tensor_nbytes(out);
    int on_host = mem->backend->kind == OV_BACKEND_CPU;
    if (!on_host && ov_backend_can_stream(mem->backend) && info.dtype != OV_DTYPE_F64) {
        const entry *e = lookup(w, name);
        int fd;
        uint64_t off;
        const char *path;
        source_of(w, e, &fd, &off, &path);
        /* no staging buffers (pinned memory refused): the plain path below */
        if (fd >= 0 && ov_wstream_prepare(&w->stream, mem->backend) == 0) {
            rc = stream_load(w, mem, e, &info, keep, out);
            if (rc)
                ov_mem_free_tensor(mem, out);
            return rc;
        }
    }
    if (keep && on_host) {
        if (info.n_bytes != out_bytes) {
            ov_mem_free_tensor(mem, out);
            return ov_tensor_fail(OV_EFORMAT, "%s: %s stores %llu bytes, expected %zu", w->path, name,
                                  (unsigned long long)info.n_bytes, out_bytes);
        }
        rc = read_raw(w, lookup(w, name), out->data, out_bytes);
        if (rc)
            ov_mem_free_tensor(mem, out);
        return rc;
    }
    /* Through a host buffer: read, convert if asked, upload. */
    void *raw = malloc(info.n_bytes ? info.n_bytes : 1);
    if (!raw) {
        ov_mem_free_tensor(mem, out);
        return ov_tensor_fail(OV_ENOMEM, "%s: %s: no host memory for %llu bytes", w->path, name,
                              (unsigned long long)info.n_bytes);
    }
    rc = read_raw(w, lookup(w, name), raw, info.n_bytes);
    void *src = raw;
    void *conv = NULL;
    if (!rc && !keep) {
        int64_t n = ov_tensor_nelem(out);
        float *f = malloc((size_t)n * sizeof *f);
        conv = dt == OV_DTYPE_F32 ? (void *)f : malloc(out_bytes);
        if (!f || !conv) {
            rc = ov_tensor_fail(OV_ENOMEM, "%s: %s: no host memory to convert", w->path, name);
        } else {
            rc = ov_dtype_to_f32(info.dtype, raw, f, n);
            if (rc)
                ov_tensor_fail(rc, "%s: %s: cannot convert %s", w->path, name, ov_dtype_name(info.dtype));
            if (!rc && info.scale != 1.0f)
                for (int64_t i = 0; i < n; i++)
                    f[i] *= info.scale;
            if (!rc && dt != OV_DTYPE_F32) {
                rc = ov_dtype_from_f32(dt, f, conv, n);
                if (rc)
                    ov_tensor_fail(rc, "%s: %s: cannot convert to %s", w->path, name, ov_dtype_name(dt));
            }
        }
        if (dt != OV_DTYPE_F32)
            free(f);
        src = conv;
    } else if (!rc && info.n_bytes != out_bytes) {
        rc = ov_tensor_fail(OV_EFORMAT, "%s: %s stores %llu bytes, expected %zu", w->path, name,
                            (unsigned long long)info.n_bytes, out_bytes);
    }
    if (!rc)
        rc = ov_tensor_upload(out, src, out_bytes);
    free(conv);
    free(raw);
    if (rc)
        ov_mem_free_tensor(mem, out);
    return rc;
}

int ov_weights_read_f32(ov_weights *w, const char *name, float *dst, int64_t n) {
    ov_weight_info info;
    int rc = ov_weights_info(w, name, &info);
    if (rc)
        return rc;
    int64_t cnt = 1;
    for (int i = 0; i < info.ndim; i++)
        cnt *= info.shape[i];
    if (cnt != n)
        return ov_tensor_fail(OV_EINVAL, "%s: %s has %lld elements, caller expects %lld", w->path, name,
                              (long long)cnt, (long long)n);
    void *raw = malloc(info.n_bytes ? info.n_bytes : 1);
    if (!raw)
        return ov_tensor_fail(OV_ENOMEM, "%s: %s: no host memory", w->path, name);
    rc = read_raw(w, lookup(w, name), raw, info.n_bytes);
    if (!rc) {
        rc = ov_dtype_to_f32(info.dtype, raw, dst, n);
        if (rc)
            ov_tensor_fail(rc, "%s: %s: cannot convert %s to f32", w->path, name, ov_dtype_name(info.dtype));
    }
    if (!rc && info.scale != 1.0f)
        for (int64_t i = 0; i < n; i++)
            dst[i] *= info.scale;
    free(raw);
    return rc;
}

uint64_t ov_weights_bytes_read(const ov_weights *w) { return w->bytes_read; }
double ov_weights_seconds(const ov_weights *w) { return w->seconds; }
