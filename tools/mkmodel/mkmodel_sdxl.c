/* ourvidz-mkmodel sdxl: one single-file (sgm layout) SDXL checkpoint with random weights. */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

/* Writes DIR/model.safetensors: te1 + te2 + UNet + VAE in the single-file key layout community
 * checkpoints use (model.diffusion_model.*, conditioner.embedders.{0,1}.*, first_stage_model.*).
 * Default dtype: f32 for tiny (exact tests), f16 for full (what checkpoints ship). */
static int make_sdxl(const ov_mk_args *a) {
    if (strcmp(a->preset, "tiny") != 0 && strcmp(a->preset, "full") != 0) {
        fprintf(stderr, "mkmodel sdxl: unknown preset '%s' (tiny, full)\n", a->preset);
        return OV_EINVAL;
    }
    int dtype = a->dtype_set ? a->dtype : (strcmp(a->preset, "full") == 0 ? OV_DTYPE_F16 : OV_DTYPE_F32);
    ov_mk_list l;
    ov_mk_list_init(&l);
    int rc = ov_mk_sdxl_unet(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_te1(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_te2(&l, a->preset);
    if (!rc)
        rc = ov_mk_sdxl_vae(&l, a->preset);
    if (rc) {
        fprintf(stderr, "mkmodel sdxl: cannot list the %s tensors (code %d)\n", a->preset, rc);
        ov_mk_list_free(&l);
        return rc;
    }
    rc = ov_mk_mkdirs(a->out);
    char path[1024];
    if (!rc && snprintf(path, sizeof path, "%s/model.safetensors", a->out) >= (int)sizeof path)
        rc = OV_ERANGE;
    char err[512] = "";
    const char *meta[] = {"modelspec.architecture", "stable-diffusion-xl-v1-base", "ourvidz.preset", a->preset,
                          "ourvidz.note", "random weights from ourvidz-mkmodel (not a trained model)"};
    if (!rc)
        rc = ov_mk_write_safetensors(&l, path, dtype, a->seed, meta, 3, err, sizeof err);
    if (rc && err[0])
        fprintf(stderr, "%s\n", err);
    if (!rc)
        printf("mkmodel sdxl: %s (%zu tensors, %s)\n", path, l.n, ov_dtype_name(dtype));
    ov_mk_list_free(&l);
    return rc;
}

const ov_mk_kind ov_mk_kind_sdxl = {"sdxl", "tiny|full", make_sdxl};
