/* Qwen2 KV cache: one token-major K and V buffer per layer, filled by prefill and decode. */
#include <stdio.h>

#include "common/error.h"
#include "workers/qwen/qwen_internal.h"

/* Layout [1, ctx_max, kv_heads, head_dim]: the rows a forward pass appends are one contiguous
 * block, so the k/v projections write straight into the cache (the [B, L, H, D] output of a
 * linear), and attention reads the [1, kv_heads, len, head_dim] permuted view without a copy.
 * (transformers' DynamicCache concatenates [B, H, L, D] per step instead; same values.) */
int ov_qwen_kv_alloc(ov_qwen *q)
{
    const ov_qwen_info *in = &q->info;
    int64_t shape[4] = {1, in->ctx_max, in->n_kv_heads, in->head_dim};
    int64_t bytes = 0;
    for (int l = 0; l < in->n_layers; l++) {
        char name[64];
        for (int v = 0; v < 2; v++) {
            snprintf(name, sizeof name, "kv_cache.%d.%s", l, v ? "v" : "k");
            ov_tensor *t = v ? &q->layers[l].v_cache : &q->layers[l].k_cache;
            int rc = ov_mem_alloc_tensor(&q->mem, t, name, q->be->act_dtype, 4, shape);
            if (rc)
                return rc;
            bytes += (int64_t)ov_tensor_nbytes(t);
        }
    }
    q->info.kv_bytes = bytes;
    q->n_past = 0;
    return 0;
}

void ov_qwen_kv_free(ov_qwen *q)
{
    if (!q->layers)
        return;
    for (int l = 0; l < q->info.n_layers; l++) {
        ov_mem_free_tensor(&q->mem, &q->layers[l].k_cache);
        ov_mem_free_tensor(&q->mem, &q->layers[l].v_cache);
    }
}

/* Stale rows past n_past are never read (attention sees [0, n_past) only), so clearing is O(1). */
void ov_qwen_kv_clear(ov_qwen *q)
{
    q->n_past = 0;
}

int ov_qwen_kv_rows(ov_qwen *q, int layer, int is_v, int64_t pos, int64_t n, ov_tensor *out)
{
    const ov_tensor *c = is_v ? &q->layers[layer].v_cache : &q->layers[layer].k_cache;
    if (pos < 0 || n < 1 || pos + n > q->info.ctx_max)
        return ov_tensor_fail(OV_ERANGE, "qwen kv cache: rows [%lld, %lld) past ctx_max %lld", (long long)pos,
                              (long long)(pos + n), (long long)q->info.ctx_max);
    return ov_tensor_slice(out, c, 1, pos, n);
}

int ov_qwen_kv_view(ov_qwen *q, int layer, int is_v, int64_t len, ov_tensor *out)
{
    ov_tensor rows;
    int rc = ov_qwen_kv_rows(q, layer, is_v, 0, len, &rows);
    if (rc)
        return rc;
    static const int perm[4] = {0, 2, 1, 3};
    return ov_tensor_permute(out, &rows, perm);
}
