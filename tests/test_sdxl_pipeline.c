/* Tests for the SDXL pipeline (workers/sdxl/pipeline.c) on the tiny random-weight model
 * (ourvidz-mkmodel sdxl --preset tiny): complete runs against diffusers' StableDiffusionXLPipeline
 * (golden data: tests/golden/sdxl/make_pipeline.py), reproducibility, batching, budgets, bad
 * inputs, NaN detection, cancellation, images handed on as they are decoded (on_image, the PNG
 * batch). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mk.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "support/golden_rec.h"
#include "support/sdxl_tiny.h"
#include "support/sdxl_golden_check.h"
#include "common/image/png.h"
#include "workers/sdxl/pipeline.h"
#include "workers/sdxl/png_out.h"
#include "workers/sdxl/warmup.h"

static ov_sdxl_tiny g_tiny; /* loaded once in the parent; each test forks a copy */


static ov_golden g_gold;

static const ov_golden_rec *rec(const char *case_name, const char *field)
{
    return ov_golden_get(&g_gold, case_name, field);
}

static void setup_once(void)
{
    ov_sdxl_tiny_setup(&g_tiny, "ov_sdxl_pipe_");
    ov_golden_load(&g_gold, "tests/golden/sdxl/pipeline_golden.bin.gz");
}

static void teardown_once(void)
{
    ov_sdxl_tiny_teardown(&g_tiny);
    ov_golden_free(&g_gold);
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
                         .seed = 1234};
    return r;
}

static void gen_ok(ov_sdxl_pipeline *p, const ov_sdxl_request *r, ov_sdxl_result *res)
{
    char err[512] = "";
    int rc = ov_sdxl_generate(p, r, NULL, NULL, res, err, sizeof err);
    ck_assert_msg(rc == 0, "generate: %d %s", rc, err);
}

/* ---- diffusers comparison ---- */

/* The tiny model the test made is the one the golden data was made from (same mkmodel preset and
 * seed): its header hash must match, else the golden data needs regenerating. */
START_TEST(model_is_the_golden_one)
{
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(g_tiny.pipe);
    const ov_golden_rec *h = rec("model_hash", NULL);
    ck_assert_msg(
        strcmp(in->hash, (const char *)h->data) == 0,
        "tiny model hash %s != golden %s: tools/mkmodel changed; rerun tests/golden/sdxl/make_pipeline.py",
        in->hash, (const char *)h->data);
    ck_assert_int_eq(in->vae_factor, 8);
    ck_assert_int_eq(in->latent_align, 32);
    ck_assert_ptr_nonnull(strstr(in->model_id, "model.safetensors@"));
}
END_TEST

/* Cases c0..c3 (Euler 4 steps CFG 6 with the empty negative as zeros; a 2-image batch at 96×64
 * with a negative prompt, CFG 7.5; DPM++ 2M Karras; CFG 1 = no guidance), from the same initial
 * noise as diffusers. Reference = diffusers in float64. Tolerances, set from what torch's own
 * float32 run of the same pipeline reaches (make_pipeline.py prints it: final latents within
 * 4e-5..1.2e-4 of float64, |x| up to ~30; images within 6e-6): final latents
 * |Δ| <= 1e-3 + 1e-4·|ref|; images (in [0, 1]) |Δ| <= 2e-4; RGB8 bytes within 1 of diffusers'
 * float32 run's bytes, at least 99% exactly equal. */
START_TEST(runs_match_diffusers)
{
    const char *cases[] = {"c0", "c1", "c2", "c3"};
    for (size_t ci = 0; ci < 4; ci++) {
        const char *c = cases[ci];
        ov_sdxl_request r = base_req();
        ov_sdxl_golden_request(&g_gold, c, &r);
        ov_sdxl_result res;
        gen_ok(g_tiny.pipe, &r, &res);
        char label[96];
        snprintf(label, sizeof label, "%s (%s %d steps cfg %.1f %dx%d x%d)", c, ov_sdxl_sampler_name(r.sampler),
                 r.steps, r.cfg, r.width, r.height, r.count);
        ov_sdxl_expect_golden(label, &res, rec(c, "latents"), rec(c, "image"), rec(c, "rgb8"));
        ck_assert_int_eq(res.sub_batches, 1);
        ck_assert_int_eq(res.batch_images, r.count);
        ov_sdxl_result_free(&res);
    }
}
END_TEST

