/* Tests for common/image: float -> RGB8 rounding (vs diffusers), A1111 parameters text, PNG write/read. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/image/params.h"
#include "common/image/png.h"
#include "common/image/png_idat.h"
#include "common/image/rgb8.h"

static char g_dir[256];
static char g_err[512];

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ov_test_png_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Number of entries in g_dir (without . and ..), and whether any is a leftover temp file. */
static int dir_entries(int *tmp_left)
{
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    *tmp_left = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (strstr(e->d_name, ".tmp-"))
            *tmp_left = 1;
    }
    closedir(d);
    return n;
}

static void *read_file(const char *rel, size_t n)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    void *v = malloc(n + 1);
    ck_assert_uint_eq(fread(v, 1, n + 1, fp), n);
    fclose(fp);
    return v;
}

/* Every value of the golden image (byte boundaries ± ulps, exact ties, out of range, ±0, random)
 * gives exactly diffusers' byte. */
START_TEST(rounding_matches_diffusers)
{
    enum { H = 22, W = 64 };
    float *in = read_file("tests/golden/image/png_round_in.f32", 3 * H * W * sizeof(float));
    uint8_t *ref = read_file("tests/golden/image/png_round_out.rgb", 3 * H * W);
    uint8_t out[3 * H * W];
    ck_assert_int_eq(ov_image_to_rgb8(in, W, H, out), 0);
    int bad = 0;
    for (int i = 0; i < 3 * H * W; i++)
        bad += out[i] != ref[i];
    ck_assert_int_eq(bad, 0);
    /* the edges by hand: -1 -> 0, 1 -> 255, 0 -> 127.5 -> 128 (ties to even), 1e30 -> 255 */
    float edge[3] = {-1.0f, 1.0f, 0.0f};
    uint8_t px[3];
    ck_assert_int_eq(ov_image_to_rgb8(edge, 1, 1, px), 0);
    ck_assert_uint_eq(px[0], 0);
    ck_assert_uint_eq(px[1], 255);
    ck_assert_uint_eq(px[2], 128);
    free(in);
    free(ref);
}
END_TEST

START_TEST(nonfinite_is_caught)
{
    float x[12] = {0};
    uint8_t px[12];
    ck_assert(!ov_image_has_nonfinite(x, 12));
    float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        x[7] = bad[i];
        ck_assert(ov_image_has_nonfinite(x, 12));
        ck_assert_int_eq(ov_image_to_rgb8(x, 2, 2, px), OV_ERANGE);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/nan.png", g_dir);
    ck_assert_int_eq(ov_png_write_float(path, x, 2, 2, NULL, 0, g_err, sizeof g_err), OV_ERANGE);
    ck_assert_msg(strstr(g_err, "NaN"), "%s", g_err);
    int tmp;
    ck_assert_int_eq(dir_entries(&tmp), 0); /* nothing written, no temp file */
    ck_assert_int_eq(ov_image_to_rgb8(x, 0, 2, px), OV_EINVAL);
}
END_TEST

START_TEST(params_text)
{
    ov_image_params p = {
        "a cat on a mat, 4k", "blurry, lowres", 30, "Euler", 7.5f, 123456789012ULL, 1024, 768,
        "31e35c80fc",         "sd_xl_base_1.0",  0.0f};
    char buf[512];
    size_t n = 0;
    ck_assert_int_eq(ov_image_params_format(&p, buf, sizeof buf, &n), 0);
    const char *want =
        "a cat on a mat, 4k\nNegative prompt: blurry, lowres\nSteps: 30, Sampler: Euler, CFG scale: "
        "7.5, Seed: 123456789012, Size: 1024x768, Model hash: 31e35c80fc, Model: sd_xl_base_1.0";
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
    /* no negative prompt, integral CFG (Python prints 7.0), no hash/model */
    ov_image_params q = {"x", "", 4, "Euler a", 7.0f, 0, 512, 512, NULL, NULL, 0.0f};
    ck_assert_int_eq(ov_image_params_format(&q, buf, sizeof buf, NULL), 0);
    ck_assert_str_eq(buf, "x\nSteps: 4, Sampler: Euler a, CFG scale: 7.0, Seed: 0, Size: 512x512");
    /* image-to-image: A1111's "Denoising strength" after the model fields */
    p.denoising_strength = 0.35f;
    ck_assert_int_eq(ov_image_params_format(&p, buf, sizeof buf, NULL), 0);
    ck_assert_str_eq(buf, "a cat on a mat, 4k\nNegative prompt: blurry, lowres\nSteps: 30, Sampler: Euler, CFG scale: "
                          "7.5, Seed: 123456789012, Size: 1024x768, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, "
                          "Denoising strength: 0.35");
    p.denoising_strength = 0.0f;
    /* too small: OV_ERANGE, the length needed reported, still NUL-terminated */
    char small[16];
    ck_assert_int_eq(ov_image_params_format(&p, small, sizeof small, &n), OV_ERANGE);
    ck_assert_uint_eq(n, strlen(want));
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    q.sampler = NULL;
    ck_assert_int_eq(ov_image_params_format(&q, buf, sizeof buf, NULL), OV_EINVAL);
}
END_TEST

