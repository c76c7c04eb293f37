/* SDXL checkpoints in every stored precision (issue 6, "Loading"): the same 2-step tiny run from
 * f32, f16, bf16 (ourvidz-mkmodel sdxl --dtype) and ComfyUI fp8-scaled checkpoints (--fp8 legacy
 * | quant, REFERENCE-MODELS.md §D.5) must give images close to the f32 one; the fp8 scale must be
 * applied (weights = float(e4m3) * scale, checked element by element against the f32 weights and
 * against torch's dequantisation: tests/golden/sdxl/make_fp8.py); broken files are clear errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/formats/fp8_scaled.h"
#include "common/formats/remap.h"
#include "common/model/weights.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/dtype.h"
#include "common/tensor/tensor.h"
#include "tools/mkmodel/mk.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/pipeline.h"

static char g_dir[] = "/tmp/ov_sdxl_dtypes_XXXXXX";

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

/* DIR/<name>/model.safetensors made by ourvidz-mkmodel with `flags` (once per process). */
static void model_path(const char *name, const char *flags, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/model.safetensors", g_dir, name);
    struct stat st;
    if (stat(out, &st) == 0)
        return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/ourvidz-mkmodel sdxl --preset tiny %s --out %s/%s > /dev/null",
             env_or("OURVIDZ_BIN_DIR", "bin"), flags, g_dir, name);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* The UNet's Linear weights, as mkmodel_sdxl.c picks them for --fp8 (conv: also ndim-4 weights). */
static unsigned char *select_unet(const ov_mk_list *l, int conv)
{
    unsigned char *sel = calloc(l->n, 1);
    ck_assert_ptr_nonnull(sel);
    for (size_t i = 0; i < l->n; i++) {
        const ov_mk_spec *s = &l->v[i];
        size_t n = strlen(s->name);
        sel[i] = strncmp(s->name, "model.diffusion_model.", 22) == 0 && n > 7 &&
                 strcmp(s->name + n - 7, ".weight") == 0 && (s->ndim == 2 || (conv && s->ndim == 4));
    }
    return sel;
}

