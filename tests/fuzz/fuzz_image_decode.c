/* libFuzzer target: ov_image_decode (PNG/JPEG/WebP user uploads) and, on success, ov_image_fit of the result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/image/decode.h"
#include "common/image/resize.h"

/* A smaller pixel cap than production keeps every run fast and its memory small; the cap logic
 * is the same code. */
#define FUZZ_MAX_PIXELS ((size_t)1 << 22)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ov_image_rgb8 img;
    const char *fmt = NULL;
    char err[OV_IMAGE_ERR_LEN];
    if (ov_image_decode(data, size, FUZZ_MAX_PIXELS, &img, &fmt, err, sizeof err) != 0) {
        if (img.rgb || img.width || img.height || fmt || !err[0])
            __builtin_trap(); /* a failure leaves *out zeroed, no name, a message */
        return 0;
    }
    if (!img.rgb || !fmt || img.width < 1 || img.height < 1 || img.width > OV_IMAGE_MAX_SIDE ||
        img.height > OV_IMAGE_MAX_SIDE || (size_t)img.width * (size_t)img.height > FUZZ_MAX_PIXELS)
        __builtin_trap();
    /* Read every byte (ASan: the buffer really is w·h·3) and fit small results into a canvas
     * whose aspect differs, exercising the resampler on whatever sizes the decoder produced. */
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.width * (size_t)img.height * 3; i++)
        sum += img.rgb[i];
    if ((size_t)img.width * (size_t)img.height <= 4096) {
        enum { DW = 24, DH = 16 };
        uint8_t *dst = malloc(DW * DH * 3);
        if (dst) {
            int policy = (int)(sum % 3), filter = (int)((sum / 3) % 3);
            if (ov_image_fit(img.rgb, img.width, img.height, dst, DW, DH, policy, filter) != 0)
                __builtin_trap();
            free(dst);
        }
    }
    ov_image_rgb8_free(&img);
    return 0;
}
