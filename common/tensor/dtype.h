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

#endif
