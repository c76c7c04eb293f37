/* Tests for workers/sdxl/vae (the SDXL VAE) against diffusers AutoencoderKL on the same tiny weights.
 *
 * The tiny VAE (tools/mkmodel/sdxl_vae.c "tiny": ch 32, mult (1,2,2,2), 2 res blocks, z 4) is
 * written by this test (seed 42, f32) under the real single-file names; tests/golden/sdxl/
 * make_vae.py runs `test_sdxl_vae --write-model PATH` to get the same file, converts it with
 * diffusers' convert_ldm_vae_checkpoint, loads it strictly and stores float64 outputs as f32.
 *
 * Tolerance: we compute in f32 against a float64 reference. Through ~40 convs/norms the error
 * grows to 1.2e-6..1.6e-6 of max(1, max|ref|) (measured); the bound is 6e-6, about 4× that, and
 * tight enough to catch even a GroupNorm eps of 1e-5 instead of 1e-6 (1.5e-5..2.1e-5). Structural
 * mistakes are far larger: a downsample padded on the wrong side gives 1.1, a wrong attention
 * scale 0.1..0.17. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/model/weights.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/vae.h"

#define TOL_REL 6e-6

static char g_dir[256];
static char g_path[512];

/* Writes the tiny VAE list (optionally edited) to path. */
typedef void (*list_edit)(ov_mk_list *l);

static int write_model_dtype(const char *path, const char *preset, list_edit edit, int dtype)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_vae(&l, preset);
    char err[512] = "";
    if (!rc && edit)
        edit(&l);
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, dtype, 42, NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "write_model: %d %s\n", rc, err);
    ov_mk_list_free(&l);
    return rc;
}

static int write_model(const char *path, const char *preset, list_edit edit)
{
    return write_model_dtype(path, preset, edit, OV_DTYPE_F32);
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ov_test_sdxl_vae_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/vae.safetensors", g_dir);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

typedef struct fixture {
    ov_weights *w;
    ov_mem mem;
    ov_arena arena;
    ov_sdxl_vae *vae;
} fixture;

static int open_vae_dtype(fixture *f, const char *path, int weight_dtype)
{
    memset(f, 0, sizeof *f);
    ov_mem_init(&f->mem, ov_backend_cpu(), 0);
    int rc = ov_weights_open(path, &f->w);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(ov_weights_remap(f->w, &ov_remap_sdxl_single_file, 1, NULL), 0);
    return ov_sdxl_vae_load(f->w, &f->mem, weight_dtype, &f->vae);
}

static int open_vae(fixture *f, const char *path)
{
    return open_vae_dtype(f, path, OV_DTYPE_F32);
}

static void close_vae(fixture *f)
{
    ov_arena_free(&f->arena);
    ov_sdxl_vae_free(f->vae, &f->mem);
    ov_weights_close(f->w);
    ck_assert_uint_eq(f->mem.used_bytes, 0);
}

static float *read_golden(const char *name, int64_t n)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/sdxl/%s", src ? src : ".", name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open golden %s", path);
    float *v = malloc((size_t)n * sizeof(float));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq((int64_t)fread(v, sizeof(float), (size_t)n + 1, fp), n); /* exact size */
    fclose(fp);
    return v;
}

static void host_tensor(fixture *f, ov_tensor *t, const char *name, int64_t b, int64_t c, int64_t h,
                        int64_t w)
{
    int64_t s[4] = {b, c, h, w};
    ck_assert_int_eq(ov_mem_alloc_tensor(&f->mem, t, name, OV_DTYPE_F32, 4, s), 0);
}

/* max |a − b| / max(1, max |b|) */
static double rel_err(const float *a, const float *b, int64_t n, double *max_ref)
{
    double e = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(a[i]), "non-finite output at %lld", (long long)i);
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    *max_ref = m;
    return e / fmax(1.0, m);
}

