/* CUDA weight conversion: any stored weight dtype (f32/f16/bf16, f8 with its scale, GGUF
 * Q8_0/Q4_K/Q6_K dequantised per element) -> the activation dtype a GEMM reads, in device memory. */
#include "common/tensor/cuda/cuda_device.cuh"

#define THREADS 256

__global__ void k_weight_to(void *dst, int ddt, const void *src, int sdt, float scale, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        ov_st(dst, ddt, i, ov_ldw(src, sdt, i) * scale);
}

int ov_cuda_need_weight(const char *op, const ov_tensor *w)
{
    if (w && ov_dtype_is_quantized(w->dtype))
        return 0;
    return ov_cuda_need_float(op, w, 1);
}

int ov_cuda_weight_to(ov_backend *be, const char *op, void *dst, int ddt, const ov_tensor *w, int64_t n)
{
    if (n <= 0)
        return 0;
    k_weight_to<<<ov_cu_blocks(n, THREADS), THREADS, 0, ov_cuda_of(be)->stream>>>(dst, ddt, w->data, w->dtype,
                                                                                  ov_cuda_scale_of(w), n);
    return ov_cuda_launched(be, op);
}
