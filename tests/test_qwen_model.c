/* Tests for workers/qwen (model, KV cache, generation, sampling): the tiny random Qwen2 made by
 * ourvidz-mkmodel against transformers and llama.cpp golden data (tests/golden/qwen/), HF vs GGUF
 * loads, sampling reproducibility, stop conditions and bad model folders. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/tensor/dtype.h"
#include "common/text/utf8.h"
#include "workers/qwen/qwen.h"

#define VOCAB 151936

static char g_dir[256];      /* temp folder: f32/ (HF + f32 GGUF) and q8/ (q8_0 GGUF) */
static json_t *g_golden;     /* tests/golden/qwen/qwen_tiny_golden.json.gz */
static ov_qwen *g_hf, *g_gg; /* loaded once in the parent (unchecked fixture), shared by forks */

static const char *env_or(const char *k, const char *def)
{
    const char *v = getenv(k);
    return v ? v : def;
}

/* ourvidz-mkmodel qwen --preset P --out DIR --seed 42 --gguf-type T [--shards S --no-gguf] */
static int run_mkmodel(const char *out, const char *gguf_type, const char *preset, const char *shards)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/ourvidz-mkmodel", env_or("OURVIDZ_BIN_DIR", "bin"));
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execl(bin, bin, "qwen", "--preset", preset, "--out", out, "--seed", "42", "--gguf-type", gguf_type,
              shards ? "--shards" : NULL, shards, "--no-gguf", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static json_t *load_json_gz(const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return NULL;
    ov_buf b;
    ov_buf_init(&b, 64u << 20);
    char chunk[65536];
    int n;
    while ((n = gzread(f, chunk, sizeof chunk)) > 0)
        if (ov_buf_append(&b, chunk, (size_t)n))
            break;
    gzclose(f);
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, 0, &e);
    ov_buf_free(&b);
    return j;
}

static ov_qwen *load(const char *rel, int64_t ctx)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, rel);
    ov_qwen_opts o = {.backend_kind = 0, .ctx_max = ctx, .weight_dtype = -1};
    ov_qwen *q = NULL;
    int rc = ov_qwen_load(path, &o, &q, err, sizeof err);
    if (rc) {
        fprintf(stderr, "test_qwen_model: load %s: %d %s\n", path, rc, err);
        abort();
    }
    return q;
}

static void setup_once(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ovqwenXXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    char p[512];
    snprintf(p, sizeof p, "%s/f32", g_dir);
    int rc1 = run_mkmodel(p, "f32", "tiny", NULL);
    snprintf(p, sizeof p, "%s/q8", g_dir);
    int rc2 = run_mkmodel(p, "q8_0", "tiny", NULL);
    snprintf(p, sizeof p, "%s/q4k", g_dir);
    int rc3 = run_mkmodel(p, "q4_K", "tiny-q4k", NULL);
    snprintf(p, sizeof p, "%s/sharded", g_dir);
    rc3 = rc3 ? rc3 : run_mkmodel(p, "f32", "tiny", "3");
    if (rc1 || rc2 || rc3) {
        fprintf(stderr, "test_qwen_model: ourvidz-mkmodel failed (%d, %d, %d); OURVIDZ_BIN_DIR=%s\n", rc1,
                rc2, rc3, env_or("OURVIDZ_BIN_DIR", "(unset)"));
        abort();
    }
    snprintf(p, sizeof p, "%s/tests/golden/qwen/qwen_tiny_golden.json.gz", env_or("OURVIDZ_SOURCE_DIR", "."));
    if (!(g_golden = load_json_gz(p))) {
        fprintf(stderr, "test_qwen_model: cannot read %s\n", p);
        abort();
    }
    g_hf = load("f32", 512);
    g_gg = load("f32/model.gguf", 512);
}

