/* The A1111 "parameters" text (modules/processing.py create_infotext) from a struct. */
#include "common/image/params.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

/* Python's str() of a float for the usual CFG values: shortest "%g" form, ".0" when integral. */
static void fmt_float(char *out, size_t cap, float f)
{
    snprintf(out, cap, "%.6g", (double)f);
    if (!strpbrk(out, ".enia"))
        snprintf(out + strlen(out), cap - strlen(out), ".0");
}

int ov_image_params_format(const ov_image_params *p, char *buf, size_t cap, size_t *len_out)
{
    if (!p || !p->prompt || !p->sampler || !buf || !cap)
        return OV_EINVAL;
    char cfg[32], hash[160] = "", model[300] = "", dn[64] = "";
    fmt_float(cfg, sizeof cfg, p->cfg_scale);
    if (p->model_hash)
        snprintf(hash, sizeof hash, ", Model hash: %s", p->model_hash);
    if (p->model_name)
        snprintf(model, sizeof model, ", Model: %s", p->model_name);
    if (p->denoising_strength > 0.0f) {
        char v[32];
        fmt_float(v, sizeof v, p->denoising_strength);
        snprintf(dn, sizeof dn, ", Denoising strength: %s", v);
    }
    int neg = p->negative_prompt && p->negative_prompt[0];
    int n = snprintf(buf, cap,
                     "%s\n%s%s%sSteps: %d, Sampler: %s, CFG scale: %s, Seed: %" PRIu64 ", Size: %dx%d%s%s%s",
                     p->prompt, neg ? "Negative prompt: " : "", neg ? p->negative_prompt : "",
                     neg ? "\n" : "", p->steps, p->sampler, cfg, p->seed, p->width, p->height, hash, model, dn);
    if (n < 0)
        return OV_EINVAL;
    if (len_out)
        *len_out = (size_t)n;
    return (size_t)n >= cap ? OV_ERANGE : 0;
}
