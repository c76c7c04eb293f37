/* Test-only HTTP server: libmicrohttpd thread per connection, every request recorded, scripted answers. */
#include "http_test_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TS_MAX_REQUESTS 4096

struct ov_ts {
    struct MHD_Daemon *mhd;
    int port;
    char url[64];
    pthread_mutex_t mu;
    int fail_n, fail_status, status, delay_ms;
    char *answer;
    size_t answer_len; /* bytes of answer (binary bodies allowed) */
    ov_ts_request *reqs[TS_MAX_REQUESTS];
    int n, n_ok;
};

typedef struct conn_state {
    char *body;
    size_t len, cap;
    int too_big;
} conn_state;

static void copy_hdr(struct MHD_Connection *c, const char *name, char *dst, size_t n)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, n, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    ov_ts *ts = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (st->len + *upload_size > OV_TS_BODY_MAX) {
            st->too_big = 1;
        } else {
            if (st->len + *upload_size + 1 > st->cap) {
                size_t nc = (st->len + *upload_size + 1) * 2;
                char *nb = realloc(st->body, nc);
                if (!nb)
                    return MHD_NO;
                st->body = nb;
                st->cap = nc;
            }
            memcpy(st->body + st->len, upload, *upload_size);
            st->len += *upload_size;
            st->body[st->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    ov_ts_request *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->url, sizeof r->url, "%s", url);
    copy_hdr(c, "Content-Type", r->content_type, sizeof r->content_type);
    copy_hdr(c, "Authorization", r->authorization, sizeof r->authorization);
    copy_hdr(c, "apikey", r->apikey, sizeof r->apikey);
    copy_hdr(c, "x-upsert", r->upsert, sizeof r->upsert);
    r->body = st->body;
    r->body_len = st->len;
    st->body = NULL;
    pthread_mutex_lock(&ts->mu);
    int status;
    if (ts->fail_n > 0) {
        ts->fail_n--;
        status = ts->fail_status;
    } else {
        status = ts->status;
    }
    int delay = ts->delay_ms;
    r->answered = status;
    if (ts->n < TS_MAX_REQUESTS)
        ts->reqs[ts->n++] = r;
    else
        ov_ts_request_free(r), free(r);
    if (status >= 200 && status < 300)
        ts->n_ok++;
    size_t alen = ts->answer ? ts->answer_len : 2;
    char *answer = malloc(alen + 1);
    if (answer)
        memcpy(answer, ts->answer ? ts->answer : "{}", alen);
    pthread_mutex_unlock(&ts->mu);
    if (delay > 0) {
        struct timespec d = {delay / 1000, (long)(delay % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    if (!answer)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(alen, answer, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static int listen_on(ov_ts *ts, int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    ts->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port,
                               NULL, NULL, on_request, ts, MHD_OPTION_SOCK_ADDR, &sa,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, ts, MHD_OPTION_LISTENING_ADDRESS_REUSE,
                               1, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!ts->mhd)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(ts->mhd, MHD_DAEMON_INFO_BIND_PORT);
    ts->port = di ? di->port : 0;
    snprintf(ts->url, sizeof ts->url, "http://127.0.0.1:%d", ts->port);
    return ts->port > 0 ? 0 : -1;
}

int ov_ts_start(ov_ts **out)
{
    ov_ts *ts = calloc(1, sizeof *ts);
    if (!ts)
        return -1;
    pthread_mutex_init(&ts->mu, NULL);
    ts->status = 200;
    if (listen_on(ts, 0) != 0) {
        free(ts);
        return -1;
    }
    *out = ts;
    return 0;
}

int ov_ts_port(const ov_ts *ts)
{
    return ts->port;
}

const char *ov_ts_url(const ov_ts *ts)
{
    return ts->url;
}

void ov_ts_fail_next(ov_ts *ts, int n, int status)
{
    pthread_mutex_lock(&ts->mu);
    ts->fail_n = n;
    ts->fail_status = status;
    pthread_mutex_unlock(&ts->mu);
}

void ov_ts_set_status(ov_ts *ts, int status)
{
    pthread_mutex_lock(&ts->mu);
    ts->status = status;
    pthread_mutex_unlock(&ts->mu);
}

void ov_ts_set_body(ov_ts *ts, const char *body)
{
    ov_ts_set_body_bytes(ts, body, body ? strlen(body) : 0);
}

void ov_ts_set_body_bytes(ov_ts *ts, const void *body, size_t len)
{
    pthread_mutex_lock(&ts->mu);
    free(ts->answer);
    ts->answer = NULL;
    ts->answer_len = 0;
    if (body && (ts->answer = malloc(len + 1)) != NULL) {
        memcpy(ts->answer, body, len);
        ts->answer[len] = '\0';
        ts->answer_len = len;
    }
    pthread_mutex_unlock(&ts->mu);
}

void ov_ts_set_delay_ms(ov_ts *ts, int ms)
{
    pthread_mutex_lock(&ts->mu);
    ts->delay_ms = ms;
    pthread_mutex_unlock(&ts->mu);
}

int ov_ts_down(ov_ts *ts)
{
    if (!ts->mhd)
        return -1;
    MHD_stop_daemon(ts->mhd);
    ts->mhd = NULL;
    return 0;
}

int ov_ts_up(ov_ts *ts)
{
    if (ts->mhd)
        return 0;
    int port = ts->port;
    /* The port may linger briefly after the stop: retry for up to 2 s. */
    for (int i = 0; i < 40; i++) {
        if (listen_on(ts, port) == 0 && ts->port == port)
            return 0;
        struct timespec d = {0, 50000000L};
        nanosleep(&d, NULL);
    }
    return -1;
}

int ov_ts_count(ov_ts *ts)
{
    pthread_mutex_lock(&ts->mu);
    int n = ts->n;
    pthread_mutex_unlock(&ts->mu);
    return n;
}

int ov_ts_count_ok(ov_ts *ts)
{
    pthread_mutex_lock(&ts->mu);
    int n = ts->n_ok;
    pthread_mutex_unlock(&ts->mu);
    return n;
}

int ov_ts_get(ov_ts *ts, int i, ov_ts_request *out)
{
    pthread_mutex_lock(&ts->mu);
    int rc = -1;
    if (i >= 0 && i < ts->n) {
        *out = *ts->reqs[i];
        out->body = malloc(out->body_len + 1);
        if (out->body) {
            if (out->body_len)
                memcpy(out->body, ts->reqs[i]->body, out->body_len);
            out->body[out->body_len] = '\0';
            rc = 0;
        }
    }
    pthread_mutex_unlock(&ts->mu);
    return rc;
}

void ov_ts_request_free(ov_ts_request *r)
{
    free(r->body);
    r->body = NULL;
}

void ov_ts_stop(ov_ts *ts)
{
    if (!ts)
        return;
    if (ts->mhd)
        MHD_stop_daemon(ts->mhd);
    for (int i = 0; i < ts->n; i++) {
        ov_ts_request_free(ts->reqs[i]);
        free(ts->reqs[i]);
    }
    free(ts->answer);
    pthread_mutex_destroy(&ts->mu);
    free(ts);
}
