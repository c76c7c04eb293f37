/* Tests for common/image/resize.c: byte-exact against Pillow 13.0 (resize, box, ImageOps.pad/fit) and fit
 * geometry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "common/image/resize.h"

/* Golden data: tests/golden/image/make_resize.py (README.md there). Tolerance: none. The
 * resampler reproduces Pillow's double-precision coefficients, their 22-bit rounding and the
 * integer accumulation, so every byte must match (max |Δ| = 0 over all cases). */

#define GOLD_DIR "tests/golden/image/"

static char *gold_path(const char *name, char *buf, size_t cap)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    snprintf(buf, cap, "%s/" GOLD_DIR "%s", src ? src : ".", name);
    return buf;
}

/* Whole file, plain or gzip (zlib reads both); *len set. */
static uint8_t *load(const char *name, size_t *len)
{
    char path[1024];
    gzFile gz = gzopen(gold_path(name, path, sizeof path), "rb");
    ck_assert_msg(gz != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        int got = gzread(gz, buf + n, (unsigned)(cap - n));
        ck_assert_int_ge(got, 0);
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(gz);
    *len = n;
    return buf;
}

typedef struct src_img {
    char name[32];
    int w, h;
    size_t off;
} src_img;

static int filter_of(const char *s)
{
    if (!strcmp(s, "bilinear"))
        return OV_RESAMPLE_BILINEAR;
    if (!strcmp(s, "bicubic"))
        return OV_RESAMPLE_BICUBIC;
    ck_assert_str_eq(s, "lanczos");
    return OV_RESAMPLE_LANCZOS;
}

/* Runs every manifest line of this kind; returns the number of cases, fails on any byte. */
static int run_kind(const char *kind)
{
    size_t src_len, gold_len, man_len;
    uint8_t *srcs = load("resize_src.bin", &src_len);
    uint8_t *gold = load("resize_golden.bin.gz", &gold_len);
    char *man = (char *)load("resize_golden.txt", &man_len);
    man = realloc(man, man_len + 1);
    man[man_len] = 0;

    src_img src[8];
    int n_src = 0, n_cases = 0, bad_cases = 0, max_delta = 0;
    char *save = NULL;
    for (char *line = strtok_r(man, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char k[16], name[32], fname[16];
        if (sscanf(line, "%15s", k) != 1)
            continue;
        if (!strcmp(k, "src")) {
            ck_assert_int_lt(n_src, 8);
            src_img *s = &src[n_src++];
            ck_assert_int_eq(sscanf(line, "src %31s %d %d %zu", s->name, &s->w, &s->h, &s->off), 4);
            ck_assert_uint_le(s->off + (size_t)s->w * s->h * 3, src_len);
            continue;
        }
        if (strcmp(k, kind))
            continue;
        int w, h;
        size_t off;
        float box[4] = {0};
        int n = sscanf(line, "%*s %31s %15s %d %d %zu %f %f %f %f", name, fname, &w, &h, &off, &box[0],
                       &box[1], &box[2], &box[3]);
        ck_assert_int_ge(n, 5);
        const src_img *s = NULL;
        for (int i = 0; i < n_src; i++)
            if (!strcmp(src[i].name, name))
                s = &src[i];
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_le(off + (size_t)w * h * 3, gold_len);
        const uint8_t *in = srcs + s->off;
        uint8_t *out = malloc((size_t)w * h * 3);
        int f = filter_of(fname), rc;
        if (!strcmp(kind, "resize"))
            rc = ov_image_resize(in, s->w, s->h, out, w, h, f);
        else if (!strcmp(kind, "box")) {
            ck_assert_int_eq(n, 9);
            rc = ov_image_resize_box(in, s->w, s->h, box, out, w, h, f);
        } else
            rc = ov_image_fit(in, s->w, s->h, out, w, h,
                              !strcmp(kind, "pad") ? OV_FIT_LETTERBOX : OV_FIT_CROP, f);
        ck_assert_int_eq(rc, 0);
        int bad = 0;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            int d = abs((int)out[i] - (int)gold[off + i]);
            if (d) {
                bad++;
                if (d > max_delta)
                    max_delta = d;
            }
        }
        if (bad) {
            fprintf(stderr, "%s: %d bytes differ\n", line, bad);
            bad_cases++;
        }
        free(out);
        n_cases++;
    }
    printf("resize golden %-6s: %d cases, %d differ, max |delta| %d\n", kind, n_cases, bad_cases, max_delta);
    free(man);
    free(gold);
    free(srcs);
    ck_assert_int_eq(bad_cases, 0);
    return n_cases;
}

/* Image.resize with each filter: down by non-integer factors, up, one axis, same size, 1x1. */
START_TEST(resize_matches_pillow)
{
    ck_assert_int_eq(run_kind("resize"), 60);
}
END_TEST

/* Image.resize(..., box=fractional region): the taps still reach outside the box. */
START_TEST(box_matches_pillow)
{
    ck_assert_int_eq(run_kind("box"), 18);
}
END_TEST

/* ov_image_fit(OV_FIT_LETTERBOX) == ImageOps.pad(im, size, f, color=black). */
START_TEST(letterbox_matches_imageops_pad)
{
    ck_assert_int_eq(run_kind("pad"), 39);
}
END_TEST

/* ov_image_fit(OV_FIT_CROP) == ImageOps.fit(im, size, f). */
START_TEST(crop_matches_imageops_fit)
{
    ck_assert_int_eq(run_kind("fit"), 39);
}
END_TEST

static void fill_random(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* The letterbox rectangle: the limiting side fills the canvas, the other rounds half to even, the
 * slack splits as Python's round((d - s) / 2) (ImageOps.pad), and the bars are exact black. */
START_TEST(letterbox_geometry)
{
    int x, y, w, h;
    /* 1536x1024 into 1024x1024: 1024x683 (682.67 rounds up), slack 341 -> top 170 (170.5 to even) */
    ck_assert_int_eq(ov_image_letterbox_rect(1536, 1024, 1024, 1024, &x, &y, &w, &h), 0);
    ck_assert_int_eq(w, 1024);
    ck_assert_int_eq(h, 683);
    ck_assert_int_eq(x, 0);
    ck_assert_int_eq(y, 170);
    /* portrait phone photo 3024x4032 into 1024x576: 432x576, bars of 296 each side */
    ck_assert_int_eq(ov_image_letterbox_rect(3024, 4032, 1024, 576, &x, &y, &w, &h), 0);
    ck_assert_int_eq(w, 432);
    ck_assert_int_eq(h, 576);
    ck_assert_int_eq(x, 296);
    ck_assert_int_eq(y, 0);
    /* slack 3 -> 2 before, 1 after (round(1.5) = 2); slack 5 -> 2 (round(2.5) = 2) */
    ck_assert_int_eq(ov_image_letterbox_rect(10, 10, 13, 10, &x, &y, &w, &h), 0);
    ck_assert_int_eq(w, 10);
    ck_assert_int_eq(x, 2);
    ck_assert_int_eq(ov_image_letterbox_rect(10, 10, 15, 10, &x, &y, &w, &h), 0);
    ck_assert_int_eq(x, 2);
    /* same aspect: no bars; a scaled side that rounds to the canvas side: no bars either */
    ck_assert_int_eq(ov_image_letterbox_rect(512, 288, 1024, 576, &x, &y, &w, &h), 0);
    ck_assert(x == 0 && y == 0 && w == 1024 && h == 576);
    ck_assert_int_eq(ov_image_letterbox_rect(1000, 999, 100, 100, &x, &y, &w, &h), 0);
    ck_assert(x == 0 && y == 0 && w == 100 && h == 100);
    /* extreme aspect: at least one pixel (Pillow would give an empty image) */
    ck_assert_int_eq(ov_image_letterbox_rect(16384, 1, 64, 64, &x, &y, &w, &h), 0);
    ck_assert(w == 64 && h == 1 && y == 32);

    /* pixels: 30x20 noise into 24x24 -> 24x16 at y=4; rows 0..3 and 20..23 black */
    enum { SW = 30, SH = 20, D = 24 };
    uint8_t src[SW * SH * 3], dst[D * D * 3], scaled[24 * 16 * 3];
    fill_random(src, sizeof src, 7);
    ck_assert_int_eq(ov_image_fit(src, SW, SH, dst, D, D, OV_FIT_LETTERBOX, OV_RESAMPLE_BICUBIC), 0);
    ck_assert_int_eq(ov_image_resize(src, SW, SH, scaled, 24, 16, OV_RESAMPLE_BICUBIC), 0);
    for (int r = 0; r < D; r++)
        for (int c = 0; c < D * 3; c++) {
            uint8_t v = dst[r * D * 3 + c];
            if (r < 4 || r >= 20)
                ck_assert_int_eq(v, 0);
            else
                ck_assert_int_eq(v, scaled[(r - 4) * D * 3 + c]);
        }
}
END_TEST

/* Crop: 40x20 into 20x20 is the box (10, 0, 30, 20) at scale 1. Pillow still runs the
 * horizontal pass (box[0] != 0); at scale 1 every output sample sits on a source pixel centre
 * and all three filters are interpolating (weight 1 at 0, 0 at the other integers; Lanczos'
 * sin(k·pi) ~ 1e-16 rounds to a 0 coefficient), so the output is exactly the centre pixels and
 * nothing of the outer quarters leaks in. */
START_TEST(crop_geometry)
{
    enum { SW = 40, SH = 20, D = 20 };
    uint8_t src[SW * SH * 3], dst[D * D * 3];
    memset(src, 255, sizeof src);
    for (int r = 0; r < SH; r++)
        for (int c = 10; c < 30; c++)
            src[(r * SW + c) * 3 + 1] = (uint8_t)(r * 10 + c); /* centre 20x20 distinct */
    for (int f = OV_RESAMPLE_BILINEAR; f <= OV_RESAMPLE_LANCZOS; f++) {
        ck_assert_int_eq(ov_image_fit(src, SW, SH, dst, D, D, OV_FIT_CROP, f), 0);
        for (int r = 0; r < D; r++)
            for (int c = 0; c < D; c++) {
                ck_assert_int_eq(dst[(r * D + c) * 3 + 0], 255);
                ck_assert_int_eq(dst[(r * D + c) * 3 + 1], (uint8_t)(r * 10 + c + 10));
            }
    }
}
END_TEST

START_TEST(stretch_and_identity)
{
    enum { SW = 17, SH = 9 };
    uint8_t src[SW * SH * 3], a[40 * 9 * 3], b[40 * 9 * 3], same[SW * SH * 3];
    fill_random(src, sizeof src, 3);
    ck_assert_int_eq(ov_image_fit(src, SW, SH, a, 40, 9, OV_FIT_STRETCH, OV_RESAMPLE_LANCZOS), 0);
    ck_assert_int_eq(ov_image_resize(src, SW, SH, b, 40, 9, OV_RESAMPLE_LANCZOS), 0);
    ck_assert_mem_eq(a, b, sizeof a);
    for (int f = OV_RESAMPLE_BILINEAR; f <= OV_RESAMPLE_LANCZOS; f++) {
        ck_assert_int_eq(ov_image_resize(src, SW, SH, same, SW, SH, f), 0);
        ck_assert_mem_eq(same, src, sizeof src);
        ck_assert_int_eq(ov_image_fit(src, SW, SH, same, SW, SH, OV_FIT_LETTERBOX, f), 0);
        ck_assert_mem_eq(same, src, sizeof src);
        ck_assert_int_eq(ov_image_fit(src, SW, SH, same, SW, SH, OV_FIT_CROP, f), 0);
        ck_assert_mem_eq(same, src, sizeof src);
    }
    /* a flat colour stays flat through every filter and scale (coefficients sum to 1 after rounding
     * closely enough that 0 and 255 survive the clip) */
    uint8_t flat[SW * SH * 3], out[33 * 5 * 3];
    for (size_t i = 0; i < sizeof flat; i++)
        flat[i] = (uint8_t)(i % 3 == 0 ? 255 : i % 3 == 1 ? 0 : 77);
    for (int f = OV_RESAMPLE_BILINEAR; f <= OV_RESAMPLE_LANCZOS; f++) {
        ck_assert_int_eq(ov_image_resize(flat, SW, SH, out, 33, 5, f), 0);
        for (size_t i = 0; i < sizeof out; i++)
            ck_assert_int_eq(out[i], i % 3 == 0 ? 255 : i % 3 == 1 ? 0 : 77);
    }
}
END_TEST

START_TEST(policy_parse)
{
    int p = -1;
    char err[160];
    const char *lb[] = {NULL, "", "letterbox", "fit", "pad", "LetterBox"};
    for (size_t i = 0; i < sizeof lb / sizeof lb[0]; i++) {
        p = -1;
        ck_assert_int_eq(ov_fit_policy_parse(lb[i], &p, err, sizeof err), 0);
        ck_assert_int_eq(p, OV_FIT_LETTERBOX);
    }
    const char *cr[] = {"crop", "cover", "fill", "CROP"};
    for (size_t i = 0; i < sizeof cr / sizeof cr[0]; i++) {
        ck_assert_int_eq(ov_fit_policy_parse(cr[i], &p, err, sizeof err), 0);
        ck_assert_int_eq(p, OV_FIT_CROP);
    }
    ck_assert_int_eq(ov_fit_policy_parse("stretch", &p, err, sizeof err), 0);
    ck_assert_int_eq(p, OV_FIT_STRETCH);
    ck_assert_int_eq(ov_fit_policy_parse("resize", &p, err, sizeof err), 0);
    ck_assert_int_eq(p, OV_FIT_STRETCH);
    ck_assert_int_eq(ov_fit_policy_parse("zoom", &p, err, sizeof err), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "zoom"));
    ck_assert_ptr_nonnull(strstr(err, "letterbox"));
    ck_assert_int_eq(ov_fit_policy_parse("letterbox ", &p, NULL, 0), OV_EINVAL);
    ck_assert_str_eq(ov_fit_policy_name(OV_FIT_CROP), "crop");
    ck_assert_str_eq(ov_fit_policy_name(99), "unknown");
}
END_TEST

START_TEST(bad_arguments)
{
    uint8_t src[4 * 4 * 3] = {0}, dst[4 * 4 * 3];
    ck_assert_int_eq(ov_image_resize(NULL, 4, 4, dst, 4, 4, OV_RESAMPLE_BICUBIC), OV_EINVAL);
    ck_assert_int_eq(ov_image_resize(src, 4, 4, NULL, 4, 4, OV_RESAMPLE_BICUBIC), OV_EINVAL);
    ck_assert_int_eq(ov_image_resize(src, 0, 4, dst, 4, 4, OV_RESAMPLE_BICUBIC), OV_EINVAL);
    ck_assert_int_eq(ov_image_resize(src, 4, 4, dst, 4, -1, OV_RESAMPLE_BICUBIC), OV_EINVAL);
    ck_assert_int_eq(ov_image_resize(src, 4, 4, dst, OV_RESIZE_MAX_SIDE + 1, 1, OV_RESAMPLE_BICUBIC),
                     OV_EINVAL);
    ck_assert_int_eq(ov_image_resize(src, 4, 4, dst, 4, 4, 7), OV_EINVAL);
    float box[4] = {0, 0, 5, 4};
    ck_assert_int_eq(ov_image_resize_box(src, 4, 4, box, dst, 2, 2, OV_RESAMPLE_BILINEAR), OV_EINVAL);
    float empty[4] = {2, 0, 2, 4};
    ck_assert_int_eq(ov_image_resize_box(src, 4, 4, empty, dst, 2, 2, OV_RESAMPLE_BILINEAR), OV_EINVAL);
    float neg[4] = {-0.5f, 0, 2, 4};
    ck_assert_int_eq(ov_image_resize_box(src, 4, 4, neg, dst, 2, 2, OV_RESAMPLE_BILINEAR), OV_EINVAL);
    ck_assert_int_eq(ov_image_fit(src, 4, 4, dst, 4, 4, 9, OV_RESAMPLE_BILINEAR), OV_EINVAL);
    ck_assert_int_eq(ov_image_fit(src, 4, 4, dst, 4, 4, OV_FIT_CROP, -1), OV_EINVAL);
}
END_TEST

/* The worker's sizes: a 12 MP phone photo to 1024x1024 letterboxed with Lanczos, timed (info). */
START_TEST(large_fit_runs)
{
    enum { SW = 4032, SH = 3024 };
    uint8_t *src = malloc((size_t)SW * SH * 3), *dst = malloc(1024 * 576 * 3);
    fill_random(src, (size_t)SW * SH * 3, 11);
    for (int p = OV_FIT_LETTERBOX; p <= OV_FIT_STRETCH; p++)
        ck_assert_int_eq(ov_image_fit(src, SW, SH, dst, 1024, 576, p, OV_RESAMPLE_LANCZOS), 0);
    free(src);
    free(dst);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_resize");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, resize_matches_pillow);
    tcase_add_test(tc, box_matches_pillow);
    tcase_add_test(tc, letterbox_matches_imageops_pad);
    tcase_add_test(tc, crop_matches_imageops_fit);
    tcase_add_test(tc, letterbox_geometry);
    tcase_add_test(tc, crop_geometry);
    tcase_add_test(tc, stretch_and_identity);
    tcase_add_test(tc, policy_parse);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, large_fit_runs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
