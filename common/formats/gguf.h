/* GGUF (v2/v3) checkpoints: validated metadata + tensor index, reads, and a writer. */
#ifndef OV_GGUF_H
#define OV_GGUF_H

#include <stddef.h>
#include <stdint.h>

#define OV_GGUF_MAGIC 0x46554747u                  /* "GGUF" little-endian */
#define OV_GGUF_MAX_HEADER ((uint64_t)512 << 20)   /* metadata + tensor infos */
#define OV_GGUF_MAX_STRING ((uint64_t)16 << 20)    /* one string value */
#define OV_GGUF_MAX_ARRAY ((uint64_t)16 << 20)     /* elements of one array */
#define OV_GGUF_MAX_KV 65536
#define OV_GGUF_MAX_TENSORS 1000000
#define OV_GGUF_MAX_NAME 255
#define OV_GGUF_MAX_DIMS 4
#define OV_GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types (gguf_type in ggml's gguf.h). */
enum ov_gguf_type {
    OV_GGUF_U8 = 0, OV_GGUF_I8 = 1, OV_GGUF_U16 = 2, OV_GGUF_I16 = 3, OV_GGUF_U32 = 4,
    OV_GGUF_I32 = 5, OV_GGUF_F32 = 6, OV_GGUF_BOOL = 7, OV_GGUF_STRING = 8, OV_GGUF_ARRAY = 9,
    OV_GGUF_U64 = 10, OV_GGUF_I64 = 11, OV_GGUF_F64 = 12
};

/* ggml type ids (enum ggml_type in ggml.h) for the dtypes we read and write. */
enum ov_ggml_type {
    OV_GGML_F32 = 0, OV_GGML_F16 = 1, OV_GGML_Q8_0 = 8, OV_GGML_Q4_K = 12, OV_GGML_Q6_K = 14,
    OV_GGML_I8 = 24, OV_GGML_I16 = 25, OV_GGML_I32 = 26, OV_GGML_I64 = 27, OV_GGML_F64 = 28,
    OV_GGML_BF16 = 30
};

typedef struct ov_gguf_tensor {
    const char *name;
    int dtype;                      /* enum ov_dtype */
    int ggml_type;
    int n_dims;
    int64_t ne[OV_GGUF_MAX_DIMS];   /* innermost first (ne[0] = row length); unused dims are 1 */
    int64_t n_elems;
    uint64_t offset;                /* absolute file offset */
    uint64_t n_bytes;
} ov_gguf_tensor;

typedef struct ov_gguf ov_gguf;

/* Open and validate a GGUF file (checks in gguf.c). Errors: OV_EFORMAT (corrupt / truncated /
 * misaligned), OV_EUNSUPP (unknown tensor type id: the message names the tensor and the id),
 * OV_ENOENT, OV_EIO, OV_ENOMEM; err gets a message naming the file. Free with ov_gguf_close(). */
int ov_gguf_open(const char *path, ov_gguf **out, char *err, size_t err_cap);
/* Validate a whole file image in memory (fuzzing, tests); ov_gguf_read() then copies from it
 * (the image must outlive the handle). */
int ov_gguf_parse(const void *image, size_t len, const char *label, ov_gguf **out, char *err,
                  size_t err_cap);
void ov_gguf_close(ov_gguf *g);

uint32_t ov_gguf_version(const ov_gguf *g);
uint32_t ov_gguf_alignment(const ov_gguf *g);
uint64_t ov_gguf_data_offset(const ov_gguf *g);

size_t ov_gguf_count(const ov_gguf *g);
const ov_gguf_tensor *ov_gguf_at(const ov_gguf *g, size_t i); /* file order */
const ov_gguf_tensor *ov_gguf_find(const ov_gguf *g, const char *name);
int ov_gguf_fd(const ov_gguf *g); /* -1 for a memory image */
const char *ov_gguf_path(const ov_gguf *g);
int ov_gguf_read(const ov_gguf *g, const ov_gguf_tensor *t, void *dst, size_t dst_cap, char *err,
                 size_t err_cap);

