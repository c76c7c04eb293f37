# workers/qwen sampling: the fast paths (seen-id list, lane argmax, fused temperature + top-k scan)
# against a plain implementation of the HF processor chain, id for id.
ov_add_check_test(test_qwen_sample SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_qwen_sample.c LIBS ov_qwen TIMEOUT 120)
