/* Worker runtime internals shared by its files (not for worker binaries: they use worker.h). */
#ifndef OV_WORKER_RUNTIME_H
#define OV_WORKER_RUNTIME_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipc/frame.h"
#include "ipc/message.h"
#include "worker.h"

#define OV_RT_PATH_MAX 512
#define OV_RT_JOB_ID_MAX 96
#define OV_RT_DEFAULT_SHUTDOWN_MS 30000 /* SIGTERM without a SHUTDOWN frame: finish within this */
#define OV_RT_WRITE_TIMEOUT_MS 20000    /* a frame write blocked this long: the supervisor is gone */

/* Parsed command line (args.c). */
typedef struct ov_worker_args {
    char kind[24];
    char name[32];
    int ipc_fd;                       /* -1 unless --ipc-fd */
    char socket_path[OV_RT_PATH_MAX]; /* --socket */
    char config_path[OV_RT_PATH_MAX];
    char model[OV_RT_PATH_MAX];
    int64_t vram_budget_bytes;
    char spool[OV_RT_PATH_MAX];
    int64_t heartbeat_ms;
    int max_failures;
    int64_t connect_timeout_ms;
    int64_t term_deadline_ms; /* SIGTERM: finish the running job within this, else cancel it */
} ov_worker_args;

/* Parse argv (see worker.h for the flags). `kind` is ops->kind (NULL lets --kind decide).
 * 0, or OV_EINVAL / OV_ECONFIG with a message in err. */
int ov_worker_args_parse(ov_worker_args *a, const char *kind, int argc, char **argv, char *err,
                         size_t errlen);

enum ov_rt_state { OV_RT_LOADING = 0, OV_RT_IDLE, OV_RT_BUSY };

/* One worker process's runtime state. Threads: main (load, jobs), reader (frames from the
 * supervisor), heartbeat. `lock` guards the fields marked (L); `wlock` serialises frame writes. */
typedef struct ov_worker_rt {
    const ov_worker_ops *ops;
    ov_worker_args args;
    ov_worker_env env;
    int fd;
    pthread_mutex_t wlock;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int state;                      /* (L) enum ov_rt_state */
    ov_msg pending;                 /* (L) a received JOB waiting for the main thread */
    bool have_pending;              /* (L) */
    char current[OV_RT_JOB_ID_MAX]; /* (L) id of the running job, "" when idle */
    bool shutdown;                  /* (L) SHUTDOWN received or SIGTERM */
    int64_t shutdown_deadline_ms;   /* (L) monotonic ms; finish the running job before this */
    bool stop_threads;              /* (L) reader/heartbeat: leave */
    atomic_bool cancel;             /* cancel the running job */
    atomic_bool peer_gone;          /* the supervisor closed the socket or spoke garbage */
    atomic_llong vram_used_bytes;
    int64_t hb_seq;
    void *model_state; /* what ops->load made */
    char load_error[512];
} ov_worker_rt;

/* Monotonic milliseconds. */
int64_t ov_rt_now_ms(void);
/* Encode and write one message under wlock. 0, or the write error (and peer_gone is set). */
int ov_rt_send(ov_worker_rt *rt, const ov_msg *m);
/* Send an ERROR frame (job_id may be "" for worker-level errors). */
int ov_rt_send_error(ov_worker_rt *rt, const char *job_id, int code, const char *message, bool retriable);
/* Job ids become directory names: [A-Za-z0-9._-], 1..95 bytes, not "." or "..". */
bool ov_rt_job_id_valid(const char *id);

/* If SIGTERM arrived, turn it into a shutdown with the default deadline (reader thread polls this,
 * so a running job gets the deadline too). */
void ov_rt_check_term(ov_worker_rt *rt);

/* heartbeat.c: start/stop the heartbeat thread. */
int ov_rt_heartbeat_start(ov_worker_rt *rt, pthread_t *th);
/* reader.c: start the reader thread. */
int ov_rt_reader_start(ov_worker_rt *rt, pthread_t *th);
/* job_io.c: run one job (the pending one, already taken by the caller) and report its outcome.
 * Returns the pipeline's status (0 ok, OV_EGPU sticky, other failure). */
int ov_rt_run_job(ov_worker_rt *rt, ov_msg *job);

#endif
