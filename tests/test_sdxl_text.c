/* Tests for SDXL conditioning (workers/sdxl/sdxl_text.h): CLIP-L and bigG on the tiny random
 * checkpoint from tools/mkmodel/sdxl_te.c against transformers / open_clip golden outputs
 * (tests/golden/sdxl/make_text.py), chunking, emphasis, the ADM vector and bad checkpoints.
 *
 * `test_sdxl_text --write-te FILE` writes the tiny te1+te2 checkpoint the golden recipe reads. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "common/model/weights.h"
#include "common/tensor/backend.h"
#include "common/tensor/dtype.h"
#include "common/text/tok_clip.h"
#include "tools/mkmodel/mkmodel_sdxl.h"
#include "workers/sdxl/sdxl_text.h"

#define SEED 42 /* ourvidz-mkmodel's default seed: the same tensors as `mkmodel sdxl --preset tiny` */

/* Tolerance: the golden is torch float64; we compute in f32 through 3 pre-LN blocks with O(1)
 * activations, so differences are f32 rounding (~1e-6 per op, a few 1e-6 after LayerNorms).
 * 2e-4 absolute + 2e-4 relative leaves margin for summation order while catching any real error
 * (a wrong mask, layer, activation or weight gives differences of order 0.1..1). */
#define TOL_ABS 2e-4
#define TOL_REL 2e-4

static char g_dir[512];
static char g_te_path[600];
static ov_tok_clip *g_tok;

/* ---- golden file: gzip of records {u32 name_len, name, u32 dtype (0 f32, 1 i32, 2 utf-8), u32 ndim,
 * i64 shape[ndim], data} (written by make_text.py) ---- */

typedef struct grec {
    char name[64];
    uint32_t dtype, ndim;
    int64_t shape[4];
    int64_t n;
    void *data;
} grec;

static grec g_rec[128];
static size_t g_nrec;

static void gread(gzFile f, void *p, size_t n)
{
    ck_assert_int_eq(gzread(f, p, (unsigned)n), (int)n);
}

static void load_golden(void)
{
    char p[4096];
    const char *s = getenv("OURVIDZ_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/tests/golden/sdxl/text_golden.bin.gz", s ? s : ".");
    gzFile f = gzopen(p, "rb");
    ck_assert_msg(f != NULL, "missing %s", p);
    uint32_t nl;
    while (gzread(f, &nl, 4) == 4) {
        ck_assert(g_nrec < sizeof g_rec / sizeof g_rec[0] && nl < sizeof g_rec[0].name);
        grec *r = &g_rec[g_nrec++];
        memset(r, 0, sizeof *r);
        gread(f, r->name, nl);
        gread(f, &r->dtype, 4);
        gread(f, &r->ndim, 4);
        ck_assert(r->ndim <= 4 && r->dtype <= 2);
        r->n = 1;
        for (uint32_t i = 0; i < r->ndim; i++) {
            gread(f, &r->shape[i], 8);
            r->n *= r->shape[i];
        }
        size_t es = r->dtype == 2 ? 1 : 4;
        r->data = calloc((size_t)r->n + 1, es); /* +1: text is NUL-terminated */
        gread(f, r->data, (size_t)r->n * es);
    }
    gzclose(f);
}

static const grec *golden_named(const char *name)
{
    for (size_t k = 0; k < g_nrec; k++)
        if (strcmp(g_rec[k].name, name) == 0)
            return &g_rec[k];
    ck_abort_msg("golden record %s missing", name);
    return NULL;
}

/* the record "p<i>.<field>" */
static const grec *golden(const char *fmt, int i)
{
    char name[64];
    snprintf(name, sizeof name, fmt, i);
    return golden_named(name);
}

/* ---- the tiny te1 + te2 checkpoint ---- */

/* Write the tiny text encoders as one single-file checkpoint. drop: a file name to leave out;
 * reshape: a file name whose last dim grows by 1. */
