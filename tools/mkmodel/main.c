/* ourvidz-mkmodel: command line; each model kind lives in mkmodel_<kind>.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mk.h"

/* Kinds compiled in (CMake defines OV_MK_HAVE_<KIND> when mkmodel_<kind>.c exists). */
#ifdef OV_MK_HAVE_QWEN
extern const ov_mk_kind ov_mk_kind_qwen;
#endif
#ifdef OV_MK_HAVE_SDXL
extern const ov_mk_kind ov_mk_kind_sdxl;
#endif
#ifdef OV_MK_HAVE_WAN
extern const ov_mk_kind ov_mk_kind_wan;
#endif

static const ov_mk_kind *const kinds[] = {
#ifdef OV_MK_HAVE_QWEN
    &ov_mk_kind_qwen,
#endif
#ifdef OV_MK_HAVE_SDXL
    &ov_mk_kind_sdxl,
#endif
#ifdef OV_MK_HAVE_WAN
    &ov_mk_kind_wan,
#endif
    NULL,
};

static void usage(FILE *f) {
    fprintf(f, "usage: ourvidz-mkmodel KIND --preset PRESET --out DIR [--dtype f32|f16|bf16] [--seed N] [kind flags]\n"
               "       ourvidz-mkmodel all --preset tiny --out DIR   (every kind below, in DIR/<kind>)\n"
               "Writes random-weight checkpoints in the real layouts (for tests, the demo and benchmarks).\n"
               "Kinds:\n");
    for (size_t i = 0; kinds[i]; i++)
        fprintf(f, "  %-6s presets: %s\n", kinds[i]->kind, kinds[i]->presets);
    if (!kinds[0])
        fprintf(f, "  (none built yet)\n");
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || *end)
        return OV_EINVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    ov_mk_args a = {.kind = argv[1], .preset = "tiny", .out = NULL, .dtype = OV_DTYPE_F32, .seed = 42};
    char **extra = calloc((size_t)argc, sizeof *extra);
    if (!extra)
        return 1;
    int n_extra = 0;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--preset") && v) {
            a.preset = v;
            i++;
        } else if (!strcmp(f, "--out") && v) {
            a.out = v;
            i++;
        } else if (!strcmp(f, "--dtype") && v) {
            a.dtype = ov_dtype_from_name(v);
            a.dtype_set = 1;
            if (a.dtype != OV_DTYPE_F32 && a.dtype != OV_DTYPE_F16 && a.dtype != OV_DTYPE_BF16) {
                fprintf(stderr, "mkmodel: --dtype must be f32, f16 or bf16 (got %s)\n", v);
                free(extra);
                return 2;
            }
            i++;
        } else if (!strcmp(f, "--seed") && v) {
            if (parse_u64(v, &a.seed)) {
                fprintf(stderr, "mkmodel: --seed wants a non-negative integer (got %s)\n", v);
                free(extra);
                return 2;
            }
            i++;
        } else {
            extra[n_extra++] = argv[i];
        }
    }
    a.argc = n_extra;
    a.argv = extra;
    if (!a.out) {
        fprintf(stderr, "mkmodel: --out DIR is required\n");
        usage(stderr);
        free(extra);
        return 2;
    }
    int rc = 0;
    if (!strcmp(a.kind, "all")) {
        if (strcmp(a.preset, "tiny") != 0) {
            fprintf(stderr, "mkmodel: 'all' only makes --preset tiny\n");
            free(extra);
            return 2;
        }
        char sub[1024];
        for (size_t i = 0; kinds[i] && !rc; i++) {
            ov_mk_args k = a;
            k.kind = kinds[i]->kind;
            int w = snprintf(sub, sizeof sub, "%s/%s", a.out, kinds[i]->kind);
            if (w < 0 || (size_t)w >= sizeof sub) {
                rc = OV_ERANGE;
                break;
            }
            k.out = sub;
            rc = kinds[i]->make(&k);
            if (!rc)
                printf("mkmodel: %s tiny model written to %s\n", kinds[i]->kind, sub);
        }
        if (!rc && !kinds[0])
            fprintf(stderr, "mkmodel: no model kind is built yet\n");
    } else {
        const ov_mk_kind *k = NULL;
        for (size_t i = 0; kinds[i]; i++)
            if (!strcmp(kinds[i]->kind, a.kind))
                k = kinds[i];
        if (!k) {
            fprintf(stderr, "mkmodel: unknown or unbuilt kind '%s'\n", a.kind);
            usage(stderr);
            free(extra);
            return 2;
        }
        rc = k->make(&a);
    }
    free(extra);
    return rc ? 1 : 0;
}
