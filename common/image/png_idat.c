/* A PNG's IDAT payload for an RGB8 image, made on several threads: the scanlines filtered with
 * libpng's own heuristic (per row the filter whose output has the smallest sum of absolute values
 * as signed bytes; ties to the earlier of None, Sub, Up, Average, Paeth), then compressed in row
 * bands the way pigz does: every band a raw deflate stream primed with the previous band's last
 * 32 KiB and ended on a byte boundary (Z_SYNC_FLUSH; the last band Z_FINISH), behind one zlib header,
 * followed by the Adler-32 of all the filtered bytes (adler32_combine). The result is one valid
 * zlib stream (RFC 1950/1951), a few hundred bytes larger than a single-threaded one. Why: zlib on
 * one thread was the tail of an SDXL job, ~175–225 ms a 1024² image on the H100 host (2026-11-27). */
#include "common/image/png_idat.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"

#define DICT_BYTES 32768

typedef struct band {
    /* in */
    const uint8_t *rgb;
    uint8_t *filt; /* the whole filtered image: rows of 1 + 3·width bytes */
    int width, row0, row1, level, last;
    /* out */
    uint8_t *z;
    size_t z_len;
    uLong adler;
    int rc;
} band;

static inline int sabs(uint8_t v)
{
    int s = (int8_t)v;
    return s < 0 ? -s : s;
}

static inline uint8_t paeth(int a, int b, int c)
{
    const int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (uint8_t)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Sum of |v| over f[0..n) with v read as a signed byte (libpng's cost of a filtered row). */
static long cost(const uint8_t *f, size_t n)
{
    long sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sabs(f[i]);
    return sum;
}

/* The five filters of byte x with left a, up b, upper-left c into f0..f4 at i. */
static inline void filt5(uint8_t *tmp, size_t n, size_t i, int x, int a, int b, int c)
{
    tmp[i] = (uint8_t)x;
    tmp[n + i] = (uint8_t)(x - a);
    tmp[2 * n + i] = (uint8_t)(x - b);
    tmp[3 * n + i] = (uint8_t)(x - ((a + b) >> 1));
    tmp[4 * n + i] = (uint8_t)(x - paeth(a, b, c));
}

/* A row (cur, n = 3·width bytes; prev the row above, all zeros for the first) filtered into out
 * (1 + n bytes) with the filter of least cost; tmp: 5·n bytes of scratch. */
static void filter_row(const uint8_t *cur, const uint8_t *prev, size_t n, uint8_t *out, uint8_t *tmp)
{
    for (size_t i = 0; i < 3 && i < n; i++)
        filt5(tmp, n, i, cur[i], 0, prev[i], 0);
    for (size_t i = 3; i < n; i++)
        filt5(tmp, n, i, cur[i], cur[i - 3], prev[i], prev[i - 3]);
    int best_k = 0;
    long best = cost(tmp, n);
    for (int k = 1; k < 5; k++) {
        const long c = cost(tmp + (size_t)k * n, n);
        if (c < best) {
            best = c;
            best_k = k;
        }
    }
    out[0] = (uint8_t)best_k;
    memcpy(out + 1, tmp + (size_t)best_k * n, n);
}

static void *filter_band(void *arg)
{
    band *b = arg;
    const size_t n = (size_t)b->width * 3;
    uint8_t *tmp = malloc(6 * n); /* five candidates, then a zero row (above the first) */
    if (!tmp) {
        b->rc = OV_ENOMEM;
        return NULL;
    }
    memset(tmp + 5 * n, 0, n);
    for (int y = b->row0; y < b->row1; y++)
        filter_row(b->rgb + (size_t)y * n, y ? b->rgb + (size_t)(y - 1) * n : tmp + 5 * n, n,
                   b->filt + (size_t)y * (n + 1), tmp);
    free(tmp);
    b->rc = 0;
    return NULL;
}

static void *deflate_band(void *arg)
{
    band *b = arg;
    const size_t stride = (size_t)b->width * 3 + 1;
    const uint8_t *in = b->filt + (size_t)b->row0 * stride;
    const size_t in_len = (size_t)(b->row1 - b->row0) * stride;
    b->adler = adler32(adler32(0L, Z_NULL, 0), in, (uInt)in_len);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, b->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        b->rc = OV_ENOMEM;
        return NULL;
    }
    if (b->row0 > 0) {
        const size_t before = (size_t)b->row0 * stride, d = before < DICT_BYTES ? before : DICT_BYTES;
        (void)deflateSetDictionary(&zs, in - d, (uInt)d);
    }
    size_t cap = deflateBound(&zs, (uLong)in_len) + 64;
    b->z = malloc(cap);
    b->rc = b->z ? 0 : OV_ENOMEM;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)in_len;
    const int flush = b->last ? Z_FINISH : Z_SYNC_FLUSH;
    while (!b->rc) {
        zs.next_out = b->z + b->z_len;
        zs.avail_out = (uInt)(cap - b->z_len);
        const int zr = deflate(&zs, flush);
        b->z_len = cap - zs.avail_out;
        if (zr == Z_STREAM_END || (flush == Z_SYNC_FLUSH && zr == Z_OK && zs.avail_in == 0 && zs.avail_out > 0))
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            b->rc = OV_EIO;
            break;
        }
        uint8_t *g = realloc(b->z, cap * 2); /* bound not enough (never expected): grow */
        if (!g) {
            b->rc = OV_ENOMEM;
            break;
        }
        b->z = g;
        cap *= 2;
    }
    deflateEnd(&zs);
    return NULL;
}

