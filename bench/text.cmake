# common/text: tokenizer throughput (run OURVIDZ_SOURCE_DIR=. build/bench/bench_tokenizer; compare with
# tests/golden/text/make_golden.py --bench, which times HF tokenizers on the same inputs).
find_package(ZLIB REQUIRED)
add_executable(bench_tokenizer ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE ov_text PkgConfig::JANSSON ZLIB::ZLIB)
set_target_properties(bench_tokenizer PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