static void decode_golden(int64_t h, int64_t w)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", NULL), 0);
    ck_assert_int_eq(open_vae(&f, g_path), 0);
    ck_assert_int_eq(ov_sdxl_vae_factor(f.vae), 8);
    ck_assert_int_eq(ov_sdxl_vae_latent_channels(f.vae), 4);
    char zn[64], in[64];
    snprintf(zn, sizeof zn, "vae_dec_z_%lldx%lld.f32", (long long)h, (long long)w);
    snprintf(in, sizeof in, "vae_dec_img_%lldx%lld.f32", (long long)h, (long long)w);
    int64_t nz = 4 * h * w, ni = 3 * 64 * h * w;
    float *zh = read_golden(zn, nz), *ref = read_golden(in, ni), *out = malloc((size_t)ni * sizeof(float));
    ov_tensor z, img;
    host_tensor(&f, &z, "z", 1, 4, h, w);
    host_tensor(&f, &img, "img", 1, 3, 8 * h, 8 * w);
    ck_assert_int_eq(ov_tensor_upload(&z, zh, (size_t)nz * sizeof(float)), 0);
    size_t need = ov_sdxl_vae_decode_scratch_bytes(f.vae, h, w);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "vae", need), 0);
    int rc = ov_sdxl_vae_decode(f.vae, &f.arena, &z, &img);
    ck_assert_msg(rc == 0, "decode: %d %s", rc, ov_tensor_last_error());
    ck_assert_uint_eq(f.arena.top_bytes, 0);
    ck_assert_uint_le(f.arena.peak_bytes, need);
    ck_assert_int_eq(ov_tensor_download(&img, out, (size_t)ni * sizeof(float)), 0);
    double m, e = rel_err(out, ref, ni, &m);
    fprintf(stderr, "vae decode %lldx%lld: max|ref| %.4f, max|d|/max(1,max|ref|) %.3g (tol %.1e)\n",
            (long long)h, (long long)w, m, e, TOL_REL);
    ck_assert_msg(e <= TOL_REL, "decode %lldx%lld error %g > %g", (long long)h, (long long)w, e, TOL_REL);
    ck_assert(m > 0.1); /* the reference is not degenerate */
    ov_mem_free_tensor(&f.mem, &z);
    ov_mem_free_tensor(&f.mem, &img);
    close_vae(&f);
    free(zh);
    free(ref);
    free(out);
}

START_TEST(decode_8x8_matches_diffusers)
{
    decode_golden(8, 8);
}
END_TEST

START_TEST(decode_8x12_matches_diffusers)
{
    decode_golden(8, 12);
}
END_TEST

/* The mid attention in chunks of a few query rows (8x12 latent: 96 tokens; 200-element chunks
 * = 2 rows each, 48 chunks) gives the same image. */
START_TEST(decode_attention_in_chunks_matches_diffusers)
{
    ov_sdxl_vae_attn_chunk_force(200);
    decode_golden(8, 12);
    ov_sdxl_vae_attn_chunk_force(0);
}
END_TEST

START_TEST(encode_matches_diffusers)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", NULL), 0);
    ck_assert_int_eq(open_vae(&f, g_path), 0);
    int64_t ni = 3 * 64 * 64, nm = 4 * 8 * 8;
    float *xh = read_golden("vae_enc_img_64.f32", ni), *ref = read_golden("vae_enc_mean_64.f32", nm);
    float out[4 * 8 * 8];
    ov_tensor x, mean;
    host_tensor(&f, &x, "img", 1, 3, 64, 64);
    host_tensor(&f, &mean, "mean", 1, 4, 8, 8);
    ck_assert_int_eq(ov_tensor_upload(&x, xh, (size_t)ni * sizeof(float)), 0);
    size_t need = ov_sdxl_vae_encode_scratch_bytes(f.vae, 64, 64);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "vae", need), 0);
    int rc = ov_sdxl_vae_encode(f.vae, &f.arena, &x, &mean);
    ck_assert_msg(rc == 0, "encode: %d %s", rc, ov_tensor_last_error());
    ck_assert_uint_le(f.arena.peak_bytes, need);
    ck_assert_int_eq(ov_tensor_download(&mean, out, sizeof out), 0);
    double m, e = rel_err(out, ref, nm, &m);
    fprintf(stderr, "vae encode 64x64: max|ref| %.4f, max|d|/max(1,max|ref|) %.3g (tol %.1e)\n", m, e,
            TOL_REL);
    ck_assert_msg(e <= TOL_REL, "encode error %g > %g", e, TOL_REL);
    ck_assert(m > 0.1);
    ov_mem_free_tensor(&f.mem, &x);
    ov_mem_free_tensor(&f.mem, &mean);
    close_vae(&f);
    free(xh);
    free(ref);
}
END_TEST

