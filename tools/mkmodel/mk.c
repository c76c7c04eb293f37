/* ourvidz-mkmodel: spec lists, deterministic fills and the streaming safetensors writer. */
#include "tools/mkmodel/mk.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    if (l->err)
        return l->err;
    if (ndim < 0 || ndim > 4)
        return l->err = OV_EINVAL;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 256;
        ov_mk_spec *v = realloc(l->v, nc * sizeof *v);
        if (!v)
            return l->err = OV_ENOMEM;
        l->v = v;
        l->cap = nc;
    }
    ov_mk_spec *s = &l->v[l->n];
    memset(s, 0, sizeof *s);
    int k = vsnprintf(s->name, sizeof s->name, fmt, ap);
    if (k < 0 || (size_t)k >= sizeof s->name)
        return l->err = OV_ERANGE;
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

/* "<fmt...>" into buf; OV_ERANGE (remembered in l) when it does not fit. */
static int vname(ov_mk_list *l, char *buf, size_t cap, const char *fmt, va_list ap) {
    if (l->err)
        return l->err;
    int k = vsnprintf(buf, cap, fmt, ap);
    return k < 0 || (size_t)k >= cap ? (l->err = OV_ERANGE) : 0;
}

int ov_mk_linear(ov_mk_list *l, float std, int64_t out, int64_t in, const char *fmt, ...) {
    char name[OV_MK_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(l, name, sizeof name, fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    ov_mk_weight(l, std, out, in, 0, 0, "%s.weight", name);
    return ov_mk_bias(l, out, "%s.bias", name);
}

int ov_mk_norm(ov_mk_list *l, int64_t n, const char *fmt, ...) {
    char name[OV_MK_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vname(l, name, sizeof name, fmt, ap);
    va_end(ap);
    if (rc)
        return rc;
    ov_mk_gain(l, n, "%s.weight", name);
    return ov_mk_bias(l, n, "%s.bias", name);
}

int64_t ov_mk_nelem(const ov_mk_spec *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->shape[i];
    return n;
}

static int mk_threads(void);

/* Tensors of at least FILL_SPLIT elements (full-size presets only: every tiny and test model stays
 * below, the largest being tiny-q4k's 39 M-element embedding, whose golden logits pin its bytes) are
 * filled in FILL_CHUNK pieces, each from its own stream, by up to mk_threads() threads:
 * a 7B model's 545 M-element embedding took 11+ s on one thread and held up the ordered writer. */
#define FILL_SPLIT ((int64_t)1 << 26)
#define FILL_CHUNK ((int64_t)1 << 22)

typedef struct fill_job {
    const ov_mk_spec *s;
    uint64_t base;
    float *dst;
    int64_t n, nchunk;
    pthread_mutex_t mu;
    int64_t next;
} fill_job;

static void fill_chunk(const fill_job *f, int64_t c) {
    ov_rng r;
    int64_t lo = c * FILL_CHUNK, cnt = f->n - lo < FILL_CHUNK ? f->n - lo : FILL_CHUNK;
    ov_rng_seed(&r, f->base ^ (0x9E3779B97F4A7C15ull * (uint64_t)(c + 1)));
    ov_rng_fill_normal(&r, f->dst + lo, (size_t)cnt, f->s->mean, f->s->std);
}

static void *fill_worker(void *arg) {
    fill_job *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        int64_t c = f->next++;
        pthread_mutex_unlock(&f->mu);
        if (c >= f->nchunk)
            return NULL;
        fill_chunk(f, c);
    }
}

void ov_mk_fill(const ov_mk_spec *s, uint64_t seed, float *dst, int64_t n) {
    if (s->init == OV_MK_CONST) {
        for (int64_t i = 0; i < n; i++)
            dst[i] = s->mean;
        return;
    }
    const uint64_t base = seed ^ ov_hash64(s->name, strlen(s->name));
    if (n < FILL_SPLIT) {
        ov_rng r;
        ov_rng_seed(&r, base);
        ov_rng_fill_normal(&r, dst, (size_t)n, s->mean, s->std);
        return;
    }
    fill_job f = {.s = s, .base = base, .dst = dst, .n = n, .nchunk = (n + FILL_CHUNK - 1) / FILL_CHUNK};
    pthread_mutex_init(&f.mu, NULL);
    pthread_t tid[64];
    int nt = mk_threads() - 1, started = 0;
    for (; started < nt && started < 64; started++)
        if (pthread_create(&tid[started], NULL, fill_worker, &f) != 0)
            break;
    fill_worker(&f); /* this thread too; with none started it does every chunk */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&f.mu);
}

int ov_mk_write_safetensors(const ov_mk_list *l, const char *path, int dtype, uint64_t seed,
                            const char *const *meta_kv, size_t n_meta, char *err, size_t err_cap) {
    return ov_mk_write_safetensors_fp8(l, path, dtype, seed, meta_kv, n_meta, NULL, err, err_cap);
}

/* Growable string for the _quantization_metadata JSON. */
typedef struct mk_buf {
    char *s;
    size_t n, cap;
} mk_buf;

static int buf_add(mk_buf *b, const char *a, const char *c) {
    size_t na = strlen(a), nc = c ? strlen(c) : 0;
    if (b->n + na + nc + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + na + nc + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s)
            return OV_ENOMEM;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->n, a, na);
    if (nc)
        memcpy(b->s + b->n + na, c, nc);
    b->n += na + nc;
    b->s[b->n] = 0;
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Per-tensor e4m3 quantisation as ComfyUI's fp8-scaled converters do it: scale = max|w| / 448,
 * q = e4m3(w / scale) (round to nearest even, saturating). Returns the scale. */
static float quant_e4m3(const float *w, int64_t n, uint8_t *q) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = w[i] < 0 ? -w[i] : w[i];
        if (a > amax)
            amax = a;
    }
    float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
    for (int64_t i = 0; i < n; i++)
        q[i] = ov_f32_to_f8_e4m3(w[i] / scale);
    return scale;
}

