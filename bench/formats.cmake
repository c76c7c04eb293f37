# Checkpoint loading throughput (common/formats/loader.c).
add_executable(bench_loader ${CMAKE_CURRENT_LIST_DIR}/bench_loader.c)
target_link_libraries(bench_loader PRIVATE ov_formats ov_model)
set_target_properties(bench_loader PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
