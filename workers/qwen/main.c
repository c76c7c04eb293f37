/* ourvidz-qwen: the Qwen2.5 prompt-enhancer worker (service mode) and its one-shot CLI. */
#include "workers/qwen/qwen_bin.h"
#include "workers/runtime/worker.h"

int main(int argc, char **argv)
{
    if (ov_worker_service_mode(argc, argv))
        return ov_qwen_service_main(argc, argv);
    return ov_qwen_cli_main(argc, argv);
}
