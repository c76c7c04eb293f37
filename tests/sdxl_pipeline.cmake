# SDXL pipeline: samplers vs diffusers' schedulers, the full pipeline vs diffusers on the tiny
# model, the ourvidz-sdxl worker end to end through the supervisor.
find_package(ZLIB REQUIRED)
# sampler.c compiled in directly: the sampler test does not depend on the model components.
ov_add_check_test(test_sdxl_sampler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_sampler.c
                  ${CMAKE_SOURCE_DIR}/workers/sdxl/sampler.c
                  LIBS ov_common PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 60)
target_include_directories(test_sdxl_sampler PRIVATE ${CMAKE_SOURCE_DIR})
# The pipeline on the tiny model (made by ourvidz-mkmodel in the test) against diffusers' SDXL
# pipeline; the mkmodel component lists are compiled in for the poisoned/partial checkpoints.
if(TARGET ov_image)
  ov_add_check_test(test_sdxl_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_pipeline.c
                    ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_te.c ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_unet.c
                    ${CMAKE_SOURCE_DIR}/tools/mkmodel/sdxl_vae.c ${CMAKE_CURRENT_LIST_DIR}/support/golden_rec.c
                    ${CMAKE_CURRENT_LIST_DIR}/support/sdxl_golden_check.c ${CMAKE_CURRENT_LIST_DIR}/support/sdxl_tiny.c
                    LIBS ov_sdxl ov_mk ZLIB::ZLIB TIMEOUT 300)
  target_include_directories(test_sdxl_pipeline PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  add_dependencies(test_sdxl_pipeline ourvidz-mkmodel)
  # Image-to-image on the tiny model against diffusers' StableDiffusionXLImg2ImgPipeline.
  ov_add_check_test(test_sdxl_img2img SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_img2img.c
                    ${CMAKE_CURRENT_LIST_DIR}/support/golden_rec.c ${CMAKE_CURRENT_LIST_DIR}/support/sdxl_golden_check.c
                    ${CMAKE_CURRENT_LIST_DIR}/support/sdxl_tiny.c LIBS ov_sdxl ZLIB::ZLIB TIMEOUT 300)
  target_include_directories(test_sdxl_img2img PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  add_dependencies(test_sdxl_img2img ourvidz-mkmodel)
endif()
# The ourvidz-sdxl binary: the one-shot CLI and service mode end to end (redis-server ->
# ourvidz-supervisor -> the real worker -> PNGs in local storage -> callbacks).
if(TARGET ov_image AND TARGET ourvidz-sdxl)
  ov_add_check_test(test_sdxl_worker
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sdxl_worker.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
            ${CMAKE_CURRENT_LIST_DIR}/support/http_test_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/redis_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/callback_wait.c
    LIBS ov_queue_redis ov_image PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD TIMEOUT 600)
  target_include_directories(test_sdxl_worker PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  add_dependencies(test_sdxl_worker ourvidz-sdxl ourvidz-mkmodel ourvidz-supervisor)
endif()
