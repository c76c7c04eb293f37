# common/ foundation: errors, logging, buffers/JSON, configuration.
ov_add_check_test(test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_common.c LIBS ov_common PkgConfig::JANSSON)
