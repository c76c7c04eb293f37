/* Qwen2 decoder forward: embed, N x (attention + SwiGLU MLP) with a KV cache, final norm, lm_head.
 * Reference: huggingface/transformers src/transformers/models/qwen2/modeling_qwen2.py
 * (Qwen2Model.forward, Qwen2DecoderLayer, Qwen2Attention, Qwen2MLP, Qwen2RMSNorm). */
#include <string.h>

#include "common/error.h"
#include "common/tensor/ops.h"
#include "workers/qwen/qwen_internal.h"

#define TRY(x)                                                                                               \
    do {                                                                                                     \
        if ((rc = (x)) != 0)                                                                                 \
            goto out;                                                                                        \
    } while (0)

/* lm_head runs over at most this many rows at a time, so a logits buffer of rows x vocab stays
 * small (a full 152k-row f32 head is 600 KB per row). */
#define LM_HEAD_ROWS 16

static size_t tbytes(int64_t n_floats)
{
    return (size_t)n_floats * sizeof(float) + 256;
}

size_t ov_qwen_arena_bytes(const ov_qwen_info *in, int64_t rows)
{
    int64_t qd = (int64_t)in->n_heads * in->head_dim;
    size_t b = 0;
    b += 2 * tbytes(rows * in->hidden);       /* hidden_states, normed / block output */
    b += 2 * tbytes(rows * qd);               /* query_states, attn_output */
    b += tbytes(rows * in->intermediate);     /* silu(gate)·up (ov_op_linear_swiglu: no [R, I] up) */
    b += tbytes((rows < LM_HEAD_ROWS ? rows : LM_HEAD_ROWS) * in->vocab); /* logits */
    b += tbytes(LM_HEAD_ROWS * in->hidden);                               /* final-normed rows */
    return b + 4096;
}

/* Qwen2Attention.forward for rows [pos, pos + R): q/k/v projections (with bias), NEOX RoPE on q and
 * k, k/v appended to the cache, causal GQA attention over [0, pos + R), o_proj (no bias).
 * `h` [R, hidden] is the input_layernorm output; o_proj's output is added to the residual stream
 * `x` [R, hidden] in place (Qwen2DecoderLayer's `hidden_states = residual + hidden_states`, fused
 * into the projection: ov_op_linear_add). */
static int attention_block(ov_qwen *q, int l, const ov_tensor *h, int64_t pos, ov_tensor *x)
{
    const ov_qwen_info *in = &q->info;
    ov_qwen_layer *L = &q->layers[l];
    int64_t R = h->shape[0], D = in->head_dim, Hq = in->n_heads, Hkv = in->n_kv_heads;
    size_t mark = ov_arena_mark(&q->arena);
    int rc;
    ov_tensor query, query4, key4, key2, value4, value2, attn, attn4, qv, kv, vv, ov, attn2;
    int64_t s_q2[2] = {R, Hq * D}, s_q4[4] = {1, R, Hq, D}, s_kv2[2] = {R, Hkv * D};
    static const int perm[4] = {0, 2, 1, 3};

    TRY(ov_arena_tensor(&q->arena, &query, "query_states", q->be->act_dtype, 2, s_q2));
    TRY(ov_op_linear(&query, h, &L->q_proj_w, &L->q_proj_b));
    TRY(ov_tensor_reshape(&query4, &query, 4, s_q4));
    TRY(ov_op_rope_neox(&query4, &query4, pos, in->rope_theta));

    /* key/value projections write straight into the cache rows of these positions */
    TRY(ov_qwen_kv_rows(q, l, 0, pos, R, &key4));
    TRY(ov_tensor_reshape(&key2, &key4, 2, s_kv2));
    TRY(ov_op_linear(&key2, h, &L->k_proj_w, &L->k_proj_b));
    TRY(ov_op_rope_neox(&key4, &key4, pos, in->rope_theta));
    TRY(ov_qwen_kv_rows(q, l, 1, pos, R, &value4));
    TRY(ov_tensor_reshape(&value2, &value4, 2, s_kv2));
    TRY(ov_op_linear(&value2, h, &L->v_proj_w, &L->v_proj_b));

    /* softmax(q·kᵀ/√D + causal)·v; query head h reads kv head h / (Hq/Hkv) (repeat_kv) */
    TRY(ov_arena_tensor(&q->arena, &attn4, "attn_output", q->be->act_dtype, 4, s_q4));
    TRY(ov_tensor_permute(&qv, &query4, perm));
    TRY(ov_tensor_permute(&ov, &attn4, perm));
    TRY(ov_qwen_kv_view(q, l, 0, pos + R, &kv));
    TRY(ov_qwen_kv_view(q, l, 1, pos + R, &vv));
    ov_attn_params ap = {.scale = 0.0f, .causal = 1, .q_pos_offset = pos, .bias = NULL};
    TRY(ov_op_attention(&ov, &qv, &kv, &vv, &ap));
    TRY(ov_tensor_reshape(&attn2, &attn4, 2, s_q2));
    attn = attn2;
    TRY(ov_op_linear_add(x, &attn, &L->o_proj_w, NULL, x));
out:
    ov_arena_release(&q->arena, mark);
    return rc;
}

