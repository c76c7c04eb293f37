/* Tests for SDXL image-to-image (workers/sdxl/pipeline.c with init_image) on the tiny random-weight
 * model: complete runs against diffusers' StableDiffusionXLImg2ImgPipeline (golden data:
 * tests/golden/sdxl/make_img2img.py), the strength -> begin-step rule, reproducibility and batching,
 * the init image actually steering the result, bad strengths. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "support/golden_rec.h"
#include "support/sdxl_tiny.h"
#include "support/sdxl_golden_check.h"
#include "workers/sdxl/pipeline.h"

static ov_sdxl_tiny g_tiny; /* loaded once in the parent; each test forks a copy */
static ov_golden g_gold;


static void setup_once(void)
{
    ov_sdxl_tiny_setup(&g_tiny, "ov_sdxl_i2i_");
    ov_golden_load(&g_gold, "tests/golden/sdxl/img2img_golden.bin.gz");
}

static void teardown_once(void)
{
    ov_sdxl_tiny_teardown(&g_tiny);
    ov_golden_free(&g_gold);
}

static const ov_golden_rec *rec(const char *c, const char *field)
{
    return ov_golden_get(&g_gold, c, field);
}

static void gen_ok(const ov_sdxl_request *r, ov_sdxl_result *res)
{
    char err[512] = "";
    int rc = ov_sdxl_generate(g_tiny.pipe, r, NULL, NULL, res, err, sizeof err);
    ck_assert_msg(rc == 0, "generate: %d %s", rc, err);
}

/* A smooth 64×64 test picture (the golden case i0's init image). */
static const uint8_t *picture(void)
{
    return rec("i0", "init_rgb")->data;
}

static ov_sdxl_request base_req(void)
{
    ov_sdxl_request r = {.prompt = "a photo of a cat",
                         .steps = 4,
                         .cfg = 6.0,
                         .sampler = OV_SDXL_EULER,
                         .width = 64,
                         .height = 64,
                         .count = 1,
                         .seed = 1234,
                         .init_image = picture(),
                         .strength = 0.5};
    return r;
}

START_TEST(model_is_the_golden_one)
{
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(g_tiny.pipe);
    const ov_golden_rec *h = rec("model_hash", NULL);
    ck_assert_msg(strcmp(in->hash, (const char *)h->data) == 0,
                  "tiny model hash %s != golden %s: tools/mkmodel changed; rerun tests/golden/sdxl/make_img2img.py",
                  in->hash, (const char *)h->data);
}
END_TEST

/* Python's int(steps · strength) truncates; a strength that leaves no step (0 included) is clamped to
 * one. */
START_TEST(strength_picks_the_begin_step)
{
    static const struct {
        int steps;
        double strength;
        int begin;
    } t[] = {{8, 0.6, 4},  {6, 0.5, 3},  {4, 1.0, 0},   {5, 0.35, 4}, {25, 0.15, 22}, {25, 0.85, 4},
             {15, 0.05, 14}, {3, 0.9999, 1}, {1, 0.01, 0}, {10, 0.3, 7},  {150, 1.0, 0},  {10, 0.0, 9}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(ov_sdxl_img2img_begin(t[i].steps, t[i].strength) == t[i].begin, "steps %d strength %g: %d",
                      t[i].steps, t[i].strength, ov_sdxl_img2img_begin(t[i].steps, t[i].strength));
    ck_assert_int_eq(ov_sdxl_img2img_begin(10, -0.01), -1);
    ck_assert_int_eq(ov_sdxl_img2img_begin(10, 1.01), -1);
    ck_assert_int_eq(ov_sdxl_img2img_begin(10, NAN), -1);
    ck_assert_int_eq(ov_sdxl_img2img_begin(0, 0.5), -1);
}
END_TEST

/* Cases i0..i3 (Euler 8 steps strength 0.6; DPM++ 2M Karras, a 2-image 96×64 batch with a negative
 * prompt, strength 0.5; Euler strength 1.0; DPM++ 2M with one step left), from the same posterior
 * draws and noise as diffusers. Reference = diffusers in float64 (VAE encode included). Tolerances
 * as test_sdxl_pipeline's (ov_sdxl_expect_golden; torch's own float32 run of these cases stays
 * within 3.1e-5 of float64 on the latents and 5e-6 on the images, make_img2img.py prints it). */
START_TEST(runs_match_diffusers)
{
    const char *cases[] = {"i0", "i1", "i2", "i3"};
    for (size_t ci = 0; ci < 4; ci++) {
        const char *c = cases[ci];
        const int32_t *pr = rec(c, "params")->data;
        ov_sdxl_request r = base_req();
        ov_sdxl_golden_request(&g_gold, c, &r);
        r.strength = ((const float *)rec(c, "strength")->data)[0];
        r.init_image = rec(c, "init_rgb")->data;
        r.init_image_eps = rec(c, "eps")->data;
        ov_sdxl_result res;
        gen_ok(&r, &res);
        ck_assert_int_eq(res.begin_step, pr[4]);
        ck_assert_int_eq(res.steps_run, pr[0] - pr[4]);
        ck_assert_int_eq(rec(c, "latents")->shape[0], res.steps_run);
        char label[128];
        snprintf(label, sizeof label, "%s (%s %d steps strength %.2f -> begin %d, cfg %.1f %dx%d x%d, encode %.1f ms)",
                 c, ov_sdxl_sampler_name(r.sampler), r.steps, r.strength, res.begin_step, r.cfg, r.width, r.height,
                 r.count, res.t.encode_ms);
        ov_sdxl_expect_golden(label, &res, rec(c, "latents"), rec(c, "image"), rec(c, "rgb8"));
        ov_sdxl_result_free(&res);
    }
}
END_TEST

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += fabs((double)a[k] - (double)b[k]);
    return s / (double)n;
}

