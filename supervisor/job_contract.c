/* The OurVidz job contract: one queued job's JSON -> a validated ov_job_spec (see docs/JOBS.md). */
#include "job_contract.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/ident.h"

#define SEED_MAX 9007199254740991.0 /* 2^53-1: the largest integer a JS frontend can send exactly */
#define URL_MAX 2048
#define NOTE_MAX 256

/* ---- small helpers ---- */

static int errf(char *err, size_t n, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t n, int code, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return code;
}

bool ov_job_id_is_safe(const char *s)
{
    return ov_ident_valid(s, OV_JOB_SAFE_ID_MAX);
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k) /* needs k continuation bytes after s[i] */
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += k + 1;
    }
    return true;
}

/* "a string \"abc\"", "4", "an object"... for error messages (sanitised, truncated). */
static void describe(const json_t *v, char *out, size_t n)
{
    if (!v) {
        snprintf(out, n, "nothing");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(out, n, "an object"); break;
    case JSON_ARRAY: snprintf(out, n, "an array"); break;
    case JSON_TRUE: snprintf(out, n, "true"); break;
    case JSON_FALSE: snprintf(out, n, "false"); break;
    case JSON_NULL: snprintf(out, n, "null"); break;
    case JSON_INTEGER: snprintf(out, n, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, n, "%.17g", json_real_value(v)); break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        char tmp[40];
        size_t j = 0;
        for (size_t i = 0; i < len && j < 32; i++) {
            unsigned char c = (unsigned char)s[i];
            tmp[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
        }
        tmp[j] = '\0';
        snprintf(out, n, "\"%s%s\"", tmp, len > 32 ? "..." : "");
        break;
    }
    }
}

static bool is_absent(const json_t *v)
{
    return !v || json_is_null(v);
}

static bool number_of(const json_t *v, double *out)
{
    if (json_is_real(v))
        *out = json_real_value(v);
    else if (json_is_integer(v))
        *out = (double)json_integer_value(v);
    else
        return false;
    return isfinite(*out);
}

typedef struct pctx {
    char *err;
    size_t errlen;
    const ov_job_caps *caps;
} pctx;

/* An optional integer field. 0 (absent: *present = false), OV_EINVAL with the message. */
static int opt_int(pctx *c, const json_t *obj, const char *key, const char *field, int lo, int hi, int *out,
                   bool *present)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *present = false;
    if (is_absent(v))
        return 0;
    double d;
    char got[64];
    if (!number_of(v, &d) || d != floor(d) || d < lo || d > hi) {
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be an integer from %d to %d (got %s)", field, lo,
                    hi, got);
    }
    *out = (int)d;
    *present = true;
    return 0;
}

static int opt_number(pctx *c, const json_t *obj, const char *key, const char *field, double lo, double hi,
                      double *out, bool *present)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *present = false;
    if (is_absent(v))
        return 0;
    double d;
    char got[64];
    if (!number_of(v, &d) || d < lo || d > hi) {
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be a number from %g to %g (got %s)", field, lo, hi,
                    got);
    }
    *out = d;
    *present = true;
    return 0;
}

/* An optional string: NULL when absent/null (or "" when empty_is_absent). No NUL, valid UTF-8
 * (jansson checked), at most max bytes. */
static int opt_string(pctx *c, const json_t *obj, const char *key, const char *field, size_t max,
                      bool empty_is_absent, const char **out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (is_absent(v))
        return 0;
    char got[64];
    if (!json_is_string(v)) {
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be a string (got %s)", field, got);
    }
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return errf(c->err, c->errlen, OV_EINVAL, "%s must not contain NUL characters", field);
    if (len > max)
        return errf(c->err, c->errlen, OV_EINVAL, "%s is %zu bytes, over the cap of %zu", field, len, max);
    if (len == 0 && empty_is_absent)
        return 0;
    *out = s;
    return 0;
}

static int opt_bool(pctx *c, const json_t *obj, const char *key, const char *field, bool *out, bool *present)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    *present = false;
    if (is_absent(v))
        return 0;
    if (!json_is_boolean(v)) {
        char got[64];
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be true or false (got %s)", field, got);
    }
    *out = json_is_true(v);
    *present = true;
    return 0;
}

static int opt_object(pctx *c, const json_t *obj, const char *key, const json_t **out)
{
    const json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (is_absent(v))
        return 0;
    if (!json_is_object(v)) {
        char got[64];
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be an object (got %s)", key, got);
    }
    *out = v;
    return 0;
}

