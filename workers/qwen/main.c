/* ourvidz-qwen: the Qwen2.5 prompt-enhancer worker. */
#include "workers/runtime/worker.h"

/* The Qwen2.5 enhancer lands with its issue; until then the binary refuses to start instead of pretending. */
int main(int argc, char **argv)
{
    return ov_worker_unbuilt_main("qwen", "the Qwen2.5 enhancer", "enhance jobs", argc, argv);
}
