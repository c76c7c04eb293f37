/* Prompt emphasis syntax (A1111): (text), [text], (text:1.3) -> segments with weights. */
#ifndef OV_TEXT_PROMPT_WEIGHTS_H
#define OV_TEXT_PROMPT_WEIGHTS_H

#include <stddef.h>

#define OV_PW_MAX_INPUT (256u << 10) /* prompt bytes; longer is OV_ERANGE */
#define OV_PW_MAX_DEPTH 256          /* deeper brackets are treated as text */

typedef struct ov_pw_segment {
    size_t off, len; /* into ov_pw_result.text (unescaped text) */
    float weight;
} ov_pw_segment;

typedef struct ov_pw_result {
    char *text; /* concatenated segment text, NUL-terminated; owned */
    ov_pw_segment *seg;
    size_t n_seg;
} ov_pw_result;

/* Parse like A1111 modules/prompt_parser.py parse_prompt_attention:
 *  "(" ... ")" multiplies by 1.1, "[" ... "]" by 1/1.1, "(" ... ":W)" by W (W = [+-]?[.0-9]+);
 *  "\(" "\)" "\[" "\]" "\\" are literal; a ")" / "]" / ":W)" without its opener is literal text;
 *  openers never closed apply their factor up to the end of the prompt; adjacent segments of
 *  equal weight merge; an empty prompt gives one empty segment of weight 1.
 * Defined where A1111 raises or is silent: a W that is not a finite number ("1.2.3", ".") makes
 * ":W)" literal text; weights are clamped to [-10, 10]; nesting over OV_PW_MAX_DEPTH is text;
 * "BREAK" is ordinary text; bytes are not UTF-8-checked here (the tokenizer does that).
 * Never fails on any byte string except OV_ENOMEM and OV_ERANGE (over OV_PW_MAX_INPUT).
 * Free with ov_pw_free (also after an error). */
int ov_pw_parse(const char *prompt, size_t n, ov_pw_result *out);
void ov_pw_free(ov_pw_result *r);

#endif
