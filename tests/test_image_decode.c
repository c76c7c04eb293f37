/* Tests for common/image/decode*.c: PNG/JPEG/WebP -> RGB8 against Pillow 13.0 (load_image semantics), bombs,
 * bad input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

#include "common/error.h"
#include "common/image/decode.h"
#include "common/image/decode_internal.h"

/* Golden data: tests/golden/image/make_decode.py (README.md there) -> decode/cases.txt. Each case
 * carries its tolerance (max |delta| per byte): 0 for PNG, lossless WebP and the animation's
 * first frame (exact: no arithmetic choices), 2 for JPEG and 3 for lossy WebP, because Pillow's
 * wheel bundles other builds of libjpeg-turbo (3.x) and libwebp (1.6) than Debian's 2.1.5 / 1.2.4
 * that we link; the achieved max |delta| is printed per case and is 0 for every case on this
 * machine today (same islow IDCT, same fancy upsampling, same VP8 reconstruction). */

#define DEC_DIR "tests/golden/image/decode/"

static char *src_path(const char *rel, char *buf, size_t cap)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    snprintf(buf, cap, "%s/%s", src ? src : ".", rel);
    return buf;
}

static uint8_t *slurp(const char *rel, size_t *len)
{
    char path[1024];
    FILE *fp = fopen(src_path(rel, path, sizeof path), "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

typedef struct dec_case {
    char name[64], file[80];
    int w, h, tol;
} dec_case;

static int load_cases(dec_case *c, int cap)
{
    size_t len;
    char *txt = (char *)slurp(DEC_DIR "cases.txt", &len);
    txt[len] = 0;
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        ck_assert_int_lt(n, cap);
        ck_assert_int_eq(
            sscanf(line, "%63s %79s %d %d %d", c[n].name, c[n].file, &c[n].w, &c[n].h, &c[n].tol), 5);
        n++;
    }
    free(txt);
    return n;
}

static uint8_t *case_bytes(const dec_case *c, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, DEC_DIR "%s", c->file);
    return slurp(rel, len);
}

/* Every golden file decodes to Pillow's pixels within its tolerance, with the right size and
 * format name (orientation 5/6/8 files come out transposed: 13x17). */
START_TEST(golden_matches_pillow)
{
    dec_case cases[64];
    int n = load_cases(cases, 64), worst_lossy = 0;
    ck_assert_int_ge(n, 26);
    for (int i = 0; i < n; i++) {
        const dec_case *c = &cases[i];
        size_t len, ref_len;
        uint8_t *data = case_bytes(c, &len);
        char rel[256];
        snprintf(rel, sizeof rel, DEC_DIR "%s.rgb", c->name);
        uint8_t *ref = slurp(rel, &ref_len);
        ck_assert_uint_eq(ref_len, (size_t)c->w * c->h * 3);
        ov_image_rgb8 img;
        const char *fmt = NULL;
        char err[OV_IMAGE_ERR_LEN];
        int rc = ov_image_decode(data, len, 0, &img, &fmt, err, sizeof err);
        ck_assert_msg(rc == 0, "%s: %s", c->name, err);
        ck_assert_msg(img.width == c->w && img.height == c->h, "%s: %dx%d, want %dx%d", c->name, img.width,
                      img.height, c->w, c->h);
        const char *ext = strrchr(c->file, '.') + 1;
        ck_assert_str_eq(fmt, !strcmp(ext, "jpg") ? "jpeg" : ext);
        int max_d = 0;
        for (size_t k = 0; k < ref_len; k++) {
            int d = abs((int)img.rgb[k] - (int)ref[k]);
            if (d > max_d)
                max_d = d;
        }
        printf("decode %-22s %2dx%-2d max |delta| %d (tolerance %d)\n", c->name, img.width, img.height, max_d,
               c->tol);
        ck_assert_msg(max_d <= c->tol, "%s: max |delta| %d > %d", c->name, max_d, c->tol);
        if (c->tol && max_d > worst_lossy)
            worst_lossy = max_d;
        ov_image_rgb8_free(&img);
        ck_assert_ptr_null(img.rgb);
        free(ref);
        free(data);
    }
    printf("decode: %d golden files, lossy max |delta| %d\n", n, worst_lossy);
}
END_TEST

static void expect_fail(const void *data, size_t len, size_t max_pixels, int want, const char *needle)
{
    ov_image_rgb8 img;
    memset(&img, 0xAB, sizeof img);
    const char *fmt = "unset";
    char err[OV_IMAGE_ERR_LEN] = "";
    int rc = ov_image_decode(data, len, max_pixels, &img, &fmt, err, sizeof err);
    ck_assert_msg(rc == want, "rc %d (%s), want %d", rc, err, want);
    ck_assert_ptr_null(img.rgb);
    ck_assert_int_eq(img.width, 0);
    ck_assert_ptr_null(fmt);
    ck_assert_msg(err[0] != 0, "no message");
    if (needle)
        ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
}

