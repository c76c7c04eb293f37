/* Tests for common/tensor/dtype.c: sizes, exact float conversions, GGUF (de)quantisation vs golden. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/dtype.h"

/* Read a golden file from tests/golden/dtype/ (made by gen_golden.py); aborts the case if absent. */
static void *golden(const char *name, size_t *len)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/dtype/%s", src ? src : ".", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "missing golden file %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)n + 1);
    ck_assert(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

START_TEST(test_sizes_and_names)
{
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_F32), 4);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_BF16), 2);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_F8_E4M3), 1);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_I64), 8);
    ck_assert_uint_eq(ov_dtype_block_elems(OV_DTYPE_Q8_0), 32);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_Q8_0), 34);
    ck_assert_uint_eq(ov_dtype_block_elems(OV_DTYPE_Q4_K), 256);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_Q4_K), 144);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_Q6_K), 210);
    ck_assert_uint_eq(ov_dtype_block_bytes(OV_DTYPE_COUNT), 0);
    ck_assert_uint_eq(ov_dtype_block_elems(-1), 0);
    ck_assert_uint_eq(ov_dtype_row_bytes(OV_DTYPE_Q4_K, 512), 288);
    ck_assert_uint_eq(ov_dtype_row_bytes(OV_DTYPE_Q4_K, 100), 0);
    ck_assert_uint_eq(ov_dtype_row_bytes(OV_DTYPE_F16, 7), 14);
    ck_assert_uint_eq(ov_dtype_row_bytes(OV_DTYPE_F64, INT64_MAX), 0); /* overflow */
    ck_assert_uint_eq(ov_dtype_row_bytes(OV_DTYPE_F32, -1), 0);
    ck_assert(ov_dtype_is_quantized(OV_DTYPE_Q6_K));
    ck_assert(!ov_dtype_is_quantized(OV_DTYPE_F8_E4M3));
    for (int d = 0; d < OV_DTYPE_COUNT; d++) {
        ck_assert_ptr_nonnull(ov_dtype_name(d));
        ck_assert_int_eq(ov_dtype_from_name(ov_dtype_name(d)), d);
    }
    ck_assert_str_eq(ov_dtype_name(OV_DTYPE_Q4_K), "q4_K");
    ck_assert_ptr_null(ov_dtype_name(OV_DTYPE_COUNT));
    ck_assert_int_eq(ov_dtype_from_name("Q4_K"), -1);
    ck_assert_int_eq(ov_dtype_from_name(NULL), -1);
}
END_TEST

