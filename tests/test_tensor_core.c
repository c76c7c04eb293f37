/* Tests for common/tensor core: views, budget and arena, layout ops, and refusal of bad shapes/dtypes. */
#include "test_tensor_util.h"

START_TEST(views_reshape_permute_slice)
{
    float buf[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        buf[i] = (float)i;
    ov_tensor t, p, s, r;
    TT_OK(ov_tensor_init(&t, "t", OV_DTYPE_F32, 3, SHAPE(2, 3, 4), buf, ov_backend_cpu()));
    ck_assert_int_eq(t.stride[0], 12);
    ck_assert_int_eq(t.stride[1], 4);
    ck_assert_int_eq(t.stride[2], 1);
    ck_assert(ov_tensor_is_contiguous(&t));
    ck_assert_uint_eq(ov_tensor_nbytes(&t), 96);

    TT_OK(ov_tensor_permute(&p, &t, (const int[]){0, 2, 1}));
    ck_assert_int_eq(p.shape[1], 4);
    ck_assert_int_eq(p.stride[1], 1);
    ck_assert_int_eq(p.stride[2], 4);
    ck_assert(!ov_tensor_is_contiguous(&p));
    TT_FAILS(ov_tensor_reshape(&r, &p, 2, SHAPE(2, 12)), OV_EINVAL, "not contiguous");

    TT_OK(ov_tensor_slice(&s, &t, 1, 1, 2));
    ck_assert_ptr_eq(s.data, buf + 4);
    ck_assert_int_eq(s.shape[1], 2);
    ck_assert(!ov_tensor_is_contiguous(&s));
    TT_FAILS(ov_tensor_slice(&s, &t, 2, 3, 2), OV_EINVAL, "out of range");

    TT_OK(ov_tensor_reshape(&r, &t, 2, SHAPE(-1, 6)));
    ck_assert_int_eq(r.shape[0], 4);
    TT_FAILS(ov_tensor_reshape(&r, &t, 2, SHAPE(5, 5)), OV_EINVAL, "24 elements");

    /* quantised: last dim whole, block multiple */
    uint8_t qb[34 * 4];
    ov_tensor q;
    TT_FAILS(ov_tensor_init(&q, "q", OV_DTYPE_Q8_0, 2, SHAPE(4, 33), qb, ov_backend_cpu()), OV_EINVAL,
             "multiple of 32");
    TT_OK(ov_tensor_init(&q, "q", OV_DTYPE_Q8_0, 2, SHAPE(4, 32), qb, ov_backend_cpu()));
    ck_assert_uint_eq(ov_tensor_nbytes(&q), 136);
    TT_OK(ov_tensor_slice(&s, &q, 0, 2, 2));
    ck_assert_ptr_eq(s.data, qb + 68);
    TT_FAILS(ov_tensor_permute(&p, &q, (const int[]){1, 0}), OV_EINVAL, "last dim");
}
END_TEST

START_TEST(budget_and_arena)
{
    ov_mem m;
    ov_mem_init(&m, ov_backend_cpu(), 1 << 20);
    ov_tensor w;
    TT_OK(ov_mem_alloc_tensor(&m, &w, "blocks.0.ffn.0.weight", OV_DTYPE_F32, 2, SHAPE(256, 512)));
    ck_assert_uint_eq(m.used_bytes, 512 * 1024);
    ov_tensor w2;
    TT_FAILS(ov_mem_alloc_tensor(&m, &w2, "blocks.1.ffn.0.weight", OV_DTYPE_F32, 2, SHAPE(256, 768)),
             OV_EBUDGET, "blocks.1.ffn.0.weight");
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "786432 bytes asked"));
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "524288 used"));
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "1048576 byte budget"));
    ck_assert_uint_eq(m.used_bytes, 512 * 1024); /* the failure took nothing */

    ov_arena a;
    TT_FAILS(ov_arena_init(&a, &m, "activations", 600 * 1024), OV_EBUDGET, "activations");
    TT_OK(ov_arena_init(&a, &m, "activations", 256 * 1024));
    ov_tensor h1, h2, h3;
    size_t mark = ov_arena_mark(&a);
    TT_OK(ov_arena_tensor(&a, &h1, "h", OV_DTYPE_F32, 2, SHAPE(100, 100))); /* 40000 B */
    TT_OK(ov_arena_tensor(&a, &h2, "attn_out", OV_DTYPE_F32, 2, SHAPE(7, 3)));
    ck_assert((uint8_t *)h2.data >= (uint8_t *)h1.data + 40000);
    ck_assert_uint_eq(((uintptr_t)h2.data) % 256, 0);
    TT_FAILS(ov_arena_tensor(&a, &h3, "ffn_hidden", OV_DTYPE_F32, 2, SHAPE(256, 256)), OV_EBUDGET,
             "ffn_hidden");
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "262144 bytes"));
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "[256,256] f32"));
    ov_arena_release(&a, mark);
    TT_OK(ov_arena_tensor(&a, &h3, "h_again", OV_DTYPE_F32, 2, SHAPE(10, 10)));
    ck_assert_ptr_eq(h3.data, h1.data); /* reused, no new allocation */
    ck_assert_uint_ge(a.peak_bytes, 40000 + 256);

    ov_arena_free(&a);
    ov_mem_free_tensor(&m, &w);
    ck_assert_uint_eq(m.used_bytes, 0);
    ck_assert_uint_eq(m.n_allocs, 0);
    ck_assert_uint_eq(m.peak_bytes, 512 * 1024 + 256 * 1024);
}
END_TEST