/* One tensor's fill + conversion in a slot of the writer's queue (mk_queue). A slot's buffers
 * outlive its tensor: the slot's next tensor reuses them (grown when too small), so a big
 * checkpoint does not fault in and unmap fresh pages for every tensor. */
typedef struct mk_job {
    const ov_mk_spec *spec;
    uint64_t seed;
    int dtype, sel, rc;
    float *f;
    void *conv;
    size_t f_cap, conv_cap; /* bytes */
    const void *bytes;
    size_t nb;
    float scale;
} mk_job;

/* Grow *buf to at least `need` bytes (contents dropped); large buffers ask for huge pages. */
static int mk_grow(void **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return 0;
    free(*buf);
    *cap = 0;
    size_t sz = (need + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    if (posix_memalign(buf, (size_t)2 << 20, sz) != 0) {
        *buf = NULL;
        return OV_ENOMEM;
    }
#ifdef MADV_HUGEPAGE
    madvise(*buf, sz, MADV_HUGEPAGE); /* advisory: fewer page faults on a multi-GB fill */
#endif
    *cap = sz;
    return 0;
}

static void *mk_job_run(void *arg) {
    mk_job *j = arg;
    int64_t n = ov_mk_nelem(j->spec);
    size_t n1 = (size_t)(n ? n : 1);
    if (mk_grow((void **)&j->f, &j->f_cap, n1 * sizeof *j->f)) {
        j->rc = OV_ENOMEM;
        return NULL;
    }
    ov_mk_fill(j->spec, j->seed, j->f, n);
    j->bytes = j->f;
    j->nb = ov_dtype_row_bytes(j->dtype, n);
    j->scale = 1.0f;
    if (j->sel || j->dtype != OV_DTYPE_F32) {
        if (mk_grow(&j->conv, &j->conv_cap, n1 * (j->sel ? 1 : 2))) {
            j->rc = OV_ENOMEM;
            return NULL;
        }
        if (j->sel) {
            j->scale = quant_e4m3(j->f, n, j->conv);
            j->nb = (size_t)n;
        } else {
            ov_dtype_from_f32(j->dtype, j->f, j->conv, n);
        }
        j->bytes = j->conv;
    }
    return NULL;
}

/* Fill threads: OURVIDZ_MK_THREADS, else the online CPUs (1..64). */
static int mk_threads(void) {
    const char *e = getenv("OURVIDZ_MK_THREADS");
    long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* The ordered work queue of the writer: `nthr` fill threads claim tensors in list order into a
 * ring of `nslot` slots (tensor i uses slot i % nslot once tensor i - nslot is written); the
 * calling thread writes them in order. */
typedef struct mk_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const ov_mk_list *l;
    const unsigned char *sel; /* per tensor: fp8 (NULL: none) */
    uint64_t seed;
    int dtype, nslot, abort;
    size_t next;     /* next tensor to claim */
    size_t written;  /* tensors written (in order) */
    mk_job *slot;    /* [nslot] */
    long *slot_idx;  /* tensor in the slot, -1 free */
    int *slot_done;  /* filled */
} mk_queue;

static void *mk_worker(void *arg) {
    mk_queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        size_t i = q->next;
        if (q->abort || i >= q->l->n) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->next++;
        int s = (int)(i % (size_t)q->nslot);
        /* tensor i's turn for slot s comes once tensor i - nslot is written (waiting for the slot to be
         * merely free would let a later tensor of the same slot take it first: deadlock) */
        while (!q->abort && i >= q->written + (size_t)q->nslot)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->abort) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->slot_idx[s] = (long)i;
        q->slot_done[s] = 0;
        mk_job *j = &q->slot[s];
        j->rc = 0;
        j->spec = &q->l->v[i];
        j->seed = q->seed;
        j->dtype = q->dtype;
        j->sel = q->sel ? q->sel[i] : 0;
        pthread_mutex_unlock(&q->mu);
        mk_job_run(j);
        pthread_mutex_lock(&q->mu);
        q->slot_done[s] = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
}

