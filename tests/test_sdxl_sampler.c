/* Tests for the SDXL samplers (workers/sdxl/sampler.c) against diffusers' schedulers
 * (golden data: tests/golden/sdxl/make_sampler.py). */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "workers/sdxl/sampler.h"

static json_t *g_golden;

static const char *src_dir(void)
{
    const char *s = getenv("OURVIDZ_SOURCE_DIR");
    return s ? s : ".";
}

static void setup_once(void)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/tests/golden/sdxl/sampler_golden.json.gz", src_dir());
    gzFile f = gzopen(p, "rb");
    if (!f) {
        fprintf(stderr, "test_sdxl_sampler: cannot open %s\n", p);
        abort();
    }
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    int r;
    while (buf && (r = gzread(f, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)r;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                abort();
            buf = nb;
        }
    }
    gzclose(f);
    json_error_t e;
    g_golden = buf ? json_loadb(buf, len, 0, &e) : NULL;
    free(buf);
    if (!g_golden) {
        fprintf(stderr, "test_sdxl_sampler: bad golden json: %s\n", e.text);
        abort();
    }
}

static void teardown_once(void)
{
    json_decref(g_golden);
}

static float jf(const json_t *a, size_t i)
{
    return (float)json_number_value(json_array_get(a, i));
}

/* Distance in units in the last place between two finite floats of the same sign. */
static int64_t ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if ((ia < 0) != (ib < 0))
        return a == b ? 0 : INT32_MAX;
    int64_t d = (int64_t)ia - (int64_t)ib;
    return d < 0 ? -d : d;
}

static int kind_of(const char *name)
{
    int k = -1;
    ck_assert_int_eq(ov_sdxl_sampler_parse(name, &k, NULL, 0), 0);
    return k;
}

/* alphas_cumprod bit for bit (torch's linspace/cumprod reproduced). sigmas: at most 1 ulp,
 * because torch computes √ through MKL VML on x86 (not correctly rounded: 190 of 1000 entries
 * 1 ulp off sqrtf on the machine that made the golden data), so the reference itself is only
 * reproducible to 1 ulp across machines. */
START_TEST(train_tables_match_diffusers)
{
    float ac[OV_SDXL_TRAIN_STEPS], sg[OV_SDXL_TRAIN_STEPS];
    ov_sdxl_train_schedule(ac, sg);
    json_t *tr = json_object_get(g_golden, "train");
    json_t *gac = json_object_get(tr, "alphas_cumprod"), *gsg = json_object_get(tr, "sigmas");
    ck_assert_uint_eq(json_array_size(gac), OV_SDXL_TRAIN_STEPS);
    int ac_diff = 0, sg_diff = 0;
    int64_t sg_max = 0;
    for (int i = 0; i < OV_SDXL_TRAIN_STEPS; i++) {
        ac_diff += ac[i] != jf(gac, (size_t)i);
        int64_t u = ulps(sg[i], jf(gsg, (size_t)i));
        sg_diff += u != 0;
        sg_max = u > sg_max ? u : sg_max;
    }
    fprintf(stderr, "train tables: alphas_cumprod %d/1000 differ; sigmas %d/1000 differ, max %lld ulp\n",
            ac_diff, sg_diff, (long long)sg_max);
    ck_assert_int_eq(ac_diff, 0);
    ck_assert_int_le(sg_max, 1);
    ck_assert_float_eq_tol(sg[0], 0.0291675f, 1e-6f);
    ck_assert_float_eq_tol(sg[999], 14.6146f, 1e-4f);
}
END_TEST

/* Every golden schedule (4 samplers × steps 1..150 incl. 1, 4, 15, 20, 25, 30, 50): timesteps
 * exactly equal (they are integers, Karras ones rounded), sigmas within 1 ulp (the sqrt note
 * above; Karras sigmas are computed in double and rounded once), init_noise_sigma within 2. */
START_TEST(schedules_match_diffusers)
{
    json_t *all = json_object_get(g_golden, "schedules");
    size_t n_checked = 0, sig_off = 0;
    for (size_t r = 0; r < json_array_size(all); r++) {
        json_t *g = json_array_get(all, r);
        const char *name = json_string_value(json_object_get(g, "sampler"));
        int steps = (int)json_integer_value(json_object_get(g, "steps"));
        ov_sdxl_schedule s;
        ck_assert_int_eq(ov_sdxl_schedule_init(&s, kind_of(name), steps), 0);
        json_t *ts = json_object_get(g, "timesteps"), *sg = json_object_get(g, "sigmas");
        ck_assert_uint_eq(json_array_size(ts), (size_t)steps);
        ck_assert_uint_eq(json_array_size(sg), (size_t)steps + 1);
        for (int i = 0; i < steps; i++)
            ck_assert_msg(s.timesteps[i] == jf(ts, (size_t)i), "%s %d steps: timestep[%d] %g, diffusers %g",
                          name, steps, i, s.timesteps[i], jf(ts, (size_t)i));
        for (int i = 0; i <= steps; i++) {
            int64_t u = ulps(s.sigmas[i], jf(sg, (size_t)i));
            sig_off += u != 0;
            ck_assert_msg(u <= 1, "%s %d steps: sigma[%d] %.9g, diffusers %.9g", name, steps, i, s.sigmas[i],
                          jf(sg, (size_t)i));
        }
        float ins = (float)json_number_value(json_object_get(g, "init_noise_sigma"));
        ck_assert_msg(ulps(s.init_noise_sigma, ins) <= 2,
                      /* √(σ₀² + 1) of a σ₀ 1 ulp off */ "%s %d: init_noise_sigma %.9g vs %.9g", name, steps,
                      s.init_noise_sigma, ins);
        n_checked++;
    }
    fprintf(stderr, "schedules: %zu checked, %zu sigmas 1 ulp off\n", n_checked, sig_off);
    ck_assert_uint_ge(n_checked, 40);
}
END_TEST