static int opt_id(pctx *c, const json_t *obj, const char *key, char *dst)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (is_absent(v))
        return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (!s || strlen(s) != json_string_length(v) || !ov_job_id_is_safe(s)) {
        char got[64];
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be 1 to %d characters of [A-Za-z0-9_-] (got %s)",
                    key, OV_JOB_SAFE_ID_MAX, got);
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static void note(ov_job_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ov_job_spec *s, const char *fmt, ...)
{
    size_t used = strlen(s->notes);
    if (used && used + 2 < sizeof s->notes) {
        memcpy(s->notes + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= sizeof s->notes)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->notes + used, sizeof s->notes - used, fmt, ap);
    va_end(ap);
}

static int64_t random_seed(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ ((uint32_t)getpid() << 16);
    }
    r &= 0x7fffffffu; /* 1..2^31-1: fits every worker's int seed */
    return r ? (int64_t)r : 1;
}

/* ---- field groups ---- */

/* seed: absent, null, 0 or -1 -> random (the July SDXL worker treated a falsy seed as random and
 * Wan's CLI uses -1); an integer 1..2^53-1 or a string of 1..16 digits -> that seed. */
static int parse_seed(pctx *c, const json_t *v, const char *field, ov_job_spec *s)
{
    s->seed_random = true;
    if (is_absent(v))
        return 0;
    double d = 0;
    char got[64];
    bool ok = false;
    if (number_of(v, &d)) {
        ok = d == floor(d) && (d == 0 || d == -1 || (d >= 1 && d <= SEED_MAX));
    } else if (json_is_string(v)) {
        const char *str = json_string_value(v);
        size_t len = json_string_length(v);
        ok = len >= 1 && len <= 16 && strlen(str) == len;
        for (size_t i = 0; ok && i < len; i++)
            ok = str[i] >= '0' && str[i] <= '9';
        if (ok) {
            int64_t x;
            ok = ov_parse_int64(str, &x) == 0 && x <= (int64_t)SEED_MAX;
            d = (double)x;
        }
    }
    if (!ok) {
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL,
                    "%s must be an integer from 1 to 9007199254740991 (null, 0 or -1: random) (got %s)",
                    field, got);
    }
    if (d >= 1) {
        s->seed = (int64_t)d;
        s->seed_random = false;
    }
    return 0;
}

/* "1024x1024" or "480*832". */
static bool parse_wxh(const char *str, int *w, int *h)
{
    const char *p = str;
    int a = 0, b = 0, da = 0, db = 0;
    while (*p >= '0' && *p <= '9' && da < 6)
        a = a * 10 + (*p++ - '0'), da++;
    if (da == 0 || (*p != 'x' && *p != 'X' && *p != '*'))
        return false;
    p++;
    while (*p >= '0' && *p <= '9' && db < 6)
        b = b * 10 + (*p++ - '0'), db++;
    if (db == 0 || *p)
        return false;
    *w = a;
    *h = b;
    return true;
}

/* WAN needs multiples of 16 (VAE 8 x patch 2); the SDXL UNet halves the 8x latent twice, so 32. */
static int check_dim(pctx *c, const char *field, int v, int cap, int mult)
{
    if (v < 64 || v > cap || v % mult != 0)
        return errf(c->err, c->errlen, OV_EINVAL, "%s must be a multiple of %d from 64 to %d (got %d)", field,
                    mult, cap, v);
    return 0;
}

static int parse_size(pctx *c, const json_t *cfg, const ov_job_type *ty, ov_job_spec *s)
{
    /* SDXL reads `resolution` first (F-SEP), WAN reads `size` first (F-QJ-JUL "480*832"); WAN
     * ignores `resolution` (an SDXL field the WAN workers never read). width/height are read
     * for both when the string form is absent. */
    const char *keys[2] = {ty->kind == OV_KIND_SDXL ? "resolution" : "size",
                           ty->kind == OV_KIND_SDXL ? "size" : NULL};
    int w = s->width, h = s->height, rc;
    int mult = ty->kind == OV_KIND_SDXL ? 32 : 16;
    for (int k = 0; k < 2; k++) {
        if (!keys[k])
            continue;
        char field[32];
        snprintf(field, sizeof field, "config.%s", keys[k]);
        const char *str;
        if ((rc = opt_string(c, cfg, keys[k], field, 32, false, &str)) != 0)
            return rc;
        if (!str)
            continue;
        if (!parse_wxh(str, &w, &h)) {
            char got[64];
            describe(json_object_get(cfg, keys[k]), got, sizeof got);
            return errf(c->err, c->errlen, OV_EINVAL,
                        "%s must be \"WIDTHxHEIGHT\" or \"WIDTH*HEIGHT\" (got %s)", field, got);
        }
        if ((rc = check_dim(c, field, w, c->caps->max_width, mult)) != 0 ||
            (rc = check_dim(c, field, h, c->caps->max_height, mult)) != 0)
            return rc;
        goto done;
    }
    bool pw, ph;
    if ((rc = opt_int(c, cfg, "width", "config.width", 0, 100000, &w, &pw)) != 0 ||
        (rc = opt_int(c, cfg, "height", "config.height", 0, 100000, &h, &ph)) != 0)
        return rc;
    if ((pw && (rc = check_dim(c, "config.width", w, c->caps->max_width, mult)) != 0) ||
        (ph && (rc = check_dim(c, "config.height", h, c->caps->max_height, mult)) != 0))
        return rc;
done:
    if (c->caps->allow_overrides) {
        s->width = w;
        s->height = h;
    }
    return 0;
}