static void teardown_once(void)
{
    ov_qwen_free(g_hf);
    ov_qwen_free(g_gg);
    json_decref(g_golden);
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static json_t *gcase(size_t i)
{
    return json_array_get(json_object_get(g_golden, "cases"), i);
}
static size_t n_cases(void)
{
    return json_array_size(json_object_get(g_golden, "cases"));
}

/* ids of golden case i (malloc) */
static int32_t *case_ids(size_t i, size_t *n)
{
    json_t *a = json_object_get(gcase(i), "ids");
    *n = json_array_size(a);
    int32_t *ids = malloc(*n * sizeof *ids);
    for (size_t k = 0; k < *n; k++)
        ids[k] = (int32_t)json_integer_value(json_array_get(a, k));
    return ids;
}

/* Largest |ours - golden| over the stored entries of one row (top-16, drawn ids) and the
 * logsumexp of the whole row; checks the argmax too when the golden top-2 gap exceeds 2·tol. */
static double row_diff(const float *row, json_t *g, double tol, double *lse_diff)
{
    double d = 0;
    const char *k[2][2] = {{"top_ids", "top"}, {"ids", "vals"}};
    for (int s = 0; s < 2; s++) {
        json_t *ids = json_object_get(g, k[s][0]), *vals = json_object_get(g, k[s][1]);
        for (size_t i = 0; i < json_array_size(ids); i++) {
            double e = fabs((double)row[json_integer_value(json_array_get(ids, i))] -
                            json_real_value(json_array_get(vals, i)));
            if (e > d)
                d = e;
        }
    }
    double m = row[0], sum = 0;
    for (int i = 1; i < VOCAB; i++)
        if (row[i] > m)
            m = row[i];
    for (int i = 0; i < VOCAB; i++)
        sum += exp((double)row[i] - m);
    *lse_diff = fabs(m + log(sum) - json_real_value(json_object_get(g, "lse")));
    json_t *top = json_object_get(g, "top");
    if (json_real_value(json_array_get(top, 0)) - json_real_value(json_array_get(top, 1)) >
        fmax(1e-3, 2 * tol)) {
        int best = 0;
        for (int i = 1; i < VOCAB; i++)
            if (row[i] > row[best])
                best = i;
        ck_assert_int_eq(best, json_integer_value(json_array_get(json_object_get(g, "top_ids"), 0)));
    }
    return d;
}

/* Compare every prompt's logits rows against `key` rows; returns the max |Δ|. */
static double compare_logits(ov_qwen *q, const char *key, double tol)
{
    double worst = 0, worst_lse = 0;
    for (size_t c = 0; c < n_cases(); c++) {
        size_t n;
        int32_t *ids = case_ids(c, &n);
        float *lg = malloc(n * VOCAB * sizeof *lg);
        ck_assert_int_eq(ov_qwen_logits(q, ids, n, lg), 0);
        json_t *rows = json_object_get(gcase(c), key);
        ck_assert_uint_eq(json_array_size(rows), n);
        for (size_t r = 0; r < n; r++) {
            double ld, d = row_diff(lg + r * VOCAB, json_array_get(rows, r), tol, &ld);
            if (d > worst)
                worst = d;
            if (ld > worst_lse)
                worst_lse = ld;
        }
        free(lg);
        free(ids);
    }
    fprintf(stderr, "qwen logits vs %s: max |d| %.3g, logsumexp |d| %.3g (tolerance %.3g)\n", key, worst,
            worst_lse, tol);
    ck_assert_msg(worst <= tol && worst_lse <= tol, "%s: max |d| %g lse %g > %g", key, worst, worst_lse, tol);
    return worst;
}

/* f32 weights, f32 math everywhere: the differences are summation order only (transformers and
 * llama.cpp agree with each other to 2.2e-5 on these logits of magnitude ~17), so 2e-4. */
START_TEST(hf_logits_match_transformers)
{
    compare_logits(g_hf, "hf_rows", 2e-4);
}
END_TEST

START_TEST(gguf_logits_match_llama_cpp)
{
    compare_logits(g_gg, "llama_rows", 2e-4);
}
END_TEST

/* The same f32 values through two loaders and one forward: equal to the last bit. */
START_TEST(hf_and_gguf_logits_equal)
{
    size_t n;
    int32_t *ids = case_ids(1, &n);
    float *a = malloc(n * VOCAB * sizeof *a), *b = malloc(n * VOCAB * sizeof *b);
    ck_assert_int_eq(ov_qwen_logits(g_hf, ids, n, a), 0);
    ck_assert_int_eq(ov_qwen_logits(g_gg, ids, n, b), 0);
    double d = 0;
    for (size_t i = 0; i < n * VOCAB; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    fprintf(stderr, "qwen HF vs GGUF load: max |d| %g over %zu logits\n", d, n * VOCAB);
    ck_assert(d == 0.0);
    const ov_qwen_info *hi = ov_qwen_get_info(g_hf), *gi = ov_qwen_get_info(g_gg);
    ck_assert_int_eq(hi->n_layers, 2);
    ck_assert_int_eq(gi->n_layers, 2);
    ck_assert_int_eq(hi->hidden, gi->hidden);
    ck_assert_int_eq(hi->n_kv_heads, 2);
    ck_assert_int_eq(gi->n_kv_heads, 2);
    ck_assert_int_eq(hi->vocab, gi->vocab);
    ck_assert(hi->tied_embeddings && gi->tied_embeddings);
    ck_assert(hi->has_chat_template && gi->has_chat_template);
    ck_assert(fabsf(hi->rope_theta - 1e6f) < 1 && fabsf(gi->rope_theta - 1e6f) < 1);
    const int32_t *stops;
    for (int m = 0; m < 2; m++) {
        size_t ns = ov_qwen_stop_ids(m ? g_gg : g_hf, &stops), seen = 0;
        for (size_t i = 0; i < ns; i++)
            seen += stops[i] == 151643 || stops[i] == 151645;
        ck_assert_uint_eq(seen, 2); /* <|endoftext|> and <|im_end|> (chat template present) */
    }
    ck_assert_str_eq(hi->format, "safetensors");
    ck_assert_str_eq(gi->format, "gguf");
    free(a);
    free(b);
    free(ids);
}
END_TEST

/* A sharded HF folder (model-0000K-of-00003.safetensors + index.json, as 7B checkpoints ship)
 * loads through the index to the same logits. */
START_TEST(sharded_folder_same_logits)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/sharded", g_dir);
    ov_qwen_opts o = {.ctx_max = 64, .weight_dtype = -1};
    ov_qwen *q = NULL;
    ck_assert_int_eq(ov_qwen_load(path, &o, &q, err, sizeof err), 0);
    size_t n;
    int32_t *ids = case_ids(0, &n);
    float *a = malloc(n * VOCAB * sizeof *a), *b = malloc(n * VOCAB * sizeof *b);
    ck_assert_int_eq(ov_qwen_logits(q, ids, n, a), 0);
    ck_assert_int_eq(ov_qwen_logits(g_hf, ids, n, b), 0);
    ck_assert(memcmp(a, b, n * VOCAB * sizeof *a) == 0);
    free(a);
    free(b);
    free(ids);
    ov_qwen_free(q);
}
END_TEST

/* Both tokenizers (tokenizer.json and GGUF metadata) give the reference ids of every prompt. */
START_TEST(tokenizers_match_reference_ids)
{
    for (size_t c = 0; c < n_cases(); c++) {
        size_t n;
        int32_t *want = case_ids(c, &n);
        json_t *t = json_object_get(gcase(c), "text");
        ov_qwen *qs[2] = {g_hf, g_gg};
        for (int m = 0; m < 2; m++) {
            ov_tok_ids ids;
            ov_tok_ids_init(&ids, 1 << 16);
            ck_assert_int_eq(ov_tok_qwen_encode(ov_qwen_tokenizer(qs[m]), json_string_value(t),
                                                json_string_length(t), 0, &ids, NULL),
                             0);
            ck_assert_uint_eq(ids.len, n);
            ck_assert(memcmp(ids.v, want, n * sizeof *want) == 0);
            ov_tok_ids_free(&ids);
        }
        free(want);
    }
}
END_TEST

static void greedy_check(ov_qwen *q, const char *key, char **texts)
{
    for (size_t c = 0; c < n_cases(); c++) {
        size_t n;
        int32_t *ids = case_ids(c, &n);
        ov_gen_params p = {.temperature = 0, .top_p = 1, .repetition_penalty = 1, .max_new_tokens = 64};
        ov_gen_result r;
        ck_assert_int_eq(ov_qwen_generate(q, ids, n, &p, NULL, NULL, &r), 0);
        json_t *want = json_object_get(gcase(c), key);
        ck_assert_uint_eq(r.n_ids, 64);
        ck_assert_int_eq(r.stop, OV_GEN_STOP_MAX_TOKENS);
        ck_assert_uint_eq(r.prompt_tokens, n);
        for (size_t i = 0; i < 64; i++)
            ck_assert_msg(r.ids[i] == json_integer_value(json_array_get(want, i)),
                          "case %zu token %zu: %d != %lld", c, i, r.ids[i],
                          (long long)json_integer_value(json_array_get(want, i)));
        if (texts)
            texts[c] = strdup(r.text);
        ov_gen_result_free(&r);
        free(ids);
    }
}

/* 64 greedy tokens through the KV cache equal the references' (transformers on the HF folder,
 * llama.cpp on the GGUF). */
START_TEST(greedy_64_hf_matches_transformers)
{
    greedy_check(g_hf, "hf_greedy", NULL);
}
END_TEST

/* ... and decode to the same text (padding ids 151665+ have no text in either tokenizer). */
START_TEST(greedy_64_gguf_matches_llama_cpp)
{
    char *a[8] = {0}, *b[8] = {0};
    ck_assert_uint_le(n_cases(), 8);
    greedy_check(g_gg, "llama_greedy", a);
    greedy_check(g_hf, "hf_greedy", b);
    for (size_t c = 0; c < n_cases(); c++) {
        ck_assert_str_eq(a[c], b[c]);
        ck_assert(ov_utf8_valid((const uint8_t *)a[c], strlen(a[c])));
        free(a[c]);
        free(b[c]);
    }
}
END_TEST

/* q8_0 GGUF: we dequantise weights exactly (as ggml does) and multiply in f32; llama.cpp also
 * quantises the activations to q8_0 for its dot products. Logits span about ±17 here. Measured:
 * ours vs transformers on the f32 weights 0.56 (the q8_0 weight rounding alone), ours vs
 * llama.cpp q8_0 0.48, llama.cpp q8_0 vs transformers 1.23: tolerance 1.0 for both. */
START_TEST(q8_0_gguf_logits)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/q8/model.gguf", g_dir);
    ov_qwen_opts o = {.ctx_max = 64, .weight_dtype = -1};
    ov_qwen *q = NULL;
    ck_assert_int_eq(ov_qwen_load(path, &o, &q, err, sizeof err), 0);
    compare_logits(q, "llama_q8_rows", 1.0);
    compare_logits(q, "hf_rows", 1.0);
    ov_qwen_free(q);
}
END_TEST

