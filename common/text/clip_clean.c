/* CLIP prompt cleanup (open_clip "lower"): an ftfy subset, html.unescape x2, whitespace, lower-case. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/tok_clip.h"
#include "common/text/utf8.h"

typedef struct cpvec {
    uint32_t *v;
    size_t n, cap;
} cpvec;

static int cp_push(cpvec *c, uint32_t cp)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        uint32_t *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv)
            return OV_ENOMEM;
        c->v = nv;
        c->cap = nc;
    }
    c->v[c->n++] = cp;
    return 0;
}

static int cp_push_str(cpvec *c, const char *s)
{
    int rc = 0;
    size_t n = strlen(s), i = 0;
    while (i < n && !rc) {
        uint32_t cp;
        size_t k = ov_utf8_decode1((const uint8_t *)s + i, n - i, &cp);
        rc = cp_push(c, cp);
        i += k ? k : 1;
    }
    return rc;
}

/* HTML named entities handled (a common subset of html.entities.html5). legacy = also
 * recognised without the semicolon by html.unescape (the HTML5 legacy list). */
static const struct {
    const char *name;
    const char *text;
    int legacy;
} ENTITIES[] = {
    {"amp", "&", 1},
    {"lt", "<", 1},
    {"gt", ">", 1},
    {"quot", "\"", 1},
    {"apos", "'", 0},
    {"nbsp", "\xc2\xa0", 1},
    {"copy", "\xc2\xa9", 1},
    {"reg", "\xc2\xae", 1},
    {"trade", "\xe2\x84\xa2", 0},
    {"hellip", "\xe2\x80\xa6", 0},
    {"mdash", "\xe2\x80\x94", 0},
    {"ndash", "\xe2\x80\x93", 0},
    {"lsquo", "\xe2\x80\x98", 0},
    {"rsquo", "\xe2\x80\x99", 0},
    {"ldquo", "\xe2\x80\x9c", 0},
    {"rdquo", "\xe2\x80\x9d", 0},
    {"laquo", "\xc2\xab", 1},
    {"raquo", "\xc2\xbb", 1},
    {"deg", "\xc2\xb0", 1},
    {"times", "\xc3\x97", 1},
    {"divide", "\xc3\xb7", 1},
    {"middot", "\xc2\xb7", 1},
    {"bull", "\xe2\x80\xa2", 0},
    {"cent", "\xc2\xa2", 1},
    {"pound", "\xc2\xa3", 1},
    {"euro", "\xe2\x82\xac", 0},
    {"yen", "\xc2\xa5", 1},
    {"sect", "\xc2\xa7", 1},
    {"para", "\xc2\xb6", 1},
    {"plusmn", "\xc2\xb1", 1},
    {"frac12", "\xc2\xbd", 1},
    {"frac14", "\xc2\xbc", 1},
    {"frac34", "\xc2\xbe", 1},
    {"sup2", "\xc2\xb2", 1},
    {"sup3", "\xc2\xb3", 1},
    {"micro", "\xc2\xb5", 1},
    {"iexcl", "\xc2\xa1", 1},
    {"iquest", "\xc2\xbf", 1},
    {"shy", "\xc2\xad", 1},
    {"eacute", "\xc3\xa9", 1},
    {"Eacute", "\xc3\x89", 1},
    {"egrave", "\xc3\xa8", 1},
    {"agrave", "\xc3\xa0", 1},
    {"aacute", "\xc3\xa1", 1},
    {"acirc", "\xc3\xa2", 1},
    {"auml", "\xc3\xa4", 1},
    {"ouml", "\xc3\xb6", 1},
    {"uuml", "\xc3\xbc", 1},
    {"Auml", "\xc3\x84", 1},
    {"Ouml", "\xc3\x96", 1},
    {"Uuml", "\xc3\x9c", 1},
    {"szlig", "\xc3\x9f", 1},
    {"ntilde", "\xc3\xb1", 1},
    {"ccedil", "\xc3\xa7", 1},
    {"oslash", "\xc3\xb8", 1},
    {"aring", "\xc3\xa5", 1},
    {"hearts", "\xe2\x99\xa5", 0},
    {"star", "\xe2\x98\x86", 0},
    {"larr", "\xe2\x86\x90", 0},
    {"rarr", "\xe2\x86\x92", 0},
    {"uarr", "\xe2\x86\x91", 0},
    {"darr", "\xe2\x86\x93", 0},
};
#define N_ENTITIES (sizeof ENTITIES / sizeof *ENTITIES)

