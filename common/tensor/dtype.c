/* Element types: sizes, names, fp16/bf16/fp8 conversion and GGUF block (de)quantisation. */
#include "common/tensor/dtype.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common/error.h"

struct dtype_info {
    const char *name;
    size_t block_elems;
    size_t block_bytes;
};

/* Indexed by enum ov_dtype. Block layouts: ggml-org/ggml src/ggml-common.h (block_q8_0,
 * block_q4_K, block_q6_K with QK_K = 256). */
static const struct dtype_info k_info[OV_DTYPE_COUNT] = {
    [OV_DTYPE_F32] = {"f32", 1, 4},       [OV_DTYPE_F16] = {"f16", 1, 2},
    [OV_DTYPE_BF16] = {"bf16", 1, 2},     [OV_DTYPE_F8_E4M3] = {"f8_e4m3", 1, 1},
    [OV_DTYPE_F8_E5M2] = {"f8_e5m2", 1, 1}, [OV_DTYPE_F64] = {"f64", 1, 8},
    [OV_DTYPE_I8] = {"i8", 1, 1},         [OV_DTYPE_U8] = {"u8", 1, 1},
    [OV_DTYPE_I16] = {"i16", 1, 2},       [OV_DTYPE_I32] = {"i32", 1, 4},
    [OV_DTYPE_I64] = {"i64", 1, 8},       [OV_DTYPE_BOOL] = {"bool", 1, 1},
    [OV_DTYPE_Q8_0] = {"q8_0", 32, 34},   [OV_DTYPE_Q4_K] = {"q4_K", 256, 144},
    [OV_DTYPE_Q6_K] = {"q6_K", 256, 210},
};

#define QK8_0 32
#define QK_K 256

static int valid(int dtype)
{
    return dtype >= 0 && dtype < OV_DTYPE_COUNT;
}

const char *ov_dtype_name(int dtype)
{
    return valid(dtype) ? k_info[dtype].name : NULL;
}

int ov_dtype_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < OV_DTYPE_COUNT; i++)
        if (strcmp(k_info[i].name, name) == 0)
            return i;
    return -1;
}

size_t ov_dtype_block_elems(int dtype)
{
    return valid(dtype) ? k_info[dtype].block_elems : 0;
}

size_t ov_dtype_block_bytes(int dtype)
{
    return valid(dtype) ? k_info[dtype].block_bytes : 0;
}

size_t ov_dtype_row_bytes(int dtype, int64_t n)
{
    if (!valid(dtype) || n < 0)
        return 0;
    uint64_t be = k_info[dtype].block_elems, bb = k_info[dtype].block_bytes;
    if ((uint64_t)n % be)
        return 0;
    uint64_t blocks = (uint64_t)n / be;
    if (blocks > SIZE_MAX / bb)
        return 0;
    return (size_t)(blocks * bb);
}

int ov_dtype_is_quantized(int dtype)
{
    return dtype == OV_DTYPE_Q8_0 || dtype == OV_DTYPE_Q4_K || dtype == OV_DTYPE_Q6_K;
}

/* ---- scalar float conversions ---- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* v >> s rounded to nearest, ties to even (1 <= s <= 31). */
static uint32_t shift_rne(uint32_t v, int s)
{
    uint32_t q = v >> s, rem = v & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

/* Magnitude code of the finite non-NaN f32 with bits `ax` (sign cleared) in a binary format with
 * `mbits` mantissa bits and exponent bias `bias`, rounded to nearest-even, subnormals included.
 * The result may exceed the largest finite code; the caller maps overflow (Inf or saturation).
 * Rounding straight from f32 avoids the double rounding of going through f16 first. */
static uint32_t round_minifloat(uint32_t ax, int mbits, int bias)
{
    int e = (int)(ax >> 23);
    int emin = 1 - bias;
    if (e - 127 < emin) {
        if (e == 0)
            return 0; /* f32 subnormals are < 2^-126: far below half of any target's ulp */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u; /* |f| = m * 2^(e-150) */
        int shift = (emin - mbits) - (e - 150);     /* code = |f| / 2^(emin-mbits) = m >> shift */
        if (shift > 24)
            return 0; /* m < 2^24 <= half a unit: rounds to zero */
        return shift_rne(m, shift);
    }
    uint32_t base = ax - ((uint32_t)(127 - bias) << 23); /* re-bias the exponent in place */
    return shift_rne(base, 23 - mbits);
}

float ov_f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return bits_f32(s | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* exact: m < 2^10 */
        return s ? -v : v;
    }
    return bits_f32(s | ((e + 112) << 23) | (m << 13));
}

