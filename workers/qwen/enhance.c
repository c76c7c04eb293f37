/* One prompt enhancement: template, generation under a deadline, cleanup, and an explicit fallback.
 * Behaviour of the enhancer we replace: OURVIDZ-CONTRACT.md §6 (Qwen2.5-7B Base, completion prompt
 * ending in "Enhanced prompt:", input cut to 1024 tokens, sampling 0.7/0.9/40/1.1, answer longer
 * than 10 characters, original prompt on failure). Unlike it, a fallback is never silent. */
#include "workers/qwen/enhance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/text/utf8.h"
#include "workers/qwen/chat_template.h"

#define PROGRESS_EVERY 8 /* tokens between progress reports */

const char *ov_enhance_stop_name(int stop)
{
    switch (stop) {
    case OV_GEN_STOP_EOS: return "eos";
    case OV_GEN_STOP_MAX_TOKENS: return "max_tokens";
    case OV_GEN_STOP_CONTEXT: return "context";
    case OV_GEN_STOP_DEADLINE: return "deadline";
    case OV_GEN_STOP_CALLBACK: return "cancel";
    default: return "none";
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ov_enhance_result_free(ov_enhance_result *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

/* Offset of the first invalid UTF-8 byte (n when valid). */
static size_t first_invalid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = ov_utf8_decode1(p + i, n - i, &cp);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* Same text ignoring case, surrounding blanks and a final full stop ("A cat." == "a cat"). */
static int same_text(const char *a, size_t an, const char *b, size_t bn)
{
    while (an && (a[0] == ' ' || a[0] == '\n' || a[0] == '\t'))
        a++, an--;
    while (bn && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t'))
        b++, bn--;
    while (an && (a[an - 1] == ' ' || a[an - 1] == '\n' || a[an - 1] == '\t' || a[an - 1] == '.'))
        an--;
    while (bn && (b[bn - 1] == ' ' || b[bn - 1] == '\n' || b[bn - 1] == '\t' || b[bn - 1] == '.'))
        bn--;
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
        char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

typedef struct tok_ctx {
    const ov_enhance_req *req;
    int64_t n, total;
} tok_ctx;

static int on_token(void *ctx, int32_t id, const char *piece, size_t piece_len)
{
    (void)id;
    (void)piece;
    (void)piece_len;
    tok_ctx *t = ctx;
    t->n++;
    if (t->req->progress && (t->n % PROGRESS_EVERY) == 0)
        return t->req->progress(t->req->progress_ctx, t->n, t->total);
    return 0;
}

static int fall_back(ov_enhance_result *res, const ov_enhance_req *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Use the original prompt, recording why. 0 or OV_ENOMEM. */
static int fall_back(ov_enhance_result *res, const ov_enhance_req *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
    res->enhanced = 0;
    free(res->text);
    res->text = malloc(req->prompt_len + 1);
    if (!res->text)
        return OV_ENOMEM;
    memcpy(res->text, req->prompt, req->prompt_len);
    res->text[req->prompt_len] = '\0';
    return 0;
}

int ov_enhance_run(ov_qwen *q, const ov_enhance_cfg *cfg, const ov_enhance_req *req, ov_enhance_result *res,
                   char *err, size_t errlen)
{
    if (!res)
        return OV_EINVAL;
    memset(res, 0, sizeof *res);
    if (err && errlen)
        err[0] = '\0';
    int64_t t0 = now_ms();
    if (!q || !cfg || !req || (!req->prompt && req->prompt_len) || req->mode < 0 ||
        req->mode >= OV_ENHANCE_MODES) {
        snprintf(err, errlen, "enhance: bad arguments");
        return OV_EINVAL;
    }
    const char *p = req->prompt ? req->prompt : "";
    size_t blank = 0;
    while (blank < req->prompt_len &&
           (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\n' || p[blank] == '\r'))
        blank++;
    if (blank == req->prompt_len) {
        snprintf(err, errlen, "the prompt is empty");
        return OV_EINVAL;
    }
    size_t bad = first_invalid((const uint8_t *)p, req->prompt_len);
    if (bad < req->prompt_len) {
        snprintf(err, errlen, "the prompt is not valid UTF-8 (bad byte 0x%02x at offset %zu)",
                 (unsigned char)p[bad], bad);
        return OV_EINVAL;
    }
    if (memchr(p, '\0', req->prompt_len)) {
        snprintf(err, errlen, "the prompt contains a NUL byte");
        return OV_EINVAL;
    }
    const ov_qwen_info *info = ov_qwen_get_info(q);
    ov_tok_qwen *tok = ov_qwen_tokenizer(q);
    res->mode = req->mode;
    res->style = ov_prompt_style_resolve(req->style ? req->style : cfg->style, info->has_chat_template);
    int64_t ctx = info->ctx_max > 0 ? info->ctx_max : 2048;
    int max_new = req->max_new_tokens > 0 ? req->max_new_tokens : cfg->max_new_tokens;
    if (max_new > ctx / 2)
        max_new = (int)(ctx / 2); /* leave half the context to the prompt */
    if (max_new < 1)
        max_new = 1;
    res->max_new_tokens = max_new;
    res->deadline_ms = req->deadline_ms > 0 ? req->deadline_ms : cfg->deadline_ms;

    /* Prompt: a cap in bytes first (cheap), then the token budget. */
    size_t plen = req->prompt_len;
    if (plen > OV_ENHANCE_PROMPT_MAX_BYTES) {
        plen = OV_ENHANCE_PROMPT_MAX_BYTES;
        while (plen && ((unsigned char)p[plen] & 0xC0) == 0x80)
            plen--;
    }
    ov_prompt_parts parts = {
        .style = res->style, .system = cfg->system[req->mode], .user = p, .user_len = plen};
    if (res->style == OV_PROMPT_BASE) {
        parts.base_prefix = OV_ENHANCE_BASE_PREFIX;
        parts.base_suffix = OV_ENHANCE_BASE_SUFFIX;
    }
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, (size_t)ctx + 16);
    ov_prompt_info pi;
    int rc = ov_prompt_build(tok, &parts, (size_t)cfg->max_input_tokens, (size_t)(ctx - max_new), &ids, &pi);
    res->input_tokens = pi.user_tokens;
    res->input_tokens_used = pi.user_tokens_kept;
    res->input_bytes_used = pi.user_bytes_kept;
    res->input_truncated = pi.truncated || plen < req->prompt_len;
    res->prompt_tokens = ids.len;
    if (rc) {
        ov_tok_ids_free(&ids);
        if (rc == OV_ENOMEM)
            return rc;
        rc = fall_back(res, req, "could not build the enhancement prompt: %s (context %lld tokens)",
                       ov_strerror(rc), (long long)ctx);
        res->total_ms = (double)(now_ms() - t0);
        return rc;
    }

    /* Stop on any end-of-turn token: <|im_end|> (Instruct), <|endoftext|> (Base), and a new turn. */
    int32_t stops[3];
    size_t nstop = 0;
    const char *stop_text[] = {"<|im_end|>", "<|endoftext|>", "<|im_start|>"};
    for (size_t i = 0; i < 3; i++) {
        int32_t id = ov_tok_qwen_token_id(tok, stop_text[i]);
        if (id >= 0)
            stops[nstop++] = id;
    }
    ov_gen_params gp = {
        .temperature = req->temperature >= 0 ? req->temperature : cfg->temperature,
        .top_k = cfg->top_k,
        .top_p = cfg->top_p,
        .repetition_penalty = cfg->repetition_penalty,
        .seed = req->seed,
        .max_new_tokens = max_new,
        .deadline_ms = now_ms() + res->deadline_ms,
        .stop_ids = stops,
        .n_stop_ids = nstop,
    };
    tok_ctx tc = {req, 0, max_new};
    ov_gen_result gen = {0};
    int grc = ov_qwen_generate(q, ids.v, ids.len, &gp, on_token, &tc, &gen);
    ov_tok_ids_free(&ids);
    res->stop = grc ? 0 : gen.stop;
    res->new_tokens = grc ? 0 : gen.n_ids;
    res->prefill_ms = gen.prefill_ms;
    res->decode_ms = gen.decode_ms;
    res->raw = strdup(!grc && gen.text ? gen.text : "");
    if (!res->raw) {
        ov_gen_result_free(&gen);
        return OV_ENOMEM;
    }
    if (grc == OV_EGPU) {
        snprintf(err, errlen, "generation failed with a device error");
        ov_gen_result_free(&gen);
        return OV_EGPU;
    }
    if (!grc && gen.stop == OV_GEN_STOP_CALLBACK) {
        snprintf(err, errlen, "cancelled after %zu tokens", gen.n_ids);
        ov_gen_result_free(&gen);
        return OV_ECANCELED;
    }
    if (grc) {
        ov_gen_result_free(&gen);
        rc = fall_back(res, req, "generation failed: %s", ov_strerror(grc));
    } else if (gen.stop == OV_GEN_STOP_DEADLINE) {
        rc = fall_back(res, req, "the deadline of %lld ms passed after %zu token%s",
                       (long long)res->deadline_ms, gen.n_ids, gen.n_ids == 1 ? "" : "s");
    } else {
        ov_clean_opts co = {.original = p,
                            .echo = cfg->system[req->mode],
                            .truncated =
                                gen.stop == OV_GEN_STOP_MAX_TOKENS || gen.stop == OV_GEN_STOP_CONTEXT,
                            .max_chars = (size_t)cfg->max_chars};
        ov_buf clean;
        ov_buf_init(&clean, (size_t)gen.text_len + 64);
        rc = ov_enhance_clean(gen.text, gen.text_len, &co, &clean, &res->cleaned);
        if (!rc) {
            size_t n = clean.len;
            if (n == 0)
                rc = fall_back(res, req, "the model's answer was empty%s (%zu tokens)",
                               gen.text_len ? " after cleanup" : "", gen.n_ids);
            else if (n < (size_t)cfg->min_chars)
                rc = fall_back(res, req,
                               "the model's answer was too short (%zu characters, at least %d needed)", n,
                               cfg->min_chars);
            else if (same_text(clean.data, n, p, req->prompt_len))
                rc = fall_back(res, req, "the model returned the prompt unchanged");
            else {
                res->text = malloc(n + 1);
                if (!res->text)
                    rc = OV_ENOMEM;
                else {
                    memcpy(res->text, clean.data, n);
                    res->text[n] = '\0';
                    res->enhanced = 1;
                }
            }
        }
        ov_buf_free(&clean);
    }
    if (!grc)
        ov_gen_result_free(&gen);
    res->total_ms = (double)(now_ms() - t0);
    return rc;
}