START_TEST(wrong_magic_and_empty)
{
    expect_fail("", 0, 0, OV_EFORMAT, "not a PNG, JPEG or WebP image");
    expect_fail(NULL, 0, 0, OV_EFORMAT, "not a PNG, JPEG or WebP image");
    expect_fail("GIF89a\x01\x00\x01\x00\x00\x00\x00", 13, 0, OV_EFORMAT, "not a PNG, JPEG or WebP image");
    expect_fail("BM\x3a\x00\x00\x00\x00\x00\x00\x00", 10, 0, OV_EFORMAT, "not a PNG, JPEG or WebP image");
    expect_fail("RIFF\x24\x00\x00\x00WAVEfmt ", 16, 0, OV_EFORMAT, "not a PNG, JPEG or WebP image");
    expect_fail("\x89PNG\r\n\x1a", 7, 0, OV_EFORMAT, "not a PNG"); /* 7 of the 8 magic bytes */
    expect_fail("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 41, 0, OV_EFORMAT, "not a PNG");
    /* right magic, nothing else */
    expect_fail("\x89PNG\r\n\x1a\n", 8, 0, OV_EFORMAT, "PNG");
    expect_fail("\xff\xd8\xff", 3, 0, OV_EFORMAT, "JPEG");
    expect_fail("RIFF\x04\x00\x00\x00WEBP", 12, 0, OV_EFORMAT, "WebP");
    ov_image_rgb8 img;
    ck_assert_int_eq(ov_image_decode("x", 1, 0, NULL, NULL, NULL, 0), OV_EINVAL);
    ck_assert_int_eq(ov_image_decode(NULL, 5, 0, &img, NULL, NULL, 0), OV_EINVAL);
    ov_image_rgb8_free(NULL);
}
END_TEST

/* Random bytes (with and without a valid magic in front) never decode and never crash. */
START_TEST(random_bytes)
{
    uint8_t buf[4096];
    unsigned s = 12345;
    static const char *const magic[] = {"", "\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "RIFF\x00\x10\x00\x00WEBP"};
    static const size_t magic_len[] = {0, 8, 3, 12};
    for (int m = 0; m < 4; m++) {
        for (int t = 0; t < 200; t++) {
            size_t len = 1 + (size_t)(t * 37) % sizeof buf;
            for (size_t i = 0; i < len; i++) {
                s = s * 1103515245u + 12345u;
                buf[i] = (uint8_t)(s >> 16);
            }
            if (m == 0 && (buf[0] == 0x89 || buf[0] == 0xff || buf[0] == 'R'))
                buf[0] = 0;
            if (len < magic_len[m])
                continue;
            memcpy(buf, magic[m], magic_len[m]);
            ov_image_rgb8 img;
            char err[OV_IMAGE_ERR_LEN];
            int rc = ov_image_decode(buf, len, 0, &img, NULL, err, sizeof err);
            /* random JPEG entropy data after a valid magic can never form headers; neither can
             * PNG CRCs or a RIFF/VP8 header */
            ck_assert_msg(rc < 0, "random input %d/%d decoded", m, t);
            ck_assert_ptr_null(img.rgb);
        }
    }
}
END_TEST

/* Every prefix of every golden file: no crash, no leak (ASan), and a prefix that lost at least
 * half of the file is always an error (never a silently grey or partial picture). */
START_TEST(truncated_files)
{
    dec_case cases[64];
    int n = load_cases(cases, 64);
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = case_bytes(&cases[i], &len);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any over-read */
            memcpy(copy, data, cut);
            ov_image_rgb8 img;
            char err[OV_IMAGE_ERR_LEN];
            int rc = ov_image_decode(copy, cut, 0, &img, NULL, err, sizeof err);
            if (cut <= len / 2)
                ck_assert_msg(rc == OV_EFORMAT, "%s cut at %zu/%zu: rc %d", cases[i].name, cut, len, rc);
            if (rc == 0)
                ov_image_rgb8_free(&img);
            else
                ck_assert_ptr_null(img.rgb);
            free(copy);
        }
        free(data);
    }
}
END_TEST

