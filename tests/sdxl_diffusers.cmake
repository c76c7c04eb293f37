# SDXL diffusers folders: name translation both ways, a folder written from the tiny single file
# checked against diffusers' save_pretrained listing (tests/golden/sdxl/diffusers_listing.txt.gz),
# and the pipeline loaded from it giving the same bytes as the single file.
find_package(ZLIB REQUIRED)
if(TARGET ov_image)
  ov_add_check_test(test_sdxl_diffusers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_diffusers.c
                    LIBS ov_sdxl ZLIB::ZLIB TIMEOUT 300)
  add_dependencies(test_sdxl_diffusers ourvidz-mkmodel)
endif()