/* A native key, or its alias from the other family when the native one is absent. */
static const char *pick_key(const json_t *cfg, const char *native, const char *alias)
{
    return (!cfg || is_absent(json_object_get(cfg, native))) && cfg && !is_absent(json_object_get(cfg, alias))
               ? alias
               : native;
}

static int parse_steps_cfg(pctx *c, const json_t *cfg, const ov_job_type *ty, ov_job_spec *s)
{
    bool sdxl = ty->kind == OV_KIND_SDXL;
    const char *ks = pick_key(cfg, sdxl ? "num_inference_steps" : "sample_steps",
                              sdxl ? "sample_steps" : "num_inference_steps");
    const char *kc = pick_key(cfg, sdxl ? "guidance_scale" : "sample_guide_scale",
                              sdxl ? "sample_guide_scale" : "guidance_scale");
    char field[48];
    int steps, rc;
    double cfgv;
    bool present;
    snprintf(field, sizeof field, "config.%s", ks);
    if ((rc = opt_int(c, cfg, ks, field, 1, c->caps->max_steps, &steps, &present)) != 0)
        return rc;
    if (present && c->caps->allow_overrides)
        s->steps = steps;
    snprintf(field, sizeof field, "config.%s", kc);
    if ((rc = opt_number(c, cfg, kc, field, c->caps->min_cfg, c->caps->max_cfg, &cfgv, &present)) != 0)
        return rc;
    if (present && c->caps->allow_overrides)
        s->cfg = cfgv;
    return 0;
}

/* SDXL scheduler names the sdxl worker knows; the July frontend's "unipc" (ignored by the July
 * worker) falls back to the type's sampler. */
static int parse_sampler(pctx *c, const json_t *cfg, const ov_job_type *ty, ov_job_spec *s)
{
    const char *v;
    int rc;
    if (ty->kind == OV_KIND_SDXL) {
        if ((rc = opt_string(c, cfg, "scheduler", "config.scheduler", 32, true, &v)) != 0 || !v)
            return rc;
        static const char *const names[][2] = {
            {"euler", "euler"},
            {"euler_a", "euler_a"},
            {"euler_ancestral", "euler_a"},
            {"dpmpp_2m", "dpmpp_2m"},
            {"dpm++_2m", "dpmpp_2m"},
            {"dpmpp_2m_karras", "dpmpp_2m_karras"},
            {"dpm++_2m_karras", "dpmpp_2m_karras"},
        };
        char low[33];
        size_t i = 0;
        for (; v[i] && i < 32; i++)
            low[i] = (char)((v[i] >= 'A' && v[i] <= 'Z')   ? v[i] + 32
                            : (v[i] == ' ' || v[i] == '-') ? '_'
                                                           : v[i]);
        low[i] = '\0';
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (strcmp(low, names[k][0]) == 0) {
                if (c->caps->allow_overrides)
                    snprintf(s->sampler, sizeof s->sampler, "%s", names[k][1]);
                return 0;
            }
        }
        if (strcmp(low, "unipc") == 0) {
            note(s, "config.scheduler unipc -> %s (not an SDXL sampler here; the July worker ignored it)",
                 s->sampler);
            return 0;
        }
        char got[64];
        describe(json_object_get(cfg, "scheduler"), got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL,
                    "config.scheduler must be euler, euler_a, dpmpp_2m or dpmpp_2m_karras (got %s)", got);
    }
    if ((rc = opt_string(c, cfg, "sample_solver", "config.sample_solver", 32, true, &v)) != 0 || !v)
        return rc;
    const char *solver = NULL;
    if (strcmp(v, "unipc") == 0)
        solver = "unipc";
    else if (strcmp(v, "dpm++") == 0 || strcmp(v, "dpmpp") == 0)
        solver = "dpm++";
    if (!solver) {
        char got[64];
        describe(json_object_get(cfg, "sample_solver"), got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "config.sample_solver must be unipc or dpm++ (got %s)",
                    got);
    }
    if (c->caps->allow_overrides)
        snprintf(s->sampler, sizeof s->sampler, "%s", solver);
    return 0;
}

