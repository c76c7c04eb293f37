/* The job-type table: the embedded OurVidz defaults and the config/job_types.conf loader. */
#include "job_types.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"

#define LINE_MAX_BYTES 1024

/* The original defaults (OURVIDZ-CONTRACT.md §3, W-JUL sdxl_worker.py / wan_worker.py tables).
 * WAN video: 81 frames (what upstream Wan produced from the 83 the July worker requested:
 * (F-1)//4+1 latent frames), 16 fps. SDXL sampler: Euler (the July pipeline's effective default). */
#define SDXL(n, st, c, exp)                                                                                  \
    {                                                                                                        \
        .name = n, .kind = OV_KIND_SDXL, .task = "sdxl", .enhance = OV_JOB_ENHANCE_NONE, .steps = st,        \
        .cfg = c, .width = 1024, .height = 1024, .num_images = 1, .frames = 1, .fps = 0, .shift = 0.0,       \
        .sampler = "euler", .format = OV_JOB_FORMAT_PNG, .expected_s = exp                                   \
    }
#define WAN(n, tk, enh, st, c, fr, fmt, exp)                                                                 \
    {                                                                                                        \
        .name = n, .kind = OV_KIND_WAN, .task = tk, .enhance = enh, .steps = st, .cfg = c, .width = 480,     \
        .height = 832, .num_images = 1, .frames = fr, .fps = 16, .shift = 5.0, .sampler = "unipc",           \
        .format = fmt, .expected_s = exp                                                                     \
    }

static const ov_job_types default_types = {
    .types =
        {
            SDXL("sdxl_image_fast", 15, 6.0, 4),
            SDXL("sdxl_image_high", 25, 7.5, 8),
            WAN("image_fast", "t2i", OV_JOB_ENHANCE_NONE, 25, 6.5, 1, OV_JOB_FORMAT_PNG, 25),
            WAN("image_high", "t2i", OV_JOB_ENHANCE_NONE, 50, 7.5, 1, OV_JOB_FORMAT_PNG, 40),
            WAN("video_fast", "t2v", OV_JOB_ENHANCE_NONE, 25, 6.5, 81, OV_JOB_FORMAT_MP4, 135),
            WAN("video_high", "t2v", OV_JOB_ENHANCE_NONE, 50, 7.5, 81, OV_JOB_FORMAT_MP4, 180),
            WAN("image7b_fast_enhanced", "t2i", OV_JOB_ENHANCE_IMAGE, 25, 6.5, 1, OV_JOB_FORMAT_PNG, 85),
            WAN("image7b_high_enhanced", "t2i", OV_JOB_ENHANCE_IMAGE, 50, 7.5, 1, OV_JOB_FORMAT_PNG, 100),
            WAN("video7b_fast_enhanced", "t2v", OV_JOB_ENHANCE_VIDEO, 25, 6.5, 81, OV_JOB_FORMAT_MP4, 195),
            WAN("video7b_high_enhanced", "t2v", OV_JOB_ENHANCE_VIDEO, 50, 7.5, 81, OV_JOB_FORMAT_MP4, 240),
        },
    .ntypes = 10,
    .aliases =
        {
            {"wan_video_fast", "video_fast"},
            {"wan_video_high", "video_high"},
        },
    .naliases = 2,
    .caps =
        {
            .max_prompt_bytes = 8192,
            .max_steps = 150,
            .max_width = 2048,
            .max_height = 2048,
            .max_frames = 161,
            .max_images = 6,
            .min_cfg = 1.0,
            .max_cfg = 30.0,
            .allow_overrides = true,
        },
};

const ov_job_types *ov_job_types_default(void)
{
    return &default_types;
}

void ov_job_types_init_empty(ov_job_types *t)
{
    memset(t, 0, sizeof *t);
    t->caps = default_types.caps;
}

const char *ov_job_format_name(int format)
{
    switch (format) {
    case OV_JOB_FORMAT_PNG: return "png";
    case OV_JOB_FORMAT_MP4: return "mp4";
    default: return "?";
    }
}

const char *ov_job_enhance_name(int enhance)
{
    switch (enhance) {
    case OV_JOB_ENHANCE_NONE: return "none";
    case OV_JOB_ENHANCE_VIDEO: return "video";
    case OV_JOB_ENHANCE_IMAGE: return "image";
    default: return "?";
    }
}

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return OV_ECONFIG;
}