static int write_te(const char *path, const char *drop, const char *reshape)
{
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_te1(&l, "tiny");
    if (!rc)
        rc = ov_mk_sdxl_te2(&l, "tiny");
    for (size_t i = 0; !rc && i < l.n; i++) {
        if (drop && strcmp(l.v[i].name, drop) == 0) {
            memmove(&l.v[i], &l.v[i + 1], (l.n - i - 1) * sizeof l.v[0]);
            l.n--;
            i--;
        } else if (reshape && strcmp(l.v[i].name, reshape) == 0) {
            l.v[i].shape[l.v[i].ndim - 1] += 1;
        }
    }
    char err[512] = "";
    const char *meta[] = {"ourvidz.note", "tiny SDXL text encoders (test_sdxl_text)"};
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, OV_DTYPE_F32, SEED, meta, 1, err, sizeof err);
    if (rc)
        fprintf(stderr, "write_te %s: %d %s\n", path, rc, err);
    ov_mk_list_free(&l);
    return rc;
}

static void setup_once(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ov_sdxl_text_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_te_path, sizeof g_te_path, "%s/te.safetensors", g_dir);
    if (write_te(g_te_path, NULL, NULL) != 0)
        abort();
    if (ov_tok_clip_load_default(&g_tok) != 0)
        abort();
}

static void teardown_once(void)
{
    unlink(g_te_path);
    rmdir(g_dir);
    ov_tok_clip_free(g_tok);
}

typedef struct model {
    ov_mem mem;
    ov_arena arena;
    ov_weights *w;
    ov_sdxl_text *te;
} model;

static int open_te(const char *path, model *m)
{
    memset(m, 0, sizeof *m);
    ov_mem_init(&m->mem, ov_backend_cpu(), 0);
    int rc = ov_weights_open(path, &m->w);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(ov_weights_remap(m->w, &ov_remap_sdxl_single_file, 1, NULL), 0);
    ck_assert_int_eq(ov_arena_init(&m->arena, &m->mem, "activations", 64u << 20), 0);
    return ov_sdxl_text_load(m->w, &m->mem, OV_DTYPE_F32, &m->te);
}

static void close_te(model *m)
{
    ov_sdxl_text_free(m->te, &m->mem);
    ov_arena_free(&m->arena);
    ov_weights_close(m->w);
    ck_assert_uint_eq(m->mem.used_bytes, 0);
}

static float *download(const ov_tensor *t)
{
    float *h = malloc(ov_tensor_nbytes(t));
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(ov_tensor_download(t, h, ov_tensor_nbytes(t)), 0);
    return h;
}

/* max |a - b| over n values; fails when any |a - b| > TOL_ABS + TOL_REL·|b|. */
static double compare(const char *what, const float *a, const float *b, int64_t n)
{
    double worst = 0.0, worst_ex = -1.0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double ex = d - (TOL_ABS + TOL_REL * fabs((double)b[i]));
        if (d > worst)
            worst = d;
        if (ex > worst_ex) {
            worst_ex = ex;
            at = i;
        }
    }
    ck_assert_msg(worst_ex <= 0.0, "%s: element %lld is %g, want %g", what, (long long)at, (double)a[at],
                  (double)b[at]);
    return worst;
}

#define N_PROMPTS 6

/* Our tokenizer + chunking gives the recipe's ids (open_clip SimpleTokenizer) and weights (A1111
 * segments written out by hand), for both pads. */
static void check_tokens(int i, const char *prompt, int weighted, size_t *n_chunks)
{
    ov_tok_ids ids;
    ov_tok_ids_init(&ids, 4096);
    float *w = malloc(4096 * sizeof *w);
    ck_assert_int_eq(weighted ? ov_tok_clip_encode_weighted(g_tok, prompt, strlen(prompt), &ids, w)
                              : ov_tok_clip_encode(g_tok, prompt, strlen(prompt), &ids),
                     0);
    const grec *gl = golden("p%d.ids_l", i), *gg = golden("p%d.ids_g", i), *gw = golden("p%d.weights", i);
    size_t nc = 0, cap = (size_t)gl->shape[0];
    int32_t *cl = malloc(cap * OV_CLIP_CTX * 4), *cg = malloc(cap * OV_CLIP_CTX * 4);
    float *cw = malloc(cap * OV_CLIP_CTX * 4);
    ck_assert_int_eq(ov_tok_clip_chunks(ids.v, weighted ? w : NULL, ids.len, OV_CLIP_PAD_L, cap, cl, cw, &nc),
                     0);
    ck_assert_uint_eq(nc, cap);
    ck_assert_int_eq(memcmp(cl, gl->data, cap * OV_CLIP_CTX * 4), 0);
    ck_assert_int_eq(ov_tok_clip_chunks(ids.v, NULL, ids.len, OV_CLIP_PAD_G, cap, cg, NULL, &nc), 0);
    ck_assert_int_eq(memcmp(cg, gg->data, cap * OV_CLIP_CTX * 4), 0);
    for (size_t k = 0; k < cap * OV_CLIP_CTX; k++) /* 1.1·1.2 parsed in float vs the recipe's double */
        ck_assert_float_eq_tol(cw[k], ((const float *)gw->data)[k], 1e-6f);
    *n_chunks = nc;
    free(cl);
    free(cg);
    free(cw);
    free(w);
    ov_tok_ids_free(&ids);
}