START_TEST(test_f16_exact)
{
    ck_assert_float_eq(ov_f16_to_f32(0x3c00), 1.0f);
    ck_assert_float_eq(ov_f16_to_f32(0x7bff), 65504.0f);
    ck_assert_float_eq(ov_f16_to_f32(0x0001), 0x1p-24f);
    ck_assert_float_eq(ov_f16_to_f32(0x03ff), 1023 * 0x1p-24f);
    ck_assert_float_eq(ov_f16_to_f32(0x0400), 0x1p-14f);
    ck_assert_uint_eq(fbits(ov_f16_to_f32(0x8000)), 0x80000000u);
    ck_assert(isinf(ov_f16_to_f32(0x7c00)) && ov_f16_to_f32(0xfc00) < 0);
    ck_assert(isnan(ov_f16_to_f32(0x7e00)));
    ck_assert_uint_eq(ov_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(ov_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(ov_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(ov_f32_to_f16(65519.99f), 0x7bff);
    ck_assert_uint_eq(ov_f32_to_f16(65520.0f), 0x7c00); /* tie to even rounds up to Inf */
    ck_assert_uint_eq(ov_f32_to_f16(1e9f), 0x7c00);
    ck_assert_uint_eq(ov_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert_uint_eq(ov_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);     /* tie -> even */
    ck_assert_uint_eq(ov_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie -> even (up) */
    ck_assert_uint_eq(ov_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    ck_assert_uint_eq(ov_f32_to_f16(0x1p-24f), 0x0001);
    ck_assert_uint_eq(ov_f32_to_f16(0x1p-25f), 0x0000); /* half the smallest subnormal: tie -> 0 */
    ck_assert_uint_eq(ov_f32_to_f16(0x1.000002p-25f), 0x0001);
    ck_assert_uint_eq(ov_f32_to_f16(3 * 0x1p-25f), 0x0002); /* 1.5 units: tie -> 2 */
    ck_assert_uint_eq(ov_f32_to_f16(0x1.ff8p-15f), 0x03ff); /* largest subnormal */
    ck_assert_uint_eq(ov_f32_to_f16(0x1.ffbp-15f), 0x03ff);
    ck_assert_uint_eq(ov_f32_to_f16(0x1.ffcp-15f), 0x0400); /* tie: rounds up into the normals */
    ck_assert_uint_eq(ov_f32_to_f16(1e-45f), 0x0000);
    ck_assert_uint_eq(ov_f32_to_f16(-1e-45f), 0x8000);
    uint16_t n = ov_f32_to_f16(NAN);
    ck_assert((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
    /* Every f16 survives f16 -> f32 -> f16 (NaNs stay NaN). */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ov_f16_to_f32((uint16_t)h);
        uint16_t back = ov_f32_to_f16(f);
        if (isnan(f))
            ck_assert(isnan(ov_f16_to_f32(back)));
        else
            ck_assert_uint_eq(back, h);
    }
}
END_TEST

START_TEST(test_bf16_exact)
{
    ck_assert_uint_eq(ov_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(ov_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);     /* tie -> even */
    ck_assert_uint_eq(ov_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82); /* tie -> even */
    ck_assert_uint_eq(ov_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    ck_assert_uint_eq(ov_f32_to_bf16(3.4e38f), 0x7f80); /* rounds past the max to Inf */
    ck_assert_uint_eq(ov_f32_to_bf16(-INFINITY), 0xff80);
    ck_assert_uint_eq(ov_f32_to_bf16(1e-40f), 0x0001); /* f32 subnormal kept */
    ck_assert(isnan(ov_bf16_to_f32(ov_f32_to_bf16(NAN))));
    ck_assert_float_eq(ov_bf16_to_f32(0x4049), 3.140625f);
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ov_bf16_to_f32((uint16_t)h);
        if (!isnan(f))
            ck_assert_uint_eq(ov_f32_to_bf16(f), h);
    }
}
END_TEST

START_TEST(test_fp8_exact)
{
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0x7e), 448.0f);
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0xfe), -448.0f);
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0x01), 0x1p-9f);
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0x08), 0x1p-6f);
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0x38), 1.0f);
    ck_assert(isnan(ov_f8_e4m3_to_f32(0x7f)) && isnan(ov_f8_e4m3_to_f32(0xff)));
    ck_assert(!isinf(ov_f8_e4m3_to_f32(0x78))); /* e4m3fn has no Inf: 0x78 = 256 */
    ck_assert_float_eq(ov_f8_e4m3_to_f32(0x78), 256.0f);
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(448.0f), 0x7e);
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(464.0f), 0x7e);
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(1e6f), 0x7e);       /* satfinite */
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(-INFINITY), 0xfe);  /* satfinite */
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(NAN) & 0x7f, 0x7f);
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(0x1p-10f), 0x00);   /* half the smallest subnormal -> 0 */
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(3 * 0x1p-10f), 0x02); /* 1.5 units: tie -> even */
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(1.0f + 0x1p-4f), 0x38); /* tie -> even */
    ck_assert_uint_eq(ov_f32_to_f8_e4m3(1.0f + 3 * 0x1p-4f), 0x3a);
    ck_assert_float_eq(ov_f8_e5m2_to_f32(0x7b), 57344.0f);
    ck_assert(isinf(ov_f8_e5m2_to_f32(0x7c)) && ov_f8_e5m2_to_f32(0xfc) < 0);
    ck_assert(isnan(ov_f8_e5m2_to_f32(0x7d)));
    ck_assert_float_eq(ov_f8_e5m2_to_f32(0x01), 0x1p-16f);
    ck_assert_float_eq(ov_f8_e5m2_to_f32(0x3c), 1.0f);
    ck_assert_uint_eq(ov_f32_to_f8_e5m2(61440.0f), 0x7c); /* tie at the top rounds to Inf */
    ck_assert_uint_eq(ov_f32_to_f8_e5m2(1e6f), 0x7c);
    ck_assert_uint_eq(ov_f32_to_f8_e5m2(0x1p-17f), 0x00);
    ck_assert(isnan(ov_f8_e5m2_to_f32(ov_f32_to_f8_e5m2(NAN))));
    /* e5m2 is the top byte of an f16: agree with truncating an exactly representable f16. */
    for (uint32_t b = 0; b < 256; b++) {
        float f4 = ov_f8_e4m3_to_f32((uint8_t)b), f5 = ov_f8_e5m2_to_f32((uint8_t)b);
        if (!isnan(f4))
            ck_assert_uint_eq(ov_f32_to_f8_e4m3(f4), b);
        if (!isnan(f5)) {
            ck_assert_uint_eq(ov_f32_to_f8_e5m2(f5), b);
            ck_assert_uint_eq(ov_f32_to_f16(f5), b << 8);
        }
    }
}
END_TEST

