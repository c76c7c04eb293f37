/* Tests for common/formats/gguf.c: writer/reader round trips, gguf-py interop, hostile files. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/gguf.h"
#include "common/tensor/dtype.h"

static char g_err[512];
static char g_path[256];

static void setup(void)
{
    snprintf(g_path, sizeof g_path, "/tmp/ov_test_gguf_%d.gguf", (int)getpid());
    g_err[0] = 0;
}

static void teardown(void)
{
    unlink(g_path);
}

#define ASSERT_ERR(expr, code, needle)                                                                      \
    do {                                                                                                    \
        int rc_ = (expr);                                                                                   \
        ck_assert_msg(rc_ == (code), "rc %d (%s) want %d; err: %s", rc_, ov_errname(rc_), (code), g_err);  \
        ck_assert_msg(strstr(g_err, (needle)) != NULL, "error '%s' lacks '%s'", g_err, (needle));          \
    } while (0)

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Write a model with every dtype and metadata kind; alignment 0 = default. */
static void write_model(uint32_t alignment, float *x /* 512 */, uint8_t *q4 /* 2 blocks */)
{
    ov_gguf_writer *w = ov_gguf_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(ov_gguf_set_str(w, "general.architecture", "qwen2"), 0);
    if (alignment)
        ck_assert_int_eq(ov_gguf_set_u32(w, "general.alignment", alignment), 0);
    ck_assert_int_eq(ov_gguf_set_u32(w, "qwen2.block_count", 24), 0);
    ck_assert_int_eq(ov_gguf_set_i32(w, "neg", -5), 0);
    ck_assert_int_eq(ov_gguf_set_u64(w, "big", 1ull << 40), 0);
    ck_assert_int_eq(ov_gguf_set_f32(w, "qwen2.rope.freq_base", 1e6f), 0);
    ck_assert_int_eq(ov_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 0), 0);
    const char *toks[3] = {"hello", "", "<|im_end|>"};
    ck_assert_int_eq(ov_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
    int32_t types[3] = {1, 1, 3};
    ck_assert_int_eq(ov_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, 3), 0);
    float scores[2] = {-1.5f, 2.0f};
    ck_assert_int_eq(ov_gguf_set_arr_f32(w, "tokenizer.ggml.scores", scores, 2), 0);
    for (int i = 0; i < 512; i++)
        x[i] = sinf((float)i * 0.37f) * 3.0f;
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_Q4_K, x, q4, 512), 0);
    static uint8_t f16[512 * 2], bf16[512 * 2], q8[16 * 34], q6[2 * 210];
    ov_dtype_from_f32(OV_DTYPE_F16, x, f16, 512);
    ov_dtype_from_f32(OV_DTYPE_BF16, x, bf16, 512);
    ov_dtype_from_f32(OV_DTYPE_Q8_0, x, q8, 512);
    ov_dtype_from_f32(OV_DTYPE_Q6_K, x, q6, 512);
    int64_t ne2[2] = {256, 2}, ne3[3] = {3, 1, 1};
    static int32_t ints[3] = {7, -8, 9};
    ck_assert_int_eq(ov_gguf_add_tensor(w, "f32", OV_DTYPE_F32, 2, ne2, x), 0);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "f16", OV_DTYPE_F16, 2, ne2, f16), 0);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "i32", OV_DTYPE_I32, 3, ne3, ints), 0); /* 12 bytes: forces padding */
    ck_assert_int_eq(ov_gguf_add_tensor(w, "bf16", OV_DTYPE_BF16, 2, ne2, bf16), 0);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "q8_0", OV_DTYPE_Q8_0, 2, ne2, q8), 0);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "q4_K", OV_DTYPE_Q4_K, 2, ne2, q4), 0);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "q6_K", OV_DTYPE_Q6_K, 2, ne2, q6), 0);
    /* Writer refuses bad tensors up front. */
    int64_t bad[1] = {100};
    ck_assert_int_eq(ov_gguf_add_tensor(w, "bad", OV_DTYPE_Q4_K, 1, bad, q4), OV_EINVAL);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "f32", OV_DTYPE_F32, 1, bad, x), OV_EINVAL);
    ck_assert_int_eq(ov_gguf_add_tensor(w, "fp8", OV_DTYPE_F8_E4M3, 1, bad, x), OV_EINVAL);
    ck_assert_int_eq(ov_gguf_set_u32(w, "general.alignment", 3), OV_EINVAL);
    ck_assert_int_eq(ov_gguf_writer_write(w, g_path, g_err, sizeof g_err), 0);
    ov_gguf_writer_free(w);
}

