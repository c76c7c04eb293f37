/* ourvidz-sdxl: the SDXL batch text-to-image worker (service mode) and its one-shot CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/backend.h"
#include "workers/runtime/worker.h"
#include "workers/sdxl/sdxl_bin.h"

int main(int argc, char **argv)
{
    if (ov_worker_service_mode(argc, argv))
        return ov_sdxl_service_main(argc, argv);
    return ov_sdxl_cli_main(argc, argv);
}
