/* Tests: wait for a job's terminal callback at the local HTTP test server. */
#include "support/callback_wait.h"

#include <string.h>

#include "test_supervisor_util.h"

json_t *ov_test_wait_callback(ov_ts *ts, const char *id, int deadline_ms)
{
    int64_t end = tsup_now_ms() + deadline_ms;
    while (tsup_now_ms() < end) {
        for (int k = 0, n = ov_ts_count(ts); k < n; k++) {
            ov_ts_request q;
            if (ov_ts_get(ts, k, &q) != 0)
                continue;
            json_t *j = q.body ? json_loadb(q.body, q.body_len, 0, NULL) : NULL;
            ov_ts_request_free(&q);
            const char *jid = json_string_value(json_object_get(j, "job_id"));
            const char *st = json_string_value(json_object_get(j, "status"));
            if (jid && st && strcmp(jid, id) == 0 &&
                (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0))
                return j;
            json_decref(j);
        }
        tsup_sleep_ms(50);
    }
    return NULL;
}
