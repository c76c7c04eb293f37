/* Regex pre-tokeniser (PCRE2, UTF + UCP): splits text into pieces the way HF's Split does. */
#ifndef OV_TEXT_PRETOK_H
#define OV_TEXT_PRETOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct ov_pretok ov_pretok;

/* Compile an HF/Oniguruma-style split pattern. \s and \S are rewritten to Oniguruma's Unicode
 * definition (TAB..CR, U+0085, Zs, Zl, Zp), which PCRE2's UCP \s does not include exactly.
 * caseless: compile with PCRE2_CASELESS (CLIP). OV_EINVAL with the PCRE2 message logged when
 * the pattern does not compile. Free with ov_pretok_free. */
int ov_pretok_create(ov_pretok **out, const char *pattern, int caseless);
void ov_pretok_free(ov_pretok *p);

/* Called per piece, in order; a non-zero return stops the split and is returned. */
typedef int (*ov_pretok_fn)(void *ctx, const uint8_t *piece, size_t n);

/* Split valid UTF-8 `text` into pieces: every match, and every gap between matches
 * (HF SplitDelimiterBehavior::Isolated). Thread-safe (match data per call). */
int ov_pretok_split(const ov_pretok *p, const uint8_t *text, size_t n, ov_pretok_fn fn, void *ctx);

/* Every match only; text between matches is dropped (Python re.findall: CLIP). */
int ov_pretok_findall(const ov_pretok *p, const uint8_t *text, size_t n, ov_pretok_fn fn, void *ctx);

#endif
