/* Shared by the tensor test suites: backends to run on, seeded inputs, poisoned outputs, comparisons. */
#ifndef OV_TEST_TENSOR_UTIL_H
#define OV_TEST_TENSOR_UTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/ops.h"

/* Each test body runs once per backend present: the CPU always, CUDA when the build has it and a
 * device answers (otherwise that backend is skipped, so the same bodies serve gpu-check.sh). */
typedef void (*tt_body)(ov_backend *be);

static inline int tt_backends(ov_backend **out, int cap)
{
    int n = 0;
    out[n++] = ov_backend_cpu();
    ov_backend *cuda = NULL;
    if (n < cap && ov_backend_open(OV_BACKEND_CUDA, 0, &cuda) == 0 && cuda)
        out[n++] = cuda;
    return n;
}

static inline void tt_run(tt_body body)
{
    ov_backend *bes[4];
    int n = tt_backends(bes, 4);
    for (int i = 0; i < n; i++) {
        body(bes[i]);
        if (bes[i]->kind != OV_BACKEND_CPU)
            ov_backend_close(bes[i]);
    }
}

/* Tolerance multiplier for a backend's activation dtype relative to f32 compute: f32 = 1;
 * bf16 activations carry 8 mantissa bits (2^-8 vs 2^-24 relative), so a CUDA run in bf16 uses
 * relative tolerances near 1e-2 instead of 1e-5 (the factor below keeps bodies shared). */
static inline double tt_tol(const ov_backend *be)
{
    if (be->act_dtype == OV_DTYPE_BF16)
        return 2000.0;
    if (be->act_dtype == OV_DTYPE_F16)
        return 300.0;
    return 1.0;
}

/* ---- seeded inputs, never zero ---- */

static uint64_t tt_seed = 0x9E3779B97F4A7C15ull;

