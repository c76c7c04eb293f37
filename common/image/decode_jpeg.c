/* JPEG bytes in memory -> RGB8 with libjpeg(-turbo): grey/YCbCr/RGB/CMYK/YCCK, EXIF orientation, no exit() on
 * errors. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "common/error.h"
#include "common/image/decode_internal.h"

/* libjpeg's default error manager calls exit(); ours records the message and longjmps back
 * (libjpeg's example.c pattern). Warnings: a premature end of data (JWRN_JPEG_EOF, libjpeg then
 * pads with grey) is an error, as PIL raises "image file is truncated" without
 * LOAD_TRUNCATED_IMAGES; other corrupt-data warnings are tolerated as PIL tolerates them. A
 * progress monitor stops progressive files with more than OV_IMAGE_JPEG_MAX_SCANS scans, and
 * libjpeg's memory manager is capped (no backing store: over the cap is an error). */

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int code; /* OV_E* to return after the longjmp */
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_guard;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    g->pub.format_message(cinfo, text);
    if (g->code == 0)
        g->code = OV_EFORMAT;
    if (!g->msg[0])
        snprintf(g->msg, sizeof g->msg, "%s", text);
    longjmp(g->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    if (level < 0 && g->pub.msg_code == JWRN_JPEG_EOF) {
        g->code = OV_EFORMAT;
        snprintf(g->msg, sizeof g->msg, "truncated JPEG data");
        longjmp(g->jump, 1);
    }
    if (level < 0)
        g->pub.num_warnings++;
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > OV_IMAGE_JPEG_MAX_SCANS) {
        jpeg_guard *g = (jpeg_guard *)cinfo->err;
        g->code = OV_ERANGE;
        snprintf(g->msg, sizeof g->msg, "progressive JPEG with more than %d scans", OV_IMAGE_JPEG_MAX_SCANS);
        longjmp(g->jump, 1);
    }
}

/* PIL reads every CMYK JPEG as Adobe-inverted ("CMYK;I": c = 255 - sample) and converts with
 * Convert.c cmyk2rgb: nk = 255 - k; out = nk - nk·c/255 in its MULDIV255 rounding. */
static uint8_t cmyk_channel(uint8_t sample, uint8_t k_sample)
{
    int c = 255 - sample, nk = k_sample; /* nk = 255 - (255 - k_sample) */
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int jpeg_exif_orientation(j_decompress_ptr d)
{
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return ov_exif_orientation(m->data, m->data_length); /* the first Exif APP1, as PIL */
    return 1;
}

int ov_decode_jpeg(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                   size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_guard *g = calloc(1, sizeof *g); /* on the heap: written by the handlers, read after longjmp */
    if (!g)
        return ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory (libjpeg)");
    uint8_t *volatile row = NULL;
    volatile int created = 0;
    int rc = 0;
    cinfo.err = jpeg_std_error(&g->pub);
    g->pub.error_exit = jpeg_on_error;
    g->pub.emit_message = jpeg_on_message;
    if (setjmp(g->jump)) {
        rc = ov_decode_fail(err, errlen, g->code ? g->code : OV_EFORMAT, "%s%s",
                            g->code == OV_ERANGE || g->code == OV_ENOMEM ? "" : "corrupt JPEG: ", g->msg);
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    created = 1;
    g->progress.progress_monitor = jpeg_on_progress;
    cinfo.progress = &g->progress;
    /* libjpeg's own allocations (coefficient buffers of a progressive file: ~2 bytes per sample
     * per component) stay within a bound derived from the pixel cap. */
    cinfo.mem->max_memory_to_use =
        (long)(max_pixels > ((size_t)1 << 28) ? ((size_t)1 << 28) : max_pixels) * 16 + (64L << 20);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);

    rc = ov_decode_check_size("JPEG", cinfo.image_width, cinfo.image_height, max_pixels, err, errlen);
    if (rc != 0)
        goto done;
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
        cmyk = 1;
        break;
    default:
        rc = ov_decode_fail(err, errlen, OV_EUNSUPP, "JPEG with %d components in an unknown colour space",
                            cinfo.num_components);
        goto done;
    }
    jpeg_start_decompress(&cinfo);
    const int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if ((unsigned)w != cinfo.image_width || (unsigned)h != cinfo.image_height ||
        cinfo.output_components != (cmyk ? 4 : 3)) {
        rc = ov_decode_fail(err, errlen, OV_EINTERNAL, "libjpeg gave %dx%dx%d for a %ux%u image", w, h,
                            cinfo.output_components, cinfo.image_width, cinfo.image_height);
        goto done;
    }
    if ((rc = ov_decode_alloc(out, w, h, err, errlen)) != 0)
        goto done;
    if (cmyk && !(row = malloc((size_t)w * 4))) {
        rc = ov_decode_fail(err, errlen, OV_ENOMEM, "out of memory for a JPEG row");
        goto done;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out->rgb + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW line = cmyk ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &line, 1) != 1) {
            rc = ov_decode_fail(err, errlen, OV_EFORMAT, "corrupt JPEG: no scanline %u",
                                cinfo.output_scanline);
            goto done;
        }
        if (cmyk)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    dst[3 * x + c] = cmyk_channel(row[4 * x + c], row[4 * x + 3]);
    }
    /* Nothing after the last scanline matters (PIL does not read to EOI either). */
    rc = ov_image_apply_orientation(out, jpeg_exif_orientation(&cinfo), err, errlen);

done:
    if (created)
        jpeg_destroy_decompress(&cinfo);
    free(row);
    free(g);
    if (rc != 0)
        ov_image_rgb8_free(out);
    return rc;
}