/* Count occurrences of a 4-byte chunk type in the file. */
static int count_chunk(const char *path, const char *type)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    static uint8_t b[1 << 16];
    size_t n = fread(b, 1, sizeof b, fp);
    fclose(fp);
    int c = 0;
    for (size_t i = 0; i + 4 <= n; i++)
        c += !memcmp(b + i, type, 4);
    return c;
}

START_TEST(round_trip)
{
    enum { W = 37, H = 23 };
    uint8_t rgb[W * H * 3];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof rgb; i++) {
        s = s * 1664525u + 1013904223u;
        rgb[i] = (uint8_t)(s >> 24);
    }
    rgb[0] = 0;
    rgb[1] = 255;
    char params[512];
    ov_image_params p = {
        "a photo of a cat\nsecond line", "ugly", 25, "DPM++ 2M Karras", 6.5f, 42, W, H, "abc123", "tiny", 0.0f};
    ck_assert_int_eq(ov_image_params_format(&p, params, sizeof params, NULL), 0);
    ov_png_text text[3] = {
        {"parameters", params}, {"Software", "ourvidz"}, {"Comment", "caf\xc3\xa9 \xe7\x8c\xab"}};
    char path[400];
    snprintf(path, sizeof path, "%s/out.png", g_dir);
    ck_assert_msg(ov_png_write(path, rgb, W, H, text, 3, g_err, sizeof g_err) == 0, "%s", g_err);
    int tmp;
    ck_assert_int_eq(dir_entries(&tmp), 1);
    ck_assert(!tmp);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(count_chunk(path, "tEXt"), 2); /* ASCII values */
    ck_assert_int_eq(count_chunk(path, "iTXt"), 1); /* the UTF-8 one */

    ov_png_image img;
    ck_assert_msg(ov_png_read(path, &img, g_err, sizeof g_err) == 0, "%s", g_err);
    ck_assert_int_eq(img.width, W);
    ck_assert_int_eq(img.height, H);
    ck_assert_mem_eq(img.rgb, rgb, sizeof rgb);
    ck_assert_uint_eq(img.n_text, 3);
    ck_assert_str_eq(ov_png_image_text(&img, "parameters"), params);
    ck_assert_str_eq(ov_png_image_text(&img, "Software"), "ourvidz");
    ck_assert_str_eq(ov_png_image_text(&img, "Comment"), "caf\xc3\xa9 \xe7\x8c\xab");
    ck_assert_ptr_null(ov_png_image_text(&img, "Title"));
    ov_png_image_free(&img);

    /* libpng's simplified reader (a different code path from ours) sees the same pixels */
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    ck_assert(png_image_begin_read_from_file(&pi, path));
    ck_assert_uint_eq(pi.width, W);
    ck_assert_uint_eq(pi.height, H);
    pi.format = PNG_FORMAT_RGB;
    uint8_t back[W * H * 3];
    ck_assert_uint_eq(PNG_IMAGE_SIZE(pi), sizeof back);
    ck_assert(png_image_finish_read(&pi, NULL, back, 0, NULL));
    ck_assert_mem_eq(back, rgb, sizeof rgb);
}
END_TEST

/* OURVIDZ_PNG_LEVEL: 0 stores, 9 compresses hardest; both read back to the same pixels; junk is
 * ignored (the default). */
