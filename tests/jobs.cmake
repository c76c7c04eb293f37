# supervisor/ job contract: parse/validate/plan against the July and September 2025 payloads and the
# malformed corpus (tests/data/payloads, made by tests/data/gen_payloads.py); fuzz target on the same corpus.
ov_add_check_test(test_job_contract SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_contract.c
  LIBS ov_jobs PkgConfig::JANSSON TIMEOUT 120)
ov_add_fuzz_target(fuzz_job_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_job_parse.c LIBS ov_jobs
  CORPUS ${CMAKE_SOURCE_DIR}/tests/data/payloads)
