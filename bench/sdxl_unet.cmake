# workers/sdxl UNet: CPU step time at SDXL base shapes, FLOPs and GFLOP/s (run build/bench/bench_sdxl_unet;
# without --model it writes a full-shape random checkpoint from the mkmodel lists first). The UNet sources
# are compiled in directly, like tests/sdxl_unet.cmake.
add_executable(bench_sdxl_unet ${CMAKE_CURRENT_LIST_DIR}/bench_sdxl_unet.c ${CMAKE_SOURCE_DIR}/workers/sdxl/unet.c
               ${CMAKE_SOURCE_DIR}/workers/sdxl/unet_blocks.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_unet.c
               ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c)
target_link_libraries(bench_sdxl_unet PRIVATE ov_mk ov_model ov_tensor ov_common m)
set_target_properties(bench_sdxl_unet PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
