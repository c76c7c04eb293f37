/* Regex pre-tokeniser on PCRE2 (JIT when available), with Oniguruma's Unicode \s. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/text/pretok.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

struct ov_pretok {
    pcre2_code *re;
};

/* Oniguruma's \s for UTF-8 text (doc/RE, "\s"): U+0009..U+000D, U+0085, Zs, Zl, Zp. */
#define ONIG_SPACE_IN_CLASS "\\t\\n\\x0b\\f\\r\\x{85}\\p{Z}"

static int translate(const char *pat, ov_buf *out)
{
    int in_class = 0, rc = 0;
    for (size_t i = 0; pat[i] && !rc; i++) {
        char c = pat[i];
        if (c == '\\' && pat[i + 1]) {
            char d = pat[i + 1];
            if (d == 's')
                rc = ov_buf_puts(out, in_class ? ONIG_SPACE_IN_CLASS : "[" ONIG_SPACE_IN_CLASS "]");
            else if (d == 'S' && !in_class)
                rc = ov_buf_puts(out, "[^" ONIG_SPACE_IN_CLASS "]");
            else
                rc = ov_buf_append(out, pat + i, 2);
            i++;
            continue;
        }
        if (c == '[' && !in_class)
            in_class = 1;
        else if (c == ']' && in_class)
            in_class = 0;
        rc = ov_buf_append(out, &c, 1);
    }
    return rc;
}

int ov_pretok_create(ov_pretok **out, const char *pattern, int caseless)
{
    ov_buf pat;
    ov_buf_init(&pat, 64 * 1024);
    int rc = translate(pattern, &pat);
    if (rc) {
        ov_buf_free(&pat);
        return rc;
    }
    int err;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK | (caseless ? PCRE2_CASELESS : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, opts, &err, &off, NULL);
    ov_buf_free(&pat);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        OV_LOG_ERROR("pretok_bad_pattern", "offset=%zu error=\"%s\"", (size_t)off, (char *)msg);
        return OV_EINVAL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    ov_pretok *p = calloc(1, sizeof *p);
    if (!p) {
        pcre2_code_free(re);
        return OV_ENOMEM;
    }
    p->re = re;
    *out = p;
    return 0;
}

void ov_pretok_free(ov_pretok *p)
{
    if (!p)
        return;
    pcre2_code_free(p->re);
    free(p);
}

static int split(const ov_pretok *p, const uint8_t *text, size_t n, ov_pretok_fn fn, void *ctx, int gaps)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re, NULL);
    if (!md)
        return OV_ENOMEM;
    size_t pos = 0, gap = 0;
    int rc = 0;
    while (pos < n) {
        int m = pcre2_match(p->re, (PCRE2_SPTR)text, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH)
            break;
        if (m < 0) {
            rc = OV_EINTERNAL;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) { /* empty match: step one code point, it stays in the gap */
            pos = s + 1;
            while (pos < n && (text[pos] & 0xC0) == 0x80)
                pos++;
            continue;
        }
        if (gaps && s > gap && (rc = fn(ctx, text + gap, s - gap)))
            break;
        if ((rc = fn(ctx, text + s, e - s)))
            break;
        pos = gap = e;
    }
    if (!rc && gaps && gap < n)
        rc = fn(ctx, text + gap, n - gap);
    pcre2_match_data_free(md);
    return rc;
}

int ov_pretok_split(const ov_pretok *p, const uint8_t *text, size_t n, ov_pretok_fn fn, void *ctx)
{
    return split(p, text, n, fn, ctx, 1);
}

int ov_pretok_findall(const ov_pretok *p, const uint8_t *text, size_t n, ov_pretok_fn fn, void *ctx)
{
    return split(p, text, n, fn, ctx, 0);
}
