/* Planar float [-1, 1] images to interleaved RGB8 (diffusers' denormalize + numpy_to_pil rounding). */
#include "common/image/rgb8.h"

#include <math.h>

#include "common/error.h"

int ov_image_has_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 1;
    return 0;
}

/* diffusers image_processor.py: denormalize() is (images * 0.5 + 0.5).clamp(0, 1) in the tensor's
 * dtype (f32); numpy_to_pil() is (images * 255).round().astype("uint8"), numpy's round being
 * round-half-to-even. Each step below is one f32 operation, so results are bit-identical. */
static uint8_t to_byte(float x)
{
    volatile float v = x * 0.5f + 0.5f; /* two roundings, as torch does them (no fused multiply-add) */
    float c = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    volatile float s = c * 255.0f;
    return (uint8_t)nearbyintf(s); /* default rounding mode: to nearest, ties to even */
}

int ov_image_to_rgb8(const float *chw, int width, int height, uint8_t *rgb)
{
    if (!chw || !rgb || width <= 0 || height <= 0)
        return OV_EINVAL;
    size_t plane = (size_t)width * (size_t)height;
    if (ov_image_has_nonfinite(chw, 3 * plane))
        return OV_ERANGE;
    for (size_t i = 0; i < plane; i++)
        for (size_t c = 0; c < 3; c++)
            rgb[3 * i + c] = to_byte(chw[c * plane + i]);
    return 0;
}
