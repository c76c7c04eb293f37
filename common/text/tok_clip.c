/* CLIP BPE tokenizer: vocab from the merges file, CLIP split regex, </w> words, 77-token windows. */
#include "common/text/tok_clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/text/pretok.h"
#include "common/text/prompt_weights.h"
#include "common/text/utf8.h"

/* openai/CLIP simple_tokenizer.py: the first 49152-256-2 lines after the header are merges. */
#define CLIP_N_MERGES (49152 - 256 - 2)
#define CLIP_PATTERN "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"
#define CLIP_MAX_FILE (8u << 20)

struct ov_tok_clip {
    ov_bpe *bpe;
    ov_pretok *pre;
};

void ov_tok_clip_free(ov_tok_clip *t)
{
    if (!t)
        return;
    ov_bpe_free(t->bpe);
    ov_pretok_free(t->pre);
    free(t);
}

/* bytes_to_unicode() order: the printable bytes first, then the rest (ids 0..255). */
static void byte_order(uint8_t order[256])
{
    size_t k = 0;
    for (unsigned b = 0; b < 256; b++)
        if (ov_bpe_byte_to_cp((uint8_t)b) == b)
            order[k++] = (uint8_t)b;
    for (unsigned b = 0; b < 256; b++)
        if (ov_bpe_byte_to_cp((uint8_t)b) != b)
            order[k++] = (uint8_t)b;
}

