/* Tests: wait for a job's terminal callback at the local HTTP test server. */
#ifndef OV_TEST_CALLBACK_WAIT_H
#define OV_TEST_CALLBACK_WAIT_H

#include <jansson.h>

#include "support/http_test_server.h"

/* The first callback body for job `id` whose status is "completed" or "failed" (caller
 * json_decref), polling every 50 ms up to deadline_ms; NULL if none arrived. */
json_t *ov_test_wait_callback(ov_ts *ts, const char *id, int deadline_ms);

#endif
