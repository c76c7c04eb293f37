# supervisor/queue_upstash{,_src}: the REST client, claiming poller and job source against a real redis-server behind an
# Upstash-compatible HTTP front started by the test.
ov_add_check_test(test_queue_upstash
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_queue_upstash.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
          ${CMAKE_CURRENT_LIST_DIR}/support/http_test_server.c
          ${CMAKE_CURRENT_LIST_DIR}/support/redis_server.c
  LIBS ov_queue_upstash PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD TIMEOUT 600)
target_include_directories(test_queue_upstash PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_dependencies(test_queue_upstash ourvidz-supervisor ourvidz-testworker)