/* Conversions of 731 values (specials, ties, random) agree bit-for-bit with numpy / ml_dtypes. */
START_TEST(test_conv_golden)
{
    size_t n_in, n16, nb16, n4i, n4, n5i, n5;
    float *in = golden("conv_in.f32", &n_in);
    uint16_t *h16 = golden("conv_f16.bin", &n16), *hb = golden("conv_bf16.bin", &nb16);
    float *in4 = golden("conv_e4m3_in.f32", &n4i), *in5 = golden("conv_e5m2_in.f32", &n5i);
    uint8_t *e4 = golden("conv_e4m3.bin", &n4), *e5 = golden("conv_e5m2.bin", &n5);
    size_t n = n_in / 4;
    ck_assert_uint_gt(n, 700);
    ck_assert_uint_eq(n16, 2 * n);
    ck_assert_uint_eq(n4, n);
    uint8_t *out = malloc(2 * n);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_F16, in, out, (int64_t)n), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[2 * i] == (h16[i] & 0xff) && out[2 * i + 1] == (h16[i] >> 8), "f16 #%zu %a", i, in[i]);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_BF16, in, out, (int64_t)n), 0);
    ck_assert_int_eq(memcmp(out, hb, 2 * n), 0);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_F8_E4M3, in4, out, (int64_t)n), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == e4[i], "e4m3 #%zu %a: %02x vs %02x", i, in4[i], out[i], e4[i]);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_F8_E5M2, in5, out, (int64_t)n), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(out[i] == e5[i], "e5m2 #%zu %a: %02x vs %02x", i, in5[i], out[i], e5[i]);
    free(out);
    free(in);
    free(h16);
    free(hb);
    free(in4);
    free(in5);
    free(e4);
    free(e5);
}
END_TEST

START_TEST(test_q8_0_golden)
{
    size_t ni, nq, nd;
    float *in = golden("q8_0_in.f32", &ni), *deq = golden("q8_0_deq.f32", &nd);
    uint8_t *ref = golden("q8_0_ref.bin", &nq);
    int64_t n = (int64_t)(ni / 4);
    ck_assert_int_eq(n, 256);
    ck_assert_uint_eq(nq, 8 * 34);
    uint8_t q[8 * 34];
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_Q8_0, in, q, n), 0);
    ck_assert_int_eq(memcmp(q, ref, sizeof q), 0); /* bit-exact with ggml's reference quantiser */
    float y[256];
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_Q8_0, ref, y, n), 0);
    ck_assert_int_eq(memcmp(y, deq, sizeof y), 0);
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_Q8_0, ref, y, 31), OV_EINVAL);
    free(in);
    free(deq);
    free(ref);
}
END_TEST

