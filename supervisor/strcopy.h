/* Bounded string copy for the supervisor (truncates on purpose: names, reasons, labels). */
#ifndef OV_SUP_STRCOPY_H
#define OV_SUP_STRCOPY_H

#include <string.h>

/* Copy src into dst (n bytes, n > 0), truncating; always NUL-terminates. */
static inline void ov_str_copy(char *dst, size_t n, const char *src)
{
    size_t l = src ? strlen(src) : 0;
    if (l >= n)
        l = n - 1;
    if (l)
        memcpy(dst, src, l);
    dst[l] = '\0';
}

#endif
