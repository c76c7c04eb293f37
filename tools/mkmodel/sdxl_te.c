/* SDXL text encoders' tensors for ourvidz-mkmodel (placeholder until the text-encoder work lands). */
#include "common/error.h"
#include "tools/mkmodel/mkmodel_sdxl.h"

int ov_mk_sdxl_te1(ov_mk_list *l, const char *preset) {
    (void)l;
    (void)preset;
    return OV_EUNSUPP;
}
int ov_mk_sdxl_te2(ov_mk_list *l, const char *preset) {
    (void)l;
    (void)preset;
    return OV_EUNSUPP;
}