/* Context (te1 ‖ te2 penultimate states, emphasis applied) and pooled vs transformers/open_clip. */
START_TEST(golden_prompts)
{
    load_golden();
    model m;
    ck_assert_int_eq(open_te(g_te_path, &m), 0);
    for (int i = 0; i < N_PROMPTS; i++) {
        const char *prompt = golden("p%d.prompt", i)->data;
        int weighted = *(const int32_t *)golden("p%d.weighted", i)->data;
        size_t want_chunks = 0, nc = 0;
        check_tokens(i, prompt, weighted, &want_chunks);
        size_t mark = ov_arena_mark(&m.arena);
        ov_tensor ctx, pooled;
        int rc = ov_sdxl_text_encode(m.te, g_tok, prompt, weighted, 8, &m.arena, &ctx, &pooled, &nc);
        ck_assert_msg(rc == 0, "p%d: %d %s", i, rc, ov_tensor_last_error());
        ck_assert_uint_eq(nc, want_chunks);
        const grec *gc = golden("p%d.context", i), *gp = golden("p%d.pooled", i);
        ck_assert_int_eq(ctx.ndim, 3);
        ck_assert_int_eq(ctx.shape[0], 1);
        ck_assert_int_eq(ctx.shape[1], gc->shape[1]);
        ck_assert_int_eq(ctx.shape[2], 256);
        ck_assert_int_eq(pooled.ndim, 2);
        ck_assert_int_eq(pooled.shape[1], 128);
        float *hc = download(&ctx), *hp = download(&pooled);
        char what[64];
        snprintf(what, sizeof what, "p%d context", i);
        double dc = compare(what, hc, gc->data, gc->n);
        snprintf(what, sizeof what, "p%d pooled", i);
        double dp = compare(what, hp, gp->data, gp->n);
        fprintf(stderr, "sdxl text p%d (%zu chunk%s%s): max |d| context %.3g, pooled %.3g\n", i, nc,
                nc > 1 ? "s" : "", weighted ? ", weighted" : "", dc, dp);
        free(hc);
        free(hp);
        ov_arena_release(&m.arena, mark);
    }
    close_te(&m);
}
END_TEST

/* y = pooled ‖ 6 × Timesteps(32) of (orig h, w, crop top, left, target h, w), vs diffusers. */
START_TEST(adm_vector_matches_diffusers)
{
    load_golden();
    model m;
    ck_assert_int_eq(open_te(g_te_path, &m), 0);
    ov_tensor ctx, pooled, y;
    const char *prompt = golden("p%d.prompt", 0)->data;
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, prompt, 0, 1, &m.arena, &ctx, &pooled, NULL), 0);
    const grec *gt = golden_named("adm.time_ids"), *gy = golden_named("adm.y");
    ck_assert_int_eq(ov_sdxl_adm_vector(&pooled, gt->data, 32, &m.arena, &y), 0);
    ck_assert_int_eq(y.ndim, 2);
    ck_assert_int_eq(y.shape[0], 1);
    ck_assert_int_eq(y.shape[1], 128 + 6 * 32);
    float *hy = download(&y);
    fprintf(stderr, "sdxl adm: max |d| %.3g\n", compare("adm y", hy, gy->data, gy->n));
    free(hy);
    /* SDXL base widths: 1280 + 6·256 = 2816 (adm_in_channels) */
    ov_tensor p2;
    int64_t s[2] = {1, 1280};
    ck_assert_int_eq(ov_arena_tensor(&m.arena, &p2, "pooled", OV_DTYPE_F32, 2, s), 0);
    ck_assert_int_eq(ov_sdxl_adm_vector(&p2, gt->data, 256, &m.arena, &y), 0);
    ck_assert_int_eq(y.shape[1], 2816);
    ck_assert_int_eq(ov_sdxl_adm_vector(&ctx, gt->data, 256, &m.arena, &y), OV_EINVAL);
    close_te(&m);
}
END_TEST

