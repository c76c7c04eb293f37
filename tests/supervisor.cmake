# supervisor/: restart arithmetic, status socket, unit-mode fake workers; spawn mode with the test worker.
ov_add_check_test(test_supervisor
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
  LIBS ov_supervisor PkgConfig::JANSSON TIMEOUT 300)
add_dependencies(test_supervisor ourvidz-supervisor ourvidzctl)
# Spawn mode: real child processes running the worker runtime with the test engine.
ov_add_check_test(test_supervisor_spawn
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_spawn.c ${CMAKE_CURRENT_LIST_DIR}/test_supervisor_util.c
  LIBS ov_supervisor PkgConfig::JANSSON TIMEOUT 600)
add_dependencies(test_supervisor_spawn ourvidz-supervisor ourvidz-testworker)
