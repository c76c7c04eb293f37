/* RGB8 resampling with Pillow's filters and fixed-point arithmetic, and the letterbox/crop/stretch fit. */
#include "common/image/resize.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"

/* Reference: python-pillow/Pillow src/libImaging/Resample.c (precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / _Vertical_8bpc, ImagingResampleInner)
 * and src/PIL/ImageOps.py (pad, contain, fit). Rewritten here; what must match bit for bit:
 *  - the filter functions evaluated in double with the same operation order (the coefficients
 *    are rounded to fixed point, so a last-bit difference could flip one of them);
 *  - the window of each output sample: center = in0 + (i + 0.5)·scale, first/last tap rounded
 *    with (int)(x + 0.5), clipped to the image; taps normalised by their double sum;
 *  - 22 fractional bits (32 - 8 - 2: 8 for the pixel, 2 for negative lobes / overshoot), each
 *    coefficient rounded half away from zero, accumulators start at 2^21 and are shifted then
 *    clipped to 0..255;
 *  - the horizontal pass writes an 8-bit intermediate (only the rows the vertical pass reads),
 *    and a pass is skipped when its size is unchanged (Pillow's exact condition, box included);
 *  - Pillow 13's pass order (vertical first when the height shrinks by more than twice the width)
 *    and _imaging.c's shortcut of an integer box of the output's size to a crop.
 * resize.c is compiled with -ffp-contract=off (CMakeLists.txt) so that no FMA changes a product. */

#define OV_RS_PRECISION_BITS (32 - 8 - 2)

typedef struct rs_filter {
    double (*fn)(double x);
    double support;
} rs_filter;

