/* Upstash REST transport for the job queue: JSON command client and a claiming poller (shared Lua). */
#ifndef OV_SUP_QUEUE_UPSTASH_H
#define OV_SUP_QUEUE_UPSTASH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http_client.h"

/* The transport under the Upstash job source (queue_upstash_src.h): one REST command client, a
 * claiming poller per producer queue, and the claim operations, all with the Lua scripts of
 * queue_scripts.h so both transports keep the same invariants. */

typedef struct ov_upstash ov_upstash;
typedef struct ov_upstash_req ov_upstash_req;

#define OV_UPSTASH_ARGS_MAX 512

/* A command's outcome, borrowed for the callback:
 * 0: result is the "result" member (JSON null for a nil reply);
 * OV_EPROTO: Redis answered {"error": ...} (error holds it) or the body was not Upstash JSON;
 * OV_ECONFIG: HTTP 401/403 (bad UPSTASH_REDIS_REST_TOKEN: retrying cannot help);
 * OV_EIO: transport error or another HTTP status; OV_ETIMEDOUT. */
typedef void (*ov_upstash_cb)(void *ctx, int status, json_t *result, const char *error);

/* New client for base `url` (UPSTASH_REDIS_REST_URL, http:// or https://) and bearer `token`
 * (copied; registered as a log secret). `hc` is borrowed and must outlive the client.
 * 0 and *out (free with ov_upstash_free), OV_EINVAL (no url/token, bad scheme), OV_ENOMEM. */
int ov_upstash_new(ov_hc *hc, const char *url, const char *token, int64_t timeout_ms, ov_upstash **out);
/* Run one command: argv[0..argc) (lens[i] bytes each, NULL lens = strlen) is POSTed as a JSON
 * array to the base URL. Arguments must be UTF-8. cb runs once, later on the loop, unless the
 * request is cancelled. *req_out (may be NULL) is valid until then.
 * 0, OV_EINVAL (argc out of range, not UTF-8), OV_ENOMEM. */
int ov_upstash_cmd(ov_upstash *u, int argc, const char *const *argv, const size_t *lens, ov_upstash_cb cb,
                   void *ctx, ov_upstash_req **req_out);
/* Abort a command; its callback is not called. */
void ov_upstash_cancel(ov_upstash_req *r);
/* HTTP requests started so far (the free-tier quota counts these). */
int64_t ov_upstash_requests(const ov_upstash *u);
/* Cancel everything in flight (no callbacks) and free. */
void ov_upstash_free(ov_upstash *u);

/* ---------- the claiming poller (one producer queue) ---------- */

/* Keys are those of queue_redis.h under prefix P (P:proc:<sid>:<queue>, P:claim:<cid>, P:leases,
 * P:attempts, P:status:<id>, P:alive:<sid>, P:procs): both transports keep the same invariants. */
typedef struct ov_upstash_poll_opts {
    const char *prefix;               /* key prefix ("ourvidz") */
    const char *sid;                  /* this supervisor's id (unique per process) */
    const char *queue;                /* producer list ("sdxl_queue") */
    int64_t lease_ms;                 /* claim lease; liveness/registration renewed every lease/3 */
    int64_t poll_min_ms, poll_max_ms; /* idle backoff: doubles from min to max, reset by a job */
    int register_once; /* 1: RENEW only before the first LMOVE; the caller refreshes liveness and the
                        * registration (ov_upstash_renew with the processing list), saving requests */
} ov_upstash_poll_opts;

/* One claimed job, borrowed for the callback. The claim is held under token until FINISH/RETRY
 * (OV_LUA_* with the same token) or until its lease expires. */
typedef struct ov_upstash_claim {
    const char *payload;
    size_t payload_len;
    const char *cid, *token, *job_id; /* job_id "" when the payload has no readable id */
    int attempts;
} ov_upstash_claim;

