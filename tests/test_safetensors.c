/* Tests for common/formats: safetensors round trips and hostile headers, shards, loader, fp8, remap. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/fp8_scaled.h"
#include "common/formats/loader.h"
#include "common/formats/remap.h"
#include "common/formats/safetensors.h"
#include "common/tensor/dtype.h"

static char g_dir[256];
static char g_err[OV_ST_ERR_LEN];

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ov_test_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    g_err[0] = 0;
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path_in(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* A file image: 8-byte length + header + data_len bytes of 0xAB. */
static uint8_t *image(const char *hdr, size_t data_len, size_t *len)
{
    size_t hn = strlen(hdr);
    *len = 8 + hn + data_len;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, hdr, hn);
    memset(b + 8 + hn, 0xab, data_len);
    return b;
}

/* Parse a crafted image; return the code and leave the message in g_err. */
static int parse_hdr(const char *hdr, size_t data_len)
{
    size_t len;
    uint8_t *b = image(hdr, data_len, &len);
    ov_safetensors *st = NULL;
    int rc = ov_st_parse(b, len, "crafted.safetensors", &st, g_err, sizeof g_err);
    if (rc == 0)
        ck_assert_ptr_nonnull(st);
    else
        ck_assert_ptr_null(st);
    ov_st_close(st);
    free(b);
    return rc;
}

#define ASSERT_ERR(expr, code, needle)                                                                      \
    do {                                                                                                    \
        int rc_ = (expr);                                                                                   \
        ck_assert_msg(rc_ == (code), "rc %d (%s) want %d; err: %s", rc_, ov_errname(rc_), (code), g_err);  \
        ck_assert_msg(strstr(g_err, (needle)) != NULL, "error '%s' lacks '%s'", g_err, (needle));          \
    } while (0)

START_TEST(test_roundtrip_all_dtypes)
{
    enum { N = 12 };
    int dtypes[N] = {OV_DTYPE_F64, OV_DTYPE_F32, OV_DTYPE_F16, OV_DTYPE_BF16, OV_DTYPE_F8_E4M3, OV_DTYPE_F8_E5M2,
                     OV_DTYPE_I64, OV_DTYPE_I32, OV_DTYPE_I16, OV_DTYPE_I8, OV_DTYPE_U8, OV_DTYPE_BOOL};
    ov_st_wtensor t[N + 2];
    int64_t shape[2] = {3, 5};
    uint8_t *data[N];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        size_t nb = 15 * ov_dtype_block_bytes(dtypes[i]);
        data[i] = malloc(nb);
        for (size_t j = 0; j < nb; j++)
            data[i][j] = (uint8_t)(j * 7 + (size_t)i);
        snprintf(names[i], sizeof names[i], "layer.%d.weight", i);
        t[i] = (ov_st_wtensor){names[i], dtypes[i], 2, shape, data[i]};
    }
    float scalar = 3.5f;
    int64_t zero_shape[1] = {0};
    t[N] = (ov_st_wtensor){"scalar", OV_DTYPE_F32, 0, NULL, &scalar};
    t[N + 1] = (ov_st_wtensor){"empty", OV_DTYPE_F16, 1, zero_shape, NULL};
    const char *meta[4] = {"format", "pt", "note", "quote\" and \\ ok"};
    const char *p = path_in("rt.safetensors");
    ck_assert_int_eq(ov_st_write(p, t, N + 2, meta, 2, g_err, sizeof g_err), 0);

    /* Header length is a multiple of 8, padded with spaces as the reference writer does. */
    FILE *f = fopen(p, "rb");
    uint8_t pre[8];
    ck_assert_uint_eq(fread(pre, 1, 8, f), 8);
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--)
        hn = (hn << 8) | pre[i];
    ck_assert_uint_eq(hn % 8, 0);
    char *hdr = malloc(hn + 1);
    ck_assert_uint_eq(fread(hdr, 1, hn, f), hn);
    fclose(f);
    ck_assert(hdr[0] == '{');
    size_t end = hn;
    while (end > 0 && hdr[end - 1] == ' ')
        end--;
    ck_assert(hdr[end - 1] == '}' && hn - end < 8);
    free(hdr);

    ov_safetensors *st;
    ck_assert_int_eq(ov_st_open(p, &st, g_err, sizeof g_err), 0);
    ck_assert_uint_eq(ov_st_count(st), N + 2);
    ck_assert_str_eq(ov_st_meta(st, "format"), "pt");
    ck_assert_str_eq(ov_st_meta(st, "note"), "quote\" and \\ ok");
    ck_assert_ptr_null(ov_st_meta(st, "absent"));
    ck_assert_uint_eq(ov_st_meta_count(st), 2);
    for (int i = 0; i < N; i++) {
        const ov_st_tensor *x = ov_st_find(st, names[i]);
        ck_assert_ptr_nonnull(x);
        ck_assert_int_eq(x->dtype, dtypes[i]);
        ck_assert_int_eq(x->n_dims, 2);
        ck_assert(x->shape[0] == 3 && x->shape[1] == 5 && x->n_elems == 15);
        uint8_t buf[128];
        ck_assert_int_eq(ov_st_read(st, x, buf, sizeof buf, g_err, sizeof g_err), 0);
        ck_assert_int_eq(memcmp(buf, data[i], x->n_bytes), 0);
        ck_assert_int_eq(ov_st_read(st, x, buf, 1, g_err, sizeof g_err), OV_ERANGE);
        free(data[i]);
    }
    const ov_st_tensor *s = ov_st_find(st, "scalar");
    ck_assert(s && s->n_dims == 0 && s->n_elems == 1 && s->n_bytes == 4);
    float back;
    ck_assert_int_eq(ov_st_read(st, s, &back, 4, g_err, sizeof g_err), 0);
    ck_assert_float_eq(back, 3.5f);
    const ov_st_tensor *e = ov_st_find(st, "empty");
    ck_assert(e && e->n_elems == 0 && e->n_bytes == 0);
    ck_assert_ptr_null(ov_st_find(st, "layer.99.weight"));
    /* Iteration is in offset order. */
    for (size_t i = 1; i < ov_st_count(st); i++)
        ck_assert_uint_ge(ov_st_at(st, i)->offset, ov_st_at(st, i - 1)->offset);
    ck_assert_ptr_null(ov_st_at(st, ov_st_count(st)));
    ov_st_close(st);

    /* A folder holding one .safetensors opens too. */
    ck_assert_int_eq(ov_st_open(g_dir, &st, g_err, sizeof g_err), 0);
    ck_assert_uint_eq(ov_st_count(st), N + 2);
    ov_st_close(st);
}
END_TEST

