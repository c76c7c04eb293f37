# workers/sdxl text encoders: CLIP-L + bigG golden outputs vs transformers / open_clip
# (tests/golden/sdxl/make_text.py), chunking, emphasis, the ADM vector, bad checkpoints.
# The text sources are compiled in directly (not through ov_sdxl) so this suite builds on its own
# while the other SDXL components are in progress; the tiny encoders are written at start-up by
# the mkmodel tensor lists (tools/mkmodel/sdxl_te.c).
find_package(ZLIB REQUIRED)
ov_add_check_test(test_sdxl_text
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_text.c ${CMAKE_SOURCE_DIR}/workers/sdxl/sdxl_text.c
          ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_text.c ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_l.c
          ${CMAKE_SOURCE_DIR}/workers/sdxl/clip_g.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c
  LIBS ov_mk ov_model ov_text ov_tensor ov_common ZLIB::ZLIB
  TIMEOUT 120)
