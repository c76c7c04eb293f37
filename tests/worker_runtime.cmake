# workers/runtime: the shared worker loop, driven by a fake supervisor; the product workers' refusal.
ov_add_check_test(test_worker_runtime SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_runtime.c
  LIBS ov_ipc ov_common TIMEOUT 300)
add_dependencies(test_worker_runtime ourvidz-testworker ourvidz-wan ourvidz-sdxl ourvidz-qwen)
