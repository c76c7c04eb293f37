# workers/runtime/fetch: the worker-side HTTP(S) download helper against a libmicrohttpd server on 127.0.0.1
# started by the test (bodies, statuses, size caps, deadlines, redirects, allow-list, URL redaction).
if(NOT TARGET PkgConfig::OV_MHD)
  pkg_check_modules(OV_MHD REQUIRED IMPORTED_TARGET GLOBAL libmicrohttpd)
endif()
ov_add_check_test(test_fetch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fetch.c
  LIBS ov_worker_fetch PkgConfig::OV_MHD TIMEOUT 60)