static int is_alnum(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int name_eq(const uint32_t *v, size_t n, const char *name)
{
    size_t k = strlen(name);
    if (k != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != (unsigned char)name[i])
            return 0;
    return 1;
}

/* Python html.unescape's numeric rule (html/__init__.py _replace_charref), less the
 * Windows-1252 remap of 0x80..0x9F (those are left as the code point). */
static int charref(cpvec *o, uint32_t num, int overflow)
{
    if (num == 0 || num == 0x0D)
        return cp_push(o, num == 0 ? 0xFFFD : '\r');
    if (overflow || (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        return cp_push(o, 0xFFFD);
    if ((num >= 0x1 && num <= 0x8) || (num >= 0xE && num <= 0x1F) || (num >= 0x7F && num <= 0x9F) ||
        (num >= 0xFDD0 && num <= 0xFDEF) || num == 0xB || (num & 0xFFFE) == 0xFFFE)
        return 0; /* invalid code points are dropped */
    return cp_push(o, num);
}

/* One html.unescape pass. ftfy_mode: ftfy's unescape_html (only "&#?[0-9A-Za-z]{1,24};" with
 * the semicolon, numeric or a known name). Otherwise html.unescape's rules: numeric with or
 * without ';', names with ';', legacy names without it (longest prefix). */
static int unescape(const cpvec *in, cpvec *o, int ftfy_mode)
{
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc;) {
        const uint32_t *v = in->v;
        if (v[i] != '&') {
            rc = cp_push(o, v[i++]);
            continue;
        }
        size_t j = i + 1;
        if (j < in->n && v[j] == '#') {
            size_t k = j + 1;
            int hex = k < in->n && (v[k] == 'x' || v[k] == 'X');
            k += hex;
            size_t d0 = k;
            uint64_t num = 0;
            int overflow = 0;
            while (k < in->n && ((v[k] >= '0' && v[k] <= '9') ||
                                 (hex && ((v[k] >= 'a' && v[k] <= 'f') || (v[k] >= 'A' && v[k] <= 'F'))))) {
                uint32_t dv = v[k] <= '9' ? v[k] - '0' : (v[k] | 0x20) - 'a' + 10;
                num = num * (hex ? 16 : 10) + dv;
                if (num > 0x10FFFF)
                    overflow = 1, num = 0x110000;
                k++;
            }
            int semi = k < in->n && v[k] == ';';
            if (k > d0 && (!ftfy_mode || (semi && k - j <= 24))) {
                rc = charref(o, (uint32_t)num, overflow);
                i = k + semi;
                continue;
            }
            rc = cp_push(o, v[i++]);
            continue;
        }
        size_t k = j;
        while (k < in->n && k - j < 32 && is_alnum(v[k]))
            k++;
        int semi = k < in->n && v[k] == ';';
        size_t best = N_ENTITIES, best_len = 0;
        for (size_t e = 0; e < N_ENTITIES; e++) {
            size_t ln = strlen(ENTITIES[e].name);
            if (semi && name_eq(v + j, k - j, ENTITIES[e].name)) {
                best = e;
                best_len = ln + 1;
                break;
            }
            if (!ftfy_mode && ENTITIES[e].legacy && ln <= k - j && ln > best_len &&
                name_eq(v + j, ln, ENTITIES[e].name))
                best = e, best_len = ln;
        }
        if (best < N_ENTITIES) {
            rc = cp_push_str(o, ENTITIES[best].text);
            i = j + best_len;
        } else {
            rc = cp_push(o, v[i++]);
        }
    }
    return rc;
}

static const struct {
    uint32_t cp;
    const char *text;
} LIGATURES[] = {
    {0x132, "IJ"},         {0x133, "ij"},        {0x149, "\xca\xbcn"}, {0x1F1, "DZ"},        {0x1F2, "Dz"},
    {0x1F3, "dz"},         {0x1C4, "D\xc5\xbd"}, {0x1C5, "D\xc5\xbe"}, {0x1C6, "d\xc5\xbe"}, {0x1C7, "LJ"},
    {0x1C8, "Lj"},         {0x1C9, "lj"},        {0x1CA, "NJ"},        {0x1CB, "Nj"},        {0x1CC, "nj"},
    {0xFB00, "ff"},        {0xFB01, "fi"},       {0xFB02, "fl"},       {0xFB03, "ffi"},      {0xFB04, "ffl"},
    {0xFB05, "\xc5\xbft"}, {0xFB06, "st"},
};

static int is_ftfy_control(uint32_t c)
{
    return c <= 0x8 || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
           c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

/* ftfy's per-character fixes after unescaping: ligatures, width, quotes, line breaks,
 * terminal escapes, control characters. */
static int char_fixes(const cpvec *in, cpvec *o)
{
    int rc = 0;
    for (size_t i = 0; i < in->n && !rc; i++) {
        uint32_t c = in->v[i];
        if (c == 0x1B && i + 1 < in->n && in->v[i + 1] == '[') { /* "\033[" [0-9;]* [A-Za-z] */
            size_t k = i + 2;
            while (k < in->n && ((in->v[k] >= '0' && in->v[k] <= '9') || in->v[k] == ';'))
                k++;
            if (k < in->n && ((in->v[k] | 0x20) >= 'a' && (in->v[k] | 0x20) <= 'z')) {
                i = k;
                continue;
            }
        }
        int done = 0;
        for (size_t l = 0; l < sizeof LIGATURES / sizeof *LIGATURES; l++)
            if (LIGATURES[l].cp == c) {
                rc = cp_push_str(o, LIGATURES[l].text);
                done = 1;
                break;
            }
        if (done)
            continue;
        if (c == 0x3000) {
            c = ' ';
        } else if (c >= 0xFF01 && c <= 0xFFEF) { /* NFKC of full/half width forms */
            utf8proc_uint8_t buf[8], *m = NULL;
            size_t k = ov_utf8_encode1(c, buf);
            utf8proc_ssize_t r = utf8proc_map(buf, (utf8proc_ssize_t)k, &m,
                                              UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
            if (r > 0) {
                m[r] = 0;
                rc = cp_push_str(o, (const char *)m);
                free(m);
                continue;
            }
            free(m);
        } else if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) {
            c = '\'';
        } else if (c >= 0x201C && c <= 0x201F) {
            c = '"';
        } else if (c == '\r') {
            if (i + 1 < in->n && in->v[i + 1] == '\n')
                i++;
            c = '\n';
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            c = '\n';
        } else if (is_ftfy_control(c)) {
            continue;
        }
        rc = cp_push(o, c);
    }
    return rc;
}

static int to_utf8(const cpvec *c, ov_buf *o)
{
    int rc = 0;
    for (size_t i = 0; i < c->n && !rc; i++) {
        uint8_t b[4];
        rc = ov_buf_append(o, b, ov_utf8_encode1(c->v[i], b));
    }
    return rc;
}

static int from_utf8(const uint8_t *p, size_t n, cpvec *c)
{
    c->n = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        uint32_t cp;
        size_t k = ov_utf8_decode1(p + i, n - i, &cp);
        if (!k)
            return OV_EINVAL;
        rc = cp_push(c, cp);
        i += k;
    }
    return rc;
}

static int nfc(cpvec *c)
{
    ov_buf b;
    ov_buf_init(&b, 64u << 20);
    int rc = to_utf8(c, &b);
    if (rc || b.len == 0) {
        ov_buf_free(&b);
        return rc;
    }
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)b.data, (utf8proc_ssize_t)b.len, &m,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    ov_buf_free(&b);
    if (r < 0) {
        free(m);
        return OV_EINVAL;
    }
    rc = from_utf8(m, (size_t)r, c);
    free(m);
    return rc;
}

/* Python str.isspace() / str.split() whitespace. */
static int py_space(uint32_t c)
{
    return (c >= 0x9 && c <= 0xD) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

static int cased_letter(uint32_t c)
{
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

int ov_tok_clip_clean(const char *text, size_t n, ov_buf *out)
{
    if (!text && n)
        return OV_EINVAL;
    if (n > OV_CLIP_MAX_INPUT)
        return OV_ERANGE;
    ov_buf san;
    ov_buf_init(&san, 3 * (size_t)OV_CLIP_MAX_INPUT + 16);
    cpvec a = {0}, b = {0};
    int rc = ov_utf8_sanitize((const uint8_t *)text, n, &san, NULL);
    if (!rc)
        rc = from_utf8((const uint8_t *)san.data, san.len, &a);
    ov_buf_free(&san);
    /* ftfy.fix_text: HTML unescaping is off when the text contains '<' (checked once) */
    int html = 1;
    for (size_t i = 0; i < a.n; i++)
        if (a.v[i] == '<')
            html = 0;
    for (int iter = 0; iter < 8 && !rc; iter++) { /* until stable, like ftfy's loop */
        cpvec orig = {0};
        if (!(orig.v = malloc((a.n + 1) * sizeof *orig.v))) {
            rc = OV_ENOMEM;
            break;
        }
        if (a.n)
            memcpy(orig.v, a.v, a.n * sizeof *a.v);
        orig.n = a.n;
        if (html) {
            b.n = 0;
            if ((rc = unescape(&a, &b, 1)) == 0) {
                cpvec t = a;
                a = b;
                b = t;
            }
        }
        b.n = 0;
        if (!rc && (rc = char_fixes(&a, &b)) == 0) {
            cpvec t = a;
            a = b;
            b = t;
        }
        if (!rc)
            rc = nfc(&a);
        int same = orig.n == a.n && (a.n == 0 || memcmp(orig.v, a.v, a.n * sizeof *a.v) == 0);
        free(orig.v);
        if (same)
            break;
    }
    /* open_clip basic_clean: html.unescape(html.unescape(text)) */
    for (int k = 0; k < 2 && !rc; k++) {
        b.n = 0;
        if ((rc = unescape(&a, &b, 0)) == 0) {
            cpvec t = a;
            a = b;
            b = t;
        }
    }
    /* " ".join(text.split()) then lower() (Python full lower-casing: U+0130 -> "i\u0307",
     * final sigma) */
    int pending_space = 0, any = 0;
    for (size_t i = 0; i < a.n && !rc; i++) {
        uint32_t c = a.v[i];
        if (py_space(c)) {
            pending_space = any;
            continue;
        }
        uint8_t u[8];
        if (pending_space && (rc = ov_buf_append(out, " ", 1)))
            break;
        pending_space = 0;
        any = 1;
        if (c == 0x130) {
            rc = ov_buf_append(out, "i\xcc\x87", 3);
            continue;
        }
        uint32_t l = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        if (c == 0x3A3 && i > 0 && cased_letter(a.v[i - 1]) && !(i + 1 < a.n && cased_letter(a.v[i + 1])))
            l = 0x3C2; /* final sigma */
        rc = ov_buf_append(out, u, ov_utf8_encode1(l, u));
    }
    if (!rc && out->len == 0)
        rc = ov_buf_append(out, "", 0);
    free(a.v);
    free(b.v);
    return rc;
}
