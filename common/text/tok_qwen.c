/* Qwen2/2.5 tokenizer: loaders (tokenizer.json, vocab.json+merges.txt, GGUF metadata) and encode. */
#include "common/text/tok_qwen.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/text/pretok.h"
#include "common/text/utf8.h"

struct ov_tok_qwen {
    ov_bpe *bpe;
    ov_pretok *pre;
    int nfc;
    int32_t eos_id, pad_id;
};

/* The Qwen2.5 added tokens (REFERENCE-MODELS.md C.5): ids 151643.. in this order; the first
 * 14 are "special" (skipped by decode with skip_special_tokens). */
static const char *const QWEN25_ADDED[] = {
    "<|endoftext|>",  "<|im_start|>",   "<|im_end|>",     "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>",  "<|box_end|>",    "<|quad_start|>", "<|quad_end|>",         "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",  "<|video_pad|>",        "<tool_call>",
    "</tool_call>",   "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",       "<|fim_pad|>",
    "<|repo_name|>",  "<|file_sep|>"};
#define QWEN25_FIRST_ADDED 151643
#define QWEN25_N_SPECIAL 14

void ov_tok_qwen_free(ov_tok_qwen *t)
{
    if (!t)
        return;
    ov_bpe_free(t->bpe);
    ov_pretok_free(t->pre);
    free(t);
}

static int qwen_new(ov_tok_qwen **out)
{
    ov_tok_qwen *t = calloc(1, sizeof *t);
    if (!t)
        return OV_ENOMEM;
    t->nfc = 1;
    t->eos_id = t->pad_id = -1;
    int rc = ov_bpe_create(&t->bpe, NULL);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Finish: compile the pattern, resolve eos/pad by name when the source did not give ids. */
static int qwen_finish(ov_tok_qwen *t, const char *pattern)
{
    int rc = ov_bpe_finish(t->bpe);
    if (rc) {
        OV_LOG_ERROR("tok_qwen_load", "error=%s detail=\"a byte has no vocab symbol\"", ov_errname(rc));
        return rc;
    }
    if ((rc = ov_pretok_create(&t->pre, pattern ? pattern : OV_TOK_QWEN2_PATTERN, 0)))
        return rc;
    if (t->eos_id < 0)
        t->eos_id = ov_bpe_token_id(t->bpe, "<|im_end|>", 10);
    if (t->pad_id < 0)
        t->pad_id = ov_bpe_token_id(t->bpe, "<|endoftext|>", 13);
    return 0;
}

static int add_merge_line(ov_bpe *b, const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp + 1 == s + n)
        return OV_EFORMAT;
    return ov_bpe_add_merge(b, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1);
}

static int add_vocab_object(ov_bpe *b, json_t *vocab)
{
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val)
    {
        if (!json_is_integer(val))
            return OV_EFORMAT;
        json_int_t id = json_integer_value(val);
        if (id < 0 || id >= (json_int_t)OV_BPE_MAX_VOCAB)
            return OV_EFORMAT;
        int rc = ov_bpe_add_token(b, key, strlen(key), (int32_t)id);
        if (rc) {
            OV_LOG_ERROR("tok_qwen_load", "error=bad_vocab_entry id=%lld", (long long)id);
            return OV_EFORMAT;
        }
    }
    return 0;
}

static int add_merges_array(ov_bpe *b, json_t *merges)
{
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m)
    {
        int rc;
        if (json_is_string(m)) {
            rc = add_merge_line(b, json_string_value(m), json_string_length(m));
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            json_t *l = json_array_get(m, 0), *r = json_array_get(m, 1);
            rc = ov_bpe_add_merge(b, json_string_value(l), json_string_length(l), json_string_value(r),
                                  json_string_length(r));
        } else {
            rc = OV_EFORMAT;
        }
        if (rc) {
            OV_LOG_ERROR("tok_qwen_load", "error=bad_merge index=%zu", i);
            return OV_EFORMAT;
        }
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* A gzip-compressed JSON file (the in-repo copy common/text/data/qwen-tokenizer.json.gz, or a
 * model folder's tokenizer.json.gz): inflated into memory under the same size cap. */
static json_t *load_json_gz(const char *path, int *rc)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        *rc = OV_ENOENT;
        return NULL;
    }
    ov_buf b;
    ov_buf_init(&b, OV_TOK_QWEN_MAX_FILE);
    char chunk[65536];
    int n;
    while ((n = gzread(f, chunk, sizeof chunk)) > 0) {
        if (ov_buf_append(&b, chunk, (size_t)n)) {
            *rc = OV_ERANGE;
            OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" error=too_large", path);
            gzclose(f);
            ov_buf_free(&b);
            return NULL;
        }
    }
    int zerr = 0;
    const char *zmsg = n < 0 ? gzerror(f, &zerr) : NULL;
    if (n < 0) {
        *rc = OV_EFORMAT;
        OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" error=\"gzip: %s\"", path, zmsg ? zmsg : "?");
        gzclose(f);
        ov_buf_free(&b);
        return NULL;
    }
    gzclose(f);
    json_error_t err;
    json_t *j = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, &err);
    ov_buf_free(&b);
    if (!j) {
        *rc = OV_EFORMAT;
        OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" line=%d error=\"%s\"", path, err.line, err.text);
    }
    return j;
}

