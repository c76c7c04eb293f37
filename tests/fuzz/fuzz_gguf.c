/* libFuzzer target: GGUF parsing (ov_gguf_parse), metadata getters and tensor reads. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/formats/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ov_gguf *g = NULL;
    char err[512];
    if (ov_gguf_parse(data, size, "fuzz.gguf", &g, err, sizeof err) != 0)
        return 0;
    for (size_t i = 0; i < ov_gguf_kv_count(g); i++) {
        const char *key = ov_gguf_kv_key(g, i);
        int et;
        uint64_t count;
        int type = ov_gguf_kv_type(g, i, &et, &count);
        int64_t iv;
        double dv;
        int bv;
        const char *s;
        size_t n;
        (void)ov_gguf_get_int(g, key, &iv);
        (void)ov_gguf_get_float(g, key, &dv);
        (void)ov_gguf_get_bool(g, key, &bv);
        if (ov_gguf_get_str(g, key, &s, &n) == 0 && n && (s[0] == 0x7f && s[n - 1] == 0x7f))
            bv = 1;
        if (type == OV_GGUF_ARRAY && count) {
            (void)ov_gguf_get_arr_int(g, key, count - 1, &iv);
            (void)ov_gguf_get_arr_float(g, key, 0, &dv);
            if (ov_gguf_get_arr_str(g, key, count - 1, &s, &n) == 0 && n && s[n - 1] == 0x7f)
                bv = 2;
        }
        (void)bv;
    }
    for (size_t i = 0; i < ov_gguf_count(g); i++) {
        const ov_gguf_tensor *t = ov_gguf_at(g, i);
        if (t->offset > size || t->n_bytes > size - t->offset || ov_gguf_find(g, t->name) == NULL)
            __builtin_trap();
        if (t->n_bytes <= 4096) {
            uint8_t buf[4096];
            (void)ov_gguf_read(g, t, buf, sizeof buf, err, sizeof err);
        }
    }
    ov_gguf_close(g);
    return 0;
}
