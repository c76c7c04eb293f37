/* Thumbnails for the workspace layout: PNG -> box-filtered 256-px WebP (quality 85), in the thread pool. */
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <webp/encode.h>

#include "common/error.h"
#include "store.h"

#define THUMB_SRC_MAX_PIXELS (64u * 1024u * 1024u) /* refuse to decode absurd images */

/* Decode to 8-bit RGBA. 0 and *out (malloc'd, caller frees), or an OV_E* code. */
static int decode_png(const char *path, uint8_t **out, uint32_t *w, uint32_t *h, char *err, size_t errlen)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        snprintf(err, errlen, "png: %s", img.message);
        return OV_EFORMAT;
    }
    if ((uint64_t)img.width * img.height > THUMB_SRC_MAX_PIXELS || img.width == 0 || img.height == 0) {
        png_image_free(&img);
        snprintf(err, errlen, "png: %ux%u is too large", img.width, img.height);
        return OV_EFORMAT;
    }
    img.format = PNG_FORMAT_RGBA;
    size_t n = PNG_IMAGE_SIZE(img);
    uint8_t *px = malloc(n);
    if (!px) {
        png_image_free(&img);
        return OV_ENOMEM;
    }
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        snprintf(err, errlen, "png: %s", img.message);
        free(px);
        png_image_free(&img);
        return OV_EFORMAT;
    }
    *out = px;
    *w = img.width;
    *h = img.height;
    return 0;
}

/* Area-average downscale of RGBA (each destination pixel is the mean of its source box). */
static void box_scale(const uint8_t *src, uint32_t sw, uint32_t sh, uint8_t *dst, uint32_t dw, uint32_t dh)
{
    for (uint32_t y = 0; y < dh; y++) {
        uint32_t y0 = (uint32_t)((uint64_t)y * sh / dh), y1 = (uint32_t)((uint64_t)(y + 1) * sh / dh);
        if (y1 <= y0)
            y1 = y0 + 1;
        for (uint32_t x = 0; x < dw; x++) {
            uint32_t x0 = (uint32_t)((uint64_t)x * sw / dw), x1 = (uint32_t)((uint64_t)(x + 1) * sw / dw);
            if (x1 <= x0)
                x1 = x0 + 1;
            uint64_t acc[4] = {0, 0, 0, 0};
            for (uint32_t yy = y0; yy < y1; yy++)
                for (uint32_t xx = x0; xx < x1; xx++)
                    for (int c = 0; c < 4; c++)
                        acc[c] += src[((size_t)yy * sw + xx) * 4 + c];
            uint64_t cnt = (uint64_t)(y1 - y0) * (x1 - x0);
            for (int c = 0; c < 4; c++)
                dst[((size_t)y * dw + x) * 4 + c] = (uint8_t)((acc[c] + cnt / 2) / cnt);
        }
    }
}

int ov_store_make_thumbnail(const char *src_png, const char *dst_webp, char *err, size_t errlen)
{
    uint8_t *px = NULL;
    uint32_t w = 0, h = 0;
    int rc = decode_png(src_png, &px, &w, &h, err, errlen);
    if (rc != 0)
        return rc;
    uint32_t edge = w > h ? w : h;
    uint32_t dw = w, dh = h;
    if (edge > OV_STORE_THUMB_EDGE) {
        dw = (uint32_t)(((uint64_t)w * OV_STORE_THUMB_EDGE + edge / 2) / edge);
        dh = (uint32_t)(((uint64_t)h * OV_STORE_THUMB_EDGE + edge / 2) / edge);
        dw = dw ? dw : 1;
        dh = dh ? dh : 1;
    }
    uint8_t *small = px;
    if (dw != w || dh != h) {
        small = malloc((size_t)dw * dh * 4);
        if (!small) {
            free(px);
            return OV_ENOMEM;
        }
        box_scale(px, w, h, small, dw, dh);
    }
    uint8_t *webp = NULL;
    size_t n = WebPEncodeRGBA(small, (int)dw, (int)dh, (int)dw * 4, (float)OV_STORE_THUMB_QUALITY, &webp);
    if (small != px)
        free(small);
    free(px);
    if (n == 0) {
        snprintf(err, errlen, "webp encode failed");
        return OV_EIO;
    }
    int fd = open(dst_webp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    rc = 0;
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s", dst_webp);
        rc = OV_EIO;
    } else {
        size_t off = 0;
        while (off < n) {
            ssize_t k = write(fd, webp + off, n - off);
            if (k <= 0) {
                rc = OV_EIO;
                snprintf(err, errlen, "write failed");
                break;
            }
            off += (size_t)k;
        }
        close(fd);
    }
    WebPFree(webp);
    return rc;
}
