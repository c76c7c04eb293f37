/* The job hand-off interface between the dispatcher and a job layer (local queue now, Redis next). */
#ifndef OV_SUP_JOB_SOURCE_H
#define OV_SUP_JOB_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "ipc/message.h"

#define OV_JOB_ID_MAX 96
#define OV_JOB_TASK_MAX 48

/* One job as the dispatcher sees it. A source allocates it (usually embedded in its own record,
 * recovered with container-of) and keeps ownership; the dispatcher borrows it from next() until it
 * calls exactly one of complete / fail / handback. */
typedef struct ov_job {
    char id[OV_JOB_ID_MAX];
    int kind;                   /* enum ov_worker_kind: which worker pool runs it */
    char type[OV_JOB_TASK_MAX]; /* job type, the metrics label ("t2v", "sdxl_image_fast") */
    char task[OV_JOB_TASK_MAX]; /* task string sent to the worker */
    ov_kvlist params;           /* sent to the worker as is */
    int attempts;               /* deliveries to a worker so far, this one included */
    /* Written by the dispatcher while the job runs (sources may read them in describe). */
    char worker[32];
    char phase[32];
    double progress;         /* 0..1 */
    int64_t dispatch_ack_us; /* JOB written -> ACCEPT read; -1 until acknowledged */
} ov_job;

/* What fail()/handback() decided. */
enum ov_job_verdict {
    OV_JOB_REQUEUED = 1, /* it will run again (attempts left) */
    OV_JOB_DEAD = 2      /* given up: dead-lettered / failed for good */
};

typedef struct ov_job_source ov_job_source;

typedef struct ov_job_source_ops {
    /* Next job for `kind`, if one is available right now: 1 and *out (borrowed, see ov_job);
     * 0 when none. A source that fetches asynchronously (Redis) starts a fetch here and calls
     * ov_job_source_wake() once a job is available. <0 on error (logged by the source). */
    int (*next)(ov_job_source *s, int kind, ov_job **out);
    /* The worker acknowledged the job (ACCEPT). May be NULL. */
    void (*accepted)(ov_job_source *s, ov_job *job);
    /* Progress arrived (a lease-renewal point). May be NULL. */
    void (*progress)(ov_job_source *s, ov_job *job);
    /* Success. `result` (an OV_MSG_RESULT: outputs + meta) is borrowed for the call.
     * The dispatcher no longer touches job afterwards. */
    void (*complete)(ov_job_source *s, ov_job *job, const ov_msg *result);
    /* The worker reported a job error. The source applies its retry policy and returns
     * OV_JOB_REQUEUED or OV_JOB_DEAD. The dispatcher no longer touches job afterwards. */
    int (*fail)(ov_job_source *s, ov_job *job, int code, const char *message, bool retriable);
    /* Taken back without a verdict (worker died or was killed, shutdown deadline). Retriable by
     * nature; returns OV_JOB_REQUEUED or OV_JOB_DEAD (attempts exhausted). */
    int (*handback)(ov_job_source *s, ov_job *job, const char *reason);
    /* Jobs waiting for `kind` (metrics ourvidz_queue_depth). */
    int64_t (*depth)(ov_job_source *s, int kind);
    /* Queue name for `kind` (the metrics label), static storage. */
    const char *(*queue_name)(ov_job_source *s, int kind);
    /* Append a JSON object describing job `id` to out. 0, OV_ENOENT, OV_ENOMEM. May be NULL. */
    int (*describe)(ov_job_source *s, const char *id, ov_buf *out);
    /* Enqueue a job (status socket "submit"). Copies params. Writes the new id to id_out.
     * 0, OV_EINVAL, OV_ENOMEM, OV_EUNSUPP. May be NULL (the source has its own producers). */
    int (*submit)(ov_job_source *s, int kind, const char *task, const ov_kvlist *params, char *id_out,
                  size_t id_len);
    /* Work the source must finish before the process exits (deliveries, acks in flight); the
     * supervisor's stop waits for 0 after the workers are gone, up to stop_timeout past the drain
     * deadline. May be NULL (nothing pending). */
    int (*pending)(ov_job_source *s);
    /* Close the source's loop handles (called once when the supervisor stops; the loop then
     * runs their close callbacks). May be NULL. */
    void (*close)(ov_job_source *s);
    /* Free the source and every job it still owns (after the loop has ended). */
    void (*destroy)(ov_job_source *s);
} ov_job_source_ops;

struct ov_job_source {
    const ov_job_source_ops *ops;
    /* Set by the dispatcher: called (possibly from inside next/submit) when jobs may be ready. */
    void (*wake_cb)(void *ctx);
    void *wake_ctx;
};

static inline void ov_job_source_wake(ov_job_source *s)
{
    if (s->wake_cb)
        s->wake_cb(s->wake_ctx);
}

#endif
