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

#include "common/error.h"
#include "common/image/params.h"
#include "common/image/png.h"
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