/* ---- layout ops ---- */

static void body_copy_permute_convert(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    int64_t B = 2, L = 5, H = 3, D = 7;
    float *xv = tt_rand(B * L * H * D, 1.0);
    ov_tensor *x = tt_act(&c, "x", 4, SHAPE(B, L, H, D), xv);
    ov_tensor xp;
    TT_OK(ov_tensor_permute(&xp, x, (const int[]){0, 2, 1, 3}));
    ov_tensor *y = tt_out(&c, "y", 4, SHAPE(B, H, L, D));
    TT_OK(ov_op_copy(y, &xp));
    double *ref = malloc(sizeof(double) * (size_t)(B * L * H * D));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t l = 0; l < L; l++)
                for (int64_t d = 0; d < D; d++)
                    ref[((b * H + h) * L + l) * D + d] = xv[((b * L + l) * H + h) * D + d];
    tt_expect("copy(permute)", y, ref, 0, 0);

    /* permute that moves the last dim (strided inner loop) */
    ov_tensor xt;
    TT_OK(ov_tensor_permute(&xt, x, (const int[]){0, 1, 3, 2}));
    ov_tensor *yt = tt_out(&c, "yt", 4, SHAPE(B, L, D, H));
    TT_OK(ov_op_copy(yt, &xt));
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            for (int64_t d = 0; d < D; d++)
                for (int64_t h = 0; h < H; h++)
                    ref[((b * L + l) * D + d) * H + h] = xv[((b * L + l) * H + h) * D + d];
    tt_expect("copy(transpose last)", yt, ref, 0, 0);

    /* weight dtypes -> act, with the fp8 scale */
    int dts[] = {OV_DTYPE_F16, OV_DTYPE_BF16, OV_DTYPE_F8_E4M3, OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        float *wv = tt_rand(3 * 256, 2.0);
        ov_tensor *w = tt_input(&c, "w", dts[i], 2, SHAPE(3, 256), wv);
        w->scale = dts[i] == OV_DTYPE_F8_E4M3 ? 0.25f : 1.0f;
        ov_tensor *wy = tt_out(&c, "wy", 2, SHAPE(3, 256));
        TT_OK(ov_op_copy(wy, w));
        double *wr = malloc(sizeof(double) * 3 * 256);
        for (int j = 0; j < 3 * 256; j++)
            wr[j] = (double)wv[j] * w->scale;
        tt_expect(ov_dtype_name(dts[i]), wy, wr, 0, 0); /* exact: same dequant, then one exact scaling */
        free(wr);
        free(wv);
    }
    free(ref);
    free(xv);
    tt_end(&c);
}

START_TEST(copy_permute_convert)
{
    tt_run(body_copy_permute_convert);
}
END_TEST