/* What a shipped checkpoint looks like: f16 weights kept f16 (weight_dtype -1), widened inside
 * the convs, activations f32. Against the f32-weight golden the only difference is the weights'
 * f16 rounding (2^-11 relative): measured 8.4e-4 of max|ref|, bound 5e-3. */
START_TEST(f16_weights_decode)
{
    fixture f;
    ck_assert_int_eq(write_model_dtype(g_path, "tiny", NULL, OV_DTYPE_F16), 0);
    ck_assert_int_eq(open_vae_dtype(&f, g_path, -1), 0);
    size_t weight_bytes = f.mem.used_bytes;
    float *zh = read_golden("vae_dec_z_8x8.f32", 256), *ref = read_golden("vae_dec_img_8x8.f32", 12288);
    float *out = malloc(12288 * sizeof(float));
    ov_tensor z, img;
    host_tensor(&f, &z, "z", 1, 4, 8, 8);
    host_tensor(&f, &img, "img", 1, 3, 64, 64);
    ck_assert_int_eq(ov_tensor_upload(&z, zh, 256 * sizeof(float)), 0);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "vae", ov_sdxl_vae_decode_scratch_bytes(f.vae, 8, 8)),
                     0);
    int rc = ov_sdxl_vae_decode(f.vae, &f.arena, &z, &img);
    ck_assert_msg(rc == 0, "decode: %d %s", rc, ov_tensor_last_error());
    ck_assert_int_eq(ov_tensor_download(&img, out, 12288 * sizeof(float)), 0);
    double m, e = rel_err(out, ref, 12288, &m);
    fprintf(stderr,
            "vae decode 8x8, f16 weights: max|d|/max(1,max|ref|) %.3g (tol 5e-3), weights %zu bytes\n", e,
            weight_bytes);
    ck_assert_msg(e <= 5e-3, "f16-weight decode error %g", e);
    ck_assert(e > 1e-6); /* the weights really were f16 */
    ov_mem_free_tensor(&f.mem, &z);
    ov_mem_free_tensor(&f.mem, &img);
    close_vae(&f);
    free(zh);
    free(ref);
    free(out);
}
END_TEST

