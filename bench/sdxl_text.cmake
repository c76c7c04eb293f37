# workers/sdxl text encoders: CPU encode time of CLIP-L and bigG at SDXL base shapes (run
# build/bench/bench_sdxl_text; without --model it writes a full-shape te1 + te2 checkpoint from the
# mkmodel lists first). The text sources are compiled in directly, like tests/sdxl_text.cmake.
add_executable(bench_sdxl_text ${CMAKE_CURRENT_LIST_DIR}/bench_sdxl_text.c
               ${CMAKE_SOURCE_DIR}/workers/sdxl/sdxl_text.c ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_text.c
               ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_l.c ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_g.c
               ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c)
target_link_libraries(bench_sdxl_text PRIVATE ov_mk ov_model ov_text ov_tensor ov_common m)
set_target_properties(bench_sdxl_text PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
