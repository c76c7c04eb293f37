/* Model weights from a checkpoint: one lookup by canonical name over safetensors (file or sharded
 * folder) and GGUF, placed on a backend under the worker's memory budget. */
#ifndef OV_WEIGHTS_H
#define OV_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/formats/gguf.h"
#include "common/formats/remap.h"
#include "common/formats/safetensors.h"
#include "common/tensor/arena.h"
#include "common/tensor/tensor.h"

enum ov_weights_format {
    OV_WEIGHTS_SAFETENSORS = 1,
    OV_WEIGHTS_GGUF = 2,
};

#define OV_WEIGHTS_NAME_MAX 256

/* What the checkpoint says about one tensor. Shapes are outermost first (PyTorch order) for both
 * formats: a GGUF tensor's ne[] is reversed here. */
typedef struct ov_weight_info {
    const char *file_name;  /* the name as stored in the file */
    int dtype;              /* enum ov_dtype as stored */
    int ndim;
    int64_t shape[OV_TENSOR_MAX_DIMS];
    uint64_t n_bytes;
    float scale; /* ComfyUI fp8-scaled companion scale, else 1 */
} ov_weight_info;

typedef struct ov_weights ov_weights;

/* Open `path`: a .safetensors file, a sharded folder / *.index.json, a folder with one
 * .safetensors, or a .gguf file (detected by magic). Errors (code + message in
 * ov_tensor_last_error(), naming the path): OV_ENOENT, OV_EFORMAT, OV_EUNSUPP, OV_EIO, OV_ENOMEM.
 * Free with ov_weights_close(). */
int ov_weights_open(const char *path, ov_weights **out);
void ov_weights_close(ov_weights *w);

int ov_weights_format(const ov_weights *w); /* enum ov_weights_format */
const char *ov_weights_path(const ov_weights *w);
/* The underlying parsed file (NULL when the format differs): metadata (GGUF keys, safetensors
 * __metadata__) is read through these. */
const ov_safetensors *ov_weights_st(const ov_weights *w);
const ov_gguf *ov_weights_gguf(const ov_weights *w);

/* Apply a layout's prefix rules: from now on lookups use canonical names (the rule's `to`
 * side). `table` NULL = detect among tables[0..n) with ov_remap_detect (no match = names as
 * stored). Returns the chosen table's layout name through *layout (may be NULL). 0 or OV_ENOMEM. */
int ov_weights_remap(ov_weights *w, const ov_remap_table *tables, size_t n_tables, const char **layout);

/* Rebuild the canonical index through a callback (layouts that prefix rules cannot express, e.g.
 * diffusers -> sgm block numbering): fn(ctx, stored, out, cap) writes the canonical name of the
 * stored name and returns > 0, returns 0 to keep the stored name, or a negative OV_E* code (the
 * rename fails with it; OV_ERANGE reads "name too long"). Replaces any earlier remap. 0 or error. */
int ov_weights_rename(ov_weights *w, int (*fn)(void *ctx, const char *stored, char *out, size_t cap), void *ctx);

/* Several checkpoints as one set (a diffusers folder's component files): paths[i] is opened as
 * ov_weights_open opens a path, and its tensor names read as prefixes[i] + the name in the file
 * (NULL/"" = none) -- these are the "stored" names that ov_weights_remap/ov_weights_rename see.
 * `label` names the set in messages (ov_weights_path). ov_weights_st/gguf return NULL for a set.
 * Errors as ov_weights_open, naming the file that failed. */
int ov_weights_open_parts(const char *label, const char *const *paths, const char *const *prefixes, size_t n,
                          ov_weights **out);

/* Canonical-name lookup. ov_weights_info: 0, or OV_ENOENT ("<path>: tensor NAME not found"). */
int ov_weights_has(const ov_weights *w, const char *name);
int ov_weights_info(const ov_weights *w, const char *name, ov_weight_info *out);
/* Enumerate canonical names (stable order: file order). */
size_t ov_weights_count(const ov_weights *w);
const char *ov_weights_name_at(const ov_weights *w, size_t i);

/* want_dtype of ov_weights_load: the backend's activation dtype for F32/F16/BF16 weights when it
 * computes in a 16-bit type (CUDA: BF16), so ops read them as they are instead of converting per
 * call; every other tensor (fp8, quantised, integer; any on an f32 backend) keeps its stored dtype. */
#define OV_WEIGHTS_DTYPE_ACT (-2)

/* Load tensor `name` into *out, a new tensor owned by `mem` (on mem's backend, counted against
 * its budget; free with ov_mem_free_tensor), named `name`.
 *  - want_dtype -1 keeps the stored dtype (quantised stays quantised; f8 keeps its scale in
 *    out->scale); OV_WEIGHTS_DTYPE_ACT: see above. Otherwise the values are converted to
 *    want_dtype (F32/F16/BF16: dequantised/rescaled as needed): on the host, or on the device for
 *    a backend that streams.
 *  - The CPU backend reads straight into out. A backend with the streaming entries (backend.h:
 *    CUDA) gets the stored bytes through two pinned staging buffers (weights_stream.c, size
 *    $OURVIDZ_LOAD_STAGING bytes, default 32 MiB each) overlapping reads and host->device copies,
 *    and converts with ov_op_copy from a scratch of the stored dtype (the backend's scratch()
 *    when offered, else a tensor counted against mem while it lives); copies may still be queued on return (stream order makes them visible to
 *    later ops). The staging buffers live until ov_weights_close(): close w before its backend.
 *  - expect_ndim > 0: the stored shape must equal expect_shape[0..expect_ndim) (a GGUF shape
 *    reversed first), or differ only by trailing size-1 dims (then *out gets expect_shape: a
 *    Linear [C, C] for a 1x1 conv [C, C, 1, 1]); else OV_EFORMAT "<path>: NAME has shape [..]
 *    but the model needs [..]".
 *  - I32/I64/BOOL tensors load only with want_dtype < 0.
 * Errors: OV_ENOENT (missing), OV_EFORMAT, OV_EBUDGET/OV_ENOMEM (from mem), OV_EIO (read, file
 * shrank), OV_EUNSUPP (conversion). Message in ov_tensor_last_error(). */
int ov_weights_load(ov_weights *w, ov_mem *mem, const char *name, int want_dtype, int expect_ndim,
                    const int64_t *expect_shape, ov_tensor *out);
/* Read tensor `name` as f32 into host memory dst (n elements == the tensor's count, else
 * OV_EINVAL). For small tensors read on the host (time tables, configs in tensors). */
int ov_weights_read_f32(ov_weights *w, const char *name, float *dst, int64_t n);

/* Bytes read from disk and seconds spent in ov_weights_load/read so far (loader throughput). */
uint64_t ov_weights_bytes_read(const ov_weights *w);
double ov_weights_seconds(const ov_weights *w);

#endif