/* Q4_K GGUF (tiny-q4k: hidden 256 so every matrix fills 256-element blocks) against llama.cpp on
 * the same file. The weights are bit-identical (same block format, dequantised as ggml does);
 * llama.cpp also rounds the activations to q8_K, which moves these logits (|max| ~20) by up to
 * 0.44 (measured; logsumexp 0.05): tolerance 4 % of the largest logit (~0.8). A wrong block layout gives
 * errors of the logits' own size. */
START_TEST(q4_k_gguf_logits_match_llama_cpp)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/q4k/model.gguf", g_dir);
    ov_qwen_opts o = {.ctx_max = 64, .weight_dtype = -1};
    ov_qwen *q = NULL;
    ck_assert_int_eq(ov_qwen_load(path, &o, &q, err, sizeof err), 0);
    json_t *cases = json_object_get(g_golden, "q4k_cases");
    ck_assert_uint_ge(json_array_size(cases), 1);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *k = json_array_get(cases, c), *a = json_object_get(k, "ids"),
               *rows = json_object_get(k, "llama_rows");
        size_t n = json_array_size(a);
        int32_t *ids = malloc(n * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            ids[i] = (int32_t)json_integer_value(json_array_get(a, i));
        float *lg = malloc(n * VOCAB * sizeof *lg);
        ck_assert_int_eq(ov_qwen_logits(q, ids, n, lg), 0);
        double tol = 0.04 * json_real_value(json_object_get(k, "max_abs_logit")), worst = 0, worst_lse = 0;
        for (size_t r = 0; r < n; r++) {
            double ld, d = row_diff(lg + r * VOCAB, json_array_get(rows, r), tol, &ld);
            worst = fmax(worst, d);
            worst_lse = fmax(worst_lse, ld);
        }
        fprintf(stderr, "qwen q4_K vs llama.cpp: max |d| %.3g, logsumexp |d| %.3g (tolerance %.3g)\n", worst,
                worst_lse, tol);
        ck_assert(worst <= tol && worst_lse <= tol);
        free(lg);
        free(ids);
    }
    ov_qwen_free(q);
}
END_TEST