uint16_t ov_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: keep the top payload bits, force quiet */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    uint32_t code = round_minifloat(ax, 10, 15);
    if (code >= 0x7c00u)
        code = 0x7c00u;
    return (uint16_t)(sign | code);
}

float ov_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t ov_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x0040u);
    /* Carry into the exponent is the right answer, including rounding up to Inf. */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

/* fp8 decode tables: 256 entries each, built once. */
static float g_e4m3[256], g_e5m2[256];
static pthread_once_t g_f8_once = PTHREAD_ONCE_INIT;

static float decode_minifloat(uint32_t code, int mbits, int bias)
{
    uint32_t e = code >> mbits, m = code & ((1u << mbits) - 1);
    if (e == 0)
        return ldexpf((float)m, 1 - bias - mbits);
    return ldexpf((float)(m | (1u << mbits)), (int)e - bias - mbits);
}

static void f8_tables_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t mag = b & 0x7f;
        float v;
        if (mag == 0x7f) /* e4m3fn: S.1111.111 is the only NaN, there is no Inf */
            v = NAN;
        else
            v = decode_minifloat(mag, 3, 7);
        g_e4m3[b] = (b & 0x80) ? -v : v;
        if (mag == 0x7c)
            v = INFINITY;
        else if (mag > 0x7c)
            v = NAN;
        else
            v = decode_minifloat(mag, 2, 15);
        g_e5m2[b] = (b & 0x80) ? -v : v;
    }
}

float ov_f8_e4m3_to_f32(uint8_t b)
{
    pthread_once(&g_f8_once, f8_tables_init);
    return g_e4m3[b];
}

float ov_f8_e5m2_to_f32(uint8_t b)
{
    pthread_once(&g_f8_once, f8_tables_init);
    return g_e5m2[b];
}

uint8_t ov_f32_to_f8_e4m3(float f)
{
    uint32_t x = f32_bits(f), sign = (x >> 24) & 0x80u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return (uint8_t)(sign | 0x7fu);
    uint32_t code = round_minifloat(ax, 3, 7);
    if (code > 0x7eu) /* satfinite: past 448 (and Inf) clamps to 448 */
        code = 0x7eu;
    return (uint8_t)(sign | code);
}

uint8_t ov_f32_to_f8_e5m2(float f)
{
    uint32_t x = f32_bits(f), sign = (x >> 24) & 0x80u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)
        return (uint8_t)(sign | 0x7eu);
    uint32_t code = round_minifloat(ax, 2, 15);
    if (code >= 0x7cu)
        code = 0x7cu;
    return (uint8_t)(sign | code);
}

/* ---- little-endian loads/stores at any alignment ---- */

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static void st64(uint8_t *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

/* ---- GGUF block dequantisation (ggml-org/ggml src/ggml-quants.c dequantize_row_*) ---- */

static void dequant_q8_0(const uint8_t *b, float *y)
{
    float d = ov_f16_to_f32(ld16(b));
    for (int j = 0; j < QK8_0; j++)
        y[j] = (float)(int8_t)b[2 + j] * d;
}

/* get_scale_min_k4: 6-bit scale and min of sub-block j from the 12 packed bytes. */
static void q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* block_q4_K: half d; half dmin; u8 scales[12]; u8 qs[128]. */
static void dequant_q4_k(const uint8_t *b, float *y)
{
    float d = ov_f16_to_f32(ld16(b)), dmin = ov_f16_to_f32(ld16(b + 2));
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
        uint8_t sc, m;
        q4k_scale_min(is, scales, &sc, &m);
        float d1 = d * sc, m1 = dmin * m;
        q4k_scale_min(is + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)(q[l] & 0xf) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
    }
}

/* block_q6_K: u8 ql[128]; u8 qh[64]; int8 scales[16]; half d. */
static void dequant_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = ov_f16_to_f32(ld16(b + 208));
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * (float)q1;
            y[l + 32] = d * sc[is + 2] * (float)q2;
            y[l + 64] = d * sc[is + 4] * (float)q3;
            y[l + 96] = d * sc[is + 6] * (float)q4;
        }
    }
}

