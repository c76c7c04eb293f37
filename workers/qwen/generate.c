/* Generation: batched prefill on a fresh cache, then one token per step with the sampler,
 * stop ids, max_new_tokens, the KV cache size and a deadline; streaming-safe UTF-8 pieces.
 * Reference: transformers generation/utils.py (GenerationMixin._sample: prefill, per-step
 * logits processors, eos stopping). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/bpe.h"
#include "workers/qwen/qwen_internal.h"
#include "workers/qwen/sample.h"

#define GEN_TEXT_MAX ((size_t)16 << 20)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void ov_gen_result_free(ov_gen_result *r)
{
    if (!r)
        return;
    free(r->ids);
    free(r->text);
    memset(r, 0, sizeof *r);
}

static int is_stop(const ov_qwen *q, const ov_gen_params *p, int32_t id)
{
    for (size_t i = 0; i < q->n_eos; i++)
        if (q->eos_ids[i] == id)
            return 1;
    for (size_t i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] == id)
            return 1;
    return 0;
}

static int past_deadline(const ov_gen_params *p)
{
    return p->deadline_ms > 0 && now_ms() >= (double)p->deadline_ms;
}

int ov_qwen_generate(ov_qwen *q, const int32_t *ids, size_t n, const ov_gen_params *p, ov_gen_token_fn cb,
                     void *cb_ctx, ov_gen_result *res)
{
    if (!res)
        return OV_EINVAL;
    memset(res, 0, sizeof *res);
    if (!q || !ids || n == 0 || !p)
        return ov_tensor_fail(OV_EINVAL, "qwen generate: empty prompt");
    if ((int64_t)n >= q->info.ctx_max)
        return ov_tensor_fail(OV_ERANGE,
                              "qwen generate: prompt of %zu tokens does not fit the %lld-token cache", n,
                              (long long)q->info.ctx_max);
    if (p->n_stop_ids && !p->stop_ids)
        return ov_tensor_fail(OV_EINVAL, "qwen generate: n_stop_ids without stop_ids");
    ov_sampler s;
    int rc = ov_sampler_init(&s, p, q->info.vocab);
    if (rc)
        return rc;
    const ov_bpe *bpe = ov_tok_qwen_bpe(q->tok);
    /* the logits row is downloaded every token: into the backend's host memory where it has some
     * (CUDA: pinned; 600 KB of Qwen2.5 logits took ~315 µs pageable on an H100, 4 % of a token) */
    const ov_backend_ops *bo = q->be->ops;
    int pinned = 0;
    float *logits = NULL;
    if (bo->host_alloc && bo->host_free) {
        void *hp = NULL;
        if (bo->host_alloc(q->be, (size_t)q->info.vocab * sizeof(float), &hp) == 0 && hp) {
            logits = hp;
            pinned = 1;
        }
    }
    if (!logits) /* no backend host memory (CPU) or none left: plain memory works, only slower */
        logits = malloc((size_t)q->info.vocab * sizeof(float));
    res->ids = malloc((size_t)p->max_new_tokens * sizeof(int32_t));
    ov_buf text, piece;
    ov_buf_init(&text, GEN_TEXT_MAX);
    ov_buf_init(&piece, 4096);
    ov_tok_stream st;
    ov_tok_stream_init(&st);
    if (!logits || !res->ids) {
        rc = ov_tensor_fail(OV_ENOMEM, "qwen generate: out of memory");
        goto out;
    }
    res->prompt_tokens = n;

    /* prefill: the prompt in batches of OV_QWEN_PREFILL_CHUNK rows, logits of its last token */
    double t0 = now_ms();
    ov_backend_phase(q->be, "prefill");
    ov_qwen_kv_clear(q);
    for (size_t i = 0; i < n; i += OV_QWEN_PREFILL_CHUNK) {
        size_t cnt = n - i < OV_QWEN_PREFILL_CHUNK ? n - i : OV_QWEN_PREFILL_CHUNK;
        if (i > 0 && past_deadline(p)) { /* a long prompt: stop between chunks, nothing generated */
            res->stop = OV_GEN_STOP_DEADLINE;
            res->prefill_ms = now_ms() - t0;
            goto finish;
        }
        if ((rc = ov_qwen_forward(q, ids + i, (int64_t)cnt, i + cnt == n ? 1 : 0, logits)))
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        ov_sampler_accept(&s, ids[i]);
    double t1 = now_ms();
    res->prefill_ms = t1 - t0;
    ov_backend_phase(q->be, "decode");

    for (;;) {
        int32_t id = ov_sampler_sample(&s, logits);
        if (is_stop(q, p, id)) {
            res->stop = OV_GEN_STOP_EOS;
            break;
        }
        res->ids[res->n_ids++] = id;
        ov_sampler_accept(&s, id);
        /* the text this token completes (special tokens and padding ids add nothing) */
        ov_buf_reset(&piece);
        int unused =
            q->unused && (size_t)id < ov_tok_qwen_vocab_size(q->tok) && (q->unused[id >> 3] >> (id & 7)) & 1;
        int prc = unused ? 0 : ov_tok_stream_push(&st, bpe, id, OV_TOK_SKIP_SPECIAL, &piece);
        if (prc && prc != OV_ENOENT) {
            rc = prc;
            goto out;
        }
        if (piece.len && (rc = ov_buf_append(&text, piece.data, piece.len)))
            goto out;
        if (cb && cb(cb_ctx, id, piece.len ? piece.data : "", piece.len)) {
            res->stop = OV_GEN_STOP_CALLBACK;
            break;
        }
        if (res->n_ids >= (size_t)p->max_new_tokens) {
            res->stop = OV_GEN_STOP_MAX_TOKENS;
            break;
        }
        if (q->n_past >= q->info.ctx_max) {
            res->stop = OV_GEN_STOP_CONTEXT;
            break;
        }
        if (past_deadline(p)) {
            res->stop = OV_GEN_STOP_DEADLINE;
            break;
        }
        if ((rc = ov_qwen_forward(q, &id, 1, 1, logits)))
            goto out;
    }
    res->decode_ms = now_ms() - t1;
finish:
    /* a character cut off at the end becomes U+FFFD, like HF decode with errors="replace" */
    ov_buf_reset(&piece);
    if ((rc = ov_tok_stream_flush(&st, &piece)) ||
        (piece.len && (rc = ov_buf_append(&text, piece.data, piece.len))))
        goto out;
    res->text = malloc(text.len + 1);
    if (!res->text) {
        rc = ov_tensor_fail(OV_ENOMEM, "qwen generate: out of memory");
        goto out;
    }
    if (text.len)
        memcpy(res->text, text.data, text.len);
    res->text[text.len] = '\0';
    res->text_len = text.len;
out:
    ov_buf_free(&text);
    ov_buf_free(&piece);
    if (pinned)
        bo->host_free(q->be, logits);
    else
        free(logits);
    ov_sampler_free(&s);
    if (rc)
        ov_gen_result_free(res);
    return rc;
}
