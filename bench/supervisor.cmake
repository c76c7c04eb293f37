# supervisor/: dispatch round-trip, CPU per job and RSS with three test workers (run build/bench/bench_dispatch).
add_executable(bench_dispatch ${CMAKE_CURRENT_LIST_DIR}/bench_dispatch.c)
target_link_libraries(bench_dispatch PRIVATE ov_common PkgConfig::JANSSON)
set_target_properties(bench_dispatch PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
