/* Benchmark: Qwen encode tokens/s on a ~2 KB prompt and on the golden corpus (compare: HF tokenizers). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/text/tok_clip.h"
#include "common/text/tok_qwen.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct corpus {
    char **s;
    size_t *n;
    size_t count;
} corpus;

static int load_corpus(const char *path, corpus *c)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return -1;
    static char line[1 << 20];
    size_t cap = 0;
    memset(c, 0, sizeof *c);
    while (gzgets(f, line, sizeof line)) {
        json_t *j = json_loads(line, JSON_ALLOW_NUL, NULL);
        json_t *s = json_object_get(j, "s");
        if (!s)
            continue;
        if (c->count == cap) {
            cap = cap ? cap * 2 : 1024;
            c->s = realloc(c->s, cap * sizeof *c->s);
            c->n = realloc(c->n, cap * sizeof *c->n);
        }
        c->n[c->count] = json_string_length(s);
        c->s[c->count] = malloc(c->n[c->count] + 1);
        memcpy(c->s[c->count], json_string_value(s), c->n[c->count] + 1);
        c->count++;
        json_decref(j);
    }
    gzclose(f);
    return 0;
}

/* Encode the batch repeatedly for ~seconds; returns tokens/s. */
static double run(ov_tok_qwen *t, corpus *c, double seconds, size_t *tokens_per_pass)
{
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 1 << 22);
    size_t reps = 0, toks = 0;
    double t0 = now_s(), el;
    do {
        for (size_t i = 0; i < c->count; i++) {
            ov_tok_ids_reset(&ids);
            if (ov_tok_qwen_encode(t, c->s[i], c->n[i], 0, &ids, NULL))
                exit(1);
            toks += ids.len;
        }
        reps++;
        el = now_s() - t0;
    } while (el < seconds);
    *tokens_per_pass = toks / reps;
    ov_tok_ids_free(&ids);
    return (double)toks / el;
}

int main(int argc, char **argv)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR") ? getenv("OURVIDZ_SOURCE_DIR") : ".";
    char p[4096];
    snprintf(p, sizeof p, "%s/../shared/data/qwen/tokenizer.json", src);
    double t0 = now_s();
    ov_tok_qwen *t;
    if (ov_tok_qwen_load_json(&t, argc > 1 ? argv[1] : p)) {
        fprintf(stderr, "bench_tokenizer: cannot load %s (set OURVIDZ_SOURCE_DIR)\n", argc > 1 ? argv[1] : p);
        return 1;
    }
    printf("qwen tokenizer.json load: %.3f s\n", now_s() - t0);
    snprintf(p, sizeof p, "%s/tests/golden/text/bench_prompt.txt", src);
    FILE *f = fopen(p, "rb");
    if (!f)
        return 1;
    static char prompt[65536];
    size_t pn = fread(prompt, 1, sizeof prompt, f);
    fclose(f);
    char *ps = prompt;
    corpus one = {&ps, &pn, 1}, all;
    snprintf(p, sizeof p, "%s/tests/golden/text/qwen_golden.jsonl.gz", src);
    if (load_corpus(p, &all))
        return 1;
    size_t tp;
    double cold0 = now_s();
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 1 << 20);
    ov_tok_qwen_encode(t, prompt, pn, 0, &ids, NULL);
    printf("first encode of the %zu-byte prompt (cold word cache): %.3f ms, %zu tokens\n", pn,
           (now_s() - cold0) * 1e3, ids.len);
    ov_tok_ids_free(&ids);
    double r1 = run(t, &one, 2.0, &tp);
    printf("qwen encode, %zu-byte prompt: %.0f tokens/s (%zu tokens/pass)\n", pn, r1, tp);
    double r2 = run(t, &all, 2.0, &tp);
    printf("qwen encode, golden corpus (%zu strings): %.0f tokens/s (%zu tokens/pass)\n", all.count, r2, tp);
    ov_tok_qwen_free(t);
    for (size_t i = 0; i < all.count; i++)
        free(all.s[i]);
    free(all.s);
    free(all.n);
    return 0;
}
