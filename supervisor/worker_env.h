/* The environment a worker process starts with. */
#ifndef OV_SUPERVISOR_WORKER_ENV_H
#define OV_SUPERVISOR_WORKER_ENV_H

#include <stddef.h>

/* OpenBLAS's idle threads spin (with sched_yield) for 2^N cycles after each threaded call before
 * they sleep; its default N = 28 (~0.1 s) steals the cores from the CPU backend's own pool between
 * calls. 6 measured best on dev-2c (Qwen2.5-0.5B f16 prefill, 2 threads: 402–436 → 439–440 tok/s,
 * 2026-11-27). OpenBLAS reads it when the library loads, so it is set for the worker's exec. */
#define OV_WORKER_OPENBLAS_THREAD_TIMEOUT "OPENBLAS_THREAD_TIMEOUT=6"

/* A NULL-terminated calloc'd array (free the array only) of pointers into `base` (the supervisor's
 * environment) and `gpu_buf`: `base` without CUDA_VISIBLE_DEVICES and with CUDA_VISIBLE_DEVICES=<gpu>
 * when gpu >= 0; OV_WORKER_OPENBLAS_THREAD_TIMEOUT added unless `base` sets OPENBLAS_THREAD_TIMEOUT
 * (an operator's choice wins). NULL when out of memory. */
char **ov_worker_env_build(char *const *base, int gpu, char *gpu_buf, size_t gpu_cap);

#endif
