/* SDXL image-to-image input: decode (common/image/decode.h) and fit (common/image/resize.h). */
#include "init_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/image/decode.h"
#include "common/image/resize.h"

#define FILE_MAX ((size_t)64 << 20)

int ov_sdxl_init_image_prepare(const void *data, size_t len, int width, int height, int policy,
                               ov_sdxl_init_image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!data || width < 1 || height < 1) {
        snprintf(err, errlen, "init image: no data or bad output size %dx%d", width, height);
        return OV_EINVAL;
    }
    ov_image_rgb8 src;
    const char *fmt = NULL;
    char derr[256] = "";
    int rc = ov_image_decode(data, len, OV_SDXL_INIT_MAX_PIXELS, &src, &fmt, derr, sizeof derr);
    if (rc) {
        snprintf(err, errlen, "reference image: %s", derr[0] ? derr : ov_strerror(rc));
        return rc;
    }
    out->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!out->rgb) {
        ov_image_rgb8_free(&src);
        snprintf(err, errlen, "out of memory for a %dx%d init image", width, height);
        return OV_ENOMEM;
    }
    rc = ov_image_fit(src.rgb, src.width, src.height, out->rgb, width, height, policy, OV_RESAMPLE_LANCZOS);
    if (rc) {
        snprintf(err, errlen, "reference image: cannot fit %dx%d into %dx%d (%s)", src.width, src.height, width,
                 height, ov_strerror(rc));
        ov_image_rgb8_free(&src);
        ov_sdxl_init_image_free(out);
        return rc;
    }
    out->width = width;
    out->height = height;
    out->src_w = src.width;
    out->src_h = src.height;
    out->format = fmt;
    out->policy = policy;
    ov_image_rgb8_free(&src);
    return 0;
}

int ov_sdxl_init_image_load(const char *path, int width, int height, int policy, ov_sdxl_init_image *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot open init image %s: %s", path, strerror(e));
        return e == ENOENT ? OV_ENOENT : OV_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > FILE_MAX) {
        fclose(f);
        snprintf(err, errlen, "init image %s: not a regular file of at most %zu MiB", path, FILE_MAX >> 20);
        return OV_EINVAL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "out of memory reading %s", path);
        return OV_ENOMEM;
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        snprintf(err, errlen, "cannot read init image %s", path);
        return OV_EIO;
    }
    int rc = ov_sdxl_init_image_prepare(buf, n, width, height, policy, out, err, errlen);
    free(buf);
    return rc;
}

void ov_sdxl_init_image_free(ov_sdxl_init_image *img)
{
    free(img->rgb);
    memset(img, 0, sizeof *img);
}
