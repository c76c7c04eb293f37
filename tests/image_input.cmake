# common/image reference-image input: decode (PNG/JPEG/WebP -> RGB8, vs Pillow) and resize/fit
# (byte-exact vs Pillow's Image.resize / ImageOps.pad / ImageOps.fit); fuzz target for the decoder.
if(TARGET ov_image)
  pkg_check_modules(OV_TEST_ZLIB REQUIRED IMPORTED_TARGET zlib)
  ov_add_check_test(test_image_resize SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_resize.c
                    LIBS ov_image PkgConfig::OV_TEST_ZLIB TIMEOUT 60)
  ov_add_check_test(test_image_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_decode.c
                    LIBS ov_image PkgConfig::OV_TEST_ZLIB TIMEOUT 60)
endif()
if(TARGET ov_image AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_image_decode.c)
  ov_add_fuzz_target(fuzz_image_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_image_decode.c
                     LIBS ov_image CORPUS ${CMAKE_CURRENT_LIST_DIR}/fuzz/corpus/image_decode)
endif()
