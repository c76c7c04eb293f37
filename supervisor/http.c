/* HTTP surface on the loop: libmicrohttpd in external epoll mode, its epoll fd watched by one uv_poll. */
/*
 * Why external mode rather than MHD's own thread: every handler here reads supervisor state
 * (pool, metrics, job source) that lives on the libuv loop thread and is not locked. With MHD's
 * epoll fd under a uv_poll and MHD_run() called from the loop, handlers run on the loop thread and
 * need no hand-off; /enhance suspends its connection (MHD_suspend_connection) until the job ends,
 * so nothing ever blocks the loop. MHD_run() in external mode never waits.
 */
#include "http.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/log.h"

typedef struct hreq {
    ov_http *h;
    struct MHD_Connection *conn;
    int kind; /* 0 other, 1 enhance */
    ov_buf body;
    int too_big;
    int suspended;
    int has_token;
    uint64_t token;
    uint64_t deadline_ms;
    uint64_t start_ns;
    int reply_status; /* set when the enhancement ended */
    char *reply;
    char *prompt;
    char model[64];
    struct hreq *prev, *next; /* pending enhancements */
} hreq;

struct ov_http {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;    /* MHD's own timeouts */
    uv_timer_t deadline; /* enhance deadlines, while any is pending */
    int port;
    char *key;
    size_t key_len;
    int64_t enhance_timeout_ms;
    ov_http_hooks hooks;
    hreq *pending;
    int closing, open_handles;
};

static void http_run(ov_http *h);
static void on_mhd_timer(uv_timer_t *t);

/* ---- responses ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    json_t *o = json_pack("{s:b,s:s}", "success", 0, "error", msg);
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    enum MHD_Result ok = reply(c, status, "application/json", t ? t : "{\"success\":false}");
    free(t);
    json_decref(o);
    return ok;
}

/* ---- /health ---- */

static const char *st_name(int s)
{
    return s == 0 ? "pass" : s == 1 ? "warn" : "fail";
}

int ov_http_health_json(const ov_http_health *hh, ov_buf *out, int *http_status)
{
    json_t *root = json_object(), *checks = json_object();
    int worst = 0, e = !root || !checks;
    for (int k = 0; k < OV_KIND_COUNT && !e; k++) {
        const ov_http_worker_facts *w = &hh->kinds[k];
        if (w->configured <= 0)
            continue;
        int s = 0;
        if (w->ready + w->busy == 0)
            s = w->starting > 0 ? 1 : 2;
        else if (w->failed > 0 || w->starting > 0)
            s = 1;
        worst = s > worst ? s : worst;
        char name[32];
        snprintf(name, sizeof name, "workers:%s", ov_kind_name(k));
        json_t *c = json_pack("[{s:s,s:s,s:i,s:s,s:i,s:i,s:i,s:i}]", "componentType", "worker", "status",
                              st_name(s), "observedValue", w->ready, "observedUnit", "ready workers", "busy",
                              w->busy, "starting", w->starting, "failed", w->failed, "configured", w->configured);
        e |= !c || json_object_set_new(checks, name, c) != 0;
    }
    if (!e && hh->queue_ok >= 0) {
        int s = hh->queue_ok ? 0 : 2;
        worst = s > worst ? s : worst;
        json_t *c = json_pack("[{s:s,s:s,s:s}]", "componentType", "datastore", "status", st_name(s), "output",
                              hh->queue_detail);
        e |= !c || json_object_set_new(checks, "queue:connection", c) != 0;
    }
    if (!e && hh->storage_ok >= 0) {
        int s = hh->storage_ok ? 0 : 2;
        worst = s > worst ? s : worst;
        json_t *c = json_pack("[{s:s,s:s,s:s}]", "componentType", "datastore", "status", st_name(s), "output",
                              hh->storage_detail);
        e |= !c || json_object_set_new(checks, "storage:backend", c) != 0;
    }
    if (!e) {
        json_t *c = json_pack("[{s:s,s:f,s:s}]", "status", "pass", "observedValue", hh->uptime_s, "observedUnit", "s");
        e |= !c || json_object_set_new(checks, "supervisor:uptime", c) != 0;
    }
    if (!e && hh->draining && worst < 1)
        worst = 1;
    if (!e) {
        e |= json_object_set_new(root, "status", json_string(st_name(worst))) != 0;
        e |= json_object_set_new(root, "version", json_string("1")) != 0;
        e |= json_object_set_new(root, "description", json_string(hh->draining ? "ourvidz (draining)" : "ourvidz")) != 0;
        e |= json_object_set(root, "checks", checks) != 0;
    }
    char *t = e ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(checks);
    json_decref(root);
    if (!t)
        return OV_ENOMEM;
    int rc = ov_buf_puts(out, t);
    free(t);
    *http_status = worst == 2 ? 503 : 200;
    return rc;
}