/* A 300-token prompt (two prefill chunks, RoPE positions to 299) against transformers: rows
 * 0/255/256/299 and 16 greedy tokens. Same f32 tolerance as the short prompts. */
START_TEST(long_prompt_matches_transformers)
{
    json_t *lc = json_object_get(g_golden, "long_case"), *a = json_object_get(lc, "ids");
    json_t *at = json_object_get(lc, "rows_at"), *rows = json_object_get(lc, "hf_rows");
    size_t n = json_array_size(a);
    ck_assert_uint_gt(n, 256);
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(a, i));
    float *lg = malloc(n * VOCAB * sizeof *lg);
    ck_assert_int_eq(ov_qwen_logits(g_hf, ids, n, lg), 0);
    double worst = 0, worst_lse = 0;
    for (size_t r = 0; r < json_array_size(at); r++) {
        double ld, d = row_diff(lg + json_integer_value(json_array_get(at, r)) * VOCAB,
                                json_array_get(rows, r), 2e-4, &ld);
        worst = fmax(worst, d);
        worst_lse = fmax(worst_lse, ld);
    }
    fprintf(stderr, "qwen %zu-token prompt vs transformers: max |d| %.3g, logsumexp |d| %.3g\n", n, worst,
            worst_lse);
    ck_assert(worst <= 2e-4 && worst_lse <= 2e-4);
    ov_gen_params p = {.temperature = 0, .top_p = 1, .repetition_penalty = 1, .max_new_tokens = 16};
    ov_gen_result r;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), 0);
    json_t *want = json_object_get(lc, "hf_greedy");
    ck_assert_uint_eq(r.n_ids, 16);
    for (size_t i = 0; i < 16; i++)
        ck_assert_int_eq(r.ids[i], json_integer_value(json_array_get(want, i)));
    ov_gen_result_free(&r);
    free(lg);
    free(ids);
}
END_TEST

