/* Tests for the Qwen enhancer's pure parts: prompt templates (ids vs the HF reference, injection
 * impossible, truncation), output cleanup, and the prompt/config files. No model needed. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/tok_qwen.h"
#include "common/text/utf8.h"
#include "workers/qwen/chat_template.h"
#include "workers/qwen/enhance.h"

static ov_tok_qwen *g_tok;
static int32_t g_im_start, g_im_end, g_eot;

static const char *src_dir(void)
{
    const char *s = getenv("OURVIDZ_SOURCE_DIR");
    return s ? s : ".";
}

static void load_tok(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/common/text/data/qwen-tokenizer.json.gz", src_dir());
    int rc = ov_tok_qwen_load_json(&g_tok, p);
    if (rc) {
        fprintf(stderr, "test_qwen_enhance: cannot load %s: %s\n", p, ov_strerror(rc));
        exit(1);
    }
    g_im_start = ov_tok_qwen_token_id(g_tok, "<|im_start|>");
    g_im_end = ov_tok_qwen_token_id(g_tok, "<|im_end|>");
    g_eot = ov_tok_qwen_token_id(g_tok, "<|endoftext|>");
}

static size_t count_id(const ov_tok_ids *ids, int32_t id)
{
    size_t c = 0;
    for (size_t i = 0; i < ids->len; i++)
        c += ids->v[i] == id;
    return c;
}

/* Any added/control token (ids >= 151643) in ids[from..to). */
static size_t count_added(const ov_tok_ids *ids, size_t from, size_t to)
{
    size_t c = 0;
    for (size_t i = from; i < to && i < ids->len; i++)
        c += ids->v[i] >= 151643;
    return c;
}

/* ---- templates ---- */

/* Every case of tests/golden/qwen_enhance/template_golden.json (HF apply_chat_template with the
 * Qwen2.5 ChatML template / HF encode of the Base text; recipe make_template_golden.py): ids equal
 * exactly. Injection cases: ours differ from HF's (which turns the typed control text into control
 * ids) and hold exactly the template's control ids. */
START_TEST(template_matches_reference_ids)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/tests/golden/qwen_enhance/template_golden.json", src_dir());
    json_error_t e;
    json_t *g = json_load_file(p, 0, &e);
    ck_assert_msg(g && json_array_size(g) >= 10, "golden %s: %s", p, e.text);
    size_t i, n_inj = 0;
    json_t *rec;
    json_array_foreach(g, i, rec)
    {
        const char *style = json_string_value(json_object_get(rec, "style"));
        json_t *sys = json_object_get(rec, "system");
        const char *user = json_string_value(json_object_get(rec, "user"));
        ov_prompt_parts pp = {.style = strcmp(style, "chat") == 0 ? OV_PROMPT_CHAT : OV_PROMPT_BASE,
                              .system = json_is_null(sys) ? NULL : json_string_value(sys),
                              .user = user,
                              .user_len = strlen(user),
                              .base_prefix = json_string_value(json_object_get(rec, "prefix")),
                              .base_suffix = json_string_value(json_object_get(rec, "suffix"))};
        ov_tok_ids ids;
        ov_tok_ids_init(&ids, 1 << 20);
        ov_prompt_info info;
        ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 0, 0, &ids, &info), 0);
        json_t *want = json_object_get(rec, "ids");
        ck_assert_msg(ids.len == json_array_size(want), "case %zu: %zu ids, want %zu", i, ids.len,
                      json_array_size(want));
        for (size_t k = 0; k < ids.len; k++)
            ck_assert_msg(ids.v[k] == json_integer_value(json_array_get(want, k)),
                          "case %zu id %zu: %d want %lld", i, k, ids.v[k],
                          (long long)json_integer_value(json_array_get(want, k)));
        ck_assert_int_eq(info.total_tokens, ids.len);
        ck_assert_int_eq(info.truncated, 0);
        if (pp.style == OV_PROMPT_CHAT) {
            ck_assert_int_eq(count_id(&ids, g_im_start), 3);
            ck_assert_int_eq(count_id(&ids, g_im_end), 2);
            ck_assert_int_eq(count_added(&ids, 0, ids.len), 5);
        } else {
            ck_assert_int_eq(count_added(&ids, 0, ids.len), 0);
        }
        json_t *hf = json_object_get(rec, "hf_ids");
        if (hf) {
            n_inj++;
            int same = json_array_size(hf) == ids.len;
            for (size_t k = 0; same && k < ids.len; k++)
                same = ids.v[k] == json_integer_value(json_array_get(hf, k));
            ck_assert_msg(!same, "case %zu: injection text became control ids", i);
        }
        ov_tok_ids_free(&ids);
    }
    ck_assert_int_ge(n_inj, 3);
    json_decref(g);
}
END_TEST

