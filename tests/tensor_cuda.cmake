# The CUDA backend's host-side planning (cuBLAS arguments for linear/matmul/conv, im2col indices,
# per-element GGUF decode) emulated on the CPU against the CPU backend: built everywhere, no nvcc.
ov_add_check_test(test_cuda_plan SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_plan.c
                  ${CMAKE_SOURCE_DIR}/common/tensor/cuda/gemm_plan.c
                  ${CMAKE_SOURCE_DIR}/common/tensor/cuda/index_plan.c LIBS ov_tensor TIMEOUT 60)

# The CUDA backend against the CPU backend (label gpu; exits 77 = skipped without a device).
if(OV_HAVE_CUDA AND TARGET ov_tensor_cuda AND TARGET ov_tensor)
  ov_add_check_test(test_tensor_cuda SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tensor_cuda.c
                    LIBS ov_tensor ov_tensor_cuda LABELS gpu TIMEOUT 300)
  set_tests_properties(test_tensor_cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
