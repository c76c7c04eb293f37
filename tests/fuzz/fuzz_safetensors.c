/* libFuzzer target: safetensors header validation (ov_st_parse) and the index accessors. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/formats/fp8_scaled.h"
#include "common/formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ov_safetensors *st = NULL;
    char err[OV_ST_ERR_LEN];
    if (ov_st_parse(data, size, "fuzz.safetensors", &st, err, sizeof err) != 0)
        return 0;
    /* Every tensor must lie inside the image and be findable by name. */
    for (size_t i = 0; i < ov_st_count(st); i++) {
        const ov_st_tensor *t = ov_st_at(st, i);
        if (t->offset > size || t->n_bytes > size - t->offset || ov_st_find(st, t->name) == NULL)
            __builtin_trap();
    }
    for (size_t i = 0; i < ov_st_meta_count(st); i++) {
        const char *k, *v;
        ov_st_meta_at(st, i, &k, &v);
        if (!k || !v || ov_st_meta(st, k) == NULL)
            __builtin_trap();
    }
    (void)ov_fp8_detect(st);
    ov_st_close(st);
    return 0;
}
