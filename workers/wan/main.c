/* ourvidz-wan: the WAN 2.1 text-to-video / text-to-image worker. */
#include "workers/runtime/worker.h"

/* The WAN 2.1 pipeline lands with its issue; until then the binary refuses to start instead of pretending. */
int main(int argc, char **argv)
{
    return ov_worker_unbuilt_main("wan", "the WAN 2.1 pipeline", "video or image jobs", argc, argv);
}
