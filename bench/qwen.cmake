# workers/qwen: model load, prefill and decode tokens/s (run build/bench/bench_qwen [MODEL...]; compare
# with llama.cpp: tests/golden/qwen/bench_llama_cpp.py on the same GGUF, same thread count).
add_executable(bench_qwen ${CMAKE_CURRENT_LIST_DIR}/bench_qwen.c)
target_link_libraries(bench_qwen PRIVATE ov_qwen)
set_target_properties(bench_qwen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
