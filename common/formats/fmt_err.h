/* Internal to common/formats: error-message helper shared by the format parsers. */
#ifndef OV_FMT_ERR_H
#define OV_FMT_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Write a message into err (cap bytes, may be NULL/0) and return code, so parsers can say
 * `return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s' ...", path, name);`. */
static inline int __attribute__((format(printf, 4, 5)))
fmt_fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

#endif
