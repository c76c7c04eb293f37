# SDXL pipeline: samplers vs diffusers' schedulers, the full pipeline vs diffusers on the tiny
# model, the ourvidz-sdxl worker end to end through the supervisor.
find_package(ZLIB REQUIRED)
# sampler.c compiled in directly: the sampler test does not depend on the model components.
ov_add_check_test(test_sdxl_sampler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_sampler.c
                  ${CMAKE_SOURCE_DIR}/workers/sdxl/sampler.c
                  LIBS ov_common PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 60)
target_include_directories(test_sdxl_sampler PRIVATE ${CMAKE_SOURCE_DIR})
