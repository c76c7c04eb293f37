# common/image: float -> RGB8 rounding against diffusers (tests/golden/image), the A1111
# parameters text, atomic PNG writes with text chunks, the reader.
if(TARGET ov_image)
  ov_add_check_test(test_png SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_png.c LIBS ov_image TIMEOUT 60)
endif()
