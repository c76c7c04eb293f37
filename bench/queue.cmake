# supervisor/queue_redis: enqueue -> ACCEPT latency and end-to-end jobs/s (run build/bench/bench_queue).
add_executable(bench_queue ${CMAKE_CURRENT_LIST_DIR}/bench_queue.c ${CMAKE_SOURCE_DIR}/tests/test_supervisor_util.c
               ${CMAKE_SOURCE_DIR}/tests/support/http_test_server.c)
target_include_directories(bench_queue PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(bench_queue PRIVATE ov_ipc ov_common PkgConfig::HIREDIS PkgConfig::JANSSON PkgConfig::OV_MHD
                      PkgConfig::CHECK Threads::Threads)
set_target_properties(bench_queue PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
