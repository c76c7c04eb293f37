# supervisor/queue_redis: Lua scripts on a real redis-server, then the supervisor end to end.
ov_add_check_test(test_queue_redis
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_queue_redis.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
          ${CMAKE_CURRENT_LIST_DIR}/support/http_test_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/redis_server.c
  LIBS ov_queue_redis PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD TIMEOUT 600)
target_include_directories(test_queue_redis PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_dependencies(test_queue_redis ourvidz-supervisor ourvidz-testworker ourvidzctl)
