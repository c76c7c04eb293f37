/* CLIP BPE tokenizer (SDXL's CLIP-L and OpenCLIP bigG): cleanup, BPE with </w>, 77-token windows. */
#ifndef OV_TEXT_TOK_CLIP_H
#define OV_TEXT_TOK_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/text/bpe.h"

#define OV_CLIP_VOCAB 49408
#define OV_CLIP_BOS 49406 /* <|startoftext|> */
#define OV_CLIP_EOS 49407 /* <|endoftext|> */
#define OV_CLIP_CTX 77    /* tokens per window: BOS + 75 + EOS */
#define OV_CLIP_CHUNK 75
#define OV_CLIP_PAD_L 49407            /* CLIP ViT-L/14 (OpenAI/HF) pads with <|endoftext|> */
#define OV_CLIP_PAD_G 0                /* OpenCLIP ViT-bigG/14 pads with 0 ("!") */
#define OV_CLIP_MAX_INPUT (256u << 10) /* prompt bytes; longer is OV_ERANGE */

typedef struct ov_tok_clip ov_tok_clip;

/* Load the merges file (bpe_simple_vocab_16e6.txt.gz, gzip or plain): the vocabulary is built
 * the way openai/CLIP simple_tokenizer.py does (256 byte symbols, the same with </w>, the first
 * 48,894 merges, then BOS/EOS). OV_ENOENT / OV_EFORMAT. Free with ov_tok_clip_free. */
int ov_tok_clip_load(ov_tok_clip **out, const char *merges_path);
/* Find the merges file: $OURVIDZ_CLIP_MERGES, else $OURVIDZ_DATA_DIR/clip/, else the copy in the
 * source tree (common/text/data/) relative to $OURVIDZ_SOURCE_DIR, else /usr/share/ourvidz/clip/. */
int ov_tok_clip_load_default(ov_tok_clip **out);
void ov_tok_clip_free(ov_tok_clip *t);

/* open_clip's clean ("lower"): a subset of ftfy.fix_text (HTML entities when the text has no '<',
 * Latin ligatures, full/half width forms, curly quotes, terminal escapes, control characters,
 * NFC; repeated until stable), html.unescape twice, whitespace collapsed to single spaces and
 * stripped, lower-cased. NOT done: ftfy's mojibake repair (fix_encoding), C1-control decoding,
 * all-caps entity names, HTML5 named entities outside a common table. Invalid UTF-8 is replaced
 * by U+FFFD first. Appends to out (NUL-terminated). */
int ov_tok_clip_clean(const char *text, size_t n, struct ov_buf *out);

/* Clean + split + BPE, appending ids (no BOS/EOS). Special-token text is plain text.
 * OV_ERANGE over OV_CLIP_MAX_INPUT, OV_ENOMEM when out is full. Thread-safe. */
int ov_tok_clip_encode(ov_tok_clip *t, const char *text, size_t n, ov_tok_ids *out);

/* Emphasis-weighted encode (A1111 syntax, see prompt_weights.h): each weighted segment is
 * tokenized on its own and every id gets its segment's weight. weights has room for
 * `out->max` floats; weights[i] belongs to out->v[i]. */
int ov_tok_clip_encode_weighted(ov_tok_clip *t, const char *text, size_t n, ov_tok_ids *out, float *weights);

/* One 77-token window as open_clip/HF truncation makes it: BOS, the first 75 ids, EOS, then
 * pad_id to 77. out: 77 ids. Returns the number of prompt ids kept (<= 75). */
size_t ov_tok_clip_window(const int32_t *ids, size_t n, int32_t pad_id, int32_t out[OV_CLIP_CTX]);

/* Long prompts, A1111/ComfyUI style: ids split into consecutive 75-token chunks (no comma
 * backtracking), each wrapped as BOS + chunk + EOS and padded with pad_id to 77; an empty prompt
 * gives one chunk. weights (may be NULL) are carried; BOS/EOS/pad weigh 1.0. The encoder output
 * of the chunks is concatenated along the sequence axis (pooled output from the first chunk).
 * out_ids/out_w hold max_chunks*77 entries. OV_ERANGE when more than max_chunks are needed. */
int ov_tok_clip_chunks(const int32_t *ids, const float *weights, size_t n, int32_t pad_id, size_t max_chunks,
                       int32_t *out_ids, float *out_w, size_t *n_chunks);

/* The BPE core (decode with ov_bpe_decode: </w> becomes a space). Owned by t. */
const ov_bpe *ov_tok_clip_bpe(const ov_tok_clip *t);

#endif