static enum MHD_Result serve_health(ov_http *h, struct MHD_Connection *c)
{
    ov_http_health hh;
    memset(&hh, 0, sizeof hh);
    hh.queue_ok = -1;
    hh.storage_ok = -1;
    if (h->hooks.health)
        h->hooks.health(h->hooks.ctx, &hh);
    ov_buf out;
    ov_buf_init(&out, 64 * 1024);
    int status = 500;
    enum MHD_Result ok;
    if (ov_http_health_json(&hh, &out, &status) == 0)
        ok = reply(c, (unsigned)status, "application/health+json", out.data);
    else
        ok = reply(c, 500, "application/health+json", "{\"status\":\"fail\"}");
    ov_buf_free(&out);
    return ok;
}

static enum MHD_Result serve_metrics(ov_http *h, struct MHD_Connection *c)
{
    ov_buf out;
    ov_buf_init(&out, 8u << 20);
    int rc = h->hooks.metrics ? h->hooks.metrics(h->hooks.ctx, &out) : 0;
    enum MHD_Result ok = rc == 0 ? reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", out.len ? out.data : "")
                                 : reply(c, 500, "text/plain", "metrics unavailable\n");
    ov_buf_free(&out);
    return ok;
}

/* ---- /enhance ---- */

/* Constant time over the expected key's length: the comparison reveals nothing about how much of
 * a wrong key matched. */
static int key_matches(const ov_http *h, const char *given)
{
    size_t gn = strlen(given);
    unsigned d = (unsigned)(gn != h->key_len);
    for (size_t i = 0; i < h->key_len; i++)
        d |= (unsigned char)(i < gn ? given[i] : 0) ^ (unsigned char)h->key[i];
    return d == 0;
}

static int authorized(const ov_http *h, struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return 0;
    a += 7;
    while (*a == ' ')
        a++;
    return key_matches(h, a);
}

static void pending_unlink(ov_http *h, hreq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (h->pending == r)
        h->pending = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    if (!h->pending && !h->closing)
        uv_timer_stop(&h->deadline);
}

/* Resume a suspended request with its answer ready in r->reply. */
static void finish_enhance(hreq *r, int status, char *body)
{
    ov_http *h = r->h;
    r->reply_status = status;
    r->reply = body;
    r->has_token = 0;
    pending_unlink(h, r);
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
        /* Let MHD see the resumed connection on the next loop turn. */
        if (!h->closing)
            uv_timer_start(&h->timer, on_mhd_timer, 0, 0);
    }
}

static void on_enhance_done(void *req, int status, const char *enhanced, const char *error)
{
    hreq *r = req;
    double secs = (double)(uv_hrtime() - r->start_ns) / 1e9;
    json_t *o;
    if (status == 0 && enhanced && *enhanced && strcmp(enhanced, r->prompt) != 0) {
        o = json_pack("{s:b,s:s,s:s,s:s,s:f,s:s,s:b,s:b,s:s}", "success", 1, "enhanced_prompt", enhanced,
                      "original_prompt", r->prompt, "enhancement_source", "qwen_base", "processing_time", secs,
                      "model", r->model, "enhancement_applied", 1, "model_was_loaded", 1, "worker", "wan");
    } else {
        /* As the old worker: no change (or an error) is success:false with the original prompt, 200. */
        o = json_pack("{s:b,s:s,s:s,s:s,s:f,s:s,s:b,s:s,s:s}", "success", 0, "enhanced_prompt", r->prompt,
                      "original_prompt", r->prompt, "enhancement_source", "qwen_base", "processing_time", secs,
                      "model", r->model, "enhancement_applied", 0, "worker", "wan", "error",
                      status == 0 ? "enhancement returned the prompt unchanged" : (error ? error : "enhancement failed"));
    }
    char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    finish_enhance(r, t ? 200 : 500, t);
}

