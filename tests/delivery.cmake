# Delivery (storage + callbacks) and the HTTP surface: suites against a local HTTP server the tests start.
add_library(ov_http_test_server STATIC ${CMAKE_CURRENT_LIST_DIR}/support/http_test_server.c)
target_link_libraries(ov_http_test_server PUBLIC PkgConfig::OV_MHD Threads::Threads)
ov_add_check_test(test_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c
  LIBS ov_delivery ov_http_test_server PkgConfig::JANSSON TIMEOUT 300)
ov_add_check_test(test_callback SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_callback.c
  LIBS ov_delivery ov_http_test_server PkgConfig::JANSSON TIMEOUT 300)
ov_add_check_test(test_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_http.c
  LIBS ov_delivery PkgConfig::JANSSON TIMEOUT 300)
