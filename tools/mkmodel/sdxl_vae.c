/* SDXL vae tensors for ourvidz-mkmodel (placeholder until the vae work lands). */
#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

int ov_mk_sdxl_vae(ov_mk_list *l, const char *preset) {
    (void)l;
    (void)preset;
    return OV_EUNSUPP;
}
