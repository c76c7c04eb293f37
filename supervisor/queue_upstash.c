/* Upstash REST queue transport: JSON-array commands over libcurl, and a polling claimer (LMOVE + CLAIM). */
#include "queue_upstash.h"

/* Upstash's REST API takes one Redis command as a JSON array POSTed to the base URL
 * (["LMOVE", "q", "p", "RIGHT", "LEFT"]) with "Authorization: Bearer <token>", and answers
 * {"result": ...} or {"error": "..."}. Blocking pops don't work over it, so the poller uses
 * non-blocking LMOVE and backs off while the queue is idle: each empty poll doubles the delay from
 * poll_min to poll_max, a job resets it (and the next poll runs at once). That keeps an idle
 * supervisor at about 86400 / poll_max requests a day, inside Upstash's free-tier quota.
 *
 * Claims use the very scripts of the native transport (queue_scripts.h, sent with EVAL): the
 * payload moves atomically queue -> P:proc:<sid>:<queue> (LMOVE), then CLAIM moves it into a
 * leased, token-owned claim record; RENEW registers the processing list and the liveness key
 * before the first LMOVE (invariant I3 of queue_redis.c), and again every lease/3. A CLAIM whose
 * answer is lost is re-sent with the same token (CLAIM is idempotent for it) before the next
 * LMOVE, so a payload popped by this process is never left behind while it lives; if it dies,
 * MAINT (run by any supervisor on the same Redis) returns the processing list to the queue. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "common/error.h"
#include "common/log.h"
#include "queue_scripts.h"
#include "queue_redis.h"
#include "strcopy.h"

#define URL_MAX 1024
#define TOKEN_MAX 512
#define KEY_MAX 256
#define PAYLOAD_MAX (OV_HC_RESPONSE_MAX - 64)

struct ov_upstash_req {
    ov_upstash *u;
    ov_hc_req *hr;
    ov_upstash_cb cb;
    void *ctx;
    struct ov_upstash_req *prev, *next;
};

struct ov_upstash {
    ov_hc *hc;
    char url[URL_MAX];
    char auth[TOKEN_MAX + 32];
    int64_t timeout_ms;
    int64_t requests;
    ov_upstash_req *reqs;
};

int ov_upstash_new(ov_hc *hc, const char *url, const char *token, int64_t timeout_ms, ov_upstash **out)
{
    *out = NULL;
    if (!hc || !url || !token || !token[0] || strlen(token) >= TOKEN_MAX || strlen(url) >= URL_MAX ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return OV_EINVAL;
    ov_upstash *u = calloc(1, sizeof *u);
    if (!u)
        return OV_ENOMEM;
    u->hc = hc;
    ov_str_copy(u->url, sizeof u->url, url);
    size_t n = strlen(u->url);
    while (n > 0 && u->url[n - 1] == '/') /* base URL: the command goes in the body */
        u->url[--n] = '\0';
    snprintf(u->auth, sizeof u->auth, "Authorization: Bearer %s", token);
    u->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    ov_log_add_secret(token);
    *out = u;
    return 0;
}

