# workers/sdxl/vae: the SDXL VAE against diffusers AutoencoderKL golden data (tests/golden/sdxl).
# vae.c and the mkmodel list are compiled in directly, so this suite does not wait on the rest of
# ov_sdxl (the other SDXL components build in parallel).
ov_add_check_test(test_sdxl_vae
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_vae.c ${CMAKE_SOURCE_DIR}/workers/sdxl/vae.c
          ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c
  LIBS ov_mk ov_model ov_tensor TIMEOUT 120)
