# supervisor/queue_upstash: the REST client and claiming poller against a real redis-server behind an
# Upstash-compatible HTTP front started by the test.
ov_add_check_test(test_queue_upstash
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_queue_upstash.c
  LIBS ov_queue_upstash PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD TIMEOUT 300)