/* The init image steers the result: at low strength the output stays near it (the VAE round trip
 * of random weights is far from the identity, so "near" is relative: closer than the strength-1
 * run, and different init images give different outputs). */
START_TEST(init_image_steers_the_result)
{
    const size_t n = (size_t)64 * 64 * 3;
    uint8_t *flat = malloc(n);
    ck_assert_ptr_nonnull(flat);
    memset(flat, 128, n);
    ov_sdxl_request r = base_req();
    r.steps = 10;
    r.strength = 0.2;
    ov_sdxl_result lo, hi, other;
    gen_ok(&r, &lo);
    ck_assert_int_eq(lo.begin_step, 8);
    r.strength = 1.0;
    gen_ok(&r, &hi);
    r.strength = 0.2;
    r.init_image = flat;
    gen_ok(&r, &other);
    double d_lo = mean_abs_diff(lo.rgb, picture(), n), d_hi = mean_abs_diff(hi.rgb, picture(), n);
    double d_other = mean_abs_diff(lo.rgb, other.rgb, n);
    fprintf(stderr, "mean |output − init| strength 0.2: %.2f, 1.0: %.2f; two init images at 0.2 differ by %.2f\n",
            d_lo, d_hi, d_other);
    ck_assert_msg(d_lo < d_hi, "strength 0.2 (%.2f) should stay closer to the init image than 1.0 (%.2f)", d_lo,
                  d_hi);
    ck_assert_msg(d_other > 1.0, "the init image did not change the output (%.2f)", d_other);
    ov_sdxl_result_free(&lo);
    ov_sdxl_result_free(&hi);
    ov_sdxl_result_free(&other);
    free(flat);
}
END_TEST

/* Seeded draws: the same request twice gives the same bytes; a batch of 2 at seed s is the single
 * runs at s and s + 1 (each image's generator draws its posterior sample, its noise and, for
 * Euler-a, its step noise); bytes within 1 (BLAS row blocking). */
START_TEST(seeded_and_batch_equals_singles)
{
    const int samplers[] = {OV_SDXL_EULER_A, OV_SDXL_DPMPP_2M};
    const size_t n = (size_t)64 * 64 * 3;
    for (int s = 0; s < 2; s++) {
        ov_sdxl_request r = base_req();
        r.sampler = samplers[s];
        r.steps = 4;
        r.count = 2;
        r.seed = 91;
        ov_sdxl_result b1, b2;
        gen_ok(&r, &b1);
        gen_ok(&r, &b2);
        ck_assert(memcmp(b1.rgb, b2.rgb, 2 * n) == 0);
        ck_assert(memcmp(b1.rgb, b1.rgb + n, n) != 0);
        for (int i = 0; i < 2; i++) {
            ov_sdxl_request r1 = r;
            r1.count = 1;
            r1.seed = 91 + (uint64_t)i;
            ov_sdxl_result one;
            gen_ok(&r1, &one);
            for (size_t k = 0; k < n; k++) {
                int d = abs((int)one.rgb[k] - (int)b1.rgb[(size_t)i * n + k]);
                ck_assert_msg(d <= 1, "%s image %d byte %zu: %d vs %d", ov_sdxl_sampler_name(r.sampler), i, k,
                              one.rgb[k], b1.rgb[(size_t)i * n + k]);
            }
            ov_sdxl_result_free(&one);
        }
        ov_sdxl_result_free(&b1);
        ov_sdxl_result_free(&b2);
    }
}
END_TEST

/* A budget that holds one image's UNet batch but not three: image-to-image splits into sub-batches
 * like text-to-image (the init image is encoded once, before the first), same pictures within 1. */
