/* The backend interface: memory and one entry per op; the CPU backend and (later) CUDA fill it. */
#ifndef OV_BACKEND_H
#define OV_BACKEND_H

#include <stddef.h>

#include "common/tensor/ops.h"
#include "common/tensor/tensor.h"

enum ov_backend_kind {
    OV_BACKEND_CPU = 0,
    OV_BACKEND_CUDA = 1,
};

typedef struct ov_backend ov_backend;

/* How a backend is written (ops_cpu.c now, ops_cuda.cu next):
 *
 * - Model code never calls these entries: it calls ov_op_* (ops.h), which checks ranks, shapes,
 *   dtypes, parameters and that all operands live on one backend, then calls the entry below.
 *   So an entry may trust: shapes are consistent as documented in ops.h, y has the documented
 *   shape, params are normalised (strides/dilations/groups >= 1, attention scale resolved to a
 *   number, never 0). It must still check dtypes it cannot run (OV_EUNSUPP via ov_tensor_fail,
 *   naming the op and the dtype) and layouts ops.h leaves open (e.g. strided inputs).
 * - An entry left NULL makes the op return OV_EUNSUPP ("op X not supported by backend Y").
 * - Entries run in stream order on the backend's one queue (CUDA: one stream per worker).
 *   They may return before the work is done; sync() waits. Host-visible results exist only
 *   after download()/sync(). Errors from asynchronous work surface at the next call or sync():
 *   a sticky device error returns OV_EGPU from then on.
 * - Memory: alloc() returns `bytes` of backend memory aligned to at least 256 bytes,
 *   never managed/unified memory; OV_ENOMEM when the device refuses. free(NULL) is a no-op.
 *   Budgets are not the backend's concern (arena.h does that accounting).
 * - upload/download copy `bytes` between host memory and backend memory (the CPU backend's
 *   are memcpy), blocking until the host buffer may be reused.
 * - Tensors hold data pointers of the backend's memory; `scale` and quantised dtypes follow
 *   tensor.h. */
typedef struct ov_backend_ops {
    /* memory */
    int (*alloc)(ov_backend *be, size_t bytes, void **out);
    void (*free)(ov_backend *be, void *p);
    int (*upload)(ov_backend *be, void *dst, const void *src_host, size_t bytes);
    int (*download)(ov_backend *be, void *dst_host, const void *src, size_t bytes);
    int (*sync)(ov_backend *be);

    /* ops: same arguments and meaning as the ov_op_* of the same name (ops.h) */
    int (*copy)(ov_backend *be, ov_tensor *y, const ov_tensor *x);
    int (*concat)(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim);
    int (*pad)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after,
               float value);
    int (*upsample_nearest2x)(ov_backend *be, ov_tensor *y, const ov_tensor *x);
    int (*linear)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b);
    int (*matmul)(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a,
                  int trans_b, float alpha);
    /* y = x·Wᵀ + b + r (r == y: the same view, in place) and y = SiLU(x·W_gateᵀ)·(x·W_upᵀ); an entry
     * that cannot fuse a case must still compute it (GEMM then add / two GEMMs then SwiGLU). */
    int (*linear_add)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                      const ov_tensor *b, const ov_tensor *r);
    int (*linear_swiglu)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate,
                         const ov_tensor *w_up);
    int (*conv2d)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                  const ov_conv2d_params *p);
    int (*conv3d_causal)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                         const ov_tensor *b, const ov_conv3d_params *p);
    int (*layer_norm)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps);
    int (*rms_norm)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps);
    int (*group_norm)(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps);
    /* optional: silu(group_norm(x)) in one pass (NULL: group_norm, then unary SiLU in place) */
    int (*group_norm_silu)(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                           const ov_tensor *beta, float eps);
    int (*channel_rms_norm)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                            float eps);
    /* unary element-wise: kind selects the function; a, b its parameters */
    int (*unary)(ov_backend *be, ov_tensor *y, const ov_tensor *x, int kind /* enum ov_unary_kind */, float a,
                 float b);
    /* broadcasting binary: y, a, b already broadcast-checked; kind enum ov_binary_kind */
    int (*binary)(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind);
    int (*modulate)(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *shift,
                    const ov_tensor *scale);
    int (*geglu)(ov_backend *be, ov_tensor *y, const ov_tensor *x);
    int (*swiglu)(ov_backend *be, ov_tensor *y, const ov_tensor *gate, const ov_tensor *up);
    int (*softmax)(ov_backend *be, ov_tensor *y, const ov_tensor *x, float scale);
    int (*attention)(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                     const ov_attn_params *p);
    int (*rope_neox)(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta);
    int (*rope_wan3d)(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw,
                      float theta);
    int (*timestep_embedding)(ov_backend *be, ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p);
    int (*embedding)(ov_backend *be, ov_tensor *y, const ov_tensor *table, const ov_tensor *ids);
    /* ids in host memory, already checked (0 <= id < V) by ov_op_embedding_host */
    int (*embedding_host)(ov_backend *be, ov_tensor *y, const ov_tensor *table, const int32_t *ids, int64_t n);

    /* Optional streaming entries for checkpoint loading (all four or none; NULL on the CPU
     * backend, whose tensors are read into directly). A backend offering them makes
     * ov_backend_can_stream() true and common/model/weights.c streams each tensor's bytes
     * from the file through two host_alloc buffers into backend memory:
     *  - host_alloc/host_free: host memory the device copies from fastest (CUDA: pinned,
     *    cudaHostAlloc); host_free(NULL) is a no-op and waits for copies still reading p.
     *  - upload_async: queue a host->backend copy of `bytes` from src_host (inside a host_alloc
     *    buffer) to backend memory dst in stream order and return; slot in
     *    [0, OV_BACKEND_SLOTS) tags it. The host buffer must not change until wait_slot(slot).
     *  - wait_slot: block until every copy queued with that slot so far is done (CUDA: an event
     *    recorded after each copy); errors of those copies surface here.
     * Ops, download() and sync() queued later see the copied bytes (stream order), and free()
     * must not release memory a queued copy still writes (CUDA's cudaFree synchronises). */
    int (*host_alloc)(ov_backend *be, size_t bytes, void **out);
    void (*host_free)(ov_backend *be, void *p);
    int (*upload_async)(ov_backend *be, void *dst, const void *src_host, size_t bytes, int slot);
    int (*wait_slot)(ov_backend *be, int slot);
    /* Optional: backend memory of at least `bytes`, owned by the backend, valid until the next
     * scratch() call on be and stream-ordered (queued work still using the old block finishes
     * before it is reused or released); outside any ov_mem budget (CUDA: the scratch its GEMMs
     * convert weights in). A streaming load converting dtypes lands the stored bytes here
     * instead of allocating (and, on CUDA, synchronously freeing) a scratch tensor each time. */
    int (*scratch)(ov_backend *be, size_t bytes, void **out);
    /* Optional: the work queued from now on belongs to phase `name` (a string literal: "text",
     * "unet", "vae", "prefill", "decode"...) until the next call. Only for profiling reports (CUDA:
     * OURVIDZ_CUDA_PROFILE=1 prints one table per phase); no effect on results. */
    void (*phase)(ov_backend *be, const char *name);
} ov_backend_ops;