static json_t *load_json(const char *path, int *rc)
{
    json_error_t err;
    if (ends_with(path, ".gz"))
        return load_json_gz(path, rc);
    FILE *f = fopen(path, "rb");
    if (!f) {
        *rc = OV_ENOENT;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    if (sz < 0 || (size_t)sz > OV_TOK_QWEN_MAX_FILE) {
        *rc = OV_ERANGE;
        OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" error=too_large", path);
        return NULL;
    }
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        *rc = OV_EFORMAT;
        OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" line=%d error=\"%s\"", path, err.line, err.text);
    }
    return j;
}

/* The first Split pattern inside pre_tokenizer (a Sequence or a lone Split). */
static const char *find_split_pattern(json_t *pre)
{
    if (!json_is_object(pre))
        return NULL;
    const char *type = json_string_value(json_object_get(pre, "type"));
    if (type && strcmp(type, "Split") == 0)
        return json_string_value(json_object_get(json_object_get(pre, "pattern"), "Regex"));
    json_t *seq = json_object_get(pre, "pretokenizers");
    size_t i;
    json_t *p;
    json_array_foreach(seq, i, p)
    {
        const char *r = find_split_pattern(p);
        if (r)
            return r;
    }
    return NULL;
}

int ov_tok_qwen_load_json(ov_tok_qwen **out, const char *path)
{
    int rc = 0;
    json_t *j = load_json(path, &rc);
    if (!j)
        return rc;
    ov_tok_qwen *t = NULL;
    json_t *model = json_object_get(j, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(vocab) || !json_is_array(merges) || (mtype && strcmp(mtype, "BPE") != 0)) {
        OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" error=\"not a BPE tokenizer.json\"", path);
        rc = OV_EFORMAT;
        goto fail;
    }
    if ((rc = qwen_new(&t)) || (rc = add_vocab_object(t->bpe, vocab)))
        goto fail;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "added_tokens"), i, a)
    {
        json_t *c = json_object_get(a, "content");
        json_t *id = json_object_get(a, "id");
        if (!json_is_string(c) || !json_is_integer(id)) {
            rc = OV_EFORMAT;
            goto fail;
        }
        if ((rc = ov_bpe_add_special(t->bpe, json_string_value(c), json_string_length(c),
                                     (int32_t)json_integer_value(id),
                                     json_is_true(json_object_get(a, "special"))))) {
            OV_LOG_ERROR("tok_qwen_load", "error=bad_added_token index=%zu", i);
            goto fail;
        }
    }
    if ((rc = add_merges_array(t->bpe, merges)))
        goto fail;
    json_t *norm = json_object_get(j, "normalizer");
    const char *ntype = json_string_value(json_object_get(norm, "type"));
    t->nfc = ntype && strcmp(ntype, "NFC") == 0;
    if (!json_is_null(norm) && norm && !t->nfc)
        OV_LOG_WARNING("tok_qwen_load", "normalizer=\"%s\" detail=\"unsupported, ignored\"",
                       ntype ? ntype : "?");
    if ((rc = qwen_finish(t, find_split_pattern(json_object_get(j, "pre_tokenizer")))))
        goto fail;
    json_decref(j);
    *out = t;
    return 0;
fail:
    json_decref(j);
    ov_tok_qwen_free(t);
    return rc ? rc : OV_EFORMAT;
}

static int add_default_added(ov_bpe *b)
{
    for (size_t i = 0; i < sizeof QWEN25_ADDED / sizeof *QWEN25_ADDED; i++) {
        int rc = ov_bpe_add_special(b, QWEN25_ADDED[i], strlen(QWEN25_ADDED[i]),
                                    (int32_t)(QWEN25_FIRST_ADDED + i), i < QWEN25_N_SPECIAL);
        if (rc)
            return rc;
    }
    return 0;
}

