/* Tests for the CLIP tokenizer, 77-token windows/chunks and the emphasis parser (common/text). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/prompt_weights.h"
#include "common/text/tok_clip.h"
#include "common/text/utf8.h"

static ov_tok_clip *g_tok; /* loaded in the parent from the copy shipped in common/text/data */

static const char *src_dir(void)
{
    const char *s = getenv("OURVIDZ_SOURCE_DIR");
    return s ? s : ".";
}

static void setup_once(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/common/text/data/bpe_simple_vocab_16e6.txt.gz", src_dir());
    if (ov_tok_clip_load(&g_tok, p) != 0) {
        fprintf(stderr, "test_tok_clip: cannot load %s\n", p);
        abort();
    }
}

static void teardown_once(void)
{
    ov_tok_clip_free(g_tok);
}

static void enc(const char *s, ov_tok_ids *ids)
{
    ov_tok_ids_init(ids, 1 << 20);
    ck_assert_int_eq(ov_tok_clip_encode(g_tok, s, strlen(s), ids), 0);
}

START_TEST(golden_ids_match_open_clip)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/tests/golden/text/clip_golden.jsonl.gz", src_dir());
    gzFile f = gzopen(p, "rb");
    ck_assert_msg(f != NULL, "missing %s", p);
    static char line[1 << 20];
    size_t n = 0, bad = 0, hf_same = 0, hf_ours = 0;
    while (gzgets(f, line, sizeof line)) {
        json_error_t e;
        json_t *rec = json_loads(line, JSON_ALLOW_NUL, &e);
        ck_assert_ptr_nonnull(rec);
        json_t *s = json_object_get(rec, "s"), *want = json_object_get(rec, "ids"),
               *hf = json_object_get(rec, "hf");
        ov_tok_ids ids;
        ov_tok_ids_init(&ids, 1 << 20);
        ck_assert_int_eq(ov_tok_clip_encode(g_tok, json_string_value(s), json_string_length(s), &ids), 0);
        int same = ids.len == json_array_size(want), same_hf = ids.len == json_array_size(hf);
        for (size_t i = 0; i < ids.len; i++) {
            same = same && ids.v[i] == json_integer_value(json_array_get(want, i));
            same_hf = same_hf && ids.v[i] == json_integer_value(json_array_get(hf, i));
        }
        hf_same += json_equal(want, hf);
        hf_ours += same_hf;
        if (!same && bad++ < 8)
            fprintf(stderr, "clip mismatch: %s\n", json_dumps(s, JSON_ENCODE_ANY));
        ov_tok_ids_free(&ids);
        json_decref(rec);
        n++;
    }
    gzclose(f);
    fprintf(stderr,
            "clip golden: %zu prompts, %zu mismatches vs open_clip; transformers agrees with open_clip on "
            "%zu, with us on %zu\n",
            n, bad, hf_same, hf_ours);
    ck_assert_uint_ge(n, 1000);
    ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(sanity_and_vocab)
{
    ov_tok_ids ids;
    enc("a photo of a cat", &ids);
    int32_t want[] = {320, 1125, 539, 320, 2368};
    ck_assert_uint_eq(ids.len, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(ids.v[i], want[i]);
    ov_tok_ids_free(&ids);
    const ov_bpe *b = ov_tok_clip_bpe(g_tok);
    ck_assert_uint_eq(ov_bpe_vocab_size(b), OV_CLIP_VOCAB);
    ck_assert_uint_eq(ov_bpe_merge_count(b), 48894);
    ck_assert_int_eq(ov_bpe_token_id(b, "<|endoftext|>", 13), 49407);
    ck_assert_int_eq(ov_bpe_token_id(b, "!", 1), 0);
    ck_assert_int_eq(ov_bpe_token_id(b, "!</w>", 5), 256);
    /* decode: </w> becomes a space */
    enc("A Photo, of  CATS!", &ids);
    ov_buf out;
    ov_buf_init(&out, 1024);
    ck_assert_int_eq(ov_bpe_decode(b, ids.v, ids.len, 0, &out), 0);
    ck_assert_str_eq(out.data, "a photo , of cats ! ");
    ov_buf_free(&out);
    ov_tok_ids_free(&ids);
    /* special-token text is plain text in prompts */
    enc("<|endoftext|>", &ids);
    for (size_t i = 0; i < ids.len; i++)
        ck_assert_int_lt(ids.v[i], 49406);
    ov_tok_ids_free(&ids);
    enc("", &ids);
    ck_assert_uint_eq(ids.len, 0);
    ov_tok_ids_free(&ids);
}
END_TEST

static void clean_eq(const char *in, const char *want)
{
    ov_buf o;
    ov_buf_init(&o, 1 << 20);
    ck_assert_int_eq(ov_tok_clip_clean(in, strlen(in), &o), 0);
    ck_assert_str_eq(o.len ? o.data : "", want);
    ov_buf_free(&o);
}

START_TEST(cleanup_rules)
{
    clean_eq("  Tom &amp; JERRY  ", "tom & jerry");
    clean_eq("&amp;amp;lt;", "<");              /* ftfy loop + html.unescape twice */
    clean_eq("<b> &amp;amp;</b>", "<b> &</b>"); /* '<' turns ftfy's unescape off */
    clean_eq("\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x98x\xe2\x80\x99", "\"quoted\" 'x'");
    clean_eq("\xef\xac\x81ne \xef\xbc\xa6\xef\xbc\xb5\xef\xbc\xac\xef\xbc\xac", "fine full");
    clean_eq("a\t\n\r\n b\xc2\xa0"
             "c\xe3\x80\x80"
             "d",
             "a b c d");
    clean_eq("cafe\xcc\x81", "caf\xc3\xa9");   /* NFC */
    clean_eq("\x1b[31mred\x1b[0m\x01", "red"); /* terminal escapes, control chars */
    clean_eq("\xc4\xb0stanbul \xce\x9f\xce\x94\xce\x9f\xce\xa3",
             "i\xcc\x87stanbul \xce\xbf\xce\xb4\xce\xbf\xcf\x82");
    clean_eq("&#39;&#x27;&#0;&ampx &notanentity;", "''\xef\xbf\xbd&x &notanentity;");
    clean_eq("bad \xff utf8", "bad \xef\xbf\xbd utf8");
    clean_eq("   ", "");
}
END_TEST

START_TEST(windows_per_encoder)
{
    int32_t ids[100], w[OV_CLIP_CTX];
    for (int i = 0; i < 100; i++)
        ids[i] = 1000 + i;
    /* short prompt: CLIP-L pads with 49407, bigG with 0 */
    ck_assert_uint_eq(ov_tok_clip_window(ids, 5, OV_CLIP_PAD_L, w), 5);
    ck_assert_int_eq(w[0], 49406);
    ck_assert_int_eq(w[5], 1004);
    ck_assert_int_eq(w[6], 49407);
    ck_assert_int_eq(w[7], 49407);
    ck_assert_int_eq(w[76], 49407);
    ov_tok_clip_window(ids, 5, OV_CLIP_PAD_G, w);
    ck_assert_int_eq(w[6], 49407);
    ck_assert_int_eq(w[7], 0);
    ck_assert_int_eq(w[76], 0);
    /* truncation: BOS + 75 + EOS (open_clip sets the last kept slot to EOS) */
    ck_assert_uint_eq(ov_tok_clip_window(ids, 100, OV_CLIP_PAD_G, w), 75);
    ck_assert_int_eq(w[75], 1074);
    ck_assert_int_eq(w[76], 49407);
    /* the sanity window */
    ov_tok_ids t;
    enc("a photo of a cat", &t);
    ov_tok_clip_window(t.v, t.len, OV_CLIP_PAD_L, w);
    int32_t want[] = {49406, 320, 1125, 539, 320, 2368, 49407, 49407};
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(w[i], want[i]);
    ov_tok_ids_free(&t);
}
END_TEST

START_TEST(long_prompt_chunks)
{
    /* 2,000-token prompt: 27 chunks of 75 (the last holds 50) */
    ov_buf b;
    ov_buf_init(&b, 1 << 20);
    for (int i = 0; i < 2000; i++)
        ov_buf_puts(&b, "cat ");
    ov_tok_ids ids;
    enc(b.data, &ids);
    ck_assert_uint_eq(ids.len, 2000);
    float *wts = malloc(2000 * sizeof *wts);
    for (int i = 0; i < 2000; i++)
        wts[i] = i == 1999 ? 1.5f : 1.0f;
    size_t nc;
    int32_t *cids = malloc(40 * OV_CLIP_CTX * sizeof *cids);
    float *cw = malloc(40 * OV_CLIP_CTX * sizeof *cw);
    ck_assert_int_eq(ov_tok_clip_chunks(ids.v, wts, ids.len, OV_CLIP_PAD_G, 10, cids, cw, &nc), OV_ERANGE);
    ck_assert_int_eq(ov_tok_clip_chunks(ids.v, wts, ids.len, OV_CLIP_PAD_G, 40, cids, cw, &nc), 0);
    ck_assert_uint_eq(nc, 27);
    for (size_t c = 0; c < nc; c++) {
        ck_assert_int_eq(cids[c * 77], 49406);
        ck_assert_int_eq(cids[c * 77 + 1], 2368); /* "cat</w>" */
    }
    ck_assert_int_eq(cids[0 * 77 + 76], 49407);
    ck_assert_int_eq(cids[26 * 77 + 50], 2368);
    ck_assert_int_eq(cids[26 * 77 + 51], 49407);
    ck_assert_int_eq(cids[26 * 77 + 52], 0);
    ck_assert(cw[26 * 77 + 50] == 1.5f);
    ck_assert(cw[26 * 77 + 51] == 1.0f);
    /* empty prompt: one chunk BOS EOS pad */
    ck_assert_int_eq(ov_tok_clip_chunks(NULL, NULL, 0, OV_CLIP_PAD_L, 1, cids, NULL, &nc), 0);
    ck_assert_uint_eq(nc, 1);
    ck_assert_int_eq(cids[0], 49406);
    ck_assert_int_eq(cids[1], 49407);
    ck_assert_int_eq(cids[76], 49407);
    free(cids);
    free(cw);
    free(wts);
    ov_tok_ids_free(&ids);
    ov_buf_free(&b);
}
END_TEST

static void pw_expect(const char *in, size_t n_seg, const char *const *texts, const double *weights)
{
    ov_pw_result r;
    ck_assert_int_eq(ov_pw_parse(in, strlen(in), &r), 0);
    ck_assert_msg(r.n_seg == n_seg, "%s: %zu segments", in, r.n_seg);
    for (size_t i = 0; i < n_seg; i++) {
        ck_assert_uint_eq(r.seg[i].len, strlen(texts[i]));
        ck_assert_int_eq(memcmp(r.text + r.seg[i].off, texts[i], r.seg[i].len), 0);
        ck_assert_msg(fabs(r.seg[i].weight - weights[i]) < 1e-5, "%s seg %zu: %f", in, i, r.seg[i].weight);
    }
    ov_pw_free(&r);
}

START_TEST(emphasis_parser)
{
    /* the examples from A1111's parse_prompt_attention docstring */
    pw_expect("normal text", 1, (const char *[]){"normal text"}, (double[]){1.0});
    pw_expect("an (important) word", 3, (const char *[]){"an ", "important", " word"},
              (double[]){1.0, 1.1, 1.0});
    pw_expect("(unbalanced", 1, (const char *[]){"unbalanced"}, (double[]){1.1});
    pw_expect("\\(literal\\]", 1, (const char *[]){"(literal]"}, (double[]){1.0});
    pw_expect("(unnecessary)(parens)", 1, (const char *[]){"unnecessaryparens"}, (double[]){1.1});
    pw_expect("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", 9,
              (const char *[]){"a ", "house", " ", "on", " a ", "hill", ", sun, ", "sky", "."},
              /* A1111's docstring: the third "(" of "(((house" never closes, so 1.1 runs to the end */
              (double[]){1.0, 1.573, 1.1, 1.0, 1.1, 0.55, 1.1, 1.4641, 1.1});
    pw_expect("[[blurry]]", 1, (const char *[]){"blurry"}, (double[]){1 / 1.21});
    /* malformed: defined results, never a crash */
    pw_expect("((a:", 1, (const char *[]){"a:"}, (double[]){1.21});
    pw_expect("", 1, (const char *[]){""}, (double[]){1.0});
    pw_expect("a:1.3) b", 1, (const char *[]){"a:1.3) b"}, (double[]){1.0});
    pw_expect("(x:1.2.3)", 1, (const char *[]){"x:1.2.3)"}, (double[]){1.1});
    pw_expect("(x:99)", 1, (const char *[]){"x"}, (double[]){10.0});
    pw_expect("))]][[", 1, (const char *[]){"))]]"}, (double[]){1.0});
    pw_expect("a\\", 1, (const char *[]){"a"}, (double[]){1.0});
    /* a 100k-deep nest stays within the depth cap */
    size_t n = 100000;
    char *deep = malloc(n + 2);
    memset(deep, '(', n);
    deep[n] = 'x';
    deep[n + 1] = 0;
    ov_pw_result r;
    ck_assert_int_eq(ov_pw_parse(deep, n + 1, &r), 0);
    ck_assert(r.n_seg >= 1 && isfinite(r.seg[r.n_seg - 1].weight) && r.seg[r.n_seg - 1].weight <= 10.0f);
    ov_pw_free(&r);
    free(deep);
}
END_TEST

START_TEST(weighted_encode)
{
    const char *p = "a (cat:1.5) on [grass]";
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 256);
    float w[256];
    ck_assert_int_eq(ov_tok_clip_encode_weighted(g_tok, p, strlen(p), &ids, w), 0);
    int32_t want[] = {320, 2368, 525, 5922}; /* open_clip: a, cat, on, grass */
    ck_assert_uint_eq(ids.len, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ids.v[i], want[i]);
    ck_assert(w[0] == 1.0f && w[1] == 1.5f && w[2] == 1.0f && fabsf(w[3] - 1 / 1.1f) < 1e-6f);
    ov_tok_ids_reset(&ids);
    ck_assert_int_eq(ov_tok_clip_encode_weighted(g_tok, "((a:", 4, &ids, w), 0);
    ck_assert_uint_eq(ids.len, 2); /* "a", ":" */
    ck_assert(fabsf(w[0] - 1.21f) < 1e-5f);
    ov_tok_ids_free(&ids);
}
END_TEST