/* ---- reproducibility and batching ---- */

START_TEST(same_seed_same_bytes)
{
    const int samplers[] = {OV_SDXL_EULER_A, OV_SDXL_DPMPP_2M};
    for (int s = 0; s < 2; s++) {
        ov_sdxl_request r = base_req();
        r.sampler = samplers[s];
        r.steps = 2;
        ov_sdxl_result a, b, c;
        gen_ok(g_tiny.pipe, &r, &a);
        gen_ok(g_tiny.pipe, &r, &b);
        r.seed++;
        gen_ok(g_tiny.pipe, &r, &c);
        size_t n = (size_t)64 * 64 * 3;
        ck_assert_msg(memcmp(a.rgb, b.rgb, n) == 0, "%s: same seed, different bytes",
                      ov_sdxl_sampler_name(r.sampler));
        ck_assert_msg(memcmp(a.rgb, c.rgb, n) != 0, "%s: other seed, same bytes",
                      ov_sdxl_sampler_name(r.sampler));
        ck_assert_uint_eq(a.seeds[0], 1234);
        ov_sdxl_result_free(&a);
        ov_sdxl_result_free(&b);
        ov_sdxl_result_free(&c);
    }
}
END_TEST

/* A batch of 3 (seed s) is the three single runs with seeds s, s+1, s+2: each image has its own
 * generator (initial and, for Euler-a, per-step noise). The CPU UNet's per-sample results do not
 * depend on the batch size here (BLAS row blocking aside), so bytes are compared with a
 * tolerance of 1 and the exact-equality count is printed. */
START_TEST(batch_equals_single_runs)
{
    const int samplers[] = {OV_SDXL_EULER_A, OV_SDXL_DPMPP_2M_KARRAS};
    for (int s = 0; s < 2; s++) {
        ov_sdxl_request r = base_req();
        r.sampler = samplers[s];
        r.steps = 2;
        r.count = 3;
        r.seed = 77;
        ov_sdxl_result batch;
        gen_ok(g_tiny.pipe, &r, &batch);
        ck_assert_int_eq(batch.sub_batches, 1);
        size_t n = (size_t)64 * 64 * 3, equal = 0;
        for (int i = 0; i < 3; i++) {
            ov_sdxl_request r1 = r;
            r1.count = 1;
            r1.seed = 77 + (uint64_t)i;
            ov_sdxl_result one;
            gen_ok(g_tiny.pipe, &r1, &one);
            ck_assert_uint_eq(batch.seeds[i], 77 + (uint64_t)i);
            for (size_t k = 0; k < n; k++) {
                int d = abs((int)one.rgb[k] - (int)batch.rgb[(size_t)i * n + k]);
                ck_assert_msg(d <= 1, "%s image %d byte %zu: %d vs %d", ov_sdxl_sampler_name(r.sampler), i, k,
                              one.rgb[k], batch.rgb[(size_t)i * n + k]);
                equal += d == 0;
            }
            if (i > 0)
                ck_assert(memcmp(batch.rgb, batch.rgb + (size_t)i * n, n) != 0);
            ov_sdxl_result_free(&one);
        }
        fprintf(stderr, "%s: batch of 3 vs single runs: %zu of %zu bytes identical\n",
                ov_sdxl_sampler_name(r.sampler), equal, 3 * n);
        ov_sdxl_result_free(&batch);
    }
}
END_TEST

/* A budget that leaves room for one image's CFG batch but not three splits the request into
 * sub-batches; the images are the unsplit run's. */