/* Run fn over bands[0..n) on threads (band 0 on this one; a band whose thread cannot start too). */
static void run_all(band *bands, int n, void *(*fn)(void *))
{
    pthread_t tid[OV_PNG_IDAT_THREADS_MAX];
    char started[OV_PNG_IDAT_THREADS_MAX];
    for (int i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, fn, &bands[i]) == 0;
    fn(&bands[0]);
    for (int i = 1; i < n; i++)
        if (!started[i])
            fn(&bands[i]);
    for (int i = 1; i < n; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
}

int ov_png_idat(const uint8_t *rgb, int width, int height, int level, int threads, uint8_t **out,
                size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!rgb || width < 1 || height < 1 || level < 1 || level > 9)
        return OV_EINVAL;
    int n = threads < 1 ? 1 : threads > OV_PNG_IDAT_THREADS_MAX ? OV_PNG_IDAT_THREADS_MAX : threads;
    if (n > height)
        n = height;
    const size_t stride = (size_t)width * 3 + 1;
    uint8_t *filt = malloc(stride * (size_t)height);
    band *bands = calloc((size_t)n, sizeof *bands);
    int rc = filt && bands ? 0 : OV_ENOMEM;
    for (int i = 0; !rc && i < n; i++)
        bands[i] = (band){.rgb = rgb,
                          .filt = filt,
                          .width = width,
                          .row0 = (int)((int64_t)height * i / n),
                          .row1 = (int)((int64_t)height * (i + 1) / n),
                          .level = level,
                          .last = i == n - 1};
    if (!rc)
        run_all(bands, n, filter_band);
    for (int i = 0; !rc && i < n; i++)
        rc = bands[i].rc;
    if (!rc)
        run_all(bands, n, deflate_band);
    size_t total = 6; /* zlib header + Adler-32 */
    for (int i = 0; !rc && i < n; i++) {
        rc = bands[i].rc;
        total += bands[i].z_len;
    }
    uint8_t *z = rc ? NULL : malloc(total);
    if (!rc && !z)
        rc = OV_ENOMEM;
    if (!rc) {
        /* RFC 1950: CMF 0x78 (deflate, 32 KiB window), FLG with FLEVEL as zlib sets it and the
         * check bits making CMF·256 + FLG a multiple of 31 */
        const unsigned flevel = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
        unsigned flg = flevel << 6;
        flg += 31 - (0x78u * 256u + flg) % 31u;
        z[0] = 0x78;
        z[1] = (uint8_t)flg;
        size_t o = 2;
        uLong adler = adler32(0L, Z_NULL, 0);
        for (int i = 0; i < n; i++) {
            memcpy(z + o, bands[i].z, bands[i].z_len);
            o += bands[i].z_len;
            adler = adler32_combine(adler, bands[i].adler,
                                    (z_off_t)((size_t)(bands[i].row1 - bands[i].row0) * stride));
        }
        z[o++] = (uint8_t)(adler >> 24);
        z[o++] = (uint8_t)(adler >> 16);
        z[o++] = (uint8_t)(adler >> 8);
        z[o++] = (uint8_t)adler;
        *out = z;
        *out_len = o;
    }
    for (int i = 0; bands && i < n; i++)
        free(bands[i].z);
    free(bands);
    free(filt);
    return rc;
}
