/* The CUDA backend's public entry: open one device as an ov_backend (one stream, cuBLAS handle). */
#ifndef OV_BACKEND_CUDA_H
#define OV_BACKEND_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

#include "common/tensor/backend.h"

/* Open CUDA device `device` as a backend: its own non-blocking stream and cuBLAS handle; memory
 * is plain cudaMalloc (never managed). $OURVIDZ_CUDA_FLASH, read here: "0" turns the tensor-core
 * flash-attention kernel off (every attention runs the general kernel), "1" / "2" / "3" force one
 * of its variants (8 warps x 16 rows / 2 CTAs per SM / 32 query rows per warp: bench_ops_cuda
 * compares them); unset = "4", the variant measured fastest for the shape's class. act_dtype is
 * OV_DTYPE_BF16 (activations in bf16 with f32 accumulation); f32 and f16 activations are accepted by every op
 * too (slower GEMMs). Returns 0 and *out (caller owns it: close with ov_backend_close() /
 * ov_backend_cuda_close()), OV_ENOENT when no such device (or no device at all), OV_EGPU when the driver
 * refuses. Normally reached through ov_backend_open(OV_BACKEND_CUDA, device, &be). */
int ov_backend_cuda_open(int device, ov_backend **out);
/* Destroy the stream and handle, free scratch memory and be itself. NULL is a no-op. Tensors
 * allocated on be must be freed before. */
void ov_backend_cuda_close(ov_backend *be);
/* Attention calls on be served by the tensor-core flash kernel so far (tests and benchmarks check
 * the dispatch with it). */
long long ov_backend_cuda_flash_calls(const ov_backend *be);
/* Attention calls cuDNN's fused SDPA served (OURVIDZ_CUDA_FLASH=7). */
long long ov_backend_cuda_sdpa_calls(const ov_backend *be);
/* Attention calls on be served by the split-K decode kernel (Lq <= 8; off with
 * $OURVIDZ_CUDA_DECODE_ATTN=0, read at open) so far. */
long long ov_backend_cuda_decode_attn_calls(const ov_backend *be);
/* conv2d calls on be served by cuDNN so far ($OURVIDZ_CUDA_CUDNN, read at open: "0" never, "heur"
 * heuristic algorithm choice, else benchmarked once per shape; im2col + cuBLAS otherwise). */
long long ov_backend_cuda_cudnn_calls(const ov_backend *be);
/* Of those, the calls cuDNN served in parts (fewer samples per call, or output-channel parts) because
 * one call's operands passed $OURVIDZ_CUDA_CUDNN_SPLIT_KB (read at open; default 768 MiB). */
long long ov_backend_cuda_cudnn_part_calls(const ov_backend *be);
/* Linears whose bias cuBLASLt added in its epilogue (gemm_lt_cuda.cu); 0 for other backends. */
long long ov_backend_cuda_lt_calls(const ov_backend *be);
/* linear_add / linear_swiglu calls on be that a fused path served (the GEMV's residual or
 * dual-matrix epilogue, a GEMM accumulating into the residual); 0 with $OURVIDZ_CUDA_FUSE=0 (read at
 * open: every such call runs the unfused pair, linear + add or two linears + swiglu; "add" / "glu"
 * fuse only linear_add / only linear_swiglu). */
long long ov_backend_cuda_fused_calls(const ov_backend *be);
/* 1 when cuDNN 9 loads in this process (dlopen on the first call: $OURVIDZ_CUDNN_LIB, libcudnn.so.9,
 * libcudnn.so), else 0 (conv2d then always uses im2col). */
int ov_backend_cuda_cudnn_available(void);
/* Number of visible CUDA devices (0 when none or no driver). */
int ov_backend_cuda_device_count(void);

#ifdef __cplusplus
}
#endif

#endif
