/* EXIF Orientation (tag 0x0112) from a TIFF-structured EXIF block, and the flip/rotation PIL's exif_transpose
 * applies. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/decode_internal.h"

/* Reference: EXIF 2.32 §4.5.4 (TIFF header: "II" or "MM", 42, offset of IFD0; an IFD is a
 * 16-bit entry count then 12-byte entries tag, type, count, value-or-offset), and
 * python-pillow/Pillow src/PIL/ImageOps.py exif_transpose (orientation -> Image.Transpose:
 * 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
 * 8 ROTATE_90; PIL's ROTATE_n turn counter-clockwise). */

static uint32_t rd16(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int ov_exif_orientation(const uint8_t *exif, size_t len)
{
    if (!exif)
        return 1;
    if (len >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) {
        exif += 6;
        len -= 6;
    }
    if (len < 8)
        return 1;
    int big;
    if (exif[0] == 'I' && exif[1] == 'I')
        big = 0;
    else if (exif[0] == 'M' && exif[1] == 'M')
        big = 1;
    else
        return 1;
    if (rd16(exif + 2, big) != 42)
        return 1;
    uint32_t ifd = rd32(exif + 4, big);
    if (ifd > len || len - ifd < 2)
        return 1;
    uint32_t n = rd16(exif + ifd, big);
    if ((size_t)n * 12 > len - ifd - 2)
        return 1;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = exif + ifd + 2 + (size_t)i * 12;
        if (rd16(e, big) != 0x0112)
            continue;
        uint32_t type = rd16(e + 2, big), count = rd32(e + 4, big), v;
        if (count < 1)
            return 1;
        if (type == 3) /* SHORT, inline */
            v = rd16(e + 8, big);
        else if (type == 4) /* LONG, inline */
            v = rd32(e + 8, big);
        else
            return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

int ov_image_apply_orientation(ov_image_rgb8 *img, int orientation, char *err, size_t errlen)
{
    if (!img || !img->rgb || orientation < 2 || orientation > 8)
        return 0;
    const int w = img->width, h = img->height;
    const int swap = orientation >= 5;
    const int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *dst = malloc((size_t)w * (size_t)h * 3);
    if (!dst)
        return ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory orienting a %dx%d image", w, h);
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy; /* the source pixel that lands on output (x, y) */
            switch (orientation) {
            case 2: /* mirror left-right */ sx = w - 1 - x, sy = y; break;
            case 3: /* half turn */ sx = w - 1 - x, sy = h - 1 - y; break;
            case 4: /* mirror top-bottom */ sx = x, sy = h - 1 - y; break;
            case 5: /* transpose (main diagonal) */ sx = y, sy = x; break;
            case 6: /* quarter turn clockwise */ sx = y, sy = h - 1 - x; break;
            case 7: /* transverse (anti-diagonal) */ sx = w - 1 - y, sy = h - 1 - x; break;
            default: /* 8: quarter turn counter-clockwise */ sx = w - 1 - y, sy = x; break;
            }
            memcpy(dst + ((size_t)y * (size_t)ow + (size_t)x) * 3,
                   img->rgb + ((size_t)sy * (size_t)w + (size_t)sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->width = ow;
    img->height = oh;
    return 0;
}
