/* Prompt templates for Qwen2.5: ChatML for Instruct models, a plain completion prompt for Base ones.
 * Reference: the chat_template of Qwen/Qwen2.5-7B-Instruct tokenizer_config.json (ChatML), rendered by
 * huggingface/transformers apply_chat_template and tokenized by huggingface/tokenizers, which splits
 * the rendered text at added tokens and tokenizes the pieces between them independently. */
#include "workers/qwen/chat_template.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/utf8.h"

const char *ov_prompt_style_name(int style)
{
    switch (style) {
    case OV_PROMPT_AUTO: return "auto";
    case OV_PROMPT_CHAT: return "chat";
    case OV_PROMPT_BASE: return "base";
    default: return "?";
    }
}

int ov_prompt_style_parse(const char *name, int *out)
{
    static const char *const names[] = {"auto", "chat", "base"};
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return OV_EINVAL;
}

int ov_prompt_style_resolve(int style, int has_chat_template)
{
    if (style == OV_PROMPT_AUTO)
        return has_chat_template ? OV_PROMPT_CHAT : OV_PROMPT_BASE;
    return style;
}

/* Length of the longest prefix of p[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_complete_prefix(const uint8_t *p, size_t n)
{
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        uint8_t c = p[n - back];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte: keep looking for its lead */
        size_t need = c < 0x80             ? 1
                      : (c & 0xE0) == 0xC0 ? 2
                      : (c & 0xF0) == 0xE0 ? 3
                      : (c & 0xF8) == 0xF0 ? 4
                                           : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static int encode_plain(ov_tok_qwen *tok, const char *s, size_t n, ov_tok_ids *out)
{
    return n ? ov_tok_qwen_encode(tok, s, n, OV_TOK_PLAIN_TEXT, out, NULL) : 0;
}

/* "<head><body>" encoded as one plain segment (body is untrusted user text). */
static int encode_joined(ov_tok_qwen *tok, const char *head, const char *body, size_t body_len,
                         ov_buf *scratch, ov_tok_ids *out)
{
    ov_buf_reset(scratch);
    if (ov_buf_puts(scratch, head) || (body_len && ov_buf_append(scratch, body, body_len)))
        return OV_ENOMEM;
    return encode_plain(tok, scratch->data, scratch->len, out);
}

/* The whole prompt around user text u[0..un). */
static int assemble(ov_tok_qwen *tok, const ov_prompt_parts *pp, const char *u, size_t un, ov_buf *scratch,
                    ov_tok_ids *out)
{
    ov_tok_ids_reset(out);
    int rc;
    if (pp->style == OV_PROMPT_CHAT) {
        int32_t start = ov_tok_qwen_token_id(tok, "<|im_start|>"),
                end = ov_tok_qwen_token_id(tok, "<|im_end|>");
        if (start < 0 || end < 0)
            return OV_EINVAL;
        const char *sys = pp->system ? pp->system : OV_QWEN_DEFAULT_SYSTEM;
        if ((rc = ov_tok_ids_push(out, start)) ||
            (rc = encode_joined(tok, "system\n", sys, strlen(sys), scratch, out)) ||
            (rc = ov_tok_ids_push(out, end)) || (rc = encode_plain(tok, "\n", 1, out)) ||
            (rc = ov_tok_ids_push(out, start)) || (rc = encode_joined(tok, "user\n", u, un, scratch, out)) ||
            (rc = ov_tok_ids_push(out, end)) || (rc = encode_plain(tok, "\n", 1, out)) ||
            (rc = ov_tok_ids_push(out, start)) || (rc = encode_plain(tok, "assistant\n", 10, out)))
            return rc;
        return 0;
    }
    ov_buf_reset(scratch);
    int brc = 0;
    if (pp->system && *pp->system)
        brc |= ov_buf_puts(scratch, pp->system) | ov_buf_puts(scratch, "\n\n");
    if (pp->base_prefix)
        brc |= ov_buf_puts(scratch, pp->base_prefix);
    if (un)
        brc |= ov_buf_append(scratch, u, un);
    if (pp->base_suffix)
        brc |= ov_buf_puts(scratch, pp->base_suffix);
    if (brc)
        return OV_ENOMEM;
    return encode_plain(tok, scratch->data, scratch->len, out);
}

