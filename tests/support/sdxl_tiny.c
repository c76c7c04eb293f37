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

ov_sdxl_pipeline *ov_sdxl_tiny_load_tight(const ov_sdxl_tiny *t, int size, size_t *budget_out)
{
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(t->pipe);
    size_t one = ov_sdxl_pipeline_arena_bytes(t->pipe, 1, 1, size, size, 77);
    size_t three = ov_sdxl_pipeline_arena_bytes(t->pipe, 3, 1, size, size, 77);
    ov_sdxl_load_opts o = {.model_path = t->model,
                           .weight_dtype = -1,
                           .budget_bytes = (size_t)in->weight_bytes + one + (three - one) / 4};
    ov_sdxl_pipeline *p = NULL;
    char err[512];
    if (ov_sdxl_pipeline_load(&o, &p, err, sizeof err) != 0) {
        fprintf(stderr, "sdxl tiny model under %zu bytes: load: %s\n", o.budget_bytes, err);
        abort();
    }
    if (budget_out)
        *budget_out = o.budget_bytes;
    return p;
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
