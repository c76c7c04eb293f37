# common/tensor: CPU op benchmark (not a test; run build/bench/bench_ops_cpu [--quick]).
add_executable(bench_ops_cpu ${CMAKE_CURRENT_LIST_DIR}/bench_ops_cpu.c)
target_link_libraries(bench_ops_cpu PRIVATE ov_tensor)
set_target_properties(bench_ops_cpu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
