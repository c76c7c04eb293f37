/* Test-only HTTP server (libmicrohttpd, its own threads): records requests, scripted failures. */
#ifndef OV_TEST_HTTP_TEST_SERVER_H
#define OV_TEST_HTTP_TEST_SERVER_H

#include <stddef.h>

typedef struct ov_ts ov_ts;

#define OV_TS_BODY_MAX (32u << 20)

/* One recorded request (a copy: free body with ov_ts_request_free). */
typedef struct ov_ts_request {
    char method[16];
    char url[1024];
    char content_type[128];
    char authorization[512];
    char apikey[512];
    char upsert[32];
    char *body;
    size_t body_len;
    int answered; /* status code sent back */
} ov_ts_request;

/* Listen on 127.0.0.1 with an ephemeral port. 0 or -1. */
int ov_ts_start(ov_ts **out);
int ov_ts_port(const ov_ts *ts);
/* Base URL "http://127.0.0.1:PORT" (static inside ts). */
const char *ov_ts_url(const ov_ts *ts);
/* The next n requests get HTTP `status` (then the default again). */
void ov_ts_fail_next(ov_ts *ts, int n, int status);
/* The answer after the scripted ones (200 at start; 500 = permanently failing). */
void ov_ts_set_status(ov_ts *ts, int status);
/* Answer body (copied; default "{}"). */
void ov_ts_set_body(ov_ts *ts, const char *body);
/* The same for a binary body of len bytes (an image). */
void ov_ts_set_body_bytes(ov_ts *ts, const void *body, size_t len);
/* Each request waits this long before its answer (a hanging server). */
void ov_ts_set_delay_ms(ov_ts *ts, int ms);
/* Stop listening (connections refused) / listen again on the same port. 0 or -1. */
int ov_ts_down(ov_ts *ts);
int ov_ts_up(ov_ts *ts);
/* Requests recorded so far, and how many got a 2xx. */
int ov_ts_count(ov_ts *ts);
int ov_ts_count_ok(ov_ts *ts);
/* Copy request i (0 = first). 0 or -1 when out of range. */
int ov_ts_get(ov_ts *ts, int i, ov_ts_request *out);
void ov_ts_request_free(ov_ts_request *r);
/* Stop and free. */
void ov_ts_stop(ov_ts *ts);

#endif
