/* HTTP client: libcurl multi driven by the libuv loop (uv_poll per socket + one uv_timer). */
#ifndef OV_SUP_HTTP_CLIENT_H
#define OV_SUP_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* One client per loop. Every transfer runs on the loop thread; nothing here blocks. */
typedef struct ov_hc ov_hc;
typedef struct ov_hc_req ov_hc_req;

#define OV_HC_HEADERS_MAX 8
#define OV_HC_RESPONSE_MAX (64u * 1024u) /* response bodies are kept up to this (error text) */

/* One request. Strings are copied by ov_hc_start(). Exactly one body source: body/body_len
 * (copied), or body_file (streamed from the file; its size is taken at start), or neither. */
typedef struct ov_hc_opts {
    const char *method;  /* "POST" (default), "PUT", "GET" */
    const char *url;     /* http:// or https:// only */
    const char *headers[OV_HC_HEADERS_MAX]; /* "Name: value", NULL-terminated if fewer */
    const void *body;
    size_t body_len;
    const char *body_file;
    int64_t timeout_ms; /* whole transfer; connect gets min(timeout, 10 s) */
} ov_hc_opts;

/* The outcome of one transfer, borrowed for the duration of the callback.
 * status 0: an HTTP response arrived (any code, see http_status); OV_ETIMEDOUT: timed out;
 * OV_EIO: connection/transfer error (error says which); OV_ENOENT: body_file unreadable. */
typedef struct ov_hc_result {
    int status;
    long http_status; /* 0 when no response */
    const char *body; /* NUL-terminated, capped at OV_HC_RESPONSE_MAX */
    size_t body_len;
    const char *error; /* curl's message when status != 0, "" otherwise */
} ov_hc_result;

typedef void (*ov_hc_done_cb)(void *ctx, const ov_hc_result *r);

/* 0 or OV_ENOMEM/OV_EIO (curl init). The client is freed by ov_hc_close(). */
int ov_hc_init(ov_hc **out, uv_loop_t *loop);
/* Start a transfer. done is called exactly once, later on the loop (never from inside this call),
 * unless ov_hc_cancel() is called first. *req_out (may be NULL) is valid until then.
 * 0, OV_EINVAL (no url, bad scheme), OV_ENOENT (body_file missing), OV_ENOMEM. */
int ov_hc_start(ov_hc *hc, const ov_hc_opts *o, ov_hc_done_cb done, void *ctx, ov_hc_req **req_out);
/* Abort a transfer; its done callback is not called. */
void ov_hc_cancel(ov_hc_req *r);
/* Transfers in flight. */
int ov_hc_active(const ov_hc *hc);
/* Abort every transfer (no callbacks), close the handles; hc is freed once they are closed. */
void ov_hc_close(ov_hc *hc);

#endif
