/* Generation parameters as the "parameters" text chunk AUTOMATIC1111's web UI writes (and reads). */
#ifndef OV_IMAGE_PARAMS_H
#define OV_IMAGE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ov_image_params {
    const char *prompt;          /* required (may be "") */
    const char *negative_prompt; /* NULL or "": the "Negative prompt:" line is left out */
    int steps;
    const char *sampler; /* "Euler", "Euler a", "DPM++ 2M Karras" (A1111 spelling) */
    float cfg_scale;
    uint64_t seed;
    int width, height;
    const char *model_hash; /* NULL: field left out */
    const char *model_name; /* NULL: field left out */
    float denoising_strength; /* image-to-image: ", Denoising strength: 0.5" after Model; 0: left out */
} ov_image_params;

/* Writes, NUL-terminated, into buf (cap bytes):
 *   "<prompt>\nNegative prompt: <neg>\nSteps: 30, Sampler: Euler, CFG scale: 7.5, Seed: 42,
 *    Size: 1024x1024, Model hash: 31e35c80fc, Model: sd_xl_base_1.0[, Denoising strength: 0.5]"
 * (one line after the prompts; CFG scale printed like Python's str(float): 7.0, 7.5).
 * *len_out (may be NULL) gets the length. 0, OV_EINVAL (NULL prompt/sampler/buf), OV_ERANGE
 * (buf too small; *len_out then says the length needed). */
int ov_image_params_format(const ov_image_params *p, char *buf, size_t cap, size_t *len_out);

#endif