static void check_kquant_golden(int dtype, const char *bin, const char *deq_name)
{
    size_t nb, nd;
    uint8_t *b = golden(bin, &nb);
    float *deq = golden(deq_name, &nd);
    int64_t n = (int64_t)(nd / 4);
    ck_assert_int_eq(n, 1024);
    ck_assert_uint_eq(nb, 4 * ov_dtype_block_bytes(dtype));
    float *y = malloc(nd);
    ck_assert_int_eq(ov_dtype_to_f32(dtype, b, y, n), 0);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fbits(y[i]) == fbits(deq[i]), "%s elem %lld: %a vs %a", bin, (long long)i, y[i], deq[i]);
    ck_assert_int_eq(ov_dtype_to_f32(dtype, b, y, 255), OV_EINVAL);
    free(y);
    free(b);
    free(deq);
}

START_TEST(test_q4_k_golden)
{
    check_kquant_golden(OV_DTYPE_Q4_K, "q4_k.bin", "q4_k_deq.f32");
}
END_TEST

START_TEST(test_q6_k_golden)
{
    check_kquant_golden(OV_DTYPE_Q6_K, "q6_k.bin", "q6_k_deq.f32");
}
END_TEST

/* Our K-quantisers: quantise -> dequantise stays within a stated error of the input.
 * Q4_K: 16 levels per 32-element sub-block plus 6-bit scale/min rounding -> |err| <= range/15
 * (one step) is a safe bound; Q6_K: 64 levels -> |err| <= amax/31 per sub-block. */
START_TEST(test_kquant_roundtrip)
{
    enum { N = 4096 };
    float *x = malloc(N * 4), *y = malloc(N * 4);
    uint8_t *q = malloc(2 * N); /* Q8_0 needs 34/32 bytes per element */
    srand(7);
    for (int i = 0; i < N; i++)
        x[i] = ((float)rand() / RAND_MAX - 0.4f) * (float)(1 + (i / 256) % 5);
    int types[3] = {OV_DTYPE_Q8_0, OV_DTYPE_Q4_K, OV_DTYPE_Q6_K};
    double bound[3] = {1.0 / 127, 1.0 / 15, 1.0 / 31}; /* fraction of the block's |x| range */
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(ov_dtype_from_f32(types[t], x, q, N), 0);
        ck_assert_int_eq(ov_dtype_to_f32(types[t], q, y, N), 0);
        double sq = 0, sx = 0;
        for (int i = 0; i < N; i++) {
            float lo = 0, hi = 0;
            int b0 = i / 256 * 256;
            for (int j = b0; j < b0 + 256; j++) {
                lo = fminf(lo, x[j]);
                hi = fmaxf(hi, x[j]);
            }
            ck_assert_msg(fabs(y[i] - x[i]) <= bound[t] * (hi - lo) * 1.05 + 1e-6, "%s elem %d: %g vs %g",
                          ov_dtype_name(types[t]), i, y[i], x[i]);
            sq += (y[i] - x[i]) * (y[i] - x[i]);
            sx += x[i] * x[i];
        }
        ck_assert_msg(sqrt(sq / sx) < (t == 1 ? 0.06 : 0.02), "%s rel rms %g", ov_dtype_name(types[t]),
                      sqrt(sq / sx));
    }
    /* An all-zero block quantises to exact zeros. */
    memset(x, 0, 256 * 4);
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(ov_dtype_from_f32(types[t], x, q, 256), 0);
        ck_assert_int_eq(ov_dtype_to_f32(types[t], q, y, 256), 0);
        for (int i = 0; i < 256; i++)
            ck_assert_float_eq(y[i], 0.0f);
    }
    free(x);
    free(y);
    free(q);
}
END_TEST