static void body_concat_pad_upsample(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    float *av = tt_rand(2 * 3 * 5, 1.0), *bv = tt_rand(2 * 4 * 5, 1.0);
    ov_tensor *a = tt_act(&c, "a", 3, SHAPE(2, 3, 5), av);
    ov_tensor *b = tt_act(&c, "b", 3, SHAPE(2, 4, 5), bv);
    ov_tensor *y = tt_out(&c, "y", 3, SHAPE(2, 7, 5));
    TT_OK(ov_op_concat(y, a, b, 1));
    double ref[2 * 7 * 5 * 4];
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 7; ch++)
            for (int i = 0; i < 5; i++)
                ref[(n * 7 + ch) * 5 + i] = ch < 3 ? av[(n * 3 + ch) * 5 + i] : bv[(n * 4 + ch - 3) * 5 + i];
    tt_expect("concat dim 1", y, ref, 0, 0);
    ov_tensor *y2 = tt_out(&c, "y2", 3, SHAPE(2, 7, 5));
    TT_FAILS(ov_op_concat(y2, a, b, 2), OV_EINVAL, "concat");

    /* pad: [2,3,5] -> before {0,1,2} after {1,0,3} */
    ov_tensor *p = tt_out(&c, "p", 3, SHAPE(3, 4, 10));
    TT_OK(ov_op_pad(p, a, SHAPE(0, 1, 2), SHAPE(1, 0, 3), -0.5f));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 10; k++) {
                int si = i, sj = j - 1, sk = k - 2;
                int in = si < 2 && sj >= 0 && sj < 3 && sk >= 0 && sk < 5;
                ref[(i * 4 + j) * 10 + k] = in ? av[(si * 3 + sj) * 5 + sk] : -0.5;
            }
    tt_expect("pad", p, ref, 0, 0);

    /* upsample: [1,2,3,5] -> [1,2,6,10] */
    float *uv = tt_rand(2 * 3 * 5, 1.0);
    ov_tensor *u = tt_act(&c, "u", 4, SHAPE(1, 2, 3, 5), uv);
    ov_tensor *uy = tt_out(&c, "uy", 4, SHAPE(1, 2, 6, 10));
    TT_OK(ov_op_upsample_nearest2x(uy, u));
    for (int ch = 0; ch < 2; ch++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 10; j++)
                ref[(ch * 6 + i) * 10 + j] = uv[(ch * 3 + i / 2) * 5 + j / 2];
    tt_expect("upsample", uy, ref, 0, 0);
    TT_FAILS(ov_op_upsample_nearest2x(y, u), OV_EINVAL, "doubled");
    free(av);
    free(bv);
    free(uv);
    tt_end(&c);
}

START_TEST(concat_pad_upsample)
{
    tt_run(body_concat_pad_upsample);
}
END_TEST

/* ---- bad input: refused with a message, nothing written ---- */