#define OV_BACKEND_SLOTS 4 /* upload_async slots */

enum ov_unary_kind {
    OV_UNARY_SILU = 0,
    OV_UNARY_GELU_ERF,
    OV_UNARY_GELU_TANH,
    OV_UNARY_GELU_QUICK,
    OV_UNARY_SCALE, /* x·a + b */
    OV_UNARY_CLAMP, /* min(max(x, a), b) */
};

enum ov_binary_kind {
    OV_BINARY_ADD = 0,
    OV_BINARY_MUL,
};

struct ov_backend {
    const char *name; /* "cpu", "cuda:0" */
    int kind;         /* enum ov_backend_kind */
    const ov_backend_ops *ops;
    int act_dtype; /* the activation dtype this backend computes in (CPU: OV_DTYPE_F32) */
    void *impl;    /* backend-private state */
};

/* The process-wide CPU backend (never freed; thread count from $OURVIDZ_CPU_THREADS, default
 * the number of online CPUs). */
ov_backend *ov_backend_cpu(void);
/* Open a backend: OV_BACKEND_CPU returns the CPU one; OV_BACKEND_CUDA device `device` returns
 * OV_EUNSUPP when this build has no CUDA, OV_ENOENT when no such device. Close with
 * ov_backend_close() (no-op for the CPU backend). */
int ov_backend_open(int kind, int device, ov_backend **out);
void ov_backend_close(ov_backend *be);
/* The BLAS under the CPU backend, for benchmark headers: "<OpenBLAS version/config>, core <kernel
 * set>" (e.g. core Haswell when OPENBLAS_CORETYPE forces AVX2 kernels on an AVX-512 CPU). */
const char *ov_cpu_blas_info(void);
/* Choose a backend kind by name: "cpu", "cuda" or "auto" (NULL/"" reads $OURVIDZ_BACKEND, default
 * auto = CUDA device 0 when it opens, else CPU). "cuda" that cannot open is OV_EUNSUPP with the
 * reason in err; an unknown name is OV_EINVAL. */
int ov_backend_pick(const char *name, int *kind, char *err, size_t errlen);

/* Copy a contiguous tensor's bytes from/to host memory (bytes must equal ov_tensor_nbytes(t)). */
int ov_tensor_upload(ov_tensor *t, const void *src_host, size_t bytes);
int ov_tensor_download(const ov_tensor *t, void *dst_host, size_t bytes);
/* Wait for all queued work on be. */
int ov_backend_sync(ov_backend *be);
/* Name the phase the following work belongs to (ov_backend_ops.phase; no-op where NULL or be NULL). */
void ov_backend_phase(ov_backend *be, const char *name);
/* Whether be offers the streaming entries (host_alloc, host_free, upload_async, wait_slot). */
int ov_backend_can_stream(const ov_backend *be);

#endif