START_TEST(budget_splits_into_sub_batches)
{
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(g_tiny.pipe);
    size_t one = ov_sdxl_pipeline_arena_bytes(g_tiny.pipe, 1, 1, 128, 128, 77);
    size_t three = ov_sdxl_pipeline_arena_bytes(g_tiny.pipe, 3, 1, 128, 128, 77);
    ck_assert_uint_gt(three, one);
    ov_sdxl_load_opts o = {.model_path = g_tiny.model, .weight_dtype = -1};
    ov_sdxl_pipeline *p = ov_sdxl_tiny_load_tight(&g_tiny, 128, &o.budget_bytes);
    char err[512];
    ov_sdxl_request r = base_req();
    r.width = r.height = 128;
    r.count = 3;
    r.steps = 1;
    ov_sdxl_result split, whole;
    gen_ok(p, &r, &split);
    gen_ok(g_tiny.pipe, &r, &whole);
    size_t est = ov_sdxl_pipeline_unet_bytes(g_tiny.pipe, 6, 16, 16, 77);
    fprintf(stderr,
            "budget %zu MiB: %d sub-batches of %d; arena %zu KiB, peak %zu KiB; unsplit: arena %zu KiB, "
            "UNet-phase "
            "peak %zu KiB vs the UNet estimate %zu KiB\n",
            o.budget_bytes >> 20, split.sub_batches, split.batch_images, split.arena_bytes >> 10,
            split.arena_peak_bytes >> 10, whole.arena_bytes >> 10, whole.unet_peak_bytes >> 10, est >> 10);
    /* the estimate covers what the UNet batch really took (batch tensors are < 1 MiB here) */
    ck_assert_uint_le(whole.unet_peak_bytes, est + ((size_t)1 << 20));
    ck_assert_int_eq(whole.sub_batches, 1);
    ck_assert_int_ge(split.sub_batches, 2);
    size_t n = (size_t)128 * 128 * 3 * 3;
    for (size_t k = 0; k < n; k++)
        ck_assert_int_le(abs((int)split.rgb[k] - (int)whole.rgb[k]), 1);
    ov_sdxl_result_free(&split);
    ov_sdxl_result_free(&whole);
    /* a budget too small for one image: a clear error, no crash */
    ov_sdxl_pipeline_free(p);
    o.budget_bytes = (size_t)in->weight_bytes + one / 4;
    ck_assert_msg(ov_sdxl_pipeline_load(&o, &p, err, sizeof err) == 0, "%s", err);
    ov_sdxl_result res;
    int rc = ov_sdxl_generate(p, &r, NULL, NULL, &res, err, sizeof err);
    ck_assert_int_eq(rc, OV_EBUDGET);
    ck_assert_msg(strstr(err, "budget") != NULL, "%s", err);
    ck_assert_ptr_null(res.rgb);
    ov_sdxl_pipeline_free(p);
}
END_TEST

/* ---- inputs ---- */

enum { F_STEPS, F_CFG, F_WIDTH, F_HEIGHT, F_COUNT, F_SAMPLER, F_PROMPT };

static void apply_field(ov_sdxl_request *q, int field, double v)
{
    switch (field) {
    case F_STEPS: q->steps = (int)v; break;
    case F_CFG: q->cfg = v; break;
    case F_WIDTH: q->width = (int)v; break;
    case F_HEIGHT: q->height = (int)v; break;
    case F_COUNT: q->count = (int)v; break;
    case F_SAMPLER: q->sampler = (int)v; break;
    case F_PROMPT: q->prompt = NULL; break;
    default: break;
    }
}

