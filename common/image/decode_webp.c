/* WebP bytes in memory -> RGB8 with libwebp: lossy, lossless, extended (alpha dropped), first frame of an
 * animation, EXIF orientation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "common/error.h"
#include "common/image/decode_internal.h"

/* PIL (WebPImagePlugin) decodes every WebP through libwebp's WebPAnimDecoder in non-premultiplied
 * RGBA (RGBX without alpha) and convert("RGB") drops alpha. For a still image that equals a plain
 * WebPDecodeRGBInto (the colour under alpha is kept in both); an animation needs the
 * WebPAnimDecoder for its first frame (a frame may cover part of the canvas and the rest is
 * transparent black). The canvas size from the header is checked before either allocates. */

static const char *webp_status(VP8StatusCode s)
{
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated data";
    default: return "error";
    }
}

static int webp_first_frame(const uint8_t *data, size_t len, ov_image_rgb8 *out, char *err, size_t errlen)
{
    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt))
        return ov_decode_fail(err, errlen, OV_EINTERNAL, "libwebp ABI mismatch");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPData wd = {data, len};
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opt);
    if (!dec)
        return ov_decode_fail(err, errlen, OV_EFORMAT, "corrupt animated WebP (demux failed)");
    WebPAnimInfo ai;
    uint8_t *rgba = NULL;
    int ts = 0, rc = 0;
    if (!WebPAnimDecoderGetInfo(dec, &ai) || (int)ai.canvas_width != out->width ||
        (int)ai.canvas_height != out->height) {
        rc = ov_decode_fail(err, errlen, OV_EFORMAT, "animated WebP canvas does not match its header");
    } else if (!WebPAnimDecoderHasMoreFrames(dec) || !WebPAnimDecoderGetNext(dec, &rgba, &ts) || !rgba) {
        rc = ov_decode_fail(err, errlen, OV_EFORMAT, "corrupt animated WebP (first frame)");
    } else {
        size_t n = (size_t)out->width * (size_t)out->height;
        for (size_t i = 0; i < n; i++)
            memcpy(out->rgb + 3 * i, rgba + 4 * i, 3);
    }
    WebPAnimDecoderDelete(dec);
    return rc;
}

/* The EXIF chunk of an extended file (VP8X with the EXIF flag), if any: its orientation. */
static int webp_exif_orientation(const uint8_t *data, size_t len)
{
    WebPData wd = {data, len};
    WebPDemuxer *demux = WebPDemux(&wd);
    if (!demux)
        return 1;
    int orientation = 1;
    WebPChunkIterator it;
    if ((WebPDemuxGetI(demux, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG) &&
        WebPDemuxGetChunk(demux, "EXIF", 1, &it)) {
        orientation = ov_exif_orientation(it.chunk.bytes, it.chunk.size);
        WebPDemuxReleaseChunkIterator(&it);
    }
    WebPDemuxDelete(demux);
    return orientation;
}

int ov_decode_webp(const uint8_t *data, size_t len, size_t max_pixels, ov_image_rgb8 *out, char *err,
                   size_t errlen)
{
    WebPBitstreamFeatures f;
    VP8StatusCode st = WebPGetFeatures(data, len, &f);
    if (st != VP8_STATUS_OK)
        return ov_decode_fail(err, errlen, st == VP8_STATUS_OUT_OF_MEMORY ? OV_ENOMEM : OV_EFORMAT,
                              "corrupt WebP header: %s", webp_status(st));
    int rc = ov_decode_check_size("WebP", (uint64_t)(f.width > 0 ? f.width : 0),
                                  (uint64_t)(f.height > 0 ? f.height : 0), max_pixels, err, errlen);
    if (rc != 0)
        return rc;
    if ((rc = ov_decode_alloc(out, f.width, f.height, err, errlen)) != 0)
        return rc;
    if (f.has_animation) {
        rc = webp_first_frame(data, len, out, err, errlen);
    } else {
        size_t stride = (size_t)f.width * 3;
        if (!WebPDecodeRGBInto(data, len, out->rgb, stride * (size_t)f.height, (int)stride))
            rc = ov_decode_fail(err, errlen, OV_EFORMAT, "corrupt or truncated WebP image data");
    }
    if (rc == 0)
        rc = ov_image_apply_orientation(out, webp_exif_orientation(data, len), err, errlen);
    if (rc != 0)
        ov_image_rgb8_free(out);
    return rc;
}
