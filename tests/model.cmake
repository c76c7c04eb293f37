# common/model (checkpoint weights by canonical name) and common/rng.
ov_add_check_test(test_weights SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_weights.c LIBS ov_model TIMEOUT 60)
