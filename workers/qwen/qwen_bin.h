/* ourvidz-qwen, the binary: service mode (service.c), one-shot CLI (cli.c), shared glue (main.c). */
#ifndef OV_QWEN_BIN_H
#define OV_QWEN_BIN_H

#include <stddef.h>
#include <stdint.h>

/* Service mode: ov_worker_main with the "qwen" ops (load once, serve "enhance" jobs). */
int ov_qwen_service_main(int argc, char **argv);
/* One-shot mode for people and scripts (generate, --enhance, --tokenize, --detokenize). */
int ov_qwen_cli_main(int argc, char **argv);



#endif