static void check_model(const ov_gguf *g, uint32_t alignment, const float *x, const uint8_t *q4)
{
    ck_assert_uint_eq(ov_gguf_version(g), 3);
    ck_assert_uint_eq(ov_gguf_alignment(g), alignment);
    ck_assert_uint_eq(ov_gguf_data_offset(g) % alignment, 0);
    int64_t v;
    ck_assert_int_eq(ov_gguf_get_int(g, "qwen2.block_count", &v), 0);
    ck_assert_int_eq(v, 24);
    ck_assert_int_eq(ov_gguf_get_int(g, "neg", &v), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(ov_gguf_get_int(g, "big", &v), 0);
    ck_assert_int_eq(v, 1ll << 40);
    ck_assert_int_eq(ov_gguf_get_int(g, "absent", &v), OV_ENOENT);
    ck_assert_int_eq(ov_gguf_get_int(g, "general.architecture", &v), OV_EINVAL);
    double d;
    ck_assert_int_eq(ov_gguf_get_float(g, "qwen2.rope.freq_base", &d), 0);
    ck_assert(d == 1e6);
    int b = 1;
    ck_assert_int_eq(ov_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b), 0);
    ck_assert_int_eq(b, 0);
    const char *s;
    size_t n;
    ck_assert_int_eq(ov_gguf_get_str(g, "general.architecture", &s, &n), 0);
    ck_assert(n == 5 && memcmp(s, "qwen2", 5) == 0);
    uint64_t count;
    ck_assert_int_eq(ov_gguf_get_arr_count(g, "tokenizer.ggml.tokens", &count), 0);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 2, &s, &n), 0);
    ck_assert(n == 10 && memcmp(s, "<|im_end|>", 10) == 0);
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1, &s, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 3, &s, &n), OV_ERANGE);
    ck_assert_int_eq(ov_gguf_get_arr_int(g, "tokenizer.ggml.token_type", 2, &v), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(ov_gguf_get_arr_float(g, "tokenizer.ggml.scores", 0, &d), 0);
    ck_assert(d == -1.5);
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.scores", 0, &s, &n), OV_EINVAL);
    ck_assert_int_eq(ov_gguf_kv_type(g, (size_t)ov_gguf_find_key(g, "tokenizer.ggml.tokens"), NULL, NULL),
                     OV_GGUF_ARRAY);

    ck_assert_uint_eq(ov_gguf_count(g), 7);
    const char *names[7] = {"f32", "f16", "i32", "bf16", "q8_0", "q4_K", "q6_K"};
    int ggml[7] = {0, 1, 26, 30, 8, 12, 14};
    for (int i = 0; i < 7; i++) {
        const ov_gguf_tensor *t = ov_gguf_at(g, (size_t)i);
        ck_assert_str_eq(t->name, names[i]);
        ck_assert_int_eq(t->ggml_type, ggml[i]);
        ck_assert_uint_eq((t->offset - ov_gguf_data_offset(g)) % alignment, 0);
    }
    const ov_gguf_tensor *t = ov_gguf_find(g, "q4_K");
    ck_assert(t && t->n_dims == 2 && t->ne[0] == 256 && t->ne[1] == 2 && t->ne[2] == 1 && t->n_bytes == 288);
    uint8_t buf[288];
    ck_assert_int_eq(ov_gguf_read(g, t, buf, sizeof buf, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(buf, q4, 288), 0);
    ck_assert_int_eq(ov_gguf_read(g, t, buf, 10, g_err, sizeof g_err), OV_ERANGE);
    float y[512];
    t = ov_gguf_find(g, "f32");
    ck_assert_int_eq(ov_gguf_read(g, t, y, sizeof y, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(y, x, sizeof y), 0);
    t = ov_gguf_find(g, "i32");
    int32_t ints[3];
    ck_assert_int_eq(ov_gguf_read(g, t, ints, sizeof ints, g_err, sizeof g_err), 0);
    ck_assert(ints[0] == 7 && ints[1] == -8 && ints[2] == 9 && t->n_dims == 3);
    ck_assert_ptr_null(ov_gguf_find(g, "nope"));
}

START_TEST(test_roundtrip)
{
    uint32_t aligns[2] = {0, 64};
    for (int a = 0; a < 2; a++) {
        float x[512];
        uint8_t q4[288];
        write_model(aligns[a], x, q4);
        uint32_t want = aligns[a] ? aligns[a] : 32;
        ov_gguf *g;
        ck_assert_int_eq(ov_gguf_open(g_path, &g, g_err, sizeof g_err), 0);
        check_model(g, want, x, q4);
        ov_gguf_close(g);
        size_t len;
        uint8_t *img = slurp(g_path, &len);
        ck_assert_uint_eq(len % want, 0); /* the last tensor is padded too, like gguf-py */
        ck_assert_int_eq(ov_gguf_parse(img, len, "mem", &g, g_err, sizeof g_err), 0);
        check_model(g, want, x, q4);
        const ov_gguf_tensor *last = ov_gguf_at(g, 6);
        size_t data_end = (size_t)(last->offset + last->n_bytes); /* the final padding is optional */
        ov_gguf_close(g);
        ck_assert_int_eq(ov_gguf_parse(img, data_end, "mem", &g, g_err, sizeof g_err), 0);
        ov_gguf_close(g);
        /* Every truncation fails cleanly with a message (never a crash). */
        for (size_t cut = 0; cut < data_end; cut += (cut < 600 ? 1 : 97)) {
            g = NULL;
            g_err[0] = 0;
            ck_assert_int_eq(ov_gguf_parse(img, cut, "cut.gguf", &g, g_err, sizeof g_err), OV_EFORMAT);
            ck_assert_ptr_null(g);
            ck_assert_ptr_nonnull(strstr(g_err, "cut.gguf"));
        }
        free(img);
    }
}
END_TEST

/* A file written by gguf-py's GGUFWriter (tests/golden/dtype/gen_gguf.py) reads back right. */
START_TEST(test_gguf_py_file)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/dtype/gguf_py.gguf", src ? src : ".");
    ov_gguf *g;
    ck_assert_int_eq(ov_gguf_open(path, &g, g_err, sizeof g_err), 0);
    int64_t v;
    ck_assert_int_eq(ov_gguf_get_int(g, "qwen2.block_count", &v), 0);
    ck_assert_int_eq(v, 2);
    const char *s;
    size_t n;
    ck_assert_int_eq(ov_gguf_get_str(g, "general.architecture", &s, &n), 0);
    ck_assert(n == 5 && memcmp(s, "qwen2", 5) == 0);
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", 2, &s, &n), 0);
    ck_assert(n == 10 && memcmp(s, "<|im_end|>", 10) == 0);
    ck_assert_uint_eq(ov_gguf_count(g), 3);
    const ov_gguf_tensor *q = ov_gguf_find(g, "blk.0.ffn.weight"), *f = ov_gguf_find(g, "blk.0.attn_q.weight"),
                         *h = ov_gguf_find(g, "blk.0.attn_k.weight");
    ck_assert(q && f && h);
    ck_assert(f->ne[0] == 32 && f->ne[1] == 2 && f->dtype == OV_DTYPE_F32); /* numpy (2,32) -> ne {32,2} */
    ck_assert(q->dtype == OV_DTYPE_Q8_0 && q->ne[0] == 32 && q->ne[1] == 2 && q->n_bytes == 68);
    uint8_t raw[68];
    float y[64], yf[64], yh[64];
    uint8_t hraw[128];
    ck_assert_int_eq(ov_gguf_read(g, q, raw, sizeof raw, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_Q8_0, raw, y, 64), 0);
    ck_assert_int_eq(ov_gguf_read(g, f, yf, sizeof yf, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_gguf_read(g, h, hraw, sizeof hraw, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_F16, hraw, yh, 64), 0);
    for (int i = 0; i < 64; i++) {
        float want = (float)i / 8 - 4;
        ck_assert_float_eq(yf[i], want);
        ck_assert_float_eq(yh[i], want);                /* exact in f16 */
        ck_assert_float_eq_tol(y[i], want, 4.0f / 127); /* Q8_0: half a step of amax/127 */
    }
    ov_gguf_close(g);
}
END_TEST

/* ---- hostile files built byte by byte ---- */

struct bb {
    uint8_t b[4096];
    size_t n;
};

static void u32(struct bb *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void u64(struct bb *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * i));
}

static void str(struct bb *b, const char *s)
{
    u64(b, strlen(s));
    memcpy(b->b + b->n, s, strlen(s));
    b->n += strlen(s);
}

static void head(struct bb *b, uint64_t n_tensors, uint64_t n_kv)
{
    b->n = 0;
    u32(b, OV_GGUF_MAGIC);
    u32(b, 3);
    u64(b, n_tensors);
    u64(b, n_kv);
}

/* Tensor info with n_dims dims from ne. */
static void tinfo(struct bb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off)
{
    str(b, name);
    u32(b, nd);
    for (uint32_t i = 0; i < nd; i++)
        u64(b, ne[i]);
    u32(b, type);
    u64(b, off);
}

/* Pad to 32 and add data bytes. */
static void data(struct bb *b, size_t n)
{
    while (b->n % 32)
        b->b[b->n++] = 0;
    memset(b->b + b->n, 0x11, n);
    b->n += n;
}

static int parse_bb(const struct bb *b)
{
    ov_gguf *g = NULL;
    g_err[0] = 0;
    int rc = ov_gguf_parse(b->b, b->n, "evil.gguf", &g, g_err, sizeof g_err);
    ov_gguf_close(g);
    return rc;
}

START_TEST(test_hostile)
{
    struct bb b;
    uint64_t ne[5] = {32, 2, 1, 1, 1};
    /* Valid baseline. */
    head(&b, 1, 0);
    tinfo(&b, "w", 2, ne, 0, 0);
    data(&b, 256);
    ck_assert_int_eq(parse_bb(&b), 0);
    /* Unknown / unsupported type ids name the tensor and the id. */
    head(&b, 1, 0);
    tinfo(&b, "blk.0.w", 2, ne, 2, 0);
    data(&b, 256);
    ASSERT_ERR(parse_bb(&b), OV_EUNSUPP, "tensor 'blk.0.w': ggml type id 2 (Q4_0) is not supported");
    head(&b, 1, 0);
    tinfo(&b, "x", 2, ne, 999, 0);
    data(&b, 256);
    ASSERT_ERR(parse_bb(&b), OV_EUNSUPP, "tensor 'x': ggml type id 999 (unknown)");
    /* Misaligned offset, bad general.alignment. */
    head(&b, 2, 0);
    tinfo(&b, "a", 1, ne, 0, 0);
    tinfo(&b, "b", 1, ne, 0, 130);
    data(&b, 512);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 'b': offset 130 is not a multiple of the alignment 32");
    head(&b, 0, 1);
    str(&b, "general.alignment");
    u32(&b, OV_GGUF_U32);
    u32(&b, 48);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "general.alignment must be a u32 power of two");
    head(&b, 0, 1);
    str(&b, "general.alignment");
    u32(&b, OV_GGUF_U64);
    u64(&b, 64);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "general.alignment");
    /* Giant array counts and strings: refused before any allocation. */
    head(&b, 0, 1);
    str(&b, "tokenizer.ggml.tokens");
    u32(&b, OV_GGUF_ARRAY);
    u32(&b, OV_GGUF_STRING);
    u64(&b, 1ull << 40);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "'tokenizer.ggml.tokens': array of 1099511627776 elements");
    head(&b, 0, 1);
    str(&b, "tokenizer.ggml.tokens");
    u32(&b, OV_GGUF_ARRAY);
    u32(&b, OV_GGUF_STRING);
    u64(&b, 1000000); /* under the cap but more than the file holds */
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "evil.gguf: file ends inside the header");
    head(&b, 0, 1);
    str(&b, "k");
    u32(&b, OV_GGUF_STRING);
    u64(&b, ~0ull);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "'k': string over");
    head(&b, 0, 1);
    str(&b, "k");
    u32(&b, OV_GGUF_ARRAY);
    u32(&b, OV_GGUF_ARRAY);
    u64(&b, 1);
    ASSERT_ERR(parse_bb(&b), OV_EUNSUPP, "'k': array element type 9");
    head(&b, 0, 1);
    str(&b, "k");
    u32(&b, 13);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "'k' has unknown value type 13");
    head(&b, 0, 2);
    str(&b, "k");
    u32(&b, OV_GGUF_U8);
    b.b[b.n++] = 1;
    str(&b, "k");
    u32(&b, OV_GGUF_U8);
    b.b[b.n++] = 1;
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "'k' appears twice");
    /* Header counts. */
    head(&b, 1ull << 50, 0);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "over the cap");
    /* Dims: too many, overflow, not a multiple of the block. */
    head(&b, 1, 0);
    tinfo(&b, "w", 5, ne, 0, 0);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 'w': 5 dimensions");
    uint64_t huge[2] = {1ull << 33, 1ull << 33};
    head(&b, 1, 0);
    tinfo(&b, "w", 2, huge, 0, 0);
    data(&b, 32);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 'w': element count overflows");
    uint64_t odd[1] = {33};
    head(&b, 1, 0);
    tinfo(&b, "w", 1, odd, 8, 0);
    data(&b, 64);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "ne[0]=33 is not a multiple of the q8_0 block (32)");
    /* Data past the end (header lying / truncated) and overlaps. */
    head(&b, 1, 0);
    tinfo(&b, "w", 2, ne, 0, 0);
    data(&b, 255);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 'w': bytes [0, +256) run past the end");
    head(&b, 2, 0);
    tinfo(&b, "a", 2, ne, 0, 0);
    tinfo(&b, "b", 2, ne, 0, 128);
    data(&b, 512);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensors 'a' and 'b' overlap");
    head(&b, 2, 0);
    tinfo(&b, "a", 1, ne, 0, 0);
    tinfo(&b, "a", 1, ne, 0, 128);
    data(&b, 512);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 'a' appears twice");
    head(&b, 1, 0);
    tinfo(&b, "", 1, ne, 0, 0);
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "tensor 0: name of 0 bytes");
    /* Magic and version. */
    head(&b, 0, 0);
    b.b[0] = 'X';
    ASSERT_ERR(parse_bb(&b), OV_EFORMAT, "not a GGUF file");
    head(&b, 0, 0);
    b.b[4] = 1;
    ASSERT_ERR(parse_bb(&b), OV_EUNSUPP, "GGUF version 1");
    /* Missing file. */
    ov_gguf *g;
    ASSERT_ERR(ov_gguf_open("/nonexistent/x.gguf", &g, g_err, sizeof g_err), OV_ENOENT, "/nonexistent/x.gguf");
}
END_TEST

