/* The worker binary of a pipeline that is not built yet: it refuses honestly (exit 78, reason sent). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "worker.h"

static const char *g_pipeline; /* "the WAN 2.1 pipeline" */
static const char *g_serves;   /* "video or image jobs" */

static int unbuilt_load(const ov_worker_env *env, void **state, char *model_id, size_t n)
{
    (void)state;
    (void)model_id;
    (void)n;
    ov_worker_load_error(env, "%s is not built in this version of ourvidz; this worker cannot serve %s yet",
                         g_pipeline, g_serves);
    return OV_EUNSUPP;
}

static int unbuilt_run(void *state, const char *job_id, const char *task, const ov_kvlist *params,
                       ov_job_io *io)
{
    (void)state;
    (void)job_id;
    (void)task;
    (void)params;
    ov_job_set_error(io, false, "%s is not built", g_pipeline);
    return OV_EUNSUPP;
}

int ov_worker_unbuilt_main(const char *kind, const char *pipeline, const char *serves, int argc, char **argv)
{
    g_pipeline = pipeline;
    g_serves = serves;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: ourvidz-%s --worker --name NAME (--ipc-fd N | --socket PATH) [--config PATH]\n"
                   "         [--model PATH] [--vram-budget BYTES] [--spool DIR] [--heartbeat-ms N]\n"
                   "         [--max-failures N] [--kind %s] [--connect-timeout-ms N] [--term-deadline-ms N]\n"
                   "The %s worker of ourvidz, normally started by ourvidz-supervisor.\n"
                   "Status: %s is not built in this version; the worker exits with code %d.\n",
                   kind, kind, kind, pipeline, OV_EXIT_NO_RESPAWN);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("ourvidz-%s 0.1.0 (protocol %d)\n", kind, OV_IPC_PROTOCOL_VERSION);
            return 0;
        }
    }
    if (ov_worker_service_mode(argc, argv)) {
        const ov_worker_ops ops = {.kind = kind, .load = unbuilt_load, .run = unbuilt_run, .unload = NULL};
        return ov_worker_main(&ops, argc, argv);
    }
    fprintf(stderr,
            "ourvidz-%s: %s is not built in this version, so there is no one-shot mode yet; "
            "service mode is --worker (see --help)\n",
            kind, pipeline);
    return OV_EXIT_NO_RESPAWN;
}
