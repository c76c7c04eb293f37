/* HTTP surface: GET /health, GET /metrics, POST /enhance (OurVidz-compatible), libmicrohttpd on the loop. */
#ifndef OV_SUP_HTTP_H
#define OV_SUP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/config.h"

#define OV_HTTP_BODY_MAX (64u * 1024u)        /* POST bodies over this get 413 */
#define OV_HTTP_PROMPT_MAX (16u * 1024u)      /* a longer prompt gets 400 */
#define OV_HTTP_ENHANCE_TIMEOUT_MS 90000      /* the old worker's 90 s (model not loaded) */
#define OV_HTTP_CONNECTIONS_MAX 64
#define OV_HTTP_CONNECTION_TIMEOUT_S 30

/* Facts /health reports; filled by the owner's hook on each request. */
typedef struct ov_http_worker_facts {
    int configured;            /* instances in the config (0 = kind not used: not checked) */
    int ready, busy, starting; /* starting counts starting + loading + backing-off */
    int failed;
} ov_http_worker_facts;

typedef struct ov_http_health {
    ov_http_worker_facts kinds[OV_KIND_COUNT];
    int queue_ok;               /* 1 connected, 0 not, -1 no queue to check */
    char queue_detail[160];
    int storage_ok;             /* 1 usable, 0 not, -1 no storage configured */
    char storage_detail[160];
    int draining;
    double uptime_s;
} ov_http_health;

/* An enhancement finished: status 0 with the enhanced prompt, or <0 with an error message. */
typedef void (*ov_http_enhance_done)(void *req, int status, const char *enhanced_prompt, const char *error);

/* What the server asks of its owner (the supervisor: http_sup.c; tests: fakes). Any may be NULL. */
typedef struct ov_http_hooks {
    void *ctx;
    void (*health)(void *ctx, ov_http_health *out);
    /* Append the Prometheus exposition. 0 or OV_ENOMEM. */
    int (*metrics)(void *ctx, ov_buf *out);
    /* Start an `enhance` job for `prompt`. 0 and *token: done(req, ...) is called exactly once,
     * later on the loop (never from inside this call) unless enhance_cancel(token) comes first.
     * OV_EUNSUPP: no enhancer worker (answered 503); other codes: 500. */
    int (*enhance)(void *ctx, const char *prompt, const char *enhance_type, ov_http_enhance_done done, void *req,
                   uint64_t *token);
    void (*enhance_cancel)(void *ctx, uint64_t token);
} ov_http_hooks;

typedef struct ov_http ov_http;

/* Listen on bind:port (port 0 = an ephemeral port, for tests; the supervisor starts the server
 * only when http.port > 0). /enhance takes `Authorization: Bearer $WAN_WORKER_API_KEY`, compared
 * in constant time; with the variable unset or empty it answers 503 "disabled: WAN_WORKER_API_KEY
 * not set" — there is no default key. The key is registered as a log secret. Hooks are copied.
 * 0, OV_EIO (cannot listen: err says why), OV_ENOMEM. */
int ov_http_start(ov_http **out, uv_loop_t *loop, const char *bind, int port, const ov_http_hooks *hooks,
                  char *err, size_t errlen);
/* The port actually bound. */
int ov_http_port(const ov_http *h);
/* Enhance deadline (default OV_HTTP_ENHANCE_TIMEOUT_MS); past it the request gets 504. */
void ov_http_set_enhance_timeout(ov_http *h, int64_t ms);
/* Stop: pending enhancements are cancelled, connections closed; h is freed after the loop has run
 * the close callbacks. */
void ov_http_close(ov_http *h);

/* The /health document (application/health+json, draft-inadarei-api-health-check):
 * {"status": "pass"|"warn"|"fail", "version": ..., "description": ..., "checks": {
 *    "workers:<kind>": [{"status", "observedValue": ready, "observedUnit": "ready workers",
 *                        "busy", "starting", "failed", "configured"}],
 *    "queue:connection": [{"status", "output"}], "storage:backend": [{"status", "output"}],
 *    "supervisor:uptime": [{"status": "pass", "observedValue": s, "observedUnit": "s"}]}}
 * A configured kind with no ready or busy worker fails unless some are still starting (warn); one
 * with failed or starting workers besides working ones warns; a broken queue or storage fails;
 * draining warns. *http_status: 200 (pass, warn) or 503.
 * 0 or OV_ENOMEM. */
int ov_http_health_json(const ov_http_health *hh, ov_buf *out, int *http_status);

#endif