/* A batch of two decodes each image exactly as alone (images run one at a time). */
START_TEST(batch_equals_single)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", NULL), 0);
    ck_assert_int_eq(open_vae(&f, g_path), 0);
    float *zh = read_golden("vae_dec_z_8x8.f32", 256);
    float z2[512];
    for (int i = 0; i < 256; i++) {
        z2[i] = zh[i];
        z2[256 + i] = -0.5f * zh[255 - i];
    }
    ov_tensor zb, ib, z1, i1;
    host_tensor(&f, &zb, "z", 2, 4, 8, 8);
    host_tensor(&f, &ib, "img", 2, 3, 64, 64);
    host_tensor(&f, &z1, "z1", 1, 4, 8, 8);
    host_tensor(&f, &i1, "img1", 1, 3, 64, 64);
    ck_assert_int_eq(ov_tensor_upload(&zb, z2, sizeof z2), 0);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "vae", ov_sdxl_vae_decode_scratch_bytes(f.vae, 8, 8)),
                     0);
    ck_assert_int_eq(ov_sdxl_vae_decode(f.vae, &f.arena, &zb, &ib), 0);
    float *bo = malloc(2 * 12288 * sizeof(float)), *so = malloc(12288 * sizeof(float));
    ck_assert_int_eq(ov_tensor_download(&ib, bo, 2 * 12288 * sizeof(float)), 0);
    for (int b = 0; b < 2; b++) {
        ck_assert_int_eq(ov_tensor_upload(&z1, z2 + 256 * b, 256 * sizeof(float)), 0);
        ck_assert_int_eq(ov_sdxl_vae_decode(f.vae, &f.arena, &z1, &i1), 0);
        ck_assert_int_eq(ov_tensor_download(&i1, so, 12288 * sizeof(float)), 0);
        ck_assert_mem_eq(so, bo + 12288 * b, 12288 * sizeof(float));
    }
    ck_assert(memcmp(bo, bo + 12288, 12288 * sizeof(float)) != 0);
    ov_mem_free_tensor(&f.mem, &zb);
    ov_mem_free_tensor(&f.mem, &ib);
    ov_mem_free_tensor(&f.mem, &z1);
    ov_mem_free_tensor(&f.mem, &i1);
    close_vae(&f);
    free(zh);
    free(bo);
    free(so);
}
END_TEST

/* Wrong shapes in, too small an arena: clear errors, nothing left allocated. */
START_TEST(bad_io)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", NULL), 0);
    ck_assert_int_eq(open_vae(&f, g_path), 0);
    ov_tensor z, img, z3, mean;
    host_tensor(&f, &z, "z", 1, 4, 8, 8);
    host_tensor(&f, &img, "img", 1, 3, 64, 72);
    host_tensor(&f, &z3, "z3", 1, 3, 8, 8);
    host_tensor(&f, &mean, "mean", 1, 4, 8, 8);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "vae", 4096), 0);
    ck_assert_int_eq(ov_sdxl_vae_decode(f.vae, &f.arena, &z, &img), OV_EINVAL);
    ck_assert_msg(strstr(ov_tensor_last_error(), "[1,3,64,72]") != NULL, "%s", ov_tensor_last_error());
    ck_assert_int_eq(ov_sdxl_vae_decode(f.vae, &f.arena, &z3, &img), OV_EINVAL);
    /* encode of a 64×72 image needs mean [1,4,8,9] */
    ck_assert_int_eq(ov_sdxl_vae_encode(f.vae, &f.arena, &img, &mean), OV_EINVAL);
    ov_tensor img64;
    host_tensor(&f, &img64, "img64", 1, 3, 64, 64);
    ck_assert_int_eq(ov_sdxl_vae_decode(f.vae, &f.arena, &z, &img64), OV_EBUDGET);
    ck_assert_uint_eq(f.arena.top_bytes, 0);
    ov_mem_free_tensor(&f.mem, &z);
    ov_mem_free_tensor(&f.mem, &img);
    ov_mem_free_tensor(&f.mem, &z3);
    ov_mem_free_tensor(&f.mem, &mean);
    ov_mem_free_tensor(&f.mem, &img64);
    close_vae(&f);
}
END_TEST

static void drop_tensor(ov_mk_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, "first_stage_model.decoder.up.1.block.2.conv2.bias")) {
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof l->v[0]);
            l->n--;
            return;
        }
    ck_abort_msg("tensor to drop not in the list");
}

static void bad_shape(ov_mk_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, "first_stage_model.encoder.mid.attn_1.k.weight")) {
            l->v[i].shape[1] = 32;
            return;
        }
    ck_abort_msg("tensor to reshape not in the list");
}

