/* Internal to the CPU backend: the thread pool, weight-row conversion and the per-family entries. */
#ifndef OV_CPU_INTERNAL_H
#define OV_CPU_INTERNAL_H

#include <stdint.h>

#include "common/tensor/backend.h"

/* Run fn(ctx, begin, end) over [0, n) split into chunks of at least min_chunk items, on the
 * pool's threads plus the caller; returns when every chunk is done. Nested calls (from inside a
 * task) run inline. fn must not fail (collect errors in ctx). */
typedef void (*ov_cpu_task_fn)(void *ctx, int64_t begin, int64_t end);
void ov_cpu_parallel(int64_t n, int64_t min_chunk, ov_cpu_task_fn fn, void *ctx);
int ov_cpu_threads(void);

/* OpenBLAS threads off while our own pool runs sgemm-calling tasks (restored on end). */
void ov_cpu_blas_single_begin(void);
void ov_cpu_blas_single_end(void);

/* Convert n elements of a weight/act stored as dtype at src (contiguous) to f32, times scale. */
void ov_cpu_to_f32(int dtype, const void *src, float *dst, int64_t n, float scale);
/* Byte pointer of element `elem` (an index in elements) of a tensor's storage. */
static inline const uint8_t *ov_cpu_elem_ptr(const ov_tensor *t, int64_t elem)
{
    return (const uint8_t *)t->data + ov_tensor_elem_offset_bytes(t->dtype, elem);
}
/* A small f32 vector (bias, gamma) as f32: returns t's data if already f32, else converts into
 * a malloc'd buffer stored in *tmp (caller frees *tmp). NULL t gives NULL. */
const float *ov_cpu_vec_f32(const ov_tensor *t, float **tmp);
/* Whole weight as f32 (same: returns data when f32 with scale 1, else a malloc'd copy in *tmp).
 * NULL (OV_ENOMEM) when the copy cannot be allocated. */
const float *ov_cpu_weight_f32(const ov_tensor *t, float **tmp);

/* entries (one file per family) */
int ov_cpu_copy(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cpu_concat(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim);
int ov_cpu_pad(ov_backend *be, ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after,
               float value);
int ov_cpu_upsample_nearest2x(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cpu_linear(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b);
int ov_cpu_matmul(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a,
                  int trans_b, float alpha);
int ov_cpu_linear_add(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                      const ov_tensor *b, const ov_tensor *r);
int ov_cpu_linear_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate,
                         const ov_tensor *w_up);
int ov_cpu_conv2d(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                  const ov_conv2d_params *p);
int ov_cpu_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                         const ov_tensor *b, const ov_conv3d_params *p);
int ov_cpu_layer_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps);
int ov_cpu_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps);
int ov_cpu_group_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                      const ov_tensor *beta, float eps);
int ov_cpu_channel_rms_norm(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma,
                            float eps);
int ov_cpu_unary(ov_backend *be, ov_tensor *y, const ov_tensor *x, int kind, float a, float b);
int ov_cpu_binary(ov_backend *be, ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int kind);
int ov_cpu_modulate(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *shift,
                    const ov_tensor *scale);
int ov_cpu_geglu(ov_backend *be, ov_tensor *y, const ov_tensor *x);
int ov_cpu_swiglu(ov_backend *be, ov_tensor *y, const ov_tensor *gate, const ov_tensor *up);
int ov_cpu_softmax(ov_backend *be, ov_tensor *y, const ov_tensor *x, float scale);
int ov_cpu_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                     const ov_attn_params *p);
int ov_cpu_rope_neox(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta);
int ov_cpu_rope_wan3d(ov_backend *be, ov_tensor *y, const ov_tensor *x, int64_t gt, int64_t gh, int64_t gw,
                      float theta);
int ov_cpu_timestep_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p);
int ov_cpu_embedding(ov_backend *be, ov_tensor *y, const ov_tensor *table, const ov_tensor *ids);
int ov_cpu_embedding_host(ov_backend *be, ov_tensor *y, const ov_tensor *table, const int32_t *id, int64_t n);

/* Every CPU entry computes in f32: anything else is refused with this. */
int ov_cpu_need_f32(const char *op, int n, const ov_tensor *const *ts);
#define OV_CPU_NEED_F32(op, ...)                                                                             \
    do {                                                                                                     \
        const ov_tensor *ts_[] = {__VA_ARGS__};                                                              \
        int rc_ = ov_cpu_need_f32(op, (int)(sizeof ts_ / sizeof ts_[0]), ts_);                               \
        if (rc_)                                                                                             \
            return rc_;                                                                                      \
    } while (0)

#endif
