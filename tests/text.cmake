# common/text: tokenizers (Qwen byte-level BPE, CLIP BPE) against golden ids, plus the fuzz target.
find_package(ZLIB REQUIRED)
ov_add_check_test(test_tok_qwen SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tok_qwen.c
                  LIBS ov_text PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 600)
ov_add_check_test(test_tok_clip SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tok_clip.c
                  LIBS ov_text PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 300)
ov_add_fuzz_target(fuzz_tokenizer SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_tokenizer.c LIBS ov_text
                   CORPUS ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/text)
set_tests_properties(fuzz_tokenizer-corpus PROPERTIES ENVIRONMENT "OURVIDZ_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
