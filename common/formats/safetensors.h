/* safetensors checkpoints: validated index of one file or a sharded folder, reads, a writer. */
#ifndef OV_SAFETENSORS_H
#define OV_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define OV_ST_MAX_HEADER ((uint64_t)100 << 20) /* JSON header cap (bytes) */
#define OV_ST_MAX_INDEX ((uint64_t)64 << 20)   /* *.safetensors.index.json cap (bytes) */
#define OV_ST_MAX_DIMS 8
#define OV_ST_MAX_TENSORS (1u << 20)
#define OV_ST_MAX_SHARDS 1024
#define OV_ST_ERR_LEN 512 /* a good size for the err buffers below */

/* One tensor of the checkpoint. Owned by the ov_safetensors it came from. */
typedef struct ov_st_tensor {
    const char *name;
    int dtype;                       /* enum ov_dtype */
    int n_dims;                      /* 0 = scalar */
    int64_t shape[OV_ST_MAX_DIMS];   /* outermost first (PyTorch order) */
    int64_t n_elems;
    uint64_t offset;                 /* absolute file offset of the first byte */
    uint64_t n_bytes;
    int shard;                       /* index of the shard file holding it (0 for one file) */
} ov_st_tensor;

typedef struct ov_safetensors ov_safetensors;

/* Open a checkpoint: `path` is a .safetensors file, a *.safetensors.index.json, or a folder
 * holding exactly one *.safetensors.index.json (sharded) or exactly one *.safetensors. Every
 * header is validated against its file size (see safetensors.c for the list of checks). On
 * failure returns OV_EFORMAT / OV_EUNSUPP (unknown dtype) / OV_ENOENT (missing file or shard) /
 * OV_EIO / OV_ENOMEM with a message naming the file and tensor in err. The caller frees *out
 * with ov_st_close(). */
int ov_st_open(const char *path, ov_safetensors **out, char *err, size_t err_cap);
/* Validate a whole file image held in memory (fuzzing, tests). The result has no file
 * behind it: ov_st_read() on it returns OV_EINVAL. `label` names it in messages. */
int ov_st_parse(const void *image, size_t len, const char *label, ov_safetensors **out,
                char *err, size_t err_cap);
/* Close the files and free everything (NULL is fine). */
void ov_st_close(ov_safetensors *st);

/* Tensors in (shard, offset) order; i < ov_st_count(). */
size_t ov_st_count(const ov_safetensors *st);
const ov_st_tensor *ov_st_at(const ov_safetensors *st, size_t i);
/* By exact name; NULL if absent. O(log n). */
const ov_st_tensor *ov_st_find(const ov_safetensors *st, const char *name);
/* `__metadata__` value of the first shard (sharded: any shard that has the key); NULL if absent. */
const char *ov_st_meta(const ov_safetensors *st, const char *key);
/* Metadata pairs of shard 0 in file order, i < ov_st_meta_count(). */
size_t ov_st_meta_count(const ov_safetensors *st);
void ov_st_meta_at(const ov_safetensors *st, size_t i, const char **key, const char **value);

/* Shard files: count, path, and an fd open read-only (owned by st, valid until close). */
int ov_st_shard_count(const ov_safetensors *st);
const char *ov_st_shard_path(const ov_safetensors *st, int shard);
int ov_st_shard_fd(const ov_safetensors *st, int shard);

/* Read tensor t's raw bytes (little-endian, as stored) into dst (dst_cap >= t->n_bytes).
 * OV_ERANGE if dst is too small; OV_EIO/OV_EFORMAT if the file got shorter since open. */
int ov_st_read(const ov_safetensors *st, const ov_st_tensor *t, void *dst, size_t dst_cap,
               char *err, size_t err_cap);

/* ---- writer ---- */

/* Describes one tensor to write; data may be NULL when streaming with ov_st_writer_data(). */
typedef struct ov_st_wtensor {
    const char *name;
    int dtype;             /* plain types only (not Q8_0/Q4_K/Q6_K) */
    int n_dims;
    const int64_t *shape;  /* outermost first */
    const void *data;      /* n_elems * size bytes, borrowed for the call */
} ov_st_wtensor;

typedef struct ov_st_writer ov_st_writer;

/* Start a file: writes the header (metadata pairs meta_kv[0..2*n_meta), tensors in the given
 * order, contiguous, header padded with spaces to 8-byte alignment as the reference writer
 * does). Then feed exactly the tensors' bytes in order with ov_st_writer_data() and finish with
 * ov_st_writer_finish(), which fails (and removes the file) if the byte count is wrong. */
int ov_st_writer_begin(const char *path, const ov_st_wtensor *tensors, size_t n,
                       const char *const *meta_kv, size_t n_meta, ov_st_writer **out,
                       char *err, size_t err_cap);
int ov_st_writer_data(ov_st_writer *w, const void *bytes, size_t n);
/* Closes the file and frees w in every case. */
int ov_st_writer_finish(ov_st_writer *w, char *err, size_t err_cap);
/* Abandon: close, unlink, free (NULL is fine). */
void ov_st_writer_abort(ov_st_writer *w);
/* One call: begin + every tensor's data + finish. */
int ov_st_write(const char *path, const ov_st_wtensor *tensors, size_t n,
                const char *const *meta_kv, size_t n_meta, char *err, size_t err_cap);
/* Write a model.safetensors.index.json for shards (weight_map name -> shard file name). */
int ov_st_write_index(const char *path, const char *const *names, const char *const *shard_files,
                      size_t n, uint64_t total_size, char *err, size_t err_cap);

/* Safetensors dtype string ("F32", "F8_E4M3"...) for an ov dtype, NULL if it has none. */
const char *ov_st_dtype_string(int dtype);

#endif
