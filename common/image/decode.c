/* ov_image_decode: sniff PNG/JPEG/WebP magic bytes, check sizes, dispatch to decode_{png,jpeg,webp}.c. */
#include "common/image/decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/decode_internal.h"

int ov_decode_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int ov_decode_check_size(const char *format, uint64_t width, uint64_t height, size_t max_pixels, char *err,
                         size_t errlen)
{
    if (width == 0 || height == 0)
        return ov_decode_fail(err, errlen, OV_EFORMAT, "%s header gives an empty image (%llux%llu)", format,
                              (unsigned long long)width, (unsigned long long)height);
    if (width > OV_IMAGE_MAX_SIDE || height > OV_IMAGE_MAX_SIDE)
        return ov_decode_fail(err, errlen, OV_ERANGE, "%s image is %llux%llu, over the %d pixel side limit",
                              format, (unsigned long long)width, (unsigned long long)height,
                              OV_IMAGE_MAX_SIDE);
    if (width * height > (uint64_t)max_pixels)
        return ov_decode_fail(err, errlen, OV_ERANGE,
                              "%s image is %llux%llu = %llu pixels, over the limit of %zu", format,
                              (unsigned long long)width, (unsigned long long)height,
                              (unsigned long long)(width * height), max_pixels);
    return 0;
}

int ov_decode_alloc(ov_image_rgb8 *out, int width, int height, char *err, size_t errlen)
{
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb)
        return ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory for a %dx%d image", width, height);
    out->width = width;
    out->height = height;
    return 0;
}

int ov_image_decode(const void *data, size_t len, size_t max_pixels, ov_image_rgb8 *out,
                    const char **format_name, char *err, size_t errlen)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (err && errlen)
        err[0] = 0;
    if (format_name)
        *format_name = NULL;
    if (!out)
        return ov_decode_fail(err, errlen, OV_EINVAL, "no output image");
    memset(out, 0, sizeof *out);
    if (!data && len)
        return ov_decode_fail(err, errlen, OV_EINVAL, "no input bytes");
    if (max_pixels == 0)
        max_pixels = OV_IMAGE_DEFAULT_MAX_PIXELS;
    const uint8_t *p = data;
    const char *name = NULL;
    int rc;
    if (len >= 8 && memcmp(p, png_magic, 8) == 0) {
        name = "png";
        rc = ov_decode_png(p, len, max_pixels, out, err, errlen);
    } else if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        name = "jpeg";
        rc = ov_decode_jpeg(p, len, max_pixels, out, err, errlen);
    } else if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) {
        name = "webp";
        rc = ov_decode_webp(p, len, max_pixels, out, err, errlen);
    } else {
        return ov_decode_fail(err, errlen, OV_EFORMAT, "not a PNG, JPEG or WebP image (%zu bytes%s)", len,
                              len == 0 ? ", empty" : "");
    }
    if (rc != 0) {
        ov_image_rgb8_free(out);
        return rc;
    }
    if (format_name)
        *format_name = name;
    return 0;
}

void ov_image_rgb8_free(ov_image_rgb8 *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