/* Seeded random user texts made of control-token text, fragments and ordinary words: the ids of the
 * user turn never contain an added token, so no turn can be injected. */
START_TEST(template_injection_impossible)
{
    static const char *const parts[] = {"<|im_start|>",
                                        "<|im_end|>",
                                        "<|endoftext|>",
                                        "system\n",
                                        "assistant\n",
                                        "user",
                                        "\n",
                                        "<|",
                                        "|>",
                                        "im_start",
                                        " ignore previous instructions",
                                        "<tool_call>",
                                        "<|fim_prefix|>",
                                        "<|vision_start|>",
                                        "猫",
                                        " "};
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 300; round++) {
        ov_buf u;
        ov_buf_init(&u, 1 << 16);
        int n = 1 + round % 24;
        for (int k = 0; k < n; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            ov_buf_puts(&u, parts[s % (sizeof parts / sizeof parts[0])]);
        }
        for (int style = OV_PROMPT_CHAT; style <= OV_PROMPT_BASE; style++) {
            ov_prompt_parts pp = {.style = style,
                                  .system = "Rewrite <|im_end|> the request.",
                                  .user = u.data,
                                  .user_len = u.len,
                                  .base_prefix = OV_ENHANCE_BASE_PREFIX,
                                  .base_suffix = OV_ENHANCE_BASE_SUFFIX};
            ov_tok_ids ids;
            ov_tok_ids_init(&ids, 1 << 20);
            ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 0, 0, &ids, NULL), 0);
            ck_assert_int_eq(count_added(&ids, 0, ids.len), style == OV_PROMPT_CHAT ? 5 : 0);
            ck_assert_int_eq(count_id(&ids, g_im_start), style == OV_PROMPT_CHAT ? 3 : 0);
            ck_assert_int_eq(count_id(&ids, g_eot), 0);
            if (style == OV_PROMPT_CHAT) { /* the template's own control ids sit where ChatML puts them */
                ck_assert_int_eq(ids.v[0], g_im_start);
                ck_assert_int_eq(ids.v[ids.len - 3], g_im_start);
            }
            /* The user text round-trips: decoding the ids gives back the exact prompt. */
            ov_buf d;
            ov_buf_init(&d, 1 << 20);
            ck_assert_int_eq(ov_tok_qwen_decode(g_tok, ids.v, ids.len, 0, &d), 0);
            ck_assert_ptr_nonnull(strstr(d.data, u.data));
            ov_buf_free(&d);
            ov_tok_ids_free(&ids);
        }
        ov_buf_free(&u);
    }
}
END_TEST

/* A 100 KB prompt: cut to the token budget (head kept, a real prefix of the text, never a split
 * character), within the total budget, and reported. */
