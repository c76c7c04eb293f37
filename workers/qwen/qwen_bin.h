/* ourvidz-qwen, the binary: service mode (service.c), one-shot CLI (cli.c), shared glue (main.c). */
#ifndef OV_QWEN_BIN_H
#define OV_QWEN_BIN_H

#include <stddef.h>
#include <stdint.h>

/* Service mode: ov_worker_main with the "qwen" ops (load once, serve "enhance" jobs). */
int ov_qwen_service_main(int argc, char **argv);
/* One-shot mode for people and scripts (generate, --enhance, --tokenize, --detokenize). */
int ov_qwen_cli_main(int argc, char **argv);

/* The compute backend: name "auto" | "cpu" | "cuda", NULL = $OURVIDZ_BACKEND or "auto" (CUDA when this
 * build has it and a device opens, else CPU). 0 and *kind (enum ov_backend_kind); OV_EINVAL for an
 * unknown name (err says so); OV_EUNSUPP when "cuda" was asked for and cannot be opened. */
int ov_qwen_pick_backend(const char *name, int *kind, char *err, size_t errlen);

/* A seed from the OS (getrandom; time and pid as a fallback), < 2^53 so JSON keeps it exact. */
uint64_t ov_qwen_random_seed(void);

#endif
