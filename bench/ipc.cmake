# ipc/: message codec micro-benchmark (not a test; run build/bench/bench_ipc_codec).
add_executable(bench_ipc_codec ${CMAKE_CURRENT_LIST_DIR}/bench_ipc_codec.c)
target_link_libraries(bench_ipc_codec PRIVATE ov_ipc)
set_target_properties(bench_ipc_codec PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