/* Incremental decode equals batched prefill: logits of prompt + greedy tokens, computed in one
 * pass, pick the same tokens. Plus a prompt longer than one prefill chunk (256 rows). */
START_TEST(prefill_chunks_and_decode_agree)
{
    size_t n;
    int32_t *ids = case_ids(0, &n);
    ov_gen_params p = {.temperature = 0, .top_p = 1, .repetition_penalty = 1, .max_new_tokens = 300};
    ov_gen_result r;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), 0);
    size_t total = n + r.n_ids;
    int32_t *all = malloc(total * sizeof *all);
    memcpy(all, ids, n * sizeof *ids);
    memcpy(all + n, r.ids, r.n_ids * sizeof *all);
    float *lg = malloc(total * VOCAB * sizeof *lg);
    ck_assert_int_eq(ov_qwen_logits(g_hf, all, total, lg), 0);
    for (size_t k = 0; k + 1 < r.n_ids; k++) {
        const float *row = lg + (n - 1 + k) * VOCAB;
        int best = 0;
        for (int i = 1; i < VOCAB; i++)
            if (row[i] > row[best])
                best = i;
        ck_assert_msg(best == r.ids[k], "token %zu: batched argmax %d, decoded %d", k, best, r.ids[k]);
    }
    fprintf(stderr, "qwen: %zu decoded tokens == batched argmax over %zu rows (2 prefill chunks)\n", r.n_ids,
            total);
    free(lg);
    free(all);
    ov_gen_result_free(&r);
    free(ids);
}
END_TEST

static ov_gen_result gen(ov_qwen *q, float temp, int top_k, float top_p, float rep, uint64_t seed, int max)
{
    size_t n;
    int32_t *ids = case_ids(1, &n);
    ov_gen_params p = {.temperature = temp,
                       .top_k = top_k,
                       .top_p = top_p,
                       .repetition_penalty = rep,
                       .seed = seed,
                       .max_new_tokens = max};
    ov_gen_result r;
    ck_assert_int_eq(ov_qwen_generate(q, ids, n, &p, NULL, NULL, &r), 0);
    free(ids);
    return r;
}

