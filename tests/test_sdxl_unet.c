/* Tests for workers/sdxl/unet.c: the tiny mkmodel UNet against diffusers' UNet2DConditionModel
 * (tests/golden/sdxl/make_unet.py), structure from names, and clear load/input errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/model/weights.h"
#include "common/tensor/dtype.h"
#include "common/tensor/backend.h"
#include "common/tensor/ops.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/unet.h"

#define ARENA_BYTES ((size_t)96 << 20)

static char g_dir[] = "/tmp/ov_sdxl_unet_XXXXXX";
static char g_model[512];

/* The tiny UNet alone, as the single-file layout (model.diffusion_model.*), f32. `edit` may
 * change the list first (drop or reshape a tensor). */
static int write_unet(const char *path, void (*edit)(ov_mk_list *))
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_unet(&l, "tiny");
    if (!rc && edit)
        edit(&l);
    char err[512] = "";
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F32, 42, NULL, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "write_unet: %d %s\n", rc, err);
    ov_mk_list_free(&l);
    return rc;
}

static ov_mk_spec *find_spec(ov_mk_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

typedef struct fixture {
    ov_backend *be;
    ov_mem mem;
    ov_weights *w;
    ov_sdxl_unet *u;
    ov_arena arena;
} fixture;

static int open_unet_dtype(fixture *f, const char *path, int weight_dtype)
{
    memset(f, 0, sizeof *f);
    f->be = ov_backend_cpu();
    ov_mem_init(&f->mem, f->be, 0);
    int rc = ov_weights_open(path, &f->w);
    ck_assert_msg(rc == 0, "open %s: %s", path, ov_tensor_last_error());
    ck_assert_int_eq(ov_weights_remap(f->w, &ov_remap_sdxl_single_file, 1, NULL), 0);
    return ov_sdxl_unet_load(f->w, &f->mem, weight_dtype, &f->u);
}

static int open_unet(fixture *f, const char *path)
{
    return open_unet_dtype(f, path, OV_DTYPE_F32);
}

static void close_unet(fixture *f)
{
    ov_arena_free(&f->arena);
    ov_sdxl_unet_free(f->u, &f->mem);
    ov_weights_close(f->w);
    ck_assert_uint_eq(f->mem.used_bytes, 0);
}

static float *read_golden(const char *name, int64_t n)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/golden/sdxl/%s", src ? src : ".", name);
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    float *v = malloc((size_t)n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(fread(v, sizeof *v, (size_t)n, fp) == (size_t)n, "%s: short file", path);
    ck_assert_msg(fgetc(fp) == EOF, "%s: longer than %lld floats", path, (long long)n);
    fclose(fp);
    return v;
}

static void tensor_of(ov_tensor *t, const char *name, float *data, int ndim, const int64_t *shape)
{
    ck_assert_int_eq(ov_tensor_init(t, name, OV_DTYPE_F32, ndim, shape, data, ov_backend_cpu()), 0);
}

/* One forward at latent h×w on the stored inputs, compared with diffusers' output.
 * Tolerance: max|Δ| <= 5e-5 · max(1, max|ref|). Both sides compute in f32; the difference is
 * summation order (OpenBLAS vs torch GEMMs/convs, tiled online softmax vs SDPA) through ~60
 * layers: measured 5.0e-6 (8×8) and 6.9e-6 (8×16) with max|ref| ≈ 2, so 10× headroom. A wrong
 * eps, head split, GEGLU half or skip order gives errors of order 1e-2 and more. */
static void golden_case(int64_t h, int64_t w, const char *x_file, const char *out_file, int weight_dtype,
                        double tol)
{
    fixture f;
    int rc = open_unet_dtype(&f, g_model, weight_dtype);
    ck_assert_msg(rc == 0, "load: %s", ov_tensor_last_error());
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "unet", ARENA_BYTES), 0);
    const int64_t B = 2, n_x = B * 4 * h * w;
    float *xv = read_golden(x_file, n_x), *tv = read_golden("unet_t.f32", B);
    float *cv = read_golden("unet_context.f32", B * 77 * 256), *yv = read_golden("unet_y.f32", B * 320);
    float *ref = read_golden(out_file, n_x), *ov = calloc((size_t)n_x, sizeof *ov);
    ov_tensor x, t, c, y, o;
    tensor_of(&x, "x", xv, 4, (int64_t[]){B, 4, h, w});
    tensor_of(&t, "t", tv, 1, (int64_t[]){B});
    tensor_of(&c, "context", cv, 3, (int64_t[]){B, 77, 256});
    tensor_of(&y, "y", yv, 2, (int64_t[]){B, 320});
    tensor_of(&o, "out", ov, 4, (int64_t[]){B, 4, h, w});
    size_t mark = ov_arena_mark(&f.arena);
    rc = ov_sdxl_unet_forward(f.u, &f.arena, &x, &t, &c, &y, &o);
    ck_assert_msg(rc == 0, "forward: %s", ov_tensor_last_error());
    ck_assert_uint_eq(ov_arena_mark(&f.arena), mark); /* scratch released */
    double max_ref = 0, max_d = 0;
    for (int64_t i = 0; i < n_x; i++) {
        ck_assert_msg(isfinite(ov[i]), "out[%lld] not finite", (long long)i);
        max_ref = fmax(max_ref, fabs(ref[i]));
        max_d = fmax(max_d, fabs((double)ov[i] - ref[i]));
    }
    fprintf(stderr, "sdxl unet %lldx%lld %s weights: max|ref| %.4f max|delta| %.3g (peak arena %.1f MiB)\n",
            (long long)h, (long long)w, ov_dtype_name(weight_dtype), max_ref, max_d,
            f.arena.peak_bytes / 1048576.0);
    ck_assert_msg(max_ref > 0.1, "reference output is degenerate (max %g)", max_ref);
    ck_assert_msg(max_d <= tol * fmax(1.0, max_ref), "max|delta| %g vs max|ref| %g", max_d, max_ref);
    free(xv);
    free(tv);
    free(cv);
    free(yv);
    free(ref);
    free(ov);
    close_unet(&f);
}

