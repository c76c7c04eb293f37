/* Delivery: finishing a job for its producer — upload its outputs, then deliver its callback. */
#ifndef OV_SUP_DELIVERY_H
#define OV_SUP_DELIVERY_H

#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "ipc/message.h"

/* One delivery service per supervisor, running on the supervisor's loop (curl multi driven by
 * libuv; never blocks the loop). It owns the storage backend (local dir or Supabase Storage) and
 * the callback client (job-callback POST with retries and backoff).
 *
 * The job layer (Redis / Upstash queue) calls ov_delivery_start() when a job reaches a terminal
 * state, and acknowledges the job in Redis only from the done callback with status 0, so a
 * supervisor crash before that replays the delivery (the job id is the idempotency key). */
typedef struct ov_delivery ov_delivery;

/* What to deliver. Everything is copied by ov_delivery_start(); the caller may free it after. */
typedef struct ov_delivery_job {
    const char *job_id;        /* validated id (safe for paths) */
    const char *job_type;      /* "sdxl_image_fast", "video_high", ... */
    const char *user_id;       /* validated id */
    const char *video_id;      /* optional (NULL): legacy WAN file naming */
    int completed;             /* 1: completed (outputs uploaded, assets reported); 0: failed */
    const ov_msg *result;      /* OV_MSG_RESULT when completed (outputs: spool files to upload,
                                * meta: seed, timings...); NULL when failed */
    const char *error_message; /* when failed: the reason (names the field and rule for bad input) */
    const char *metadata_json; /* optional JSON object merged into the callback's metadata
                                * (enhanced prompt, fallback notes, attempts); NULL if none */
} ov_delivery_job;

/* Called once per ov_delivery_start(), on the loop: status 0 = callback delivered (ack the job);
 * negative = gave up (upload or callback expired past its retry_max_age; `detail` says why) —
 * for an upload failure the delivery has already turned into a `failed` callback when it could. */
typedef void (*ov_delivery_done_cb)(void *ctx, int status, const char *detail);
/* The status values done_cb receives (added with the implementation):
 *   0             the callback asked for was delivered (or callbacks are disabled: no URL):
 *                 ack the job;
 *   OV_EIO        uploading gave up (storage.retry_max_age passed, or a permanent refusal such as
 *                 HTTP 415) and a `failed` callback saying "upload failed: ..." WAS delivered:
 *                 the job is finished as failed (dead-letter it; do not replay);
 *   OV_ETIMEDOUT  the callback was not delivered within callback.retry_max_age;
 *   OV_EPROTO     the callback endpoint refused it for good (4xx other than 408/429; logged).
 * For the last two the job's outcome never reached the producer. */

/* Create from the [storage] and [callback] config and the environment (SUPABASE_URL,
 * SUPABASE_SERVICE_KEY — registered as log secrets). 0, OV_ECONFIG (message in err), OV_ENOMEM. */
int ov_delivery_init(ov_delivery **out, uv_loop_t *loop, const ov_config *cfg, char *err, size_t errlen);

/* Start delivering. 0 (done_cb will be called exactly once, later, never from inside this call),
 * OV_EINVAL (bad job fields), OV_ENOMEM. */
int ov_delivery_start(ov_delivery *d, const ov_delivery_job *job, ov_delivery_done_cb done_cb, void *ctx);

/* Optional "processing" callback with progress (when callback.processing = true); best effort,
 * rate-limited, never retried. */
void ov_delivery_progress(ov_delivery *d, const char *job_id, const char *job_type, double progress);

/* Deliveries not finished yet (status / drain: the supervisor waits for these on SIGTERM). */
int ov_delivery_pending(const ov_delivery *d);

/* Retry pacing for uploads and callbacks: capped exponential backoff with jitter, starting at
 * initial_ms and capped at max_ms (defaults 1 s and 60 s). Tests set it short. */
void ov_delivery_set_backoff(ov_delivery *d, int64_t initial_ms, int64_t max_ms);

/* Health of the storage backend (for GET /health): 0 usable, OV_EIO not; `detail` says which
 * backend and why. */
int ov_delivery_check_storage(ov_delivery *d, char *detail, size_t n);

/* Stop: pending deliveries are abandoned (their jobs stay leased in Redis and are replayed).
 * Closes handles; `d` is freed after the loop has run the close callbacks. */
void ov_delivery_close(ov_delivery *d);

#endif