START_TEST(bad_input)
{
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 4);
    ck_assert_int_eq(ov_tok_clip_encode(g_tok, "one two three four five six", 27, &ids), OV_ENOMEM);
    ov_tok_ids_free(&ids);
    ov_tok_ids_init(&ids, 1 << 20);
    char *big = malloc(OV_CLIP_MAX_INPUT + 1);
    memset(big, 'a', OV_CLIP_MAX_INPUT + 1);
    ck_assert_int_eq(ov_tok_clip_encode(g_tok, big, OV_CLIP_MAX_INPUT + 1, &ids), OV_ERANGE);
    free(big);
    const char inv[] = "\xc3\x28 \xa0\xa1 \xf0\x28\x8c\xbc";
    ck_assert_int_eq(ov_tok_clip_encode(g_tok, inv, sizeof inv - 1, &ids), 0);
    ck_assert_uint_gt(ids.len, 0);
    ov_tok_ids_free(&ids);
    ov_tok_clip *t = NULL;
    ck_assert_int_eq(ov_tok_clip_load(&t, "/nonexistent/merges.gz"), OV_ENOENT);
    char p[] = "/tmp/ovclipXXXXXX";
    int fd = mkstemp(p);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "#version\na b\n", 13), 13);
    close(fd);
    ck_assert_int_eq(ov_tok_clip_load(&t, p), OV_EFORMAT);
    ck_assert_ptr_null(t);
    remove(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tok_clip");
    TCase *tc = tcase_create("clip");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_add_test(tc, golden_ids_match_open_clip);
    tcase_add_test(tc, sanity_and_vocab);
    tcase_add_test(tc, cleanup_rules);
    tcase_add_test(tc, windows_per_encoder);
    tcase_add_test(tc, long_prompt_chunks);
    tcase_add_test(tc, emphasis_parser);
    tcase_add_test(tc, weighted_encode);
    tcase_add_test(tc, bad_input);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