static int parse_shift(pctx *c, const json_t *cfg, ov_job_spec *s)
{
    double shift;
    bool present;
    int rc = opt_number(c, cfg, "sample_shift", "config.sample_shift", 0.0, 20.0, &shift, &present);
    if (rc)
        return rc;
    if (present && shift <= 0.0)
        return errf(c->err, c->errlen, OV_EINVAL,
                    "config.sample_shift must be a number above 0 and up to 20 (got %g)", shift);
    if (present && c->caps->allow_overrides)
        s->shift = shift;
    return 0;
}

static int parse_frames(pctx *c, const json_t *cfg, const ov_job_type *ty, ov_job_spec *s)
{
    if (ty->kind == OV_KIND_SDXL)
        return 0; /* images: the July frontend sends frame_num 1 for SDXL, never read */
    int f, rc;
    bool present;
    if ((rc = opt_int(c, cfg, "frame_num", "config.frame_num", 1, 100000, &f, &present)) != 0) {
        /* keep the message but give the rule for this type */
        const json_t *v = json_object_get(cfg, "frame_num");
        char got[64];
        describe(v, got, sizeof got);
        if (ty->frames == 1)
            return errf(c->err, c->errlen, OV_EINVAL, "config.frame_num must be 1 for image types (got %s)",
                        got);
        return errf(c->err, c->errlen, OV_EINVAL,
                    "config.frame_num must be 4n+1 from 5 to %d for video types (got %s)",
                    c->caps->max_frames, got);
    }
    if (!present)
        return 0;
    if (ty->frames == 1) {
        if (f != 1)
            return errf(c->err, c->errlen, OV_EINVAL, "config.frame_num must be 1 for image types (got %d)",
                        f);
        return 0;
    }
    if (f == 83) {
        /* The July frontend's video value: the July worker passed it to Wan, which decodes
         * (83-1)//4+1 = 21 latent frames = 81 frames. Same video, not a failure. */
        note(s, "config.frame_num 83 -> 81 (July frontend value; Wan decodes 81 frames from it)");
        f = 81;
    }
    if (f < 5 || (f - 1) % 4 != 0 || f > c->caps->max_frames)
        return errf(c->err, c->errlen, OV_EINVAL,
                    "config.frame_num must be 4n+1 from 5 to %d for video types (got %d)",
                    c->caps->max_frames, f);
    s->frames = f;
    return 0;
}

static int parse_num_images(pctx *c, const json_t *cfg, const ov_job_type *ty, ov_job_spec *s)
{
    const json_t *v = cfg ? json_object_get(cfg, "num_images") : NULL;
    if (is_absent(v))
        return 0;
    double d;
    char got[64];
    if (!number_of(v, &d) || (d != 1 && d != 3 && d != 6)) {
        describe(v, got, sizeof got);
        return errf(c->err, c->errlen, OV_EINVAL, "config.num_images must be 1, 3 or 6 (got %s)", got);
    }
    if ((int)d > c->caps->max_images)
        return errf(c->err, c->errlen, OV_EINVAL, "config.num_images %d is over the cap of %d", (int)d,
                    c->caps->max_images);
    if (ty->kind == OV_KIND_SDXL)
        s->num_images = (int)d;
    else if (d != 1)
        note(s, "config.num_images %d ignored: WAN types make one output", (int)d);
    return 0;
}