/* ---- metadata ---- */
size_t ov_gguf_kv_count(const ov_gguf *g);
const char *ov_gguf_kv_key(const ov_gguf *g, size_t i);
/* Index of key, or -1. */
long ov_gguf_find_key(const ov_gguf *g, const char *key);
/* Value type of key i (enum ov_gguf_type); for arrays, *elem_type and *count if non-NULL. */
int ov_gguf_kv_type(const ov_gguf *g, size_t i, int *elem_type, uint64_t *count);
/* Typed getters by key. Integers convert between integer types when the value fits (OV_ERANGE
 * otherwise); floats accept f32/f64. OV_ENOENT when absent, OV_EINVAL on a type mismatch. */
int ov_gguf_get_int(const ov_gguf *g, const char *key, int64_t *out);
int ov_gguf_get_float(const ov_gguf *g, const char *key, double *out);
int ov_gguf_get_bool(const ov_gguf *g, const char *key, int *out);
/* String value: pointer into the handle (not NUL-terminated; length in *len). */
int ov_gguf_get_str(const ov_gguf *g, const char *key, const char **s, size_t *len);
/* Arrays: element i of an array of strings / integers / floats. */
int ov_gguf_get_arr_str(const ov_gguf *g, const char *key, uint64_t i, const char **s, size_t *len);
int ov_gguf_get_arr_int(const ov_gguf *g, const char *key, uint64_t i, int64_t *out);
int ov_gguf_get_arr_float(const ov_gguf *g, const char *key, uint64_t i, double *out);
int ov_gguf_get_arr_count(const ov_gguf *g, const char *key, uint64_t *count);

/* ggml type id <-> ov dtype (-1 when unsupported); a printable ggml type name ("Q4_0") or NULL. */
int ov_gguf_dtype_from_ggml(int ggml_type);
int ov_gguf_ggml_from_dtype(int dtype);
const char *ov_ggml_type_name(int ggml_type);

/* ---- writer ---- */
typedef struct ov_gguf_writer ov_gguf_writer;

/* New writer (GGUF v3, alignment 32 unless general.alignment is set with set_u32). NULL on OOM. */
ov_gguf_writer *ov_gguf_writer_new(void);
void ov_gguf_writer_free(ov_gguf_writer *w);
/* Metadata, written in call order. Keys and values are copied. 0 or OV_ENOMEM/OV_EINVAL. */
int ov_gguf_set_u32(ov_gguf_writer *w, const char *key, uint32_t v);
int ov_gguf_set_i32(ov_gguf_writer *w, const char *key, int32_t v);
int ov_gguf_set_u64(ov_gguf_writer *w, const char *key, uint64_t v);
int ov_gguf_set_f32(ov_gguf_writer *w, const char *key, float v);
int ov_gguf_set_bool(ov_gguf_writer *w, const char *key, int v);
int ov_gguf_set_str(ov_gguf_writer *w, const char *key, const char *v);
int ov_gguf_set_arr_str(ov_gguf_writer *w, const char *key, const char *const *v, size_t n);
int ov_gguf_set_arr_i32(ov_gguf_writer *w, const char *key, const int32_t *v, size_t n);
int ov_gguf_set_arr_f32(ov_gguf_writer *w, const char *key, const float *v, size_t n);
/* Add a tensor: ne innermost first (a PyTorch [out, in] weight is ne = {in, out}); data holds
 * ov_dtype_row_bytes(dtype, n_elems) bytes and is borrowed until ov_gguf_writer_write(). */
int ov_gguf_add_tensor(ov_gguf_writer *w, const char *name, int dtype, int n_dims, const int64_t *ne,
                       const void *data);
/* Write everything to path. */
int ov_gguf_writer_write(ov_gguf_writer *w, const char *path, char *err, size_t err_cap);

#endif
