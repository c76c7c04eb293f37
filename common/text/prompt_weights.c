/* A1111 emphasis parser: brackets and (text:weight) to weighted text segments, total on any input. */
#include "common/text/prompt_weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define ROUND_MUL 1.1
#define SQUARE_MUL (1.0 / 1.1)
#define W_MIN (-10.0)
#define W_MAX 10.0

typedef struct entry {
    size_t off, len;
    double w;
} entry;

typedef struct parser {
    entry *e;
    size_t n;
    char *text;
    size_t tlen;
} parser;

static void emit(parser *p, const char *s, size_t n)
{
    memcpy(p->text + p->tlen, s, n);
    p->e[p->n++] = (entry){p->tlen, n, 1.0};
    p->tlen += n;
}

static void multiply_range(parser *p, size_t start, double m)
{
    for (size_t i = start; i < p->n; i++)
        p->e[i].w *= m;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ":\s*([+-]?[.\d]+)\s*\)" at s[0] == ':'. Returns the match length (0: no match) and the
 * number text span. */
static size_t match_weight(const char *s, size_t n, size_t *num_off, size_t *num_len)
{
    size_t i = 1;
    while (i < n && is_ws(s[i]))
        i++;
    size_t a = i;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t d = i;
    while (i < n && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
        i++;
    if (i == d)
        return 0;
    *num_off = a;
    *num_len = i - a;
    while (i < n && is_ws(s[i]))
        i++;
    if (i >= n || s[i] != ')')
        return 0;
    return i + 1;
}

/* Python float() on [+-]?[.0-9]+: at most one '.', at least one digit. */
static int parse_number(const char *s, size_t n, double *out)
{
    char buf[64];
    size_t dots = 0, digits = 0;
    if (n >= sizeof buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        dots += s[i] == '.';
        digits += s[i] >= '0' && s[i] <= '9';
    }
    if (dots > 1 || digits == 0)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v < W_MIN ? W_MIN : v > W_MAX ? W_MAX : v;
    return 0;
}

int ov_pw_parse(const char *s, size_t n, ov_pw_result *out)
{
    memset(out, 0, sizeof *out);
    if (!s && n)
        return OV_EINVAL;
    if (n > OV_PW_MAX_INPUT)
        return OV_ERANGE;
    parser p = {0};
    size_t round[OV_PW_MAX_DEPTH], square[OV_PW_MAX_DEPTH], nr = 0, ns = 0;
    p.e = malloc((n + 1) * sizeof *p.e);
    p.text = malloc(n + 1);
    if (!p.e || !p.text) {
        free(p.e);
        free(p.text);
        return OV_ENOMEM;
    }
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 < n && strchr("()[]\\", s[i + 1]) && s[i + 1]) {
                emit(&p, s + i + 1, 1);
                i += 2;
            } else {
                emit(&p, s + i, 0); /* a lone backslash is dropped, as in A1111 */
                i++;
            }
        } else if (c == '(' && nr < OV_PW_MAX_DEPTH) {
            round[nr++] = p.n;
            i++;
        } else if (c == '[' && ns < OV_PW_MAX_DEPTH) {
            square[ns++] = p.n;
            i++;
        } else if (c == ':') {
            size_t no, nl, m = match_weight(s + i, n - i, &no, &nl);
            double w;
            if (m && nr && parse_number(s + i + no, nl, &w) == 0) {
                multiply_range(&p, round[--nr], w);
                i += m;
            } else if (m) {
                emit(&p, s + i, m);
                i += m;
            } else {
                emit(&p, s + i, 1);
                i++;
            }
        } else if (c == ')' && nr) {
            multiply_range(&p, round[--nr], ROUND_MUL);
            i++;
        } else if (c == ']' && ns) {
            multiply_range(&p, square[--ns], SQUARE_MUL);
            i++;
        } else if (c == '(' || c == '[' || c == ')' || c == ']') {
            emit(&p, s + i, 1); /* unmatched closer, or an opener past the depth cap */
            i++;
        } else {
            size_t j = i;
            while (j < n && !strchr("\\()[]:", s[j] ? s[j] : 'x'))
                j++;
            emit(&p, s + i, j - i);
            i = j;
        }
    }
    for (size_t k = 0; k < nr; k++)
        multiply_range(&p, round[k], ROUND_MUL);
    for (size_t k = 0; k < ns; k++)
        multiply_range(&p, square[k], SQUARE_MUL);
    if (p.n == 0)
        p.e[p.n++] = (entry){0, 0, 1.0};
    /* merge runs of identical weight (text is contiguous in p.text) */
    size_t m = 0;
    for (size_t k = 1; k < p.n; k++) {
        if (p.e[k].w == p.e[m].w)
            p.e[m].len = p.e[k].off + p.e[k].len - p.e[m].off;
        else
            p.e[++m] = p.e[k];
    }
    size_t nseg = m + 1;
    out->seg = malloc(nseg * sizeof *out->seg);
    if (!out->seg) {
        free(p.e);
        free(p.text);
        return OV_ENOMEM;
    }
    for (size_t k = 0; k < nseg; k++) {
        double w = p.e[k].w < W_MIN ? W_MIN : p.e[k].w > W_MAX ? W_MAX : p.e[k].w;
        out->seg[k] = (ov_pw_segment){p.e[k].off, p.e[k].len, (float)w};
    }
    p.text[p.tlen] = 0;
    out->text = p.text;
    out->n_seg = nseg;
    free(p.e);
    return 0;
}

void ov_pw_free(ov_pw_result *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->seg);
    memset(r, 0, sizeof *r);
}
