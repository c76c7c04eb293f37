/* The Upstash job source: the Redis queue's claim/lease/ack semantics over Upstash's REST API. */
#ifndef OV_SUP_QUEUE_UPSTASH_SRC_H
#define OV_SUP_QUEUE_UPSTASH_SRC_H

#include <uv.h>

#include "common/config.h"
#include "delivery.h"
#include "job_source.h"

/* New Upstash source on `loop`: base `url` (UPSTASH_REDIS_REST_URL) and bearer `token`
 * (UPSTASH_REDIS_REST_TOKEN, registered as a log secret), both copied. Queue names, key prefix,
 * lease, attempts, retry backoff and dead-letter cap come from cfg's [redis] section (same keys
 * and meaning as the native source, url ignored); idle polling from [upstash] poll_min/poll_max.
 * Takes ownership of `delivery` (closed by ops->close). Requests start in the background; a bad
 * token is logged (event upstash_auth_failed) and retried at poll_max.
 * 0 and *out (free with ops->destroy after the loop ended), OV_ECONFIG (bad url/token; message in
 * err), OV_ENOMEM, OV_EIO. */
int ov_queue_upstash_new(uv_loop_t *loop, const ov_config *cfg, const char *url, const char *token,
                         ov_delivery *delivery, ov_job_source **out, char *err, size_t errlen);

#endif
