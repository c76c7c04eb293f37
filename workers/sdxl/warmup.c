/* SDXL warm-up: parse the plan, run one short generation per entry (see warmup.h). */
#include "workers/sdxl/warmup.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A whole decimal number in [lo, hi] spanning s[0..n). */
static int num(const char *s, size_t n, long lo, long hi, int *out)
{
    if (n == 0 || n > 6)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int ov_sdxl_warmup_parse(const char *spec, ov_sdxl_warmup_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->width = out->height = 1024;
    if (!spec || !*spec || strcmp(spec, "off") == 0 || strcmp(spec, "0") == 0)
        return 0;
    const char *at = strchr(spec, '@');
    const size_t list_len = at ? (size_t)(at - spec) : strlen(spec);
    if (at) {
        const char *x = strchr(at + 1, 'x');
        if (!x || num(at + 1, (size_t)(x - at - 1), 64, OV_SDXL_SIZE_MAX, &out->width) ||
            num(x + 1, strlen(x + 1), 64, OV_SDXL_SIZE_MAX, &out->height) || out->width % 8 ||
            out->height % 8) {
            snprintf(err, errlen, "warm-up spec \"%s\": the size after '@' must be WxH, multiples of 8 in 64..%d",
                     spec, OV_SDXL_SIZE_MAX);
            return OV_EINVAL;
        }
    }
    for (size_t i = 0; i < list_len;) {
        size_t j = i;
        while (j < list_len && spec[j] != ',')
            j++;
        int c = 0;
        if (j - i == 3 && strncmp(spec + i, "i2i", 3) == 0) {
            out->img2img = 1;
        } else if (num(spec + i, j - i, 1, OV_SDXL_COUNT_MAX, &c) == 0 && out->n < OV_SDXL_WARMUP_MAX) {
            out->counts[out->n++] = c;
        } else {
            snprintf(err, errlen,
                     "warm-up spec \"%s\": \"%.*s\" is not an image count (1..%d) or \"i2i\" (at most %d counts)",
                     spec, (int)(j - i), spec + i, OV_SDXL_COUNT_MAX, OV_SDXL_WARMUP_MAX);
            return OV_EINVAL;
        }
        i = j + 1;
    }
    if (!out->n && !out->img2img) {
        snprintf(err, errlen, "warm-up spec \"%s\" names no run (\"off\" turns the warm-up off)", spec);
        return OV_EINVAL;
    }
    return 0;
}

int ov_sdxl_warmup_run(ov_sdxl_pipeline *p, const ov_sdxl_warmup_plan *w, double *ms, int *n_ms, char *err,
                       size_t errlen)
{
    *n_ms = 0;
    ov_sdxl_request r = {.prompt = "warm-up",
                         .negative_prompt = "blurry",
                         .steps = 1,
                         .cfg = 7.5,
                         .sampler = OV_SDXL_EULER,
                         .width = w->width,
                         .height = w->height,
                         .seed = 1};
    uint8_t *gray = NULL;
    int rc = 0;
    for (int i = 0; i < w->n + (w->img2img ? 1 : 0) && !rc; i++) {
        const int i2i = i == w->n;
        r.count = i2i ? 1 : w->counts[i];
        if (i2i) {
            const size_t bytes = (size_t)w->width * (size_t)w->height * 3;
            if (!(gray = malloc(bytes))) {
                snprintf(err, errlen, "warm-up: out of host memory");
                return OV_ENOMEM;
            }
            memset(gray, 128, bytes);
            r.init_image = gray;
            r.strength = 0.5;
            r.steps = 2;
        }
        ov_sdxl_result res;
        const double t0 = now_ms();
        rc = ov_sdxl_generate(p, &r, NULL, NULL, &res, err, errlen);
        if (!rc) {
            ov_sdxl_result_free(&res);
            ms[(*n_ms)++] = now_ms() - t0;
        }
    }
    free(gray);
    return rc;
}