START_TEST(test_plain_roundtrip_and_ints)
{
    float x[8] = {0.0f, 1.0f, -2.0f, 2.5f, -2.5f, 3.5f, 100.0f, -7.0f};
    for (int d = 0; d < OV_DTYPE_COUNT; d++) {
        if (ov_dtype_is_quantized(d) || d == OV_DTYPE_BOOL || d == OV_DTYPE_U8)
            continue;
        uint8_t buf[64];
        float y[8];
        ck_assert_int_eq(ov_dtype_from_f32(d, x, buf, 8), 0);
        ck_assert_int_eq(ov_dtype_to_f32(d, buf, y, 8), 0);
        int is_int = d == OV_DTYPE_I8 || d == OV_DTYPE_I16 || d == OV_DTYPE_I32 || d == OV_DTYPE_I64;
        for (int i = 0; i < 8; i++) {
            float want = is_int ? nearbyintf(x[i]) : x[i]; /* 2.5 -> 2, -2.5 -> -2, 3.5 -> 4 */
            if (d == OV_DTYPE_F8_E4M3 && i == 6)
                want = 96.0f; /* 100 is a tie between 96 and 104 (step 8): even -> 96 */
            if (d == OV_DTYPE_F8_E5M2 && i == 6)
                want = 96.0f;
            ck_assert_msg(y[i] == want, "%s #%d: %g want %g", ov_dtype_name(d), i, y[i], want);
        }
    }
    /* Saturation and NaN for integer targets; bool. */
    float s[5] = {1e10f, -1e10f, NAN, 127.5f, -0.0f};
    int8_t i8[5];
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_I8, s, i8, 5), 0);
    ck_assert_int_eq(i8[0], 127);
    ck_assert_int_eq(i8[1], -128);
    ck_assert_int_eq(i8[2], 0);
    ck_assert_int_eq(i8[3], 127);
    int64_t i64[5];
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_I64, s, i64, 5), 0);
    ck_assert_int_eq(i64[0], 10000000000LL);
    float big[2] = {1e30f, -1e30f};
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_I64, big, i64, 2), 0);
    ck_assert(i64[0] == INT64_MAX && i64[1] == INT64_MIN);
    uint8_t u8[5], bo[5];
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_U8, s, u8, 5), 0);
    ck_assert(u8[0] == 255 && u8[1] == 0 && u8[2] == 0 && u8[3] == 128);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_BOOL, s, bo, 5), 0);
    ck_assert(bo[0] == 1 && bo[1] == 1 && bo[2] == 1 && bo[3] == 1 && bo[4] == 0);
    float back[5];
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_U8, u8, back, 4), 0);
    ck_assert_float_eq(back[0], 255.0f);
    /* Unaligned source pointers are fine (little-endian loads byte by byte). */
    uint8_t raw[9] = {0xff, 0x00, 0x3c, 0x00, 0xc0, 0, 0, 0, 0};
    float two[2];
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_F16, raw + 1, two, 2), 0);
    ck_assert(two[0] == 1.0f && two[1] == -2.0f);
    /* Bad arguments. */
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_COUNT, raw, two, 1), OV_EINVAL);
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_F32, raw, two, -1), OV_EINVAL);
    ck_assert_int_eq(ov_dtype_from_f32(-3, two, raw, 1), OV_EINVAL);
    ck_assert_int_eq(ov_dtype_from_f32(OV_DTYPE_Q8_0, two, raw, 2), OV_EINVAL);
    ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_F32, NULL, NULL, 0), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sizes_and_names);
    tcase_add_test(tc, test_f16_exact);
    tcase_add_test(tc, test_bf16_exact);
    tcase_add_test(tc, test_fp8_exact);
    tcase_add_test(tc, test_conv_golden);
    tcase_add_test(tc, test_q8_0_golden);
    tcase_add_test(tc, test_q4_k_golden);
    tcase_add_test(tc, test_q6_k_golden);
    tcase_add_test(tc, test_kquant_roundtrip);
    tcase_add_test(tc, test_plain_roundtrip_and_ints);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