static void req_unlink(ov_upstash_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->u->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void on_http(void *ctx, const ov_hc_result *res)
{
    ov_upstash_req *r = ctx;
    req_unlink(r);
    ov_upstash_cb cb = r->cb;
    void *cctx = r->ctx;
    free(r);
    char why[160];
    if (res->status != 0) {
        cb(cctx, res->status, NULL, res->error);
        return;
    }
    if (res->body_len >= OV_HC_RESPONSE_MAX) { /* the client keeps only this much: cut short */
        cb(cctx, OV_ERANGE, NULL, "answer over the HTTP client's response cap");
        return;
    }
    if (res->http_status == 401 || res->http_status == 403) {
        snprintf(why, sizeof why, "HTTP %ld: the REST token was rejected", res->http_status);
        cb(cctx, OV_ECONFIG, NULL, why);
        return;
    }
    json_error_t jerr;
    json_t *root = res->body_len ? json_loadb(res->body, res->body_len, JSON_DECODE_ANY, &jerr) : NULL;
    json_t *err = json_is_object(root) ? json_object_get(root, "error") : NULL;
    json_t *result = json_is_object(root) ? json_object_get(root, "result") : NULL;
    if (json_is_string(err)) {
        cb(cctx, OV_EPROTO, NULL, json_string_value(err));
    } else if (res->http_status < 200 || res->http_status >= 300) {
        snprintf(why, sizeof why, "HTTP %ld", res->http_status);
        cb(cctx, OV_EIO, NULL, why);
    } else if (!result) {
        cb(cctx, OV_EPROTO, NULL, "answer without result");
    } else {
        cb(cctx, 0, result, "");
    }
    json_decref(root);
}

int ov_upstash_cmd(ov_upstash *u, int argc, const char *const *argv, const size_t *lens, ov_upstash_cb cb,
                   void *ctx, ov_upstash_req **req_out)
{
    if (req_out)
        *req_out = NULL;
    if (argc < 1 || argc > OV_UPSTASH_ARGS_MAX || !cb)
        return OV_EINVAL;
    json_t *arr = json_array();
    if (!arr)
        return OV_ENOMEM;
    for (int i = 0; i < argc; i++) {
        json_t *s = json_stringn(argv[i], lens ? lens[i] : strlen(argv[i]));
        if (!s || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return OV_EINVAL; /* not UTF-8 (or out of memory) */
        }
    }
    char *body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!body)
        return OV_ENOMEM;
    ov_upstash_req *r = calloc(1, sizeof *r);
    if (!r) {
        free(body);
        return OV_ENOMEM;
    }
    r->u = u;
    r->cb = cb;
    r->ctx = ctx;
    ov_hc_opts o = {.method = "POST",
                    .url = u->url,
                    .headers = {u->auth, "Content-Type: application/json", NULL},
                    .body = body,
                    .body_len = strlen(body),
                    .timeout_ms = u->timeout_ms};
    int rc = ov_hc_start(u->hc, &o, on_http, r, &r->hr);
    free(body);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->next = u->reqs;
    if (u->reqs)
        u->reqs->prev = r;
    u->reqs = r;
    u->requests++;
    if (req_out)
        *req_out = r;
    return 0;
}

void ov_upstash_cancel(ov_upstash_req *r)
{
    if (!r)
        return;
    ov_hc_cancel(r->hr);
    req_unlink(r);
    free(r);
}

int64_t ov_upstash_requests(const ov_upstash *u)
{
    return u->requests;
}

void ov_upstash_free(ov_upstash *u)
{
    if (!u)
        return;
    while (u->reqs)
        ov_upstash_cancel(u->reqs);
    free(u);
}

/* ---------- the poller ---------- */

enum { P_RENEW, P_SCAN, P_LMOVE, P_CLAIM, P_DEAD };

/* A payload too large to come back over REST (the answer is capped at OV_HC_RESPONSE_MAX) would
 * block its queue: it is moved, unread, from the processing list to the dead-letter list. */
#define LUA_DEAD_TAIL                                                                                        \
    "local v = redis.call('RPOP', KEYS[1])\n"                                                                \
    "if not v then return -1 end\n"                                                                          \
    "redis.call('LPUSH', KEYS[2], cjson.encode({job_id = '', queue = ARGV[2], reason = ARGV[1],\n"           \
    "  attempts = 0, payload = v}))\n"                                                                       \
    "redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)\n"                                               \
    "return string.len(v)\n"
#define DEAD_MAX "10000"