/* A header bigger than the reader's first 4 MiB read is parsed by rereading more. */
START_TEST(test_large_metadata)
{
    ov_gguf_writer *w = ov_gguf_writer_new();
    enum { N = 300000 };
    static char tok[N][16];
    static const char *toks[N];
    for (int i = 0; i < N; i++) {
        snprintf(tok[i], sizeof tok[i], "tok%d", i);
        toks[i] = tok[i];
    }
    ck_assert_int_eq(ov_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, N), 0);
    float x[32] = {1};
    int64_t ne[1] = {32};
    ck_assert_int_eq(ov_gguf_add_tensor(w, "t", OV_DTYPE_F32, 1, ne, x), 0);
    ck_assert_int_eq(ov_gguf_writer_write(w, g_path, g_err, sizeof g_err), 0);
    ov_gguf_writer_free(w);
    ov_gguf *g;
    ck_assert_int_eq(ov_gguf_open(g_path, &g, g_err, sizeof g_err), 0);
    const char *s;
    size_t n;
    ck_assert_int_eq(ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", N - 1, &s, &n), 0);
    ck_assert(n == 9 && memcmp(s, "tok299999", 9) == 0);
    float y[32];
    ck_assert_int_eq(ov_gguf_read(g, ov_gguf_find(g, "t"), y, sizeof y, g_err, sizeof g_err), 0);
    ck_assert_float_eq(y[0], 1.0f);
    ov_gguf_close(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip);
    tcase_add_test(tc, test_gguf_py_file);
    tcase_add_test(tc, test_hostile);
    tcase_add_test(tc, test_large_metadata);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