typedef void (*ov_upstash_claim_cb)(void *ctx, const ov_upstash_claim *c);
typedef struct ov_upstash_poller ov_upstash_poller;

/* Start polling on `loop` through `u` (borrowed). Strings in o are copied. The first request
 * registers the processing list and the liveness key (RENEW), then LMOVE queue -> processing list
 * (non-blocking) and CLAIM run as long as jobs come, and idle polls back off. Transport errors
 * back off with jitter up to poll_max; 401/403 is logged once as a configuration error.
 * 0 and *out, OV_EINVAL, OV_ENOMEM. */
int ov_upstash_poller_start(uv_loop_t *loop, ov_upstash *u, const ov_upstash_poll_opts *o,
                            ov_upstash_claim_cb cb, void *ctx, ov_upstash_poller **out);
/* ---------- claim operations (the shared scripts of queue_scripts.h, sent with EVAL) ---------- */

/* Each sends one request; cb gets the script's answer as JSON. Strings are copied at the call.
 * 0, OV_EINVAL (too many claims, not UTF-8), OV_ENOMEM. job_id "" = the payload had no id (no
 * status hash is written). */

/* FINISH (result 1, or 0 when token no longer owns cid): final_state "completed"|"failed"|"dead";
 * dead_entry "" = no dead letter, else pushed onto P:dead capped at dead_max entries. */
int ov_upstash_finish(ov_upstash *u, const char *prefix, const char *cid, const char *token,
                      const char *job_id, const char *final_state, const char *dead_entry, int64_t dead_max,
                      const char *error, ov_upstash_cb cb, void *ctx, ov_upstash_req **req_out);
/* RETRY (1 / 0 as FINISH): the claim waits, ownerless, in P:delayed for delay_ms; MAINT requeues it. */
int ov_upstash_retry(ov_upstash *u, const char *prefix, const char *cid, const char *token,
                     const char *job_id, int64_t delay_ms, const char *reason, ov_upstash_cb cb, void *ctx,
                     ov_upstash_req **req_out);
#define OV_UPSTASH_RENEW_MAX 200
/* RENEW n (<= OV_UPSTASH_RENEW_MAX) held claims and the liveness key of sid, and register nprocs
 * (<= 4) processing lists procs[i] of queues[i]; result: array of the cids whose token no longer
 * matches (lost: drop them without a callback). */
int ov_upstash_renew(ov_upstash *u, const char *prefix, const char *sid, int64_t lease_ms, int nprocs,
                     const char *const *procs, const char *const *queues, int n, const char *const *cids,
                     const char *const *tokens, ov_upstash_cb cb, void *ctx, ov_upstash_req **req_out);
/* MAINT: promote due retries, requeue expired leases with attempts left, take over exhausted ones
 * under token_prefix<cid> (state dead: the caller sends their `failed` callback and FINISHes them),
 * return dead supervisors' processing lists. Result {promoted, requeued, orphans, [[cid, token,
 * payload, job_id, attempts, queue, reason]...]}. */
int ov_upstash_maint(ov_upstash *u, const char *prefix, const char *sid, int max_attempts, int64_t lease_ms,
                     const char *token_prefix, int limit, ov_upstash_cb cb, void *ctx,
                     ov_upstash_req **req_out);

/* Demand gate (a job source claims only while a worker waits, as queue_redis does): want 0 lets
 * the step in flight finish (a popped payload is still claimed and handed to cb) and then sends
 * nothing; want 1 (the start state) polls at once and then backs off as usual. */
void ov_upstash_poller_want(ov_upstash_poller *p, int want);
/* Current idle delay (ms) and polls (LMOVE requests) so far, for tests and metrics. */
int64_t ov_upstash_poller_delay_ms(const ov_upstash_poller *p);
int64_t ov_upstash_poller_polls(const ov_upstash_poller *p);
/* Stop: cancel the request in flight (no callbacks), close the timer; freed by the loop. */
void ov_upstash_poller_stop(ov_upstash_poller *p);

#endif