/* Qwen2MLP: down_proj(silu(gate_proj(h)) * up_proj(h)), no biases; down_proj's output is added to
 * the residual stream `x` in place (ov_op_linear_add), the gate/up pair runs as one op
 * (ov_op_linear_swiglu). */
static int mlp_block(ov_qwen *q, int l, const ov_tensor *h, ov_tensor *x)
{
    ov_qwen_layer *L = &q->layers[l];
    int64_t R = h->shape[0];
    int64_t s[2] = {R, q->info.intermediate};
    size_t mark = ov_arena_mark(&q->arena);
    int rc;
    ov_tensor act;
    TRY(ov_arena_tensor(&q->arena, &act, "gate_up_act", q->be->act_dtype, 2, s));
    TRY(ov_op_linear_swiglu(&act, h, &L->gate_proj, &L->up_proj));
    TRY(ov_op_linear_add(x, &act, &L->down_proj, NULL, x));
out:
    ov_arena_release(&q->arena, mark);
    return rc;
}

int ov_qwen_forward(ov_qwen *q, const int32_t *ids, int64_t n, int64_t n_logits, float *out)
{
    const ov_qwen_info *in = &q->info;
    int64_t pos = q->n_past, H = in->hidden;
    if (n < 1 || n > OV_QWEN_PREFILL_CHUNK || n_logits < 0 || n_logits > n)
        return ov_tensor_fail(OV_EINVAL, "qwen forward: %lld tokens, %lld logits rows", (long long)n,
                              (long long)n_logits);
    if (pos + n > in->ctx_max)
        return ov_tensor_fail(OV_ERANGE, "qwen forward: %lld + %lld tokens exceed the KV cache (%lld)",
                              (long long)pos, (long long)n, (long long)in->ctx_max);
    size_t mark = ov_arena_mark(&q->arena);
    int rc;
    ov_tensor x, h;
    int64_t s_x[2] = {n, H};
    TRY(ov_arena_tensor(&q->arena, &x, "hidden_states", q->be->act_dtype, 2, s_x));
    TRY(ov_arena_tensor(&q->arena, &h, "normed", q->be->act_dtype, 2, s_x));
    TRY(ov_op_embedding_host(&x, &q->embed_tokens, ids, n)); /* ids checked on the host, no round trip */

    for (int l = 0; l < in->n_layers; l++) {
        ov_qwen_layer *L = &q->layers[l];
        /* residual + self_attn(input_layernorm(x)): the add is o_proj's (attention_block) */
        TRY(ov_op_rms_norm(&h, &x, &L->input_layernorm, in->rms_eps));
        TRY(attention_block(q, l, &h, pos, &x));
        /* residual + mlp(post_attention_layernorm(x)): the add is down_proj's (mlp_block) */
        TRY(ov_op_rms_norm(&h, &x, &L->post_attention_layernorm, in->rms_eps));
        TRY(mlp_block(q, l, &h, &x));
    }
    q->n_past = pos + n;

    /* norm + lm_head on the rows whose logits are wanted, LM_HEAD_ROWS at a time */
    for (int64_t r0 = n - n_logits; r0 < n; r0 += LM_HEAD_ROWS) {
        int64_t cnt = n - r0 < LM_HEAD_ROWS ? n - r0 : LM_HEAD_ROWS;
        size_t m2 = ov_arena_mark(&q->arena);
        ov_tensor rows, normed, logits;
        int64_t s_n[2] = {cnt, H}, s_l[2] = {cnt, in->vocab};
        TRY(ov_tensor_slice(&rows, &x, 0, r0, cnt));
        TRY(ov_arena_tensor(&q->arena, &normed, "final_norm", q->be->act_dtype, 2, s_n));
        TRY(ov_op_rms_norm(&normed, &rows, &q->norm, in->rms_eps));
        TRY(ov_arena_tensor(&q->arena, &logits, "logits", OV_DTYPE_F32, 2, s_l));
        TRY(ov_op_linear(&logits, &normed, &q->lm_head, NULL));
        TRY(ov_tensor_download(&logits, out + (r0 - (n - n_logits)) * in->vocab,
                               (size_t)(cnt * in->vocab) * sizeof(float)));
        ov_arena_release(&q->arena, m2);
    }
out:
    ov_arena_release(&q->arena, mark);
    return rc;
}

int ov_qwen_logits(ov_qwen *q, const int32_t *ids, size_t n, float *out)
{
    if (!q || !ids || !out || n == 0)
        return ov_tensor_fail(OV_EINVAL, "qwen logits: empty input");
    if ((int64_t)n > q->info.ctx_max)
        return ov_tensor_fail(OV_ERANGE, "qwen logits: %zu tokens exceed the KV cache (%lld)", n,
                              (long long)q->info.ctx_max);
    ov_qwen_kv_clear(q);
    for (size_t i = 0; i < n; i += OV_QWEN_PREFILL_CHUNK) {
        size_t cnt = n - i < OV_QWEN_PREFILL_CHUNK ? n - i : OV_QWEN_PREFILL_CHUNK;
        int rc = ov_qwen_forward(q, ids + i, (int64_t)cnt, (int64_t)cnt, out + i * (size_t)q->info.vocab);
        if (rc) {
            ov_qwen_kv_clear(q);
            return rc;
        }
    }
    return 0;
}
