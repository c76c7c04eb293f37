# The CUDA backend's sources (relative to common/tensor/cuda/): one list for the main build
# (CMakeLists.txt here) and the standalone GPU-check build (gpucheck/CMakeLists.txt).
set(OV_TENSOR_CUDA_SOURCES
  backend_cuda.cu
  elementwise_cuda.cu
  norm_cuda.cu
  rope_cuda.cu
  gemm_cuda.cu
  gemv_cuda.cu
  gemm_lt_cuda.cu
  conv_cuda.cu
  cudnn_loader.cu
  attention_cuda.cu
  flash_attn_cuda.cu
  sdpa_cudnn.cu
  decode_attn_cuda.cu
  weight_cuda.cu
  profile_cuda.cu
  gemm_plan.c
  index_plan.c)
