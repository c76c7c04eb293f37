/* The init image of an SDXL image-to-image request: encoded bytes (PNG, JPEG or WebP, from a file or
 * a download) decoded and fitted to the output size. */
#ifndef OV_SDXL_INIT_IMAGE_H
#define OV_SDXL_INIT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define OV_SDXL_INIT_MAX_PIXELS ((size_t)64 << 20) /* decoded size cap (a 48 MP phone photo fits) */
#define OV_SDXL_STRENGTH_DEFAULT 0.5               /* 1 − the July worker's reference_strength default */

typedef struct ov_sdxl_init_image {
    uint8_t *rgb;       /* width·height·3 bytes at the output size; owned */
    int width, height;  /* the output size */
    int src_w, src_h;   /* the decoded image's size */
    const char *format; /* "png" | "jpeg" | "webp" */
    int policy;         /* enum ov_fit_policy used */
} ov_sdxl_init_image;

/* Decode `data` (any of the three formats, EXIF orientation applied) and fit it into width×height by
 * `policy` (enum ov_fit_policy; Lanczos, as diffusers' VaeImageProcessor resamples). 0, or
 * OV_EFORMAT (not an image / corrupt / too large: err says which), OV_EINVAL, OV_ENOMEM. */
int ov_sdxl_init_image_prepare(const void *data, size_t len, int width, int height, int policy,
                               ov_sdxl_init_image *out, char *err, size_t errlen);
/* The same from a file (read whole, at most 64 MiB). OV_ENOENT / OV_EIO for the file. */
int ov_sdxl_init_image_load(const char *path, int width, int height, int policy, ov_sdxl_init_image *out,
                            char *err, size_t errlen);
void ov_sdxl_init_image_free(ov_sdxl_init_image *img);

#endif