struct ov_upstash_poller {
    uv_timer_t t;
    ov_upstash *u;
    ov_upstash_claim_cb cb;
    void *ctx;
    char prefix[64], sid[64], queue[64];
    char k_proc[KEY_MAX], k_leases[KEY_MAX], k_alive[KEY_MAX], k_procs[KEY_MAX], k_attempts[KEY_MAX];
    int64_t lease_ms, poll_min, poll_max, delay;
    int err_step;
    int registered;
    int register_once;
    int want;     /* claim when 1; when 0 sleep after the step in flight (no requests) */
    int oversize; /* the processing list's tail could not be read: dead-letter it */
    int scan;     /* look in the processing list before the next LMOVE (start, lost LMOVE answer) */
    uint64_t renewed_ms;
    int phase; /* what the request in flight is */
    ov_upstash_req *inflight;
    /* A popped payload whose CLAIM is not confirmed yet (re-sent with the same token). */
    char *payload;
    size_t payload_len;
    char cid[40], token[112], job_id[128];
    int64_t polls;
    uint64_t rng;
    int auth_logged;
    int stopping;
};

static uint64_t rng_next(ov_upstash_poller *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 2685821657736338717ULL;
}

static void poll_step(ov_upstash_poller *p);

static void on_timer(uv_timer_t *t)
{
    poll_step(t->data);
}