START_TEST(bad_inputs_are_clear_errors)
{
    const struct {
        const char *what;
        int field;
        double v;
        const char *needle;
    } cases[] = {
        {"steps 0", F_STEPS, 0, "steps"},
        {"steps 151", F_STEPS, 151, "steps"},
        {"cfg 0", F_CFG, 0, "cfg"},
        {"cfg -2", F_CFG, -2, "cfg"},
        {"cfg 31", F_CFG, 31, "cfg"},
        {"cfg NaN", F_CFG, NAN, "cfg"},
        {"width 100", F_WIDTH, 100, "multiple of 8"},
        {"height 72", F_HEIGHT, 72, "multiple of 32"},
        {"width 2080", F_WIDTH, 2080, "width"},
        {"height 0", F_HEIGHT, 0, "height"},
        {"count 0", F_COUNT, 0, "count"},
        {"count 7", F_COUNT, 7, "count"},
        {"sampler 9", F_SAMPLER, 9, "sampler"},
        {"prompt NULL", F_PROMPT, 0, "prompt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ov_sdxl_request r = base_req();
        apply_field(&r, cases[i].field, cases[i].v);
        ov_sdxl_result res;
        char err[512] = "";
        int rc = ov_sdxl_generate(g_tiny.pipe, &r, NULL, NULL, &res, err, sizeof err);
        ck_assert_msg(rc == OV_EINVAL, "%s: rc %d", cases[i].what, rc);
        ck_assert_msg(strstr(err, cases[i].needle) != NULL, "%s: message '%s'", cases[i].what, err);
        ck_assert_ptr_null(res.rgb);
    }
    int k;
    char err[256];
    ck_assert_int_eq(ov_sdxl_sampler_parse("unipc", &k, err, sizeof err), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown sampler"));
}
END_TEST

/* Empty prompt (encoded as ""), malformed emphasis with emphasis parsing on, a 2,000-token
 * prompt (refused: over 8 windows), a long positive with a short negative (the negative is padded
 * with the encoding of "" to the same length, A1111's rule). */
START_TEST(prompt_edge_cases)
{
    ov_sdxl_request r = base_req();
    r.steps = 1;
    ov_sdxl_result res;
    r.prompt = "";
    gen_ok(g_tiny.pipe, &r, &res);
    ov_sdxl_result_free(&res);
    r.prompt = "((a:";
    r.emphasis = 1;
    gen_ok(g_tiny.pipe, &r, &res);
    ov_sdxl_result_free(&res);
    r.prompt = "(cat:1.4), [dog], ((masterpiece)), (broken:abc";
    r.negative_prompt = "(blurry:1.2)";
    gen_ok(g_tiny.pipe, &r, &res);
    ov_sdxl_result_free(&res);
    r.emphasis = 0;

    static char huge[20000];
    size_t n = 0;
    for (int i = 0; i < 2000 && n + 8 < sizeof huge; i++)
        n += (size_t)snprintf(huge + n, sizeof huge - n, "cat%d ", i % 10);
    r.prompt = huge;
    r.negative_prompt = NULL;
    char err[512] = "";
    int rc = ov_sdxl_generate(g_tiny.pipe, &r, NULL, NULL, &res, err, sizeof err);
    ck_assert_int_eq(rc, OV_EINVAL);
    ck_assert_msg(strstr(err, "prompt too long") != NULL, "%s", err);

    /* about 150 tokens (2 windows) against a 1-window negative */
    n = 0;
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(huge + n, sizeof huge - n, "red cat, ");
    r.prompt = huge;
    r.negative_prompt = "blurry";
    gen_ok(g_tiny.pipe, &r, &res);
    ov_sdxl_result_free(&res);
    r.prompt = "cat";
    r.negative_prompt = huge;
    gen_ok(g_tiny.pipe, &r, &res);
    ov_sdxl_result_free(&res);
}
END_TEST

/* ---- failures ---- */

/* A checkpoint with one NaN weight: in the UNet the job fails at the first step, in the VAE at
 * decode; either way OV_ERANGE with a message, never an image. */
static void write_poisoned(const char *path, const char *tensor)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    ck_assert_int_eq(ov_mk_sdxl_unet(&l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_te1(&l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_te2(&l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_vae(&l, "tiny"), 0);
    int found = 0;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].name, tensor) == 0) {
            l.v[i].init = OV_MK_CONST;
            l.v[i].mean = NAN;
            found = 1;
        }
    ck_assert_msg(found, "%s not in the tiny lists", tensor);
    char err[256] = "";
    ck_assert_msg(ov_mk_write_safetensors(&l, path, OV_DTYPE_F32, 42, NULL, 0, err, sizeof err) == 0, "%s",
                  err);
    ov_mk_list_free(&l);
}

START_TEST(nan_weights_fail_the_job)
{
    const char *tensors[] = {"model.diffusion_model.out.2.bias", "first_stage_model.decoder.conv_out.bias"};
    const char *needles[] = {"UNet produced NaN", "VAE produced NaN"};
    for (int i = 0; i < 2; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/nan%d.safetensors", g_tiny.dir, i);
        write_poisoned(path, tensors[i]);
        ov_sdxl_load_opts o = {.model_path = path, .weight_dtype = -1};
        ov_sdxl_pipeline *p = NULL;
        char err[512];
        ck_assert_msg(ov_sdxl_pipeline_load(&o, &p, err, sizeof err) == 0, "%s", err);
        ov_sdxl_request r = base_req();
        r.steps = 2;
        r.count = 3;
        ov_sdxl_result res;
        int rc = ov_sdxl_generate(p, &r, NULL, NULL, &res, err, sizeof err);
        ck_assert_int_eq(rc, OV_ERANGE);
        ck_assert_msg(strstr(err, needles[i]) != NULL, "%s", err);
        ck_assert_ptr_null(res.rgb);
        ov_sdxl_pipeline_free(p);
        unlink(path);
    }
}
END_TEST

static int cancel_at(void *ud, const char *phase, int64_t step, int64_t total)
{
    (void)total;
    int64_t *n = ud;
    (*n)++;
    return strcmp(phase, "denoise") == 0 && step == 2;
}

START_TEST(cancel_stops_the_run)
{
    ov_sdxl_request r = base_req();
    r.steps = 10;
    ov_sdxl_result res;
    int64_t calls = 0;
    char err[256];
    int rc = ov_sdxl_generate(g_tiny.pipe, &r, cancel_at, &calls, &res, err, sizeof err);
    ck_assert_int_eq(rc, OV_ECANCELED);
    ck_assert_ptr_null(res.rgb);
    ck_assert_int_le(calls, 5); /* text 0/1, text 1/1, denoise 1, denoise 2 */
}
END_TEST

/* ---- on_image: each image handed on once, in order, final, while the job runs ---- */

typedef struct seen {
    int calls, order_ok, fail_at;
    uint8_t *copy; /* count images, copied in the callback */
    size_t plane;
} seen;

static int record_image(void *ud, const ov_sdxl_result *res, int idx)
{
    seen *s = ud;
    if (idx != s->calls)
        s->order_ok = 0;
    s->calls++;
    if (idx == s->fail_at)
        return OV_EIO;
    memcpy(s->copy + (size_t)idx * s->plane, res->rgb + (size_t)idx * s->plane, s->plane);
    return 0;
}

START_TEST(on_image_hands_on_each_final_image)
{
    ov_sdxl_request r = base_req();
    r.steps = 2;
    r.count = 3;
    seen s = {.order_ok = 1, .fail_at = -1, .plane = (size_t)64 * 64 * 3};
    s.copy = calloc(3, s.plane);
    ck_assert_ptr_nonnull(s.copy);
    r.on_image = record_image;
    r.on_image_ud = &s;
    ov_sdxl_result res;
    gen_ok(g_tiny.pipe, &r, &res);
    ck_assert_int_eq(s.calls, 3);
    ck_assert_msg(s.order_ok, "on_image out of image order");
    ck_assert_msg(memcmp(s.copy, res.rgb, 3 * s.plane) == 0, "an image changed after on_image saw it");
    /* the same bytes without a consumer */
    ov_sdxl_result plain;
    r.on_image = NULL;
    gen_ok(g_tiny.pipe, &r, &plain);
    ck_assert_msg(memcmp(plain.rgb, res.rgb, 3 * s.plane) == 0, "on_image changed the images");
    ov_sdxl_result_free(&plain);
    ov_sdxl_result_free(&res);

    /* a consumer failing on image 2 fails the job with its code, no result, no later call */
    s = (seen){.order_ok = 1, .fail_at = 1, .plane = s.plane, .copy = s.copy};
    r.on_image = record_image;
    char err[512] = "";
    int rc = ov_sdxl_generate(g_tiny.pipe, &r, NULL, NULL, &res, err, sizeof err);
    ck_assert_int_eq(rc, OV_EIO);
    ck_assert_msg(strstr(err, "image 2 could not be handed on") != NULL, "%s", err);
    ck_assert_ptr_null(res.rgb);
    ck_assert_int_eq(s.calls, 2);
    free(s.copy);
}
END_TEST

/* The PNG batch: images added as they come (any order) and the rest written at close are the same
 * files ov_sdxl_write_png makes; a second add of one image, or one past the end, is refused. */
START_TEST(png_batch_writes_what_write_png_writes)
{
    ov_sdxl_request r = base_req();
    r.steps = 2;
    r.count = 3;
    ov_sdxl_result res;
    gen_ok(g_tiny.pipe, &r, &res);
    const ov_sdxl_model_info *info = ov_sdxl_pipeline_info(g_tiny.pipe);
    char paths[3][600], ref[3][600];
    const char *pp[3];
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/batch_%d.png", g_tiny.dir, i);
        snprintf(ref[i], sizeof ref[i], "%s/ref_%d.png", g_tiny.dir, i);
        pp[i] = paths[i];
        char err[256];
        ck_assert_int_eq(ov_sdxl_write_png(ref[i], &res, i, &r, info, err, sizeof err), 0);
    }
    ov_sdxl_png_batch *b = NULL;
    ck_assert_int_eq(ov_sdxl_png_batch_open(&b, pp, 3, &r, info), 0);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 2), 0);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 2), OV_EINVAL);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 3), OV_EINVAL);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 0), 0);
    int bad = 7;
    char err[256] = "";
    ck_assert_msg(ov_sdxl_png_batch_close(b, &res, &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bad, -1);
    for (int i = 0; i < 3; i++) {
        ov_png_image a, c;
        ck_assert_int_eq(ov_png_read(paths[i], &a, err, sizeof err), 0);
        ck_assert_int_eq(ov_png_read(ref[i], &c, err, sizeof err), 0);
        ck_assert_int_eq(a.width, 64);
        ck_assert_msg(memcmp(a.rgb, c.rgb, (size_t)64 * 64 * 3) == 0, "image %d pixels differ", i);
        ck_assert_str_eq(ov_png_image_text(&a, "parameters"), ov_png_image_text(&c, "parameters"));
        ov_png_image_free(&a);
        ov_png_image_free(&c);
        unlink(paths[i]);
        unlink(ref[i]);
    }
    /* a failed job: close without a result only waits for what was started */
    ck_assert_int_eq(ov_sdxl_png_batch_open(&b, pp, 3, &r, info), 0);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 1), 0);
    ck_assert_int_eq(ov_sdxl_png_batch_close(b, NULL, NULL, NULL, 0), 0);
    ck_assert_int_eq(access(paths[1], F_OK), 0);
    ck_assert_int_ne(access(paths[0], F_OK), 0);
    unlink(paths[1]);
    /* an encode that fails names its image */
    char badpath[700];
    snprintf(badpath, sizeof badpath, "%s/no/such/dir/x.png", g_tiny.dir);
    pp[1] = badpath;
    ck_assert_int_eq(ov_sdxl_png_batch_open(&b, pp, 3, &r, info), 0);
    ck_assert_int_eq(ov_sdxl_png_batch_add(b, &res, 1), 0);
    ck_assert_int_ne(ov_sdxl_png_batch_close(b, &res, &bad, err, sizeof err), 0);
    ck_assert_int_eq(bad, 1);
    ck_assert_msg(err[0] != '\0', "no message");
    unlink(paths[0]);
    unlink(paths[2]);
    ov_sdxl_result_free(&res);
}
END_TEST

