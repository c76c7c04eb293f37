/* ourvidz-sdxl: the SDXL batch text-to-image worker. */
#include "workers/runtime/worker.h"

/* The SDXL pipeline lands with its issue; until then the binary refuses to start instead of pretending. */
int main(int argc, char **argv)
{
    return ov_worker_unbuilt_main("sdxl", "the SDXL pipeline", "sdxl_image jobs", argc, argv);
}
