/* Model output images (planar float in [-1, 1]) to 8-bit RGB, rounded exactly as diffusers does. */
#ifndef OV_IMAGE_RGB8_H
#define OV_IMAGE_RGB8_H

#include <stddef.h>
#include <stdint.h>

/* Non-zero when any of x[0..n) is NaN or ±inf. A decoder that produced one has failed (an f16
 * overflow, a bad checkpoint): the caller reports an error instead of writing a picture. */
int ov_image_has_nonfinite(const float *x, size_t n);

/* chw: [3, height, width] planar float (the VAE's output for one image), nominally in [-1, 1].
 * rgb: height·width·3 bytes, interleaved R,G,B rows top to bottom (caller-allocated).
 * Per value, in f32 as diffusers' VaeImageProcessor.postprocess + numpy_to_pil compute it:
 *   v = clamp(x·0.5 + 0.5, 0, 1); byte = round_half_even(v·255).
 * 0, or OV_EINVAL (bad size / NULL) or OV_ERANGE (a non-finite value; rgb then undefined). */
int ov_image_to_rgb8(const float *chw, int width, int height, uint8_t *rgb);

#endif
