/* Tests for the job contract: real July/September 2025 payloads, the malformed corpus, overrides,
 * caps, seeds, the qwen->wan plan and enhancement, and the shipped job_types.conf. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "supervisor/job_contract.h"
#include "supervisor/job_types.h"

static const char *src_dir(void)
{
    const char *d = getenv("OURVIDZ_SOURCE_DIR");
    return d ? d : ".";
}

/* Whole file in an exactly-sized heap block (no NUL after it: ASan catches over-reads). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int parse_file(const ov_job_types *t, const char *rel, ov_job_spec *s, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/payloads/%s", src_dir(), rel);
    size_t len;
    char *raw = slurp(path, &len);
    int rc = ov_job_parse(t, raw, len, s, err, errlen);
    free(raw);
    return rc;
}

static int parse_str(const ov_job_types *t, const char *json, ov_job_spec *s, char *err, size_t errlen)
{
    size_t n = strlen(json);
    char *raw = malloc(n ? n : 1);
    memcpy(raw, json, n);
    int rc = ov_job_parse(t, raw, n, s, err, errlen);
    free(raw);
    return rc;
}

static const char *pstr(const ov_job_stage *st, const char *key)
{
    const char *v = NULL;
    ck_assert_msg(ov_kvlist_get_str(&st->params, key, &v) == 0, "param %s missing", key);
    return v;
}

static int64_t pint(const ov_job_stage *st, const char *key)
{
    int64_t v = 0;
    ck_assert_msg(ov_kvlist_get_int(&st->params, key, &v) == 0, "param %s missing", key);
    return v;
}

static double pfloat(const ov_job_stage *st, const char *key)
{
    double v = 0;
    ck_assert_msg(ov_kvlist_get_float(&st->params, key, &v) == 0, "param %s missing", key);
    return v;
}

/* ---- the frontends' payloads ---- */

typedef struct valid_case {
    const char *file;
    const char *type;
    int kind; /* generating stage */
    const char *task;
    int nstages;
    int steps;
    double cfg;
    int width, height;
    int num_images;
    int frames;
    const char *sampler;
    int64_t seed; /* 0: random */
    const char *format;
} valid_case;

#define P "a woman walking on a beach at sunset, golden hour"
static const valid_case valid_cases[] = {
    /* July: SDXL config carries 25/6.5 and 50/7.5 (honoured: allow_overrides = true), scheduler
     * "unipc" -> euler; WAN carries frame_num 83 -> 81. */
    {"jul-sdxl_image_fast", "sdxl_image_fast", OV_KIND_SDXL, "sdxl", 1, 25, 6.5, 1024, 1024, 1, 1, "euler", 0,
     "png"},
    {"jul-sdxl_image_high", "sdxl_image_high", OV_KIND_SDXL, "sdxl", 1, 50, 7.5, 1024, 1024, 1, 1, "euler", 0,
     "png"},
    {"jul-image_fast", "image_fast", OV_KIND_WAN, "t2i", 1, 25, 6.5, 480, 832, 1, 1, "unipc", 0, "png"},
    {"jul-image_high", "image_high", OV_KIND_WAN, "t2i", 1, 50, 7.5, 480, 832, 1, 1, "unipc", 0, "png"},
    {"jul-video_fast", "video_fast", OV_KIND_WAN, "t2v", 1, 25, 6.5, 480, 832, 1, 81, "unipc", 0, "mp4"},
    {"jul-video_high", "video_high", OV_KIND_WAN, "t2v", 1, 50, 7.5, 480, 832, 1, 81, "unipc", 0, "mp4"},
    {"jul-image7b_fast_enhanced", "image7b_fast_enhanced", OV_KIND_WAN, "t2i", 2, 25, 6.5, 480, 832, 1, 1,
     "unipc", 0, "png"},
    {"jul-image7b_high_enhanced", "image7b_high_enhanced", OV_KIND_WAN, "t2i", 2, 50, 7.5, 480, 832, 1, 1,
     "unipc", 0, "png"},
    {"jul-video7b_fast_enhanced", "video7b_fast_enhanced", OV_KIND_WAN, "t2v", 2, 25, 6.5, 480, 832, 1, 81,
     "unipc", 0, "mp4"},
    {"jul-video7b_high_enhanced", "video7b_high_enhanced", OV_KIND_WAN, "t2v", 2, 50, 7.5, 480, 832, 1, 81,
     "unipc", 0, "mp4"},
    {"jul-sdxl_image_fast-6-seed", "sdxl_image_fast", OV_KIND_SDXL, "sdxl", 1, 25, 6.5, 1024, 1024, 6, 1,
     "euler", 424242, "png"},
    {"jul-sdxl_image_high-3-ref", "sdxl_image_high", OV_KIND_SDXL, "sdxl", 1, 50, 7.5, 1024, 1024, 3, 1,
     "euler", 0, "png"},
    {"jul-video_fast-ref-videoid", "video_fast", OV_KIND_WAN, "t2v", 1, 25, 6.5, 480, 832, 1, 81, "unipc", 0,
     "mp4"},
    /* September: config.resolution, seed null/number, wan_video_* aliases; WAN ignores resolution. */
    {"sep-sdxl_image_fast", "sdxl_image_fast", OV_KIND_SDXL, "sdxl", 1, 15, 6.0, 1024, 1024, 3, 1, "euler", 0,
     "png"},
    {"sep-sdxl_image_high-seed", "sdxl_image_high", OV_KIND_SDXL, "sdxl", 1, 25, 7.5, 1024, 576, 6, 1,
     "euler", 123456789, "png"},
    {"sep-sdxl_image_high-i2i", "sdxl_image_high", OV_KIND_SDXL, "sdxl", 1, 25, 7.5, 1024, 1024, 1, 1,
     "euler", 77, "png"},
    {"sep-video_fast", "video_fast", OV_KIND_WAN, "t2v", 1, 25, 6.5, 480, 832, 1, 81, "unipc", 0, "mp4"},
    {"sep-video_high", "video_high", OV_KIND_WAN, "t2v", 1, 50, 7.5, 480, 832, 1, 81, "unipc", 31337, "mp4"},
    {"sep-wan_video_fast", "video_fast", OV_KIND_WAN, "t2v", 1, 25, 6.5, 480, 832, 1, 81, "unipc", 0, "mp4"},
    {"sep-wan_video_high", "video_high", OV_KIND_WAN, "t2v", 1, 50, 7.5, 480, 832, 1, 81, "unipc", 0, "mp4"},
};
#define NVALID ((int)(sizeof valid_cases / sizeof valid_cases[0]))

