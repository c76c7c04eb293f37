/* PNG bytes in memory -> RGB8 with libpng: every colour type and depth as PIL's convert("RGB"), eXIf
 * orientation. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/image/decode_internal.h"

/* libpng reports fatal errors through png_error -> our error function, which records the text
 * and longjmps back to ov_decode_png (libpng's documented setjmp protocol); warnings are
 * ignored, as PIL ignores them. Limits: png_set_user_limits rejects sides over
 * OV_IMAGE_MAX_SIDE inside png_read_info, the pixel cap is checked before the buffer exists,
 * and ancillary chunks (iCCP, zTXt...) are capped at 8 MiB decompressed. */

typedef struct png_src {
    const uint8_t *data;
    size_t len, pos;
    int over_limit; /* libpng warned "... exceeds user limit" before failing IHDR */
    char msg[160];
} png_src;

static void png_read_mem(png_structp png, png_bytep buf, size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "truncated PNG data");
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    if (msg && strstr(msg, "exceeds user limit"))
        s->over_limit = 1;
}

int ov_decode_png(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                  size_t errlen)
{
    png_src src = {.data = data, .len = len, .pos = 0, .over_limit = 0, .msg = ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    if (!png)
        return ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory (libpng)");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory (libpng)");
    }
    /* Written after setjmp and read after a longjmp: volatile (C11 7.13.2.1). */
    png_bytep *volatile rows = NULL;
    volatile int stage = 0; /* 0 header, 1 pixels, 2 after the image (eXIf, IEND) */
    volatile int rc = 0;
    if (setjmp(png_jmpbuf(png))) {
        if (stage == 2)
            goto finish; /* damage after the pixels (missing IEND...): PIL ignores it too */
        rc = stage == 0 && src.over_limit
                 ? ov_decode_fail(err, errlen, OV_ERANGE, "PNG image is over the %d pixel side limit (%s)",
                                  OV_IMAGE_MAX_SIDE, src.msg)
                 : ov_decode_fail(err, errlen, OV_EFORMAT, "corrupt PNG: %s", src.msg);
        goto done;
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, OV_IMAGE_MAX_SIDE, OV_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20);
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    int src_rc = ov_decode_check_size("PNG", w, h, max_pixels, err, errlen);
    if (src_rc != 0) {
        rc = src_rc;
        goto done;
    }
    if (depth == 16)
        png_set_strip_16(png); /* high byte, as PIL's ;16B unpackers */
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png); /* expands tRNS to alpha too; stripped below */
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png); /* 1 -> 0/255, 2 -> ·85, 4 -> ·17, as PIL */
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png); /* convert("RGB") drops alpha and transparency */
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        rc = ov_decode_fail(err, errlen, OV_EINTERNAL, "PNG transform gave %zu bytes per row for width %u",
                            (size_t)png_get_rowbytes(png, info), (unsigned)w);
        goto done;
    }
    src_rc = ov_decode_alloc(out, (int)w, (int)h, err, errlen);
    if (src_rc == 0 && !(rows = malloc((size_t)h * sizeof *rows)))
        src_rc = ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory for PNG rows");
    if (src_rc != 0) {
        rc = src_rc;
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = out->rgb + (size_t)y * (size_t)w * 3;
    stage = 1;
    png_read_image(png, rows);
    stage = 2;
    png_read_end(png, info);

finish:;
    png_bytep exif = NULL;
    png_uint_32 n_exif = 0;
    if (png_get_eXIf_1(png, info, &n_exif, &exif) && exif && n_exif)
        rc = ov_image_apply_orientation(out, ov_exif_orientation(exif, n_exif), err, errlen);
done:
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    if (rc != 0)
        ov_image_rgb8_free(out);
    return rc;
}
