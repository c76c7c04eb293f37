# Streaming weight loads (common/model/weights_stream.c) through a fake asynchronous backend.
ov_add_check_test(test_weights_stream SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_weights_stream.c LIBS ov_model
                  TIMEOUT 60)
