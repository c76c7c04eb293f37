/* UTF-8 decoding, encoding and replacement of invalid sequences (RFC 3629, WHATWG replace). */
#include "common/text/utf8.h"

#include "common/buf.h"
#include "common/error.h"

/* Length of the longest prefix of p that could start a valid sequence (0 if p[0] is invalid),
 * and the full length that sequence needs. */
static size_t valid_prefix(const uint8_t *p, size_t n, size_t *need)
{
    uint8_t c = p[0];
    size_t want;
    if (c < 0x80) {
        *need = 1;
        return 1;
    }
    if (c < 0xC2 || c > 0xF4) {
        *need = 1;
        return 0;
    }
    want = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    *need = want;
    size_t i = 1;
    for (; i < want && i < n; i++) {
        uint8_t d = p[i];
        if ((d & 0xC0) != 0x80)
            break;
        if (i == 1 && ((c == 0xE0 && d < 0xA0) || (c == 0xED && d > 0x9F) || (c == 0xF0 && d < 0x90) ||
                       (c == 0xF4 && d > 0x8F)))
            break;
    }
    return i;
}

size_t ov_utf8_decode1(const uint8_t *p, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    size_t need, got = valid_prefix(p, n, &need);
    if (got == 0 || got != need)
        return 0;
    switch (need) {
    case 1: *cp = p[0]; break;
    case 2: *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F); break;
    case 3: *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F); break;
    default:
        *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
              ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    }
    return need;
}

size_t ov_utf8_encode1(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

int ov_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = ov_utf8_decode1(p + i, n - i, &cp);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

int ov_utf8_sanitize(const uint8_t *p, size_t n, ov_buf *out, size_t *n_replaced)
{
    static const uint8_t rep[3] = {0xEF, 0xBF, 0xBD};
    size_t i = 0, run = 0, reps = 0;
    int rc;
    if (n_replaced)
        *n_replaced = 0;
    if (n == 0)
        return 0;
    while (i < n) {
        size_t need, got = valid_prefix(p + i, n - i, &need);
        if (got == need) {
            i += got;
            continue;
        }
        if ((rc = ov_buf_append(out, p + run, i - run)) || (rc = ov_buf_append(out, rep, 3)))
            return rc;
        reps++;
        i += got ? got : 1;
        run = i;
    }
    if ((rc = ov_buf_append(out, p + run, n - run)))
        return rc;
    if (n_replaced)
        *n_replaced = reps;
    return 0;
}