START_TEST(budget_splits_into_sub_batches)
{
    ov_sdxl_pipeline *p = ov_sdxl_tiny_load_tight(&g_tiny, 128, NULL);
    char err[512];
    static uint8_t pic[128 * 128 * 3];
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++) {
            pic[(y * 128 + x) * 3] = (uint8_t)(2 * x);
            pic[(y * 128 + x) * 3 + 1] = (uint8_t)(2 * y);
            pic[(y * 128 + x) * 3 + 2] = (uint8_t)(x ^ y);
        }
    ov_sdxl_request r = base_req();
    r.width = r.height = 128;
    r.count = 3;
    r.steps = 2;
    r.init_image = pic;
    ov_sdxl_result split, whole;
    int rc = ov_sdxl_generate(p, &r, NULL, NULL, &split, err, sizeof err);
    ck_assert_msg(rc == 0, "split run: %d %s", rc, err);
    gen_ok(&r, &whole);
    ck_assert_int_eq(whole.sub_batches, 1);
    ck_assert_int_ge(split.sub_batches, 2);
    ck_assert_int_eq(split.steps_run, 1);
    const size_t n = sizeof pic * 3;
    for (size_t k = 0; k < n; k++)
        ck_assert_int_le(abs((int)split.rgb[k] - (int)whole.rgb[k]), 1);
    fprintf(stderr, "image-to-image under a budget: %d sub-batches of %d, arena %zu KiB\n", split.sub_batches,
            split.batch_images, split.arena_bytes >> 10);
    ov_sdxl_result_free(&split);
    ov_sdxl_result_free(&whole);
    ov_sdxl_pipeline_free(p);
}
END_TEST

typedef struct phases {
    int text, encode, denoise_last, denoise_total, decode;
} phases;

static int on_progress(void *ud, const char *phase, int64_t step, int64_t total)
{
    phases *p = ud;
    if (strcmp(phase, "text") == 0)
        p->text++;
    else if (strcmp(phase, "encode") == 0)
        p->encode++;
    else if (strcmp(phase, "denoise") == 0) {
        p->denoise_last = (int)step;
        p->denoise_total = (int)total;
    } else if (strcmp(phase, "decode") == 0)
        p->decode++;
    return 0;
}

/* Progress says "encode" and counts only the steps that run. */
START_TEST(progress_counts_the_steps_run)
{
    ov_sdxl_request r = base_req();
    r.steps = 10;
    r.strength = 0.3;
    phases ph = {0};
    ov_sdxl_result res;
    char err[256] = "";
    ck_assert_int_eq(ov_sdxl_generate(g_tiny.pipe, &r, on_progress, &ph, &res, err, sizeof err), 0);
    ck_assert_int_eq(ph.encode, 2);
    ck_assert_int_eq(ph.denoise_total, 3);
    ck_assert_int_eq(ph.denoise_last, 3);
    ck_assert_int_eq(res.steps_run, 3);
    ck_assert(res.t.encode_ms > 0);
    ov_sdxl_result_free(&res);
    /* text-to-image: no encode phase, all steps */
    r.init_image = NULL;
    memset(&ph, 0, sizeof ph);
    ck_assert_int_eq(ov_sdxl_generate(g_tiny.pipe, &r, on_progress, &ph, &res, err, sizeof err), 0);
    ck_assert_int_eq(ph.encode, 0);
    ck_assert_int_eq(ph.denoise_total, 10);
    ck_assert_int_eq(res.begin_step, 0);
    ov_sdxl_result_free(&res);
}
END_TEST

START_TEST(bad_strength_is_a_clear_error)
{
    const double bad[] = {-0.001, -0.5, 1.5, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ov_sdxl_request r = base_req();
        r.strength = bad[i];
        ov_sdxl_result res;
        char err[256] = "";
        int rc = ov_sdxl_generate(g_tiny.pipe, &r, NULL, NULL, &res, err, sizeof err);
        ck_assert_int_eq(rc, OV_EINVAL);
        ck_assert_msg(strstr(err, "denoise strength") != NULL, "%s", err);
        ck_assert_ptr_null(res.rgb);
    }
    /* strength is ignored without an init image */
    ov_sdxl_request r = base_req();
    r.init_image = NULL;
    r.strength = 7.0;
    r.steps = 1;
    ov_sdxl_result res;
    gen_ok(&r, &res);
    ov_sdxl_result_free(&res);
}
END_TEST

int main(void)
{
    setup_once();
    Suite *s = suite_create("sdxl_img2img");
    TCase *tc = tcase_create("img2img");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_is_the_golden_one);
    tcase_add_test(tc, strength_picks_the_begin_step);
    tcase_add_test(tc, runs_match_diffusers);
    tcase_add_test(tc, init_image_steers_the_result);
    tcase_add_test(tc, seeded_and_batch_equals_singles);
    tcase_add_test(tc, progress_counts_the_steps_run);
    tcase_add_test(tc, budget_splits_into_sub_batches);
    tcase_add_test(tc, bad_strength_is_a_clear_error);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown_once();
    return failed ? 1 : 0;
}
