/* ourvidz-qwen: the Qwen2.5 prompt-enhancer worker. */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "workers/runtime/worker.h"

/* The Qwen2.5 model (tokenizer, decoder, sampler) is not built in this version: the worker refuses
 * to start instead of pretending (exit 78, reported in `ourvidzctl status`). */
static int qwen_load(const ov_worker_env *env, void **state, char *model_id, size_t n)
{
    (void)state;
    (void)model_id;
    (void)n;
    ov_worker_load_error(env, "the Qwen2.5 enhancer is not built in this version of ourvidz; "
                              "this worker cannot serve enhance jobs yet");
    return OV_EUNSUPP;
}

static int qwen_run(void *state, const char *job_id, const char *task, const ov_kvlist *params, ov_job_io *io)
{
    (void)state;
    (void)job_id;
    (void)task;
    (void)params;
    ov_job_set_error(io, false, "the Qwen2.5 enhancer is not built");
    return OV_EUNSUPP;
}

static const ov_worker_ops qwen_ops = {.kind = "qwen", .load = qwen_load, .run = qwen_run, .unload = NULL};

static void usage(FILE *f)
{
    fprintf(f, "usage: ourvidz-qwen --worker --name NAME (--ipc-fd N | --socket PATH) [--config PATH]\n"
               "                   [--model PATH] [--vram-budget BYTES] [--spool DIR] [--heartbeat-ms N]\n"
               "                   [--max-failures N] [--kind qwen] [--connect-timeout-ms N]\n"
               "                   [--term-deadline-ms N]\n"
               "The Qwen2.5 enhancer worker of ourvidz, normally started by ourvidz-supervisor.\n"
               "Status: the Qwen2.5 enhancer is not built in this version; the worker exits with code 78.\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("ourvidz-qwen 0.1.0 (protocol %d)\n", OV_IPC_PROTOCOL_VERSION);
            return 0;
        }
    }
    if (ov_worker_service_mode(argc, argv))
        return ov_worker_main(&qwen_ops, argc, argv);
    /* One-shot CLI mode (ourvidz-qwen --model DIR --prompt TEXT) arrives with the pipeline. */
    fprintf(
        stderr,
        "ourvidz-qwen: the Qwen2.5 enhancer is not built in this version, so there is no one-shot mode yet; "
        "service mode is --worker (see --help)\n");
    return OV_EXIT_NO_RESPAWN;
}