static void schedule(ov_upstash_poller *p, int64_t ms)
{
    if (!p->stopping)
        uv_timer_start(&p->t, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

static void on_error(ov_upstash_poller *p, int status, const char *error)
{
    int64_t d = ov_backoff_delay_ms(p->poll_min, p->poll_max, p->err_step,
                                    (double)(rng_next(p) >> 11) / 9007199254740992.0);
    if (p->err_step < 30)
        p->err_step++;
    if (p->phase == P_LMOVE)
        p->scan = 1; /* the move may have happened with its answer lost */
    if (status == OV_ERANGE && (p->phase == P_LMOVE || p->phase == P_SCAN)) {
        p->oversize = 1;
        p->err_step = 0;
        schedule(p, 0);
        return;
    }
    if (status == OV_ECONFIG) {
        d = p->poll_max;
        if (!p->auth_logged)
            ov_log(OV_LOG_ERR, "upstash_auth_failed",
                   "queue=%s error=\"%s\" hint=\"check UPSTASH_REDIS_REST_TOKEN\"", p->queue, error);
        p->auth_logged = 1;
    } else {
        char esc[256];
        ov_log(OV_LOG_WARN, "upstash_request_failed", "queue=%s status=%s error=\"%s\" retry_ms=%lld",
               p->queue, ov_errname(status), ov_log_escape(esc, sizeof esc, error ? error : ""),
               (long long)d);
    }
    schedule(p, d);
}

static void new_claim_ids(ov_upstash_poller *p)
{
    uint64_t a = rng_next(p), b = rng_next(p);
    snprintf(p->cid, sizeof p->cid, "%016llx%08llx", (unsigned long long)a, (unsigned long long)(b >> 32));
    snprintf(p->token, sizeof p->token, "%s.%016llx", p->sid, (unsigned long long)rng_next(p));
    p->job_id[0] = '\0';
    json_t *j = json_loadb(p->payload, p->payload_len, 0, NULL);
    json_t *id = json_is_object(j) ? json_object_get(j, "id") : NULL;
    if (json_is_string(id) && json_string_length(id) > 0 && json_string_length(id) < sizeof p->job_id &&
        !memchr(json_string_value(id), '\0', json_string_length(id)))
        ov_str_copy(p->job_id, sizeof p->job_id, json_string_value(id));
    json_decref(j);
}

/* A payload now in the processing list: claim it next (CLAIM with fresh ids). */
static void take_payload(ov_upstash_poller *p, json_t *result)
{
    p->payload_len = json_string_length(result);
    p->payload = malloc(p->payload_len + 1);
    if (!p->payload) {
        on_error(p, OV_ENOMEM, "payload");
        return;
    }
    memcpy(p->payload, json_string_value(result), p->payload_len);
    p->payload[p->payload_len] = '\0';
    new_claim_ids(p);
    poll_step(p); /* CLAIM */
}

static void on_reply(void *ctx, int status, json_t *result, const char *error)
{
    ov_upstash_poller *p = ctx;
    p->inflight = NULL;
    if (status != 0) {
        on_error(p, status, error);
        return;
    }
    p->err_step = 0;
    if (p->auth_logged) {
        ov_log(OV_LOG_NOTICE, "upstash_auth_ok", "queue=%s", p->queue);
        p->auth_logged = 0;
    }
    switch (p->phase) {
    case P_RENEW:
        p->registered = 1;
        p->renewed_ms = uv_now(p->t.loop);
        poll_step(p);
        return;
    case P_LMOVE:
        if (json_is_null(result)) { /* idle: back off */
            int64_t d = p->delay;
            p->delay = p->delay * 2 > p->poll_max ? p->poll_max : p->delay * 2;
            schedule(p, d);
            return;
        }
        if (!json_is_string(result)) {
            on_error(p, OV_EPROTO, "LMOVE answered neither a string nor null");
            return;
        }
        take_payload(p, result);
        return;
    case P_SCAN:
        if (!json_is_array(result)) {
            on_error(p, OV_EPROTO, "LRANGE answered no array");
            return;
        }
        if (json_array_size(result) == 0) {
            p->scan = 0;
            poll_step(p);
            return;
        }
        if (!json_is_string(json_array_get(result, 0))) {
            on_error(p, OV_EPROTO, "LRANGE answered no string");
            return;
        }
        ov_log(OV_LOG_NOTICE, "upstash_claim_recovered",
               "queue=%s reason=\"payload left in the processing list\"", p->queue);
        take_payload(p, json_array_get(result, 0));
        return;
    case P_DEAD:
        p->oversize = 0;
        p->scan = 1;
        if (json_is_integer(result) && json_integer_value(result) >= 0)
            ov_log(OV_LOG_ERR, "upstash_payload_too_large", "queue=%s bytes=%lld limit=%u action=dead_letter",
                   p->queue, (long long)json_integer_value(result), OV_HC_RESPONSE_MAX);
        poll_step(p);
        return;
    case P_CLAIM: {
        long long n = json_is_integer(result) ? (long long)json_integer_value(result) : -1;
        if (n < 0) {
            on_error(p, OV_EPROTO, "CLAIM answered no integer");
            return;
        }
        if (n > 0) {
            ov_upstash_claim c = {.payload = p->payload,
                                  .payload_len = p->payload_len,
                                  .cid = p->cid,
                                  .token = p->token,
                                  .job_id = p->job_id,
                                  .attempts = (int)n};
            p->cb(p->ctx, &c);
        } else {
            ov_log(OV_LOG_WARN, "job_claim_lost", "cid=%s reason=\"processing list was reaped\"", p->cid);
        }
        free(p->payload);
        p->payload = NULL;
        p->delay = p->poll_min;
        schedule(p, 0); /* a job came: look for the next one at once */
        return;
    }
    }
}

static void poll_step(ov_upstash_poller *p)
{
    if (p->stopping || p->inflight || (!p->want && !p->payload))
        return;
    char n1[24], n3[24];
    int rc;
    uint64_t now = uv_now(p->t.loop);
    if (!p->registered || (!p->register_once && now - p->renewed_ms >= (uint64_t)(p->lease_ms / 3))) {
        p->phase = P_RENEW;
        snprintf(n1, sizeof n1, "%lld", (long long)p->lease_ms);
        const char *argv[] = {"EVAL",    OV_LUA_RENEW, "3",    p->k_leases, p->k_alive, p->k_procs,
                              p->prefix, n1,           p->sid, "1",         p->k_proc,  p->queue};
        rc = ov_upstash_cmd(p->u, 12, argv, NULL, on_reply, p, &p->inflight);
    } else if (p->payload) {
        p->phase = P_CLAIM;
        char k_claim[KEY_MAX], k_status[KEY_MAX], akey[160];
        snprintf(k_claim, sizeof k_claim, "%s:claim:%s", p->prefix, p->cid);
        snprintf(k_status, sizeof k_status, "%s:status:%s", p->prefix, p->job_id[0] ? p->job_id : "-");
        snprintf(akey, sizeof akey, p->job_id[0] ? "id:%s" : "cid:%s", p->job_id[0] ? p->job_id : p->cid);
        snprintf(n1, sizeof n1, "%lld", (long long)p->lease_ms);
        snprintf(n3, sizeof n3, "%d", OV_QREDIS_STATUS_TTL_S);
        const char *argv[] = {"EVAL",        OV_LUA_CLAIM, "5",        p->k_proc, k_claim,  p->k_leases,
                              p->k_attempts, k_status,     p->payload, p->cid,    p->token, p->sid,
                              p->queue,      n1,           akey,       p->job_id, n3};
        size_t lens[17];
        for (int i = 0; i < 17; i++)
            lens[i] = strlen(argv[i]);
        lens[8] = p->payload_len; /* argv[8] is the payload */
        rc = ov_upstash_cmd(p->u, 17, argv, lens, on_reply, p, &p->inflight);
    } else if (p->oversize) {
        p->phase = P_DEAD;
        char dk[KEY_MAX];
        snprintf(dk, sizeof dk, "%s:dead", p->prefix);
        const char *argv[] = {
            "EVAL",   LUA_DEAD_TAIL, "2", p->k_proc, dk, "payload too large for the REST transport",
            p->queue, DEAD_MAX};
        rc = ov_upstash_cmd(p->u, 8, argv, NULL, on_reply, p, &p->inflight);
    } else if (p->scan) {
        p->phase = P_SCAN;
        const char *argv[] = {"LRANGE", p->k_proc, "-1", "-1"};
        rc = ov_upstash_cmd(p->u, 4, argv, NULL, on_reply, p, &p->inflight);
    } else {
        p->phase = P_LMOVE;
        p->polls++;
        const char *argv[] = {"LMOVE", p->queue, p->k_proc, "RIGHT", "LEFT"};
        rc = ov_upstash_cmd(p->u, 5, argv, NULL, on_reply, p, &p->inflight);
    }
    if (rc != 0) {
        if (p->phase == P_CLAIM && rc == OV_EINVAL) {
            /* Not UTF-8: it cannot travel in a JSON body. It stays in the processing list, where
             * MAINT returns it to the queue once this process is gone; log it loudly. */
            ov_log(OV_LOG_ERR, "upstash_payload_unsendable", "queue=%s cid=%s bytes=%zu", p->queue, p->cid,
                   p->payload_len);
            free(p->payload);
            p->payload = NULL;
        }
        on_error(p, rc, "request not started");
    }
}

int ov_upstash_poller_start(uv_loop_t *loop, ov_upstash *u, const ov_upstash_poll_opts *o,
                            ov_upstash_claim_cb cb, void *ctx, ov_upstash_poller **out)
{
    *out = NULL;
    if (!loop || !u || !o || !cb || !o->prefix || !o->sid || !o->queue || !o->sid[0] || !o->queue[0] ||
        strlen(o->prefix) >= 64 || strlen(o->sid) >= 64 || strlen(o->queue) >= 64 || o->lease_ms < 3 ||
        o->poll_min_ms < 1 || o->poll_max_ms < o->poll_min_ms)
        return OV_EINVAL;
    ov_upstash_poller *p = calloc(1, sizeof *p);
    if (!p)
        return OV_ENOMEM;
    p->u = u;
    p->cb = cb;
    p->ctx = ctx;
    ov_str_copy(p->prefix, sizeof p->prefix, o->prefix);
    ov_str_copy(p->sid, sizeof p->sid, o->sid);
    ov_str_copy(p->queue, sizeof p->queue, o->queue);
    snprintf(p->k_proc, sizeof p->k_proc, "%s:proc:%s:%s", p->prefix, p->sid, p->queue);
    snprintf(p->k_leases, sizeof p->k_leases, "%s:leases", p->prefix);
    snprintf(p->k_alive, sizeof p->k_alive, "%s:alive:%s", p->prefix, p->sid);
    snprintf(p->k_procs, sizeof p->k_procs, "%s:procs", p->prefix);
    snprintf(p->k_attempts, sizeof p->k_attempts, "%s:attempts", p->prefix);
    p->lease_ms = o->lease_ms;
    p->poll_min = o->poll_min_ms;
    p->poll_max = o->poll_max_ms;
    p->delay = p->poll_min;
    p->register_once = o->register_once;
    p->scan = 1;
    p->want = 1;
    p->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)p) | 1;
    if (uv_timer_init(loop, &p->t) != 0) {
        free(p);
        return OV_EIO;
    }
    p->t.data = p;
    schedule(p, 0);
    *out = p;
    return 0;
}

