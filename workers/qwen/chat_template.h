/* Prompt templates for Qwen2.5: ChatML for Instruct models, a plain completion prompt for Base ones. */
#ifndef OV_QWEN_CHAT_TEMPLATE_H
#define OV_QWEN_CHAT_TEMPLATE_H

#include <stddef.h>

#include "common/text/tok_qwen.h"

enum ov_prompt_style {
    OV_PROMPT_AUTO = 0, /* CHAT when the model carries a chat template (Instruct), else BASE */
    OV_PROMPT_CHAT = 1, /* ChatML: system turn, user turn, assistant start */
    OV_PROMPT_BASE = 2  /* plain text completion (what the original enhancer did with Qwen2.5-7B Base) */
};

/* "auto" / "chat" / "base"; "?" out of range. */
const char *ov_prompt_style_name(int style);
/* Name -> style. 0 or OV_EINVAL. */
int ov_prompt_style_parse(const char *name, int *out);
/* AUTO resolved against the model: has_chat_template ? CHAT : BASE; others unchanged. */
int ov_prompt_style_resolve(int style, int has_chat_template);

/* Qwen2.5's own default system text (its chat template inserts it when no system message is given). */
#define OV_QWEN_DEFAULT_SYSTEM "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

/* What goes into one prompt. */
typedef struct ov_prompt_parts {
    int style;          /* OV_PROMPT_CHAT or OV_PROMPT_BASE (resolve AUTO first) */
    const char *system; /* CHAT: the system turn (NULL = OV_QWEN_DEFAULT_SYSTEM, as Qwen2.5's template);
                         * BASE: instructions placed before the request (NULL or "" = none) */
    const char *user;   /* the user's text (untrusted), user_len bytes, valid UTF-8 */
    size_t user_len;
    const char *base_prefix; /* BASE: text right before the user text ("Original request: "), may be NULL */
    const char *base_suffix; /* BASE: text right after it ("\nEnhanced prompt:"), may be NULL */
} ov_prompt_parts;

/* What ov_prompt_build did. */
typedef struct ov_prompt_info {
    size_t user_tokens;      /* tokens of the whole user text (plain encoding) */
    size_t user_tokens_kept; /* after truncation */
    size_t user_bytes_kept;  /* bytes of the user text that made it into the prompt */
    int truncated;           /* 1 when the user text was cut to fit */
    size_t total_tokens;     /* ids written */
} ov_prompt_info;

/* Build the prompt token ids into `out` (reset first).
 *   CHAT: <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n
 *         (Qwen2.5 tokenizer_config.json chat_template with add_generation_prompt=True; the
 *         segments between control tokens are tokenized separately, as HF does).
 *   BASE: {system}\n\n{base_prefix}{user}{base_suffix} as one text ("{system}\n\n" only when system is set).
 * Every piece of text is encoded with OV_TOK_PLAIN_TEXT, so "<|im_start|>" typed by a user is
 * ordinary text: control ids come only from the template, never from the user.
 * The user text keeps its head: it is cut to max_user_tokens tokens (0 = no limit) and further
 * until the whole prompt has at most max_total tokens (0 = no limit); a cut never splits a UTF-8
 * character. Returns 0; OV_EINVAL (bad parts, style not CHAT/BASE, a CHAT tokenizer without
 * <|im_start|>/<|im_end|>); OV_ERANGE (the template alone does not fit max_total); OV_ENOMEM. */
int ov_prompt_build(ov_tok_qwen *tok, const ov_prompt_parts *parts, size_t max_user_tokens, size_t max_total,
                    ov_tok_ids *out, ov_prompt_info *info);

#endif