START_TEST(test_golden_square)
{
    golden_case(8, 8, "unet_x_sq.f32", "unet_out_sq.f32", OV_DTYPE_F32, 5e-5);
}
END_TEST

START_TEST(test_golden_wide)
{
    golden_case(8, 16, "unet_x_wide.f32", "unet_out_wide.f32", OV_DTYPE_F32, 5e-5);
}
END_TEST

/* Half weights (what full checkpoints ship, converted per GEMM tile / conv call): the same
 * forward with conv/linear weights rounded to f16 (rel. 2^-11 each). Tolerance 5e-3·max(1,
 * max|ref|): measured 2.9e-3 at max|ref| 2.37 (4× headroom) — rounding noise through ~60
 * layers, still far below a structural error (>= 1e-1). */
START_TEST(test_golden_f16_weights)
{
    golden_case(8, 16, "unet_x_wide.f32", "unet_out_wide.f32", OV_DTYPE_F16, 5e-3);
}
END_TEST

/* The structure is read from names and shapes only (tiny preset of mkmodel_sdxl.h). */
START_TEST(test_structure)
{
    fixture f;
    int rc = open_unet(&f, g_model);
    ck_assert_msg(rc == 0, "load: %s", ov_tensor_last_error());
    const ov_sdxl_unet_info *in = ov_sdxl_unet_get_info(f.u);
    ck_assert_int_eq(in->model_channels, 64);
    ck_assert_int_eq(in->n_levels, 3);
    ck_assert_int_eq(in->channel_mult[0], 1);
    ck_assert_int_eq(in->channel_mult[1], 2);
    ck_assert_int_eq(in->channel_mult[2], 4);
    ck_assert_int_eq(in->depth[0], 0);
    ck_assert_int_eq(in->depth[1], 1);
    ck_assert_int_eq(in->depth[2], 2);
    ck_assert_int_eq(in->mid_depth, 2);
    ck_assert_int_eq(in->in_channels, 4);
    ck_assert_int_eq(in->out_channels, 4);
    ck_assert_int_eq(in->context_dim, 256);
    ck_assert_int_eq(in->adm_in_channels, 320);
    ck_assert_int_eq(in->time_embed_dim, 256);
    /* every tensor of the file is loaded as f32 (none left over, none twice) */
    int64_t bytes = 0;
    for (size_t i = 0; i < ov_weights_count(f.w); i++) {
        ov_weight_info wi;
        ck_assert_int_eq(ov_weights_info(f.w, ov_weights_name_at(f.w, i), &wi), 0);
        bytes += (int64_t)wi.n_bytes;
    }
    ck_assert_int_eq(in->weight_bytes, bytes);
    ck_assert_uint_eq(f.mem.used_bytes, (size_t)bytes);
    close_unet(&f);
}
END_TEST

static void drop_attn2_k(ov_mk_list *l)
{
    ov_mk_spec *s =
        find_spec(l, "model.diffusion_model.output_blocks.4.1.transformer_blocks.0.attn2.to_k.weight");
    ck_assert_ptr_nonnull(s);
    size_t i = (size_t)(s - l->v);
    memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
    l->n--;
}

static void reshape_emb(ov_mk_list *l)
{
    ov_mk_spec *s = find_spec(l, "model.diffusion_model.input_blocks.5.0.emb_layers.1.weight");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->shape[1], 256);
    s->shape[1] = 255;
}

static void bad_load(void (*edit)(ov_mk_list *), int want_rc, const char *want_in_msg)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.safetensors", g_dir);
    ck_assert_int_eq(write_unet(path, edit), 0);
    fixture f;
    int rc = open_unet(&f, path);
    const char *msg = ov_tensor_last_error();
    ck_assert_msg(rc == want_rc, "rc %d (%s), want %d", rc, msg, want_rc);
    ck_assert_msg(strstr(msg, want_in_msg) != NULL, "message '%s' lacks '%s'", msg, want_in_msg);
    ck_assert_ptr_null(f.u);
    ck_assert_uint_eq(f.mem.used_bytes, 0); /* everything loaded before the failure is freed */
    ov_weights_close(f.w);
    unlink(path);
}

