# workers/qwen: the enhancer's templates, cleanup and settings (no model), then the ourvidz-qwen
# binary (one-shot CLI and service mode through the supervisor) on the tiny random-weight model.
find_package(ZLIB REQUIRED)
ov_add_check_test(test_qwen_enhance
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qwen_enhance.c ${CMAKE_SOURCE_DIR}/workers/qwen/chat_template.c
          ${CMAKE_SOURCE_DIR}/workers/qwen/enhance_clean.c ${CMAKE_SOURCE_DIR}/workers/qwen/enhance_config.c
  LIBS ov_text ov_common PkgConfig::JANSSON ZLIB::ZLIB TIMEOUT 120)
target_include_directories(test_qwen_enhance PRIVATE ${CMAKE_SOURCE_DIR})
# The binary: CLI on the tiny model (made by ourvidz-mkmodel in the test), service mode through a
# real supervisor (POST /enhance, status-socket submit).
# Also the staged chain: a video7b_fast_enhanced job from redis-server, qwen stage on the real
# worker, the WAN stage on the test engine (WAN is not built yet), callbacks to a local server.
ov_add_check_test(test_qwen_worker
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qwen_worker.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
          ${CMAKE_CURRENT_LIST_DIR}/support/http_test_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/redis_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/callback_wait.c
  LIBS ov_queue_redis PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD ZLIB::ZLIB TIMEOUT 600)
target_include_directories(test_qwen_worker PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_dependencies(test_qwen_worker ourvidz-qwen ourvidz-mkmodel ourvidz-supervisor ourvidz-testworker)
