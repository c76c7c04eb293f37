# workers/qwen: the Qwen2 decoder on the tiny mkmodel model vs transformers / llama.cpp golden data
# (tests/golden/qwen/), HF vs GGUF loads, generation and sampling, bad model folders.
find_package(ZLIB REQUIRED)
ov_add_check_test(test_qwen_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qwen_model.c
                  LIBS ov_qwen PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 300)
if(TARGET ourvidz-mkmodel)
  add_dependencies(test_qwen_model ourvidz-mkmodel)
endif()