static double rs_bilinear(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys' cubic convolution with a = -0.5, in the reference's Horner order. */
static double rs_bicubic(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double rs_sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double rs_lanczos(double x)
{
    if (-3.0 <= x && x < 3.0)
        return rs_sinc(x) * rs_sinc(x / 3);
    return 0.0;
}

static const rs_filter *rs_filter_for(int resample)
{
    static const rs_filter bilinear = {rs_bilinear, 1.0};
    static const rs_filter bicubic = {rs_bicubic, 2.0};
    static const rs_filter lanczos = {rs_lanczos, 3.0};
    switch (resample) {
    case OV_RESAMPLE_BILINEAR: return &bilinear;
    case OV_RESAMPLE_BICUBIC: return &bicubic;
    case OV_RESAMPLE_LANCZOS: return &lanczos;
    default: return NULL;
    }
}

/* One axis: for each of n_out samples, the first source index (first[i]), the tap count
 * (count[i]) and ksize fixed-point taps at coef[i·ksize]. */
typedef struct rs_axis {
    int ksize;
    int *first, *count;
    int32_t *coef;
} rs_axis;

static void rs_axis_free(rs_axis *ax)
{
    free(ax->first);
    free(ax->count);
    free(ax->coef);
    memset(ax, 0, sizeof *ax);
}

static int32_t rs_fixed(double k)
{
    double s = k * (double)(1 << OV_RS_PRECISION_BITS);
    return (int32_t)(k < 0 ? s - 0.5 : s + 0.5);
}

/* The source window [in0, in1) of n_in samples mapped onto n_out samples. in0/in1 are floats
 * and their difference is taken in float before widening, as the reference does with its
 * float box. */
static int rs_axis_init(rs_axis *ax, int n_in, float in0, float in1, int n_out, const rs_filter *f)
{
    memset(ax, 0, sizeof *ax);
    double scale = (double)(in1 - in0) / n_out;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (ksize <= 0 || (size_t)n_out > SIZE_MAX / sizeof(double) / (size_t)ksize)
        return OV_ENOMEM;
    double *taps = malloc((size_t)ksize * sizeof *taps);
    ax->first = malloc((size_t)n_out * sizeof *ax->first);
    ax->count = malloc((size_t)n_out * sizeof *ax->count);
    ax->coef = calloc((size_t)n_out * (size_t)ksize, sizeof *ax->coef);
    if (!taps || !ax->first || !ax->count || !ax->coef) {
        free(taps);
        rs_axis_free(ax);
        return OV_ENOMEM;
    }
    ax->ksize = ksize;
    double ss = 1.0 / filterscale;
    for (int i = 0; i < n_out; i++) {
        double center = in0 + (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        if (lo < 0)
            lo = 0;
        int hi = (int)(center + support + 0.5);
        if (hi > n_in)
            hi = n_in;
        int n = hi - lo;
        if (n < 0)
            n = 0;
        if (n > ksize)
            n = ksize; /* cannot happen: the window is at most 2·support + 1 wide */
        double sum = 0.0;
        for (int t = 0; t < n; t++) {
            double w = f->fn((t + lo - center + 0.5) * ss);
            taps[t] = w;
            sum += w;
        }
        int32_t *k = ax->coef + (size_t)i * (size_t)ksize;
        for (int t = 0; t < n; t++)
            k[t] = rs_fixed(sum != 0.0 ? taps[t] / sum : taps[t]);
        ax->first[i] = lo;
        ax->count[i] = n;
    }
    free(taps);
    return 0;
}

static inline uint8_t rs_clip8(int32_t acc)
{
    int32_t v = acc >> OV_RS_PRECISION_BITS; /* arithmetic shift: floor, like the reference */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* rows [row0, row0 + n_rows) of src (w_in wide) -> n_rows rows of dst (ax n_out wide). */
static void rs_horizontal(const uint8_t *src, int w_in, int row0, int n_rows, uint8_t *dst, int w_out,
                          const rs_axis *ax)
{
    const int32_t half = 1 << (OV_RS_PRECISION_BITS - 1);
    for (int y = 0; y < n_rows; y++) {
        const uint8_t *in = src + ((size_t)(row0 + y) * (size_t)w_in) * 3;
        uint8_t *out = dst + (size_t)y * (size_t)w_out * 3;
        for (int x = 0; x < w_out; x++) {
            const int32_t *k = ax->coef + (size_t)x * (size_t)ax->ksize;
            const uint8_t *p = in + (size_t)ax->first[x] * 3;
            int32_t r = half, g = half, b = half;
            for (int t = 0; t < ax->count[x]; t++) {
                r += p[3 * t + 0] * k[t];
                g += p[3 * t + 1] * k[t];
                b += p[3 * t + 2] * k[t];
            }
            out[3 * x + 0] = rs_clip8(r);
            out[3 * x + 1] = rs_clip8(g);
            out[3 * x + 2] = rs_clip8(b);
        }
    }
}

/* src rows are numbered from row0 (first[] values are absolute source rows). */
static void rs_vertical(const uint8_t *src, int w, int row0, uint8_t *dst, int h_out, const rs_axis *ax)
{
    const int32_t half = 1 << (OV_RS_PRECISION_BITS - 1);
    const size_t stride = (size_t)w * 3;
    for (int y = 0; y < h_out; y++) {
        const int32_t *k = ax->coef + (size_t)y * (size_t)ax->ksize;
        const uint8_t *base = src + (size_t)(ax->first[y] - row0) * stride;
        uint8_t *out = dst + (size_t)y * stride;
        for (size_t c = 0; c < stride; c++) {
            int32_t acc = half;
            for (int t = 0; t < ax->count[y]; t++)
                acc += base[(size_t)t * stride + c] * k[t];
            out[c] = rs_clip8(acc);
        }
    }
}

static int rs_side_ok(int s)
{
    return s >= 1 && s <= OV_RESIZE_MAX_SIDE;
}

int ov_image_resize_box(const uint8_t *src, int sw, int sh, const float box[4], uint8_t *dst, int dw, int dh,
                        int resample)
{
    const rs_filter *f = rs_filter_for(resample);
    if (!src || !dst || !box || !f || !rs_side_ok(sw) || !rs_side_ok(sh) || !rs_side_ok(dw) ||
        !rs_side_ok(dh))
        return OV_EINVAL;
    for (int i = 0; i < 4; i++)
        if (!isfinite(box[i]))
            return OV_EINVAL;
    if (box[0] < 0 || box[1] < 0 || box[2] > (float)sw || box[3] > (float)sh || !(box[2] > box[0]) ||
        !(box[3] > box[1]))
        return OV_EINVAL;

    /* _imaging.c's _resize: an integer box as large as the output is a plain crop. */
    if (box[0] == (float)(int)box[0] && box[1] == (float)(int)box[1] && box[2] - box[0] == (float)dw &&
        box[3] - box[1] == (float)dh) {
        for (int r = 0; r < dh; r++)
            memcpy(dst + (size_t)r * (size_t)dw * 3,
                   src + ((size_t)((int)box[1] + r) * (size_t)sw + (size_t)(int)box[0]) * 3, (size_t)dw * 3);
        return 0;
    }
    /* The reference's skip test, compared against the OUTPUT size as it does. */
    int need_h = dw != sw || box[0] != 0 || box[2] != (float)dw;
    int need_v = dh != sh || box[1] != 0 || box[3] != (float)dh;
    if (!need_h && !need_v) {
        memcpy(dst, src, (size_t)sw * (size_t)sh * 3);
        return 0;
    }
    /* Pillow >= 13: when the height shrinks by more than twice what the width shrinks (image
     * sizes, not the box), the vertical pass runs first, over every source column. The order
     * changes the 8-bit intermediate and so the output, so it is reproduced. */
    int vertical_first = sh - dh > 0 && sh - dh > (sw - dw) * 2;

    rs_axis vert = {0}, horiz = {0};
    int rc = 0;
    uint8_t *tmp = NULL;
    if (need_v && (rc = rs_axis_init(&vert, sh, box[1], box[3], dh, f)) != 0)
        goto out;
    if (need_h && (rc = rs_axis_init(&horiz, sw, box[0], box[2], dw, f)) != 0)
        goto out;
    if (!need_h) {
        rs_vertical(src, sw, 0, dst, dh, &vert);
    } else if (!need_v) {
        rs_horizontal(src, sw, 0, sh, dst, dw, &horiz);
    } else if (vertical_first) {
        tmp = malloc((size_t)sw * (size_t)dh * 3);
        if (!tmp) {
            rc = OV_ENOMEM;
            goto out;
        }
        rs_vertical(src, sw, 0, tmp, dh, &vert);
        rs_horizontal(tmp, sw, 0, dh, dst, dw, &horiz);
    } else {
        /* only the source rows the vertical pass will read */
        int row_first = vert.first[0];
        int n_rows = vert.first[dh - 1] + vert.count[dh - 1] - row_first;
        tmp = malloc((size_t)(n_rows > 0 ? n_rows : 1) * (size_t)dw * 3);
        if (!tmp) {
            rc = OV_ENOMEM;
            goto out;
        }
        rs_horizontal(src, sw, row_first, n_rows, tmp, dw, &horiz);
        rs_vertical(tmp, dw, row_first, dst, dh, &vert);
    }
out:
    free(tmp);
    rs_axis_free(&horiz);
    rs_axis_free(&vert);
    return rc;
}

int ov_image_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int resample)
{
    if (!rs_side_ok(sw) || !rs_side_ok(sh))
        return OV_EINVAL;
    const float box[4] = {0.0f, 0.0f, (float)sw, (float)sh};
    return ov_image_resize_box(src, sw, sh, box, dst, dw, dh, resample);
}

int ov_fit_policy_parse(const char *name, int *policy, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        int policy;
    } names[] = {{"letterbox", OV_FIT_LETTERBOX}, {"fit", OV_FIT_LETTERBOX}, {"pad", OV_FIT_LETTERBOX},
                 {"crop", OV_FIT_CROP},           {"cover", OV_FIT_CROP},    {"fill", OV_FIT_CROP},
                 {"stretch", OV_FIT_STRETCH},     {"resize", OV_FIT_STRETCH}};
    if (!policy)
        return OV_EINVAL;
    if (!name || !name[0]) {
        *policy = OV_FIT_LETTERBOX;
        return 0;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *policy = names[i].policy;
            return 0;
        }
    }
    if (err && errlen)
        snprintf(err, errlen,
                 "unknown resize policy \"%.64s\" (letterbox|fit|pad, crop|cover|fill, stretch|resize)",
                 name);
    return OV_EINVAL;
}

const char *ov_fit_policy_name(int policy)
{
    switch (policy) {
    case OV_FIT_LETTERBOX: return "letterbox";
    case OV_FIT_CROP: return "crop";
    case OV_FIT_STRETCH: return "stretch";
    default: return "unknown";
    }
}

/* Python's round() of a double to an int: half to even (rint in the default rounding mode). */
static int py_round(double v)
{
    return (int)nearbyint(v);
}

int ov_image_letterbox_rect(int sw, int sh, int dw, int dh, int *x, int *y, int *w, int *h)
{
    if (!x || !y || !w || !h || !rs_side_ok(sw) || !rs_side_ok(sh) || !rs_side_ok(dw) || !rs_side_ok(dh))
        return OV_EINVAL;
    /* ImageOps.contain */
    double im_ratio = (double)sw / sh, dest_ratio = (double)dw / dh;
    int rw = dw, rh = dh;
    if (im_ratio != dest_ratio) {
        if (im_ratio > dest_ratio)
            rh = py_round((double)sh / sw * dw);
        else
            rw = py_round((double)sw / sh * dh);
    }
    if (rw < 1)
        rw = 1;
    if (rh < 1)
        rh = 1;
    /* ImageOps.pad, centering 0.5 */
    *x = rw != dw ? py_round((dw - rw) * 0.5) : 0;
    *y = rw == dw ? py_round((dh - rh) * 0.5) : 0;
    *w = rw;
    *h = rh;
    return 0;
}

static int fit_letterbox(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int resample)
{
    int x, y, w, h;
    int rc = ov_image_letterbox_rect(sw, sh, dw, dh, &x, &y, &w, &h);
    if (rc != 0)
        return rc;
    if (w == dw && h == dh)
        return ov_image_resize(src, sw, sh, dst, dw, dh, resample);
    uint8_t *scaled = malloc((size_t)w * (size_t)h * 3);
    if (!scaled)
        return OV_ENOMEM;
    rc = ov_image_resize(src, sw, sh, scaled, w, h, resample);
    if (rc == 0) {
        memset(dst, 0, (size_t)dw * (size_t)dh * 3);
        for (int r = 0; r < h; r++)
            memcpy(dst + ((size_t)(y + r) * (size_t)dw + (size_t)x) * 3, scaled + (size_t)r * (size_t)w * 3,
                   (size_t)w * 3);
    }
    free(scaled);
    return rc;
}

static int fit_crop(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int resample)
{
    /* ImageOps.fit with bleed 0 and centering (0.5, 0.5), in Python's double arithmetic. */
    double live_w = sw, live_h = sh;
    double live_ratio = live_w / live_h, out_ratio = (double)dw / dh;
    double crop_w, crop_h;
    if (live_ratio == out_ratio) {
        crop_w = live_w;
        crop_h = live_h;
    } else if (live_ratio >= out_ratio) {
        crop_w = out_ratio * live_h;
        crop_h = live_h;
    } else {
        crop_w = live_w;
        crop_h = live_w / out_ratio;
    }
    double left = 0.0 + (live_w - crop_w) * 0.5, top = 0.0 + (live_h - crop_h) * 0.5;
    float box[4] = {(float)left, (float)top, (float)(left + crop_w), (float)(top + crop_h)};
    /* (s + crop)/2 cannot exceed s in exact arithmetic; keep a rounding ulp from failing where
     * Pillow would raise "box can't exceed original image size" */
    if (box[2] > (float)sw)
        box[2] = (float)sw;
    if (box[3] > (float)sh)
        box[3] = (float)sh;
    return ov_image_resize_box(src, sw, sh, box, dst, dw, dh, resample);
}

int ov_image_fit(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, int policy, int resample)
{
    if (!src || !dst || !rs_filter_for(resample) || !rs_side_ok(sw) || !rs_side_ok(sh) || !rs_side_ok(dw) ||
        !rs_side_ok(dh))
        return OV_EINVAL;
    switch (policy) {
    case OV_FIT_LETTERBOX: return fit_letterbox(src, sw, sh, dst, dw, dh, resample);
    case OV_FIT_CROP: return fit_crop(src, sw, sh, dst, dw, dh, resample);
    case OV_FIT_STRETCH: return ov_image_resize(src, sw, sh, dst, dw, dh, resample);
    default: return OV_EINVAL;
    }
}