/* A PNG header (valid CRCs) for the given size, then one empty IDAT and IEND. */
static size_t png_header(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(buf, magic, 8);
    n = 8;
    const uint8_t ihdr[17] = {'I',
                              'H',
                              'D',
                              'R',
                              (uint8_t)(w >> 24),
                              (uint8_t)(w >> 16),
                              (uint8_t)(w >> 8),
                              (uint8_t)w,
                              (uint8_t)(h >> 24),
                              (uint8_t)(h >> 16),
                              (uint8_t)(h >> 8),
                              (uint8_t)h,
                              8,
                              2,
                              0,
                              0,
                              0};
    const uint8_t len13[4] = {0, 0, 0, 13};
    memcpy(buf + n, len13, 4);
    memcpy(buf + n + 4, ihdr, 17);
    uLong crc = crc32(0, ihdr, 17);
    buf[n + 21] = (uint8_t)(crc >> 24), buf[n + 22] = (uint8_t)(crc >> 16), buf[n + 23] = (uint8_t)(crc >> 8),
            buf[n + 24] = (uint8_t)crc;
    n += 25;
    static const uint8_t tail[24] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e,
                                     0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(buf + n, tail, sizeof tail);
    return n + sizeof tail;
}

/* Outside ASan (which reserves terabytes of shadow), cap the address space of this forked test
 * at 1 GiB: a decoder that allocated 100000x100000x3 before checking would fail loudly. */
static void cap_address_space(void)
{
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
#endif
}

START_TEST(decompression_bombs)
{
    cap_address_space();
    uint8_t buf[128];
    /* 100000x100000 (30 GB of RGB): refused from the header */
    size_t n = png_header(buf, 100000, 100000);
    expect_fail(buf, n, 0, OV_ERANGE, "16384");
    /* 16000x16000: each side fine, 256 Mpx over the default cap (Pillow's 89478485) */
    n = png_header(buf, 16000, 16000);
    expect_fail(buf, n, 0, OV_ERANGE, "89478485");
    /* a caller's cap */
    n = png_header(buf, 1024, 1024);
    expect_fail(buf, n, 1024 * 1023, OV_ERANGE, "1048576 pixels");

    /* JPEG: the golden baseline with its SOF0 patched to 60000x60000 */
    dec_case cases[64];
    int nc = load_cases(cases, 64);
    for (int i = 0; i < nc; i++) {
        if (strcmp(cases[i].name, "jpeg_baseline") != 0)
            continue;
        size_t len;
        uint8_t *j = case_bytes(&cases[i], &len);
        size_t k = 2;
        while (k + 9 < len && !(j[k] == 0xff && (j[k + 1] == 0xc0 || j[k + 1] == 0xc2)))
            k++;
        ck_assert_uint_lt(k + 9, len);
        j[k + 5] = 0xea, j[k + 6] = 0x60, j[k + 7] = 0xea, j[k + 8] = 0x60; /* height, width = 60000 */
        expect_fail(j, len, 0, OV_ERANGE, "60000x60000");
        /* and an image that fits the sides but not a small cap */
        j[k + 5] = 0x10, j[k + 6] = 0x00, j[k + 7] = 0x10, j[k + 8] = 0x00; /* 4096x4096 */
        expect_fail(j, len, 4096 * 4095, OV_ERANGE, "pixels");
        free(j);
    }
    /* WebP: an extended header announcing a 16384x16384 animated canvas and nothing else */
    static const uint8_t vp8x[30] = {'R',  'I', 'F', 'F', 22,   0,    0,  0,    'W',  'E',
                                     'B',  'P', 'V', 'P', '8',  'X',  10, 0,    0,    0,
                                     0x02, 0,   0,   0,   0xff, 0x3f, 0,  0xff, 0x3f, 0};
    ov_image_rgb8 img;
    char err[OV_IMAGE_ERR_LEN];
    int rc = ov_image_decode(vp8x, sizeof vp8x, 0, &img, NULL, err, sizeof err);
    ck_assert_msg(rc == OV_ERANGE || rc == OV_EFORMAT, "rc %d %s", rc, err);
    ck_assert_ptr_null(img.rgb);
}
END_TEST

/* The pixel cap is inclusive and max_pixels 0 means the default. */
START_TEST(max_pixels_cap)
{
    dec_case cases[64];
    int n = load_cases(cases, 64);
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = case_bytes(&cases[i], &len);
        size_t px = (size_t)cases[i].w * cases[i].h;
        ov_image_rgb8 img;
        ck_assert_int_eq(ov_image_decode(data, len, px, &img, NULL, NULL, 0), 0);
        ov_image_rgb8_free(&img);
        expect_fail(data, len, px - 1, OV_ERANGE, "pixels");
        free(data);
    }
}
END_TEST

