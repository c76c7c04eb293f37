/* The IDAT payload (one zlib stream of filtered scanlines) of an 8-bit RGB PNG, compressed on
 * several threads (common/image/png_idat.c). png.c writes it between libpng's header and IEND. */
#ifndef OV_IMAGE_PNG_IDAT_H
#define OV_IMAGE_PNG_IDAT_H

#include <stddef.h>
#include <stdint.h>

#define OV_PNG_IDAT_THREADS_MAX 32

/* rgb: height rows of width·3 bytes. level: zlib 1..9. threads: row bands compressed in parallel
 * (1..OV_PNG_IDAT_THREADS_MAX; at most one per row). 0 and *out (malloc'd, *out_len bytes), or
 * OV_EINVAL / OV_ENOMEM / OV_EIO. */
int ov_png_idat(const uint8_t *rgb, int width, int height, int level, int threads, uint8_t **out,
                size_t *out_len);

#endif