/* ---- warm-up plans ---- */

START_TEST(warmup_specs_parse_or_name_the_bad_part)
{
    ov_sdxl_warmup_plan w;
    char err[256];
    ck_assert_int_eq(ov_sdxl_warmup_parse(OV_SDXL_WARMUP_DEFAULT, &w, err, sizeof err), 0);
    ck_assert_int_eq(w.n, 3);
    ck_assert_int_eq(w.counts[0], 1);
    ck_assert_int_eq(w.counts[1], 3);
    ck_assert_int_eq(w.counts[2], 6);
    ck_assert_int_eq(w.img2img, 1);
    ck_assert_int_eq(w.width, 1024);
    ck_assert_int_eq(w.height, 1024);
    ck_assert_int_eq(ov_sdxl_warmup_parse("2@96x64", &w, err, sizeof err), 0);
    ck_assert_int_eq(w.n, 1);
    ck_assert_int_eq(w.img2img, 0);
    ck_assert_int_eq(w.width, 96);
    ck_assert_int_eq(w.height, 64);
    const char *off[] = {NULL, "", "off", "0"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(ov_sdxl_warmup_parse(off[i], &w, err, sizeof err), 0);
        ck_assert_int_eq(w.n + w.img2img, 0);
    }
    const char *bad[] = {"7", "1,,3", "x", "1@1024", "1@1000x1024x", "1@100x64", "1@4096x64", "i2j", "@64x64",
                         "1,1,1,1,1,1,1,1,1", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(ov_sdxl_warmup_parse(bad[i], &w, err, sizeof err) == OV_EINVAL, "\"%s\" accepted", bad[i]);
        ck_assert_msg(strstr(err, "warm-up spec") != NULL, "\"%s\": %s", bad[i], err);
    }
}
END_TEST

