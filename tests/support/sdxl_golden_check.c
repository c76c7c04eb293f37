/* SDXL runs against diffusers golden cases (see sdxl_golden_check.h). */
#include "sdxl_golden_check.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void ov_sdxl_golden_request(const ov_golden *g, const char *c, ov_sdxl_request *r)
{
    const int32_t *pr = ov_golden_get(g, c, "params")->data;
    r->prompt = ov_golden_get(g, c, "prompt")->data;
    r->negative_prompt = ov_golden_get(g, c, "negative")->data;
    int kind;
    ck_assert_int_eq(ov_sdxl_sampler_parse(ov_golden_get(g, c, "sampler")->data, &kind, NULL, 0), 0);
    r->sampler = kind;
    r->steps = pr[0];
    r->width = pr[1];
    r->height = pr[2];
    r->count = pr[3];
    r->cfg = ((const float *)ov_golden_get(g, c, "cfg")->data)[0];
    r->init_noise = ov_golden_get(g, c, "noise")->data;
    r->keep_float = 1;
}

void ov_sdxl_expect_golden(const char *label, const ov_sdxl_result *res, const ov_golden_rec *lat,
                           const ov_golden_rec *img, const ov_golden_rec *u8)
{
    ck_assert_ptr_nonnull(res->latents);
    ck_assert_ptr_nonnull(res->pixels);
    const int64_t nl = lat->n / lat->shape[0]; /* the last step's latents */
    const float *want_l = (const float *)lat->data + (lat->shape[0] - 1) * nl;
    double dl = 0, dl_rel = 0;
    for (int64_t k = 0; k < nl; k++) {
        double d = fabs((double)res->latents[k] - want_l[k]);
        dl = d > dl ? d : dl;
        double rel = d / (1e-3 + 1e-4 * fabs(want_l[k]));
        dl_rel = rel > dl_rel ? rel : dl_rel;
    }
    double di = 0;
    for (int64_t k = 0; k < img->n; k++) {
        double d = fabs((double)res->pixels[k] - ((const float *)img->data)[k]);
        di = d > di ? d : di;
    }
    int64_t same = 0, off1 = 0, worse = 0;
    for (int64_t k = 0; k < u8->n; k++) {
        int want = u8->dtype == OV_GOLDEN_BYTES ? ((const unsigned char *)u8->data)[k] : ((const int32_t *)u8->data)[k];
        int d = abs((int)res->rgb[k] - want);
        same += d == 0;
        off1 += d == 1;
        worse += d > 1;
    }
    fprintf(stderr,
            "%s: latents max|Δ| %.3g (%.2f of tolerance), image max|Δ| %.3g, rgb8 %lld equal, %lld off by 1, %lld "
            "worse of %lld; %d sub-batch(es), step %.1f ms\n",
            label, dl, dl_rel, di, (long long)same, (long long)off1, (long long)worse, (long long)u8->n,
            res->sub_batches, res->t.step_ms_mean);
    ck_assert_msg(dl_rel <= 1.0, "%s: latents off by %g", label, dl);
    ck_assert_msg(di <= 2e-4, "%s: image off by %g", label, di);
    ck_assert_int_eq(worse, 0);
    ck_assert_msg(same * 100 >= u8->n * 99, "%s: only %lld of %lld bytes equal", label, (long long)same,
                  (long long)u8->n);
}