START_TEST(test_writer_rejects)
{
    int64_t shape[1] = {4};
    float d[4] = {0};
    ov_st_wtensor q = {"q", OV_DTYPE_Q8_0, 1, shape, d};
    ASSERT_ERR(ov_st_write(path_in("bad.safetensors"), &q, 1, NULL, 0, g_err, sizeof g_err), OV_EINVAL, "'q'");
    ov_st_wtensor two[2] = {{"a", OV_DTYPE_F32, 1, shape, d}, {"a", OV_DTYPE_F32, 1, shape, d}};
    ASSERT_ERR(ov_st_write(path_in("bad.safetensors"), two, 2, NULL, 0, g_err, sizeof g_err), OV_EINVAL, "twice");
    /* Streaming with too few bytes fails and leaves no file behind. */
    ov_st_writer *w;
    ck_assert_int_eq(ov_st_writer_begin(path_in("short.safetensors"), two, 1, NULL, 0, &w, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_writer_data(w, d, 8), 0);
    ck_assert_int_eq(ov_st_writer_data(w, d, 16), OV_ERANGE);
    ASSERT_ERR(ov_st_writer_finish(w, g_err, sizeof g_err), OV_EINVAL, "promises 16");
    ck_assert_int_ne(access(path_in("short.safetensors"), F_OK), 0);
}
END_TEST

START_TEST(test_hostile_headers)
{
    /* Sanity: a minimal valid image parses. */
    ck_assert_int_eq(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), 0);
    ck_assert_int_eq(parse_hdr("{}", 0), 0);
    /* Header lying about offsets. */
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), OV_EFORMAT,
               "tensor 'w': data_offsets end 16 is past the data section (8 bytes)");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16), OV_EFORMAT,
               "tensor 'w': data_offsets span 12 bytes");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 16), OV_EFORMAT,
               "tensor 'w'");
    /* Overlapping tensors. */
    ASSERT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                         12),
               OV_EFORMAT, "'b' overlaps");
    /* Gaps and trailing bytes. */
    ASSERT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), OV_EFORMAT,
               "4 unused bytes before tensor 'a'");
    ASSERT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), OV_EFORMAT,
               "cover 4 of the 8");
    /* Shape overflow and bad shapes. */
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4),
               OV_EFORMAT, "'w': element count overflows");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), OV_EFORMAT,
               "shape[0]");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), OV_EFORMAT,
               "shape[0]");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
               OV_EFORMAT, "9 dimensions");
    /* Unknown dtype. */
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F8_E8M0\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4), OV_EUNSUPP,
               "tensor 'w': unsupported dtype 'F8_E8M0'");
    /* Structure. */
    ASSERT_ERR(parse_hdr("[1,2]", 0), OV_EFORMAT, "not a JSON object");
    ASSERT_ERR(parse_hdr("{\"a\":", 0), OV_EFORMAT, "not valid JSON");
    ASSERT_ERR(parse_hdr("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                         0),
               OV_EFORMAT, "not valid JSON");
    ASSERT_ERR(parse_hdr("{\"__metadata__\":{\"k\":1}}", 0), OV_EFORMAT, "'k' is not a string");
    ASSERT_ERR(parse_hdr("{\"w\":5}", 0), OV_EFORMAT, "'w': entry is not an object");
    ASSERT_ERR(parse_hdr("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), OV_EFORMAT, "'w': needs");
    /* Header length: truncated file, giant length, too short. */
    size_t len;
    uint8_t *b = image("{}", 0, &len);
    ov_safetensors *st = NULL;
    ASSERT_ERR(ov_st_parse(b, len - 1, "t.safetensors", &st, g_err, sizeof g_err), OV_EFORMAT, "truncated");
    b[5] = 0x7f; /* header length ~ 2^47 */
    ASSERT_ERR(ov_st_parse(b, len, "t.safetensors", &st, g_err, sizeof g_err), OV_EFORMAT, "not plausible");
    ASSERT_ERR(ov_st_parse(b, 5, "t.safetensors", &st, g_err, sizeof g_err), OV_EFORMAT, "too short");
    ck_assert_ptr_null(st);
    free(b);
}
END_TEST

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

START_TEST(test_truncated_file_on_disk)
{
    float d[64];
    for (int i = 0; i < 64; i++)
        d[i] = (float)i;
    int64_t shape[1] = {64};
    ov_st_wtensor t = {"w", OV_DTYPE_F32, 1, shape, d};
    const char *p = path_in("trunc.safetensors");
    ck_assert_int_eq(ov_st_write(p, &t, 1, NULL, 0, g_err, sizeof g_err), 0);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(truncate(p, sb.st_size - 1), 0);
    ov_safetensors *st;
    ASSERT_ERR(ov_st_open(p, &st, g_err, sizeof g_err), OV_EFORMAT,
               "trunc.safetensors: tensor 'w': data_offsets end 256 is past the data section (255 bytes)");
    /* A file that shrinks after open: reads and the loader say so. */
    ck_assert_int_eq(ov_st_write(p, &t, 1, NULL, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_open(p, &st, g_err, sizeof g_err), 0);
    ck_assert_int_eq(truncate(p, sb.st_size - 100), 0);
    const ov_st_tensor *w = ov_st_find(st, "w");
    float out[64];
    ASSERT_ERR(ov_st_read(st, w, out, sizeof out, g_err, sizeof g_err), OV_EFORMAT, "'w' (did it shrink?)");
    ASSERT_ERR(ov_load_range(ov_st_shard_fd(st, 0), p, w->offset, w->n_bytes, out, 0, g_err, sizeof g_err),
               OV_EFORMAT, "shrank or header lies");
    ov_st_close(st);
    ASSERT_ERR(ov_st_open(path_in("nope.safetensors"), &st, g_err, sizeof g_err), OV_ENOENT, "nope.safetensors");
}
END_TEST

/* Two shards + index; folder and index paths both open as one checkpoint. */
static void make_shards(const char *shard_b_name_in_index)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    int64_t sa[1] = {4}, sb[1] = {2};
    ov_st_wtensor ta = {"model.a", OV_DTYPE_F32, 1, sa, a}, tb = {"model.b", OV_DTYPE_F32, 1, sb, b};
    ck_assert_int_eq(ov_st_write(path_in("model-00001-of-00002.safetensors"), &ta, 1, NULL, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_write(path_in("model-00002-of-00002.safetensors"), &tb, 1, NULL, 0, g_err, sizeof g_err), 0);
    const char *names[2] = {"model.a", "model.b"};
    const char *files[2] = {"model-00001-of-00002.safetensors", shard_b_name_in_index};
    ck_assert_int_eq(ov_st_write_index(path_in("model.safetensors.index.json"), names, files, 2, 24, g_err,
                                       sizeof g_err),
                     0);
}

START_TEST(test_sharded)
{
    make_shards("model-00002-of-00002.safetensors");
    ov_safetensors *st;
    ck_assert_int_eq(ov_st_open(g_dir, &st, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_shard_count(st), 2);
    ck_assert_uint_eq(ov_st_count(st), 2);
    const ov_st_tensor *b = ov_st_find(st, "model.b");
    ck_assert(b && b->shard == 1);
    ck_assert_ptr_nonnull(strstr(ov_st_shard_path(st, 1), "model-00002-of-00002.safetensors"));
    float out[2];
    ck_assert_int_eq(ov_st_read(st, b, out, sizeof out, g_err, sizeof g_err), 0);
    ck_assert(out[0] == 5 && out[1] == 6);
    ov_st_close(st);
    ck_assert_int_eq(ov_st_open(path_in("model.safetensors.index.json"), &st, g_err, sizeof g_err), 0);
    ov_st_close(st);
}
END_TEST

START_TEST(test_sharded_missing)
{
    make_shards("model-00002-of-00002.safetensors");
    ck_assert_int_eq(unlink(path_in("model-00002-of-00002.safetensors")), 0);
    ov_safetensors *st;
    ASSERT_ERR(ov_st_open(g_dir, &st, g_err, sizeof g_err), OV_ENOENT,
               "shard 'model-00002-of-00002.safetensors' named in the weight_map is missing");
}
END_TEST

START_TEST(test_sharded_traversal)
{
    make_shards("../model-00002-of-00002.safetensors");
    ov_safetensors *st;
    ASSERT_ERR(ov_st_open(g_dir, &st, g_err, sizeof g_err), OV_EFORMAT,
               "weight_map['model.b'] must be a plain file name");
    make_shards("..");
    ASSERT_ERR(ov_st_open(g_dir, &st, g_err, sizeof g_err), OV_EFORMAT, "plain file name");
    /* Index maps a tensor to the wrong shard / a tensor that is nowhere. */
    make_shards("model-00001-of-00002.safetensors");
    ASSERT_ERR(ov_st_open(g_dir, &st, g_err, sizeof g_err), OV_ENOENT, "'model.b' is in the weight_map but not in");
    write_file(path_in("model.safetensors.index.json"), "{\"weight_map\": 3}", 17);
    ASSERT_ERR(ov_st_open(g_dir, &st, g_err, sizeof g_err), OV_EFORMAT, "no weight_map");
}
END_TEST

struct sink_log {
    uint8_t *dst;
    void *const *staging;
    int submits, waits;
};

static int sink_submit(void *ctx, int buf, uint64_t off, size_t n)
{
    struct sink_log *s = ctx;
    memcpy(s->dst + off, s->staging[buf], n);
    s->submits++;
    return 0;
}

static int sink_wait(void *ctx, int buf)
{
    ((struct sink_log *)ctx)->waits++;
    return 0;
}

START_TEST(test_loader)
{
    enum { N = 100003 };
    uint8_t *src = malloc(N), *dst = malloc(N);
    for (int i = 0; i < N; i++)
        src[i] = (uint8_t)(i * 31 + 7);
    const char *p = path_in("blob");
    write_file(p, src, N);
    int fd = open(p, O_RDONLY);
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_range(fd, p, 3, N - 3, dst, 4096, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src + 3, N - 3), 0);
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_range(fd, p, 0, N, dst, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src, N), 0);
    ASSERT_ERR(ov_load_range(fd, p, 10, N, dst, 0, g_err, sizeof g_err), OV_EFORMAT, "blob: is 100003 bytes");
    /* Streaming through two staging buffers. */
    uint8_t s0[1000], s1[1000];
    void *const staging[2] = {s0, s1};
    struct sink_log log = {dst, staging, 0, 0};
    ov_load_sink sink = {sink_submit, sink_wait, &log};
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_stream(fd, p, 0, N, staging, sizeof s0, &sink, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src, N), 0);
    ck_assert_int_eq(log.submits, 101);
    ck_assert_int_eq(log.waits, 101); /* 99 before refills + 2 at the end */
    /* Shrinks between chunks: the loader names the file and what arrived. */
    ck_assert_int_eq(truncate(p, 5000), 0);
    ASSERT_ERR(ov_load_range(fd, p, 0, N, dst, 4096, g_err, sizeof g_err), OV_EFORMAT, "blob");
    close(fd);
    free(src);
    free(dst);
}
END_TEST

/* Chunks of >= 8 MiB are read as several pieces on threads (OURVIDZ_LOAD_THREADS=4 here): every
 * byte lands where a single read would put it, for an odd offset and length, through
 * ov_load_range and ov_load_stream, and the thread count is what the variable says. */
START_TEST(test_loader_threads)
{
    ck_assert_int_eq(setenv("OURVIDZ_LOAD_THREADS", "4", 1), 0);
    ck_assert_int_eq(ov_load_threads(), 4);
    const size_t N = ((size_t)24 << 20) + 12345;
    uint8_t *src = malloc(N), *dst = malloc(N);
    ck_assert(src && dst);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < N; i++) {
        h = (h ^ (uint32_t)i) * 16777619u;
        src[i] = (uint8_t)(h >> 13);
    }
    const char *p = path_in("big");
    write_file(p, src, N);
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_range(fd, p, 7, N - 7, dst, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src + 7, N - 7), 0);
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_range(fd, p, 0, N, dst, (size_t)9 << 20, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src, N), 0);
    size_t sb = (size_t)16 << 20;
    void *s0 = malloc(sb), *s1 = malloc(sb);
    ck_assert(s0 && s1);
    void *const staging[2] = {s0, s1};
    struct sink_log log = {dst, staging, 0, 0};
    ov_load_sink sink = {sink_submit, sink_wait, &log};
    memset(dst, 0, N);
    ck_assert_int_eq(ov_load_stream(fd, p, 0, N, staging, sb, &sink, g_err, sizeof g_err), 0);
    ck_assert_int_eq(memcmp(dst, src, N), 0);
    ck_assert_int_eq(log.submits, 2);
    ASSERT_ERR(ov_load_range(fd, p, 10, N, dst, 0, g_err, sizeof g_err), OV_EFORMAT, "big: is ");
    close(fd);
    unlink(p);
    free(s0);
    free(s1);
    free(src);
    free(dst);
}
END_TEST