START_TEST(compression_level)
{
    enum { W = 96, H = 64 };
    static uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * W + x) * 3 + c] = (uint8_t)(x * 2 + y * c);
    const char *levels[3] = {"0", "9", "x"};
    long size[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(setenv("OURVIDZ_PNG_LEVEL", levels[i], 1), 0);
        ck_assert_int_eq(ov_png_level(), i == 0 ? 0 : i == 1 ? 9 : OV_PNG_LEVEL_DEFAULT);
        char path[400];
        snprintf(path, sizeof path, "%s/level%d.png", g_dir, i);
        ck_assert_msg(ov_png_write(path, rgb, W, H, NULL, 0, g_err, sizeof g_err) == 0, "%s", g_err);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        size[i] = (long)st.st_size;
        ov_png_image img;
        ck_assert_msg(ov_png_read(path, &img, g_err, sizeof g_err) == 0, "%s", g_err);
        ck_assert_mem_eq(img.rgb, rgb, sizeof rgb);
        ov_png_image_free(&img);
        unlink(path); /* other tests count the folder's entries */
    }
    unsetenv("OURVIDZ_PNG_LEVEL");
    ck_assert_msg(size[0] > (long)sizeof rgb && size[1] < size[0] / 4, "sizes: level 0 %ld, level 9 %ld", size[0],
                  size[1]);
}
END_TEST

/* A test picture exercising every filter: smooth gradients, flat areas, noisy rows. */
static void test_picture(uint8_t *rgb, int w, int h)
{
    uint32_t s = 777;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                s = s * 1664525u + 1013904223u;
                int v = (y / 50) % 3 == 0   ? x / 3 + y * c
                        : (y / 50) % 3 == 1 ? 200
                                            : (int)(s >> 24);
                rgb[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] = (uint8_t)v;
            }
}

/* Undo PNG filtering (spec 9.2) of h rows of 1 + 3·w bytes into rgb: an independent check of
 * ov_png_idat's stream, apart from libpng's reader. 0, or -1 on a bad filter type. */
static int unfilter(const uint8_t *f, int w, int h, uint8_t *rgb)
{
    const size_t n = (size_t)w * 3;
    for (int y = 0; y < h; y++) {
        const uint8_t *in = f + (size_t)y * (n + 1) + 1;
        uint8_t *cur = rgb + (size_t)y * n, *prev = y ? rgb + (size_t)(y - 1) * n : NULL;
        for (size_t i = 0; i < n; i++) {
            int a = i >= 3 ? cur[i - 3] : 0, b = prev ? prev[i] : 0, c = prev && i >= 3 ? prev[i - 3] : 0, p;
            switch (f[(size_t)y * (n + 1)]) {
            case 0: p = 0; break;
            case 1: p = a; break;
            case 2: p = b; break;
            case 3: p = (a + b) / 2; break;
            case 4: {
                int e = a + b - c, pa = abs(e - a), pb = abs(e - b), pc = abs(e - c);
                p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                break;
            }
            default: return -1;
            }
            cur[i] = (uint8_t)(in[i] + p);
        }
    }
    return 0;
}

/* The multi-threaded IDAT (images of 1 MiB and more, OURVIDZ_PNG_THREADS): every band count reads
 * back to the same pixels through our reader and libpng's simplified one, keeps the text chunks,
 * and stays within 3 % of libpng's own single-threaded size; the stream itself inflates (zlib,
 * Adler-32 checked) to the same filtered rows whatever the band count, and those unfilter to the
 * picture. */