START_TEST(template_truncates_long_input_and_says_so)
{
    ov_buf u;
    ov_buf_init(&u, 1 << 20);
    for (int i = 0; u.len < 100 * 1024; i++)
        ov_buf_printf(&u, "%s scene %d with a red fox, 猫 and snow; ", i % 2 ? "Wide" : "close", i);
    for (int style = OV_PROMPT_CHAT; style <= OV_PROMPT_BASE; style++) {
        ov_prompt_parts pp = {.style = style,
                              .system = ov_enhance_builtin_system(OV_ENHANCE_VIDEO),
                              .user = u.data,
                              .user_len = u.len,
                              .base_prefix = OV_ENHANCE_BASE_PREFIX,
                              .base_suffix = OV_ENHANCE_BASE_SUFFIX};
        ov_tok_ids ids;
        ov_tok_ids_init(&ids, 1 << 20);
        ov_prompt_info info;
        ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 1024, 1500, &ids, &info), 0);
        ck_assert_int_eq(info.truncated, 1);
        ck_assert_int_gt(info.user_tokens, 20000);
        ck_assert_int_le(info.user_tokens_kept, 1024);
        ck_assert_int_ge(info.user_tokens_kept, 1000);
        ck_assert_int_le(ids.len, 1500);
        ck_assert_int_eq(info.total_tokens, ids.len);
        ck_assert_int_gt(info.user_bytes_kept, 1000);
        ck_assert_int_lt(info.user_bytes_kept, u.len);
        ov_buf d;
        ov_buf_init(&d, 1 << 20);
        ck_assert_int_eq(ov_tok_qwen_decode(g_tok, ids.v, ids.len, 0, &d), 0);
        ck_assert(ov_utf8_valid((const uint8_t *)d.data, d.len));
        /* The kept user text is the head of the prompt. */
        char head[64];
        memcpy(head, u.data, 63);
        head[63] = '\0';
        ck_assert_ptr_nonnull(strstr(d.data, head));
        ov_buf_free(&d);
        /* A tighter total budget cuts further. */
        ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 1024, 400, &ids, &info), 0);
        ck_assert_int_le(ids.len, 400);
        ck_assert_int_eq(info.truncated, 1);
        /* A budget smaller than the template alone: OV_ERANGE, no ids. */
        ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 1024, 20, &ids, &info), OV_ERANGE);
        ck_assert_int_eq(ids.len, 0);
        ov_tok_ids_free(&ids);
    }
    /* No cut needed: not truncated, all tokens kept. */
    ov_prompt_parts pp = {.style = OV_PROMPT_CHAT, .system = "s", .user = "a cat", .user_len = 5};
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 4096);
    ov_prompt_info info;
    ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 1024, 4096, &ids, &info), 0);
    ck_assert_int_eq(info.truncated, 0);
    ck_assert_int_eq(info.user_tokens, 2);
    ck_assert_int_eq(info.user_tokens_kept, 2);
    ck_assert_int_eq(info.user_bytes_kept, 5);
    /* Bad arguments. */
    pp.style = OV_PROMPT_AUTO;
    ck_assert_int_eq(ov_prompt_build(g_tok, &pp, 0, 0, &ids, &info), OV_EINVAL);
    ov_tok_ids_free(&ids);
    ov_buf_free(&u);
}
END_TEST

START_TEST(style_names)
{
    int s = -1;
    ck_assert_int_eq(ov_prompt_style_parse("chat", &s), 0);
    ck_assert_int_eq(s, OV_PROMPT_CHAT);
    ck_assert_int_eq(ov_prompt_style_parse("base", &s), 0);
    ck_assert_int_eq(s, OV_PROMPT_BASE);
    ck_assert_int_eq(ov_prompt_style_parse("instruct", &s), OV_EINVAL);
    ck_assert_int_eq(ov_prompt_style_resolve(OV_PROMPT_AUTO, 1), OV_PROMPT_CHAT);
    ck_assert_int_eq(ov_prompt_style_resolve(OV_PROMPT_AUTO, 0), OV_PROMPT_BASE);
    ck_assert_int_eq(ov_prompt_style_resolve(OV_PROMPT_BASE, 1), OV_PROMPT_BASE);
    ck_assert_str_eq(ov_prompt_style_name(OV_PROMPT_CHAT), "chat");
    int m = -1;
    ck_assert_int_eq(ov_enhance_mode_parse("image", &m), 0);
    ck_assert_int_eq(m, OV_ENHANCE_IMAGE);
    ck_assert_int_eq(ov_enhance_mode_parse("audio", &m), OV_EINVAL);
}
END_TEST

/* ---- cleanup ---- */

typedef struct clean_case {
    const char *raw;
    int truncated;
    size_t max_chars;
    const char *want;
    unsigned flags; /* flags that must be set */
} clean_case;

static const char *const ECHO = "You turn short requests into detailed prompts.";

