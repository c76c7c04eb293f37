/* One SDXL run (ov_sdxl_result with keep_float) against a diffusers golden case: the final latents,
 * the float images and the RGB8 bytes, with test_sdxl_pipeline's tolerances. */
#ifndef OV_TEST_SDXL_GOLDEN_CHECK_H
#define OV_TEST_SDXL_GOLDEN_CHECK_H

#include "support/golden_rec.h"
#include "workers/sdxl/pipeline.h"

/* lat: [steps run, count, 4, h, w] f32 (the last step is compared); img: [count, H, W, 3] f32 in
 * [0, 1]; u8: the same as bytes or i32 (diffusers' float32 run through numpy_to_pil). Tolerances
 * (torch's own float32 run stays within ~1e-4 of float64 on the latents, 6e-6 on the images):
 * latents |Δ| <= 1e-3 + 1e-4·|ref|; images |Δ| <= 2e-4; bytes within 1, >= 99 % equal. Prints one
 * line "<label>: latents max|Δ| ..." to stderr, then Check assertions. */
void ov_sdxl_expect_golden(const char *label, const ov_sdxl_result *res, const ov_golden_rec *lat,
                           const ov_golden_rec *img, const ov_golden_rec *u8);
/* The request of golden case `c` over *r: prompt, negative, sampler, steps / width / height / count
 * (the "params" record's first four), cfg, the stored initial noise, keep_float. Strings point
 * into g. */
void ov_sdxl_golden_request(const ov_golden *g, const char *c, ov_sdxl_request *r);

#endif