static const ov_job_type *find_exact(const ov_job_types *t, const char *name)
{
    for (int i = 0; i < t->ntypes; i++)
        if (strcmp(t->types[i].name, name) == 0)
            return &t->types[i];
    return NULL;
}

const ov_job_type *ov_job_types_find(const ov_job_types *t, const char *name)
{
    if (!t || !name)
        return NULL;
    const ov_job_type *ty = find_exact(t, name);
    if (ty)
        return ty;
    for (int i = 0; i < t->naliases; i++)
        if (strcmp(t->aliases[i].from, name) == 0)
            return find_exact(t, t->aliases[i].to);
    return NULL;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= OV_JOB_TYPE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static bool size_ok(int v, int cap)
{
    return v >= 64 && v <= cap && v % 16 == 0;
}

int ov_job_types_validate(const ov_job_types *t, char *err, size_t errlen)
{
    const ov_job_caps *c = &t->caps;
    if (c->max_prompt_bytes < 1 || c->max_prompt_bytes > (1 << 20))
        return errf(err, errlen, "caps.max_prompt_bytes must be 1..1048576 (got %d)", c->max_prompt_bytes);
    if (c->max_steps < 1 || c->max_steps > 1000)
        return errf(err, errlen, "caps.max_steps must be 1..1000 (got %d)", c->max_steps);
    if (c->max_width < 64 || c->max_width > 8192 || c->max_height < 64 || c->max_height > 8192)
        return errf(err, errlen, "caps.max_width and caps.max_height must be 64..8192");
    if (c->max_frames < 1 || c->max_frames > 1025)
        return errf(err, errlen, "caps.max_frames must be 1..1025 (got %d)", c->max_frames);
    if (c->max_images != 1 && c->max_images != 3 && c->max_images != 6)
        return errf(err, errlen, "caps.max_images must be 1, 3 or 6 (got %d)", c->max_images);
    if (!(c->min_cfg >= 0.0 && c->min_cfg <= c->max_cfg && c->max_cfg <= 100.0))
        return errf(err, errlen, "caps: need 0 <= min_cfg <= max_cfg <= 100");
    if (t->ntypes < 0 || t->ntypes > OV_JOB_TYPES_MAX || t->naliases < 0 || t->naliases > OV_JOB_ALIASES_MAX)
        return errf(err, errlen, "too many types or aliases");
    for (int i = 0; i < t->ntypes; i++) {
        const ov_job_type *y = &t->types[i];
        const char *n = y->name;
        if (!name_ok(n))
            return errf(err, errlen, "type name '%s' must be 1..%d of [A-Za-z0-9_-]", n,
                        OV_JOB_TYPE_NAME_MAX - 1);
        if (find_exact(t, n) != y)
            return errf(err, errlen, "type %s: defined twice", n);
        if (y->kind == OV_KIND_SDXL) {
            if (strcmp(y->task, "sdxl") != 0)
                return errf(err, errlen, "type %s: worker sdxl needs task = sdxl", n);
            if (y->format != OV_JOB_FORMAT_PNG || y->frames != 1)
                return errf(err, errlen, "type %s: worker sdxl makes png images (frames = 1, format = png)",
                            n);
            if (y->num_images != 1 && y->num_images != 3 && y->num_images != 6)
                return errf(err, errlen, "type %s: num_images must be 1, 3 or 6", n);
            if (y->num_images > c->max_images)
                return errf(err, errlen, "type %s: num_images over caps.max_images", n);
        } else if (y->kind == OV_KIND_WAN) {
            if (strcmp(y->task, "t2i") == 0) {
                if (y->frames != 1 || y->format != OV_JOB_FORMAT_PNG)
                    return errf(err, errlen, "type %s: task t2i needs frames = 1 and format = png", n);
            } else if (strcmp(y->task, "t2v") == 0) {
                if (y->frames < 5 || (y->frames - 1) % 4 != 0 || y->format != OV_JOB_FORMAT_MP4)
                    return errf(err, errlen, "type %s: task t2v needs frames = 4n+1 >= 5 and format = mp4",
                                n);
            } else {
                return errf(err, errlen, "type %s: worker wan needs task = t2i or t2v", n);
            }
            if (y->num_images != 1)
                return errf(err, errlen, "type %s: worker wan makes one output (num_images = 1)", n);
            if (!(y->shift > 0.0 && y->shift <= 20.0))
                return errf(err, errlen, "type %s: shift must be in (0, 20]", n);
            if (y->fps < 1 || y->fps > 60)
                return errf(err, errlen, "type %s: fps must be 1..60", n);
        } else {
            return errf(err, errlen, "type %s: worker must be wan or sdxl", n);
        }
        if (y->frames > c->max_frames)
            return errf(err, errlen, "type %s: frames %d over caps.max_frames %d", n, y->frames,
                        c->max_frames);
        if (y->steps < 1 || y->steps > c->max_steps)
            return errf(err, errlen, "type %s: steps must be 1..%d (got %d)", n, c->max_steps, y->steps);
        if (!(y->cfg >= c->min_cfg && y->cfg <= c->max_cfg))
            return errf(err, errlen, "type %s: cfg must be within caps %g..%g", n, c->min_cfg, c->max_cfg);
        if (!size_ok(y->width, c->max_width) || !size_ok(y->height, c->max_height))
            return errf(err, errlen, "type %s: width/height must be multiples of 16 from 64 to the caps", n);
        if (y->enhance < OV_JOB_ENHANCE_NONE || y->enhance > OV_JOB_ENHANCE_IMAGE)
            return errf(err, errlen, "type %s: bad enhance", n);
        if (!y->sampler[0])
            return errf(err, errlen, "type %s: sampler missing", n);
        if (y->expected_s < 0)
            return errf(err, errlen, "type %s: expected_time must be >= 0", n);
    }
    for (int i = 0; i < t->naliases; i++) {
        const ov_job_alias *a = &t->aliases[i];
        if (!name_ok(a->from))
            return errf(err, errlen, "alias '%s': bad name", a->from);
        if (find_exact(t, a->from))
            return errf(err, errlen, "alias %s: is also a type name", a->from);
        if (!find_exact(t, a->to))
            return errf(err, errlen, "alias %s: target type '%s' does not exist", a->from, a->to);
    }
    return 0;
}

/* ---- loader ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    int64_t x;
    if (ov_parse_int64(v, &x) != 0 || x < lo || x > hi)
        return OV_EINVAL;
    *out = (int)x;
    return 0;
}

static int parse_double(const char *v, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(d))
        return OV_EINVAL;
    *out = d;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return OV_EINVAL;
}

static int copy_str(char *dst, size_t n, const char *v)
{
    size_t l = strlen(v);
    if (l == 0 || l >= n)
        return OV_EINVAL;
    memcpy(dst, v, l + 1);
    return 0;
}

static int set_type_key(ov_job_type *y, const char *key, const char *v)
{
    if (strcmp(key, "worker") == 0) {
        int k;
        if (ov_kind_parse(v, &k) != 0 || (k != OV_KIND_WAN && k != OV_KIND_SDXL))
            return OV_EINVAL;
        y->kind = k;
        return 0;
    }
    if (strcmp(key, "task") == 0)
        return copy_str(y->task, sizeof y->task, v);
    if (strcmp(key, "enhance") == 0) {
        if (strcmp(v, "none") == 0)
            y->enhance = OV_JOB_ENHANCE_NONE;
        else if (strcmp(v, "video") == 0)
            y->enhance = OV_JOB_ENHANCE_VIDEO;
        else if (strcmp(v, "image") == 0)
            y->enhance = OV_JOB_ENHANCE_IMAGE;
        else
            return OV_EINVAL;
        return 0;
    }
    if (strcmp(key, "steps") == 0)
        return parse_int(v, 1, 100000, &y->steps);
    if (strcmp(key, "cfg") == 0)
        return parse_double(v, &y->cfg);
    if (strcmp(key, "width") == 0)
        return parse_int(v, 1, 100000, &y->width);
    if (strcmp(key, "height") == 0)
        return parse_int(v, 1, 100000, &y->height);
    if (strcmp(key, "num_images") == 0)
        return parse_int(v, 1, 6, &y->num_images);
    if (strcmp(key, "frames") == 0)
        return parse_int(v, 1, 100000, &y->frames);
    if (strcmp(key, "fps") == 0)
        return parse_int(v, 0, 1000, &y->fps);
    if (strcmp(key, "shift") == 0)
        return parse_double(v, &y->shift);
    if (strcmp(key, "sampler") == 0)
        return copy_str(y->sampler, sizeof y->sampler, v);
    if (strcmp(key, "format") == 0) {
        if (strcmp(v, "png") == 0)
            y->format = OV_JOB_FORMAT_PNG;
        else if (strcmp(v, "mp4") == 0)
            y->format = OV_JOB_FORMAT_MP4;
        else
            return OV_EINVAL;
        return 0;
    }
    if (strcmp(key, "expected_time") == 0)
        return parse_int(v, 0, 1000000, &y->expected_s);
    return OV_ENOENT;
}

static int set_caps_key(ov_job_caps *c, const char *key, const char *v)
{
    if (strcmp(key, "max_prompt_bytes") == 0)
        return parse_int(v, 1, 1 << 20, &c->max_prompt_bytes);
    if (strcmp(key, "max_steps") == 0)
        return parse_int(v, 1, 1000, &c->max_steps);
    if (strcmp(key, "max_width") == 0)
        return parse_int(v, 64, 8192, &c->max_width);
    if (strcmp(key, "max_height") == 0)
        return parse_int(v, 64, 8192, &c->max_height);
    if (strcmp(key, "max_frames") == 0)
        return parse_int(v, 1, 1025, &c->max_frames);
    if (strcmp(key, "max_images") == 0)
        return parse_int(v, 1, 6, &c->max_images);
    if (strcmp(key, "min_cfg") == 0)
        return parse_double(v, &c->min_cfg);
    if (strcmp(key, "max_cfg") == 0)
        return parse_double(v, &c->max_cfg);
    if (strcmp(key, "allow_overrides") == 0)
        return parse_bool(v, &c->allow_overrides);
    return OV_ENOENT;
}

/* A [type.NAME] section: the existing type, or a new zeroed one. NULL when the table is full. */
static ov_job_type *section_type(ov_job_types *t, const char *name)
{
    for (int i = 0; i < t->ntypes; i++)
        if (strcmp(t->types[i].name, name) == 0)
            return &t->types[i];
    if (t->ntypes >= OV_JOB_TYPES_MAX)
        return NULL;
    ov_job_type *y = &t->types[t->ntypes++];
    memset(y, 0, sizeof *y);
    y->kind = -1;
    y->num_images = 1;
    y->frames = 1;
    snprintf(y->name, sizeof y->name, "%s", name);
    return y;
}

static int set_alias(ov_job_types *t, const char *from, const char *to)
{
    if (!name_ok(from) || !name_ok(to))
        return OV_EINVAL;
    for (int i = 0; i < t->naliases; i++) {
        if (strcmp(t->aliases[i].from, from) == 0) {
            snprintf(t->aliases[i].to, sizeof t->aliases[i].to, "%s", to);
            return 0;
        }
    }
    if (t->naliases >= OV_JOB_ALIASES_MAX)
        return OV_ERANGE;
    snprintf(t->aliases[t->naliases].from, OV_JOB_TYPE_NAME_MAX, "%s", from);
    snprintf(t->aliases[t->naliases].to, OV_JOB_TYPE_NAME_MAX, "%s", to);
    t->naliases++;
    return 0;
}

int ov_job_types_load_file(ov_job_types *t, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return OV_ENOENT;
    }
    char line[LINE_MAX_BYTES];
    enum { SEC_NONE, SEC_TYPE, SEC_CAPS, SEC_ALIAS } sec = SEC_NONE;
    ov_job_type *cur = NULL;
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = errf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno, LINE_MAX_BYTES - 2);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || trim(end + 1)[0] != '\0') {
                rc = errf(err, errlen, "%s:%d: malformed section header", path, lineno);
                break;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (strcmp(name, "caps") == 0) {
                sec = SEC_CAPS;
            } else if (strcmp(name, "alias") == 0) {
                sec = SEC_ALIAS;
            } else if (strncmp(name, "type.", 5) == 0 && name_ok(name + 5)) {
                cur = section_type(t, name + 5);
                if (!cur) {
                    rc = errf(err, errlen, "%s:%d: more than %d types", path, lineno, OV_JOB_TYPES_MAX);
                    break;
                }
                sec = SEC_TYPE;
            } else {
                rc = errf(err, errlen, "%s:%d: unknown section [%s] (expected [type.NAME], [alias], [caps])",
                          path, lineno, name);
                break;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = errf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        int r;
        if (sec == SEC_TYPE)
            r = set_type_key(cur, key, value);
        else if (sec == SEC_CAPS)
            r = set_caps_key(&t->caps, key, value);
        else if (sec == SEC_ALIAS)
            r = set_alias(t, key, value);
        else {
            rc = errf(err, errlen, "%s:%d: key '%s' outside any [section]", path, lineno, key);
            break;
        }
        if (r == OV_ENOENT) {
            rc = errf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            break;
        }
        if (r != 0) {
            rc = errf(err, errlen, "%s:%d: bad value for '%s': '%s'", path, lineno, key, value);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = errf(err, errlen, "%s: read error", path);
    fclose(f);
    if (rc == 0) {
        char why[256];
        if (ov_job_types_validate(t, why, sizeof why) != 0)
            rc = errf(err, errlen, "%s: %s", path, why);
    }
    return rc;
}

int ov_job_types_load(ov_job_types *t, const char *path, char *err, size_t errlen)
{
    *t = default_types;
    if (!path || !path[0])
        return 0;
    return ov_job_types_load_file(t, path, err, errlen);
}

static bool diff(char *what, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool diff(char *what, size_t n, const char *fmt, ...)
{
    if (what && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, n, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool ov_job_types_equal(const ov_job_types *a, const ov_job_types *b, char *what, size_t n)
{
    if (a->ntypes != b->ntypes)
        return diff(what, n, "%d types != %d types", a->ntypes, b->ntypes);
    for (int i = 0; i < a->ntypes; i++) {
        const ov_job_type *x = &a->types[i], *y = &b->types[i];
        const char *nm = x->name;
        if (strcmp(x->name, y->name) != 0)
            return diff(what, n, "type #%d: %s != %s", i, x->name, y->name);
        if (x->kind != y->kind)
            return diff(what, n, "type %s: worker %d != %d", nm, x->kind, y->kind);
        if (strcmp(x->task, y->task) != 0)
            return diff(what, n, "type %s: task %s != %s", nm, x->task, y->task);
        if (x->enhance != y->enhance)
            return diff(what, n, "type %s: enhance %d != %d", nm, x->enhance, y->enhance);
        if (x->steps != y->steps)
            return diff(what, n, "type %s: steps %d != %d", nm, x->steps, y->steps);
        if (x->cfg != y->cfg)
            return diff(what, n, "type %s: cfg %g != %g", nm, x->cfg, y->cfg);
        if (x->width != y->width || x->height != y->height)
            return diff(what, n, "type %s: size %dx%d != %dx%d", nm, x->width, x->height, y->width,
                        y->height);
        if (x->num_images != y->num_images)
            return diff(what, n, "type %s: num_images %d != %d", nm, x->num_images, y->num_images);
        if (x->frames != y->frames)
            return diff(what, n, "type %s: frames %d != %d", nm, x->frames, y->frames);
        if (x->fps != y->fps)
            return diff(what, n, "type %s: fps %d != %d", nm, x->fps, y->fps);
        if (x->shift != y->shift)
            return diff(what, n, "type %s: shift %g != %g", nm, x->shift, y->shift);
        if (strcmp(x->sampler, y->sampler) != 0)
            return diff(what, n, "type %s: sampler %s != %s", nm, x->sampler, y->sampler);
        if (x->format != y->format)
            return diff(what, n, "type %s: format %d != %d", nm, x->format, y->format);
        if (x->expected_s != y->expected_s)
            return diff(what, n, "type %s: expected_time %d != %d", nm, x->expected_s, y->expected_s);
    }
    if (a->naliases != b->naliases)
        return diff(what, n, "%d aliases != %d aliases", a->naliases, b->naliases);
    for (int i = 0; i < a->naliases; i++)
        if (strcmp(a->aliases[i].from, b->aliases[i].from) != 0 ||
            strcmp(a->aliases[i].to, b->aliases[i].to) != 0)
            return diff(what, n, "alias #%d: %s=%s != %s=%s", i, a->aliases[i].from, a->aliases[i].to,
                        b->aliases[i].from, b->aliases[i].to);
    const ov_job_caps *p = &a->caps, *q = &b->caps;
    if (p->max_prompt_bytes != q->max_prompt_bytes || p->max_steps != q->max_steps ||
        p->max_width != q->max_width || p->max_height != q->max_height || p->max_frames != q->max_frames ||
        p->max_images != q->max_images || p->min_cfg != q->min_cfg || p->max_cfg != q->max_cfg ||
        p->allow_overrides != q->allow_overrides)
        return diff(what, n, "caps differ");
    return true;
}
