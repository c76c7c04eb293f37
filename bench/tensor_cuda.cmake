# CUDA backend: bf16 GEMM vs cuBLAS, attention at WAN's shape, page cache -> VRAM (build/bench/bench_ops_cuda;
# prints a message and exits 0 without a GPU). Run by scripts/gpu-check.sh.
if(OV_HAVE_CUDA AND TARGET ov_tensor_cuda AND TARGET ov_tensor AND TARGET ov_formats)
  add_executable(bench_ops_cuda ${CMAKE_CURRENT_LIST_DIR}/bench_ops_cuda.c)
  target_link_libraries(bench_ops_cuda PRIVATE ov_tensor ov_tensor_cuda ov_formats CUDA::cudart CUDA::cublas)
  set_target_properties(bench_ops_cuda PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
