/* Identifiers that become parts of paths and keys: one safe alphabet for the whole project. */
#ifndef OV_IDENT_H
#define OV_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* True when s is 1..max_len bytes of [A-Za-z0-9_-] (no dots, slashes or anything a path or a Redis
 * key could misread). */
bool ov_ident_valid(const char *s, size_t max_len);

#endif
