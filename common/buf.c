/* Growable byte buffer with a hard cap, and the JSON fragment writers built on it. */
#include "buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void ov_buf_init(ov_buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max_bytes;
}

void ov_buf_free(ov_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ov_buf_reset(ov_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(ov_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return OV_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    char *nd = realloc(b->data, ncap);
    if (!nd)
        return OV_ENOMEM;
    b->data = nd;
    b->cap = ncap;
    return 0;
}

int ov_buf_append(ov_buf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ov_buf_puts(ov_buf *b, const char *s) { return ov_buf_append(b, s, strlen(s)); }

int ov_buf_vprintf(ov_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return OV_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ov_buf_printf(ov_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ov_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int ov_json_strn(ov_buf *b, const char *s, size_t n)
{
    size_t start = b->len;
    int rc = ov_buf_append(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (rc == 0 && i < n) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = ov_buf_append(b, e, 2);
            i++;
        } else if (c < 0x20) {
            char e[8];
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (named)
                rc = ov_buf_append(b, named, 2);
            else {
                snprintf(e, sizeof e, "\\u%04x", c);
                rc = ov_buf_append(b, e, 6);
            }
            i++;
        } else {
            size_t l = utf8_seq(p + i, n - i);
            if (l == 0) {
                rc = ov_buf_append(b, "\xEF\xBF\xBD", 3);
                i++;
            } else {
                rc = ov_buf_append(b, p + i, l);
                i += l;
            }
        }
    }
    if (rc == 0)
        rc = ov_buf_append(b, "\"", 1);
    if (rc) {
        b->len = start;
        if (b->data)
            b->data[start] = '\0';
    }
    return rc;
}

int ov_json_str(ov_buf *b, const char *s)
{
    if (!s)
        return ov_buf_puts(b, "null");
    return ov_json_strn(b, s, strlen(s));
}

int ov_json_int(ov_buf *b, int64_t v) { return ov_buf_printf(b, "%lld", (long long)v); }

int ov_json_double(ov_buf *b, double v)
{
    if (!isfinite(v))
        return ov_buf_puts(b, "null");
    return ov_buf_printf(b, "%.17g", v);
}

int ov_json_bool(ov_buf *b, int v) { return ov_buf_puts(b, v ? "true" : "false"); }

int ov_json_key(ov_buf *b, const char *key)
{
    int rc = ov_json_str(b, key);
    return rc ? rc : ov_buf_append(b, ":", 1);
}
