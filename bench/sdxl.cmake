# workers/sdxl pipeline: per phase (model load, text encode, s/step, VAE decode, PNG encode, total)
# for N images (run build/bench/bench_sdxl [--model FILE] [--size WxH] [--count N] [--steps N];
# without --model it writes the tiny model from the mkmodel lists first).
if(TARGET ov_image)
  add_executable(bench_sdxl ${CMAKE_CURRENT_LIST_DIR}/bench_sdxl.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c
                 ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_unet.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c)
  target_link_libraries(bench_sdxl PRIVATE ov_sdxl ov_mk ov_image m)
  set_target_properties(bench_sdxl PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