static const uint8_t *tiff(int big, uint16_t type, uint32_t value, size_t *len)
{
    static uint8_t b[32];
    memset(b, 0, sizeof b);
    if (big) {
        memcpy(b, "MM\0*\0\0\0\x08", 8);
        b[8] = 0, b[9] = 1;                         /* one entry */
        b[10] = 0x01, b[11] = 0x12;                 /* Orientation */
        b[12] = 0, b[13] = (uint8_t)type;           /* type */
        b[14] = 0, b[15] = 0, b[16] = 0, b[17] = 1; /* count */
        if (type == 3)
            b[18] = (uint8_t)(value >> 8), b[19] = (uint8_t)value;
        else
            b[18] = (uint8_t)(value >> 24), b[19] = (uint8_t)(value >> 16), b[20] = (uint8_t)(value >> 8),
            b[21] = (uint8_t)value;
    } else {
        memcpy(b, "II*\0\x08\0\0\0", 8);
        b[8] = 1, b[9] = 0;
        b[10] = 0x12, b[11] = 0x01;
        b[12] = (uint8_t)type, b[13] = 0;
        b[14] = 1;
        b[18] = (uint8_t)value, b[19] = (uint8_t)(value >> 8), b[20] = (uint8_t)(value >> 16),
        b[21] = (uint8_t)(value >> 24);
    }
    *len = 8 + 2 + 12 + 4;
    return b;
}

START_TEST(exif_orientation_parse)
{
    size_t len;
    for (int big = 0; big < 2; big++) {
        for (uint32_t v = 1; v <= 8; v++) {
            const uint8_t *t = tiff(big, 3, v, &len);
            ck_assert_int_eq(ov_exif_orientation(t, len), (int)v);
            t = tiff(big, 4, v, &len);
            ck_assert_int_eq(ov_exif_orientation(t, len), (int)v);
        }
        const uint8_t *t = tiff(big, 3, 9, &len);
        ck_assert_int_eq(ov_exif_orientation(t, len), 1); /* out of range */
        t = tiff(big, 3, 0, &len);
        ck_assert_int_eq(ov_exif_orientation(t, len), 1);
        t = tiff(big, 2, 6, &len); /* ASCII type: ignored */
        ck_assert_int_eq(ov_exif_orientation(t, len), 1);
        t = tiff(big, 3, 6, &len);
        for (size_t cut = 0; cut < len; cut++) /* every truncation: no over-read, answer 1 */
            ck_assert_int_eq(ov_exif_orientation(t, cut), cut >= 22 ? 6 : 1);
    }
    /* "Exif\0\0" prefix (JPEG APP1) */
    uint8_t pre[40];
    const uint8_t *t = tiff(0, 3, 8, &len);
    memcpy(pre, "Exif\0\0", 6);
    memcpy(pre + 6, t, len);
    ck_assert_int_eq(ov_exif_orientation(pre, len + 6), 8);
    /* IFD offset past the end, huge entry count, bad magic, NULL */
    uint8_t bad[26];
    memcpy(bad, tiff(0, 3, 6, &len), len);
    bad[4] = 0xf0;
    ck_assert_int_eq(ov_exif_orientation(bad, len), 1);
    memcpy(bad, tiff(0, 3, 6, &len), len);
    bad[8] = 0xff, bad[9] = 0xff;
    ck_assert_int_eq(ov_exif_orientation(bad, len), 1);
    memcpy(bad, tiff(0, 3, 6, &len), len);
    bad[2] = 43;
    ck_assert_int_eq(ov_exif_orientation(bad, len), 1);
    ck_assert_int_eq(ov_exif_orientation(NULL, 10), 1);
}
END_TEST

/* A 3x2 image through every orientation, against PIL's Image.Transpose semantics written out:
 *   a b c
 *   d e f */
START_TEST(orientation_transforms)
{
    static const char *const want[9] = {NULL,       "abc/def",  "cba/fed",  "fed/cba",
                                        "def/abc",                                       /* 1..4 keep 3x2 */
                                        "ad/be/cf", "da/eb/fc", "fc/eb/da", "cf/be/ad"}; /* 5..8 become 2x3 */
    for (int o = 1; o <= 8; o++) {
        ov_image_rgb8 img = {3, 2, malloc(18)};
        const char *src = "abcdef";
        for (int i = 0; i < 6; i++)
            img.rgb[3 * i] = (uint8_t)src[i], img.rgb[3 * i + 1] = (uint8_t)i, img.rgb[3 * i + 2] = 7;
        ck_assert_int_eq(ov_image_apply_orientation(&img, o, NULL, 0), 0);
        char got[16];
        size_t k = 0;
        for (int y = 0; y < img.height; y++) {
            if (y)
                got[k++] = '/';
            for (int x = 0; x < img.width; x++)
                got[k++] = (char)img.rgb[3 * (y * img.width + x)];
        }
        got[k] = 0;
        ck_assert_msg(!strcmp(got, want[o]), "orientation %d: %s, want %s", o, got, want[o]);
        ov_image_rgb8_free(&img);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_decode");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, golden_matches_pillow);
    tcase_add_test(tc, wrong_magic_and_empty);
    tcase_add_test(tc, random_bytes);
    tcase_add_test(tc, truncated_files);
    tcase_add_test(tc, decompression_bombs);
    tcase_add_test(tc, max_pixels_cap);
    tcase_add_test(tc, exif_orientation_parse);
    tcase_add_test(tc, orientation_transforms);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
