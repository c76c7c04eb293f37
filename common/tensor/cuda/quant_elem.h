/* One element of a GGUF-quantised tensor (Q8_0, Q4_K, Q6_K) as f32, computed from its block alone:
 * the CUDA backend's weight conversion reads through this on the device, and tests/test_cuda_plan.c
 * checks it on the host against ov_dtype_to_f32 (which follows ggml-org/ggml src/ggml-quants.c
 * dequantize_row_q8_0 / _q4_K / _q6_K). Plain C; byte loads only (34/144/210-byte blocks are
 * unaligned). */
#ifndef OV_CUDA_QUANT_ELEM_H
#define OV_CUDA_QUANT_ELEM_H

#include <stdint.h>
#include <string.h>

#include "common/tensor/dtype.h"

#ifdef __CUDACC__
#define OV_QE_HD __host__ __device__
#else
#define OV_QE_HD
#endif

static inline OV_QE_HD float ov_qe_f16(const uint8_t *p)
{
    const uint32_t h = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
    const uint32_t s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t bits;
    if (e == 0) {
        const float f = (float)m * 5.9604644775390625e-8f; /* m · 2^-24, exact */
        return s ? -f : f;
    }
    if (e == 31)
        bits = s | 0x7f800000u | (m << 13);
    else
        bits = s | ((e + 112u) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Element `i` (index in elements of a contiguous layout, see tensor.h) of quantised storage q. */
static inline OV_QE_HD float ov_quant_elem(const void *q, int dtype, int64_t i)
{
    const uint8_t *base = (const uint8_t *)q;
    switch (dtype) {
    case OV_DTYPE_Q8_0: {
        const uint8_t *b = base + (i / 32) * 34;
        return (float)(int8_t)b[2 + i % 32] * ov_qe_f16(b);
    }
    case OV_DTYPE_Q4_K: { /* half d; half dmin; u8 scales[12]; u8 qs[128] */
        const uint8_t *b = base + (i / 256) * 144, *sc = b + 4;
        const int j = (int)(i % 256), c = j / 64, w = j % 64, l = w % 32, sub = 2 * c + (w >= 32);
        uint8_t s, m;
        if (sub < 4) {
            s = sc[sub] & 63;
            m = sc[sub + 4] & 63;
        } else {
            s = (uint8_t)((sc[sub + 4] & 0xf) | ((sc[sub - 4] >> 6) << 4));
            m = (uint8_t)((sc[sub + 4] >> 4) | ((sc[sub] >> 6) << 4));
        }
        const uint8_t qb = b[16 + 32 * c + l];
        const int qv = w < 32 ? (qb & 0xf) : (qb >> 4);
        const float d1 = ov_qe_f16(b) * (float)s, m1 = ov_qe_f16(b + 2) * (float)m;
        return d1 * (float)qv - m1;
    }
    case OV_DTYPE_Q6_K: { /* u8 ql[128]; u8 qh[64]; int8 scales[16]; half d */
        const uint8_t *b = base + (i / 256) * 210;
        const int j = (int)(i % 256), n = j / 128, r = j % 128, quarter = r / 32, l = r % 32;
        const uint8_t *ql = b + 64 * n, *qh = b + 128 + 32 * n;
        const int8_t *sc = (const int8_t *)(b + 192 + 8 * n);
        const int lo = (quarter & 1) ? ql[l + 32] : ql[l];
        const int qv = ((quarter < 2 ? (lo & 0xf) : (lo >> 4)) | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
        return ov_qe_f16(b + 208) * (float)sc[l / 16 + 2 * quarter] * (float)qv;
    }
    default: return 0.0f;
    }
}

#endif