START_TEST(test_missing_tensor)
{
    bad_load(drop_attn2_k, OV_ENOENT, "output_blocks.4.1.transformer_blocks.0.attn2.to_k.weight");
}
END_TEST

START_TEST(test_wrong_shape)
{
    bad_load(reshape_emb, OV_EFORMAT, "input_blocks.5.0.emb_layers.1.weight");
}
END_TEST

/* A file without any UNet tensor says so. */
static void drop_all(ov_mk_list *l)
{
    l->n = 1;
    snprintf(l->v[0].name, sizeof l->v[0].name, "first_stage_model.decoder.conv_in.bias");
    l->v[0].ndim = 1;
    l->v[0].shape[0] = 4;
}

START_TEST(test_no_unet)
{
    bad_load(drop_all, OV_ENOENT, "no SDXL UNet tensors");
}
END_TEST

START_TEST(test_bad_inputs)
{
    fixture f;
    int rc = open_unet(&f, g_model);
    ck_assert_msg(rc == 0, "load: %s", ov_tensor_last_error());
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "unet", ARENA_BYTES), 0);
    static float buf[2 * 77 * 256];
    ov_tensor x, x6, x3, t, c, cbad, y, o, o6;
    tensor_of(&x, "x", buf, 4, (int64_t[]){1, 4, 8, 8});
    tensor_of(&x3, "x", buf, 4, (int64_t[]){1, 3, 8, 8});
    tensor_of(&x6, "x", buf, 4, (int64_t[]){1, 4, 6, 8});
    tensor_of(&t, "t", buf, 1, (int64_t[]){1});
    tensor_of(&c, "context", buf, 3, (int64_t[]){1, 77, 256});
    tensor_of(&cbad, "context", buf, 3, (int64_t[]){1, 77, 128});
    tensor_of(&y, "y", buf, 2, (int64_t[]){1, 320});
    static float obuf[4 * 8 * 8];
    tensor_of(&o, "out", obuf, 4, (int64_t[]){1, 4, 8, 8});
    tensor_of(&o6, "out", obuf, 4, (int64_t[]){1, 4, 6, 8});
    ck_assert_int_eq(ov_sdxl_unet_forward(f.u, &f.arena, &x3, &t, &c, &y, &o), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "x is [1,3,8,8]"));
    ck_assert_int_eq(ov_sdxl_unet_forward(f.u, &f.arena, &x6, &t, &c, &y, &o6), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "not a multiple of 4"));
    ck_assert_int_eq(ov_sdxl_unet_forward(f.u, &f.arena, &x, &t, &cbad, &y, &o), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "context"));
    ck_assert_int_eq(ov_sdxl_unet_forward(f.u, &f.arena, &x, &t, &c, &y, &o6), OV_EINVAL);
    /* the arena is too small for a 1024² latent: a clear budget error, not a crash */
    static float big[4 * 128 * 128];
    static float bigo[4 * 128 * 128];
    ov_tensor xb, ob;
    tensor_of(&xb, "x", big, 4, (int64_t[]){1, 4, 128, 128});
    tensor_of(&ob, "out", bigo, 4, (int64_t[]){1, 4, 128, 128});
    ov_arena_free(&f.arena);
    ck_assert_int_eq(ov_arena_init(&f.arena, &f.mem, "unet", (size_t)4 << 20), 0);
    ck_assert_int_eq(ov_sdxl_unet_forward(f.u, &f.arena, &xb, &t, &c, &y, &ob), OV_EBUDGET);
    ck_assert_uint_eq(ov_arena_mark(&f.arena), 0);
    close_unet(&f);
}
END_TEST

int main(int argc, char **argv)
{
    /* --write-model PATH: write the tiny UNet file the golden recipe reads, and exit. */
    if (argc == 3 && strcmp(argv[1], "--write-model") == 0)
        return write_unet(argv[2], NULL) ? 1 : 0;
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_model, sizeof g_model, "%s/unet_tiny.safetensors", g_dir);
    if (write_unet(g_model, NULL))
        return 1;
    Suite *s = suite_create("sdxl_unet");
    TCase *tc = tcase_create("unet");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_golden_square);
    tcase_add_test(tc, test_golden_wide);
    tcase_add_test(tc, test_golden_f16_weights);
    tcase_add_test(tc, test_structure);
    tcase_add_test(tc, test_missing_tensor);
    tcase_add_test(tc, test_wrong_shape);
    tcase_add_test(tc, test_no_unet);
    tcase_add_test(tc, test_bad_inputs);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    unlink(g_model);
    rmdir(g_dir);
    return failed ? 1 : 0;
}
