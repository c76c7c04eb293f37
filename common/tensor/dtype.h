/* Element types of tensors and checkpoint weights: sizes, block layouts, names, conversions. */
#ifndef OV_DTYPE_H
#define OV_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* Compute happens in f32 (CPU) or bf16/f16 with f32 accumulation (CUDA); the other types are
 * storage types for weights, converted or dequantised on the fly. Quantised types are stored in
 * blocks of ov_dtype_block_elems() elements taking ov_dtype_block_bytes() bytes (GGUF layouts). */
enum ov_dtype {
    OV_DTYPE_F32 = 0,
    OV_DTYPE_F16,
    OV_DTYPE_BF16,
    OV_DTYPE_F8_E4M3, /* OCP e4m3fn (no inf, one NaN); usually paired with a per-tensor f32 scale */
    OV_DTYPE_F8_E5M2,
    OV_DTYPE_F64,
    OV_DTYPE_I8,
    OV_DTYPE_U8,
    OV_DTYPE_I16,
    OV_DTYPE_I32,
    OV_DTYPE_I64,
    OV_DTYPE_BOOL,
    OV_DTYPE_Q8_0, /* GGUF: 32 elems, f16 scale + 32 x int8 = 34 bytes */
    OV_DTYPE_Q4_K, /* GGUF: 256 elems, 144 bytes */
    OV_DTYPE_Q6_K, /* GGUF: 256 elems, 210 bytes */
    OV_DTYPE_COUNT
};

/* Short name: "f32", "bf16", "f8_e4m3", "q4_K"...; NULL for an invalid value. */
const char *ov_dtype_name(int dtype);
/* Elements per storage block (1 for plain types). 0 for an invalid dtype. */
size_t ov_dtype_block_elems(int dtype);
/* Bytes per storage block. 0 for an invalid dtype. */
size_t ov_dtype_block_bytes(int dtype);
/* Bytes needed for n elements (n must be a multiple of the block size for quantised types;
 * returns 0 if it is not, or on overflow). */
size_t ov_dtype_row_bytes(int dtype, int64_t n);
/* Non-zero for Q8_0/Q4_K/Q6_K. */
int ov_dtype_is_quantized(int dtype);

/* ---- Added by the formats work: name lookup and element conversion (common/tensor/dtype.c). ---- */

/* Inverse of ov_dtype_name() (exact, case-sensitive: "q4_K"). Returns the dtype or -1. */
int ov_dtype_from_name(const char *name);

/* Scalar conversions. Narrowing rounds to nearest, ties to even; NaN stays NaN (quiet),
 * ±Inf stays ±Inf where the format has it, subnormals are produced and read exactly.
 * f32 -> f16 / bf16 / e5m2: values past the largest finite round to ±Inf (IEEE).
 * f32 -> e4m3fn (no Inf): |x| past 448 and ±Inf saturate to ±448 (CUDA __NV_SATFINITE),
 * NaN -> 0x7F|sign. */
float ov_f16_to_f32(uint16_t h);
uint16_t ov_f32_to_f16(float f);
float ov_bf16_to_f32(uint16_t h);
uint16_t ov_f32_to_bf16(float f);
float ov_f8_e4m3_to_f32(uint8_t b);
uint8_t ov_f32_to_f8_e4m3(float f);
float ov_f8_e5m2_to_f32(uint8_t b);
uint8_t ov_f32_to_f8_e5m2(float f);

/* Convert n elements stored as `dtype` at src (little-endian, any alignment) to f32 at dst.
 * Quantised types are dequantised block by block exactly as ggml does (n must be a multiple of
 * the block size). Integers and bool convert to their value (i64/f64 may round). The caller owns
 * both buffers; they must not overlap. Returns 0, or OV_EINVAL (bad dtype, n < 0, n not a
 * multiple of the block). */
int ov_dtype_to_f32(int dtype, const void *src, float *dst, int64_t n);
/* Convert n f32 elements to `dtype` at dst (ov_dtype_row_bytes(dtype, n) bytes). Float types
 * round as the scalar functions above; integers round to nearest-even and saturate (NaN -> 0);
 * bool is x != 0; Q8_0 quantises bit-exactly like ggml's quantize_row_q8_0_ref; Q4_K and Q6_K use
 * a simple round-to-nearest quantiser (not ggml's search: same format, slightly larger error).
 * Returns 0 or OV_EINVAL. */
int ov_dtype_from_f32(int dtype, const float *src, void *dst, int64_t n);

#endif
