/* Tensors: dtype, shape, strides, where the bytes live; views without copies; op error messages. */
#ifndef OV_TENSOR_H
#define OV_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/tensor/dtype.h"

#define OV_TENSOR_MAX_DIMS 5
#define OV_TENSOR_NAME_LEN 64
#define OV_TENSOR_ERR_LEN 512

struct ov_backend;

enum ov_tensor_flags {
    OV_TENSOR_OWNED = 1u << 0, /* data came from ov_mem_alloc_tensor(): free with ov_mem_free_tensor() */
    OV_TENSOR_ARENA = 1u << 1, /* data lives in an ov_arena: released with the arena mark */
};

/* A tensor is a small value type: copying the struct makes a view of the same bytes.
 *
 * - shape[] is outermost first (PyTorch order); dims past ndim are 1.
 * - stride[] is in ELEMENTS (not bytes), like PyTorch; a size-1 dim may have any stride and a
 *   broadcast dim may have stride 0 (only where an op documents broadcasting).
 * - data points at element [0,0,...] of this view, in the memory of `backend` (host memory for
 *   the CPU backend, device memory for CUDA). Model code never dereferences it.
 * - Quantised dtypes (Q8_0/Q4_K/Q6_K) are only valid with a contiguous last dim whose size is a
 *   multiple of the block; outer strides are then counted in elements of the logical shape
 *   (a row of n elements takes ov_dtype_row_bytes(dtype, n) bytes).
 * - scale multiplies every stored value when it is read (ComfyUI fp8 "scaled" weights); 1.0
 *   for every other tensor. Only weight operands honour it (linear, conv, embedding, copy).
 * - name is for error messages ("blocks.3.self_attn.q.weight", "h", "attn_out"). */
typedef struct ov_tensor {
    int dtype; /* enum ov_dtype */
    int ndim;  /* 0..OV_TENSOR_MAX_DIMS (0 = scalar, one element) */
    int64_t shape[OV_TENSOR_MAX_DIMS];
    int64_t stride[OV_TENSOR_MAX_DIMS];
    void *data;
    struct ov_backend *backend;
    float scale;
    uint32_t flags; /* enum ov_tensor_flags; views drop OV_TENSOR_OWNED */
    char name[OV_TENSOR_NAME_LEN];
} ov_tensor;

/* Fill *t as a contiguous tensor header over `data` (not owned: the caller keeps the memory).
 * `name` is copied (truncated). Returns 0 or OV_EINVAL (ndim out of range, negative dim,
 * quantised last dim not a multiple of the block, element count overflow). */
int ov_tensor_init(ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape, void *data,
                   struct ov_backend *backend);

/* Elements (product of the shape); bytes of a contiguous tensor of this dtype and shape. */
int64_t ov_tensor_nelem(const ov_tensor *t);
size_t ov_tensor_nbytes(const ov_tensor *t);
/* Non-zero when the elements are dense in row-major order (size-1 dims' strides ignored). */
int ov_tensor_is_contiguous(const ov_tensor *t);
/* Non-zero when both tensors have the same ndim and shape. */
int ov_tensor_same_shape(const ov_tensor *a, const ov_tensor *b);
/* Byte offset of element index `elem` along a contiguous layout (quantised-aware). */
size_t ov_tensor_elem_offset_bytes(int dtype, int64_t elem);
/* Render "[2,77,2048] f32" into buf (size n); returns buf. */
const char *ov_tensor_shape_str(const ov_tensor *t, char *buf, size_t n);

/* ---- views (no copies; the result shares t's bytes and drops OV_TENSOR_OWNED) ---- */

/* Reshape a contiguous tensor. ndim/shape give the new shape; one dim may be -1 (inferred).
 * OV_EINVAL if the element counts differ or t is not contiguous (copy it first with ov_op_copy). */
int ov_tensor_reshape(ov_tensor *out, const ov_tensor *t, int ndim, const int64_t *shape);
/* Permute dims: out.shape[i] = t.shape[perm[i]]. OV_EINVAL for a bad permutation or a
 * quantised tensor whose last dim would move. */
int ov_tensor_permute(ov_tensor *out, const ov_tensor *t, const int *perm);
/* Narrow dim `dim` to [start, start+len). OV_EINVAL when out of range or when a quantised
 * tensor's last dim would be cut off a block boundary. */
int ov_tensor_slice(ov_tensor *out, const ov_tensor *t, int dim, int64_t start, int64_t len);
/* Give a view a new name (for messages); returns t. */
ov_tensor *ov_tensor_set_name(ov_tensor *t, const char *name);

/* ---- error messages ----
 * Every ov_op_* / ov_tensor_* / arena function that fails also leaves a one-line message here
 * naming the op, the tensors and their shapes ("linear: x [4,77,768] f32 last dim != W [320,1024]
 * in"). Thread-local; overwritten by the next failure, never cleared by success. */
const char *ov_tensor_last_error(void);
/* Set the message (printf style) and return code (for backends and the op layer). */
int ov_tensor_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