static inline double tt_uniform(void)
{
    tt_seed ^= tt_seed << 13;
    tt_seed ^= tt_seed >> 7;
    tt_seed ^= tt_seed << 17;
    return (double)(tt_seed >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* Values in ±[0.05, 1]·amp: never zero, random sign. */
static inline void tt_fill(float *x, int64_t n, double amp)
{
    for (int64_t i = 0; i < n; i++) {
        double v = 0.05 + 0.95 * tt_uniform();
        x[i] = (float)((tt_uniform() < 0.5 ? -v : v) * amp);
    }
}

static inline float *tt_rand(int64_t n, double amp)
{
    float *x = malloc((size_t)(n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    tt_fill(x, n, amp);
    return x;
}

/* Round vals in place to what a dtype holds (a round trip through it). */
static inline void tt_round(int dtype, float *vals, int64_t n)
{
    void *raw = malloc((size_t)(n ? n : 1) * 4);
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(ov_dtype_from_f32(dtype, vals, raw, n), 0);
    ck_assert_int_eq(ov_dtype_to_f32(dtype, raw, vals, n), 0);
    free(raw);
}

/* ---- tensors on a backend ---- */

typedef struct tt_ctx {
    ov_backend *be;
    ov_mem mem;
    ov_tensor t[32];
    int n;
} tt_ctx;

static inline void tt_begin(tt_ctx *c, ov_backend *be)
{
    memset(c, 0, sizeof *c);
    c->be = be;
    ov_mem_init(&c->mem, be, 0);
}

static inline void tt_end(tt_ctx *c)
{
    for (int i = 0; i < c->n; i++)
        ov_mem_free_tensor(&c->mem, &c->t[i]);
    ck_assert_uint_eq(c->mem.used_bytes, 0);
    ck_assert_uint_eq(c->mem.n_allocs, 0);
}

static inline ov_tensor *tt_alloc(tt_ctx *c, const char *name, int dtype, int ndim, const int64_t *shape)
{
    ck_assert_int_lt(c->n, 32);
    ov_tensor *t = &c->t[c->n++];
    int rc = ov_mem_alloc_tensor(&c->mem, t, name, dtype, ndim, shape);
    ck_assert_msg(rc == 0, "alloc %s: %s", name, ov_tensor_last_error());
    return t;
}

/* A tensor of `dtype` holding host values `vals` (n = nelem). Quantised/narrow dtypes round the
 * values; `vals` is overwritten with what the tensor really holds (dequantised), so references
 * measure the op, not the storage format. */
static inline ov_tensor *tt_input(tt_ctx *c, const char *name, int dtype, int ndim, const int64_t *shape,
                                  float *vals)
{
    ov_tensor *t = tt_alloc(c, name, dtype, ndim, shape);
    int64_t n = ov_tensor_nelem(t);
    size_t bytes = ov_tensor_nbytes(t);
    void *raw = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(raw);
    if (dtype == OV_DTYPE_I32) {
        memcpy(raw, vals, bytes);
    } else {
        ck_assert_int_eq(ov_dtype_from_f32(dtype, vals, raw, n), 0);
        ck_assert_int_eq(ov_dtype_to_f32(dtype, raw, vals, n), 0);
    }
    ck_assert_msg(ov_tensor_upload(t, raw, bytes) == 0, "upload %s: %s", name, ov_tensor_last_error());
    free(raw);
    return t;
}

/* An activation input on the backend (its act dtype) holding vals (rounded in place). */
static inline ov_tensor *tt_act(tt_ctx *c, const char *name, int ndim, const int64_t *shape, float *vals)
{
    return tt_input(c, name, c->be->act_dtype, ndim, shape, vals);
}

/* An output poisoned with NaN so that any element the op does not write fails the comparison. */
static inline ov_tensor *tt_out(tt_ctx *c, const char *name, int ndim, const int64_t *shape)
{
    ov_tensor *t = tt_alloc(c, name, c->be->act_dtype, ndim, shape);
    int64_t n = ov_tensor_nelem(t);
    float *nan = malloc((size_t)(n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(nan);
    for (int64_t i = 0; i < n; i++)
        nan[i] = NAN;
    size_t bytes = ov_tensor_nbytes(t);
    void *raw = malloc(bytes ? bytes : 1);
    ck_assert_int_eq(ov_dtype_from_f32(t->dtype, nan, raw, n), 0);
    ck_assert_int_eq(ov_tensor_upload(t, raw, bytes), 0);
    free(raw);
    free(nan);
    return t;
}

/* Download a contiguous tensor as f32 (malloc'd; caller frees). */
static inline float *tt_fetch(const ov_tensor *t)
{
    int64_t n = ov_tensor_nelem(t);
    size_t bytes = ov_tensor_nbytes(t);
    void *raw = malloc(bytes ? bytes : 1);
    float *out = malloc((size_t)(n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(raw);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(ov_backend_sync(t->backend), 0);
    ck_assert_msg(ov_tensor_download(t, raw, bytes) == 0, "download: %s", ov_tensor_last_error());
    ck_assert_int_eq(ov_dtype_to_f32(t->dtype, raw, out, n), 0);
    free(raw);
    return out;
}

/* Half a unit in the last place of |r| in a 16-bit float dtype (0 for f32 and others): the rounding
 * an output in that dtype adds on top of the op's own error. Comparisons against a double reference
 * allow it, so an "exact" op (tolerance 0) means exact up to the final rounding into y's dtype. */
static inline double tt_half_ulp(int dtype, double r)
{
    int mant;       /* explicit mantissa bits */
    int min_exp;    /* exponent (frexp convention) of the smallest normal */
    if (dtype == OV_DTYPE_BF16) {
        mant = 7;
        min_exp = -125;
    } else if (dtype == OV_DTYPE_F16) {
        mant = 10;
        min_exp = -13;
    } else {
        return 0.0;
    }
    int e;
    frexp(fabs(r), &e); /* |r| in [2^(e-1), 2^e) */
    if (r == 0.0 || e < min_exp)
        e = min_exp;    /* subnormal range: fixed spacing */
    return ldexp(1.0, e - 1 - mant - 1);
}

/* Every element finite (poison caught) and |got − ref| <= atol + rtol·|ref| + the rounding of a
 * value of |ref| into out_dtype (tt_half_ulp). */
static inline void tt_close_dt(const char *what, const float *got, const double *ref, int64_t n, double atol,
                               double rtol, int out_dtype)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(got[i]) || !isfinite(ref[i]),
                      "%s: element %lld not written or not finite (%g, ref %g)", what, (long long)i,
                      (double)got[i], ref[i]);
        double err = fabs((double)got[i] - ref[i]);
        double lim = atol + rtol * fabs(ref[i]) + tt_half_ulp(out_dtype, ref[i]);
        if (err > worst)
            worst = err;
        ck_assert_msg(err <= lim, "%s: element %lld = %.9g, reference %.9g (|err| %.3g > %.3g)", what,
                      (long long)i, (double)got[i], ref[i], err, lim);
    }
}

/* The same for f32 results (no output rounding allowed). */
static inline void tt_close(const char *what, const float *got, const double *ref, int64_t n, double atol,
                            double rtol)
{
    tt_close_dt(what, got, ref, n, atol, rtol, OV_DTYPE_F32);
}

/* Run an op on the tensors and fetch + compare its output against a double reference. */
static inline void tt_expect(const char *what, const ov_tensor *y, const double *ref, double atol,
                             double rtol)
{
    float *got = tt_fetch(y);
    tt_close_dt(what, got, ref, ov_tensor_nelem(y), atol, rtol, y->dtype);
    free(got);
}

#define TT_OK(call) ck_assert_msg((call) == 0, "%s failed: %s", #call, ov_tensor_last_error())

/* The call fails with `code` and its message mentions `needle`. */
#define TT_FAILS(call, code, needle)                                                                         \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        ck_assert_msg(rc_ == (code), "%s returned %d (%s), want %d; msg: %s", #call, rc_, ov_errname(rc_),   \
                      (code), ov_tensor_last_error());                                                       \
        ck_assert_msg(strstr(ov_tensor_last_error(), (needle)) != NULL, "%s: message '%s' lacks '%s'",       \
                      #call, ov_tensor_last_error(), (needle));                                              \
    } while (0)

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

#endif
