/* Per-worker device-memory budget: weights placed once, activations from a mark/release arena. */
#ifndef OV_ARENA_H
#define OV_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "common/tensor/backend.h"
#include "common/tensor/tensor.h"

/* One per worker (and backend). Counts every byte this worker holds on the backend: weights
 * (ov_mem_alloc_tensor) and arena capacities (ov_arena_init). Anything that would pass
 * budget_bytes fails with OV_EBUDGET and a message naming the tensor, the bytes asked, the bytes
 * in use and the budget, so a worker fails at load with a clear reason instead of an OOM later.
 * Not thread-safe: one worker thread owns it. */
typedef struct ov_mem {
    ov_backend *backend;
    size_t budget_bytes;
    size_t used_bytes;
    size_t peak_bytes;
    size_t n_allocs; /* live allocations (weights + arenas) */
} ov_mem;

/* Start accounting (allocates nothing). budget_bytes 0 = no limit (SIZE_MAX). */
void ov_mem_init(ov_mem *m, ov_backend *be, size_t budget_bytes);

/* Allocate a contiguous, owned tensor (a weight, a KV cache, anything that lives as long as the
 * model). Contents are undefined. Free with ov_mem_free_tensor(). OV_EBUDGET / OV_ENOMEM /
 * OV_EINVAL with a message. */
int ov_mem_alloc_tensor(ov_mem *m, ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape);
/* Free an owned tensor's memory and clear *t (no-op for views and zeroed tensors). */
void ov_mem_free_tensor(ov_mem *m, ov_tensor *t);

/* A bump allocator over one block reserved from the budget at init. Activations come from it;
 * a forward pass takes a mark, allocates, and releases to the mark when its tensors are dead,
 * so steady-state inference does no allocation. Allocations are 256-byte aligned. */
typedef struct ov_arena {
    ov_mem *mem;
    uint8_t *base;
    size_t capacity_bytes;
    size_t top_bytes;  /* bytes in use */
    size_t peak_bytes; /* high-water mark since init (size the capacity from it) */
    char name[32];
} ov_arena;

/* Reserve capacity_bytes from m (OV_EBUDGET if it does not fit) and allocate it on the backend.
 * `name` ("activations") appears in messages. Free with ov_arena_free(). */
int ov_arena_init(ov_arena *a, ov_mem *m, const char *name, size_t capacity_bytes);
/* Give the block back to the backend and the budget (a zeroed arena is fine). */
void ov_arena_free(ov_arena *a);
/* A contiguous tensor from the arena; valid until the arena is released below its mark.
 * OV_EBUDGET (message: arena name, tensor name, bytes asked, used, capacity) when it does not fit. */
int ov_arena_tensor(ov_arena *a, ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape);
/* Current top; pass it to ov_arena_release() to free everything allocated after it. */
size_t ov_arena_mark(const ov_arena *a);
void ov_arena_release(ov_arena *a, size_t mark);

#endif
