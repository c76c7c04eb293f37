/* ourvidz-mkmodel: tiny (and full-shape) random-weight checkpoints in the real layouts. */
#ifndef OV_MK_H
#define OV_MK_H

#include <stddef.h>
#include <stdint.h>

#define OV_MK_NAME_MAX 192

enum ov_mk_init {
    OV_MK_NORMAL = 0, /* mean + std · N(0,1) */
    OV_MK_CONST = 1,  /* every element = mean */
};

/* One tensor to write: name as stored in the file, PyTorch-order shape, how to fill it. */
typedef struct ov_mk_spec {
    char name[OV_MK_NAME_MAX];
    int ndim;
    int64_t shape[4];
    int init; /* enum ov_mk_init */
    float mean;
    float std;
} ov_mk_spec;

/* The first failing add is remembered in err and every later add returns it without doing
 * anything, so a spec function may make its calls in a row and return the last one's code. */
typedef struct ov_mk_list {
    ov_mk_spec *v;
    size_t n, cap;
    int err;
} ov_mk_list;

void ov_mk_list_init(ov_mk_list *l);
void ov_mk_list_free(ov_mk_list *l);
/* Append a spec; the name is printf-formatted. 0 or OV_ENOMEM / OV_ERANGE (name too long). */
int ov_mk_add(ov_mk_list *l, int init, float mean, float std, int ndim, const int64_t *shape, const char *fmt,
              ...) __attribute__((format(printf, 7, 8)));
/* Shorthands: a weight ~ N(0, std²); a norm gain ~ N(1, 0.1²) (random, so tests see it); a bias
 * ~ N(0, 0.02²). Shapes given as dims (up to 4; 0 ends the list). */
int ov_mk_weight(ov_mk_list *l, float std, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
int ov_mk_gain(ov_mk_list *l, int64_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ov_mk_bias(ov_mk_list *l, int64_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A Linear "<name>.weight" [out, in] ~ N(0, std²) then "<name>.bias" [out] (ov_mk_bias). */
int ov_mk_linear(ov_mk_list *l, float std, int64_t out, int64_t in, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A norm "<name>.weight" [n] (ov_mk_gain) then "<name>.bias" [n] (ov_mk_bias). */
int ov_mk_norm(ov_mk_list *l, int64_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fill dst with spec s's values: deterministic from (seed, s->name) only, so one tensor's values
 * do not depend on which other tensors are written. n = element count. Tensors of 2^26 elements
 * or more (full-size presets) are filled in 2^22-element chunks from per-chunk streams, in parallel. */
void ov_mk_fill(const ov_mk_spec *s, uint64_t seed, float *dst, int64_t n);
int64_t ov_mk_nelem(const ov_mk_spec *s);

/* Write every spec of l, in order, as one safetensors file of `dtype` (OV_DTYPE_F32/F16/BF16),
 * streaming tensor by tensor (a full-size SDXL never sits in memory). meta_kv: n_meta key/value
 * pairs for __metadata__. 0, or an OV_E* code with a message in err. */
int ov_mk_write_safetensors(const ov_mk_list *l, const char *path, int dtype, uint64_t seed,
                            const char *const *meta_kv, size_t n_meta, char *err, size_t err_cap);

/* ComfyUI fp8-scaled output (REFERENCE-MODELS.md §D.5): chosen "<layer>.weight" tensors are
 * stored as F8_E4M3 = round(w / scale) (round to nearest even, |.| <= 448) with scale =
 * max|w| / 448 (1 when w is all zero), and the f32 scalar (shape []) scale written right after
 * the weight as "<layer>.scale_weight" (legacy: plus an empty F8_E4M3 marker tensor `marker`,
 * first in the file) or "<layer>.weight_scale" (quant: plus __metadata__._quantization_metadata =
 * {"format_version": "1.0", "layers": {"<layer>": {"format": "float8_e4m3fn"}, ...}}). */
enum ov_mk_fp8_layout {
    OV_MK_FP8_NONE = 0,
    OV_MK_FP8_LEGACY = 1,
    OV_MK_FP8_QUANT = 2,
};

typedef struct ov_mk_fp8_opts {
    int layout;                  /* enum ov_mk_fp8_layout */
    const unsigned char *select; /* l->n flags: 1 = store spec i as fp8 (its name must end ".weight") */
    const char *marker;          /* legacy marker name, e.g. "model.diffusion_model.scaled_fp8" */
    const char *bad_scale;       /* tests only: this weight's scale gets shape [2] (a broken file); NULL */
    int omit_scales;             /* tests only: the same fp8 bytes without any scale tensor (read as scale 1) */
} ov_mk_fp8_opts;

/* ov_mk_write_safetensors with fp8 (NULL or layout NONE = the plain writer). Deterministic: the
 * same list, seed and options give the same bytes. Extra __metadata__ pairs as meta_kv. */
int ov_mk_write_safetensors_fp8(const ov_mk_list *l, const char *path, int dtype, uint64_t seed,
                                const char *const *meta_kv, size_t n_meta, const ov_mk_fp8_opts *fp8, char *err,
                                size_t err_cap);

/* Arguments every model kind receives. */
typedef struct ov_mk_args {
    const char *kind;   /* "qwen", "sdxl", "wan" */
    const char *preset; /* "tiny", "0.5b", "full", ... (each kind documents its own) */
    const char *out;    /* output: a folder (created) for every kind; each kind says what it writes */
    int dtype;          /* --dtype f32|f16|bf16 (default f16 for full-size presets, f32 for tiny) */
    int dtype_set;      /* 1 when --dtype was given */
    uint64_t seed;      /* --seed (default 42) */
    int argc;           /* kind-specific extra flags, not parsed by main */
    char **argv;
} ov_mk_args;

/* One entry per model kind (mkmodel_<kind>.c). Returns 0 or an OV_E* code (message on stderr). */
typedef struct ov_mk_kind {
    const char *kind;
    const char *presets; /* "tiny|0.5b" for --help */
    int (*make)(const ov_mk_args *a);
} ov_mk_kind;

/* mkdir -p; 0 or OV_EIO with a message on stderr. */
int ov_mk_mkdirs(const char *path);

#endif