START_TEST(frontend_payloads_accepted)
{
    const valid_case *c = &valid_cases[_i];
    char file[128], err[256];
    snprintf(file, sizeof file, "valid/%s.json", c->file);
    ov_job_spec s;
    int rc = parse_file(ov_job_types_default(), file, &s, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: rc %d: %s", c->file, rc, err);
    ck_assert_str_eq(s.type, c->type);
    ck_assert_str_eq(s.user_id, "0b6f3c2e-5d1a-4e8f-9c47-1a2b3c4d5e6f");
    ck_assert_str_eq(s.prompt, P);
    ck_assert_int_eq(s.nstages, c->nstages);
    ck_assert_int_eq(s.kind, c->kind);
    ck_assert_str_eq(s.route, c->kind == OV_KIND_SDXL ? "sdxl_queue" : "wan_queue");
    const ov_job_stage *g = &s.stages[s.nstages - 1];
    ck_assert_ptr_eq(g, ov_job_spec_gen_stage(&s));
    ck_assert_int_eq(g->kind, c->kind);
    ck_assert_str_eq(g->task, c->task);
    ck_assert_str_eq(pstr(g, "prompt"), P);
    ck_assert_int_eq(s.steps, c->steps);
    ck_assert_int_eq(pint(g, "steps"), c->steps);
    ck_assert_double_eq(s.cfg, c->cfg);
    ck_assert_double_eq(pfloat(g, "cfg"), c->cfg);
    ck_assert_int_eq(pint(g, "width"), c->width);
    ck_assert_int_eq(pint(g, "height"), c->height);
    ck_assert_int_eq(s.num_images, c->num_images);
    ck_assert_int_eq(s.frames, c->frames);
    ck_assert_str_eq(pstr(g, "format"), c->format);
    ck_assert_int_eq(pint(g, "seed"), s.seed);
    ck_assert_int_ge(s.seed, 1);
    if (c->seed) {
        ck_assert_int_eq(s.seed, c->seed);
        ck_assert(!s.seed_random);
    } else {
        ck_assert(s.seed_random);
        ck_assert_int_le(s.seed, 2147483647);
    }
    if (c->kind == OV_KIND_SDXL) {
        ck_assert_int_eq(pint(g, "count"), c->num_images);
        ck_assert_str_eq(pstr(g, "sampler"), c->sampler);
        ck_assert_ptr_null(ov_kvlist_get(&g->params, "frames"));
    } else {
        ck_assert_int_eq(pint(g, "frames"), c->frames);
        ck_assert_int_eq(pint(g, "fps"), 16);
        ck_assert_double_eq(pfloat(g, "shift"), 5.0);
        ck_assert_str_eq(pstr(g, "solver"), c->sampler);
        ck_assert_ptr_null(ov_kvlist_get(&g->params, "count"));
    }
    if (c->nstages == 2) {
        ck_assert_int_eq(s.stages[0].kind, OV_KIND_QWEN);
        ck_assert_str_eq(s.stages[0].task, "enhance");
        ck_assert_str_eq(pstr(&s.stages[0], "prompt"), P);
        ck_assert_str_eq(pstr(&s.stages[0], "mode"), c->frames == 1 ? "image" : "video");
        ck_assert_int_eq(s.stages[0].params.n, 2);
        ck_assert_int_eq(s.enhancement, OV_JOB_ENH_PENDING);
    } else {
        ck_assert_int_eq(s.enhancement, OV_JOB_ENH_NONE);
    }
    /* July payloads carry the client+server metadata; it is kept, compact, for the callback. */
    ck_assert_ptr_nonnull(s.metadata_json);
    json_error_t je;
    json_t *m = json_loads(s.metadata_json, 0, &je);
    ck_assert_ptr_nonnull(m);
    ck_assert(json_is_object(m));
    json_decref(m);
    ov_job_spec_free(&s);
}
END_TEST

START_TEST(frontend_payload_details)
{
    char err[256];
    ov_job_spec s;
    const ov_job_types *t = ov_job_types_default();
    /* July SDXL: the edge function's negative prompt is used; 83 frames note on WAN. */
    ck_assert_int_eq(parse_file(t, "valid/jul-sdxl_image_fast.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(s.id, "7d1e5c3a-0000-4000-8000-000000000000");
    ck_assert_ptr_nonnull(s.negative_prompt);
    ck_assert_str_eq(pstr(&s.stages[0], "negative_prompt"), s.negative_prompt);
    ck_assert_ptr_nonnull(strstr(s.notes, "config.scheduler unipc -> euler"));
    ck_assert_str_eq(s.video_id, "");
    ck_assert(!s.compel_enabled);
    ck_assert_ptr_null(ov_kvlist_get(&s.stages[0].params, "compel_weights"));
    ov_job_spec_free(&s);

    ck_assert_int_eq(parse_file(t, "valid/jul-video_fast-ref-videoid.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(s.video_id, "9a8b7c6d-1111-4222-8333-944455556666");
    ck_assert_str_eq(s.notes,
                     "config.frame_num 83 -> 81 (July frontend value; Wan decodes 81 frames from it)");
    ck_assert_ptr_null(s.negative_prompt);
    ck_assert_ptr_null(ov_kvlist_get(&s.stages[0].params, "reference_image_url")); /* WAN: t2v only */
    ov_job_spec_free(&s);

    ck_assert_int_eq(parse_file(t, "valid/jul-sdxl_image_high-3-ref.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(pstr(&s.stages[0], "reference_image_url"),
                     "https://abcd.supabase.co/storage/v1/object/sign/reference_images/u/ref.png?token=x");
    ck_assert_double_eq(pfloat(&s.stages[0], "reference_strength"), 0.85);
    ck_assert_str_eq(pstr(&s.stages[0], "reference_type"), "character");
    ov_job_spec_free(&s);

    ck_assert_int_eq(parse_file(t, "valid/sep-sdxl_image_high-i2i.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(pstr(&s.stages[0], "pipeline"), "img2img");
    ck_assert_double_eq(pfloat(&s.stages[0], "denoise_strength"), 0.35);
    ck_assert_double_eq(pfloat(&s.stages[0], "reference_strength"), 0.65);
    ck_assert_str_eq(pstr(&s.stages[0], "reference_type"), "style");
    ov_job_spec_free(&s);

    /* F-SEP alias: canonical type, requested name kept, noted. */
    ck_assert_int_eq(parse_file(t, "valid/sep-wan_video_fast.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(s.type, "video_fast");
    ck_assert_str_eq(s.type_requested, "wan_video_fast");
    ck_assert_str_eq(s.notes, "type wan_video_fast -> video_fast");
    ck_assert_ptr_null(s.negative_prompt); /* "" is none */
    ov_job_spec_free(&s);
}
END_TEST

/* ---- the malformed corpus ---- */

static int expect_code(const char *name)
{
    if (strcmp(name, "EINVAL") == 0)
        return OV_EINVAL;
    if (strcmp(name, "EFORMAT") == 0)
        return OV_EFORMAT;
    ck_abort_msg("bad expect code %s", name);
    return 0;
}

START_TEST(malformed_corpus)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/data/payloads/invalid", src_dir());
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int count = 0, nformat = 0, ninval = 0;
    while ((e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        char base[256], file[300], expect_path[1400];
        snprintf(base, sizeof base, "%.*s", (int)(nl - 5), e->d_name);
        snprintf(file, sizeof file, "invalid/%s", e->d_name);
        snprintf(expect_path, sizeof expect_path, "%s/%s.expect", dir, base);
        FILE *f = fopen(expect_path, "r");
        ck_assert_msg(f != NULL, "%s has no .expect", e->d_name);
        char code[32] = "", id[128] = "", sub[512] = "";
        ck_assert(fgets(code, sizeof code, f) && fgets(id, sizeof id, f) && fgets(sub, sizeof sub, f));
        fclose(f);
        code[strcspn(code, "\n")] = id[strcspn(id, "\n")] = sub[strcspn(sub, "\n")] = '\0';
        ov_job_spec s;
        char err[512];
        int rc = parse_file(ov_job_types_default(), file, &s, err, sizeof err);
        ck_assert_msg(rc == expect_code(code), "%s: rc %d (%s), expected %s", base, rc, err, code);
        ck_assert_msg(strstr(err, sub) != NULL, "%s: error \"%s\" lacks \"%s\"", base, err, sub);
        if (rc == OV_EINVAL) {
            ck_assert_msg(strcmp(s.id, id) == 0, "%s: id \"%s\", expected \"%s\"", base, s.id, id);
            ninval++;
        } else {
            ck_assert_str_eq(s.id, "");
            nformat++;
        }
        ck_assert_int_eq(s.nstages, 0);
        ov_job_spec_free(&s);
        count++;
    }
    closedir(d);
    ck_assert_int_ge(count, 40);
    ck_assert_int_ge(nformat, 10);
    ck_assert_int_ge(ninval, 30);
}
END_TEST

START_TEST(invalid_keeps_type_and_user)
{
    char err[256];
    ov_job_spec s;
    ck_assert_int_eq(parse_file(ov_job_types_default(), "invalid/bad-num-images-4.json", &s, err, sizeof err),
                     OV_EINVAL);
    ck_assert_str_eq(err, "config.num_images must be 1, 3 or 6 (got 4)");
    ck_assert_str_eq(s.id, "bad-num-images-4");
    ck_assert_str_eq(s.type, "sdxl_image_fast");
    ck_assert_str_eq(s.user_id, "0b6f3c2e-5d1a-4e8f-9c47-1a2b3c4d5e6f");
    ov_job_spec_free(&s);
    ov_job_spec_free(&s); /* twice is safe */
    /* every prefix of a valid payload: never crashes, never valid unless complete */
    size_t len;
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/payloads/valid/jul-video7b_fast_enhanced.json", src_dir());
    char *raw = slurp(path, &len);
    for (size_t n = 0; n < len; n += 7) {
        char *cut = malloc(n ? n : 1);
        memcpy(cut, raw, n);
        int rc = ov_job_parse(ov_job_types_default(), cut, n, &s, err, sizeof err);
        ck_assert_int_eq(rc, OV_EFORMAT);
        ov_job_spec_free(&s);
        free(cut);
    }
    free(raw);
    ck_assert_int_eq(ov_job_parse(ov_job_types_default(), NULL, 0, &s, err, sizeof err), OV_EFORMAT);
    ov_job_spec_free(&s);
}
END_TEST

/* ---- overrides, caps, seeds ---- */

#define JOB(type, cfg)                                                                                       \
    "{\"id\":\"job-1\",\"type\":\"" type "\",\"prompt\":\"a cat\",\"user_id\":\"user-1\",\"config\":{" cfg   \
    "}}"

START_TEST(overrides_within_caps)
{
    char err[256];
    ov_job_spec s;
    const ov_job_types *t = ov_job_types_default();
    ck_assert_int_eq(
        parse_str(t,
                  JOB("sdxl_image_fast", "\"num_inference_steps\":150,\"guidance_scale\":30,"
                                         "\"resolution\":\"832x1216\",\"scheduler\":\"DPM++ 2M Karras\","
                                         "\"num_images\":6,\"seed\":\"987654321\""),
                  &s, err, sizeof err),
        0);
    ck_assert_int_eq(s.steps, 150);
    ck_assert_double_eq(s.cfg, 30.0);
    ck_assert_int_eq(s.width, 832);
    ck_assert_int_eq(s.height, 1216);
    ck_assert_str_eq(pstr(&s.stages[0], "sampler"), "dpmpp_2m_karras");
    ck_assert_int_eq(pint(&s.stages[0], "count"), 6);
    ck_assert_int_eq(s.seed, 987654321);
    ck_assert(!s.seed_random);
    ov_job_spec_free(&s);
    /* width/height form, euler_a, the top-level seed */
    ck_assert_int_eq(
        parse_str(t,
                  "{\"id\":\"j\",\"type\":\"sdxl_image_high\",\"prompt\":\"p\",\"user_id\":\"u\","
                  "\"seed\":9007199254740991,\"config\":{\"width\":768,\"height\":1344,"
                  "\"scheduler\":\"euler_a\"}}",
                  &s, err, sizeof err),
        0);
    ck_assert_int_eq(s.width, 768);
    ck_assert_int_eq(s.height, 1344);
    ck_assert_int_eq(s.steps, 25);
    ck_assert_str_eq(s.sampler, "euler_a");
    ck_assert_int_eq(s.seed, 9007199254740991LL);
    ov_job_spec_free(&s);
    /* WAN: native names, the SDXL alias names when the native one is absent, solver, shift, frames */
    ck_assert_int_eq(parse_str(t,
                               JOB("video_high", "\"num_inference_steps\":30,\"guidance_scale\":5,"
                                                 "\"size\":\"832*480\",\"sample_solver\":\"dpm++\","
                                                 "\"sample_shift\":3.0,\"frame_num\":161,"
                                                 "\"resolution\":\"1024x1024\""),
                               &s, err, sizeof err),
                     0);
    ck_assert_int_eq(s.steps, 30);
    ck_assert_double_eq(s.cfg, 5.0);
    ck_assert_int_eq(s.width, 832);
    ck_assert_int_eq(s.height, 480);
    ck_assert_str_eq(pstr(&s.stages[0], "solver"), "dpm++");
    ck_assert_double_eq(pfloat(&s.stages[0], "shift"), 3.0);
    ck_assert_int_eq(pint(&s.stages[0], "frames"), 161);
    ov_job_spec_free(&s);
    /* native wins over the alias when both are there */
    ck_assert_int_eq(parse_str(t, JOB("image_fast", "\"sample_steps\":10,\"num_inference_steps\":40"), &s,
                               err, sizeof err),
                     0);
    ck_assert_int_eq(s.steps, 10);
    ov_job_spec_free(&s);
    /* num_images on WAN: validated, ignored, noted */
    ck_assert_int_eq(parse_str(t, JOB("image_high", "\"num_images\":3"), &s, err, sizeof err), 0);
    ck_assert_int_eq(s.num_images, 1);
    ck_assert_str_eq(s.notes, "config.num_images 3 ignored: WAN types make one output");
    ov_job_spec_free(&s);
    /* no config at all: the table's defaults */
    ck_assert_int_eq(
        parse_str(t, "{\"id\":\"j\",\"type\":\"sdxl_image_fast\",\"prompt\":\"p\",\"user_id\":\"u\"}", &s,
                  err, sizeof err),
        0);
    ck_assert_int_eq(s.steps, 15);
    ck_assert_double_eq(s.cfg, 6.0);
    ck_assert_int_eq(s.num_images, 1);
    ck_assert_str_eq(s.sampler, "euler");
    ck_assert_ptr_null(s.metadata_json);
    ov_job_spec_free(&s);
}
END_TEST

START_TEST(overrides_over_caps)
{
    char err[256];
    ov_job_spec s;
    ov_job_types t = *ov_job_types_default();
    t.caps.max_steps = 40;
    t.caps.max_width = 1024;
    t.caps.max_frames = 81;
    t.caps.max_images = 3;
    t.caps.max_prompt_bytes = 10;
    ck_assert_int_eq(parse_str(&t, JOB("sdxl_image_fast", "\"num_inference_steps\":41"), &s, err, sizeof err),
                     OV_EINVAL);
    ck_assert_str_eq(err, "config.num_inference_steps must be an integer from 1 to 40 (got 41)");
    ov_job_spec_free(&s);
    ck_assert_int_eq(
        parse_str(&t, JOB("sdxl_image_fast", "\"resolution\":\"1040x1024\""), &s, err, sizeof err),
        OV_EINVAL);
    ck_assert_str_eq(err, "config.resolution must be a multiple of 32 from 64 to 1024 (got 1040)");
    ov_job_spec_free(&s);
    ck_assert_int_eq(parse_str(&t, JOB("video_fast", "\"frame_num\":85"), &s, err, sizeof err), OV_EINVAL);
    ck_assert_str_eq(err, "config.frame_num must be 4n+1 from 5 to 81 for video types (got 85)");
    ov_job_spec_free(&s);
    ck_assert_int_eq(parse_str(&t, JOB("sdxl_image_fast", "\"num_images\":6"), &s, err, sizeof err),
                     OV_EINVAL);
    ck_assert_str_eq(err, "config.num_images 6 is over the cap of 3");
    ov_job_spec_free(&s);
    ck_assert_int_eq(
        parse_str(&t, "{\"id\":\"j\",\"type\":\"image_fast\",\"prompt\":\"0123456789A\",\"user_id\":\"u\"}",
                  &s, err, sizeof err),
        OV_EINVAL);
    ck_assert_str_eq(err, "prompt is 11 bytes, over the cap of 10");
    ov_job_spec_free(&s);
    /* exactly at the caps is fine */
    ck_assert_int_eq(
        parse_str(&t, JOB("video_fast", "\"frame_num\":81,\"sample_steps\":40"), &s, err, sizeof err), 0);
    ov_job_spec_free(&s);
}
END_TEST

START_TEST(overrides_off_table_wins)
{
    char err[256];
    ov_job_spec s;
    ov_job_types t = *ov_job_types_default();
    t.caps.allow_overrides = false;
    /* The July SDXL payload's 25 / 6.5 are ignored, as the July worker did: 15 / 6.0. */
    ck_assert_int_eq(parse_file(&t, "valid/jul-sdxl_image_fast-6-seed.json", &s, err, sizeof err), 0);
    ck_assert_int_eq(s.steps, 15);
    ck_assert_double_eq(s.cfg, 6.0);
    ck_assert_int_eq(s.num_images, 6);
    ck_assert_int_eq(s.seed, 424242);
    ov_job_spec_free(&s);
    ck_assert_int_eq(parse_str(&t,
                               JOB("video_fast", "\"sample_steps\":40,\"size\":\"832*480\",\"frame_num\":33"),
                               &s, err, sizeof err),
                     0);
    ck_assert_int_eq(s.steps, 25);
    ck_assert_int_eq(s.width, 480);
    ck_assert_int_eq(s.frames, 33); /* frame_num is always honoured */
    ov_job_spec_free(&s);
    /* still validated */
    ck_assert_int_eq(parse_str(&t, JOB("video_fast", "\"sample_steps\":0"), &s, err, sizeof err), OV_EINVAL);
    ov_job_spec_free(&s);
}
END_TEST

START_TEST(seed_always_set)
{
    char err[256];
    ov_job_spec a, b;
    const ov_job_types *t = ov_job_types_default();
    const char *randoms[] = {JOB("sdxl_image_fast", ""), JOB("sdxl_image_fast", "\"seed\":null"),
                             JOB("sdxl_image_fast", "\"seed\":0"), JOB("sdxl_image_fast", "\"seed\":-1"),
                             JOB("video_fast", "\"seed\":\"0\"")};
    int distinct = 0;
    int64_t prev = -1;
    for (size_t i = 0; i < sizeof randoms / sizeof randoms[0]; i++) {
        ck_assert_int_eq(parse_str(t, randoms[i], &a, err, sizeof err), 0);
        ck_assert(a.seed_random);
        ck_assert_int_ge(a.seed, 1);
        ck_assert_int_le(a.seed, 2147483647);
        ck_assert_int_eq(pint(&a.stages[0], "seed"), a.seed);
        if (a.seed != prev)
            distinct++;
        prev = a.seed;
        ov_job_spec_free(&a);
    }
    ck_assert_int_ge(distinct, 4); /* 31-bit random draws */
    ck_assert_int_eq(parse_str(t, JOB("sdxl_image_fast", "\"seed\":5,\"num_images\":3"), &a, err, sizeof err),
                     0);
    ck_assert_int_eq(
        parse_str(t, JOB("sdxl_image_fast", "\"seed\":5.0,\"num_images\":3"), &b, err, sizeof err), 0);
    ck_assert_int_eq(a.seed, 5);
    ck_assert_int_eq(b.seed, 5);
    ck_assert(!a.seed_random);
    /* the reported seed is in the callback metadata */
    ov_buf out;
    ov_buf_init(&out, 1 << 16);
    ck_assert_int_eq(ov_job_spec_metadata_json(&a, &out), 0);
    json_error_t je;
    json_t *m = json_loads(out.data, 0, &je);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "seed")), 5);
    ck_assert(json_is_false(json_object_get(m, "seed_random")));
    ck_assert_int_eq(json_integer_value(json_object_get(m, "num_images")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(m, "job_type")), "sdxl_image_fast");
    ck_assert_str_eq(json_string_value(json_object_get(m, "original_prompt")), "a cat");
    ck_assert_ptr_null(json_object_get(m, "enhancement"));
    json_decref(m);
    ov_buf_free(&out);
    ov_job_spec_free(&a);
    ov_job_spec_free(&b);
}
END_TEST

/* ---- routing and enhancement ---- */

START_TEST(enhanced_chain_apply)
{
    char err[256];
    ov_job_spec s;
    const ov_job_types *t = ov_job_types_default();
    ck_assert_int_eq(parse_file(t, "valid/jul-video7b_high_enhanced.json", &s, err, sizeof err), 0);
    ck_assert_int_eq(s.nstages, 2);
    ck_assert_int_eq(s.stages[0].kind, OV_KIND_QWEN);
    ck_assert_int_eq(s.stages[1].kind, OV_KIND_WAN);
    ck_assert_str_eq(s.stages[1].task, "t2v");
    ck_assert_int_eq(ov_job_spec_skip_enhancement(NULL, "x"), OV_EINVAL);
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, "   "), OV_EINVAL);
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, "bad \xff utf8"), OV_EINVAL);
    ck_assert_int_eq(s.enhancement, OV_JOB_ENH_PENDING);
    const char *enh = "A cinematic tracking shot of a woman walking along the shore at golden hour, 4K";
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, enh), 0);
    ck_assert_int_eq(s.enhancement, OV_JOB_ENH_APPLIED);
    ck_assert_str_eq(pstr(&s.stages[1], "prompt"), enh);
    ck_assert_str_eq(s.prompt, P); /* original kept */
    ck_assert_str_eq(pstr(&s.stages[0], "prompt"), P);
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, enh), OV_EINVAL);   /* once */
    ck_assert_int_eq(ov_job_spec_skip_enhancement(&s, "late"), OV_EINVAL); /* no longer pending */
    ov_buf out;
    ov_buf_init(&out, 1 << 16);
    ck_assert_int_eq(ov_job_spec_metadata_json(&s, &out), 0);
    json_error_t je;
    json_t *m = json_loads(out.data, 0, &je);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(json_string_value(json_object_get(m, "enhancement")), "applied");
    ck_assert_str_eq(json_string_value(json_object_get(m, "enhanced_prompt")), enh);
    ck_assert_str_eq(json_string_value(json_object_get(m, "original_prompt")), P);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "frame_num")), 81);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "fps")), 16);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "steps")), 50);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(m, "notes")), "83 -> 81"));
    json_decref(m);
    ov_buf_free(&out);
    ov_job_spec_free(&s);
}
END_TEST