void ov_upstash_poller_want(ov_upstash_poller *p, int want)
{
    if (!p || p->stopping || !!want == p->want)
        return;
    p->want = !!want;
    if (p->want && !p->inflight)
        schedule(p, 0); /* a worker is waiting: look now (the idle delay itself is kept) */
}

int64_t ov_upstash_poller_delay_ms(const ov_upstash_poller *p)
{
    return p->delay;
}

int64_t ov_upstash_poller_polls(const ov_upstash_poller *p)
{
    return p->polls;
}

static void on_closed(uv_handle_t *h)
{
    ov_upstash_poller *p = h->data;
    free(p->payload);
    free(p);
}

void ov_upstash_poller_stop(ov_upstash_poller *p)
{
    if (!p || p->stopping)
        return;
    p->stopping = 1;
    ov_upstash_cancel(p->inflight);
    p->inflight = NULL;
    uv_timer_stop(&p->t);
    uv_close((uv_handle_t *)&p->t, on_closed);
}

/* ---------- claim operations ---------- */

#define ARG_KEY(buf, fmt, ...) snprintf(buf, sizeof buf, fmt, __VA_ARGS__)

static int keys_ok(const char *prefix, const char *cid, const char *job_id)
{
    return prefix && cid && job_id && strlen(prefix) < 64 && strlen(cid) < 64 && strlen(job_id) < 128;
}

