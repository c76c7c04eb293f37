/* The project's one error convention: int return, 0 on success, a negative OV_E* code on failure. */
#ifndef OV_ERROR_H
#define OV_ERROR_H

/* Every function that can fail returns 0 or one of these (libuv style). Keep the list short and
 * stable: callers branch on the code, humans read ov_strerror() plus the logged detail. */
enum ov_error {
    OV_OK = 0,
    OV_EINVAL = -1,    /* bad argument or bad input from a caller */
    OV_ENOMEM = -2,    /* allocation failed or a hard cap was hit */
    OV_EIO = -3,       /* read/write/socket failure */
    OV_EPROTO = -4,    /* peer spoke a malformed or wrong-version protocol */
    OV_ETIMEDOUT = -5, /* a deadline passed */
    OV_ENOENT = -6,    /* file, key, tensor or worker not found */
    OV_ERANGE = -7,    /* value outside the allowed range */
    OV_ECANCELED = -8, /* the operation was cancelled on request */
    OV_EGPU = -9,      /* device error; sticky ones poison the process */
    OV_EBUSY = -10,    /* resource in use; try later */
    OV_ECONFIG = -11,  /* configuration is wrong: retrying cannot help */
    OV_EFORMAT = -12,  /* file or payload format is wrong or corrupt */
    OV_EUNSUPP = -13,  /* valid request this build cannot serve */
    OV_ECLOSED = -14,  /* peer closed the connection */
    OV_EBUDGET = -15,  /* a memory budget would be exceeded */
    OV_EINTERNAL = -16 /* an invariant failed that is not the caller's fault */
};

/* Human text for a code; never NULL, static storage. */
const char *ov_strerror(int code);
/* Short stable name for a code ("EINVAL"), for key=value logs and JSON; never NULL. */
const char *ov_errname(int code);

#endif
