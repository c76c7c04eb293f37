/* Golden-data record files written by the tests/golden/<area>/make_*.py recipes: gzip of records
 * {u32 name_len, name, u32 dtype (0 f32, 1 i32, 2 bytes / UTF-8), u32 ndim, i64 shape[ndim],
 * little-endian data}. */
#ifndef OV_TEST_GOLDEN_REC_H
#define OV_TEST_GOLDEN_REC_H

#include <stdint.h>

#define OV_GOLDEN_F32 0
#define OV_GOLDEN_I32 1
#define OV_GOLDEN_BYTES 2

typedef struct ov_golden_rec {
    char name[64];
    int dtype, ndim;
    int64_t shape[6];
    int64_t n;  /* elements */
    void *data; /* byte records are NUL-terminated */
} ov_golden_rec;

typedef struct ov_golden {
    ov_golden_rec *rec;
    int n;
} ov_golden;

/* Read $OURVIDZ_SOURCE_DIR/<rel_path> (the source tree; "." when unset). Aborts the process with a
 * message on a missing or malformed file (a test setup failure, not a test result). */
void ov_golden_load(ov_golden *g, const char *rel_path);
void ov_golden_free(ov_golden *g);
/* The record "<prefix>.<field>" (field NULL: "<prefix>"), or a Check failure naming it. */
const ov_golden_rec *ov_golden_get(const ov_golden *g, const char *prefix, const char *field);

#endif
