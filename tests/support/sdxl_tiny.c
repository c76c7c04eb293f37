/* The tiny SDXL checkpoint for tests (see sdxl_tiny.h). */
#include "sdxl_tiny.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ov_sdxl_tiny_setup(ov_sdxl_tiny *t, const char *prefix)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/%.40sXXXXXX", prefix);
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        abort();
    }
    const char *bin = getenv("OURVIDZ_BIN_DIR");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/ourvidz-mkmodel sdxl --preset tiny --out %s > /dev/null", bin && *bin ? bin : "bin",
             t->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "sdxl tiny model: %s failed\n", cmd);
        abort();
    }
    snprintf(t->model, sizeof t->model, "%s/model.safetensors", t->dir);
    char err[512];
    ov_sdxl_load_opts o = {.model_path = t->model, .weight_dtype = -1};
    if (ov_sdxl_pipeline_load(&o, &t->pipe, err, sizeof err) != 0) {
        fprintf(stderr, "sdxl tiny model: load: %s\n", err);
        abort();
    }
}

void ov_sdxl_tiny_teardown(ov_sdxl_tiny *t)
{
    ov_sdxl_pipeline_free(t->pipe);
    t->pipe = NULL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t->dir);
    if (t->dir[0] && system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", t->dir);
}