START_TEST(enhanced_chain_skip)
{
    char err[256];
    ov_job_spec s;
    const ov_job_types *t = ov_job_types_default();
    ck_assert_int_eq(parse_file(t, "valid/jul-image7b_fast_enhanced.json", &s, err, sizeof err), 0);
    ck_assert_str_eq(pstr(&s.stages[0], "mode"), "image");
    ck_assert_str_eq(s.stages[1].task, "t2i");
    ck_assert_int_eq(ov_job_spec_skip_enhancement(&s, "qwen worker timed out"), 0);
    ck_assert_int_eq(s.enhancement, OV_JOB_ENH_SKIPPED);
    ck_assert_str_eq(s.enhancement_note, "enhancement failed: qwen worker timed out, used original prompt");
    ck_assert_str_eq(pstr(&s.stages[1], "prompt"), P);
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, "late"), OV_EINVAL);
    ov_buf out;
    ov_buf_init(&out, 1 << 16);
    ck_assert_int_eq(ov_job_spec_metadata_json(&s, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"enhancement\":\"skipped\""));
    ck_assert_ptr_nonnull(
        strstr(out.data,
               "\"enhancement_note\":\"enhancement failed: qwen worker timed out, used original prompt\""));
    ck_assert_ptr_null(strstr(out.data, "enhanced_prompt"));
    ov_buf_free(&out);
    ov_job_spec_free(&s);
    /* non-enhanced types refuse both */
    ck_assert_int_eq(parse_file(t, "valid/jul-video_fast.json", &s, err, sizeof err), 0);
    ck_assert_int_eq(ov_job_spec_apply_enhanced(&s, t, "x y z"), OV_EINVAL);
    ck_assert_int_eq(ov_job_spec_skip_enhancement(&s, "x"), OV_EINVAL);
    ov_job_spec_free(&s);
}
END_TEST

