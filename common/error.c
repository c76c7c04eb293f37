/* Names and messages for the OV_E* error codes. */
#include "error.h"

static const struct {
    int code;
    const char *name;
    const char *text;
} ov_errors[] = {
    {OV_OK, "OK", "success"},
    {OV_EINVAL, "EINVAL", "invalid argument"},
    {OV_ENOMEM, "ENOMEM", "out of memory or over a hard cap"},
    {OV_EIO, "EIO", "input/output error"},
    {OV_EPROTO, "EPROTO", "protocol error"},
    {OV_ETIMEDOUT, "ETIMEDOUT", "deadline passed"},
    {OV_ENOENT, "ENOENT", "not found"},
    {OV_ERANGE, "ERANGE", "value out of range"},
    {OV_ECANCELED, "ECANCELED", "cancelled"},
    {OV_EGPU, "EGPU", "GPU error"},
    {OV_EBUSY, "EBUSY", "busy"},
    {OV_ECONFIG, "ECONFIG", "configuration error"},
    {OV_EFORMAT, "EFORMAT", "bad or corrupt format"},
    {OV_EUNSUPP, "EUNSUPP", "not supported"},
    {OV_ECLOSED, "ECLOSED", "connection closed"},
    {OV_EBUDGET, "EBUDGET", "memory budget exceeded"},
    {OV_EINTERNAL, "EINTERNAL", "internal error"},
};

const char *ov_strerror(int code)
{
    for (unsigned i = 0; i < sizeof ov_errors / sizeof ov_errors[0]; i++)
        if (ov_errors[i].code == code)
            return ov_errors[i].text;
    return "unknown error";
}

const char *ov_errname(int code)
{
    for (unsigned i = 0; i < sizeof ov_errors / sizeof ov_errors[0]; i++)
        if (ov_errors[i].code == code)
            return ov_errors[i].name;
    return "EUNKNOWN";
}
