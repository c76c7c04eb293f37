# common/tensor/dtype.c and common/formats/: conversions, safetensors, GGUF, loader; fuzz targets.
ov_add_check_test(test_dtype SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dtype.c LIBS ov_dtype)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c)
  ov_add_check_test(test_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c LIBS ov_formats)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/test_gguf.c)
  ov_add_check_test(test_gguf SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gguf.c LIBS ov_formats)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_safetensors.c)
  ov_add_fuzz_target(fuzz_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_safetensors.c
                     LIBS ov_formats CORPUS ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/safetensors)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_gguf.c)
  ov_add_fuzz_target(fuzz_gguf SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_gguf.c
                     LIBS ov_formats CORPUS ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/gguf)
endif()
