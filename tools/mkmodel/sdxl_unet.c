/* SDXL unet tensors for ourvidz-mkmodel (placeholder until the unet work lands). */
#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

int ov_mk_sdxl_unet(ov_mk_list *l, const char *preset) {
    (void)l;
    (void)preset;
    return OV_EUNSUPP;
}