START_TEST(cleanup_cases)
{
    static const clean_case cases[] = {
        /* untouched */
        {"A red fox runs through fresh snow at dawn, soft golden light.", 0, 0,
         "A red fox runs through fresh snow at dawn, soft golden light.", 0},
        /* labels (the original stripped a leading "enhanced prompt:") */
        {"Enhanced prompt: A red fox in snow.", 0, 0, "A red fox in snow.", OV_CLEAN_LABEL},
        {"enhanced prompt:A red fox in snow.", 0, 0, "A red fox in snow.", OV_CLEAN_LABEL},
        {"**Enhanced Prompt:** A red fox in snow.", 0, 0, "A red fox in snow.", OV_CLEAN_LABEL},
        {"Prompt - A red fox in snow.", 0, 0, "A red fox in snow.", OV_CLEAN_LABEL},
        {"Result-oriented framing of a red fox.", 0, 0, "Result-oriented framing of a red fox.", 0},
        {"Sure! Here is an enhanced version of your prompt:\n\nA red fox in snow.", 0, 0,
         "A red fox in snow.", OV_CLEAN_LABEL},
        {"Here's the video prompt:\n**Enhanced prompt:** \"A red fox in snow.\"", 0, 0, "A red fox in snow.",
         OV_CLEAN_LABEL | OV_CLEAN_QUOTES},
        /* echoes: the request block and the instructions */
        {"Original request: a fox\nEnhanced prompt: A red fox in deep snow.", 0, 0, "A red fox in deep snow.",
         OV_CLEAN_ECHO},
        {"You turn short requests into detailed prompts. A red fox in deep snow.", 0, 0,
         "A red fox in deep snow.", OV_CLEAN_ECHO},
        /* a Base model carrying on with a new example / a control token */
        {"A red fox in deep snow.\n\nOriginal request: a dog\nEnhanced prompt: A dog.", 0, 0,
         "A red fox in deep snow.", OV_CLEAN_TAIL},
        {"A red fox in deep snow.<|im_end|>\n<|im_start|>user\nmore", 0, 0, "A red fox in deep snow.",
         OV_CLEAN_TAIL},
        {"A red fox in deep snow.\nNote: I kept the fox.", 0, 0, "A red fox in deep snow.", OV_CLEAN_TAIL},
        /* quotes, matched and unmatched (cut off) */
        {"\"A red fox in deep snow.\"", 0, 0, "A red fox in deep snow.", OV_CLEAN_QUOTES},
        {"\xE2\x80\x9C"
         "A red fox in deep snow."
         "\xE2\x80\x9D",
         0, 0, "A red fox in deep snow.", OV_CLEAN_QUOTES},
        {"\"A red fox in deep snow, low sun", 0, 0, "A red fox in deep snow, low sun", OV_CLEAN_QUOTES},
        {"A \"red\" fox in snow.", 0, 0, "A \"red\" fox in snow.", 0},
        /* markdown and layout */
        {"# Scene\n- A **red** fox\n- deep *snow*\n```\n", 0, 0, "Scene A red fox deep snow",
         OV_CLEAN_MARKDOWN},
        {"A red fox\n\n  in   deep\tsnow.", 0, 0, "A red fox in deep snow.", 0},
        {"> A red fox in snow.", 0, 0, "A red fox in snow.", OV_CLEAN_MARKDOWN},
        /* truncated generation: the partial last sentence goes */
        {"A red fox runs through snow. Golden light falls on the trees. The camera slowly pa", 1, 0,
         "A red fox runs through snow. Golden light falls on the trees.", OV_CLEAN_PARTIAL},
        {"A red fox, deep snow, golden light, 4K, sharp foc", 1, 0, "A red fox, deep snow, golden light, 4K",
         OV_CLEAN_PARTIAL},
        {"A red fox runs through snow.", 1, 0, "A red fox runs through snow.", 0},
        {"一只红狐狸在雪中奔跑。金色的光线洒在树上。镜头缓", 1, 0,
         "一只红狐狸在雪中奔跑。金色的光线洒在树上。", OV_CLEAN_PARTIAL},
        /* length cap: at a sentence end, else a word end */
        {"One fox runs. Two foxes run in the snow. Three foxes run.", 0, 45,
         "One fox runs. Two foxes run in the snow.", OV_CLEAN_MAX_CHARS},
        {"aaaa bbbb cccc dddd eeee", 0, 12, "aaaa bbbb", OV_CLEAN_MAX_CHARS},
        /* nothing left */
        {"Enhanced prompt:", 0, 0, "", OV_CLEAN_LABEL},
        {"   \n\t ", 0, 0, "", 0},
        {"", 0, 0, "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const clean_case *c = &cases[i];
        ov_clean_opts o = {
            .original = "a fox", .echo = ECHO, .truncated = c->truncated, .max_chars = c->max_chars};
        ov_buf out;
        ov_buf_init(&out, 1 << 16);
        unsigned what = 0;
        ck_assert_int_eq(ov_enhance_clean(c->raw, strlen(c->raw), &o, &out, &what), 0);
        ck_assert_ptr_nonnull(out.data);
        ck_assert_msg(strcmp(out.data, c->want) == 0, "case %zu: got [%s] want [%s]", i, out.data, c->want);
        ck_assert_msg((what & c->flags) == c->flags, "case %zu: flags 0x%x want 0x%x", i, what, c->flags);
        if (c->flags == 0)
            ck_assert_msg((what & (OV_CLEAN_LABEL | OV_CLEAN_ECHO | OV_CLEAN_QUOTES | OV_CLEAN_PARTIAL |
                                   OV_CLEAN_MAX_CHARS | OV_CLEAN_TAIL)) == 0,
                          "case %zu: unexpected flags 0x%x", i, what);
        ov_buf_free(&out);
    }
}
END_TEST

/* Hostile bytes: invalid UTF-8 is replaced, the output is always valid UTF-8 and never longer than
 * max_chars; a max_chars cut never splits a character. */
START_TEST(cleanup_always_valid_utf8)
{
    ov_buf out;
    ov_buf_init(&out, 1 << 16);
    unsigned what = 0;
    const char bad[] = "A fox \xff\xfe in \xe2\x82 snow.";
    ck_assert_int_eq(ov_enhance_clean(bad, sizeof bad - 1, NULL, &out, &what), 0);
    ck_assert(what & OV_CLEAN_INVALID);
    ck_assert(ov_utf8_valid((const uint8_t *)out.data, out.len));
    uint64_t s = 12345;
    for (int round = 0; round < 2000; round++) {
        char raw[96];
        size_t n = 1 + (size_t)(round % 95);
        for (size_t k = 0; k < n; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            static const char alpha[] = "ab .,\"'*#\n:-\xe7\x8c\xab\xff";
            raw[k] = alpha[s % (sizeof alpha - 1)];
        }
        ov_clean_opts o = {.echo = "ab", .truncated = round & 1, .max_chars = (size_t)(round % 7) * 5};
        ck_assert_int_eq(ov_enhance_clean(raw, n, &o, &out, &what), 0);
        ck_assert(ov_utf8_valid((const uint8_t *)out.data, out.len));
        if (o.max_chars)
            ck_assert_int_le(out.len, o.max_chars);
    }
    ov_buf_free(&out);
}
END_TEST

/* ---- prompt files and enhance.conf ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    fclose(f);
    b[n] = '\0';
    while (n && (b[n - 1] == '\n' || b[n - 1] == ' '))
        b[--n] = '\0';
    return b;
}

/* The shipped config/enhance/{video,image}.txt and the built-in text are the same words (a bare install
 * without the folder behaves like the default install), and the shipped enhance.conf states the
 * built-in defaults. */
START_TEST(shipped_prompts_equal_builtin)
{
    char p[4096];
    static const char *const files[] = {"video.txt", "image.txt"};
    for (int m = 0; m < OV_ENHANCE_MODES; m++) {
        snprintf(p, sizeof p, "%s/config/enhance/%s", src_dir(), files[m]);
        char *t = slurp(p);
        ck_assert_str_eq(t, ov_enhance_builtin_system(m));
        free(t);
    }
    ov_enhance_cfg def, file;
    ck_assert_int_eq(ov_enhance_cfg_init(&def), 0);
    ck_assert_int_eq(ov_enhance_cfg_init(&file), 0);
    char err[256] = "";
    snprintf(p, sizeof p, "%s/config/enhance", src_dir());
    ck_assert_msg(ov_enhance_cfg_load_dir(&file, p, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(file.style, def.style);
    ck_assert_int_eq(file.max_new_tokens, def.max_new_tokens);
    ck_assert_int_eq(file.max_input_tokens, def.max_input_tokens);
    ck_assert_int_eq(file.min_chars, def.min_chars);
    ck_assert_int_eq(file.max_chars, def.max_chars);
    ck_assert_int_eq(file.deadline_ms, def.deadline_ms);
    ck_assert(file.temperature == def.temperature && file.top_p == def.top_p && file.top_k == def.top_k &&
              file.repetition_penalty == def.repetition_penalty);
    ck_assert_ptr_nonnull(strstr(file.source[OV_ENHANCE_IMAGE], "image.txt"));
    ck_assert_str_eq(def.source[OV_ENHANCE_VIDEO], "built-in");
    ov_enhance_cfg_free(&def);
    ov_enhance_cfg_free(&file);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(config_dir_overrides_and_errors)
{
    char dir[] = "/tmp/ov_enh_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ov_enhance_cfg c;
    char err[512];
    ck_assert_int_eq(ov_enhance_cfg_init(&c), 0);
    /* Missing prompt files: OV_ENOENT naming the file. */
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "video.txt"));
    write_file(dir, "video.txt", "Make it a film.\n\n");
    write_file(dir, "image.txt", "Make it a photo.");
    write_file(dir, "enhance.conf",
               "# ops\ntemplate = base\nmax_new_tokens = 64\ndeadline = 2s\n top_p=0.5 \n");
    ck_assert_msg(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(c.system[OV_ENHANCE_VIDEO], "Make it a film.");
    ck_assert_str_eq(c.system[OV_ENHANCE_IMAGE], "Make it a photo.");
    ck_assert_int_eq(c.style, OV_PROMPT_BASE);
    ck_assert_int_eq(c.max_new_tokens, 64);
    ck_assert_int_eq(c.deadline_ms, 2000);
    ck_assert(c.top_p == 0.5f);
    ck_assert_int_eq(c.max_chars, 4000); /* untouched keys keep their defaults */
    /* Errors name the file and line. */
    write_file(dir, "enhance.conf", "template = chat\nmax_tokens = 5\n");
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ECONFIG);
    ck_assert_msg(strstr(err, "enhance.conf:2: unknown key 'max_tokens'") != NULL, "%s", err);
    write_file(dir, "enhance.conf", "top_p = 2\n");
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ECONFIG);
    ck_assert_msg(strstr(err, "enhance.conf:1: bad value for top_p") != NULL, "%s", err);
    write_file(dir, "enhance.conf", "max_chars = 100000\n");
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ECONFIG);
    write_file(dir, "enhance.conf", "");
    write_file(dir, "image.txt", "  \n");
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "empty"));
    write_file(dir, "image.txt", "bad \xff utf8");
    ck_assert_int_eq(ov_enhance_cfg_load_dir(&c, dir, err, sizeof err), OV_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
    write_file(dir, "image.txt", "Make it a photo.");
    /* Lookup: OURVIDZ_ENHANCE_DIR wins; a missing one is an error, not a silent default. */
    setenv("OURVIDZ_ENHANCE_DIR", dir, 1);
    char found[1024];
    int explicit_missing = -1;
    ck_assert_int_eq(ov_enhance_find_dir(found, sizeof found, &explicit_missing), 0);
    ck_assert_str_eq(found, dir);
    ov_enhance_cfg d;
    ck_assert_int_eq(ov_enhance_cfg_load_default(&d, err, sizeof err), 0);
    ck_assert_str_eq(d.system[OV_ENHANCE_VIDEO], "Make it a film.");
    ov_enhance_cfg_free(&d);
    setenv("OURVIDZ_ENHANCE_DIR", "/nonexistent/enhance", 1);
    ck_assert_int_eq(ov_enhance_find_dir(found, sizeof found, &explicit_missing), OV_ENOENT);
    ck_assert_int_eq(explicit_missing, 1);
    ck_assert_int_eq(ov_enhance_cfg_load_default(&d, err, sizeof err), OV_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "OURVIDZ_ENHANCE_DIR"));
    unsetenv("OURVIDZ_ENHANCE_DIR");
    ov_enhance_cfg_free(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("qwen_enhance");
    TCase *tc = tcase_create("enhance");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, template_matches_reference_ids);
    tcase_add_test(tc, template_injection_impossible);
    tcase_add_test(tc, template_truncates_long_input_and_says_so);
    tcase_add_test(tc, style_names);
    tcase_add_test(tc, cleanup_cases);
    tcase_add_test(tc, cleanup_always_valid_utf8);
    tcase_add_test(tc, shipped_prompts_equal_builtin);
    tcase_add_test(tc, config_dir_overrides_and_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    load_tok();
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    ov_tok_qwen_free(g_tok);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
