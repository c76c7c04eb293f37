/* Reference-image input: PNG, JPEG or WebP bytes (untrusted user uploads) -> 8-bit RGB, as PIL's open +
 * convert("RGB"). */
#ifndef OV_IMAGE_DECODE_H
#define OV_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* A decoded image; rgb is height rows of width·3 bytes (R, G, B), owned, freed by
 * ov_image_rgb8_free(). */
typedef struct ov_image_rgb8 {
    int width, height;
    uint8_t *rgb;
} ov_image_rgb8;

#define OV_IMAGE_MAX_SIDE 16384 /* per side, every format */
/* max_pixels = 0 means this: Pillow's Image.MAX_IMAGE_PIXELS (its DecompressionBombWarning
 * threshold, 1024·1024·1024 // 4 // 3), i.e. about 256 MiB of RGB. */
#define OV_IMAGE_DEFAULT_MAX_PIXELS ((size_t)89478485)
#define OV_IMAGE_ERR_LEN 256 /* enough for every message here */

/* Decode one image held in memory. The format is sniffed from the magic bytes, never from a
 * name or Content-Type: PNG (\x89PNG\r\n\x1a\n), JPEG (FF D8 FF: JFIF, EXIF or bare), WebP
 * (RIFF....WEBP: lossy VP8, lossless VP8L, extended VP8X). Anything else: OV_EFORMAT "not a PNG,
 * JPEG or WebP image".
 *
 * Limits, checked from the header BEFORE any pixel buffer is allocated: each side <=
 * OV_IMAGE_MAX_SIDE and width·height <= max_pixels (0: OV_IMAGE_DEFAULT_MAX_PIXELS), else
 * OV_ERANGE naming the size. A progressive JPEG is also limited to OV_IMAGE_JPEG_MAX_SCANS scans
 * (the many-scans CPU bomb) and libjpeg's working memory is capped.
 *
 * Conversion is PIL's Image.open(...).convert("RGB") followed by ImageOps.exif_transpose, which
 * is what diffusers.utils.load_image does:
 *  - alpha is dropped (the colour under it is kept, not composited); grey is replicated; a
 *    palette is expanded (its tRNS ignored); 1/2/4-bit grey is scaled to 0..255;
 *  - 16-bit samples keep their high byte (PIL's RGB;16B and RGBA;16B unpackers do the same).
 *    One deliberate difference: PIL opens 16-bit GREY as mode I;16 and convert("RGB") clips it
 *    to 0..255 (almost all white); here it is scaled (high byte) like 16-bit colour;
 *  - EXIF orientation (tag 0x0112, values 2..8) is applied for JPEG (APP1 "Exif"), PNG (eXIf)
 *    and WebP (EXIF chunk): flips/rotations exactly as PIL's Image.Transpose; 5..8 swap width and
 *    height. PIL's fallback to an XMP tiff:Orientation when EXIF has none is not reproduced;
 *  - JPEG: libjpeg's defaults, as PIL uses them (islow IDCT, fancy upsampling). CMYK and YCCK
 *    JPEGs are converted like PIL: samples taken as Adobe-inverted CMYK (PIL's "CMYK;I"), then
 *    R = (255-K') - (255-K')·C'/255 in PIL's integer rounding. A truncated JPEG is an error (PIL
 *    raises "image file is truncated"), other libjpeg warnings are tolerated as PIL does;
 *  - WebP: an animation gives its first frame composited on the canvas (as PIL's
 *    WebPAnimDecoder gives frame 0; uncovered canvas is black).
 *
 * On success *out owns the pixels and *format_name (if format_name is not NULL) is "png",
 * "jpeg" or "webp" (static). Errors: OV_EINVAL (NULL arguments), OV_EFORMAT (unknown, corrupt or
 * truncated data), OV_ERANGE (too large), OV_EUNSUPP (a valid file this decoder cannot turn into
 * RGB, e.g. a JPEG with 2 components), OV_ENOMEM; the message goes to err (errlen bytes, err may
 * be NULL) and *out is zeroed. libpng/libjpeg errors come back through setjmp/longjmp, never
 * exit(). Thread-safe (no global state). */
int ov_image_decode(const void *data, size_t len, size_t max_pixels, ov_image_rgb8 *out,
                    const char **format_name, char *err, size_t errlen);
void ov_image_rgb8_free(ov_image_rgb8 *img);

#define OV_IMAGE_JPEG_MAX_SCANS 256 /* progressive JPEGs use ~10; libjpeg-turbo's djpeg suggests a cap */

#endif