int ov_upstash_finish(ov_upstash *u, const char *prefix, const char *cid, const char *token,
                      const char *job_id, const char *final_state, const char *dead_entry, int64_t dead_max,
                      const char *error, ov_upstash_cb cb, void *ctx, ov_upstash_req **req_out)
{
    if (!keys_ok(prefix, cid, job_id) || !token || !final_state || !dead_entry || !error)
        return OV_EINVAL;
    char ck[KEY_MAX], sk[KEY_MAX], lk[KEY_MAX], ak[KEY_MAX], dk[KEY_MAX], n1[24], n2[24];
    ARG_KEY(ck, "%s:claim:%s", prefix, cid);
    ARG_KEY(sk, "%s:status:%s", prefix, job_id[0] ? job_id : "-");
    ARG_KEY(lk, "%s:leases", prefix);
    ARG_KEY(ak, "%s:attempts", prefix);
    ARG_KEY(dk, "%s:dead", prefix);
    snprintf(n1, sizeof n1, "%lld", (long long)dead_max);
    snprintf(n2, sizeof n2, "%d", OV_QREDIS_STATUS_TTL_S);
    const char *argv[] = {
        "EVAL", OV_LUA_FINISH, "5",         ck,         lk, ak, sk,    dk,
        token,  cid,           final_state, dead_entry, n1, n2, error, job_id[0] ? "1" : "0"};
    return ov_upstash_cmd(u, 16, argv, NULL, cb, ctx, req_out);
}