START_TEST(test_fp8_scaled)
{
    float wf[4] = {1.0f, -0.5f, 2.0f, 448.0f};
    uint8_t w8[4];
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_F8_E4M3, wf, w8, 4), 0);
    float scale = 0.25f, marker = 0.0f;
    uint16_t bias[2] = {0x3c00, 0x4000};
    int64_t s4[2] = {2, 2}, s2[1] = {2};
    ov_st_wtensor t[5] = {
        {"blocks.0.ffn.0.weight", OV_DTYPE_F8_E4M3, 2, s4, w8},
        {"blocks.0.ffn.0.scale_weight", OV_DTYPE_F32, 0, NULL, &scale},
        {"blocks.0.ffn.0.bias", OV_DTYPE_F16, 1, s2, bias},
        {"blocks.0.ffn.2.weight", OV_DTYPE_F8_E4M3, 2, s4, w8},
        {"scaled_fp8", OV_DTYPE_F32, 0, NULL, &marker},
    };
    const char *p = path_in("dit_fp8_scaled.safetensors");
    ck_assert_int_eq(ov_st_write(p, t, 5, NULL, 0, g_err, sizeof g_err), 0);
    ov_safetensors *st;
    ck_assert_int_eq(ov_st_open(p, &st, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_fp8_detect(st), OV_FP8_LEGACY);
    float sc;
    ck_assert_int_eq(ov_fp8_weight_scale(st, "blocks.0.ffn.0.weight", &sc, g_err, sizeof g_err), 0);
    ck_assert_float_eq(sc, 0.25f);
    ck_assert_int_eq(ov_fp8_weight_scale(st, "blocks.0.ffn.2.weight", &sc, g_err, sizeof g_err), 0);
    ck_assert_float_eq(sc, 1.0f);
    ASSERT_ERR(ov_fp8_weight_scale(st, "blocks.9.weight", &sc, g_err, sizeof g_err), OV_ENOENT, "blocks.9.weight");
    /* Dequantised weight = float(fp8) * scale. */
    const ov_st_tensor *w = ov_st_find(st, "blocks.0.ffn.0.weight");
    uint8_t raw[4];
    float y[4];
    ck_assert_int_eq(ov_st_read(st, w, raw, 4, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_dtype_to_f32(w->dtype, raw, y, 4), 0);
    ck_assert_float_eq(y[3] * sc, 448.0f);
    ov_st_close(st);
    /* Same file without the marker: plain fp8; a non-scalar scale is refused by name. */
    int64_t s1[1] = {2};
    float two[2] = {1, 2};
    ov_st_wtensor u[2] = {{"x.weight", OV_DTYPE_F8_E4M3, 2, s4, w8}, {"x.weight_scale", OV_DTYPE_F32, 1, s1, two}};
    ck_assert_int_eq(ov_st_write(p, u, 2, NULL, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_open(p, &st, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_fp8_detect(st), OV_FP8_PLAIN);
    ASSERT_ERR(ov_fp8_weight_scale(st, "x.weight", &sc, g_err, sizeof g_err), OV_EFORMAT, "'x.weight_scale' for 'x.weight'");
    ov_st_close(st);
    const char *meta[2] = {"_quantization_metadata", "{\"format_version\":\"1.0\",\"layers\":{}}"};
    ck_assert_int_eq(ov_st_write(p, u, 1, meta, 1, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_st_open(p, &st, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_fp8_detect(st), OV_FP8_QUANT_META);
    ov_st_close(st);
}
END_TEST

static int has_in(void *ctx, const char *name)
{
    const char *const *list = ctx;
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

START_TEST(test_remap)
{
    char out[256];
    ck_assert_int_eq(ov_remap_name(&ov_remap_sdxl_single_file, "model.diffusion_model.input_blocks.0.0.weight", out,
                                   sizeof out),
                     1);
    ck_assert_str_eq(out, "unet.input_blocks.0.0.weight");
    ck_assert_int_eq(ov_remap_name(&ov_remap_sdxl_single_file,
                                   "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", out,
                                   sizeof out),
                     1);
    ck_assert_str_eq(out, "te2.transformer.resblocks.0.attn.in_proj_weight");
    ck_assert_int_eq(ov_remap_name(&ov_remap_sdxl_single_file, "first_stage_model.decoder.conv_in.weight", out, sizeof out), 1);
    ck_assert_str_eq(out, "vae.decoder.conv_in.weight");
    ck_assert_int_eq(ov_remap_name(&ov_remap_comfy_dit, "model.diffusion_model.blocks.0.self_attn.q.weight", out, sizeof out), 1);
    ck_assert_str_eq(out, "blocks.0.self_attn.q.weight");
    ck_assert_int_eq(ov_remap_name(&ov_remap_comfy_dit, "blocks.0.norm3.weight", out, sizeof out), 0);
    ck_assert_str_eq(out, "blocks.0.norm3.weight");
    ck_assert_int_eq(ov_remap_name(&ov_remap_identity, "x", out, sizeof out), 0);
    ck_assert_int_eq(ov_remap_name(&ov_remap_sdxl_single_file, "first_stage_model.decoder.conv_in.weight", out, 8),
                     OV_ERANGE);
    const ov_remap_table tables[3] = {ov_remap_identity, ov_remap_comfy_dit, ov_remap_sdxl_single_file};
    const char *sdxl[3] = {"model.diffusion_model.out.2.weight", "first_stage_model.encoder.conv_in.weight",
                           "conditioner.embedders.0.transformer.text_model.embeddings.position_ids"};
    ck_assert_int_eq(ov_remap_detect(tables, 3, sdxl, 3), 2);
    const char *plain[1] = {"blocks.0.ffn.0.weight"};
    ck_assert_int_eq(ov_remap_detect(tables, 3, plain, 1), -1);
    const char *have[] = {"a", "b", NULL};
    const char *need[] = {"a", "b", "c.weight", "d", "e", "f", "g"};
    ck_assert_int_eq(ov_remap_require("ck.safetensors", need, 2, has_in, (void *)have, g_err, sizeof g_err), 0);
    ASSERT_ERR(ov_remap_require("ck.safetensors", need, 7, has_in, (void *)have, g_err, sizeof g_err), OV_ENOENT,
               "ck.safetensors: 5 of 7 required tensors missing: 'c.weight', 'd', 'e', 'f', ...");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_roundtrip_all_dtypes);
    tcase_add_test(tc, test_writer_rejects);
    tcase_add_test(tc, test_hostile_headers);
    tcase_add_test(tc, test_truncated_file_on_disk);
    tcase_add_test(tc, test_sharded);
    tcase_add_test(tc, test_sharded_missing);
    tcase_add_test(tc, test_sharded_traversal);
    tcase_add_test(tc, test_loader);
    tcase_add_test(tc, test_loader_threads);
    tcase_add_test(tc, test_fp8_scaled);
    tcase_add_test(tc, test_remap);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