START_TEST(info_from_shapes)
{
    model m;
    ck_assert_int_eq(open_te(g_te_path, &m), 0);
    const ov_sdxl_text_info *in = ov_sdxl_text_get_info(m.te);
    ck_assert_int_eq(in->te1_hidden, 128);
    ck_assert_int_eq(in->te1_layers, 3);
    ck_assert_int_eq(in->te2_hidden, 128);
    ck_assert_int_eq(in->te2_layers, 3);
    ck_assert_int_eq(in->te2_proj, 128);
    ck_assert_int_eq(in->context_dim, 256);
    ck_assert_int_eq(in->pooled_dim, 128);
    close_te(&m);
}
END_TEST

/* Weighted mode with every weight 1 is the plain encoding, bit for bit; without `weighted` the
 * brackets are text; a prompt over max_chunks windows is OV_ERANGE. */
START_TEST(weighting_modes_and_limits)
{
    load_golden();
    model m;
    ck_assert_int_eq(open_te(g_te_path, &m), 0);
    ov_tensor c0, p0, c1, p1, c2, p2;
    size_t nc = 0;
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, "a photo of a cat", 0, 1, &m.arena, &c0, &p0, NULL), 0);
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, "a photo of a cat", 1, 1, &m.arena, &c1, &p1, NULL), 0);
    float *a = download(&c0), *b = download(&c1);
    ck_assert_int_eq(memcmp(a, b, ov_tensor_nbytes(&c0)), 0);
    free(a);
    free(b);
    /* "(red:1.3) cat" unweighted: "(", "red", ":", "1", ".", "3", ")", "cat" are all tokens */
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, "(red:1.3) cat", 0, 1, &m.arena, &c2, &p2, &nc), 0);
    const grec *gc = golden("p%d.context", 3);
    a = download(&c2);
    double d = 0;
    for (int64_t k = 0; k < gc->n; k++)
        d = fmax(d, fabs(a[k] - ((const float *)gc->data)[k]));
    ck_assert_msg(d > 0.1, "literal brackets should change the encoding (max |d| %g)", d);
    free(a);
    const char *long_prompt = golden("p%d.prompt", 2)->data;
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, long_prompt, 0, 1, &m.arena, &c2, &p2, &nc), OV_ERANGE);
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "tokens"));
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, long_prompt, 0, 2, &m.arena, &c2, &p2, &nc), 0);
    ck_assert_uint_eq(nc, 2);
    ck_assert_int_eq(c2.shape[1], 154);
    /* NULL prompt = "" */
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, NULL, 0, 1, &m.arena, &c2, &p2, &nc), 0);
    ck_assert_uint_eq(nc, 1);
    ck_assert_int_eq(ov_sdxl_text_encode(m.te, g_tok, "x", 0, 0, &m.arena, &c2, &p2, &nc), OV_EINVAL);
    close_te(&m);
}
END_TEST

/* A checkpoint with one tensor missing or mis-shaped fails to load with the name in the message,
 * and everything loaded before is given back. */
static void expect_bad(const char *drop, const char *reshape, int want_rc, const char *want_in_msg)
{
    char path[700];
    snprintf(path, sizeof path, "%s/bad.safetensors", g_dir);
    ck_assert_int_eq(write_te(path, drop, reshape), 0);
    model m;
    int rc = open_te(path, &m);
    ck_assert_msg(rc == want_rc, "got %d (%s), want %d", rc, ov_tensor_last_error(), want_rc);
    ck_assert_msg(strstr(ov_tensor_last_error(), want_in_msg) != NULL, "message '%s' lacks '%s'",
                  ov_tensor_last_error(), want_in_msg);
    ck_assert_ptr_null(m.te);
    close_te(&m);
    unlink(path);
}

START_TEST(missing_tensor_is_enoent)
{
    expect_bad("conditioner.embedders.1.model.transformer.resblocks.1.attn.out_proj.weight", NULL, OV_ENOENT,
               "te2.transformer.resblocks.1.attn.out_proj.weight");
    expect_bad("conditioner.embedders.1.model.text_projection", NULL, OV_ENOENT, "te2.text_projection");
    expect_bad("conditioner.embedders.0.transformer.text_model.encoder.layers.2.mlp.fc2.bias", NULL,
               OV_ENOENT, "te1.text_model.encoder.layers.2.mlp.fc2.bias");
}
END_TEST