static int same_ids(const ov_gen_result *a, const ov_gen_result *b)
{
    return a->n_ids == b->n_ids && memcmp(a->ids, b->ids, a->n_ids * sizeof *a->ids) == 0;
}

START_TEST(sampling_is_seeded)
{
    ov_gen_result a = gen(g_hf, 0.8f, 40, 0.9f, 1.05f, 7, 32), b = gen(g_gg, 0.8f, 40, 0.9f, 1.05f, 7, 32);
    ov_gen_result c = gen(g_hf, 0.8f, 40, 0.9f, 1.05f, 8, 32), d = gen(g_hf, 0.8f, 40, 0.9f, 1.05f, 7, 32);
    ck_assert(same_ids(&a, &b)); /* same seed: same tokens (and HF == GGUF) */
    ck_assert(same_ids(&a, &d));
    ck_assert(!same_ids(&a, &c)); /* another seed: another continuation */
    /* top-k 1 and temperature 0 are greedy whatever the seed */
    ov_gen_result g = gen(g_hf, 0, 0, 1, 1, 1, 32), k1 = gen(g_hf, 1.0f, 1, 1, 1, 99, 32);
    ck_assert(same_ids(&g, &k1));
    /* sampling at temperature 1 with everything kept differs from greedy */
    ov_gen_result s = gen(g_hf, 1.0f, 0, 1, 1, 3, 32);
    ck_assert(!same_ids(&g, &s));
    /* a repetition penalty breaks greedy's loops (the tiny model repeats one token) */
    ov_gen_result rp = gen(g_hf, 0, 0, 1, 2.0f, 1, 32);
    ck_assert(!same_ids(&g, &rp));
    /* top-p alone: a tiny top_p keeps only the best token (greedy); a wide one at a high
     * temperature takes the full-sort path; both reproducible */
    ov_gen_result p0 = gen(g_hf, 1.0f, 0, 1e-6f, 1, 5, 32);
    ck_assert(same_ids(&g, &p0));
    ov_gen_result w1 = gen(g_hf, 5.0f, 0, 0.999f, 1, 5, 16), w2 = gen(g_hf, 5.0f, 0, 0.999f, 1, 5, 16);
    ck_assert(same_ids(&w1, &w2));
    ck_assert(!same_ids(&w1, &g));
    ov_gen_result *all[] = {&a, &b, &c, &d, &g, &k1, &s, &rp, &p0, &w1, &w2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ov_gen_result_free(all[i]);
}
END_TEST

struct collect {
    ov_buf text;
    int calls, stop_after, bad_utf8;
};

static int on_token(void *ctx, int32_t id, const char *piece, size_t n)
{
    (void)id;
    struct collect *c = ctx;
    if (n && !ov_utf8_valid((const uint8_t *)piece, n))
        c->bad_utf8++;
    ov_buf_append(&c->text, piece, n);
    return ++c->calls == c->stop_after;
}

START_TEST(stops_and_streaming)
{
    size_t n;
    int32_t *ids = case_ids(2, &n);
    ov_gen_params p = {.temperature = 0, .top_p = 1, .repetition_penalty = 1, .max_new_tokens = 40};
    ov_gen_result full, r;
    struct collect c = {.stop_after = -1};
    ov_buf_init(&c.text, 1 << 20);
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, on_token, &c, &full), 0);
    ck_assert_int_eq(c.calls, 40);
    ck_assert_int_eq(c.bad_utf8, 0);
    ck_assert_uint_eq(c.text.len, full.text_len); /* pieces concatenate to the text */
    ck_assert(full.text_len == 0 || memcmp(c.text.data, full.text, full.text_len) == 0);
    ck_assert(full.prefill_ms >= 0 && full.decode_ms >= 0);
    /* an extra stop id ends generation before it (not reported, not in ids) */
    int32_t stop = full.ids[5];
    size_t first = 0;
    while (full.ids[first] != stop)
        first++;
    p.stop_ids = &stop;
    p.n_stop_ids = 1;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.stop, OV_GEN_STOP_EOS);
    ck_assert_uint_eq(r.n_ids, first);
    ov_gen_result_free(&r);
    p.stop_ids = NULL;
    p.n_stop_ids = 0;
    /* the callback cancels */
    ov_buf_reset(&c.text);
    c.calls = 0;
    c.stop_after = 3;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, on_token, &c, &r), 0);
    ck_assert_int_eq(r.stop, OV_GEN_STOP_CALLBACK);
    ck_assert_uint_eq(r.n_ids, 3);
    ov_gen_result_free(&r);
    /* a deadline already past: one token, then DEADLINE */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    p.deadline_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - 1;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.stop, OV_GEN_STOP_DEADLINE);
    ck_assert_uint_eq(r.n_ids, 1);
    ov_gen_result_free(&r);
    p.deadline_ms = 0;
    /* the KV cache fills: CONTEXT */
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/f32", g_dir);
    ov_qwen_opts o = {.ctx_max = (int64_t)n + 4, .weight_dtype = -1};
    ov_qwen *small = NULL;
    ck_assert_int_eq(ov_qwen_load(path, &o, &small, err, sizeof err), 0);
    ck_assert_int_eq(ov_qwen_generate(small, ids, n, &p, NULL, NULL, &r), 0);
    ck_assert_int_eq(r.stop, OV_GEN_STOP_CONTEXT);
    ck_assert_uint_eq(r.n_ids, 5);
    ck_assert(memcmp(r.ids, full.ids, 5 * sizeof *r.ids) == 0);
    ov_gen_result_free(&r);
    /* a prompt that fills the cache is refused (the caller truncates) */
    int32_t *longp = calloc(n + 8, sizeof *longp);
    memcpy(longp, ids, n * sizeof *ids);
    ck_assert_int_eq(ov_qwen_generate(small, longp, n + 8, &p, NULL, NULL, &r), OV_ERANGE);
    ck_assert_ptr_null(r.ids);
    free(longp);
    ov_qwen_free(small);
    /* bad parameters */
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, 0, &p, NULL, NULL, &r), OV_EINVAL);
    p.max_new_tokens = 0;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), OV_EINVAL);
    p.max_new_tokens = 4;
    p.top_p = 2;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), OV_EINVAL);
    p.top_p = 1;
    p.temperature = NAN;
    ck_assert_int_eq(ov_qwen_generate(g_hf, ids, n, &p, NULL, NULL, &r), OV_EINVAL);
    int32_t bad_id = VOCAB + 5;
    p.temperature = 0;
    ck_assert_int_eq(ov_qwen_generate(g_hf, &bad_id, 1, &p, NULL, NULL, &r), OV_EINVAL);
    ov_gen_result_free(&full);
    ov_buf_free(&c.text);
    free(ids);
}
END_TEST

