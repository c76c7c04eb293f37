/* ComfyUI fp8 "scaled" checkpoints: layout detection and per-weight scale lookup. */
#include "common/formats/fp8_scaled.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/formats/fmt_err.h"
#include "common/tensor/dtype.h"

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int ov_fp8_detect(const ov_safetensors *st)
{
    int any_f8 = 0;
    if (ov_st_meta(st, "_quantization_metadata"))
        return OV_FP8_QUANT_META;
    for (size_t i = 0; i < ov_st_count(st); i++) {
        const ov_st_tensor *t = ov_st_at(st, i);
        if (strcmp(t->name, "scaled_fp8") == 0 || ends_with(t->name, ".scaled_fp8"))
            return OV_FP8_LEGACY;
        if (t->dtype == OV_DTYPE_F8_E4M3 || t->dtype == OV_DTYPE_F8_E5M2)
            any_f8 = 1;
    }
    return any_f8 ? OV_FP8_PLAIN : OV_FP8_NONE;
}

int ov_fp8_weight_scale(const ov_safetensors *st, const char *weight_name, float *scale, char *err, size_t err_cap)
{
    *scale = 1.0f;
    if (!ov_st_find(st, weight_name))
        return fmt_fail(err, err_cap, OV_ENOENT, "tensor '%s' not found", weight_name);
    char layer[1024];
    size_t n = strlen(weight_name);
    if (!ends_with(weight_name, ".weight") || n - 7 >= sizeof layer)
        return 0;
    memcpy(layer, weight_name, n - 7);
    layer[n - 7] = 0;
    static const char *const k_suffix[] = {".scale_weight", ".weight_scale"};
    for (int s = 0; s < 2; s++) {
        char name[1100];
        snprintf(name, sizeof name, "%s%s", layer, k_suffix[s]);
        const ov_st_tensor *t = ov_st_find(st, name);
        if (!t)
            continue;
        if (t->n_elems != 1 || (t->dtype != OV_DTYPE_F32 && t->dtype != OV_DTYPE_F16 && t->dtype != OV_DTYPE_BF16))
            return fmt_fail(err, err_cap, OV_EFORMAT, "%s: scale '%s' for '%s' must be one f32/f16/bf16 element",
                            ov_st_shard_path(st, t->shard) ? ov_st_shard_path(st, t->shard) : "(memory)", name,
                            weight_name);
        unsigned char raw[4];
        int rc = ov_st_read(st, t, raw, sizeof raw, err, err_cap);
        if (rc)
            return rc;
        return ov_dtype_to_f32(t->dtype, raw, scale, 1);
    }
    return 0;
}
