/* Private to common/image/decode*.c: the per-format decoders behind ov_image_decode and their shared helpers.
 */
#ifndef OV_IMAGE_DECODE_INTERNAL_H
#define OV_IMAGE_DECODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/image/decode.h"

/* Each decoder: data/len already sniffed as its format, max_pixels already defaulted; fills out
 * (zeroed on failure) and err; returns 0 or an OV_E* code as ov_image_decode documents. */
int ov_decode_png(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                  size_t errlen);
int ov_decode_jpeg(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                   size_t errlen);
int ov_decode_webp(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                   size_t errlen);

/* snprintf the message into err (if any) and return code. */
__attribute__((format(printf, 4, 5))) int ov_decode_fail(char *err, size_t errlen, int code, const char *fmt,
                                                         ...);

/* The size checks every decoder runs on the header, before allocating: 0 or OV_ERANGE (zero
 * sides are OV_EFORMAT). */
int ov_decode_check_size(const char *format, uint64_t width, uint64_t height, size_t max_pixels, char *err,
                         size_t errlen);

/* Allocate w·h·3 bytes into out (sizes already checked): 0 or OV_ENOMEM. */
int ov_decode_alloc(ov_image_rgb8 *out, int width, int height, char *err, size_t errlen);

/* EXIF orientation (decode_exif.c). exif: a TIFF structure ("II*\0" / "MM\0*" ...), optionally
 * preceded by "Exif\0\0" (JPEG APP1 payload, some WebP/PNG writers). Returns the IFD0 Orientation
 * value 1..8, or 1 when absent, out of range or the structure is malformed (never reads outside
 * exif[0..len)). */
int ov_exif_orientation(const uint8_t *exif, size_t len);
/* Apply orientation 2..8 to img as PIL's ImageOps.exif_transpose does (5..8 swap the sides);
 * 1 or anything else: no-op. 0 or OV_ENOMEM (img unchanged). */
int ov_image_apply_orientation(ov_image_rgb8 *img, int orientation, char *err, size_t errlen);

#endif