int ov_upstash_retry(ov_upstash *u, const char *prefix, const char *cid, const char *token,
                     const char *job_id, int64_t delay_ms, const char *reason, ov_upstash_cb cb, void *ctx,
                     ov_upstash_req **req_out)
{
    if (!keys_ok(prefix, cid, job_id) || !token || !reason)
        return OV_EINVAL;
    char ck[KEY_MAX], sk[KEY_MAX], lk[KEY_MAX], dk[KEY_MAX], n1[24], n2[24];
    ARG_KEY(ck, "%s:claim:%s", prefix, cid);
    ARG_KEY(sk, "%s:status:%s", prefix, job_id[0] ? job_id : "-");
    ARG_KEY(lk, "%s:leases", prefix);
    ARG_KEY(dk, "%s:delayed", prefix);
    snprintf(n1, sizeof n1, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
    snprintf(n2, sizeof n2, "%d", OV_QREDIS_STATUS_TTL_S);
    const char *argv[] = {"EVAL", OV_LUA_RETRY,         "4", ck, lk, dk, sk, token, cid, n1, reason,
                          n2,     job_id[0] ? "1" : "0"};
    return ov_upstash_cmd(u, 13, argv, NULL, cb, ctx, req_out);
}

int ov_upstash_renew(ov_upstash *u, const char *prefix, const char *sid, int64_t lease_ms, int nprocs,
                     const char *const *procs, const char *const *queues, int n, const char *const *cids,
                     const char *const *tokens, ov_upstash_cb cb, void *ctx, ov_upstash_req **req_out)
{
    if (!prefix || !sid || strlen(prefix) >= 64 || strlen(sid) >= 64 || n < 0 || n > OV_UPSTASH_RENEW_MAX ||
        (n > 0 && (!cids || !tokens)) || nprocs < 0 || nprocs > 4 || (nprocs > 0 && (!procs || !queues)))
        return OV_EINVAL;
    char lk[KEY_MAX], alk[KEY_MAX], pk[KEY_MAX], n1[24], n2[8];
    ARG_KEY(lk, "%s:leases", prefix);
    ARG_KEY(alk, "%s:alive:%s", prefix, sid);
    ARG_KEY(pk, "%s:procs", prefix);
    snprintf(n1, sizeof n1, "%lld", (long long)lease_ms);
    snprintf(n2, sizeof n2, "%d", nprocs);
    const char *argv[10 + 8 + 2 * OV_UPSTASH_RENEW_MAX];
    int argc = 0;
    argv[argc++] = "EVAL", argv[argc++] = OV_LUA_RENEW, argv[argc++] = "3";
    argv[argc++] = lk, argv[argc++] = alk, argv[argc++] = pk;
    argv[argc++] = prefix, argv[argc++] = n1, argv[argc++] = sid, argv[argc++] = n2;
    for (int i = 0; i < nprocs; i++)
        argv[argc++] = procs[i], argv[argc++] = queues[i];
    for (int i = 0; i < n; i++)
        argv[argc++] = cids[i], argv[argc++] = tokens[i];
    return ov_upstash_cmd(u, argc, argv, NULL, cb, ctx, req_out);
}

int ov_upstash_maint(ov_upstash *u, const char *prefix, const char *sid, int max_attempts, int64_t lease_ms,
                     const char *token_prefix, int limit, ov_upstash_cb cb, void *ctx,
                     ov_upstash_req **req_out)
{
    if (!prefix || !sid || !token_prefix || strlen(prefix) >= 64 || max_attempts < 1 || limit < 1)
        return OV_EINVAL;
    char lk[KEY_MAX], dk[KEY_MAX], pk[KEY_MAX], n1[24], n2[24], n3[24], n4[24];
    ARG_KEY(lk, "%s:leases", prefix);
    ARG_KEY(dk, "%s:delayed", prefix);
    ARG_KEY(pk, "%s:procs", prefix);
    snprintf(n1, sizeof n1, "%d", max_attempts);
    snprintf(n2, sizeof n2, "%lld", (long long)lease_ms);
    snprintf(n3, sizeof n3, "%d", limit);
    snprintf(n4, sizeof n4, "%d", OV_QREDIS_STATUS_TTL_S);
    const char *argv[] = {"EVAL", OV_LUA_MAINT, "3", lk, dk, pk, prefix, n1, sid, n2, token_prefix, n3, n4};
    return ov_upstash_cmd(u, 13, argv, NULL, cb, ctx, req_out);
}
