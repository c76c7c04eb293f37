/* The safe identifier alphabet shared by the job contract and storage paths. */
#include "ident.h"

bool ov_ident_valid(const char *s, size_t max_len)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max_len)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}
