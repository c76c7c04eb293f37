# supervisor/: restart arithmetic, status socket, unit-mode fake workers; spawn mode with the test worker.
ov_add_check_test(test_supervisor
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
  LIBS ov_supervisor PkgConfig::JANSSON TIMEOUT 300)
add_dependencies(test_supervisor ourvidz-supervisor ourvidzctl)
# Spawn mode needs the test worker (workers/runtime, test-only engine).
if(TARGET ourvidz-testworker)
  ov_add_check_test(test_supervisor_spawn
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_spawn.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
    LIBS ov_supervisor PkgConfig::JANSSON TIMEOUT 600)
  add_dependencies(test_supervisor_spawn ourvidz-supervisor ourvidz-testworker)
else()
  add_executable(test_supervisor_spawn ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_spawn.c
                 ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c)
  target_link_libraries(test_supervisor_spawn PRIVATE ov_supervisor PkgConfig::JANSSON PkgConfig::CHECK Threads::Threads m)
  set_target_properties(test_supervisor_spawn PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  message(STATUS "ourvidz: test_supervisor_spawn built but not registered (no ourvidz-testworker target)")
endif()