/* ---- the type table ---- */

START_TEST(shipped_types_file_equals_embedded)
{
    char path[1024], err[512], what[256];
    snprintf(path, sizeof path, "%s/config/job_types.conf", src_dir());
    ov_job_types t;
    ov_job_types_init_empty(&t);
    ck_assert_int_eq(t.ntypes, 0);
    int rc = ov_job_types_load_file(&t, path, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_msg(ov_job_types_equal(&t, ov_job_types_default(), what, sizeof what), "differs: %s", what);
    ck_assert_int_eq(ov_job_types_validate(ov_job_types_default(), err, sizeof err), 0);
    /* The embedded table: the ten types and the original defaults. */
    const ov_job_types *d = ov_job_types_default();
    ck_assert_int_eq(d->ntypes, 10);
    const ov_job_type *y = ov_job_types_find(d, "sdxl_image_fast");
    ck_assert(y && y->steps == 15 && y->cfg == 6.0 && y->width == 1024 && y->height == 1024);
    y = ov_job_types_find(d, "sdxl_image_high");
    ck_assert(y && y->steps == 25 && y->cfg == 7.5);
    y = ov_job_types_find(d, "wan_video_high");
    ck_assert(y && strcmp(y->name, "video_high") == 0 && y->steps == 50 && y->cfg == 7.5 && y->frames == 81 &&
              y->fps == 16 && y->shift == 5.0 && y->width == 480 && y->height == 832 &&
              y->format == OV_JOB_FORMAT_MP4);
    y = ov_job_types_find(d, "image7b_fast_enhanced");
    ck_assert(y && y->enhance == OV_JOB_ENHANCE_IMAGE && y->frames == 1 && y->format == OV_JOB_FORMAT_PNG &&
              y->steps == 25 && y->cfg == 6.5);
    ck_assert_ptr_null(ov_job_types_find(d, "chat"));
    /* A changed value is seen as a difference. */
    ov_job_types u = *d;
    u.types[4].steps = 30;
    ck_assert(!ov_job_types_equal(&u, d, what, sizeof what));
    ck_assert_str_eq(what, "type video_fast: steps 30 != 25");
}
END_TEST

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ov-jobtypes-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(types_file_overrides_and_errors)
{
    char err[512];
    ov_job_types t;
    /* over the defaults: caps and one type changed, a new type and alias added */
    char *p =
        write_tmp("[caps]\nmax_steps = 60\nallow_overrides = false\n"
                  "[type.video_fast]\nsteps = 20\nframes = 49\n"
                  "[type.sdxl_image_turbo]\nworker = sdxl\ntask = sdxl\nformat = png\nsteps = 8\ncfg = 2.0\n"
                  "width = 1024\nheight = 1024\nsampler = euler_a\n"
                  "[alias]\nturbo = sdxl_image_turbo\n");
    int rc = ov_job_types_load(&t, p, err, sizeof err);
    unlink(p);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(t.caps.max_steps, 60);
    ck_assert(!t.caps.allow_overrides);
    ck_assert_int_eq(ov_job_types_find(&t, "video_fast")->steps, 20);
    ck_assert_int_eq(ov_job_types_find(&t, "video_fast")->frames, 49);
    ck_assert_int_eq(ov_job_types_find(&t, "turbo")->steps, 8);
    ov_job_spec s;
    ck_assert_int_eq(parse_str(&t, JOB("turbo", ""), &s, err, sizeof err), 0);
    ck_assert_str_eq(s.type, "sdxl_image_turbo");
    ck_assert_int_eq(s.steps, 8);
    ov_job_spec_free(&s);
    ck_assert_int_eq(parse_str(&t, JOB("video_high", "\"sample_steps\":61"), &s, err, sizeof err), OV_EINVAL);
    ov_job_spec_free(&s);
    /* empty path: the embedded table */
    ck_assert_int_eq(ov_job_types_load(&t, "", err, sizeof err), 0);
    ck_assert(ov_job_types_equal(&t, ov_job_types_default(), NULL, 0));
    ck_assert_int_eq(ov_job_types_load(&t, "/nonexistent/job_types.conf", err, sizeof err), OV_ENOENT);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"[type.video_fast]\nsteps = fast\n", ":2: bad value for 'steps': 'fast'"},
        {"[type.video_fast]\ncolour = red\n", ":2: unknown key 'colour'"},
        {"[widgets]\n", ":1: unknown section [widgets]"},
        {"steps = 3\n", ":1: key 'steps' outside any [section]"},
        {"[type.video_fast]\nframes = 80\n", "type video_fast: task t2v needs frames = 4n+1 >= 5"},
        {"[type.video_fast]\nwidth = 500\n", "type video_fast: width/height must be multiples of 16"},
        {"[type.new_one]\nsteps = 5\n", "type new_one: worker must be wan or sdxl"},
        {"[alias]\nx = nothing\n", "alias x: target type 'nothing' does not exist"},
        {"[caps]\nmax_images = 4\n", "caps.max_images must be 1, 3 or 6"},
        {"[caps]\nmax_steps = 20\n", "type sdxl_image_high: steps must be 1..20"},
        {"[type.video_fast\n", ":1: malformed section header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = write_tmp(bad[i].text);
        rc = ov_job_types_load(&t, p, err, sizeof err);
        unlink(p);
        ck_assert_msg(rc == OV_ECONFIG, "case %zu: rc %d", i, rc);
        ck_assert_msg(strstr(err, bad[i].msg) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].msg);
    }
}
END_TEST