/* ---- bad model folders ---- */

static void link_into(const char *dir, const char *file, const char *as)
{
    char src[512], dst[512];
    ck_assert_int_lt(snprintf(src, sizeof src, "%s/f32/%s", g_dir, file), (int)sizeof src);
    ck_assert_int_lt(snprintf(dst, sizeof dst, "%s/%s", dir, as ? as : file), (int)sizeof dst);
    ck_assert_int_eq(symlink(src, dst), 0);
}

static void write_file(const char *dir, const char *file, const char *text)
{
    char p[512];
    ck_assert_int_lt(snprintf(p, sizeof p, "%s/%s", dir, file), (int)sizeof p);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int try_load(const char *path, char *err, size_t cap)
{
    ov_qwen_opts o = {.ctx_max = 64, .weight_dtype = -1};
    ov_qwen *q = NULL;
    int rc = ov_qwen_load(path, &o, &q, err, cap);
    ov_qwen_free(q);
    fprintf(stderr, "qwen bad input: rc %d: %s\n", rc, err);
    return rc;
}

static char *config_with(const char *key, int value)
{
    char p[512];
    snprintf(p, sizeof p, "%s/f32/config.json", g_dir);
    json_error_t e;
    json_t *c = json_load_file(p, 0, &e);
    json_object_set_new(c, key, json_integer(value));
    char *s = json_dumps(c, 0);
    json_decref(c);
    return s;
}

START_TEST(bad_model_folders_are_clear_errors)
{
    char d[512], err[512];
    /* missing path */
    snprintf(d, sizeof d, "%s/nope", g_dir);
    ck_assert_int_eq(try_load(d, err, sizeof err), OV_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "nope"));

    /* config says hidden 128, the tensors are 64 wide: the tensor and the mismatch are named */
    snprintf(d, sizeof d, "%s/badcfg", g_dir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    char *cfg = config_with("hidden_size", 128);
    write_file(d, "config.json", cfg);
    free(cfg);
    link_into(d, "model.safetensors", NULL);
    link_into(d, "tokenizer.json", NULL);
    ck_assert_int_eq(try_load(d, err, sizeof err), OV_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, "model.embed_tokens.weight"));
    ck_assert_ptr_nonnull(strstr(err, "config.json"));

    /* config says 3 layers: the missing tensor is named */
    snprintf(d, sizeof d, "%s/badlayers", g_dir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    cfg = config_with("num_hidden_layers", 3);
    write_file(d, "config.json", cfg);
    free(cfg);
    link_into(d, "model.safetensors", NULL);
    link_into(d, "tokenizer.json", NULL);
    ck_assert_int_eq(try_load(d, err, sizeof err), OV_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "model.layers.2."));

    /* sharded folder whose index names a shard that is not there */
    snprintf(d, sizeof d, "%s/shard", g_dir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    link_into(d, "config.json", NULL);
    link_into(d, "tokenizer.json", NULL);
    link_into(d, "model.safetensors", "model-00001-of-00002.safetensors");
    write_file(d, "model.safetensors.index.json",
               "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {"
               "\"model.embed_tokens.weight\": \"model-00001-of-00002.safetensors\","
               "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}");
    ck_assert_int_ne(try_load(d, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "model-00002-of-00002.safetensors"));

    /* truncated safetensors and GGUF */
    snprintf(d, sizeof d, "%s/trunc", g_dir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    link_into(d, "config.json", NULL);
    link_into(d, "tokenizer.json", NULL);
    const char *files[2] = {"model.safetensors", "model.gguf"};
    for (int i = 0; i < 2; i++) {
        char src[512], dst[1100];
        snprintf(src, sizeof src, "%s/f32/%s", g_dir, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", d, files[i]);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        ck_assert(in && out);
        fseek(in, 0, SEEK_END);
        long sz = ftell(in);
        fseek(in, 0, SEEK_SET);
        char *buf = malloc((size_t)sz);
        ck_assert_uint_eq(fread(buf, 1, (size_t)sz, in), (size_t)sz);
        fwrite(buf, 1, (size_t)sz / 2, out);
        free(buf);
        fclose(in);
        fclose(out);
    }
    ck_assert_int_ne(try_load(d, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "model.safetensors"));
    char gp[600];
    snprintf(gp, sizeof gp, "%s/model.gguf", d);
    ck_assert_int_ne(try_load(gp, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "model.gguf"));

    /* a folder without config.json */
    snprintf(d, sizeof d, "%s/nocfg", g_dir);
    ck_assert_int_eq(mkdir(d, 0755), 0);
    link_into(d, "model.safetensors", NULL);
    ck_assert_int_eq(try_load(d, err, sizeof err), OV_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "config.json"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qwen_model");
    TCase *tc = tcase_create("qwen");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_add_test(tc, hf_logits_match_transformers);
    tcase_add_test(tc, gguf_logits_match_llama_cpp);
    tcase_add_test(tc, hf_and_gguf_logits_equal);
    tcase_add_test(tc, sharded_folder_same_logits);
    tcase_add_test(tc, tokenizers_match_reference_ids);
    tcase_add_test(tc, greedy_64_hf_matches_transformers);
    tcase_add_test(tc, greedy_64_gguf_matches_llama_cpp);
    tcase_add_test(tc, q8_0_gguf_logits);
    tcase_add_test(tc, q4_k_gguf_logits_match_llama_cpp);
    tcase_add_test(tc, long_prompt_matches_transformers);
    tcase_add_test(tc, prefill_chunks_and_decode_agree);
    tcase_add_test(tc, sampling_is_seeded);
    tcase_add_test(tc, stops_and_streaming);
    tcase_add_test(tc, bad_model_folders_are_clear_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
