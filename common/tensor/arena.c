/* Device-memory budget per worker: owned weight tensors and bump arenas with mark/release. */
#include "common/tensor/arena.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

#define OV_ARENA_ALIGN 256

void ov_mem_init(ov_mem *m, ov_backend *be, size_t budget_bytes)
{
    memset(m, 0, sizeof *m);
    m->backend = be;
    m->budget_bytes = budget_bytes ? budget_bytes : SIZE_MAX;
}

static int mem_reserve(ov_mem *m, const char *what, const char *name, size_t bytes)
{
    if (bytes > m->budget_bytes - m->used_bytes)
        return ov_tensor_fail(OV_EBUDGET,
                              "%s '%s': %zu bytes asked, %zu used of a %zu byte budget on %s (%zu short)",
                              what, name, bytes, m->used_bytes, m->budget_bytes,
                              m->backend ? m->backend->name : "?", bytes - (m->budget_bytes - m->used_bytes));
    m->used_bytes += bytes;
    if (m->used_bytes > m->peak_bytes)
        m->peak_bytes = m->used_bytes;
    return 0;
}

int ov_mem_alloc_tensor(ov_mem *m, ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape)
{
    int rc = ov_tensor_init(t, name, dtype, ndim, shape, NULL, m->backend);
    if (rc)
        return rc;
    size_t bytes = ov_tensor_nbytes(t);
    if ((rc = mem_reserve(m, "tensor", t->name, bytes)))
        return rc;
    void *p = NULL;
    if (bytes && (rc = m->backend->ops->alloc(m->backend, bytes, &p))) {
        m->used_bytes -= bytes;
        return ov_tensor_fail(rc, "tensor '%s': backend %s could not allocate %zu bytes", t->name,
                              m->backend->name, bytes);
    }
    t->data = p;
    t->flags |= OV_TENSOR_OWNED;
    m->n_allocs++;
    return 0;
}

void ov_mem_free_tensor(ov_mem *m, ov_tensor *t)
{
    if (!(t->flags & OV_TENSOR_OWNED))
        return;
    size_t bytes = ov_tensor_nbytes(t);
    if (t->data)
        m->backend->ops->free(m->backend, t->data);
    m->used_bytes -= bytes < m->used_bytes ? bytes : m->used_bytes;
    m->n_allocs--;
    memset(t, 0, sizeof *t);
}

int ov_arena_init(ov_arena *a, ov_mem *m, const char *name, size_t capacity_bytes)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name ? name : "arena");
    capacity_bytes = (capacity_bytes + OV_ARENA_ALIGN - 1) / OV_ARENA_ALIGN * OV_ARENA_ALIGN;
    int rc = mem_reserve(m, "arena", a->name, capacity_bytes);
    if (rc)
        return rc;
    void *p = NULL;
    if (capacity_bytes && (rc = m->backend->ops->alloc(m->backend, capacity_bytes, &p))) {
        m->used_bytes -= capacity_bytes;
        return ov_tensor_fail(rc, "arena '%s': backend %s could not allocate %zu bytes", a->name,
                              m->backend->name, capacity_bytes);
    }
    a->mem = m;
    a->base = p;
    a->capacity_bytes = capacity_bytes;
    m->n_allocs++;
    return 0;
}

void ov_arena_free(ov_arena *a)
{
    if (!a->mem)
        return;
    if (a->base)
        a->mem->backend->ops->free(a->mem->backend, a->base);
    a->mem->used_bytes -= a->capacity_bytes;
    a->mem->n_allocs--;
    memset(a, 0, sizeof *a);
}

int ov_arena_tensor(ov_arena *a, ov_tensor *t, const char *name, int dtype, int ndim, const int64_t *shape)
{
    if (!a->mem)
        return ov_tensor_fail(OV_EINVAL, "arena: tensor '%s' from an arena that is not initialised",
                              name ? name : "");
    int rc = ov_tensor_init(t, name, dtype, ndim, shape, NULL, a->mem->backend);
    if (rc)
        return rc;
    size_t bytes = ov_tensor_nbytes(t);
    size_t need = (bytes + OV_ARENA_ALIGN - 1) / OV_ARENA_ALIGN * OV_ARENA_ALIGN;
    if (need < bytes || need > a->capacity_bytes - a->top_bytes) {
        char sb[96];
        return ov_tensor_fail(OV_EBUDGET,
                              "arena '%s': tensor '%s' %s needs %zu bytes, %zu used of %zu (%zu short)",
                              a->name, t->name, ov_tensor_shape_str(t, sb, sizeof sb), bytes, a->top_bytes,
                              a->capacity_bytes, need - (a->capacity_bytes - a->top_bytes));
    }
    t->data = a->base + a->top_bytes;
    t->flags |= OV_TENSOR_ARENA;
    a->top_bytes += need;
    if (a->top_bytes > a->peak_bytes)
        a->peak_bytes = a->top_bytes;
    return 0;
}

size_t ov_arena_mark(const ov_arena *a)
{
    return a->top_bytes;
}

void ov_arena_release(ov_arena *a, size_t mark)
{
    if (mark < a->top_bytes)
        a->top_bytes = mark;
}
