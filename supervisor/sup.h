/* The supervisor's shared state: one libuv loop, one thread; every module works on an ov_sup. */
#ifndef OV_SUP_H
#define OV_SUP_H

#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "job_source.h"
#include "metrics.h"
#include "worker_pool.h"

#define OV_SUP_VERSION "0.1.0"
#define OV_SUP_TICK_MS 50 /* deadline checks (heartbeats, backoff, escalation) run this often */

typedef struct ov_status_server ov_status_server;
struct ov_http;

typedef struct ov_sup {
    uv_loop_t *loop;
    ov_config cfg;
    int unit_mode;     /* workers connect to workers.sock instead of being spawned */
    uint64_t start_ms; /* uv_now at start */
    int draining;      /* SIGTERM seen: no new jobs */
    int stopping;      /* every worker is being stopped */
    uint64_t drain_deadline_ms;
    int unclean; /* a worker had to be killed during the stop: exit 1 */
    int done;    /* all workers gone after a stop: leave the loop */
    ov_pool pool;
    ov_job_source *jobs;
    ov_metrics metrics;
    ov_status_server *status;
    struct ov_http *http;      /* GET /health, /metrics, POST /enhance; NULL when http.port = 0 */
    uv_timer_t tick;
    uint64_t last_notify_ms;
} ov_sup;

/* Start draining (first SIGTERM/SIGINT) or stop at once (second). */
void ov_sup_begin_drain(ov_sup *s, int fast);
/* Called by the pool when every worker process is gone during a stop: closes handles. */
void ov_sup_finish(ov_sup *s);

#endif
