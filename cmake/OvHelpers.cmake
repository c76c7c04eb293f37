# Helpers shared by every folder's CMakeLists.txt.

# ov_add_check_test(NAME SOURCES a.c b.c LIBS x y [TIMEOUT s] [LABELS l])
# One Check suite binary = one CTest test. Check runs each case in its own process (fork mode).
function(ov_add_check_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CHECK Threads::Threads m)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "OURVIDZ_BIN_DIR=${CMAKE_BINARY_DIR}/bin;OURVIDZ_TEST_BIN_DIR=${CMAKE_BINARY_DIR}/tests;OURVIDZ_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# ov_add_fuzz_target(NAME SOURCES f.c LIBS x CORPUS dir)
# Always builds NAME-replay (a main() that feeds every corpus file to LLVMFuzzerTestOneInput)
# and registers it as a CTest test, so the sanitizer build replays the corpus in CI.
# With OURVIDZ_FUZZ=ON under clang it also builds NAME, the libFuzzer binary.
function(ov_add_fuzz_target name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name}-replay ${F_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.c)
  target_link_libraries(${name}-replay PRIVATE ${F_LIBS})
  set_target_properties(${name}-replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name}-corpus COMMAND ${name}-replay ${F_CORPUS})
  set_tests_properties(${name}-corpus PROPERTIES TIMEOUT 300 LABELS fuzz)
  if(OURVIDZ_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang")
    add_executable(${name} ${F_SOURCES})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endfunction()