/* Reference image fields, passed through to the sdxl worker (config first, then metadata). */
static int parse_reference(pctx *c, const json_t *cfg, const json_t *meta, ov_kvlist *p)
{
    const json_t *src[2] = {cfg, meta};
    const char *names[2] = {"config", "metadata"};
    const char *url = NULL, *rtype = NULL, *pipeline = NULL, *fit = NULL;
    double strength = -1, denoise = -1;
    int rc;
    for (int i = 0; i < 2; i++) {
        if (!src[i])
            continue;
        char field[64];
        const char *v;
        double d;
        bool present;
        snprintf(field, sizeof field, "%s.reference_image_url", names[i]);
        if ((rc = opt_string(c, src[i], "reference_image_url", field, URL_MAX, true, &v)) != 0)
            return rc;
        if (v && !url) {
            if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
                return errf(c->err, c->errlen, OV_EINVAL, "%s must be an http(s) URL", field);
            url = v;
        }
        snprintf(field, sizeof field, "%s.reference_strength", names[i]);
        if ((rc = opt_number(c, src[i], "reference_strength", field, 0.0, 1.0, &d, &present)) != 0)
            return rc;
        if (present && strength < 0)
            strength = d;
        snprintf(field, sizeof field, "%s.denoise_strength", names[i]);
        if ((rc = opt_number(c, src[i], "denoise_strength", field, 0.0, 1.0, &d, &present)) != 0)
            return rc;
        if (present && denoise < 0)
            denoise = d;
        snprintf(field, sizeof field, "%s.reference_type", names[i]);
        if ((rc = opt_string(c, src[i], "reference_type", field, 32, true, &v)) != 0)
            return rc;
        if (v && !rtype)
            rtype = v;
        snprintf(field, sizeof field, "%s.resize_policy", names[i]);
        if ((rc = opt_string(c, src[i], "resize_policy", field, 32, true, &v)) != 0)
            return rc;
        if (v && !fit)
            fit = v;
    }
    if (cfg && (rc = opt_string(c, cfg, "pipeline", "config.pipeline", 32, true, &pipeline)) != 0)
        return rc;
    if ((url && ov_kvlist_set_str(p, "reference_image_url", url)) ||
        (strength >= 0 && ov_kvlist_set_float(p, "reference_strength", strength)) ||
        (denoise >= 0 && ov_kvlist_set_float(p, "denoise_strength", denoise)) ||
        (rtype && ov_kvlist_set_str(p, "reference_type", rtype)) ||
        (pipeline && ov_kvlist_set_str(p, "pipeline", pipeline)) ||
        (fit && ov_kvlist_set_str(p, "resize_policy", fit)))
        return OV_ENOMEM;
    return 0;
}

/* ---- plan ---- */

static int build_plan(const ov_job_type *ty, ov_job_spec *s)
{
    int n = 0;
    if (ty->enhance != OV_JOB_ENHANCE_NONE) {
        ov_job_stage *e = &s->stages[n++];
        e->kind = OV_KIND_QWEN;
        snprintf(e->task, sizeof e->task, "enhance");
        if (ov_kvlist_set_str(&e->params, "prompt", s->prompt) ||
            ov_kvlist_set_str(&e->params, "mode", ov_job_enhance_name(ty->enhance)))
            return OV_ENOMEM;
        s->enhancement = OV_JOB_ENH_PENDING;
    }
    ov_job_stage *g = &s->stages[n++];
    g->kind = ty->kind;
    snprintf(g->task, sizeof g->task, "%s", ty->task);
    ov_kvlist *p = &g->params;
    int rc = ov_kvlist_set_str(p, "prompt", s->prompt);
    if (!rc && s->negative_prompt)
        rc = ov_kvlist_set_str(p, "negative_prompt", s->negative_prompt);
    if (!rc)
        rc = ov_kvlist_set_int(p, "steps", s->steps);
    if (!rc)
        rc = ov_kvlist_set_float(p, "cfg", s->cfg);
    if (!rc)
        rc = ov_kvlist_set_str(p, ty->kind == OV_KIND_SDXL ? "sampler" : "solver", s->sampler);
    if (!rc && ty->kind == OV_KIND_WAN)
        rc = ov_kvlist_set_float(p, "shift", s->shift);
    if (!rc)
        rc = ov_kvlist_set_int(p, "width", s->width);
    if (!rc)
        rc = ov_kvlist_set_int(p, "height", s->height);
    if (!rc && ty->kind == OV_KIND_SDXL)
        rc = ov_kvlist_set_int(p, "count", s->num_images);
    if (!rc && ty->kind == OV_KIND_WAN)
        rc = ov_kvlist_set_int(p, "frames", s->frames);
    if (!rc && ty->kind == OV_KIND_WAN)
        rc = ov_kvlist_set_int(p, "fps", s->fps);
    if (!rc)
        rc = ov_kvlist_set_int(p, "seed", s->seed);
    if (!rc)
        rc = ov_kvlist_set_str(p, "format", ov_job_format_name(s->format));
    if (!rc && ty->kind == OV_KIND_SDXL && s->compel_enabled && s->compel_weights)
        rc = ov_kvlist_set_str(p, "compel_weights", s->compel_weights);
    s->nstages = n;
    return rc ? OV_ENOMEM : 0;
}

