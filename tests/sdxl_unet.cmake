# workers/sdxl UNet: golden forward vs diffusers (tests/golden/sdxl/make_unet.py), load/input errors.
# The UNet sources are compiled in directly (not through ov_sdxl) so this suite builds on its own
# while the other SDXL components are in progress; the tiny model is written at start-up by the
# mkmodel tensor list (tools/mkmodel/sdxl_unet.c).
ov_add_check_test(test_sdxl_unet
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_unet.c ${CMAKE_SOURCE_DIR}/workers/sdxl/unet.c
          ${CMAKE_SOURCE_DIR}/workers/sdxl/unet_blocks.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_unet.c
  LIBS ov_mk ov_model ov_tensor ov_common
  TIMEOUT 120)
