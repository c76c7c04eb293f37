/* Qwen2/2.5 tokenizer: byte-level BPE with NFC, Qwen's split regex and added tokens. */
#ifndef OV_TEXT_TOK_QWEN_H
#define OV_TEXT_TOK_QWEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/text/bpe.h"

/* Caps: the encoder refuses inputs over this many bytes (OV_ERANGE); callers that need the
 * tail of a 100 KB prompt truncate ids afterwards (context budget), not bytes. */
#define OV_TOK_QWEN_MAX_INPUT (8u << 20)
#define OV_TOK_QWEN_MAX_FILE ((size_t)64 << 20)

/* The Qwen2 pre-tokenizer pattern (tokenizer.json, used when a source carries none). */
#define OV_TOK_QWEN2_PATTERN                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                                    \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"                                                           \
    "\\s+(?!\\S)|\\s+"

typedef struct ov_tok_qwen ov_tok_qwen;

/* Load a HF tokenizer.json (model.vocab, model.merges as "a b" or ["a","b"], added_tokens,
 * normalizer NFC or null, the Split pattern of the pre_tokenizer); a path ending in .gz is read
 * through zlib. OV_ENOENT, OV_EFORMAT. */
int ov_tok_qwen_load_json(ov_tok_qwen **out, const char *tokenizer_json_path);
/* Load vocab.json + merges.txt. added_tokens: tokenizer_config.json (its added_tokens_decoder)
 * or NULL for the 22 Qwen2.5 added tokens at ids 151643..151664. */
int ov_tok_qwen_load_files(ov_tok_qwen **out, const char *vocab_json, const char *merges_txt,
                           const char *tokenizer_config_json);
/* A model folder: tokenizer.json (or tokenizer.json.gz) if present, else vocab.json + merges.txt
 * (+ tokenizer_config). */
int ov_tok_qwen_load_dir(ov_tok_qwen **out, const char *dir);

/* GGUF tokenizer metadata (llama.cpp names), as plain arrays so this does not depend on a GGUF
 * parser. Strings are (pointer, length) and need not be NUL-terminated; the loader copies. */
typedef struct ov_tok_str {
    const char *s;
    size_t n;
} ov_tok_str;

enum ov_gguf_token_type { /* llama.cpp llama_token_type */
                          OV_GGUF_TOK_NORMAL = 1,
                          OV_GGUF_TOK_UNKNOWN = 2,
                          OV_GGUF_TOK_CONTROL = 3,
                          OV_GGUF_TOK_USER_DEFINED = 4,
                          OV_GGUF_TOK_UNUSED = 5,
                          OV_GGUF_TOK_BYTE = 6
};

typedef struct ov_tok_gguf_vocab {
    const char *model;        /* tokenizer.ggml.model: must be "gpt2" */
    const char *pre;          /* tokenizer.ggml.pre: "qwen2" (NULL accepted = qwen2) */
    const ov_tok_str *tokens; /* tokenizer.ggml.tokens, id = index */
    size_t n_tokens;
    const ov_tok_str *merges; /* tokenizer.ggml.merges, "left right" */
    size_t n_merges;
    const int32_t *token_type;      /* tokenizer.ggml.token_type (NULL: all normal) */
    int64_t bos_id, eos_id, pad_id; /* tokenizer.ggml.{bos,eos,padding}_token_id, -1 absent */
} ov_tok_gguf_vocab;

/* CONTROL tokens become special added tokens, USER_DEFINED plain added tokens; UNUSED
 * ([PADn]) entries keep their id but are never produced by encode. */
int ov_tok_qwen_load_gguf(ov_tok_qwen **out, const ov_tok_gguf_vocab *v);

void ov_tok_qwen_free(ov_tok_qwen *t);

/* Encode flags. OV_TOK_PLAIN_TEXT: added-token text ("<|im_start|>") is encoded as ordinary
 * text, never as a control id: use it for every piece of user text in a prompt template. */
#define OV_TOK_PLAIN_TEXT 1u

/* Encode `n` bytes of text, appending ids to out. Invalid UTF-8 is replaced by U+FFFD (one per
 * maximal invalid subpart, like Python's errors="replace"); *n_replaced (may be NULL) says how
 * many. OV_ERANGE over OV_TOK_QWEN_MAX_INPUT, OV_ENOMEM when `out` hits its cap. Thread-safe. */
int ov_tok_qwen_encode(ov_tok_qwen *t, const char *text, size_t n, unsigned flags, ov_tok_ids *out,
                       size_t *n_replaced);
/* Exact bytes of the ids (flags: OV_TOK_SKIP_SPECIAL). May be invalid UTF-8 when ids split a
 * character; use ov_tok_stream_* (bpe.h) with ov_tok_qwen_bpe() for display. */
int ov_tok_qwen_decode(const ov_tok_qwen *t, const int32_t *ids, size_t n, unsigned flags,
                       struct ov_buf *out);

/* The BPE core (for ov_tok_stream_push and ov_bpe_token_bytes); owned by t. */
const ov_bpe *ov_tok_qwen_bpe(const ov_tok_qwen *t);
/* Id of a token or added-token text ("<|im_end|>"), -1 when absent. */
int32_t ov_tok_qwen_token_id(const ov_tok_qwen *t, const char *text);
size_t ov_tok_qwen_vocab_size(const ov_tok_qwen *t);
/* eos = <|im_end|> (tokenizer_config eos, or GGUF eos id), pad = <|endoftext|>; -1 absent. */
int32_t ov_tok_qwen_eos_id(const ov_tok_qwen *t);
int32_t ov_tok_qwen_pad_id(const ov_tok_qwen *t);

#endif