static void body_bad_input(ov_backend *be)
{
    tt_ctx c;
    tt_begin(&c, be);
    float *xv = tt_rand(4 * 77 * 768, 1.0), *wv = tt_rand(320 * 1024, 1.0);
    ov_tensor *x = tt_act(&c, "x", 3, SHAPE(4, 77, 768), xv);
    ov_tensor *w = tt_input(&c, "proj_in.weight", OV_DTYPE_F32, 2, SHAPE(320, 1024), wv);
    ov_tensor *y = tt_out(&c, "y", 3, SHAPE(4, 77, 320));
    TT_FAILS(ov_op_linear(y, x, w, NULL), OV_EINVAL, "[4,77,768]"); /* f32 on the CPU, bf16 on CUDA */
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "'proj_in.weight' [320,1024]"));
    ck_assert_ptr_nonnull(strstr(ov_tensor_last_error(), "linear"));
    float *got = tt_fetch(y);
    ck_assert(isnan(got[0]) && isnan(got[4 * 77 * 320 - 1])); /* untouched */
    free(got);

    /* dtype an op cannot take: i32 activations */
    float ids[6] = {0};
    ov_tensor *iv = tt_input(&c, "ids", OV_DTYPE_I32, 1, SHAPE(6), ids);
    ov_tensor *o6 = tt_out(&c, "o6", 1, SHAPE(6));
    TT_FAILS(ov_op_silu(o6, iv), OV_EINVAL, "activation dtype");
    TT_FAILS(ov_op_softmax(o6, iv, 1.0f), OV_EINVAL, "ids");

    /* conv channel mismatch; attention GQA mismatch; bad group count; rope odd D */
    float *cv = tt_rand(1 * 3 * 8 * 8, 1.0), *kv = tt_rand(4 * 4 * 3 * 3, 1.0);
    ov_tensor *cx = tt_act(&c, "cx", 4, SHAPE(1, 3, 8, 8), cv);
    ov_tensor *ck = tt_input(&c, "conv.weight", OV_DTYPE_F32, 4, SHAPE(4, 4, 3, 3), kv);
    ov_tensor *cy = tt_out(&c, "cy", 4, SHAPE(1, 4, 8, 8));
    ov_conv2d_params cp = {.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
    TT_FAILS(ov_op_conv2d(cy, cx, ck, NULL, &cp), OV_EINVAL, "'conv.weight' [4,4,3,3]");
    ov_conv2d_params bad = {.stride_h = 0, .stride_w = 1};
    TT_FAILS(ov_op_conv2d(cy, cx, ck, NULL, &bad), OV_EINVAL, "stride");
    TT_FAILS(ov_op_group_norm(cx, cx, 2, NULL, NULL, 1e-5f), OV_EINVAL, "2 groups");

    float *qv = tt_rand(1 * 3 * 4 * 8, 1.0);
    ov_tensor *q = tt_act(&c, "q", 4, SHAPE(1, 3, 4, 8), qv);
    ov_tensor *k = tt_act(&c, "k", 4, SHAPE(1, 2, 4, 8), qv);
    ov_tensor *o = tt_out(&c, "o", 4, SHAPE(1, 3, 4, 8));
    TT_FAILS(ov_op_attention(o, q, k, k, NULL), OV_EINVAL, "Hq % Hkv");
    TT_FAILS(ov_op_rope_wan3d(o, q, 2, 2, 2, 10000.0f), OV_EINVAL, "grid");
    TT_FAILS(ov_op_rope_neox(o, q, -1, 1e6f), OV_EINVAL, "pos_offset");

    /* embedding id out of range names the id */
    float table[4 * 8];
    tt_fill(table, 32, 1.0);
    ov_tensor *tab = tt_input(&c, "embed_tokens.weight", OV_DTYPE_F32, 2, SHAPE(4, 8), table);
    int32_t bad_ids[2] = {1, 4};
    ov_tensor *bi = tt_input(&c, "ids2", OV_DTYPE_I32, 1, SHAPE(2), (float *)bad_ids);
    ov_tensor *ey = tt_out(&c, "ey", 2, SHAPE(2, 8));
    TT_FAILS(ov_op_embedding(ey, tab, bi), OV_EINVAL, "= 4 outside table 'embed_tokens.weight'");

    /* a tensor with no memory */
    ov_tensor ghost;
    TT_OK(ov_tensor_init(&ghost, "ghost", OV_DTYPE_F32, 1, SHAPE(6), NULL, be));
    TT_FAILS(ov_op_silu(o6, &ghost), OV_EINVAL, "no memory");
    free(xv);
    free(wv);
    free(cv);
    free(kv);
    free(qv);
    tt_end(&c);
}

START_TEST(bad_input_refused_with_message)
{
    tt_run(body_bad_input);
}
END_TEST

START_TEST(cuda_absent_is_unsupported)
{
    ov_backend *be = NULL;
    int rc = ov_backend_open(OV_BACKEND_CUDA, 0, &be);
#ifndef OV_TENSOR_HAVE_CUDA
    ck_assert_int_eq(rc, OV_EUNSUPP);
    ck_assert_ptr_null(be);
#else
    if (rc == 0)
        ov_backend_close(be);
#endif
    ck_assert_int_eq(ov_backend_open(7, 0, &be), OV_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor_core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, views_reshape_permute_slice);
    tcase_add_test(tc, budget_and_arena);
    tcase_add_test(tc, copy_permute_convert);
    tcase_add_test(tc, concat_pad_upsample);
    tcase_add_test(tc, bad_input_refused_with_message);
    tcase_add_test(tc, cuda_absent_is_unsupported);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
