/* ourvidz-testworker: the real worker runtime with a test-only engine, for runtime and supervisor
 * tests. Never installed; product binaries contain only real pipelines.
 *
 * Knobs at start (environment):
 *   OV_TEST_EXIT_AT_START=N   exit with code N before saying hello (crash at start, 78 = do not respawn)
 *   OV_TEST_LOAD_MS=N         spend N ms in load() (heartbeats keep flowing meanwhile)
 *   OV_TEST_LOAD_FAIL=config  load() fails with OV_ECONFIG (-> error frame, exit 78)
 *   OV_TEST_LOAD_FAIL=crash   load() aborts
 * Knobs per job (params):
 *   sleep_ms (int, 0)      total work time, spread over the progress steps
 *   steps (int, 4)         progress steps (phase "denoise")
 *   block_ms (int, 0)      sleep this long WITHOUT calling progress (heartbeats must still flow)
 *   fail (str)             "retriable" or "fatal": fail with OV_EIO, retriable true / false
 *                          (a non-zero number or true means "fatal")
 *   crash (bool)           abort() halfway through the job
 *   gpu_error (bool)       return OV_EGPU (the runtime then exits 75)
 *   output (bool, true)    write <spool>/<job_id>/out.txt ("<job_id> <task>\n"), mime text/plain
 *   output_name (str)      declare <spool>/<job_id>/<output_name> instead of out.txt (written only
 *                          when it has no '/' and is not ".."; for path-escape tests)
 * Knobs for every job (environment, for queue tests where params come from real payloads):
 *   OV_TEST_JOB_SLEEP_MS=N    default for sleep_ms
 *   OV_TEST_OUTPUT_PNG=1      write <spool>/<job_id>/out.png (a valid 1x1 PNG, image/png) instead of out.txt
 * Task "enhance" (the qwen stage) also reports enhanced_prompt="<prompt> (enhanced)" in its meta.
 * Result meta: seed=42, task=<task>, steps=<steps>.
 * The kind is given with --kind (wan, sdxl, qwen, or anything for runtime tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/error.h"
#include "workers/runtime/worker.h"

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int64_t env_int(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    int64_t x;
    return v && ov_parse_int64(v, &x) == 0 ? x : dflt;
}

static int test_load(const ov_worker_env *env, void **state, char *model_id, size_t n)
{
    *state = NULL;
    sleep_ms(env_int("OV_TEST_LOAD_MS", 0));
    const char *fail = getenv("OV_TEST_LOAD_FAIL");
    if (fail && strcmp(fail, "crash") == 0)
        abort();
    if (fail && strcmp(fail, "config") == 0) {
        ov_worker_load_error(env, "test: model file %s is missing", env->model[0] ? env->model : "(none)");
        return OV_ECONFIG;
    }
    snprintf(model_id, n, "test-engine:%s", env->model[0] ? env->model : "none");
    return 0;
}

static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
    0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f, 0x0f, 0x00, 0x02, 0x87, 0x01, 0x80,
    0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static int test_run(void *state, const char *job_id, const char *task, const ov_kvlist *params, ov_job_io *io)
{
    (void)state;
    int64_t total_ms = env_int("OV_TEST_JOB_SLEEP_MS", 0), steps = 4, block = 0;
    bool crash = false, gpu = false, output = true;
    const char *fail = NULL;
    ov_kvlist_get_int(params, "sleep_ms", &total_ms);
    ov_kvlist_get_int(params, "steps", &steps);
    ov_kvlist_get_int(params, "block_ms", &block);
    ov_kvlist_get_bool(params, "crash", &crash);
    ov_kvlist_get_bool(params, "gpu_error", &gpu);
    ov_kvlist_get_bool(params, "output", &output);
    if (ov_kvlist_get_str(params, "fail", &fail) == OV_EINVAL) {
        int64_t f = 0; /* fail=1 (a number or bool): a fatal failure */
        bool fb = false;
        if ((ov_kvlist_get_int(params, "fail", &f) == 0 && f) ||
            (ov_kvlist_get_bool(params, "fail", &fb) == 0 && fb))
            fail = "fatal";
    }
    if (steps < 1)
        steps = 1;

    sleep_ms(block);
    for (int64_t i = 1; i <= steps; i++) {
        sleep_ms(total_ms / steps);
        if (crash && i * 2 > steps)
            abort();
        int rc = ov_job_progress(io, "denoise", i, steps);
        if (rc)
            return rc;
    }
    if (gpu) {
        ov_job_set_error(io, true, "test: illegal memory access (simulated sticky GPU error)");
        return OV_EGPU;
    }
    if (fail) {
        ov_job_set_error(io, strcmp(fail, "fatal") != 0, "test: requested %s failure", fail);
        return OV_EIO;
    }
    if (strcmp(task, "enhance") == 0) {
        const char *prompt = "";
        ov_kvlist_get_str(params, "prompt", &prompt);
        char enhanced[4096];
        snprintf(enhanced, sizeof enhanced, "%s (enhanced)", prompt);
        ov_kvlist_set_str(ov_job_meta(io), "enhanced_prompt", enhanced);
        output = false;
    }
    if (output && env_int("OV_TEST_OUTPUT_PNG", 0) == 1) {
        char path[1024];
        snprintf(path, sizeof path, "%s/out.png", ov_job_spool_dir(io));
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(png_1x1, 1, sizeof png_1x1, f) != sizeof png_1x1) {
            if (f)
                fclose(f);
            ov_job_set_error(io, true, "test: cannot write %s", path);
            return OV_EIO;
        }
        fclose(f);
        int rc = ov_job_add_output(io, path, "image/png");
        if (rc)
            return rc;
        output = false;
    }
    if (output) {
        const char *name = "out.txt";
        ov_kvlist_get_str(params, "output_name", &name);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ov_job_spool_dir(io), name);
        bool plain = !strchr(name, '/') && strcmp(name, "..") != 0 && strcmp(name, ".") != 0;
        FILE *f = plain ? fopen(path, "w") : fopen("/dev/null", "w");
        if (!f) {
            ov_job_set_error(io, true, "test: cannot write %s", path);
            return OV_EIO;
        }
        fprintf(f, "%s %s\n", job_id, task);
        fclose(f);
        int rc = ov_job_add_output(io, path, "text/plain");
        if (rc)
            return rc;
    }
    ov_kvlist_set_int(ov_job_meta(io), "seed", 42);
    ov_kvlist_set_str(ov_job_meta(io), "task", task);
    ov_kvlist_set_int(ov_job_meta(io), "steps", steps);
    return 0;
}

static const ov_worker_ops test_ops = {.kind = NULL, .load = test_load, .run = test_run, .unload = NULL};

int main(int argc, char **argv)
{
    int64_t code = env_int("OV_TEST_EXIT_AT_START", -1);
    if (code >= 0)
        return (int)code;
    return ov_worker_main(&test_ops, argc, argv);
}
