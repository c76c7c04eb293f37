# common/tensor: runtime core (views, budget/arena, layout ops, bad input) and every op against a
# float64 reference. Bodies run on each backend present (CPU always; CUDA when built and a device
# answers), so scripts/gpu-check.sh reuses them.
ov_add_check_test(test_tensor_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tensor_core.c LIBS ov_tensor TIMEOUT 120)
ov_add_check_test(test_tensor_ops SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tensor_ops.c LIBS ov_tensor TIMEOUT 300)