/* Known values (from the SDXL scheduler, independent of the golden file). */
START_TEST(schedule_known_values)
{
    ov_sdxl_schedule s;
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_EULER, 4), 0);
    ck_assert_float_eq(s.timesteps[0], 751.0f);
    ck_assert_float_eq(s.timesteps[3], 1.0f);
    ck_assert_float_eq(s.sigmas[4], 0.0f);
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_DPMPP_2M, 25), 0);
    ck_assert_float_eq(s.timesteps[0], 951.0f); /* 1000 // 26 = 38; 25·38 + 1 */
    ck_assert_float_eq(s.timesteps[24], 39.0f);
    ck_assert_float_eq(s.init_noise_sigma, 1.0f);
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_DPMPP_2M_KARRAS, 4), 0);
    ck_assert_float_eq(s.timesteps[0], 999.0f);
    ck_assert_float_eq(s.timesteps[3], 0.0f);
    ck_assert_float_eq(ov_sdxl_schedule_input_divisor(&s, 0), 1.0f);
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_EULER, 0), OV_EINVAL);
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_EULER, OV_SDXL_STEPS_MAX + 1), OV_EINVAL);
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, 17, 4), OV_EINVAL);
}
END_TEST

/* Full step sequences on the toy denoiser eps = 0.1·x_in + (t/1000)·w, driven as the SDXL
 * pipeline drives the scheduler. Tolerance: |Δ| <= 2e-6·(1 + |x|) per element over the whole
 * trajectory: our float32 arithmetic follows diffusers' operation order; what differs is libm
 * vs torch for sqrt/log/exp of the per-step scalars (1 ulp, see above), amplified mildly over
 * up to 25 steps. */
START_TEST(toy_trajectories_match_diffusers)
{
    json_t *toy = json_object_get(g_golden, "toy");
    json_t *w = json_object_get(toy, "w"), *runs = json_object_get(toy, "runs");
    size_t n = json_array_size(w);
    ck_assert_uint_eq(n, 64);
    float x[64], eps[64], noise[64], wv[64];
    for (size_t k = 0; k < n; k++)
        wv[k] = jf(w, k);
    double worst = 0;
    size_t n_runs = 0;
    for (size_t r = 0; r < json_array_size(runs); r++) {
        json_t *run = json_array_get(runs, r);
        const char *name = json_string_value(json_object_get(run, "sampler"));
        int steps = (int)json_integer_value(json_object_get(run, "steps"));
        int kind = kind_of(name);
        ov_sdxl_schedule s;
        ck_assert_int_eq(ov_sdxl_schedule_init(&s, kind, steps), 0);
        ov_sdxl_sampler sp;
        ck_assert_int_eq(ov_sdxl_sampler_init(&sp, &s, n), 0);
        json_t *n0 = json_object_get(run, "noise0"), *sn = json_object_get(run, "step_noise"),
               *lat = json_object_get(run, "latents");
        for (size_t k = 0; k < n; k++)
            x[k] = jf(n0, k) * s.init_noise_sigma;
        for (int i = 0; i < steps; i++) {
            float div = ov_sdxl_schedule_input_divisor(&s, i);
            float tk = s.timesteps[i] / 1000.0f;
            for (size_t k = 0; k < n; k++)
                eps[k] = (x[k] / div) * 0.1f + tk * wv[k];
            const float *nz = NULL;
            if (ov_sdxl_sampler_needs_noise(kind)) {
                json_t *a = json_array_get(sn, (size_t)i);
                for (size_t k = 0; k < n; k++)
                    noise[k] = jf(a, k);
                nz = noise;
            }
            ck_assert_int_eq(ov_sdxl_sampler_step(&sp, i, eps, x, nz), 0);
            json_t *want = json_array_get(lat, (size_t)i);
            for (size_t k = 0; k < n; k++) {
                double d = fabs((double)x[k] - jf(want, k)) / (1.0 + fabs(jf(want, k)));
                worst = d > worst ? d : worst;
                ck_assert_msg(d <= 2e-6, "%s %d steps: step %d elem %zu: %.9g vs diffusers %.9g", name, steps,
                              i, k, x[k], jf(want, k));
            }
        }
        ov_sdxl_sampler_free(&sp);
        n_runs++;
    }
    fprintf(stderr, "toy trajectories: %zu runs, worst |Δ|/(1+|x|) = %.3g\n", n_runs, worst);
    ck_assert_uint_eq(n_runs, 16);
}
END_TEST

