/* Enhancement settings: the system prompts (config/enhance/{video,image}.txt, our own wording) and
 * enhance.conf, with built-in defaults so a bare install still enhances. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/text/utf8.h"
#include "workers/qwen/chat_template.h"
#include "workers/qwen/enhance.h"

/* Byte-identical to config/enhance/video.txt and image.txt without the final newline (a unit test
 * holds them together). */
static const char BUILTIN_VIDEO[] =
    "You turn short requests into detailed prompts for a text-to-video model. Rewrite the request "
    "below as one vivid paragraph of 80 to 150 words that the model can render as a short, realistic "
    "clip.\n"
    "Keep every subject, action and detail the request asks for, and add nothing that contradicts it."
    " Describe the people or subjects precisely: build, pose, expression, clothing, skin and hair, "
    "with natural, anatomically correct proportions. Describe the motion over the shot: what moves, "
    "how, and at what pace. Describe the setting, the light and the atmosphere: time of day, light "
    "sources, colours, mood. Describe the camera: framing, lens, angle and camera movement. End with "
    "the look: photorealistic, cinematic, 4K, sharp focus, smooth natural motion.\n"
    "Answer with the prompt only: no title, no label, no quotes, no lists, no notes.";

static const char BUILTIN_IMAGE[] =
    "You turn short requests into detailed prompts for a text-to-image model. Rewrite the request "
    "below as one vivid paragraph of 60 to 120 words that the model can render as a single realistic "
    "picture.\n"
    "Keep every subject, action and detail the request asks for, and add nothing that contradicts it."
    " Describe the people or subjects precisely: build, pose, expression, clothing, skin and hair, "
    "with natural, anatomically correct proportions. Describe the composition: framing, viewpoint, "
    "foreground and background. Describe the setting, the light and the atmosphere: time of day, "
    "light sources, colours, mood. Describe the photography: lens, depth of field, texture. End with "
    "the look: photorealistic, highly detailed, 4K, sharp focus.\n"
    "Answer with the prompt only: no title, no label, no quotes, no lists, no notes.";

static const char *const MODE_FILES[OV_ENHANCE_MODES] = {"video.txt", "image.txt"};

const char *ov_enhance_mode_name(int mode)
{
    return mode == OV_ENHANCE_VIDEO ? "video" : mode == OV_ENHANCE_IMAGE ? "image" : "?";
}

int ov_enhance_mode_parse(const char *name, int *out)
{
    if (name && strcmp(name, "video") == 0)
        *out = OV_ENHANCE_VIDEO;
    else if (name && strcmp(name, "image") == 0)
        *out = OV_ENHANCE_IMAGE;
    else
        return OV_EINVAL;
    return 0;
}

const char *ov_enhance_builtin_system(int mode)
{
    return mode == OV_ENHANCE_IMAGE ? BUILTIN_IMAGE : BUILTIN_VIDEO;
}

void ov_enhance_cfg_free(ov_enhance_cfg *c)
{
    if (!c)
        return;
    for (int m = 0; m < OV_ENHANCE_MODES; m++)
        free(c->system[m]);
    memset(c, 0, sizeof *c);
}

int ov_enhance_cfg_init(ov_enhance_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->style = OV_PROMPT_AUTO;
    c->max_new_tokens = 512;
    c->max_input_tokens = 1024;
    c->min_chars = 11;
    c->max_chars = 4000;
    c->deadline_ms = 30000;
    c->temperature = 0.7f;
    c->top_p = 0.9f;
    c->top_k = 40;
    c->repetition_penalty = 1.1f;
    for (int m = 0; m < OV_ENHANCE_MODES; m++) {
        c->system[m] = strdup(ov_enhance_builtin_system(m));
        snprintf(c->source[m], sizeof c->source[m], "built-in");
        if (!c->system[m]) {
            ov_enhance_cfg_free(c);
            return OV_ENOMEM;
        }
    }
    return 0;
}

