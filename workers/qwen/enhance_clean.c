/* Enhancement output cleanup: from a model's raw answer to one plain prompt paragraph.
 * The original enhancer (OURVIDZ-CONTRACT.md §6) removed the echoed input and a leading
 * "enhanced prompt:"; models also add quotes, markdown, "Here is ...:" preambles and, for Base
 * models, keep going with a new "Original request:" block. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/text/utf8.h"
#include "workers/qwen/enhance.h"

/* A growing view over the working text. */
typedef struct span {
    const char *p;
    size_t n;
} span;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static span trim(span s)
{
    while (s.n && is_ws(s.p[0]))
        s.p++, s.n--;
    while (s.n && is_ws(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Case-insensitive ASCII prefix test. */
static int starts_ci(span s, const char *w)
{
    size_t k = strlen(w);
    if (s.n < k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (tolower((unsigned char)s.p[i]) != tolower((unsigned char)w[i]))
            return 0;
    return 1;
}

/* Case-insensitive ASCII search; offset or SIZE_MAX. */
static size_t find_ci(span s, const char *w, size_t from)
{
    size_t k = strlen(w);
    for (size_t i = from; i + k <= s.n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)s.p[i + j]) == tolower((unsigned char)w[j]))
            j++;
        if (j == k)
            return i;
    }
    return SIZE_MAX;
}

/* Skip markdown/quote decoration at the start of a label candidate: '#', '*', '_', '>', '-', '`'. */
static span skip_decoration(span s)
{
    while (s.n && (s.p[0] == '#' || s.p[0] == '*' || s.p[0] == '_' || s.p[0] == '>' || s.p[0] == '`' ||
                   s.p[0] == '-' || is_ws(s.p[0])))
        s.p++, s.n--;
    return s;
}

/* Words that make "<word(s)>:" a label rather than content. */
static const char *const LABELS[] = {
    "enhanced video prompt",
    "enhanced image prompt",
    "enhanced prompt",
    "improved prompt",
    "rewritten prompt",
    "expanded prompt",
    "detailed prompt",
    "refined prompt",
    "final prompt",
    "video prompt",
    "image prompt",
    "new prompt",
    "prompt",
    "output",
    "answer",
    "result",
    "response",
    "assistant",
    "enhanced",
    "description",
};

/* If s starts with a label ("**Enhanced prompt:**", "Prompt -"), the rest after it; else s. */
static span strip_label(span s, int *hit)
{
    span d = skip_decoration(s);
    for (size_t i = 0; i < sizeof LABELS / sizeof LABELS[0]; i++) {
        if (!starts_ci(d, LABELS[i]))
            continue;
        span r = {d.p + strlen(LABELS[i]), d.n - strlen(LABELS[i])};
        while (r.n && (r.p[0] == '*' || r.p[0] == '_' || r.p[0] == ' '))
            r.p++, r.n--;
        if (r.n && (r.p[0] == ':' || (r.p[0] == '-' && r.n > 1 && r.p[1] == ' '))) {
            r.p++, r.n--;
            while (r.n && (r.p[0] == '*' || r.p[0] == '_'))
                r.p++, r.n--;
            *hit = 1;
            return trim(r);
        }
    }
    return s;
}

/* A first line that introduces the answer: short, ends with ':' and talks about the prompt
 * ("Here is an enhanced version of your prompt:", "Sure! Here's the video prompt:"). */
static span strip_preamble(span s, int *hit)
{
    size_t nl = 0;
    while (nl < s.n && s.p[nl] != '\n')
        nl++;
    span line = trim((span){s.p, nl});
    while (line.n && (line.p[line.n - 1] == '*' || line.p[line.n - 1] == '_'))
        line.n--;
    if (nl >= s.n || line.n == 0 || line.n > 160 || line.p[line.n - 1] != ':')
        return s;
    static const char *const OPENERS[] = {"here", "sure", "certainly", "okay", "ok,", "of course", "below"};
    int opener = 0;
    span d = skip_decoration(line);
    for (size_t i = 0; i < sizeof OPENERS / sizeof OPENERS[0]; i++)
        opener |= starts_ci(d, OPENERS[i]);
    if (!opener && find_ci(line, "prompt", 0) == SIZE_MAX)
        return s;
    *hit = 1;
    return trim((span){s.p + nl, s.n - nl});
}

/* Where a follow-on block starts (a new request, a second answer, a note, a control token). */
static size_t tail_start(span s)
{
    static const char *const ANYWHERE[] = {"original request:", "enhanced prompt:", "<|im_", "<|endoftext|>",
                                           "user request:"};
    static const char *const AT_LINE[] = {"note:", "(note", "user:", "request:", "explanation:", "---"};
    size_t cut = SIZE_MAX;
    for (size_t i = 0; i < sizeof ANYWHERE / sizeof ANYWHERE[0]; i++) {
        size_t at = find_ci(s, ANYWHERE[i], 0);
        if (at < cut)
            cut = at;
    }
    for (size_t i = 0; i < s.n && i < cut; i++) {
        if (i && s.p[i - 1] != '\n')
            continue;
        span line = skip_decoration((span){s.p + i, s.n - i});
        for (size_t k = 0; k < sizeof AT_LINE / sizeof AT_LINE[0]; k++)
            if (starts_ci((span){s.p + i, s.n - i}, AT_LINE[k]) || starts_ci(line, AT_LINE[k])) {
                cut = i;
                break;
            }
    }
    return cut;
}

/* Copy with markdown removed and whitespace collapsed to single spaces. */
static int flatten(span s, ov_buf *out, int *md)
{
    size_t i = 0;
    int space = 0;
    while (i < s.n) {
        /* Start of a line: drop headings, quotes, bullets and fences. */
        if (i == 0 || s.p[i - 1] == '\n') {
            size_t j = i;
            while (j < s.n && (s.p[j] == ' ' || s.p[j] == '\t'))
                j++;
            if (j + 3 <= s.n && memcmp(s.p + j, "```", 3) == 0) {
                while (j < s.n && s.p[j] != '\n')
                    j++;
                *md = 1;
                i = j;
                space = out->len > 0;
                continue;
            }
            size_t k = j;
            while (k < s.n && (s.p[k] == '#' || s.p[k] == '>'))
                k++;
            if (k < s.n && k > j && s.p[k] == ' ')
                *md = 1, j = k + 1;
            if (j + 1 < s.n && (s.p[j] == '-' || s.p[j] == '*' || s.p[j] == '+') && s.p[j + 1] == ' ')
                *md = 1, j += 2;
            i = j;
            if (i >= s.n)
                break;
        }
        char c = s.p[i];
        if (c == '*' || c == '`' || (c == '_' && i + 1 < s.n && s.p[i + 1] == '_')) {
            *md = 1;
            i += c == '_' ? 2 : 1;
            continue;
        }
        if (is_ws(c)) {
            space = out->len > 0;
            i++;
            continue;
        }
        if (space && ov_buf_append(out, " ", 1))
            return OV_ENOMEM;
        space = 0;
        if (ov_buf_append(out, &s.p[i], 1))
            return OV_ENOMEM;
        i++;
    }
    return 0;
}

/* Quote pairs (UTF-8). */
static const char *const QUOTES[][2] = {{"\"", "\""},
                                        {"'", "'"},
                                        {"\xE2\x80\x9C", "\xE2\x80\x9D"},
                                        {"`", "`"},
                                        {"\xC2\xAB", "\xC2\xBB"},
                                        {"\xE2\x80\x9E", "\xE2\x80\x9C"},
                                        {"\xE2\x80\x98", "\xE2\x80\x99"}};

/* Count occurrences of q in s. */
static size_t count_of(span s, const char *q)
{
    size_t k = strlen(q), c = 0;
    for (size_t i = 0; i + k <= s.n; i++)
        if (memcmp(s.p + i, q, k) == 0)
            c++, i += k - 1;
    return c;
}

static span strip_quotes(span s, int *hit)
{
    for (int round = 0; round < 2; round++) {
        int changed = 0;
        for (size_t i = 0; i < sizeof QUOTES / sizeof QUOTES[0]; i++) {
            const char *o = QUOTES[i][0], *c = QUOTES[i][1];
            size_t on = strlen(o), cn = strlen(c);
            int open = s.n >= on && memcmp(s.p, o, on) == 0;
            int close = s.n >= cn && memcmp(s.p + s.n - cn, c, cn) == 0;
            if (open && close && s.n >= on + cn) {
                s = trim((span){s.p + on, s.n - on - cn});
                changed = 1;
            } else if (open && count_of(s, c) == (strcmp(o, c) == 0 ? 1u : 0u)) {
                s = trim((span){s.p + on, s.n - on}); /* opened, never closed (cut off) */
                changed = 1;
            } else if (close && count_of(s, o) == (strcmp(o, c) == 0 ? 1u : 0u)) {
                s = trim((span){s.p, s.n - cn}); /* closed, never opened */
                changed = 1;
            }
        }
        if (!changed)
            break;
        *hit = 1;
    }
    return s;
}

/* End (exclusive) of the last complete sentence within s[0..limit): after '.', '!', '?', '…' or
 * the CJK full stops, followed by a space, a closing quote/bracket or the end. 0 when none. */
static size_t last_sentence_end(span s, size_t limit)
{
    for (size_t i = limit; i > 0; i--) {
        size_t e = i; /* candidate end: s[e-1] is the terminator's last byte */
        const char *p = s.p;
        int term = p[e - 1] == '.' || p[e - 1] == '!' || p[e - 1] == '?';
        if (!term && e >= 3) {
            const unsigned char *u = (const unsigned char *)p + e - 3;
            term = (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x82) ||                   /* 。 */
                   (u[0] == 0xEF && u[1] == 0xBC && (u[2] == 0x81 || u[2] == 0x9F)) || /* ！ ？ */
                   (u[0] == 0xE2 && u[1] == 0x80 && u[2] == 0xA6);                     /* … */
        }
        if (!term)
            continue;
        if (e == s.n || s.p[e] == ' ' || s.p[e] == '"' || s.p[e] == ')' || s.p[e] == '\'' ||
            (unsigned char)s.p[e] >= 0x80)
            return e;
    }
    return 0;
}

/* A cut point <= limit at a clause or word boundary, never inside a UTF-8 character. */
static size_t soft_cut(span s, size_t limit, size_t min_keep)
{
    size_t e = last_sentence_end(s, limit);
    if (e >= min_keep && e)
        return e;
    for (size_t i = limit; i > min_keep; i--)
        if (s.p[i - 1] == ',' || s.p[i - 1] == ';')
            return i - 1;
    for (size_t i = limit; i > 0; i--)
        if (s.p[i - 1] == ' ')
            return i - 1;
    size_t i = limit;
    while (i > 0 && i < s.n && ((unsigned char)s.p[i] & 0xC0) == 0x80)
        i--;
    return i;
}

int ov_enhance_clean(const char *raw, size_t n, const ov_clean_opts *o, ov_buf *out, unsigned *what)
{
    static const ov_clean_opts none = {0};
    if (!o)
        o = &none;
    unsigned w = 0;
    ov_buf valid, flat;
    ov_buf_init(&valid, 4 * (size_t)n + 16);
    ov_buf_init(&flat, 4 * (size_t)n + 16);
    ov_buf_reset(out);
    int rc = 0;
    span s = {raw ? raw : "", raw ? n : 0};
    if (!ov_utf8_valid((const uint8_t *)s.p, s.n)) {
        if ((rc = ov_utf8_sanitize((const uint8_t *)s.p, s.n, &valid, NULL)))
            goto done;
        s = (span){valid.data ? valid.data : "", valid.len};
        w |= OV_CLEAN_INVALID;
    }
    s = trim(s);
    /* An echo of the instructions or of the request block, then labels and preambles (in any
     * order, a few times: "Sure! Here it is:\n**Enhanced prompt:** ..."). */
    for (int round = 0; round < 4; round++) {
        int hit = 0, echo = 0;
        if (o->echo && *o->echo && starts_ci(s, o->echo)) {
            s = trim((span){s.p + strlen(o->echo), s.n - strlen(o->echo)});
            echo = 1;
        }
        span d = skip_decoration(s);
        if (starts_ci(d, "original request:")) {
            size_t nl = 0;
            while (nl < d.n && d.p[nl] != '\n')
                nl++;
            /* "Original request: <the request>\nEnhanced prompt: ..." or on one line. */
            size_t lab = find_ci(d, "enhanced prompt:", 0);
            size_t cut = lab != SIZE_MAX && lab < nl + 1 + 40 ? lab : nl;
            s = trim((span){d.p + cut, d.n - cut});
            echo = 1;
        }
        s = strip_label(s, &hit);
        s = strip_preamble(s, &hit);
        if (echo)
            w |= OV_CLEAN_ECHO;
        if (hit)
            w |= OV_CLEAN_LABEL;
        if (!hit && !echo)
            break;
    }
    size_t t = tail_start(s);
    if (t != SIZE_MAX) {
        s = trim((span){s.p, t});
        w |= OV_CLEAN_TAIL;
    }
    int md = 0;
    if ((rc = flatten(s, &flat, &md)))
        goto done;
    if (md)
        w |= OV_CLEAN_MARKDOWN;
    s = (span){flat.data ? flat.data : "", flat.len};
    int q = 0;
    s = strip_quotes(s, &q);
    if (q)
        w |= OV_CLEAN_QUOTES;
    if (o->truncated && s.n) {
        size_t e = soft_cut(s, s.n, (s.n * 2) / 5);
        if (e < s.n && e >= (s.n * 2) / 5) {
            s.n = e;
            w |= OV_CLEAN_PARTIAL;
        }
    }
    if (o->max_chars && s.n > o->max_chars) {
        s.n = soft_cut(s, o->max_chars, o->max_chars / 2);
        w |= OV_CLEAN_MAX_CHARS;
    }
    /* A dangling separator after a cut ("..., sharp focus," -> "..., sharp focus"). */
    while (s.n && (s.p[s.n - 1] == ',' || s.p[s.n - 1] == ';' || s.p[s.n - 1] == ':' || s.p[s.n - 1] == '-' ||
                   is_ws(s.p[s.n - 1])))
        s.n--;
    if (s.n && (rc = ov_buf_append(out, s.p, s.n)))
        goto done;
    if (!out->data && (rc = ov_buf_append(out, "", 0)))
        goto done;
done:
    ov_buf_free(&valid);
    ov_buf_free(&flat);
    if (what)
        *what = w;
    return rc;
}
