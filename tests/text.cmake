# common/text: tokenizers (Qwen byte-level BPE, CLIP BPE) against golden ids, plus the fuzz target.
find_package(ZLIB REQUIRED)
ov_add_check_test(test_tok_qwen SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tok_qwen.c
                  LIBS ov_text PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 600)
ov_add_check_test(test_tok_clip SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tok_clip.c
                  LIBS ov_text PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 300)