START_TEST(wrong_shape_is_eformat)
{
    expect_bad(NULL, "conditioner.embedders.1.model.transformer.resblocks.2.mlp.c_proj.weight", OV_EFORMAT,
               "te2.transformer.resblocks.2.mlp.c_proj.weight");
    expect_bad(NULL, "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_bias", OV_EFORMAT,
               "te2.transformer.resblocks.0.attn.in_proj_bias");
    expect_bad(NULL,
               "conditioner.embedders.0.transformer.text_model.encoder.layers.0.self_attn.k_proj.weight",
               OV_EFORMAT, "te1.text_model.encoder.layers.0.self_attn.k_proj.weight");
    /* a width that is not a multiple of the 64-wide heads */
    expect_bad(NULL, "conditioner.embedders.1.model.token_embedding.weight", OV_EFORMAT, "token_embedding");
}
END_TEST

/* The full preset is SDXL base's text encoders: CLIP ViT-L/14 text (123,060,480 parameters, the
 * HF CLIPTextModel count) and the bigG text tower (694,659,840 + logit_scale), real shapes. */
static const ov_mk_spec *find_spec(const ov_mk_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    ck_abort_msg("no %s in the list", name);
    return NULL;
}

START_TEST(full_preset_lists)
{
    ov_mk_list l1, l2;
    ov_mk_list_init(&l1);
    ov_mk_list_init(&l2);
    ck_assert_int_eq(ov_mk_sdxl_te1(&l1, "full"), 0);
    ck_assert_int_eq(ov_mk_sdxl_te2(&l2, "full"), 0);
    int64_t n1 = 0, n2 = 0;
    for (size_t i = 0; i < l1.n; i++)
        n1 += ov_mk_nelem(&l1.v[i]);
    for (size_t i = 0; i < l2.n; i++)
        n2 += ov_mk_nelem(&l2.v[i]);
    ck_assert_int_eq(n1, 123060480);
    ck_assert_int_eq(n2, 694659841);
    ck_assert_uint_eq(l1.n, 2 + 12 * 16 + 2);
    ck_assert_uint_eq(l2.n, 2 + 32 * 12 + 2 + 2);
    const ov_mk_spec *s =
        find_spec(&l1, "conditioner.embedders.0.transformer.text_model.encoder.layers.11.mlp.fc1.weight");
    ck_assert(s->ndim == 2 && s->shape[0] == 3072 && s->shape[1] == 768);
    s = find_spec(&l2, "conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight");
    ck_assert(s->ndim == 2 && s->shape[0] == 3840 && s->shape[1] == 1280);
    /* diffusers' CHECKPOINT_KEY_NAMES["xl_base"] detection key */
    s = find_spec(&l2, "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias");
    ck_assert(s->ndim == 1 && s->shape[0] == 1280);
    s = find_spec(&l2, "conditioner.embedders.1.model.text_projection");
    ck_assert(s->ndim == 2 && s->shape[0] == 1280 && s->shape[1] == 1280);
    s = find_spec(&l2, "conditioner.embedders.1.model.logit_scale");
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_int_eq(ov_mk_sdxl_te1(&l1, "huge"), OV_EINVAL);
    ck_assert_int_eq(ov_mk_sdxl_te2(&l2, "huge"), OV_EINVAL);
    ov_mk_list_free(&l1);
    ov_mk_list_free(&l2);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-te") == 0)
        return write_te(argv[2], NULL, NULL) ? 1 : 0;
    Suite *s = suite_create("sdxl_text");
    TCase *tc = tcase_create("sdxl_text");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_once, teardown_once);
    tcase_add_test(tc, golden_prompts);
    tcase_add_test(tc, adm_vector_matches_diffusers);
    tcase_add_test(tc, info_from_shapes);
    tcase_add_test(tc, weighting_modes_and_limits);
    tcase_add_test(tc, missing_tensor_is_enoent);
    tcase_add_test(tc, wrong_shape_is_eformat);
    tcase_add_test(tc, full_preset_lists);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