int ov_dtype_to_f32(int dtype, const void *src, float *dst, int64_t n)
{
    if (!valid(dtype) || n < 0 || (n > 0 && (!src || !dst)))
        return OV_EINVAL;
    if ((uint64_t)n % k_info[dtype].block_elems)
        return OV_EINVAL;
    const uint8_t *s = src;
    switch (dtype) {
    case OV_DTYPE_F32:
        if (n)
            memcpy(dst, src, (size_t)n * 4);
        break;
    case OV_DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = ov_f16_to_f32(ld16(s + 2 * i));
        break;
    case OV_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = bits_f32((uint32_t)ld16(s + 2 * i) << 16);
        break;
    case OV_DTYPE_F8_E4M3:
        pthread_once(&g_f8_once, f8_tables_init);
        for (int64_t i = 0; i < n; i++)
            dst[i] = g_e4m3[s[i]];
        break;
    case OV_DTYPE_F8_E5M2:
        pthread_once(&g_f8_once, f8_tables_init);
        for (int64_t i = 0; i < n; i++)
            dst[i] = g_e5m2[s[i]];
        break;
    case OV_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = ld64(s + 8 * i);
            double v;
            memcpy(&v, &u, 8);
            dst[i] = (float)v;
        }
        break;
    case OV_DTYPE_I8:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(int8_t)s[i];
        break;
    case OV_DTYPE_U8:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)s[i];
        break;
    case OV_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            dst[i] = s[i] ? 1.0f : 0.0f;
        break;
    case OV_DTYPE_I16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(int16_t)ld16(s + 2 * i);
        break;
    case OV_DTYPE_I32:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(int32_t)ld32(s + 4 * i);
        break;
    case OV_DTYPE_I64:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(int64_t)ld64(s + 8 * i);
        break;
    case OV_DTYPE_Q8_0:
        for (int64_t i = 0; i < n / QK8_0; i++)
            dequant_q8_0(s + 34 * i, dst + QK8_0 * i);
        break;
    case OV_DTYPE_Q4_K:
        for (int64_t i = 0; i < n / QK_K; i++)
            dequant_q4_k(s + 144 * i, dst + QK_K * i);
        break;
    case OV_DTYPE_Q6_K:
        for (int64_t i = 0; i < n / QK_K; i++)
            dequant_q6_k(s + 210 * i, dst + QK_K * i);
        break;
    default:
        return OV_EINVAL;
    }
    return 0;
}

/* ---- quantisers ---- */