/* The whole tiny list (the order mkmodel writes; values depend on (seed, name) only). */
static void tiny_list(ov_mk_list *l)
{
    ov_mk_list_init(l);
    ck_assert_int_eq(ov_mk_sdxl_unet(l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_te1(l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_te2(l, "tiny"), 0);
    ck_assert_int_eq(ov_mk_sdxl_vae(l, "tiny"), 0);
}

typedef struct run_out {
    float *pixels;  /* 32·32·3 */
    float *latents; /* 4·4·4 */
    int64_t np, nl;
} run_out;

/* Load `path` (stored dtypes kept: f16/bf16/f8 weights converted inside the ops) and make one
 * 32×32 image in 2 Euler steps (CFG 6, fixed seed). Returns generate's code; err gets messages. */
static int run_model(const char *path, run_out *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    ov_sdxl_load_opts lo = {.model_path = path, .weight_dtype = -1};
    ov_sdxl_pipeline *p = NULL;
    int rc = ov_sdxl_pipeline_load(&lo, &p, err, errlen);
    ck_assert_msg(rc == 0, "load %s: %d %s", path, rc, err);
    ov_sdxl_request r = {.prompt = "a photo of a cat",
                         .negative_prompt = "blurry",
                         .steps = 2,
                         .cfg = 6.0,
                         .sampler = OV_SDXL_EULER,
                         .width = 32,
                         .height = 32,
                         .count = 1,
                         .seed = 1234,
                         .keep_float = 1};
    ov_sdxl_result res;
    rc = ov_sdxl_generate(p, &r, NULL, NULL, &res, err, errlen);
    if (rc == 0) {
        o->np = 32 * 32 * 3;
        o->nl = 4 * 4 * 4;
        o->pixels = malloc((size_t)o->np * sizeof(float));
        o->latents = malloc((size_t)o->nl * sizeof(float));
        ck_assert(o->pixels && o->latents);
        memcpy(o->pixels, res.pixels, (size_t)o->np * sizeof(float));
        memcpy(o->latents, res.latents, (size_t)o->nl * sizeof(float));
        ov_sdxl_result_free(&res);
    }
    ov_sdxl_pipeline_free(p);
    return rc;
}

static void run_free(run_out *o)
{
    free(o->pixels);
    free(o->latents);
}

static double max_abs_diff(const float *a, const float *b, int64_t n, double *mean)
{
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        m = d > m ? d : m;
        s += d;
    }
    if (mean)
        *mean = s / (double)n;
    return m;
}

static run_out g_f32;

static const run_out *f32_run(void)
{
    if (!g_f32.pixels) {
        char p[600], err[512] = "";
        model_path("f32", "", p, sizeof p);
        ck_assert_msg(run_model(p, &g_f32, err, sizeof err) == 0, "f32 run: %s", err);
    }
    return &g_f32;
}

/* ---- the images ---- */

/* Tolerances (images in [0, 1]; 32×32, 2 Euler steps, CFG 6 -- guidance multiplies the
 * cond/uncond difference by 6, so weight rounding shows up amplified). The error follows the
 * weights' rounding step: f16 rounds to 2^-11 relative, bf16 to 2^-8 (8× f16), e4m3 to 2^-4
 * relative (128× f16; 2^-10·scale absolute in its subnormal range) but only on the UNet's Linear
 * weights (legacy) or Linear + conv weights (quant file, made with --fp8-conv). Measured image
 * max|Δ| / mean|Δ| vs the f32 run (dev-2c, OpenBLAS): f16 2.0e-3 / 3.7e-4, bf16 1.9e-2 / 3.2e-3
 * (8.6× f16, as the step ratio predicts), fp8 legacy 0.119 / 0.020, fp8 quant+conv 0.186 / 0.034.
 * Limits are ~2× the measured values (room for another BLAS's summation order); the run that
 * ignores the scale is off by mean 0.32 (fp8_scale_is_applied requires > 0.15). */
static void check_close(const char *label, const char *flags, double tol_max, double tol_mean)
{
    const run_out *ref = f32_run();
    char p[600], err[512] = "";
    model_path(label, flags, p, sizeof p);
    run_out o;
    ck_assert_msg(run_model(p, &o, err, sizeof err) == 0, "%s run: %s", label, err);
    double mean, mean_l;
    double d = max_abs_diff(o.pixels, ref->pixels, o.np, &mean);
    double dl = max_abs_diff(o.latents, ref->latents, o.nl, &mean_l);
    fprintf(stderr, "%-12s image vs f32: max|Δ| %.3g mean|Δ| %.3g (tolerance %.3g / %.3g); latents max|Δ| %.3g\n",
            label, d, mean, tol_max, tol_mean, dl);
    ck_assert_msg(d <= tol_max && mean <= tol_mean, "%s: image off by %g (mean %g)", label, d, mean);
    /* not identical either: the precision must have reached the weights */
    ck_assert_msg(d > 0, "%s: bit-identical to the f32 image", label);
    run_free(&o);
}

START_TEST(f16_close_to_f32) { check_close("f16", "--dtype f16", 5e-3, 1e-3); }
END_TEST

START_TEST(bf16_close_to_f32) { check_close("bf16", "--dtype bf16", 5e-2, 8e-3); }
END_TEST

START_TEST(fp8_legacy_close_to_f32) { check_close("fp8-legacy", "--fp8 legacy", 0.25, 0.045); }
END_TEST

START_TEST(fp8_quant_close_to_f32) { check_close("fp8-quant", "--fp8 quant --fp8-conv", 0.35, 0.07); }
END_TEST

/* The same fp8 bytes without their scale tensors (a "plain" fp8 file: scale 1) must not run like
 * the scaled file: weights ~448/max|w| (hundreds of times) too large blow the run up (NaN -> the
 * pipeline refuses with OV_ERANGE) or change the image completely. */
START_TEST(fp8_scale_is_applied)
{
    ov_mk_list l;
    tiny_list(&l);
    unsigned char *sel = select_unet(&l, 0);
    char p[600], err[512] = "";
    snprintf(p, sizeof p, "%s/noscale.safetensors", g_dir);
    ov_mk_fp8_opts fo = {.layout = OV_MK_FP8_LEGACY, .select = sel, .marker = "model.diffusion_model.scaled_fp8",
                         .omit_scales = 1};
    ck_assert_int_eq(ov_mk_write_safetensors_fp8(&l, p, OV_DTYPE_F32, 42, NULL, 0, &fo, err, sizeof err), 0);
    run_out o;
    int rc = run_model(p, &o, err, sizeof err);
    if (rc == 0) {
        const run_out *ref = f32_run();
        double mean, d = max_abs_diff(o.pixels, ref->pixels, o.np, &mean);
        fprintf(stderr, "fp8 without scales: image vs f32 max|Δ| %.3g mean %.3g\n", d, mean);
        ck_assert_msg(mean > 0.15, "scale-less fp8 image too close to f32 (mean |Δ| %g)", mean);
        run_free(&o);
    } else {
        fprintf(stderr, "fp8 without scales: generate refused: %s\n", err);
        ck_assert_int_eq(rc, OV_ERANGE);
    }
    free(sel);
    ov_mk_list_free(&l);
    unlink(p);
}
END_TEST

/* Weight level: every UNet Linear weight of the fp8 file, as the loader hands it to the ops (F8
 * bytes + scale) and dequantised (ov_weights_read_f32, ov_weights_load to f32), equals
 * e4m3(b)·scale exactly, and is within the e4m3 rounding bound of the f32 file's weight:
 * |Δ| <= 2^-4·|w| (normal range, half of the 3-bit mantissa's step) or <= 2^-10·scale (subnormal
 * range, half of the smallest step), scale = max|w|/448. */
static void check_weights(const char *label, const char *flags, int layout)
{
    char pf[600], p8[600];
    model_path("f32", "", pf, sizeof pf);
    model_path(label, flags, p8, sizeof p8);
    ov_weights *wf = NULL, *w8 = NULL;
    ck_assert_int_eq(ov_weights_open(pf, &wf), 0);
    ck_assert_int_eq(ov_weights_open(p8, &w8), 0);
    ck_assert_int_eq(ov_weights_remap(wf, &ov_remap_sdxl_single_file, 1, NULL), 0);
    ck_assert_int_eq(ov_weights_remap(w8, &ov_remap_sdxl_single_file, 1, NULL), 0);
    ck_assert_int_eq(ov_fp8_detect(ov_weights_st(w8)), layout);
    ov_mem mem;
    ov_mem_init(&mem, ov_backend_cpu(), 0);
    int n_f8 = 0;
    double worst = 0;
    for (size_t i = 0; i < ov_weights_count(w8); i++) {
        const char *name = ov_weights_name_at(w8, i);
        ov_weight_info in8, inf;
        ck_assert_int_eq(ov_weights_info(w8, name, &in8), 0);
        if (in8.dtype != OV_DTYPE_F8_E4M3 || in8.ndim == 1)
            continue; /* the legacy marker is an empty F8 tensor */
        n_f8++;
        ck_assert_msg(strncmp(name, "unet.", 5) == 0, "%s: fp8 outside the UNet", name);
        ck_assert_int_eq(ov_weights_info(wf, name, &inf), 0);
        int64_t n = 1;
        for (int d = 0; d < in8.ndim; d++)
            n *= in8.shape[d];
        float *wref = malloc((size_t)n * 4), *deq = malloc((size_t)n * 4);
        ck_assert(wref && deq);
        ck_assert_int_eq(ov_weights_read_f32(wf, name, wref, n), 0);
        ck_assert_int_eq(ov_weights_read_f32(w8, name, deq, n), 0);
        float amax = 0;
        for (int64_t k = 0; k < n; k++)
            amax = fabsf(wref[k]) > amax ? fabsf(wref[k]) : amax;
        ck_assert_msg(in8.scale == amax / 448.0f, "%s: scale %g, max|w|/448 = %g", name, in8.scale, amax / 448.0f);
        ov_tensor raw, f32;
        ck_assert_int_eq(ov_weights_load(w8, &mem, name, -1, 0, NULL, &raw), 0);
        ck_assert_int_eq(ov_weights_load(w8, &mem, name, OV_DTYPE_F32, 0, NULL, &f32), 0);
        ck_assert_int_eq(raw.dtype, OV_DTYPE_F8_E4M3);
        ck_assert(raw.scale == in8.scale);
        const uint8_t *b = raw.data;
        for (int64_t k = 0; k < n; k++) {
            float v = ov_f8_e4m3_to_f32(b[k]) * in8.scale;
            /* if + ck_abort: Check records every passing ck_assert (a pipe write each) */
            if (!(deq[k] == v && ((const float *)f32.data)[k] == v))
                ck_abort_msg("%s[%lld]: %g / %g != %g", name, (long long)k, deq[k], ((const float *)f32.data)[k], v);
            double bound = fmax(fabs(wref[k]) / 16.0, in8.scale / 1024.0);
            double e = fabs((double)v - wref[k]);
            if (!(e <= bound * (1 + 1e-6)))
                ck_abort_msg("%s[%lld]: fp8 %g vs f32 %g (bound %g)", name, (long long)k, v, wref[k], bound);
            worst = e / bound > worst ? e / bound : worst;
        }
        ov_mem_free_tensor(&mem, &raw);
        ov_mem_free_tensor(&mem, &f32);
        free(wref);
        free(deq);
    }
    fprintf(stderr, "%s: %d fp8 weights, dequantised = e4m3·scale exactly, worst error %.3f of the bound\n", label,
            n_f8, worst);
    ck_assert_int_gt(n_f8, 100);
    ov_weights_close(wf);
    ov_weights_close(w8);
}

START_TEST(fp8_legacy_weights) { check_weights("fp8-legacy", "--fp8 legacy", OV_FP8_LEGACY); }
END_TEST

START_TEST(fp8_quant_weights) { check_weights("fp8-quant", "--fp8 quant --fp8-conv", OV_FP8_QUANT_META); }
END_TEST

/* ---- against torch: float(W.to(float8_e4m3fn)) * scale, read by safetensors in torch ---- */

/* tests/golden/sdxl/fp8_golden.bin.gz: records {u32 len, "<file>:<canonical name>", f32 scale,
 * i64 n, f32 values[n]} from make_fp8.py. The loader's f32 must equal torch's bit for bit. */
START_TEST(fp8_matches_torch)
{
    char gp[4096];
    snprintf(gp, sizeof gp, "%s/tests/golden/sdxl/fp8_golden.bin.gz", env_or("OURVIDZ_SOURCE_DIR", "."));
    gzFile f = gzopen(gp, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", gp);
    uint32_t nl;
    int nrec = 0;
    while (gzread(f, &nl, 4) == 4) {
        char key[256];
        ck_assert(nl < sizeof key && gzread(f, key, nl) == (int)nl);
        key[nl] = 0;
        float scale;
        int64_t n;
        ck_assert(gzread(f, &scale, 4) == 4 && gzread(f, &n, 8) == 8 && n > 0 && n < (1 << 24));
        float *want = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
        ck_assert(want && got && gzread(f, want, (unsigned)(n * 4)) == (int)(n * 4));
        char *colon = strchr(key, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = 0;
        const char *flags = !strcmp(key, "fp8-legacy") ? "--fp8 legacy" : "--fp8 quant --fp8-conv";
        char p[600];
        model_path(key, flags, p, sizeof p);
        ov_weights *w = NULL;
        ck_assert_int_eq(ov_weights_open(p, &w), 0);
        ck_assert_int_eq(ov_weights_remap(w, &ov_remap_sdxl_single_file, 1, NULL), 0);
        ov_weight_info in;
        ck_assert_int_eq(ov_weights_info(w, colon + 1, &in), 0);
        ck_assert_int_eq(in.dtype, OV_DTYPE_F8_E4M3);
        ck_assert_msg(in.scale == scale, "%s: scale %.9g, torch %.9g", colon + 1, in.scale, scale);
        ck_assert_int_eq(ov_weights_read_f32(w, colon + 1, got, n), 0);
        ck_assert_msg(memcmp(got, want, (size_t)n * 4) == 0, "%s %s: dequantised values differ from torch's", key,
                      colon + 1);
        fprintf(stderr, "torch golden %s %s: %lld values equal bit for bit (scale %.6g)\n", key, colon + 1,
                (long long)n, scale);
        ov_weights_close(w);
        free(want);
        free(got);
        nrec++;
    }
    gzclose(f);
    ck_assert_int_ge(nrec, 4);
}
END_TEST

/* ---- broken files ---- */

/* A scale of the wrong shape ([2] instead of a scalar): OV_EFORMAT naming the scale and its weight. */
START_TEST(bad_scale_shape_is_eformat)
{
    ov_mk_list l;
    tiny_list(&l);
    unsigned char *sel = select_unet(&l, 0);
    const char *wname = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight";
    int found = 0;
    for (size_t i = 0; i < l.n; i++)
        found |= sel[i] && strcmp(l.v[i].name, wname) == 0;
    ck_assert_msg(found, "%s not among the fp8 weights", wname);
    char p[600], err[512] = "";
    snprintf(p, sizeof p, "%s/badscale.safetensors", g_dir);
    ov_mk_fp8_opts fo = {.layout = OV_MK_FP8_LEGACY, .select = sel, .marker = "model.diffusion_model.scaled_fp8",
                         .bad_scale = wname};
    ck_assert_int_eq(ov_mk_write_safetensors_fp8(&l, p, OV_DTYPE_F32, 42, NULL, 0, &fo, err, sizeof err), 0);
    ov_sdxl_load_opts lo = {.model_path = p, .weight_dtype = -1};
    ov_sdxl_pipeline *pipe = NULL;
    int rc = ov_sdxl_pipeline_load(&lo, &pipe, err, sizeof err);
    fprintf(stderr, "bad scale shape: %d %s\n", rc, err);
    ck_assert_int_eq(rc, OV_EFORMAT);
    ck_assert_ptr_null(pipe);
    ck_assert_ptr_nonnull(strstr(err, wname));
    ck_assert_ptr_nonnull(strstr(err, "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn1.to_q."
                                      "scale_weight"));
    free(sel);
    ov_mk_list_free(&l);
    unlink(p);
}
END_TEST

/* An fp8 file cut short (a partial download): the load fails with a message naming the file. */
START_TEST(truncated_fp8_file_is_clear)
{
    char src[600], p[600], err[512] = "";
    model_path("fp8-legacy", "--fp8 legacy", src, sizeof src);
    snprintf(p, sizeof p, "%s/truncated.safetensors", g_dir);
    FILE *in = fopen(src, "rb"), *out = fopen(p, "wb");
    ck_assert(in && out);
    struct stat st;
    ck_assert_int_eq(stat(src, &st), 0);
    uint64_t hlen = 0; /* keep the 8-byte length, the JSON header and 4 KiB of tensor data */
    ck_assert(fread(&hlen, 8, 1, in) == 1 && hlen < (uint64_t)st.st_size);
    rewind(in);
    long keep = (long)(8 + hlen + 4096);
    static char buf[1 << 16];
    for (long done = 0; done < keep;) {
        size_t want = (size_t)(keep - done) < sizeof buf ? (size_t)(keep - done) : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        ck_assert(got == want && fwrite(buf, 1, got, out) == got);
        done += (long)got;
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    ov_sdxl_load_opts lo = {.model_path = p, .weight_dtype = -1};
    ov_sdxl_pipeline *pipe = NULL;
    int rc = ov_sdxl_pipeline_load(&lo, &pipe, err, sizeof err);
    fprintf(stderr, "truncated: %d %s\n", rc, err);
    ck_assert_msg(rc == OV_EFORMAT || rc == OV_EIO, "truncated file: code %d", rc);
    ck_assert_ptr_null(pipe);
    ck_assert_ptr_nonnull(strstr(err, "truncated.safetensors"));
    unlink(p);
}
END_TEST

/* mkmodel --fp8 is deterministic: the same seed gives the same bytes. */
START_TEST(mkmodel_fp8_is_deterministic)
{
    char a[600], b[600];
    model_path("fp8-legacy", "--fp8 legacy", a, sizeof a);
    model_path("fp8-legacy-again", "--fp8 legacy", b, sizeof b);
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa && fb);
    static char ba[1 << 16], bb[1 << 16];
    size_t na, nb;
    long total = 0;
    do {
        na = fread(ba, 1, sizeof ba, fa);
        nb = fread(bb, 1, sizeof bb, fb);
        ck_assert_msg(na == nb && memcmp(ba, bb, na) == 0, "files differ near byte %ld", total);
        total += (long)na;
    } while (na > 0);
    fclose(fa);
    fclose(fb);
    ck_assert_int_gt(total, 1 << 20);
}
END_TEST

int main(void)
{
    if (!mkdtemp(g_dir))
        return 1;
    Suite *s = suite_create("sdxl_dtypes");
    TCase *tc = tcase_create("dtypes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, mkmodel_fp8_is_deterministic);
    tcase_add_test(tc, fp8_legacy_weights);
    tcase_add_test(tc, fp8_quant_weights);
    tcase_add_test(tc, fp8_matches_torch);
    tcase_add_test(tc, bad_scale_shape_is_eformat);
    tcase_add_test(tc, truncated_fp8_file_is_clear);
    tcase_add_test(tc, f16_close_to_f32);
    tcase_add_test(tc, bf16_close_to_f32);
    tcase_add_test(tc, fp8_legacy_close_to_f32);
    tcase_add_test(tc, fp8_quant_close_to_f32);
    tcase_add_test(tc, fp8_scale_is_applied);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* the made models and the f32 run are shared */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", g_dir);
    return failed ? 1 : 0;
}