static void on_deadline(uv_timer_t *t)
{
    ov_http *h = t->data;
    uint64_t now = uv_now(h->loop);
    for (hreq *r = h->pending, *nx; r; r = nx) {
        nx = r->next;
        if (now < r->deadline_ms)
            continue;
        if (r->has_token && h->hooks.enhance_cancel)
            h->hooks.enhance_cancel(h->hooks.ctx, r->token);
        ov_log(OV_LOG_WARN, "enhance_timeout", "timeout_ms=%lld", (long long)h->enhance_timeout_ms);
        finish_enhance(r, 504, strdup("{\"success\":false,\"error\":\"enhancement timed out\"}"));
    }
}

static enum MHD_Result start_enhance(ov_http *h, hreq *r)
{
    struct MHD_Connection *c = r->conn;
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return reply_error(c, 400, "body must be a JSON object");
    }
    json_t *p = json_object_get(j, "prompt"), *m = json_object_get(j, "model"), *et = json_object_get(j, "enhance_type");
    if (!json_is_string(p) || json_string_length(p) == 0) {
        json_decref(j);
        return reply_error(c, 400, "prompt: required non-empty string");
    }
    if (json_string_length(p) > OV_HTTP_PROMPT_MAX || strlen(json_string_value(p)) != json_string_length(p)) {
        json_decref(j);
        return reply_error(c, 400, "prompt: too long or contains NUL");
    }
    if ((m && !json_is_string(m)) || (et && !json_is_string(et))) {
        json_decref(j);
        return reply_error(c, 400, "model and enhance_type must be strings");
    }
    r->prompt = strdup(json_string_value(p));
    snprintf(r->model, sizeof r->model, "%s", m ? json_string_value(m) : "qwen_base");
    char etype[64];
    snprintf(etype, sizeof etype, "%s", et ? json_string_value(et) : "base");
    json_decref(j);
    if (!r->prompt)
        return reply_error(c, 500, "out of memory");
    if (!h->hooks.enhance)
        return reply_error(c, 503, "no prompt enhancer in this supervisor");
    r->start_ns = uv_hrtime();
    int rc = h->hooks.enhance(h->hooks.ctx, r->prompt, etype, on_enhance_done, r, &r->token);
    if (rc == OV_EUNSUPP)
        return reply_error(c, 503, "no qwen worker is configured");
    if (rc != 0)
        return reply_error(c, 500, ov_strerror(rc));
    r->has_token = 1;
    r->deadline_ms = uv_now(h->loop) + (uint64_t)h->enhance_timeout_ms;
    r->next = h->pending;
    if (h->pending)
        h->pending->prev = r;
    h->pending = r;
    if (!uv_is_active((uv_handle_t *)&h->deadline))
        uv_timer_start(&h->deadline, on_deadline, 100, 100);
    r->suspended = 1;
    MHD_suspend_connection(c);
    return MHD_YES;
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    ov_http *h = cls;
    hreq *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->h = h;
        r->conn = c;
        ov_buf_init(&r->body, OV_HTTP_BODY_MAX);
        *con_cls = r;
        int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (strcmp(url, "/health") == 0)
            return is_get ? serve_health(h, c) : reply(c, 405, "text/plain", "method not allowed\n");
        if (strcmp(url, "/metrics") == 0)
            return is_get ? serve_metrics(h, c) : reply(c, 405, "text/plain", "method not allowed\n");
        if (strcmp(url, "/enhance") != 0)
            return reply(c, 404, "text/plain", "not found\n");
        if (strcmp(method, "POST") != 0)
            return reply(c, 405, "text/plain", "method not allowed\n");
        if (!h->key)
            return reply_error(c, 503, "disabled: WAN_WORKER_API_KEY not set");
        if (!authorized(h, c)) {
            ov_log(OV_LOG_WARN, "http_unauthorized", "path=/enhance");
            return reply_error(c, 401, "unauthorized");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > OV_HTTP_BODY_MAX)
            return reply_error(c, 413, "body too large");
        r->kind = 1;
        return MHD_YES;
    }
    if (r->kind != 1)
        return MHD_NO; /* answered on the first call; nothing more expected */
    if (*upload_size) {
        if (!r->too_big && ov_buf_append(&r->body, upload, *upload_size) != 0)
            r->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->reply) {
        enum MHD_Result ok = reply(c, (unsigned)r->reply_status, "application/json", r->reply);
        free(r->reply);
        r->reply = NULL;
        return ok;
    }
    if (r->suspended || r->has_token)
        return MHD_YES;
    if (r->too_big)
        return reply_error(c, 413, "body too large");
    return start_enhance(h, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)c, (void)t;
    ov_http *h = cls;
    hreq *r = *con_cls;
    if (!r)
        return;
    if (r->has_token && h->hooks.enhance_cancel)
        h->hooks.enhance_cancel(h->hooks.ctx, r->token);
    pending_unlink(h, r);
    ov_buf_free(&r->body);
    free(r->reply);
    free(r->prompt);
    free(r);
    *con_cls = NULL;
}

