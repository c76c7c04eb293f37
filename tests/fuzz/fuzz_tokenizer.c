/* Fuzz target: arbitrary bytes through the Qwen and CLIP tokenizers and the emphasis parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/text/prompt_weights.h"
#include "common/text/tok_clip.h"
#include "common/text/tok_qwen.h"
#include "common/text/utf8.h"

/* Qwen needs the real tokenizer.json (shared/ beside the clone, or $OURVIDZ_QWEN_TOKENIZER);
 * without it only CLIP and the parser are fuzzed. */
static ov_tok_qwen *qwen;
static ov_tok_clip *clip;
static int inited;

static void init(void)
{
    inited = 1;
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    const char *qp = getenv("OURVIDZ_QWEN_TOKENIZER");
    char path[4096];
    if (!qp) {
        snprintf(path, sizeof path, "%s/../shared/data/qwen/tokenizer.json", src ? src : ".");
        qp = path;
    }
    if (ov_tok_qwen_load_json(&qwen, qp) != 0)
        fprintf(stderr, "fuzz_tokenizer: no Qwen tokenizer at %s, fuzzing CLIP only\n", qp);
    if (ov_tok_clip_load_default(&clip) != 0 &&
        ov_tok_clip_load(&clip, "common/text/data/bpe_simple_vocab_16e6.txt.gz"))
        fprintf(stderr, "fuzz_tokenizer: no CLIP merges (set OURVIDZ_SOURCE_DIR)\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!inited)
        init();
    if (size > 65536)
        return 0;
    int valid = ov_utf8_valid(data, size);
    ov_tok_ids ids;
    ov_buf out;
    if (qwen) {
        unsigned flags = size && (data[0] & 1) ? OV_TOK_PLAIN_TEXT : 0;
        ov_tok_ids_init(&ids, 1 << 20);
        ov_buf_init(&out, 1 << 22);
        if (ov_tok_qwen_encode(qwen, (const char *)data, size, flags, &ids, NULL) != 0)
            abort();
        if (ov_tok_qwen_decode(qwen, ids.v, ids.len, 0, &out) != 0)
            abort();
        /* round trip for valid UTF-8 that NFC leaves alone (ASCII always does) */
        int ascii = 1;
        for (size_t i = 0; i < size && ascii; i++)
            ascii = data[i] < 0x80;
        if (valid && ascii && (out.len != size || (size && memcmp(out.data, data, size) != 0)))
            abort();
        if (!ov_utf8_valid((const uint8_t *)out.data, out.len))
            abort(); /* decoding whole sequences yields whole characters */
        ov_tok_stream st;
        ov_tok_stream_init(&st);
        ov_buf_reset(&out);
        for (size_t i = 0; i < ids.len; i++)
            if (ov_tok_stream_push(&st, ov_tok_qwen_bpe(qwen), ids.v[i], 0, &out) != 0)
                abort();
        ov_tok_stream_flush(&st, &out);
        if (!ov_utf8_valid((const uint8_t *)out.data, out.len))
            abort();
        ov_tok_ids_free(&ids);
        ov_buf_free(&out);
    }
    if (clip) {
        ov_tok_ids_init(&ids, 1 << 20);
        float *w = malloc((1 << 20) * sizeof *w);
        if (ov_tok_clip_encode_weighted(clip, (const char *)data, size, &ids, w) != 0)
            abort();
        for (size_t i = 0; i < ids.len; i++)
            if (ids.v[i] < 0 || ids.v[i] >= OV_CLIP_BOS || !(w[i] >= -10.0f && w[i] <= 10.0f))
                abort();
        free(w);
        ov_tok_ids_free(&ids);
    }
    ov_pw_result r;
    if (ov_pw_parse((const char *)data, size, &r) != 0)
        abort();
    ov_pw_free(&r);
    return 0;
}
