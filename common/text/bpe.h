/* Byte-level BPE core shared by the Qwen and CLIP tokenizers: vocab, ranked merges, specials. */
#ifndef OV_TEXT_BPE_H
#define OV_TEXT_BPE_H

#include <stddef.h>
#include <stdint.h>

/* Hard caps (every buffer capped). */
#define OV_BPE_MAX_VOCAB (1u << 22)  /* ids 0 .. 4M-1 */
#define OV_BPE_MAX_TOKEN_BYTES 1024u /* one vocab entry / special token */
#define OV_BPE_CACHE_ENTRIES 16384u  /* per-word cache; cleared when full */
#define OV_BPE_CACHE_MAX_WORD 128u   /* words longer than this are not cached */

/* A growable id array with a hard cap (max ids). */
typedef struct ov_tok_ids {
    int32_t *v;
    size_t len;
    size_t cap;
    size_t max;
} ov_tok_ids;

void ov_tok_ids_init(ov_tok_ids *ids, size_t max_ids);
void ov_tok_ids_free(ov_tok_ids *ids);
void ov_tok_ids_reset(ov_tok_ids *ids);
/* 0, or OV_ENOMEM when the cap (or malloc) refuses; the array is unchanged on error. */
int ov_tok_ids_push(ov_tok_ids *ids, int32_t id);

/* GPT-2 byte <-> unicode map (openai/gpt-2 encoder.py bytes_to_unicode): printable Latin-1
 * bytes map to themselves, the other 68 bytes to U+0100.. in byte order. */
uint32_t ov_bpe_byte_to_cp(uint8_t b);
/* Inverse; -1 when cp is not one of the 256 mapped code points. */
int ov_bpe_cp_to_byte(uint32_t cp);

typedef struct ov_bpe ov_bpe;

/* Create an empty model. eow_suffix: NULL for GPT-2/Qwen style, "</w>" for CLIP (the last
 * symbol of each word carries the suffix; it decodes as one space). Free with ov_bpe_free. */
int ov_bpe_create(ov_bpe **out, const char *eow_suffix);
void ov_bpe_free(ov_bpe *b);

/* Add a vocab entry: `tok` is the byte-level form (the vocab.json key, e.g. "Ġthe").
 * OV_EINVAL for a duplicate id/string, an id over OV_BPE_MAX_VOCAB or text not in the byte map
 * (other than the eow suffix). */
int ov_bpe_add_token(ov_bpe *b, const char *tok, size_t n, int32_t id);
/* Add the next merge (rank = number of merges added before). Both sides and their concatenation
 * must be vocab entries, otherwise OV_EFORMAT (the merge is not added). */
int ov_bpe_add_merge(ov_bpe *b, const char *left, size_t ln, const char *right, size_t rn);
/* Add an added/special token, matched verbatim before pre-tokenisation (raw text, not byte-level
 * form). `special` marks control tokens that decode can skip. It becomes a vocab id too. */
int ov_bpe_add_special(ov_bpe *b, const char *text, size_t n, int32_t id, int special);
/* Finish loading: resolves the per-byte start symbols. OV_EFORMAT if a byte has no symbol. */
int ov_bpe_finish(ov_bpe *b);

/* Id of a vocab entry (byte-level form) or added token text; -1 when absent. */
int32_t ov_bpe_token_id(const ov_bpe *b, const char *tok, size_t n);
/* One past the highest id. */
size_t ov_bpe_vocab_size(const ov_bpe *b);
size_t ov_bpe_merge_count(const ov_bpe *b);
/* The decoded bytes of an id (byte map inverted; eow suffix -> " "; added tokens: their text).
 * Pointers stay valid until ov_bpe_free. OV_ENOENT for an unknown id. */
int ov_bpe_token_bytes(const ov_bpe *b, int32_t id, const uint8_t **bytes, size_t *n, int *is_special);

/* BPE-encode one pre-token (raw bytes, n >= 1), appending ids. Thread-safe (the cache is
 * locked). OV_ENOMEM when `out` is full. */
int ov_bpe_encode_word(ov_bpe *b, const uint8_t *w, size_t n, ov_tok_ids *out);

/* Longest added token starting at p (n bytes available): its length, 0 when none; *id set. */
size_t ov_bpe_match_special(const ov_bpe *b, const uint8_t *p, size_t n, int32_t *id);

/* Streaming decoder: emits only complete UTF-8; holds back an incomplete sequence across
 * tokens; a byte that cannot continue a sequence becomes U+FFFD (so output is always valid). */
typedef struct ov_tok_stream {
    uint8_t pend[4];
    uint8_t npend;
    uint8_t need; /* total length of the pending sequence */
} ov_tok_stream;

#define OV_TOK_SKIP_SPECIAL 1u

struct ov_buf;
void ov_tok_stream_init(ov_tok_stream *s);
/* Append the text of `id` (valid UTF-8 only) to out. OV_ENOENT unknown id, OV_ENOMEM buffer cap. */
int ov_tok_stream_push(ov_tok_stream *s, const ov_bpe *b, int32_t id, unsigned flags, struct ov_buf *out);
/* End of stream: a held-back incomplete sequence becomes U+FFFD. */
int ov_tok_stream_flush(ov_tok_stream *s, struct ov_buf *out);
/* Feed raw bytes through the same UTF-8 hold-back logic (used by push; exposed for tests). */
int ov_tok_stream_bytes(ov_tok_stream *s, const uint8_t *p, size_t n, struct ov_buf *out);

/* Raw decode: the exact concatenated bytes (decode(encode(s)) == s for valid input). */
int ov_bpe_decode(const ov_bpe *b, const int32_t *ids, size_t n, unsigned flags, struct ov_buf *out);

#endif