START_TEST(safe_ids)
{
    ck_assert(ov_job_id_is_safe("3f1c2a9e-7b7d-4c1e-9a51-2b8e0f4d6c11"));
    ck_assert(ov_job_id_is_safe("a_b-C9"));
    ck_assert(!ov_job_id_is_safe(""));
    ck_assert(!ov_job_id_is_safe(NULL));
    ck_assert(!ov_job_id_is_safe(".."));
    ck_assert(!ov_job_id_is_safe("a/b"));
    ck_assert(!ov_job_id_is_safe("a.b"));
    ck_assert(!ov_job_id_is_safe("a b"));
    char id[80];
    memset(id, 'a', sizeof id);
    id[64] = '\0';
    ck_assert(ov_job_id_is_safe(id));
    id[64] = 'a';
    id[65] = '\0';
    ck_assert(!ov_job_id_is_safe(id));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("job_contract");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, frontend_payloads_accepted, 0, NVALID);
    tcase_add_test(tc, frontend_payload_details);
    tcase_add_test(tc, malformed_corpus);
    tcase_add_test(tc, invalid_keeps_type_and_user);
    tcase_add_test(tc, overrides_within_caps);
    tcase_add_test(tc, overrides_over_caps);
    tcase_add_test(tc, overrides_off_table_wins);
    tcase_add_test(tc, seed_always_set);
    tcase_add_test(tc, enhanced_chain_apply);
    tcase_add_test(tc, enhanced_chain_skip);
    tcase_add_test(tc, shipped_types_file_equals_embedded);
    tcase_add_test(tc, types_file_overrides_and_errors);
    tcase_add_test(tc, safe_ids);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