int ov_tok_clip_load(ov_tok_clip **out, const char *path)
{
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f)
        return OV_ENOENT;
    ov_buf data;
    ov_buf_init(&data, CLIP_MAX_FILE);
    char chunk[65536];
    int rc = 0, r;
    while ((r = gzread(f, chunk, sizeof chunk)) > 0)
        if ((rc = ov_buf_append(&data, chunk, (size_t)r)))
            break;
    if (r < 0)
        rc = OV_EFORMAT;
    gzclose(f);
    ov_tok_clip *t = calloc(1, sizeof *t);
    if (!rc && !t)
        rc = OV_ENOMEM;
    if (!rc)
        rc = ov_bpe_create(&t->bpe, "</w>");
    uint8_t order[256];
    byte_order(order);
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int i = 0; i < 256 && !rc; i++) {
            char s[16];
            size_t k = ov_utf8_encode1(ov_bpe_byte_to_cp(order[i]), (uint8_t *)s);
            if (pass)
                memcpy(s + k, "</w>", 4), k += 4;
            rc = ov_bpe_add_token(t->bpe, s, k, pass * 256 + i);
        }
    /* merges: lines 1..48894 after the header; each adds the token left+right */
    size_t line = 0, n_merges = 0;
    const char *p = data.data, *end = data.data + data.len;
    while (!rc && p && p < end && n_merges < CLIP_N_MERGES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (line++ > 0) {
            const char *sp = memchr(p, ' ', (size_t)(e - p));
            if (!sp || sp == p || sp + 1 >= e) {
                rc = OV_EFORMAT;
                break;
            }
            char tok[2 * OV_BPE_MAX_TOKEN_BYTES];
            size_t ln = (size_t)(sp - p), rn = (size_t)(e - sp - 1);
            if (ln + rn > OV_BPE_MAX_TOKEN_BYTES) {
                rc = OV_EFORMAT;
                break;
            }
            memcpy(tok, p, ln);
            memcpy(tok + ln, sp + 1, rn);
            if ((rc = ov_bpe_add_token(t->bpe, tok, ln + rn, (int32_t)(512 + n_merges))) ||
                (rc = ov_bpe_add_merge(t->bpe, p, ln, sp + 1, rn)))
                rc = OV_EFORMAT;
            n_merges++;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (!rc && n_merges != CLIP_N_MERGES)
        rc = OV_EFORMAT;
    if (!rc)
        rc = ov_bpe_add_special(t->bpe, "<|startoftext|>", 15, OV_CLIP_BOS, 1);
    if (!rc)
        rc = ov_bpe_add_special(t->bpe, "<|endoftext|>", 13, OV_CLIP_EOS, 1);
    if (!rc)
        rc = ov_bpe_finish(t->bpe);
    if (!rc)
        rc = ov_pretok_create(&t->pre, CLIP_PATTERN, 1);
    ov_buf_free(&data);
    if (rc) {
        OV_LOG_ERROR("tok_clip_load", "path=\"%s\" merges=%zu error=%s", path, n_merges, ov_errname(rc));
        ov_tok_clip_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int ov_tok_clip_load_default(ov_tok_clip **out)
{
    char path[4096];
    const char *e = getenv("OURVIDZ_CLIP_MERGES");
    if (e && *e)
        return ov_tok_clip_load(out, e);
    const char *dirs[][2] = {{getenv("OURVIDZ_DATA_DIR"), "clip"},
                             {getenv("OURVIDZ_SOURCE_DIR"), "common/text/data"},
                             {"/usr/share/ourvidz", "clip"}};
    for (size_t i = 0; i < 3; i++) {
        if (!dirs[i][0] || !*dirs[i][0])
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s/bpe_simple_vocab_16e6.txt.gz", dirs[i][0],
                             dirs[i][1]) >= sizeof path)
            continue;
        int rc = ov_tok_clip_load(out, path);
        if (rc != OV_ENOENT)
            return rc;
    }
    return OV_ENOENT;
}

typedef struct enc_ctx {
    ov_tok_clip *t;
    ov_tok_ids *out;
} enc_ctx;

static int on_piece(void *ctx, const uint8_t *p, size_t n)
{
    enc_ctx *c = ctx;
    return ov_bpe_encode_word(c->t->bpe, p, n, c->out);
}

int ov_tok_clip_encode(ov_tok_clip *t, const char *text, size_t n, ov_tok_ids *out)
{
    if (!t || !out || (!text && n))
        return OV_EINVAL;
    if (n > OV_CLIP_MAX_INPUT)
        return OV_ERANGE;
    ov_buf clean;
    ov_buf_init(&clean, 4 * (size_t)OV_CLIP_MAX_INPUT + 16);
    int rc = ov_tok_clip_clean(text, n, &clean);
    if (!rc && clean.len) {
        enc_ctx c = {t, out};
        rc = ov_pretok_findall(t->pre, (const uint8_t *)clean.data, clean.len, on_piece, &c);
    }
    ov_buf_free(&clean);
    return rc;
}

int ov_tok_clip_encode_weighted(ov_tok_clip *t, const char *text, size_t n, ov_tok_ids *out, float *weights)
{
    if (!t || !out || !weights || (!text && n))
        return OV_EINVAL;
    ov_pw_result pw;
    int rc = ov_pw_parse(text, n, &pw);
    for (size_t i = 0; !rc && i < pw.n_seg; i++) {
        size_t start = out->len;
        rc = ov_tok_clip_encode(t, pw.text + pw.seg[i].off, pw.seg[i].len, out);
        for (size_t k = start; k < out->len; k++)
            weights[k] = pw.seg[i].weight;
    }
    ov_pw_free(&pw);
    return rc;
}

size_t ov_tok_clip_window(const int32_t *ids, size_t n, int32_t pad_id, int32_t out[OV_CLIP_CTX])
{
    size_t keep = n < OV_CLIP_CHUNK ? n : OV_CLIP_CHUNK;
    out[0] = OV_CLIP_BOS;
    if (keep)
        memcpy(out + 1, ids, keep * sizeof *ids);
    out[1 + keep] = OV_CLIP_EOS;
    for (size_t i = 2 + keep; i < OV_CLIP_CTX; i++)
        out[i] = pad_id;
    return keep;
}

int ov_tok_clip_chunks(const int32_t *ids, const float *weights, size_t n, int32_t pad_id, size_t max_chunks,
                       int32_t *out_ids, float *out_w, size_t *n_chunks)
{
    size_t need = n ? (n + OV_CLIP_CHUNK - 1) / OV_CLIP_CHUNK : 1;
    *n_chunks = 0;
    if (need > max_chunks)
        return OV_ERANGE;
    for (size_t c = 0; c < need; c++) {
        size_t off = c * OV_CLIP_CHUNK, len = n - off < OV_CLIP_CHUNK ? n - off : OV_CLIP_CHUNK;
        if (!n)
            len = 0;
        ov_tok_clip_window(ids + off, len, pad_id, out_ids + c * OV_CLIP_CTX);
        if (out_w) {
            float *w = out_w + c * OV_CLIP_CTX;
            for (size_t i = 0; i < OV_CLIP_CTX; i++)
                w[i] = (i >= 1 && i <= len && weights) ? weights[off + i - 1] : 1.0f;
        }
    }
    *n_chunks = need;
    return 0;
}

const ov_bpe *ov_tok_clip_bpe(const ov_tok_clip *t)
{
    return t ? t->bpe : NULL;
}
