# ipc/: framing and message codec suites, and the decoder's fuzz target (corpus replayed in CI).
ov_add_check_test(test_ipc_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_frame.c LIBS ov_ipc TIMEOUT 120)
ov_add_check_test(test_ipc_message SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ipc_message.c LIBS ov_ipc TIMEOUT 180)
ov_add_fuzz_target(fuzz_ipc_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_ipc_decode.c LIBS ov_ipc
                   CORPUS ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/ipc)
# Seed-corpus generator (run by hand: see docs/FUZZING.md; its output is committed).
add_executable(gen_ipc_corpus ${CMAKE_CURRENT_LIST_DIR}/fuzz/gen_ipc_corpus.c)
target_link_libraries(gen_ipc_corpus PRIVATE ov_ipc)
set_target_properties(gen_ipc_corpus PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