START_TEST(parallel_idat)
{
    enum { W = 700, H = 600 };
    uint8_t *rgb = malloc((size_t)W * H * 3), *back = malloc((size_t)W * H * 3);
    ck_assert(rgb && back);
    test_picture(rgb, W, H);
    ov_png_text text[1] = {{"parameters", "a cat, Steps: 25"}};
    const char *threads[] = {"1", "2", "3", "8", "32"};
    long size1 = 0;
    for (int t = 0; t < 5; t++) {
        ck_assert_int_eq(setenv("OURVIDZ_PNG_THREADS", threads[t], 1), 0);
        char path[400];
        snprintf(path, sizeof path, "%s/par%s.png", g_dir, threads[t]);
        ck_assert_msg(ov_png_write(path, rgb, W, H, text, 1, g_err, sizeof g_err) == 0, "%s", g_err);
        ov_png_image img;
        ck_assert_msg(ov_png_read(path, &img, g_err, sizeof g_err) == 0, "threads %s: %s", threads[t], g_err);
        ck_assert_int_eq(img.width, W);
        ck_assert_msg(memcmp(img.rgb, rgb, (size_t)W * H * 3) == 0, "threads %s: pixels differ", threads[t]);
        ck_assert_str_eq(ov_png_image_text(&img, "parameters"), "a cat, Steps: 25");
        ov_png_image_free(&img);
        png_image pi;
        memset(&pi, 0, sizeof pi);
        pi.version = PNG_IMAGE_VERSION;
        ck_assert(png_image_begin_read_from_file(&pi, path));
        pi.format = PNG_FORMAT_RGB;
        ck_assert(png_image_finish_read(&pi, NULL, back, 0, NULL));
        ck_assert_msg(memcmp(back, rgb, (size_t)W * H * 3) == 0, "threads %s: libpng reads other pixels",
                      threads[t]);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        if (t == 0)
            size1 = (long)st.st_size;
        else
            ck_assert_msg(labs((long)st.st_size - size1) * 100 < size1 * 3, "threads %s: %ld bytes vs %ld",
                          threads[t], (long)st.st_size, size1);
        unlink(path);
    }
    unsetenv("OURVIDZ_PNG_THREADS");

    const size_t raw = (size_t)H * (size_t)(W * 3 + 1);
    uint8_t *f1 = malloc(raw), *f5 = malloc(raw);
    ck_assert(f1 && f5);
    const int counts[2] = {1, 5};
    uint8_t *fs[2] = {f1, f5};
    for (int i = 0; i < 2; i++) {
        uint8_t *z = NULL;
        size_t zn = 0;
        ck_assert_int_eq(ov_png_idat(rgb, W, H, 3, counts[i], &z, &zn), 0);
        uLongf got = (uLongf)raw;
        ck_assert_int_eq(uncompress(fs[i], &got, z, (uLong)zn), Z_OK);
        ck_assert_uint_eq(got, raw);
        free(z);
    }
    ck_assert_msg(memcmp(f1, f5, raw) == 0, "the filtered rows depend on the band count");
    ck_assert_int_eq(unfilter(f5, W, H, back), 0);
    ck_assert_msg(memcmp(back, rgb, (size_t)W * H * 3) == 0, "unfiltered rows differ from the picture");
    /* more bands than rows, one column, every level; bad arguments */
    for (int level = 1; level <= 9; level++) {
        uint8_t *z = NULL;
        size_t zn = 0;
        ck_assert_int_eq(ov_png_idat(rgb, 1, 3, level, 8, &z, &zn), 0);
        uLongf got = 12;
        uint8_t small[12];
        ck_assert_int_eq(uncompress(small, &got, z, (uLong)zn), Z_OK);
        ck_assert_uint_eq(got, 12);
        free(z);
    }
    uint8_t *z = (uint8_t *)1;
    size_t zn = 1;
    ck_assert_int_eq(ov_png_idat(rgb, W, H, 0, 2, &z, &zn), OV_EINVAL);
    ck_assert_ptr_null(z);
    ck_assert_uint_eq(zn, 0);
    ck_assert_int_eq(ov_png_idat(NULL, W, H, 3, 2, &z, &zn), OV_EINVAL);
    ck_assert_int_eq(ov_png_idat(rgb, 0, H, 3, 2, &z, &zn), OV_EINVAL);
    free(f1);
    free(f5);
    free(rgb);
    free(back);
}
END_TEST

/* The float path end to end: write_float then read gives ov_image_to_rgb8's bytes. */
START_TEST(write_float)
{
    enum { W = 8, H = 4 };
    float chw[3 * W * H];
    for (int i = 0; i < 3 * W * H; i++)
        chw[i] = -1.1f + 2.2f * (float)i / (3 * W * H - 1);
    uint8_t want[3 * W * H];
    ck_assert_int_eq(ov_image_to_rgb8(chw, W, H, want), 0);
    ck_assert_uint_eq(want[0], 0);                     /* red of pixel 0: plane 0 starts at -1.1 */
    ck_assert_uint_eq(want[2 + 3 * (W * H - 1)], 255); /* blue of the last pixel: 1.1 */
    char path[400];
    snprintf(path, sizeof path, "%s/f.png", g_dir);
    ck_assert_int_eq(ov_png_write_float(path, chw, W, H, NULL, 0, g_err, sizeof g_err), 0);
    ov_png_image img;
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), 0);
    ck_assert_mem_eq(img.rgb, want, sizeof want);
    ck_assert_uint_eq(img.n_text, 0);
    ov_png_image_free(&img);
}
END_TEST

