# SDXL checkpoints in f32 / f16 / bf16 / ComfyUI fp8-scaled (legacy and quant layouts): the same
# tiny run close to the f32 one, the fp8 scale applied (vs the f32 weights and vs torch's
# dequantisation, tests/golden/sdxl/make_fp8.py), broken fp8 files as clear errors.
if(TARGET ov_image)
  find_package(ZLIB REQUIRED)
  ov_add_check_test(test_sdxl_dtypes SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_dtypes.c
                    ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_unet.c
                    ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c
                    LIBS ov_sdxl ov_mk ZLIB::ZLIB TIMEOUT 300)
  add_dependencies(test_sdxl_dtypes ourvidz-mkmodel)
endif()