int ov_tok_qwen_load_files(ov_tok_qwen **out, const char *vocab_json, const char *merges_txt,
                           const char *config_json)
{
    int rc = 0;
    ov_tok_qwen *t = NULL;
    json_t *cfg = NULL, *v = load_json(vocab_json, &rc);
    FILE *f = NULL;
    char *line = NULL;
    size_t lcap = 0;
    if (!v)
        return rc;
    if ((rc = qwen_new(&t)) || (rc = add_vocab_object(t->bpe, v)))
        goto done;
    if (config_json) {
        if (!(cfg = load_json(config_json, &rc)))
            goto done;
        const char *key;
        json_t *a;
        json_object_foreach(json_object_get(cfg, "added_tokens_decoder"), key, a)
        {
            char *end;
            long id = strtol(key, &end, 10);
            json_t *c = json_object_get(a, "content");
            if (*end || id < 0 || !json_is_string(c)) {
                rc = OV_EFORMAT;
                goto done;
            }
            if ((rc = ov_bpe_add_special(t->bpe, json_string_value(c), json_string_length(c), (int32_t)id,
                                         json_is_true(json_object_get(a, "special")))))
                goto done;
        }
    } else if ((rc = add_default_added(t->bpe))) {
        goto done;
    }
    if (!(f = fopen(merges_txt, "rb"))) {
        rc = OV_ENOENT;
        goto done;
    }
    ssize_t len;
    size_t lineno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0 || (lineno == 1 && strncmp(line, "#version", 8) == 0))
            continue;
        if ((rc = add_merge_line(t->bpe, line, (size_t)len))) {
            OV_LOG_ERROR("tok_qwen_load", "path=\"%s\" line=%zu error=bad_merge", merges_txt, lineno);
            goto done;
        }
    }
    rc = qwen_finish(t, NULL);