START_TEST(sampler_names)
{
    int k;
    char err[256];
    const char *ok[][2] = {{"euler", "euler"},
                           {"Euler", "euler"},
                           {"EulerDiscreteScheduler", "euler"},
                           {"Euler a", "euler_a"},
                           {"euler_ancestral", "euler_a"},
                           {"EulerAncestralDiscreteScheduler", "euler_a"},
                           {"k_euler_a", "euler_a"},
                           {"DPM++ 2M", "dpmpp_2m"},
                           {"dpmpp_2m", "dpmpp_2m"},
                           {"DPMSolverMultistepScheduler", "dpmpp_2m"},
                           {"DPM++ 2M Karras", "dpmpp_2m_karras"},
                           {"dpmpp-2m-karras", "dpmpp_2m_karras"},
                           {"", "euler"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(ov_sdxl_sampler_parse(ok[i][0], &k, err, sizeof err), 0);
        ck_assert_str_eq(ov_sdxl_sampler_name(k), ok[i][1]);
    }
    ck_assert_int_eq(ov_sdxl_sampler_parse(NULL, &k, err, sizeof err), 0);
    ck_assert_int_eq(k, OV_SDXL_EULER);
    const char *bad[] = {"unipc", "ddim", "euler_b", "dpmpp_2m_karras_x",
                         "a very long sampler name that is longer than the normalisation buffer"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ov_sdxl_sampler_parse(bad[i], &k, err, sizeof err), OV_EINVAL);
        ck_assert_msg(strstr(err, "unknown sampler") && strstr(err, "dpmpp_2m_karras"), "%s", err);
    }
    ck_assert_str_eq(ov_sdxl_sampler_a1111_name(OV_SDXL_EULER_A), "Euler a");
    ck_assert_str_eq(ov_sdxl_sampler_a1111_name(OV_SDXL_DPMPP_2M_KARRAS), "DPM++ 2M Karras");
}
END_TEST

START_TEST(step_contract)
{
    ov_sdxl_schedule s;
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_EULER_A, 4), 0);
    ov_sdxl_sampler sp;
    ck_assert_int_eq(ov_sdxl_sampler_init(&sp, &s, 4), 0);
    float x[4] = {1, 2, 3, 4}, e[4] = {0}, nz[4] = {0};
    ck_assert_int_eq(ov_sdxl_sampler_step(&sp, 0, e, x, NULL), OV_EINVAL); /* euler_a needs noise */
    ck_assert_int_eq(ov_sdxl_sampler_step(&sp, 1, e, x, nz), OV_EINVAL);   /* out of order */
    ck_assert_int_eq(ov_sdxl_sampler_step(&sp, 0, e, x, nz), 0);
    ck_assert_int_eq(ov_sdxl_sampler_step(&sp, 0, e, x, nz), OV_EINVAL); /* repeated */
    ov_sdxl_sampler_free(&sp);
    ov_sdxl_sampler_free(&sp); /* zeroed: fine */
    /* Euler with eps = 0 keeps x (x0 = x); DPM++ last step returns x0 exactly. */
    ck_assert_int_eq(ov_sdxl_schedule_init(&s, OV_SDXL_DPMPP_2M, 1), 0);
    ck_assert_int_eq(ov_sdxl_sampler_init(&sp, &s, 4), 0);
    float xx[4] = {1, -2, 0.5f, 8}, ee[4] = {0.25f, 0.5f, -1, 2};
    float want[4];
    float a = 1.0f / sqrtf(s.sigmas[0] * s.sigmas[0] + 1.0f), sg = s.sigmas[0] * a;
    for (int k = 0; k < 4; k++)
        want[k] = (xx[k] - sg * ee[k]) / a;
    ck_assert_int_eq(ov_sdxl_sampler_step(&sp, 0, ee, xx, NULL), 0);
    for (int k = 0; k < 4; k++)
        ck_assert_float_eq(xx[k], want[k]);
    ov_sdxl_sampler_free(&sp);
}
END_TEST

int main(void)
{
    setup_once();
    Suite *s = suite_create("sdxl_sampler");
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, train_tables_match_diffusers);
    tcase_add_test(tc, schedules_match_diffusers);
    tcase_add_test(tc, schedule_known_values);
    tcase_add_test(tc, toy_trajectories_match_diffusers);
    tcase_add_test(tc, sampler_names);
    tcase_add_test(tc, step_contract);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown_once();
    return failed ? 1 : 0;
}
