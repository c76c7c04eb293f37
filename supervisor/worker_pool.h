/* Worker instances: states, spawn (or accept in unit mode), restart with backoff, deadlines, stop. */
#ifndef OV_SUP_WORKER_POOL_H
#define OV_SUP_WORKER_POOL_H

#include <stdint.h>
#include <uv.h>

#include "backoff.h"
#include "common/config.h"
#include "job_source.h"
#include "worker_conn.h"

struct ov_sup;

enum ov_worker_state {
    OV_W_STARTING = 0, /* spawned (or waiting for the unit to connect), no hello yet */
    OV_W_LOADING,      /* hello received, loading the model */
    OV_W_READY,        /* idle, accepting jobs */
    OV_W_BUSY,         /* a job is dispatched to it */
    OV_W_DRAINING,     /* shutdown sent, waiting for it to exit */
    OV_W_BACKOFF,      /* exited; waiting to restart ("backing-off") */
    OV_W_FAILED,       /* crash loop or "do not respawn" exit: not restarted */
    OV_W_STOPPED,      /* stopped by a supervisor shutdown */
    OV_W_STATE_COUNT
};

/* "starting", "loading", "ready", "busy", "draining", "backing-off", "failed", "stopped". */
const char *ov_worker_state_name(int state);

#define OV_POOL_MAX_WORKERS (OV_KIND_COUNT * OV_CONFIG_MAX_INSTANCES)
#define OV_POOL_MAX_PENDING 16 /* unit mode: accepted connections that have not said hello yet */

typedef struct ov_worker {
    struct ov_sup *sup;
    char name[32];        /* "<kind>.<i>" */
    int kind, index, gpu; /* gpu -1 = CUDA_VISIBLE_DEVICES untouched */
    int state;
    char reason[256];   /* why it is in this state (failed, backing-off, last exit) */
    uv_process_t *proc; /* spawn mode; freed in its close callback after exit_cb */
    int64_t pid;        /* 0 when no process */
    ov_conn *conn;      /* NULL when not connected */
    uint64_t spawn_ms, ready_ms, last_frame_ms;
    uint64_t restart_at_ms; /* backing-off: respawn time */
    uint64_t stop_at_ms;    /* draining: next escalation time; EOF grace otherwise */
    int stop_stage;         /* 0 shutdown sent, 1 SIGTERM sent, 2 SIGKILL sent */
    char kill_reason[160];  /* set when the supervisor killed it (heartbeat, garbage, timeout) */
    int restarts;           /* respawns so far (status "restarts") */
    int backoff_step;       /* consecutive failures since the last healthy run */
    ov_crash_ring crashes;
    char last_error[256]; /* last worker-level error message (not about a job) */
    char model[OV_CONFIG_PATH_MAX];
    int64_t vram_used_bytes;
    /* The job it runs (dispatch.c). */
    ov_job *job;
    uint64_t job_start_ms;
    uint64_t dispatch_ns;
    uint64_t cancel_sent_ms; /* 0 = no cancel sent */
    int fail_streak;         /* job errors in a row (the runtime exits 75 at max_consecutive_failures) */
} ov_worker;

typedef struct ov_pending {
    ov_conn *conn;
    uint64_t accept_ms;
    struct ov_sup *sup;
} ov_pending;

typedef struct ov_pool {
    ov_worker workers[OV_POOL_MAX_WORKERS];
    int n;
    uv_pipe_t listener; /* unit mode: <runtime_dir>/workers.sock */
    int listening;
    ov_pending pending[OV_POOL_MAX_PENDING];
} ov_pool;

/* Create the instances the config asks for (states STARTING, nothing spawned). 0 or OV_ENOMEM. */
int ov_pool_init(struct ov_sup *s);
/* Spawn every instance (spawn mode) or listen on workers.sock (unit mode). 0, OV_EIO. */
int ov_pool_start(struct ov_sup *s);
/* Deadlines: backoff expiry, heartbeat per state, stop escalation, pending hellos. */
void ov_pool_tick(struct ov_sup *s, uint64_t now_ms);
/* Begin the stop: idle workers get SHUTDOWN now; busy ones when their job ends or the drain
 * deadline passes (ov_pool_tick). */
void ov_pool_drain(struct ov_sup *s);
/* A worker finished its job (dispatch.c): READY again, or SHUTDOWN when draining. */
void ov_pool_worker_idle(ov_worker *w);
/* The worker reported something after which it exits on its own (sticky GPU error, failure
 * streak): no more jobs; wait for its exit (killed past stop_timeout), then restart. */
void ov_pool_worker_expect_exit(ov_worker *w, const char *why);
/* Kill one worker (SIGKILL in spawn mode; unit mode: close and kill the hello pid) with a reason;
 * the restart follows from its exit. */
void ov_pool_kill(ov_worker *w, const char *reason);
/* Number of workers with a live process or connection. */
int ov_pool_live(const struct ov_sup *s);
/* Close the listener and pending connections (after every worker is gone). */
void ov_pool_close(struct ov_sup *s);
/* Free per-worker memory (crash rings). */
void ov_pool_free(struct ov_sup *s);

#endif
