/* ov_buf: a growable byte buffer with a hard cap (curl dynbuf), plus a JSON writer on top. */
#ifndef OV_BUF_H
#define OV_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ov_buf {
    char *data;     /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;     /* bytes allocated */
    size_t max;     /* hard cap on len; appends past it fail with OV_ENOMEM */
} ov_buf;

/* Initialise an empty buffer that may grow to max_bytes. Owns nothing until the first append. */
void ov_buf_init(ov_buf *b, size_t max_bytes);
/* Free the storage; the buffer may be reused after ov_buf_init. */
void ov_buf_free(ov_buf *b);
/* Drop the contents, keep the storage. */
void ov_buf_reset(ov_buf *b);
/* Append bytes / a C string / printf output. 0, or OV_ENOMEM (cap or malloc); on error the
 * buffer is unchanged. */
int ov_buf_append(ov_buf *b, const void *p, size_t n);
int ov_buf_puts(ov_buf *b, const char *s);
int ov_buf_printf(ov_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ov_buf_vprintf(ov_buf *b, const char *fmt, va_list ap);

/* JSON writing helpers: they append valid JSON fragments; the caller places commas and braces.
 * Strings are escaped per RFC 8259 (control characters as \u00XX; invalid UTF-8 bytes replaced
 * by U+FFFD so the output is always valid UTF-8). Non-finite doubles are written as null. */
int ov_json_str(ov_buf *b, const char *s);
int ov_json_strn(ov_buf *b, const char *s, size_t n);
int ov_json_int(ov_buf *b, int64_t v);
int ov_json_double(ov_buf *b, double v);
int ov_json_bool(ov_buf *b, int v);
/* "key": — a string key followed by a colon. */
int ov_json_key(ov_buf *b, const char *key);

#endif
