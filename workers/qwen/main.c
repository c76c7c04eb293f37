/* ourvidz-qwen: the Qwen2.5 prompt-enhancer worker (service mode) and its one-shot CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/tensor/backend.h"
#include "workers/qwen/qwen_bin.h"
#include "workers/runtime/worker.h"

int ov_qwen_pick_backend(const char *name, int *kind, char *err, size_t errlen)
{
    if (!name || !*name)
        name = getenv("OURVIDZ_BACKEND");
    if (!name || !*name)
        name = "auto";
    if (strcmp(name, "cpu") == 0) {
        *kind = OV_BACKEND_CPU;
        return 0;
    }
    if (strcmp(name, "cuda") != 0 && strcmp(name, "auto") != 0) {
        snprintf(err, errlen, "unknown backend '%s' (auto, cpu or cuda)", name);
        return OV_EINVAL;
    }
    ov_backend *be = NULL;
    int rc = ov_backend_open(OV_BACKEND_CUDA, 0, &be);
    if (rc == 0) {
        ov_backend_close(be);
        *kind = OV_BACKEND_CUDA;
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
        snprintf(err, errlen, "backend cuda: %s", ov_strerror(rc));
        return OV_EUNSUPP;
    }
    *kind = OV_BACKEND_CPU;
    return 0;
}

uint64_t ov_qwen_random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
    }
    return s & ((1ull << 53) - 1);
}

int main(int argc, char **argv)
{
    if (ov_worker_service_mode(argc, argv))
        return ov_qwen_service_main(argc, argv);
    return ov_qwen_cli_main(argc, argv);
}