START_TEST(missing_tensor)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", drop_tensor), 0);
    ck_assert_int_eq(open_vae(&f, g_path), OV_ENOENT);
    ck_assert_ptr_null(f.vae);
    ck_assert_msg(strstr(ov_tensor_last_error(), "vae.decoder.up.1.block.2.conv2.bias") != NULL, "%s",
                  ov_tensor_last_error());
    close_vae(&f); /* everything loaded before the failure was freed */
}
END_TEST

START_TEST(wrong_shape)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", bad_shape), 0);
    ck_assert_int_eq(open_vae(&f, g_path), OV_EFORMAT);
    ck_assert_ptr_null(f.vae);
    const char *e = ov_tensor_last_error();
    ck_assert_msg(strstr(e, "vae.encoder.mid.attn_1.k.weight") && strstr(e, "[64,32,1,1]"), "%s", e);
    close_vae(&f);
}
END_TEST

START_TEST(no_vae_in_file)
{
    fixture f;
    ck_assert_int_eq(write_model(g_path, "tiny", NULL), 0);
    memset(&f, 0, sizeof f);
    ov_mem_init(&f.mem, ov_backend_cpu(), 0);
    ck_assert_int_eq(ov_weights_open(g_path, &f.w), 0); /* not remapped: no vae.* names */
    ck_assert_int_eq(ov_sdxl_vae_load(f.w, &f.mem, OV_DTYPE_F32, &f.vae), OV_ENOENT);
    ck_assert_msg(strstr(ov_tensor_last_error(), "vae.decoder.up.0.block.0.conv1.weight"), "%s",
                  ov_tensor_last_error());
    close_vae(&f);
}
END_TEST

/* The "full" list is the real SDXL VAE: the same parameter count as diffusers' AutoencoderKL
 * with block_out_channels (128, 256, 512, 512) (printed by make_vae.py), real key names. */
START_TEST(full_list_is_sdxl)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    ck_assert_int_eq(ov_mk_sdxl_vae(&l, "full"), 0);
    int64_t n = 0;
    int seen = 0;
    for (size_t i = 0; i < l.n; i++) {
        n += ov_mk_nelem(&l.v[i]);
        seen += !strcmp(l.v[i].name, "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight") &&
                l.v[i].shape[0] == 128 && l.v[i].shape[1] == 256;
        seen += !strcmp(l.v[i].name, "first_stage_model.encoder.down.2.downsample.conv.weight") &&
                l.v[i].shape[0] == 512;
        seen += !strcmp(l.v[i].name, "first_stage_model.quant_conv.weight") && l.v[i].shape[0] == 8;
        ck_assert(strcmp(l.v[i].name, "first_stage_model.encoder.down.3.downsample.conv.weight") != 0);
        ck_assert(strcmp(l.v[i].name, "first_stage_model.decoder.up.0.upsample.conv.weight") != 0);
    }
    ck_assert_int_eq(seen, 3);
    ck_assert_int_eq(n, 83653863);
    ck_assert_int_eq(l.n, 248);
    ck_assert_int_eq(ov_mk_sdxl_vae(&l, "huge"), OV_EINVAL);
    ov_mk_list_free(&l);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-model")) /* for tests/golden/sdxl/make_vae.py */
        return write_model(argv[2], "tiny", NULL) ? 1 : 0;
    Suite *s = suite_create("sdxl_vae");
    TCase *tc = tcase_create("vae");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, decode_8x8_matches_diffusers);
    tcase_add_test(tc, decode_8x12_matches_diffusers);
    tcase_add_test(tc, decode_attention_in_chunks_matches_diffusers);
    tcase_add_test(tc, encode_matches_diffusers);
    tcase_add_test(tc, f16_weights_decode);
    tcase_add_test(tc, batch_equals_single);
    tcase_add_test(tc, bad_io);
    tcase_add_test(tc, missing_tensor);
    tcase_add_test(tc, wrong_shape);
    tcase_add_test(tc, no_vae_in_file);
    tcase_add_test(tc, full_list_is_sdxl);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
