/* RGB8 resampling as Pillow's Image.resize does it, and fitting an image into the job's output size. */
#ifndef OV_IMAGE_RESIZE_H
#define OV_IMAGE_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* Pillow's Resampling.BILINEAR (support 1), BICUBIC (a = -0.5, support 2), LANCZOS (a = 3). */
enum ov_resample { OV_RESAMPLE_BILINEAR, OV_RESAMPLE_BICUBIC, OV_RESAMPLE_LANCZOS };

/* Largest side accepted by every function here (as the decoder's cap). */
#define OV_RESIZE_MAX_SIDE 16384

/* Pillow's Image.resize((dw, dh), resample) for an RGB uint8 image (libImaging/Resample.c,
 * ImagingResample): separable (horizontal pass then vertical, or vertical first when the height
 * shrinks by more than twice the width, as Pillow 13 does), the filter's support widened by the
 * scale when downscaling (antialiasing), coefficients normalised to sum 1 in double and rounded to
 * 22-bit fixed point, accumulators start at 0.5 and are clipped to 0..255. A pass whose size does
 * not change is skipped, so an unchanged size copies. Byte-identical to Pillow 13.0 on the golden
 * set (tests/test_image_resize.c). src: sh rows of sw·3 bytes; dst: caller-allocated dw·dh·3 bytes
 * and must not overlap src. 0, OV_EINVAL (NULL, a side < 1 or > OV_RESIZE_MAX_SIDE, unknown
 * filter), OV_ENOMEM. reducing_gap is not used (Image.resize does not use it unless asked). */
int ov_image_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int resample);

/* The same with Pillow's `box`: the source region (left, top, right, bottom) in source pixel
 * coordinates, fractional allowed, as C floats like Pillow's. The filter still reads source
 * pixels outside the box (clipped only by the image), exactly as Pillow does. OV_EINVAL when the
 * box is not inside the image or is empty. */
int ov_image_resize_box(const uint8_t *src, int sw, int sh, const float box[4], uint8_t *dst, int dw, int dh,
                        int resample);

enum ov_fit_policy {
    OV_FIT_LETTERBOX, /* scale to fit inside, centre on black (default; the July worker) */
    OV_FIT_CROP,      /* scale to cover, centre crop */
    OV_FIT_STRETCH    /* exact size, aspect ignored */
};

/* "letterbox" | "fit" | "pad" -> OV_FIT_LETTERBOX, "crop" | "cover" | "fill" -> OV_FIT_CROP,
 * "stretch" | "resize" -> OV_FIT_STRETCH (ASCII case-insensitive); NULL or "" -> letterbox.
 * Anything else: OV_EINVAL with the accepted names in err (err may be NULL). */
int ov_fit_policy_parse(const char *name, int *policy, char *err, size_t errlen);
/* "letterbox", "crop", "stretch" (static storage); "unknown" otherwise. */
const char *ov_fit_policy_name(int policy);

/* Fit src (sw x sh) into a dw x dh RGB canvas; dst caller-allocated dw·dh·3, not overlapping src.
 * Geometry is Pillow's ImageOps, so each policy is byte-identical to one Pillow call:
 *  - OV_FIT_STRETCH  = im.resize((dw, dh), resample).
 *  - OV_FIT_LETTERBOX = ImageOps.pad(im, (dw, dh), resample, color=black): when sw/sh == dw/dh
 *    (compared as doubles) the image is resized to dw x dh. Otherwise the limiting side becomes
 *    d exactly and the other is round(s_other / s_limit · d) with Python's round (half to even,
 *    on the double quotient); should that equal d, no bars. The bars split as
 *    offset = round((d - scaled) · 0.5), again half to even (odd slack 1 -> 0 left/1 right,
 *    3 -> 2/1, 5 -> 2/3: Pillow's rule, not floor). One difference: when the scaled side
 *    rounds to 0 (aspect more extreme than 2·d : 1) Pillow pastes nothing and returns an
 *    all-black canvas; here that side is at least 1 pixel.
 *  - OV_FIT_CROP = ImageOps.fit(im, (dw, dh), resample) (bleed 0, centering 0.5): the crop is
 *    the largest centred region with the output's aspect, as a fractional box (width
 *    dw/dh · sh or height sw / (dw/dh), left/top = (s - crop) · 0.5, doubles rounded to float),
 *    resampled with ov_image_resize_box, so no integer rounding of the crop at all.
 * 0, OV_EINVAL (NULL, sizes out of range, unknown policy or filter), OV_ENOMEM. */
int ov_image_fit(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int policy, int resample);

/* The geometry ov_image_fit uses for OV_FIT_LETTERBOX: the scaled image's size and its offset in
 * the canvas (for callers that record it, and for the tests). Same errors as ov_image_fit. */
int ov_image_letterbox_rect(int sw, int sh, int dw, int dh, int *x, int *y, int *w, int *h);

#endif