/* ---- parse ---- */

static int parse_object(const ov_job_types *t, json_t *root, ov_job_spec *s, char *err, size_t errlen)
{
    pctx c = {.err = err, .errlen = errlen, .caps = &t->caps};
    pctx *cp = &c;
    int rc;
    size_t pmax = (size_t)t->caps.max_prompt_bytes;

    /* type, then user_id, are kept even when a later field is wrong (the failed callback's
     * job_type / user_id). */
    const json_t *jt = json_object_get(root, "type");
    const ov_job_type *ty = NULL;
    char got[64];
    if (!json_is_string(jt)) {
        describe(jt, got, sizeof got);
        return errf(err, errlen, OV_EINVAL, "type must be a string naming a job type (got %s)", got);
    }
    ty = ov_job_types_find(t, json_string_value(jt));
    if (!ty || strlen(json_string_value(jt)) != json_string_length(jt)) {
        describe(jt, got, sizeof got);
        return errf(err, errlen, OV_EINVAL, "type %s is not a known job type", got);
    }
    snprintf(s->type, sizeof s->type, "%s", ty->name);
    snprintf(s->type_requested, sizeof s->type_requested, "%s", json_string_value(jt));
    if (strcmp(s->type, s->type_requested) != 0)
        note(s, "type %s -> %s", s->type_requested, s->type);

    const json_t *ju = json_object_get(root, "user_id");
    if (!json_is_string(ju) || strlen(json_string_value(ju)) != json_string_length(ju) ||
        !ov_job_id_is_safe(json_string_value(ju))) {
        describe(ju, got, sizeof got);
        return errf(err, errlen, OV_EINVAL,
                    "user_id must be a string of 1 to %d characters of [A-Za-z0-9_-] (got %s)",
                    OV_JOB_SAFE_ID_MAX, got);
    }
    snprintf(s->user_id, sizeof s->user_id, "%s", json_string_value(ju));

    const json_t *jp = json_object_get(root, "prompt");
    if (!json_is_string(jp)) {
        describe(jp, got, sizeof got);
        return errf(err, errlen, OV_EINVAL, "prompt must be a string (got %s)", got);
    }
    const char *prompt;
    if ((rc = opt_string(cp, root, "prompt", "prompt", pmax, false, &prompt)) != 0)
        return rc;
    bool blank = true;
    for (const char *q = prompt; *q && blank; q++)
        blank = (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r');
    if (blank)
        return errf(err, errlen, OV_EINVAL, "prompt must not be empty");
    if (!(s->prompt = strdup(prompt)))
        return OV_ENOMEM;

    if ((rc = opt_id(cp, root, "video_id", s->video_id)) != 0 ||
        (rc = opt_id(cp, root, "image_id", s->image_id)) != 0)
        return rc;

    const json_t *cfg, *meta;
    if ((rc = opt_object(cp, root, "config", &cfg)) != 0 ||
        (rc = opt_object(cp, root, "metadata", &meta)) != 0)
        return rc;

    /* defaults of the type */
    s->kind = ty->kind;
    s->steps = ty->steps;
    s->cfg = ty->cfg;
    s->width = ty->width;
    s->height = ty->height;
    s->num_images = ty->num_images;
    s->frames = ty->frames;
    s->fps = ty->fps;
    s->shift = ty->shift;
    snprintf(s->sampler, sizeof s->sampler, "%s", ty->sampler);
    s->format = ty->format;
    s->expected_s = ty->expected_s;
    s->route = ty->kind == OV_KIND_SDXL ? "sdxl_queue" : "wan_queue";

    const char *neg;
    if ((rc = opt_string(cp, root, "negative_prompt", "negative_prompt", pmax, true, &neg)) != 0)
        return rc;
    if (!neg && cfg &&
        (rc = opt_string(cp, cfg, "negative_prompt", "config.negative_prompt", pmax, true, &neg)) != 0)
        return rc;
    if (neg && !(s->negative_prompt = strdup(neg)))
        return OV_ENOMEM;

    bool present, ce = false;
    if ((rc = opt_bool(cp, root, "compel_enabled", "compel_enabled", &ce, &present)) != 0)
        return rc;
    if (!present && cfg &&
        (rc = opt_bool(cp, cfg, "compel_enabled", "config.compel_enabled", &ce, &present)) != 0)
        return rc;
    s->compel_enabled = ce;
    const char *cw;
    if ((rc = opt_string(cp, root, "compel_weights", "compel_weights", pmax, true, &cw)) != 0)
        return rc;
    if (!cw && cfg &&
        (rc = opt_string(cp, cfg, "compel_weights", "config.compel_weights", pmax, true, &cw)) != 0)
        return rc;
    if (cw && !(s->compel_weights = strdup(cw)))
        return OV_ENOMEM;

    if (cfg) {
        bool eb;
        if ((rc = opt_bool(cp, cfg, "enhance_prompt", "config.enhance_prompt", &eb, &present)) != 0)
            return rc;
    }
    const json_t *jseed = cfg ? json_object_get(cfg, "seed") : NULL;
    const char *seed_field = "config.seed";
    if (is_absent(jseed) && !is_absent(json_object_get(root, "seed"))) {
        jseed = json_object_get(root, "seed");
        seed_field = "seed";
    }
    if ((rc = parse_seed(cp, jseed, seed_field, s)) != 0)
        return rc;
    if (s->seed_random)
        s->seed = random_seed();

    if ((rc = parse_num_images(cp, cfg, ty, s)) != 0 || (rc = parse_steps_cfg(cp, cfg, ty, s)) != 0 ||
        (rc = parse_size(cp, cfg, ty, s)) != 0 || (rc = parse_frames(cp, cfg, ty, s)) != 0 ||
        (rc = parse_sampler(cp, cfg, ty, s)) != 0)
        return rc;
    if (ty->kind == OV_KIND_WAN && (rc = parse_shift(cp, cfg, s)) != 0)
        return rc;

    if (meta && !(s->metadata_json = json_dumps(meta, JSON_COMPACT | JSON_ENSURE_ASCII)))
        return OV_ENOMEM;

    if ((rc = build_plan(ty, s)) != 0)
        return rc;
    if (ty->kind == OV_KIND_SDXL &&
        (rc = parse_reference(cp, cfg, meta, &ov_job_spec_gen_stage(s)->params)) != 0)
        return rc;
    return 0;
}

int ov_job_parse(const ov_job_types *t, const char *raw, size_t len, ov_job_spec *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!t || (!raw && len))
        return errf(err, errlen, OV_EFORMAT, "no payload");
    if (len > OV_JOB_RAW_MAX)
        return errf(err, errlen, OV_EFORMAT, "payload is %zu bytes, over the cap of %u", len, OV_JOB_RAW_MAX);
    if (!utf8_valid(raw, len))
        return errf(err, errlen, OV_EFORMAT, "payload is not valid UTF-8");
    json_error_t jerr;
    /* Integers as doubles: a huge number is a range error on its field, not a parse failure.
     * NULs inside strings are allowed by the parser and refused per field (the id stays readable). */
    json_t *root =
        json_loadb(raw ? raw : "", len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!root)
        return errf(err, errlen, OV_EFORMAT, "payload is not JSON: %s at line %d column %d", jerr.text,
                    jerr.line, jerr.column);
    int rc;
    const json_t *jid = json_object_get(root, "id");
    if (!json_is_object(root)) {
        rc = errf(err, errlen, OV_EFORMAT, "payload is not a JSON object");
    } else if (!json_is_string(jid)) {
        char got[64];
        describe(jid, got, sizeof got);
        rc = errf(err, errlen, OV_EFORMAT, "id must be a string (got %s)", got);
    } else if (strlen(json_string_value(jid)) != json_string_length(jid) ||
               !ov_job_id_is_safe(json_string_value(jid))) {
        char got[64];
        describe(jid, got, sizeof got);
        rc = errf(err, errlen, OV_EFORMAT, "id must be 1 to %d characters of [A-Za-z0-9_-] (got %s)",
                  OV_JOB_SAFE_ID_MAX, got);
    } else {
        snprintf(out->id, sizeof out->id, "%s", json_string_value(jid));
        rc = parse_object(t, root, out, err, errlen);
        if (rc == OV_ENOMEM)
            errf(err, errlen, OV_ENOMEM, "out of memory");
        if (rc != 0) { /* an invalid job has no plan */
            for (int i = 0; i < OV_JOB_STAGES_MAX; i++)
                ov_kvlist_free(&out->stages[i].params);
            out->nstages = 0;
            out->enhancement = OV_JOB_ENH_NONE;
        }
    }
    json_decref(root);
    return rc;
}