/* ---- loop integration ---- */

static void on_mhd_timer(uv_timer_t *t)
{
    http_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status, (void)events;
    http_run(p->data);
}

static void http_run(ov_http *h)
{
    if (h->closing)
        return;
    MHD_run(h->mhd);
    MHD_UNSIGNED_LONG_LONG to = 0;
    if (MHD_get_timeout(h->mhd, &to) == MHD_YES)
        uv_timer_start(&h->timer, on_mhd_timer, (uint64_t)to, 0);
    else
        uv_timer_stop(&h->timer);
}

int ov_http_start(ov_http **out, uv_loop_t *loop, const char *bind, int port, const ov_http_hooks *hooks, char *err,
                  size_t errlen)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind && *bind ? bind : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(err, errlen, "http.bind: not an IPv4 address: %s", bind);
        return OV_ECONFIG;
    }
    ov_http *h = calloc(1, sizeof *h);
    if (!h)
        return OV_ENOMEM;
    h->loop = loop;
    h->enhance_timeout_ms = OV_HTTP_ENHANCE_TIMEOUT_MS;
    if (hooks)
        h->hooks = *hooks;
    const char *key = getenv("WAN_WORKER_API_KEY");
    if (key && *key) {
        h->key = strdup(key);
        h->key_len = strlen(key);
        ov_log_add_secret(key);
    }
    h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                              NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)OV_HTTP_CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)OV_HTTP_CONNECTION_TIMEOUT_S,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_END);
    if (!h->mhd) {
        snprintf(err, errlen, "cannot listen on %s:%d", bind && *bind ? bind : "127.0.0.1", port);
        free(h->key);
        free(h);
        return OV_EIO;
    }
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    h->port = pi ? pi->port : port;
    if (!ei || uv_poll_init(loop, &h->poll, ei->epoll_fd) != 0) {
        snprintf(err, errlen, "libmicrohttpd gave no epoll fd");
        MHD_stop_daemon(h->mhd);
        free(h->key);
        free(h);
        return OV_EIO;
    }
    h->poll.data = h;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_timer_init(loop, &h->deadline);
    h->deadline.data = h;
    h->open_handles = 3;
    uv_poll_start(&h->poll, UV_READABLE, on_poll);
    http_run(h);
    ov_log(OV_LOG_NOTICE, "http_listening", "bind=%s port=%d enhance=%s", bind && *bind ? bind : "127.0.0.1", h->port,
           h->key ? "on" : "disabled (WAN_WORKER_API_KEY not set)");
    *out = h;
    return 0;
}

int ov_http_port(const ov_http *h)
{
    return h->port;
}

void ov_http_set_enhance_timeout(ov_http *h, int64_t ms)
{
    h->enhance_timeout_ms = ms > 0 ? ms : 1;
}

static void on_closed(uv_handle_t *hd)
{
    ov_http *h = hd->data;
    if (--h->open_handles == 0) {
        free(h->key);
        free(h);
    }
}

void ov_http_close(ov_http *h)
{
    if (!h || h->closing)
        return;
    /* Cancel enhancements first (their done callbacks must not arrive after this). */
    for (hreq *r = h->pending; r; r = r->next)
        if (r->has_token && h->hooks.enhance_cancel) {
            h->hooks.enhance_cancel(h->hooks.ctx, r->token);
            r->has_token = 0;
        }
    h->closing = 1;
    uv_poll_stop(&h->poll);
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->timer, on_closed);
    uv_close((uv_handle_t *)&h->deadline, on_closed);
    /* Suspended connections must be resumed before MHD can close them. */
    for (hreq *r = h->pending; r; r = r->next)
        if (r->suspended) {
            r->suspended = 0;
            MHD_resume_connection(r->conn);
        }
    MHD_stop_daemon(h->mhd); /* runs on_completed for every connection (frees the requests) */
    h->mhd = NULL;
}
