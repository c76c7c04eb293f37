# workers/sdxl VAE: CPU decode (and encode) time at SDXL shapes, plus the PNG write of the result
# (run build/bench/bench_sdxl_vae; without --model it writes a full-shape random VAE first). The
# VAE sources are compiled in directly, like tests/sdxl_vae.cmake.
if(TARGET ov_image)
  add_executable(bench_sdxl_vae ${CMAKE_CURRENT_LIST_DIR}/bench_sdxl_vae.c ${CMAKE_SOURCE_DIR}/workers/sdxl/vae.c
                 ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c)
  target_link_libraries(bench_sdxl_vae PRIVATE ov_mk ov_model ov_tensor ov_image ov_common m)
  set_target_properties(bench_sdxl_vae PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
