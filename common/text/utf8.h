/* UTF-8 helpers for the tokenizers: strict decoding, encoding, validation with replacement. */
#ifndef OV_TEXT_UTF8_H
#define OV_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

struct ov_buf;

/* Decode one code point (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns its length 1..4, or 0 when p does not start a complete valid sequence. */
size_t ov_utf8_decode1(const uint8_t *p, size_t n, uint32_t *cp);
/* Encode cp (<= U+10FFFF) into out (>= 4 bytes); returns the length. */
size_t ov_utf8_encode1(uint32_t cp, uint8_t *out);
/* 1 when all n bytes are valid UTF-8. */
int ov_utf8_valid(const uint8_t *p, size_t n);
/* Copy p to out replacing each maximal invalid subpart by U+FFFD (the WHATWG / Python
 * errors="replace" rule). *n_replaced (may be NULL) counts replacements. 0 or OV_ENOMEM. */
int ov_utf8_sanitize(const uint8_t *p, size_t n, struct ov_buf *out, size_t *n_replaced);

#endif