START_TEST(unwritable_path)
{
    uint8_t rgb[12] = {0};
    char path[400];
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", g_dir);
    ck_assert_int_eq(ov_png_write(path, rgb, 2, 2, NULL, 0, g_err, sizeof g_err), OV_EIO);
    ck_assert_msg(strstr(g_err, path) != NULL, "%s", g_err);
    /* the target is a folder: the temp file is written, the rename fails, the temp is removed */
    snprintf(path, sizeof path, "%s/taken.png", g_dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(ov_png_write(path, rgb, 2, 2, NULL, 0, g_err, sizeof g_err), OV_EIO);
    ck_assert_msg(strstr(g_err, "rename"), "%s", g_err);
    int tmp;
    ck_assert_int_eq(dir_entries(&tmp), 1);
    ck_assert(!tmp);
}
END_TEST

/* A failed write leaves the previous file whole; a second good write replaces it. */
START_TEST(atomic_replace)
{
    uint8_t a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b[12] = {9, 9, 9};
    char path[400];
    snprintf(path, sizeof path, "%s/x.png", g_dir);
    ck_assert_int_eq(ov_png_write(path, a, 2, 2, NULL, 0, g_err, sizeof g_err), 0);
    ov_png_text bad = {"two  spaces", "v"};
    ck_assert_int_eq(ov_png_write(path, b, 2, 2, &bad, 1, g_err, sizeof g_err), OV_EINVAL);
    ov_png_image img;
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), 0);
    ck_assert_mem_eq(img.rgb, a, 12);
    ov_png_image_free(&img);
    ck_assert_int_eq(ov_png_write(path, b, 2, 2, NULL, 0, g_err, sizeof g_err), 0);
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), 0);
    ck_assert_mem_eq(img.rgb, b, 12);
    ov_png_image_free(&img);
    int tmp;
    ck_assert_int_eq(dir_entries(&tmp), 1);
    ck_assert(!tmp);
}
END_TEST

START_TEST(bad_arguments)
{
    uint8_t rgb[12] = {0};
    char path[400], long_key[90];
    snprintf(path, sizeof path, "%s/x.png", g_dir);
    memset(long_key, 'k', 80);
    long_key[80] = 0;
    const char *keys[] = {"", " lead", "trail ", "a  b", long_key, "tab\there"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ov_png_text t = {keys[i], "v"};
        ck_assert_int_eq(ov_png_write(path, rgb, 2, 2, &t, 1, g_err, sizeof g_err), OV_EINVAL);
    }
    long_key[79] = 0; /* 79 is the longest legal keyword */
    ov_png_text ok = {long_key, "v"};
    ck_assert_int_eq(ov_png_write(path, rgb, 2, 2, &ok, 1, g_err, sizeof g_err), 0);
    ov_png_text nullv = {"k", NULL};
    ck_assert_int_eq(ov_png_write(path, rgb, 2, 2, &nullv, 1, g_err, sizeof g_err), OV_EINVAL);
    ck_assert_int_eq(ov_png_write(path, rgb, 0, 2, NULL, 0, g_err, sizeof g_err), OV_EINVAL);
    ck_assert_int_eq(ov_png_write(path, rgb, 2, OV_PNG_MAX_SIDE + 1, NULL, 0, g_err, sizeof g_err),
                     OV_EINVAL);
    ck_assert_int_eq(ov_png_write(path, NULL, 2, 2, NULL, 0, g_err, sizeof g_err), OV_EINVAL);
}
END_TEST

START_TEST(read_errors)
{
    ov_png_image img;
    char path[400];
    snprintf(path, sizeof path, "%s/missing.png", g_dir);
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), OV_ENOENT);
    snprintf(path, sizeof path, "%s/text.png", g_dir);
    FILE *fp = fopen(path, "wb");
    fputs("this is not a png file at all", fp);
    fclose(fp);
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), OV_EFORMAT);
    ck_assert_ptr_null(img.rgb);
    /* a real PNG cut in half */
    uint8_t rgb[64 * 64 * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t)(i * 7 + (i >> 5));
    snprintf(path, sizeof path, "%s/cut.png", g_dir);
    ck_assert_int_eq(ov_png_write(path, rgb, 64, 64, NULL, 0, g_err, sizeof g_err), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
    ck_assert_int_eq(ov_png_read(path, &img, g_err, sizeof g_err), OV_EFORMAT);
    ck_assert_ptr_null(img.rgb);
    ck_assert_uint_eq(img.n_text, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("png");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, rounding_matches_diffusers);
    tcase_add_test(tc, nonfinite_is_caught);
    tcase_add_test(tc, params_text);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, compression_level);
    tcase_add_test(tc, parallel_idat);
    tcase_add_test(tc, write_float);
    tcase_add_test(tc, unwritable_path);
    tcase_add_test(tc, atomic_replace);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, read_errors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
