/* HTTP client: the libcurl multi-socket API on libuv (the curl multi-uv.c pattern), with capped bodies. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    ov_hc *hc;
    struct sock_ctx *prev, *next;
} sock_ctx;

struct ov_hc_req {
    ov_hc *hc;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    FILE *file;
    ov_buf resp;
    char errbuf[CURL_ERROR_SIZE];
    ov_hc_done_cb done;
    void *ctx;
    ov_hc_req *prev, *next;
};

struct ov_hc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    sock_ctx *socks;
    ov_hc_req *reqs;
    int nreqs;
    int open_handles; /* uv handles not closed yet (timer + polls) */
    int closing;
};

static void hc_maybe_free(ov_hc *hc)
{
    if (hc->closing && hc->open_handles == 0)
        free(hc);
}

static void on_handle_closed(uv_handle_t *h)
{
    ov_hc *hc;
    if (h->type == UV_POLL) {
        sock_ctx *sc = h->data;
        hc = sc->hc;
        free(sc);
    } else {
        hc = h->data;
    }
    hc->open_handles--;
    hc_maybe_free(hc);
}

static void sock_close(sock_ctx *sc)
{
    ov_hc *hc = sc->hc;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        hc->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, on_handle_closed);
}

static void req_free(ov_hc_req *r)
{
    ov_hc *hc = r->hc;
    if (r->prev)
        r->prev->next = r->next;
    else
        hc->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    hc->nreqs--;
    if (r->easy) {
        curl_multi_remove_handle(hc->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body);
    if (r->file)
        fclose(r->file);
    ov_buf_free(&r->resp);
    free(r);
}

/* Finished transfers: report and free each one. */
static void check_done(ov_hc *hc)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(hc->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        ov_hc_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        CURLcode cc = msg->data.result;
        ov_hc_result res = {0};
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        res.http_status = code;
        res.body = r->resp.len ? r->resp.data : "";
        res.body_len = r->resp.len;
        if (cc == CURLE_OK) {
            res.status = 0;
            res.error = "";
        } else {
            res.status = cc == CURLE_OPERATION_TIMEDOUT ? OV_ETIMEDOUT : OV_EIO;
            res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
        }
        ov_hc_done_cb done = r->done;
        void *ctx = r->ctx;
        /* Remove from the multi before the callback so it may start new transfers freely. */
        curl_multi_remove_handle(hc->multi, r->easy);
        done(ctx, &res);
        if (hc->closing)
            return; /* the callback closed the client: every request is already freed */
        req_free(r);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_ctx *sc = p->data;
    ov_hc *hc = sc->hc;
    int flags = 0, running = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(hc->multi, sc->fd, flags, &running);
    check_done(hc);
}

static void on_timer(uv_timer_t *t)
{
    ov_hc *hc = t->data;
    int running = 0;
    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(hc);
}

static int cb_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    ov_hc *hc = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&hc->timer);
    else if (!hc->closing)
        uv_timer_start(&hc->timer, on_timer, (uint64_t)timeout_ms, 0); /* 0: next loop turn */
    return 0;
}

