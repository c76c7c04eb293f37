/* The environment a worker process starts with (worker_env.h). */
#include "worker_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

char **ov_worker_env_build(char *const *base, int gpu, char *gpu_buf, size_t gpu_cap)
{
    size_t n = 0;
    int have_blas_timeout = 0;
    while (base && base[n]) {
        if (has_prefix(base[n], "OPENBLAS_THREAD_TIMEOUT="))
            have_blas_timeout = 1;
        n++;
    }
    char **env = calloc(n + 3, sizeof *env);
    if (!env)
        return NULL;
    size_t e = 0;
    for (size_t i = 0; i < n; i++)
        if (gpu < 0 || !has_prefix(base[i], "CUDA_VISIBLE_DEVICES="))
            env[e++] = base[i];
    if (gpu >= 0) {
        snprintf(gpu_buf, gpu_cap, "CUDA_VISIBLE_DEVICES=%d", gpu);
        env[e++] = gpu_buf;
    }
    if (!have_blas_timeout)
        env[e++] = (char *)OV_WORKER_OPENBLAS_THREAD_TIMEOUT;
    env[e] = NULL;
    return env;
}