void ov_job_spec_free(ov_job_spec *s)
{
    if (!s)
        return;
    free(s->prompt);
    free(s->negative_prompt);
    free(s->compel_weights);
    free(s->metadata_json);
    free(s->enhanced_prompt);
    for (int i = 0; i < OV_JOB_STAGES_MAX; i++)
        ov_kvlist_free(&s->stages[i].params);
    memset(s, 0, sizeof *s);
}

ov_job_stage *ov_job_spec_gen_stage(ov_job_spec *s)
{
    return s->nstages > 0 ? &s->stages[s->nstages - 1] : &s->stages[0];
}

int ov_job_spec_apply_enhanced(ov_job_spec *s, const ov_job_types *t, const char *enhanced)
{
    if (!s || s->enhancement != OV_JOB_ENH_PENDING || !enhanced)
        return OV_EINVAL;
    size_t n = strlen(enhanced);
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++)
        blank = enhanced[i] == ' ' || enhanced[i] == '\t' || enhanced[i] == '\n' || enhanced[i] == '\r';
    if (blank || n > (size_t)t->caps.max_prompt_bytes || !utf8_valid(enhanced, n))
        return OV_EINVAL;
    char *copy = strdup(enhanced);
    if (!copy)
        return OV_ENOMEM;
    if (ov_kvlist_set_str(&ov_job_spec_gen_stage(s)->params, "prompt", enhanced) != 0) {
        free(copy);
        return OV_ENOMEM;
    }
    free(s->enhanced_prompt);
    s->enhanced_prompt = copy;
    s->enhancement = OV_JOB_ENH_APPLIED;
    return 0;
}