/* quantize_row_q8_0_ref, bit for bit (gguf-py's Q8_0.quantize_blocks says the same). */
static void quant_q8_0(const float *x, uint8_t *b)
{
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
        float a = fabsf(x[j]);
        if (a > amax)
            amax = a;
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    st16(b, ov_f32_to_f16(d));
    for (int j = 0; j < QK8_0; j++)
        b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Round-to-nearest int of a finite value already known to be in a small range. */
static int nearest(float v)
{
    return (int)lrintf(v);
}

/* Simple Q4_K: per 32-element sub-block an affine range [min(0,lo), hi] in 15 steps; the
 * 8 scales and mins are themselves quantised to 6 bits against the super-block d / dmin. */
static void quant_q4_k(const float *x, uint8_t *b)
{
    float scale[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        float lo = x[32 * j], hi = x[32 * j];
        for (int l = 1; l < 32; l++) {
            float v = x[32 * j + l];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (lo > 0.0f)
            lo = 0.0f;
        scale[j] = (hi - lo) / 15.0f;
        mins[j] = -lo;
        max_scale = scale[j] > max_scale ? scale[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    uint16_t dh = ov_f32_to_f16(max_scale / 63.0f), mh = ov_f32_to_f16(max_min / 63.0f);
    float d = ov_f16_to_f32(dh), dmin = ov_f16_to_f32(mh);
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)(d > 0.0f ? clampi(nearest(scale[j] / d), scale[j] > 0.0f, 63) : 0);
        m[j] = (uint8_t)(dmin > 0.0f ? clampi(nearest(mins[j] / dmin), 0, 63) : 0);
    }
    st16(b, dh);
    st16(b + 2, mh);
    uint8_t *scales = b + 4, *qs = b + 16;
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            scales[j] |= sc[j];
            scales[j + 4] |= m[j];
        } else {
            scales[j + 4] = (uint8_t)((sc[j] & 15) | ((m[j] & 15) << 4));
            scales[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            scales[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
    uint8_t q[QK_K];
    for (int j = 0; j < 8; j++) {
        float ed = d * sc[j], em = dmin * m[j];
        for (int l = 0; l < 32; l++)
            q[32 * j + l] = (uint8_t)(ed > 0.0f ? clampi(nearest((x[32 * j + l] + em) / ed), 0, 15) : 0);
    }
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++)
            qs[32 * g + l] = (uint8_t)(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
}

/* Simple Q6_K: per 16-element sub-block a symmetric scale amax/31, int8 sub-scales against the
 * super-block d = max/127, 6-bit codes q+32. */
static void quant_q6_k(const float *x, uint8_t *b)
{
    float scale[16], max_scale = 0.0f;
    for (int j = 0; j < 16; j++) {
        float amax = 0.0f;
        for (int l = 0; l < 16; l++) {
            float a = fabsf(x[16 * j + l]);
            amax = a > amax ? a : amax;
        }
        scale[j] = amax / 31.0f;
        max_scale = scale[j] > max_scale ? scale[j] : max_scale;
    }
    uint16_t dh = ov_f32_to_f16(max_scale / 127.0f);
    float d = ov_f16_to_f32(dh);
    int8_t sc[16];
    uint8_t q[QK_K];
    for (int j = 0; j < 16; j++) {
        sc[j] = (int8_t)(d > 0.0f ? clampi(nearest(scale[j] / d), scale[j] > 0.0f, 127) : 0);
        float ed = d * sc[j];
        for (int l = 0; l < 16; l++)
            q[16 * j + l] = (uint8_t)(ed > 0.0f ? clampi(nearest(x[16 * j + l] / ed), -32, 31) + 32 : 32);
    }
    uint8_t *ql = b, *qh = b + 128;
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 32; l++) {
            int q1 = q[128 * h + l], q2 = q[128 * h + l + 32], q3 = q[128 * h + l + 64],
                q4 = q[128 * h + l + 96];
            ql[64 * h + l] = (uint8_t)((q1 & 15) | ((q3 & 15) << 4));
            ql[64 * h + l + 32] = (uint8_t)((q2 & 15) | ((q4 & 15) << 4));
            qh[32 * h + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
    memcpy(b + 192, sc, 16);
    st16(b + 208, dh);
}

/* Nearest-even integer of f, saturated to [lo, hi]; NaN -> 0. (double)INT64_MAX rounds up to
 * 2^63, so the >= test also catches everything past the i64 range before the cast. */
static int64_t sat_int(float f, int64_t lo, int64_t hi)
{
    if (f != f)
        return 0;
    double v = nearbyint((double)f);
    if (v <= (double)lo)
        return lo;
    if (v >= (double)hi)
        return hi;
    return (int64_t)v;
}

int ov_dtype_from_f32(int dtype, const float *src, void *dst, int64_t n)
{
    if (!valid(dtype) || n < 0 || (n > 0 && (!src || !dst)))
        return OV_EINVAL;
    if ((uint64_t)n % k_info[dtype].block_elems)
        return OV_EINVAL;
    uint8_t *d = dst;
    switch (dtype) {
    case OV_DTYPE_F32:
        if (n)
            memcpy(dst, src, (size_t)n * 4);
        break;
    case OV_DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            st16(d + 2 * i, ov_f32_to_f16(src[i]));
        break;
    case OV_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            st16(d + 2 * i, ov_f32_to_bf16(src[i]));
        break;
    case OV_DTYPE_F8_E4M3:
        for (int64_t i = 0; i < n; i++)
            d[i] = ov_f32_to_f8_e4m3(src[i]);
        break;
    case OV_DTYPE_F8_E5M2:
        for (int64_t i = 0; i < n; i++)
            d[i] = ov_f32_to_f8_e5m2(src[i]);
        break;
    case OV_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double v = src[i];
            uint64_t u;
            memcpy(&u, &v, 8);
            st64(d + 8 * i, u);
        }
        break;
    case OV_DTYPE_I8:
        for (int64_t i = 0; i < n; i++)
            d[i] = (uint8_t)(int8_t)sat_int(src[i], INT8_MIN, INT8_MAX);
        break;
    case OV_DTYPE_U8:
        for (int64_t i = 0; i < n; i++)
            d[i] = (uint8_t)sat_int(src[i], 0, UINT8_MAX);
        break;
    case OV_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            d[i] = src[i] != 0.0f;
        break;
    case OV_DTYPE_I16:
        for (int64_t i = 0; i < n; i++)
            st16(d + 2 * i, (uint16_t)(int16_t)sat_int(src[i], INT16_MIN, INT16_MAX));
        break;
    case OV_DTYPE_I32:
        for (int64_t i = 0; i < n; i++)
            st32(d + 4 * i, (uint32_t)(int32_t)sat_int(src[i], INT32_MIN, INT32_MAX));
        break;
    case OV_DTYPE_I64:
        for (int64_t i = 0; i < n; i++)
            st64(d + 8 * i, (uint64_t)sat_int(src[i], INT64_MIN, INT64_MAX));
        break;
    case OV_DTYPE_Q8_0:
        for (int64_t i = 0; i < n / QK8_0; i++)
            quant_q8_0(src + QK8_0 * i, d + 34 * i);
        break;
    case OV_DTYPE_Q4_K:
        for (int64_t i = 0; i < n / QK_K; i++)
            quant_q4_k(src + QK_K * i, d + 144 * i);
        break;
    case OV_DTYPE_Q6_K:
        for (int64_t i = 0; i < n / QK_K; i++)
            quant_q6_k(src + QK_K * i, d + 210 * i);
        break;
    default:
        return OV_EINVAL;
    }
    return 0;
}