int ov_mk_write_safetensors_fp8(const ov_mk_list *l, const char *path, int dtype, uint64_t seed,
                                const char *const *meta_kv, size_t n_meta, const ov_mk_fp8_opts *fp8, char *err,
                                size_t err_cap) {
    if (dtype != OV_DTYPE_F32 && dtype != OV_DTYPE_F16 && dtype != OV_DTYPE_BF16) {
        snprintf(err, err_cap, "mkmodel: dtype %s not writable (f32, f16, bf16)", ov_dtype_name(dtype));
        return OV_EINVAL;
    }
    int layout = fp8 && fp8->select ? fp8->layout : OV_MK_FP8_NONE;
    if (layout != OV_MK_FP8_NONE && layout != OV_MK_FP8_LEGACY && layout != OV_MK_FP8_QUANT) {
        snprintf(err, err_cap, "mkmodel: unknown fp8 layout %d", layout);
        return OV_EINVAL;
    }
    size_t n_sel = 0;
    for (size_t i = 0; layout && i < l->n; i++) {
        if (!fp8->select[i])
            continue;
        if (!ends_with(l->v[i].name, ".weight")) {
            snprintf(err, err_cap, "mkmodel: fp8 tensor %s: name must end in .weight", l->v[i].name);
            return OV_EINVAL;
        }
        n_sel++;
    }
    int marker = layout == OV_MK_FP8_LEGACY && fp8->marker;
    int with_scales = layout && !fp8->omit_scales;
    size_t n_out = l->n + (with_scales ? n_sel : 0) + (size_t)marker;
    ov_st_wtensor *wt = calloc(n_out ? n_out : 1, sizeof *wt);
    char(*snames)[OV_MK_NAME_MAX + 16] = calloc(n_sel ? n_sel : 1, sizeof *snames);
    const char **meta = calloc(2 * n_meta + 2, sizeof *meta);
    mk_buf qm = {0};
    static const int64_t k_marker_shape[1] = {0}, k_bad_shape[1] = {2};
    int rc = wt && snames && meta ? 0 : OV_ENOMEM;
    size_t k = 0, si = 0;
    if (!rc && marker) {
        wt[k].name = fp8->marker;
        wt[k].dtype = OV_DTYPE_F8_E4M3;
        wt[k].n_dims = 1;
        wt[k].shape = k_marker_shape;
        k++;
    }
    if (!rc && layout == OV_MK_FP8_QUANT)
        rc = buf_add(&qm, "{\"format_version\": \"1.0\", \"layers\": {", NULL);
    for (size_t i = 0; !rc && i < l->n; i++) {
        const ov_mk_spec *s = &l->v[i];
        int sel = layout && fp8->select[i];
        wt[k].name = s->name;
        wt[k].dtype = sel ? OV_DTYPE_F8_E4M3 : dtype;
        wt[k].n_dims = s->ndim;
        wt[k].shape = s->shape;
        k++;
        if (!sel)
            continue;
        size_t base = strlen(s->name) - 7; /* without ".weight" */
        if (!with_scales)
            continue;
        snprintf(snames[si], sizeof snames[si], "%.*s%s", (int)base, s->name,
                 layout == OV_MK_FP8_LEGACY ? ".scale_weight" : ".weight_scale");
        int bad = fp8->bad_scale && strcmp(fp8->bad_scale, s->name) == 0;
        wt[k].name = snames[si];
        wt[k].dtype = OV_DTYPE_F32;
        wt[k].n_dims = bad ? 1 : 0;
        wt[k].shape = bad ? k_bad_shape : NULL;
        k++;
        if (layout == OV_MK_FP8_QUANT) {
            char layer[OV_MK_NAME_MAX];
            snprintf(layer, sizeof layer, "%.*s", (int)base, s->name);
            rc = buf_add(&qm, si ? ", \"" : "\"", layer);
            if (!rc)
                rc = buf_add(&qm, "\": {\"format\": \"float8_e4m3fn\"}", NULL);
        }
        si++;
    }
    if (!rc && layout == OV_MK_FP8_QUANT)
        rc = buf_add(&qm, "}}", NULL);
    if (rc) {
        snprintf(err, err_cap, "mkmodel: out of memory");
        free(wt);
        free(snames);
        free(meta);
        free(qm.s);
        return rc;
    }
    size_t nm = 0;
    for (; nm < 2 * n_meta; nm++)
        meta[nm] = meta_kv[nm];
    if (layout == OV_MK_FP8_QUANT) {
        meta[nm++] = "_quantization_metadata";
        meta[nm++] = qm.s;
    }
    ov_st_writer *w = NULL;
    rc = ov_st_writer_begin(path, wt, n_out, meta, nm / 2, &w, err, err_cap);
    /* Tensors are filled (and converted) by mk_threads() threads through an ordered queue
     * (mk_queue) and written in list order: every tensor's values come from its own seeded
     * generator, so the file is byte-identical to a one-thread run. */
    int nthr = mk_threads();
    mk_queue q;
    memset(&q, 0, sizeof q);
    q.l = l;
    q.seed = seed;
    q.dtype = dtype;
    q.nslot = 2 * nthr;
    unsigned char *selv = NULL;
    pthread_t *tids = NULL;
    int started = 0;
    if (!rc) {
        q.slot = calloc((size_t)q.nslot, sizeof *q.slot);
        q.slot_idx = malloc((size_t)q.nslot * sizeof *q.slot_idx);
        q.slot_done = calloc((size_t)q.nslot, sizeof *q.slot_done);
        tids = calloc((size_t)nthr, sizeof *tids);
        selv = layout ? calloc(l->n ? l->n : 1, 1) : NULL;
        if (!q.slot || !q.slot_idx || !q.slot_done || !tids || (layout && !selv)) {
            snprintf(err, err_cap, "mkmodel: out of memory");
            rc = OV_ENOMEM;
            ov_st_writer_abort(w);
            w = NULL;
        }
    }
    if (!rc) {
        for (int t = 0; t < q.nslot; t++)
            q.slot_idx[t] = -1;
        for (size_t i = 0; layout && i < l->n; i++)
            selv[i] = fp8->select[i] ? 1 : 0;
        q.sel = selv;
        pthread_mutex_init(&q.mu, NULL);
        pthread_cond_init(&q.cv, NULL);
        for (; started < nthr; started++)
            if (pthread_create(&tids[started], NULL, mk_worker, &q) != 0)
                break;
        if (!started) {
            snprintf(err, err_cap, "mkmodel: cannot start a fill thread");
            rc = OV_ENOMEM;
            ov_st_writer_abort(w);
            w = NULL;
        }
    }
    for (size_t i = 0; !rc && i < l->n; i++) {
        int s = (int)(i % (size_t)q.nslot);
        pthread_mutex_lock(&q.mu);
        while (!(q.slot_idx[s] == (long)i && q.slot_done[s]))
            pthread_cond_wait(&q.cv, &q.mu);
        pthread_mutex_unlock(&q.mu);
        mk_job *j = &q.slot[s];
        const char *name = j->spec->name;
        if (j->rc) {
            snprintf(err, err_cap, "mkmodel: out of memory for %s (%lld elements)", name,
                     (long long)ov_mk_nelem(j->spec));
            rc = j->rc;
        }
        if (!rc)
            rc = ov_st_writer_data(w, j->bytes, j->nb);
        if (!rc && j->sel && with_scales) {
            int bad = fp8->bad_scale && strcmp(fp8->bad_scale, name) == 0;
            float scale[2] = {j->scale, j->scale};
            rc = ov_st_writer_data(w, scale, bad ? 8 : 4); /* little-endian host (x86-64, aarch64) */
        }
        if (rc && !err[0])
            snprintf(err, err_cap, "mkmodel: %s: write failed for %s", path, name);
        pthread_mutex_lock(&q.mu);
        q.slot_idx[s] = -1; /* free for tensor i + nslot */
        q.written = i + 1;
        if (rc)
            q.abort = 1;
        pthread_cond_broadcast(&q.cv);
        pthread_mutex_unlock(&q.mu);
        if (rc) {
            ov_st_writer_abort(w);
            w = NULL;
        }
    }
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    if (started) {
        pthread_mutex_destroy(&q.mu);
        pthread_cond_destroy(&q.cv);
    }
    for (int t = 0; q.slot && t < q.nslot; t++) {
        free(q.slot[t].f);
        free(q.slot[t].conv);
    }
    free(q.slot);
    free(q.slot_idx);
    free(q.slot_done);
    free(selv);
    free(tids);
    if (!rc)
        rc = ov_st_writer_finish(w, err, err_cap);
    free(wt);
    free(snames);
    free(meta);
    free(qm.s);
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
