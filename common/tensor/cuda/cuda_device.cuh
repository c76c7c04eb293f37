/* Device-side helpers shared by the CUDA kernels: dtype loads/stores, strided indexing. */
#ifndef OV_CUDA_DEVICE_CUH
#define OV_CUDA_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "common/tensor/cuda/cuda_internal.h"
#include "common/tensor/cuda/quant_elem.h"

/* Element i (in elements) of storage p of dtype dt, as f32. The switch is warp-uniform. */
__device__ __forceinline__ float ov_ld(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case OV_DTYPE_F32: return ((const float *)p)[i];
    case OV_DTYPE_F16: return __half2float(((const __half *)p)[i]);
    case OV_DTYPE_BF16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case OV_DTYPE_F8_E4M3: {
        __nv_fp8_e4m3 v;
        v.__x = ((const __nv_fp8_storage_t *)p)[i];
        return (float)v;
    }
    case OV_DTYPE_F8_E5M2: {
        __nv_fp8_e5m2 v;
        v.__x = ((const __nv_fp8_storage_t *)p)[i];
        return (float)v;
    }
    default: return 0.0f;
    }
}

__device__ __forceinline__ void ov_st(void *p, int dt, int64_t i, float v)
{
    switch (dt) {
    case OV_DTYPE_F32: ((float *)p)[i] = v; break;
    case OV_DTYPE_F16: ((__half *)p)[i] = __float2half_rn(v); break;
    case OV_DTYPE_BF16: ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v); break;
    default: break;
    }
}

/* Weight element: ov_ld plus the GGUF quantised types (per-element block decode; only for
 * conversions and gathers, not inner loops). */
__device__ __forceinline__ float ov_ldw(const void *p, int dt, int64_t i)
{
    if (dt == OV_DTYPE_Q8_0 || dt == OV_DTYPE_Q4_K || dt == OV_DTYPE_Q6_K)
        return ov_quant_elem(p, dt, i);
    return ov_ld(p, dt, i);
}

/* Storage offset (elements) of the element whose row-major linear index over v's shape is li.
 * Dense views (most activations) skip the per-dimension 64-bit divisions: the branch is uniform. */
__device__ __forceinline__ int64_t ov_off(const ov_cu_view &v, int64_t li)
{
    if (v.dense)
        return li;
    int64_t off = 0;
#pragma unroll /* constant indices: no per-thread local copy of the view (see ov_ix32_off) */
    for (int d = OV_TENSOR_MAX_DIMS - 1; d >= 0; d--) {
        if (d < v.ndim) {
            int64_t n = v.shape[d];
            off += (li % n) * v.stride[d];
            li /= n;
        }
    }
    return off;
}

__device__ __forceinline__ float ov_ldv(const ov_cu_view &v, int64_t li)
{
    return ov_ld(v.data, v.dtype, ov_off(v, li)) * v.scale;
}

/* Same for a weight view (quantised types allowed). */
__device__ __forceinline__ float ov_ldvw(const ov_cu_view &v, int64_t li)
{
    return ov_ldw(v.data, v.dtype, ov_off(v, li)) * v.scale;
}

/* The same three for a 32-bit view (ov_cu_v32_of): li < 2^31, multiply-high divisions. Kernels
 * templated on the view type take either. */
__device__ __forceinline__ int64_t ov_off(const ov_cu_v32 &v, int64_t li)
{
    return ov_ix32_off(&v.ix, (uint32_t)li);
}

__device__ __forceinline__ float ov_ldv(const ov_cu_v32 &v, int64_t li)
{
    return ov_ld(v.data, v.dtype, ov_off(v, li)) * v.scale;
}

__device__ __forceinline__ float ov_ldvw(const ov_cu_v32 &v, int64_t li)
{
    return ov_ldw(v.data, v.dtype, ov_off(v, li)) * v.scale;
}

/* Sum over a block (blockDim.x a multiple of 32, <= 1024); every thread gets the total. */
__device__ __forceinline__ float ov_block_sum(float x, float *sh /* [32] */)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    __syncthreads();
    if (l == 0)
        sh[w] = x;
    __syncthreads();
    int nw = blockDim.x / 32;
    x = l < nw ? sh[l] : 0.0f;
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

__device__ __forceinline__ float ov_block_max(float x, float *sh)
{
    for (int o = 16; o > 0; o >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    int w = threadIdx.x / 32, l = threadIdx.x % 32;
    __syncthreads();
    if (l == 0)
        sh[w] = x;
    __syncthreads();
    int nw = blockDim.x / 32;
    x = l < nw ? sh[l] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

/* Two packed 16-bit values (the lower element in the low half) as f32, exactly: bf16 when BF, else
 * f16 (the GEMV and decode-attention kernels' vector loads). */
template <bool BF> __device__ __forceinline__ float2 ov_unpack2(uint32_t u)
{
    if (BF)
        return make_float2(__uint_as_float(u << 16), __uint_as_float(u & 0xffff0000u));
    return make_float2(__half2float(__ushort_as_half((unsigned short)(u & 0xffffu))),
                       __half2float(__ushort_as_half((unsigned short)(u >> 16))));
}

/* 16 bytes global -> shared asynchronously (cp.async, sm_80+); src_bytes 0 writes zeros (rows past
 * the end), 16 copies them all. */
__device__ __forceinline__ void ov_cp_async16(void *dst, const void *src, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"((uint32_t)__cvta_generic_to_shared(dst)),
                 "l"(src), "r"(src_bytes));
}

/* Host side: an attention kernel's q/k/v/o pointers and the element strides of their dims 0-2
 * ([B, H, L, D], last dim contiguous), for any argument struct with members q, k, v, o and
 * qs0..qs2, ks0..ks2, vs0..vs2, os0..os2 (flash_attn_cuda.cu, decode_attn_cuda.cu). */
template <class A>
static inline void ov_attn_io_fill(A &a, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v, ov_tensor *o)
{
    a.q = q->data;
    a.k = k->data;
    a.v = v->data;
    a.o = o->data;
    a.qs0 = q->stride[0];
    a.qs1 = q->stride[1];
    a.qs2 = q->stride[2];
    a.ks0 = k->stride[0];
    a.ks1 = k->stride[1];
    a.ks2 = k->stride[2];
    a.vs0 = v->stride[0];
    a.vs1 = v->stride[1];
    a.vs2 = v->stride[2];
    a.os0 = o->stride[0];
    a.os1 = o->stride[1];
    a.os2 = o->stride[2];
}

#endif