int ov_job_spec_skip_enhancement(ov_job_spec *s, const char *reason)
{
    if (!s || s->enhancement != OV_JOB_ENH_PENDING)
        return OV_EINVAL;
    snprintf(s->enhancement_note, sizeof s->enhancement_note, "enhancement failed: %s, used original prompt",
             reason && reason[0] ? reason : "unknown error");
    s->enhancement = OV_JOB_ENH_SKIPPED;
    return 0;
}

int ov_job_spec_metadata_json(const ov_job_spec *s, ov_buf *b)
{
    static const char *const enh[] = {"none", "pending", "applied", "skipped"};
    int rc = 0;
    rc |= ov_buf_puts(b, "{");
    rc |= ov_json_key(b, "job_type");
    rc |= ov_json_str(b, s->type);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "seed");
    rc |= ov_json_int(b, s->seed);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "seed_random");
    rc |= ov_json_bool(b, s->seed_random);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "num_images");
    rc |= ov_json_int(b, s->num_images);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "steps");
    rc |= ov_json_int(b, s->steps);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "guidance_scale");
    rc |= ov_json_double(b, s->cfg);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "width");
    rc |= ov_json_int(b, s->width);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "height");
    rc |= ov_json_int(b, s->height);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "frame_num");
    rc |= ov_json_int(b, s->frames);
    if (s->format == OV_JOB_FORMAT_MP4) {
        rc |= ov_buf_puts(b, ",");
        rc |= ov_json_key(b, "fps");
        rc |= ov_json_int(b, s->fps);
    }
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "sampler");
    rc |= ov_json_str(b, s->sampler);
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "original_prompt");
    rc |= ov_json_str(b, s->prompt ? s->prompt : "");
    rc |= ov_buf_puts(b, ",");
    rc |= ov_json_key(b, "negative_prompt_used");
    rc |= ov_json_bool(b, s->negative_prompt != NULL);
    if (s->enhancement != OV_JOB_ENH_NONE) {
        rc |= ov_buf_puts(b, ",");
        rc |= ov_json_key(b, "enhancement");
        rc |= ov_json_str(b, enh[s->enhancement & 3]);
        if (s->enhanced_prompt) {
            rc |= ov_buf_puts(b, ",");
            rc |= ov_json_key(b, "enhanced_prompt");
            rc |= ov_json_str(b, s->enhanced_prompt);
        }
        if (s->enhancement_note[0]) {
            rc |= ov_buf_puts(b, ",");
            rc |= ov_json_key(b, "enhancement_note");
            rc |= ov_json_str(b, s->enhancement_note);
        }
    }
    if (s->notes[0]) {
        rc |= ov_buf_puts(b, ",");
        rc |= ov_json_key(b, "notes");
        rc |= ov_json_str(b, s->notes);
    }
    rc |= ov_buf_puts(b, "}");
    return rc ? OV_ENOMEM : 0;
}