static int cb_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    ov_hc *hc = userp;
    sock_ctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            curl_multi_assign(hc->multi, s, NULL);
            sock_close(sc);
        }
        return 0;
    }
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc)
            return -1;
        if (uv_poll_init_socket(hc->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->fd = s;
        sc->hc = hc;
        sc->poll.data = sc;
        sc->next = hc->socks;
        if (hc->socks)
            hc->socks->prev = sc;
        hc->socks = sc;
        hc->open_handles++;
        curl_multi_assign(hc->multi, s, sc);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

static size_t cb_write(char *p, size_t size, size_t n, void *userp)
{
    ov_hc_req *r = userp;
    size_t len = size * n;
    size_t room = OV_HC_RESPONSE_MAX - r->resp.len;
    ov_buf_append(&r->resp, p, len < room ? len : room); /* the rest is dropped, not an error */
    return len;
}

static size_t cb_read(char *p, size_t size, size_t n, void *userp)
{
    ov_hc_req *r = userp;
    size_t got = fread(p, 1, size * n, r->file);
    if (got == 0 && ferror(r->file))
        return CURL_READFUNC_ABORT;
    return got;
}

int ov_hc_init(ov_hc **out, uv_loop_t *loop)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return OV_EIO;
        global_done = 1;
    }
    ov_hc *hc = calloc(1, sizeof *hc);
    if (!hc)
        return OV_ENOMEM;
    hc->loop = loop;
    hc->multi = curl_multi_init();
    if (!hc->multi) {
        free(hc);
        return OV_EIO;
    }
    uv_timer_init(loop, &hc->timer);
    hc->timer.data = hc;
    hc->open_handles = 1;
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, cb_socket);
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, cb_timer);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
    *out = hc;
    return 0;
}

int ov_hc_start(ov_hc *hc, const ov_hc_opts *o, ov_hc_done_cb done, void *ctx, ov_hc_req **req_out)
{
    if (!o || !o->url || !done || hc->closing)
        return OV_EINVAL;
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return OV_EINVAL;
    ov_hc_req *r = calloc(1, sizeof *r);
    if (!r)
        return OV_ENOMEM;
    r->hc = hc;
    r->done = done;
    r->ctx = ctx;
    ov_buf_init(&r->resp, OV_HC_RESPONSE_MAX + 1);
    r->next = hc->reqs;
    if (hc->reqs)
        hc->reqs->prev = r;
    hc->reqs = r;
    hc->nreqs++;
    int rc = OV_ENOMEM;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto fail;
    CURL *e = r->easy;
    const char *method = o->method ? o->method : "POST";
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cb_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    int64_t t = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(t < 10000 ? t : 10000));
    for (int i = 0; i < OV_HC_HEADERS_MAX && o->headers[i]; i++) {
        struct curl_slist *nl = curl_slist_append(r->headers, o->headers[i]);
        if (!nl)
            goto fail;
        r->headers = nl;
    }
    /* No "Expect: 100-continue" round trip: bodies go out at once. */
    struct curl_slist *nl = curl_slist_append(r->headers, "Expect:");
    if (!nl)
        goto fail;
    r->headers = nl;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (o->body_file) {
            struct stat st;
            r->file = fopen(o->body_file, "rb");
            if (!r->file || fstat(fileno(r->file), &st) != 0 || !S_ISREG(st.st_mode)) {
                rc = OV_ENOENT;
                goto fail;
            }
            curl_easy_setopt(e, CURLOPT_READFUNCTION, cb_read);
            curl_easy_setopt(e, CURLOPT_READDATA, r);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
        } else {
            size_t n = o->body ? o->body_len : 0;
            r->body = malloc(n + 1);
            if (!r->body)
                goto fail;
            if (n)
                memcpy(r->body, o->body, n);
            r->body[n] = '\0';
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        }
    }
    if (curl_multi_add_handle(hc->multi, e) != CURLM_OK) {
        rc = OV_EIO;
        goto fail;
    }
    if (req_out)
        *req_out = r;
    return 0;
fail:
    if (r->easy) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    req_free(r);
    return rc;
}

void ov_hc_cancel(ov_hc_req *r)
{
    if (r)
        req_free(r);
}

int ov_hc_active(const ov_hc *hc)
{
    return hc->nreqs;
}

void ov_hc_close(ov_hc *hc)
{
    if (!hc || hc->closing)
        return;
    hc->closing = 1;
    while (hc->reqs)
        req_free(hc->reqs);
    uv_timer_stop(&hc->timer);
    curl_multi_cleanup(hc->multi); /* may report CURL_POLL_REMOVE for cached connections */
    hc->multi = NULL;
    while (hc->socks)
        sock_close(hc->socks);
    uv_close((uv_handle_t *)&hc->timer, on_handle_closed);
}