int ov_prompt_build(ov_tok_qwen *tok, const ov_prompt_parts *parts, size_t max_user_tokens, size_t max_total,
                    ov_tok_ids *out, ov_prompt_info *info)
{
    if (!tok || !parts || !out || (!parts->user && parts->user_len) ||
        (parts->style != OV_PROMPT_CHAT && parts->style != OV_PROMPT_BASE))
        return OV_EINVAL;
    ov_prompt_info inf = {0};
    const char *user = parts->user ? parts->user : "";
    size_t ulen = parts->user_len;
    if (ulen > OV_TOK_QWEN_MAX_INPUT) { /* the encoder's own cap; callers cap far lower */
        ulen = utf8_complete_prefix((const uint8_t *)user, OV_TOK_QWEN_MAX_INPUT);
        inf.truncated = 1;
    }
    ov_tok_ids uids, kept;
    ov_tok_ids_init(&uids, OV_TOK_QWEN_MAX_INPUT + 16);
    ov_tok_ids_init(&kept, OV_TOK_QWEN_MAX_INPUT + 16);
    ov_buf scratch, text;
    ov_buf_init(&scratch, 2 * (size_t)OV_TOK_QWEN_MAX_INPUT + 65536);
    ov_buf_init(&text, (size_t)OV_TOK_QWEN_MAX_INPUT + 16);
    int rc = encode_plain(tok, user, ulen, &uids);
    if (rc)
        goto done;
    inf.user_tokens = uids.len;
    size_t limit = uids.len;
    if (max_user_tokens && limit > max_user_tokens)
        limit = max_user_tokens;
    /* Cut, rebuild, measure: a cut inside a word can re-tokenize into a few more or fewer ids, so
     * repeat with the measured excess until both limits hold (bounded: the limit only shrinks). */
    for (int round = 0;; round++) {
        const char *u = user;
        size_t un = ulen;
        if (limit < uids.len) {
            ov_buf_reset(&text);
            if ((rc = ov_tok_qwen_decode(tok, uids.v, limit, 0, &text)))
                goto done;
            un = utf8_complete_prefix((const uint8_t *)text.data, text.len);
            u = text.len ? text.data : "";
            if (!ov_utf8_valid((const uint8_t *)u, un)) {
                rc = OV_EINTERNAL;
                goto done;
            }
        }
        size_t excess = 0;
        if (limit < uids.len && max_user_tokens) {
            ov_tok_ids_reset(&kept);
            if ((rc = encode_plain(tok, u, un, &kept)))
                goto done;
            if (kept.len > max_user_tokens)
                excess = kept.len - max_user_tokens;
        }
        if (!excess) {
            if ((rc = assemble(tok, parts, u, un, &scratch, out)))
                goto done;
            if (max_total && out->len > max_total)
                excess = out->len - max_total;
        }
        if (!excess) {
            inf.truncated |= limit < uids.len;
            inf.user_bytes_kept = un;
            inf.user_tokens_kept = limit < uids.len ? kept.len : uids.len;
            if (limit < uids.len && !max_user_tokens) { /* kept not measured yet */
                ov_tok_ids_reset(&kept);
                if ((rc = encode_plain(tok, u, un, &kept)))
                    goto done;
                inf.user_tokens_kept = kept.len;
            }
            inf.total_tokens = out->len;
            break;
        }
        if (limit == 0 || round > 64) {
            ov_tok_ids_reset(out);
            rc = OV_ERANGE; /* the template alone does not fit */
            goto done;
        }
        limit = limit > excess ? limit - excess : 0;
    }
done:
    ov_tok_ids_free(&uids);
    ov_tok_ids_free(&kept);
    ov_buf_free(&scratch);
    ov_buf_free(&text);
    if (info)
        *info = inf;
    return rc;
}
