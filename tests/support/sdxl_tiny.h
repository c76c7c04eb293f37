/* The tiny SDXL checkpoint for tests: written by ourvidz-mkmodel (sdxl --preset tiny) into a fresh
 * temp folder and loaded once; setup failures abort the test program with a message. */
#ifndef OV_TEST_SDXL_TINY_H
#define OV_TEST_SDXL_TINY_H

#include <stddef.h>

#include "workers/sdxl/pipeline.h"

typedef struct ov_sdxl_tiny {
    char dir[64];    /* the temp folder */
    char model[512]; /* <dir>/model.safetensors */
    ov_sdxl_pipeline *pipe;
} ov_sdxl_tiny;

/* Make the model under /tmp/<prefix>XXXXXX ($OURVIDZ_BIN_DIR/ourvidz-mkmodel) and load it
 * (default weight dtype, CPU). */
void ov_sdxl_tiny_setup(ov_sdxl_tiny *t, const char *prefix);
/* A second pipeline on t's checkpoint under a budget with room for one size×size image's CFG batch
 * but not three (the weights + one batch + a quarter of the difference): 3-image requests at that
 * size run in sub-batches. *budget_out (may be NULL) gets the budget. */
ov_sdxl_pipeline *ov_sdxl_tiny_load_tight(const ov_sdxl_tiny *t, int size, size_t *budget_out);
/* Free the pipeline and remove the folder. */
void ov_sdxl_tiny_teardown(ov_sdxl_tiny *t);

#endif
