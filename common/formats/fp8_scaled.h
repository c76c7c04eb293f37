/* ComfyUI fp8 "scaled" safetensors: detect the layout and find each fp8 weight's scale. */
#ifndef OV_FP8_SCALED_H
#define OV_FP8_SCALED_H

#include <stddef.h>

#include "common/formats/safetensors.h"

enum ov_fp8_layout {
    OV_FP8_NONE = 0,   /* no fp8 weights */
    OV_FP8_PLAIN,      /* F8 weights, no scales (scale 1) */
    OV_FP8_LEGACY,     /* `scaled_fp8` marker + <layer>.scale_weight */
    OV_FP8_QUANT_META  /* __metadata__._quantization_metadata + <layer>.weight_scale */
};

/* Which layout st uses (REFERENCE-MODELS.md §D.5). */
int ov_fp8_detect(const ov_safetensors *st);

/* For the weight tensor `weight_name` ("blocks.0.ffn.0.weight"): *scale = the f32 value of its
 * companion "<layer>.scale_weight" or "<layer>.weight_scale" scalar (F32/F16/BF16, one
 * element), or 1.0 when the weight has none. Dequantise as float(W_fp8) * scale. OV_ENOENT if
 * the weight is absent; OV_EFORMAT (message names both tensors) if the scale is not a
 * one-element float tensor. */
int ov_fp8_weight_scale(const ov_safetensors *st, const char *weight_name, float *scale, char *err,
                        size_t err_cap);

#endif