/* A plan runs every entry (image-to-image last) and leaves the pipeline serving the same bytes. */
START_TEST(warmup_runs_every_entry)
{
    ov_sdxl_request r = base_req();
    r.steps = 2;
    ov_sdxl_result before, after;
    gen_ok(g_tiny.pipe, &r, &before);
    ov_sdxl_warmup_plan w;
    char err[512] = "";
    ck_assert_int_eq(ov_sdxl_warmup_parse("1,2,i2i@64x64", &w, err, sizeof err), 0);
    double ms[OV_SDXL_WARMUP_MAX + 1];
    int n = 0;
    ck_assert_msg(ov_sdxl_warmup_run(g_tiny.pipe, &w, ms, &n, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(n, 3);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ms[i] > 0.0, "run %d: %g ms", i, ms[i]);
    gen_ok(g_tiny.pipe, &r, &after);
    ck_assert_msg(memcmp(before.rgb, after.rgb, (size_t)64 * 64 * 3) == 0, "the warm-up changed a later job");
    ov_sdxl_result_free(&before);
    ov_sdxl_result_free(&after);
    /* a size the model cannot take: the run's own error */
    ck_assert_int_eq(ov_sdxl_warmup_parse("1@72x64", &w, err, sizeof err), 0);
    ck_assert_int_eq(ov_sdxl_warmup_run(g_tiny.pipe, &w, ms, &n, err, sizeof err), OV_EINVAL);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(load_errors_name_the_problem)
{
    ov_sdxl_pipeline *p = NULL;
    char err[512];
    ov_sdxl_load_opts o = {.model_path = "/nonexistent/sdxl.safetensors", .weight_dtype = -1};
    ck_assert_int_eq(ov_sdxl_pipeline_load(&o, &p, err, sizeof err), OV_ENOENT);
    ck_assert_ptr_null(p);
    /* a checkpoint with only the UNet's first tensor: refused, naming the first missing component
     * tensor in its single-file name */
    char path[600];
    snprintf(path, sizeof path, "%s/partial.safetensors", g_tiny.dir);
    ov_mk_list l;
    ov_mk_list_init(&l);
    ck_assert_int_eq(ov_mk_sdxl_unet(&l, "tiny"), 0);
    size_t keep = l.n;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].name, "model.diffusion_model.input_blocks.0.0.weight") == 0)
            keep = i;
    ck_assert_uint_lt(keep, l.n);
    l.v[0] = l.v[keep];
    l.n = 1;
    ck_assert_int_eq(ov_mk_write_safetensors(&l, path, OV_DTYPE_F32, 42, NULL, 0, err, sizeof err), 0);
    ov_mk_list_free(&l);
    o.model_path = path;
    int rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    ck_assert_int_eq(rc, OV_EFORMAT);
    ck_assert_msg(
        strstr(err, "not an SDXL checkpoint") &&
            strstr(err, "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight"),
        "%s", err);
    /* weights over the budget */
    o.model_path = g_tiny.model;
    o.budget_bytes = 1 << 20;
    rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    ck_assert_int_eq(rc, OV_EBUDGET);
    ck_assert_ptr_null(p);
    unlink(path);
}
END_TEST

int main(void)
{
    setup_once();
    Suite *s = suite_create("sdxl_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_is_the_golden_one);
    tcase_add_test(tc, runs_match_diffusers);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, batch_equals_single_runs);
    tcase_add_test(tc, budget_splits_into_sub_batches);
    tcase_add_test(tc, bad_inputs_are_clear_errors);
    tcase_add_test(tc, prompt_edge_cases);
    tcase_add_test(tc, nan_weights_fail_the_job);
    tcase_add_test(tc, cancel_stops_the_run);
    tcase_add_test(tc, load_errors_name_the_problem);
    tcase_add_test(tc, on_image_hands_on_each_final_image);
    tcase_add_test(tc, png_batch_writes_what_write_png_writes);
    tcase_add_test(tc, warmup_specs_parse_or_name_the_bad_part);
    tcase_add_test(tc, warmup_runs_every_entry);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown_once();
    return failed ? 1 : 0;
}