/* Whole small file into a malloc'd NUL-terminated string (at most cap bytes). */
static int read_small(const char *path, size_t cap, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? OV_ENOENT : OV_EIO;
    }
    char *buf = malloc(cap + 2);
    if (!buf) {
        fclose(f);
        return OV_ENOMEM;
    }
    size_t n = fread(buf, 1, cap + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > cap) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "file too large");
        free(buf);
        return bad ? OV_EIO : OV_ECONFIG;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int load_prompt(const char *dir, int mode, char **out, char *src, size_t srclen, char *err,
                       size_t errlen)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, MODE_FILES[mode]) >= sizeof path) {
        snprintf(err, errlen, "enhance: path too long: %s", dir);
        return OV_ECONFIG;
    }
    char *text;
    size_t n;
    int rc = read_small(path, OV_ENHANCE_SYSTEM_MAX_BYTES, &text, &n, err, errlen);
    if (rc)
        return rc;
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ' || text[n - 1] == '\t'))
        text[--n] = '\0';
    if (!n || !ov_utf8_valid((const uint8_t *)text, n) || memchr(text, '\0', n)) {
        snprintf(err, errlen, "%s: %s", path, n ? "not valid UTF-8 text" : "empty");
        free(text);
        return OV_ECONFIG;
    }
    int k = snprintf(src, srclen, "%s", path);
    if (k < 0 || (size_t)k >= srclen) {
        snprintf(err, errlen, "enhance prompt path too long (%zu bytes max)", srclen - 1);
        free(text);
        return OV_ECONFIG;
    }
    *out = text;
    return 0;
}

static int set_key(ov_enhance_cfg *c, const char *key, const char *val)
{
    int64_t i;
    char *end;
    if (strcmp(key, "template") == 0)
        return ov_prompt_style_parse(val, &c->style);
    if (strcmp(key, "deadline") == 0) {
        if (ov_parse_duration_ms(val, &i) || i <= 0 || i > 3600000)
            return OV_EINVAL;
        c->deadline_ms = i;
        return 0;
    }
    struct {
        const char *k;
        int *p;
        int64_t lo, hi;
    } ints[] = {{"max_new_tokens", &c->max_new_tokens, 1, 32768},
                {"max_input_tokens", &c->max_input_tokens, 16, 1 << 20},
                {"min_chars", &c->min_chars, 0, 4096},
                {"max_chars", &c->max_chars, 16, OV_ENHANCE_OUTPUT_MAX_CHARS},
                {"top_k", &c->top_k, 0, 1 << 20}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        if (strcmp(key, ints[k].k) == 0) {
            if (ov_parse_int64(val, &i) || i < ints[k].lo || i > ints[k].hi)
                return OV_EINVAL;
            *ints[k].p = (int)i;
            return 0;
        }
    struct {
        const char *k;
        float *p;
        double lo, hi;
    } fl[] = {{"temperature", &c->temperature, 0, 10},
              {"top_p", &c->top_p, 0, 1},
              {"repetition_penalty", &c->repetition_penalty, 0.5, 10}};
    for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++)
        if (strcmp(key, fl[k].k) == 0) {
            errno = 0;
            double d = strtod(val, &end);
            if (!*val || *end || errno || !(d >= fl[k].lo && d <= fl[k].hi))
                return OV_EINVAL;
            *fl[k].p = (float)d;
            return 0;
        }
    return OV_ENOENT;
}