done:
    free(line);
    if (f)
        fclose(f);
    json_decref(v);
    json_decref(cfg);
    if (rc) {
        ov_tok_qwen_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int ov_tok_qwen_load_dir(ov_tok_qwen **out, const char *dir)
{
    char a[4096], b[4096], c[4096];
    if ((size_t)snprintf(a, sizeof a, "%s/tokenizer.json", dir) >= sizeof a)
        return OV_EINVAL;
    FILE *f = fopen(a, "rb");
    if (f) {
        fclose(f);
        return ov_tok_qwen_load_json(out, a);
    }
    if ((size_t)snprintf(a, sizeof a, "%s/tokenizer.json.gz", dir) >= sizeof a)
        return OV_EINVAL;
    if ((f = fopen(a, "rb"))) {
        fclose(f);
        return ov_tok_qwen_load_json(out, a);
    }
    snprintf(a, sizeof a, "%s/vocab.json", dir);
    snprintf(b, sizeof b, "%s/merges.txt", dir);
    snprintf(c, sizeof c, "%s/tokenizer_config.json", dir);
    f = fopen(c, "rb");
    if (f)
        fclose(f);
    return ov_tok_qwen_load_files(out, a, b, f ? c : NULL);
}

int ov_tok_qwen_load_gguf(ov_tok_qwen **out, const ov_tok_gguf_vocab *v)
{
    if (!v || !v->tokens || !v->merges || !v->model || strcmp(v->model, "gpt2") != 0)
        return OV_EUNSUPP;
    if (v->pre && strcmp(v->pre, "qwen2") != 0) {
        OV_LOG_ERROR("tok_qwen_load", "gguf_pre=\"%s\" error=unsupported", v->pre);
        return OV_EUNSUPP;
    }
    if (v->n_tokens > OV_BPE_MAX_VOCAB)
        return OV_ERANGE;
    ov_tok_qwen *t;
    int rc = qwen_new(&t);
    if (rc)
        return rc;
    /* regular tokens first, then added ones (they may repeat a vocab string at another id) */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; i < v->n_tokens && !rc; i++) {
            int32_t type = v->token_type ? v->token_type[i] : OV_GGUF_TOK_NORMAL;
            int added = type == OV_GGUF_TOK_CONTROL || type == OV_GGUF_TOK_USER_DEFINED;
            if (added != pass || !v->tokens[i].s || v->tokens[i].n == 0)
                continue;
            if (added)
                rc = ov_bpe_add_special(t->bpe, v->tokens[i].s, v->tokens[i].n, (int32_t)i,
                                        type == OV_GGUF_TOK_CONTROL);
            else if (ov_bpe_add_token(t->bpe, v->tokens[i].s, v->tokens[i].n, (int32_t)i) &&
                     type != OV_GGUF_TOK_UNUSED)
                rc = OV_EFORMAT;
            if (rc)
                OV_LOG_ERROR("tok_qwen_load", "gguf_token=%zu error=%s", i, ov_errname(rc));
        }
    }
    for (size_t i = 0; i < v->n_merges && !rc; i++)
        if ((rc = add_merge_line(t->bpe, v->merges[i].s, v->merges[i].n)))
            OV_LOG_ERROR("tok_qwen_load", "gguf_merge=%zu error=%s", i, ov_errname(rc));
    if (!rc) {
        if (v->eos_id >= 0 && (size_t)v->eos_id < v->n_tokens)
            t->eos_id = (int32_t)v->eos_id;
        if (v->pad_id >= 0 && (size_t)v->pad_id < v->n_tokens)
            t->pad_id = (int32_t)v->pad_id;
        rc = qwen_finish(t, NULL);
    }
    if (rc) {
        ov_tok_qwen_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---------- encode ---------- */

typedef struct enc_ctx {
    ov_tok_qwen *t;
    ov_tok_ids *out;
} enc_ctx;

static int on_piece(void *ctx, const uint8_t *p, size_t n)
{
    enc_ctx *c = ctx;
    return ov_bpe_encode_word(c->t->bpe, p, n, c->out);
}

static int encode_segment(ov_tok_qwen *t, const uint8_t *p, size_t n, ov_tok_ids *out)
{
    if (n == 0)
        return 0;
    enc_ctx c = {t, out};
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = p[i] < 0x80;
    if (!t->nfc || ascii)
        return ov_pretok_split(t->pre, p, n, on_piece, &c);
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t m = utf8proc_map(p, (utf8proc_ssize_t)n, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0) {
        free(nfc);
        return m == UTF8PROC_ERROR_NOMEM ? OV_ENOMEM : OV_EINVAL;
    }
    int rc = ov_pretok_split(t->pre, nfc, (size_t)m, on_piece, &c);
    free(nfc);
    return rc;
}

int ov_tok_qwen_encode(ov_tok_qwen *t, const char *text, size_t n, unsigned flags, ov_tok_ids *out,
                       size_t *n_replaced)
{
    if (!t || (!text && n) || !out)
        return OV_EINVAL;
    if (n_replaced)
        *n_replaced = 0;
    if (n > OV_TOK_QWEN_MAX_INPUT)
        return OV_ERANGE;
    const uint8_t *p = (const uint8_t *)text;
    ov_buf clean;
    ov_buf_init(&clean, 3 * (size_t)OV_TOK_QWEN_MAX_INPUT + 16);
    int rc = 0;
    if (!ov_utf8_valid(p, n)) {
        if ((rc = ov_utf8_sanitize(p, n, &clean, n_replaced)))
            goto done;
        p = (const uint8_t *)clean.data;
        n = clean.len;
    }
    const ov_bpe *b = t->bpe;
    size_t seg = 0;
    for (size_t i = 0; i < n;) {
        int32_t id;
        size_t k = (flags & OV_TOK_PLAIN_TEXT) ? 0 : ov_bpe_match_special(b, p + i, n - i, &id);
        if (!k) {
            i++;
            continue;
        }
        if ((rc = encode_segment(t, p + seg, i - seg, out)) || (rc = ov_tok_ids_push(out, id)))
            goto done;
        i += k;
        seg = i;
    }
    rc = encode_segment(t, p + seg, n - seg, out);
done:
    ov_buf_free(&clean);
    return rc;
}

int ov_tok_qwen_decode(const ov_tok_qwen *t, const int32_t *ids, size_t n, unsigned flags, ov_buf *out)
{
    if (!t || (!ids && n) || !out)
        return OV_EINVAL;
    return ov_bpe_decode(t->bpe, ids, n, flags, out);
}

const ov_bpe *ov_tok_qwen_bpe(const ov_tok_qwen *t)
{
    return t ? t->bpe : NULL;
}

int32_t ov_tok_qwen_token_id(const ov_tok_qwen *t, const char *text)
{
    return t && text ? ov_bpe_token_id(t->bpe, text, strlen(text)) : -1;
}

size_t ov_tok_qwen_vocab_size(const ov_tok_qwen *t)
{
    return t ? ov_bpe_vocab_size(t->bpe) : 0;
}
int32_t ov_tok_qwen_eos_id(const ov_tok_qwen *t)
{
    return t ? t->eos_id : -1;
}
int32_t ov_tok_qwen_pad_id(const ov_tok_qwen *t)
{
    return t ? t->pad_id : -1;
}
