/* Worker runtime: the loop every model worker shares (connect, load once, serve, heartbeat, exit). */
#ifndef OV_WORKER_H
#define OV_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "../../ipc/message.h"

/* Reserved exit codes (mirrored in systemd/ourvidz-worker@.service RestartPreventExitStatus=). */
#define OV_EXIT_OK 0
#define OV_EXIT_FAILURE 1 /* ordinary crash-like failure: respawn with backoff */
#define OV_EXIT_UNHEALTHY                                                                                    \
    75                        /* sticky GPU error or N failed jobs in a row: respawn at once, fresh context  \
                               */
#define OV_EXIT_NO_RESPAWN 78 /* misconfigured (model missing, bad config): do not respawn (EX_CONFIG) */

typedef struct ov_job_io ov_job_io;

/* What a pipeline sees while running one job. All functions are safe to call from the job
 * thread only. */
/* Report progress; returns OV_ECANCELED once the supervisor asked to cancel (the pipeline should
 * then return OV_ECANCELED promptly), else 0. */
int ov_job_progress(ov_job_io *io, const char *phase, int64_t step, int64_t total);
/* Non-zero once cancel was requested (or shutdown deadline passed). */
bool ov_job_cancelled(const ov_job_io *io);
/* The job's spool directory (exists, writable, private to this job); outputs go here. */
const char *ov_job_spool_dir(const ov_job_io *io);
/* Declare an output file (path inside the spool dir; copied). 0, OV_EINVAL, OV_ERANGE (too many). */
int ov_job_add_output(ov_job_io *io, const char *path, const char *mime);
/* Result metadata (seed, timings, enhanced prompt, ...). */
ov_kvlist *ov_job_meta(ov_job_io *io);
/* Set the error message returned with a failing code (copied, printf-style). */
void ov_job_set_error(ov_job_io *io, bool retriable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Facts the runtime hands to load(). */
typedef struct ov_worker_env {
    const char *kind;          /* "wan", "sdxl", "qwen", "test" */
    const char *name;          /* instance name, "wan.0" */
    const char *model;         /* model path from config/flags ("" if none) */
    int64_t vram_budget_bytes; /* 0 = unlimited */
    void *priv;                /* the runtime's; see ov_worker_load_error() */
} ov_worker_env;

/* From inside load(): record why loading failed (printf-style, copied). The runtime sends it to
 * the supervisor in the ERROR frame and logs it, so the operator sees it in `ourvidzctl status`. */
void ov_worker_load_error(const ov_worker_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Map a model-load error to what load() should return: errors a restart cannot fix (missing
 * file -> OV_ENOENT; wrong format, unsupported, over budget, bad config -> OV_ECONFIG) make the
 * worker exit OV_EXIT_NO_RESPAWN; memory and device errors pass through (respawn may help). */
int ov_worker_load_code(int rc);

/* Report the device memory the model holds (bytes; sent in READY and every HEARTBEAT). env stays
 * valid for the whole process, so a pipeline may keep it and call this from run() too. */
void ov_worker_set_vram_used(const ov_worker_env *env, int64_t bytes);

/* The one small interface a worker binary plugs in. */
typedef struct ov_worker_ops {
    const char *kind;
    /* Load the model once, before "ready". Fill model_id (identity shown in status: file name,
     * hash). Return 0; OV_ECONFIG / OV_ENOENT (-> exit OV_EXIT_NO_RESPAWN: retrying cannot help);
     * any other error -> exit OV_EXIT_FAILURE. *state is passed to run/unload. */
    int (*load)(const ov_worker_env *env, void **state, char *model_id, size_t model_id_len);
    /* Run one job. 0 = success (outputs/meta in io). OV_ECANCELED when cancelled. OV_EGPU = sticky
     * device error: the runtime reports it and exits OV_EXIT_UNHEALTHY. Other codes are reported
     * as job errors (retriable per ov_job_set_error, default true). */
    int (*run)(void *state, const char *job_id, const char *task, const ov_kvlist *params, ov_job_io *io);
    /* Free everything load() made. May be NULL. */
    void (*unload)(void *state);
} ov_worker_ops;

/* Entry point of a worker process in service mode (ourvidz-<kind> --worker ...).
 * Flags: --name NAME, --ipc-fd N (spawn mode: socket inherited from the supervisor) or
 * --socket PATH (unit mode: connect to the supervisor's workers.sock), --config PATH,
 * --model PATH, --vram-budget BYTES, --spool DIR, --heartbeat-ms N, --max-failures N,
 * --kind KIND (must match ops->kind when that is set), --connect-timeout-ms N (unit mode, 30 s),
 * --term-deadline-ms N (SIGTERM: the running job may finish within this, 30 s; then cancelled).
 * Returns the process exit code (one of OV_EXIT_*). */
int ov_worker_main(const ov_worker_ops *ops, int argc, char **argv);

/* True when argv asks for service mode (--worker, --ipc-fd or --socket). A worker binary's main()
 * uses it to choose between ov_worker_main() and its own one-shot CLI. */
bool ov_worker_service_mode(int argc, char **argv);

/* main() of a worker binary whose pipeline is not built yet: --help/--version work, service mode
 * says hello and then refuses at load with "<pipeline> is not built ... cannot serve <serves>"
 * (exit OV_EXIT_NO_RESPAWN, reason shown in `ourvidzctl status`), and there is no one-shot mode.
 * The model issues replace the call with their own ops and CLI. */
int ov_worker_unbuilt_main(const char *kind, const char *pipeline, const char *serves, int argc, char **argv);

#endif