static char *strip(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int load_conf(ov_enhance_cfg *c, const char *path, char *err, size_t errlen)
{
    char *text;
    size_t n;
    int rc = read_small(path, 64u << 10, &text, &n, err, errlen);
    if (rc == OV_ENOENT)
        return 0; /* optional */
    if (rc)
        return rc;
    int line = 0;
    rc = 0;
    for (char *p = text; p && *p && !rc;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *l = strip(p);
        p = nl ? nl + 1 : NULL;
        if (!*l || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: want key = value", path, line);
            rc = OV_ECONFIG;
            break;
        }
        *eq = '\0';
        char *key = strip(l), *val = strip(eq + 1);
        int r = set_key(c, key, val);
        if (r == OV_ENOENT)
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, line, key);
        else if (r)
            snprintf(err, errlen, "%s:%d: bad value for %s: '%s'", path, line, key, val);
        if (r)
            rc = OV_ECONFIG;
    }
    free(text);
    return rc;
}

int ov_enhance_cfg_load_dir(ov_enhance_cfg *c, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "enhance prompt folder %s: not found", dir ? dir : "(null)");
        return OV_ENOENT;
    }
    char *text[OV_ENHANCE_MODES] = {0};
    char src[OV_ENHANCE_MODES][512];
    int rc = 0;
    for (int m = 0; m < OV_ENHANCE_MODES && !rc; m++)
        rc = load_prompt(dir, m, &text[m], src[m], sizeof src[m], err, errlen);
    char path[1024];
    if (!rc && (size_t)snprintf(path, sizeof path, "%s/enhance.conf", dir) < sizeof path)
        rc = load_conf(c, path, err, errlen);
    if (rc) {
        for (int m = 0; m < OV_ENHANCE_MODES; m++)
            free(text[m]);
        return rc;
    }
    for (int m = 0; m < OV_ENHANCE_MODES; m++) {
        free(c->system[m]);
        c->system[m] = text[m];
        memcpy(c->source[m], src[m], sizeof c->source[m]);
    }
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int ov_enhance_find_dir(char *out, size_t cap, int *explicit_missing)
{
    if (explicit_missing)
        *explicit_missing = 0;
    const char *env = getenv("OURVIDZ_ENHANCE_DIR");
    if (env && *env) {
        if (is_dir(env) && (size_t)snprintf(out, cap, "%s", env) < cap)
            return 0;
        if (explicit_missing)
            *explicit_missing = 1;
        return OV_ENOENT;
    }
    char cand[1024];
    if (is_dir("/etc/ourvidz/enhance") && (size_t)snprintf(out, cap, "/etc/ourvidz/enhance") < cap)
        return 0;
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    if (src && *src && (size_t)snprintf(cand, sizeof cand, "%s/config/enhance", src) < sizeof cand &&
        is_dir(cand) && (size_t)snprintf(out, cap, "%s", cand) < cap)
        return 0;
    char exe[768];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            const char *rel[] = {"../../config/enhance", "../share/ourvidz/enhance"};
            char real[PATH_MAX];
            for (size_t i = 0; i < 2; i++)
                if ((size_t)snprintf(cand, sizeof cand, "%s/%s", exe, rel[i]) < sizeof cand && is_dir(cand) &&
                    (size_t)snprintf(out, cap, "%s", realpath(cand, real) ? real : cand) < cap)
                    return 0;
        }
    }
    return OV_ENOENT;
}

int ov_enhance_cfg_load_default(ov_enhance_cfg *c, char *err, size_t errlen)
{
    int rc = ov_enhance_cfg_init(c);
    if (rc)
        return rc;
    char dir[1024];
    int explicit_missing = 0;
    if (ov_enhance_find_dir(dir, sizeof dir, &explicit_missing) != 0) {
        if (!explicit_missing)
            return 0; /* built-in prompts */
        snprintf(err, errlen, "OURVIDZ_ENHANCE_DIR=%s: not a folder", getenv("OURVIDZ_ENHANCE_DIR"));
        ov_enhance_cfg_free(c);
        return OV_ECONFIG;
    }
    rc = ov_enhance_cfg_load_dir(c, dir, err, errlen);
    if (rc) {
        ov_enhance_cfg_free(c);
        return rc == OV_ENOENT ? OV_ECONFIG : rc;
    }
    return 0;
}
