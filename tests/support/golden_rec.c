/* Golden-data record files (see golden_rec.h). */
#include "golden_rec.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void bad(const char *path, const char *what)
{
    fprintf(stderr, "golden data %s: %s\n", path, what);
    abort();
}

void ov_golden_load(ov_golden *g, const char *rel_path)
{
    char p[4096];
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/%s", src && *src ? src : ".", rel_path);
    memset(g, 0, sizeof *g);
    gzFile f = gzopen(p, "rb");
    if (!f)
        bad(p, "cannot open");
    int cap = 0;
    uint32_t nl;
    while (gzread(f, &nl, 4) == 4) {
        if (g->n == cap) {
            cap = cap ? 2 * cap : 64;
            g->rec = realloc(g->rec, (size_t)cap * sizeof *g->rec);
            if (!g->rec)
                bad(p, "out of memory");
        }
        ov_golden_rec *r = &g->rec[g->n++];
        memset(r, 0, sizeof *r);
        uint32_t hd[2];
        if (nl >= sizeof r->name || gzread(f, r->name, nl) != (int)nl || gzread(f, hd, 8) != 8 || hd[0] > 2 ||
            hd[1] > 6)
            bad(p, "malformed record header");
        r->dtype = (int)hd[0];
        r->ndim = (int)hd[1];
        r->n = 1;
        if (r->ndim && gzread(f, r->shape, (unsigned)(8 * r->ndim)) != 8 * r->ndim)
            bad(p, "truncated shape");
        for (int i = 0; i < r->ndim; i++)
            r->n *= r->shape[i];
        size_t sz = (size_t)r->n * (r->dtype == OV_GOLDEN_BYTES ? 1 : 4);
        r->data = calloc(1, sz + 1);
        if (!r->data || gzread(f, r->data, (unsigned)sz) != (int)sz)
            bad(p, "truncated data");
    }
    gzclose(f);
}

void ov_golden_free(ov_golden *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->rec[i].data);
    free(g->rec);
    memset(g, 0, sizeof *g);
}

const ov_golden_rec *ov_golden_get(const ov_golden *g, const char *prefix, const char *field)
{
    char n[64];
    snprintf(n, sizeof n, "%s%s%s", prefix, field ? "." : "", field ? field : "");
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->rec[i].name, n) == 0)
            return &g->rec[i];
    ck_abort_msg("golden record %s missing", n);
    return NULL;
}
