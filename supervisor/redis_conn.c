/* Redis connection wrapper: hiredis 0.14 async on libuv with AUTH/SELECT, timeouts, reconnect, scripts. */
#include "redis_conn.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "strcopy.h"

#define RC_BACKOFF_MIN_MS 250
#define RC_WATCH_MS 100     /* command deadlines are checked this often */
#define RC_EVAL_ARGS_MAX 64 /* keys + args of one script call */

/* One command in flight. Replies come back in order, so the list head is the oldest. */
typedef struct rc_cmd {
    ov_rconn *c;
    ov_rconn_reply_cb cb;
    void *priv;
    uint64_t deadline_ms;
    int done;
    struct rc_cmd *prev, *next;
    /* For script calls: a copy of the arguments, to resend as EVAL after NOSCRIPT. */
    ov_rscript *script;
    int nkeys, argc;
    char **argv;
    size_t *argvlen;
} rc_cmd;

enum rc_state { RC_DOWN, RC_CONNECTING, RC_HANDSHAKE, RC_UP, RC_CLOSED };

struct ov_rconn {
    uv_loop_t *loop;
    ov_redis_url url;
    char name[32];
    int64_t command_timeout_ms, reconnect_max_ms, backoff_ms;
    ov_rconn_state_cb state_cb;
    void *ctx;
    redisAsyncContext *ac;
    int state;
    uv_timer_t retry;  /* reconnect, and the deferred handshake */
    uv_timer_t watch;  /* command deadlines */
    rc_cmd *head, *tail;
    int ninflight;
    int handles_open;
    int64_t connects;
    uint64_t connect_started_ms;
};

/* ---------- URL ---------- */

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
    if (n == 0 || n > 9)
        return OV_EINVAL;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return OV_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return OV_EINVAL;
    *out = v;
    return 0;
}

int ov_redis_url_parse(const char *url, ov_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url) {
        snprintf(err, errlen, "empty redis url");
        return OV_EINVAL;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/' || n >= sizeof out->host) {
            snprintf(err, errlen, "unix url needs an absolute socket path (unix:///path)");
            return OV_EINVAL;
        }
        memcpy(out->host, p, n);
        out->host[n] = '\0';
        out->is_unix = 1;
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 || parse_int(q + 4, strlen(q + 4), 0, 1000000, &out->db) != 0) {
                snprintf(err, errlen, "unix url: only ?db=N is understood");
                return OV_EINVAL;
            }
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis url must start with redis:// or unix://");
        return OV_EINVAL;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p; /* "user:pw@" or "pw@" */
        size_t n = (size_t)(at - pw);
        if (n >= sizeof out->password) {
            snprintf(err, errlen, "redis url: password too long");
            return OV_EINVAL;
        }
        memcpy(out->password, pw, n);
        out->password[n] = '\0';
        if (n)
            ov_log_add_secret(out->password);
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hp = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hp);
    size_t hn = colon ? (size_t)(colon - p) : hp;
    if (hn == 0 || hn >= sizeof out->host) {
        snprintf(err, errlen, "redis url: missing or too long host");
        return OV_EINVAL;
    }
    memcpy(out->host, p, hn);
    out->host[hn] = '\0';
    if (colon && parse_int(colon + 1, hp - hn - 1, 1, 65535, &out->port) != 0) {
        snprintf(err, errlen, "redis url: bad port");
        return OV_EINVAL;
    }
    if (slash && slash[1] && parse_int(slash + 1, strlen(slash + 1), 0, 1000000, &out->db) != 0) {
        snprintf(err, errlen, "redis url: bad db number");
        return OV_EINVAL;
    }
    return 0;
}

/* ---------- commands ---------- */

static void cmd_unlink(ov_rconn *c, rc_cmd *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        c->tail = k->prev;
    k->prev = k->next = NULL;
    c->ninflight--;
}

static void cmd_free(rc_cmd *k)
{
    if (k->argv) {
        for (int i = 0; i < k->argc; i++)
            free(k->argv[i]);
        free(k->argv);
    }
    free(k->argvlen);
    free(k);
}

static void drop_connection(ov_rconn *c, const char *why);
static int send_script(ov_rconn *c, rc_cmd *k, int use_sha);

static int is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    ov_rscript *s = priv;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_STRING && r->len < (int)sizeof s->sha)
        ov_str_copy(s->sha, sizeof s->sha, r->str);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rc_cmd *k = priv;
    ov_rconn *c = k->c;
    (void)ac;
    redisReply *r = reply;
    cmd_unlink(c, k);
    if (k->script && is_noscript(r) && c->state == RC_UP) {
        /* Script cache lost (restart, failover, SCRIPT FLUSH): resend the body and reload. */
        k->script->sha[0] = '\0';
        if (send_script(c, k, 0) == 0)
            return;
        r = NULL;
    }
    if (k->cb)
        k->cb(c, r, k->priv);
    cmd_free(k);
}

static int submit(ov_rconn *c, rc_cmd *k, int64_t block_ms, int argc, const char **argv, const size_t *argvlen)
{
    if (c->state != RC_UP && c->state != RC_HANDSHAKE)
        return OV_ECLOSED;
    if (!c->ac)
        return OV_ECLOSED;
    if (redisAsyncCommandArgv(c->ac, on_reply, k, argc, argv, argvlen) != REDIS_OK)
        return OV_ECLOSED;
    k->deadline_ms = uv_now(c->loop) + (uint64_t)c->command_timeout_ms + (uint64_t)(block_ms > 0 ? block_ms : 0);
    k->prev = c->tail;
    k->next = NULL;
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
    c->ninflight++;
    return 0;
}

int ov_rconn_cmd(ov_rconn *c, int64_t block_ms, ov_rconn_reply_cb cb, void *priv, int argc, const char **argv,
                 const size_t *argvlen)
{
    if (c->state != RC_UP)
        return OV_ECLOSED;
    rc_cmd *k = calloc(1, sizeof *k);
    if (!k)
        return OV_ENOMEM;
    k->c = c;
    k->cb = cb;
    k->priv = priv;
    int rc = submit(c, k, block_ms, argc, argv, argvlen);
    if (rc)
        free(k);
    return rc;
}

/* (Re)send a script call from its saved arguments. */
static int send_script(ov_rconn *c, rc_cmd *k, int use_sha)
{
    const char *av[RC_EVAL_ARGS_MAX + 3];
    size_t al[RC_EVAL_ARGS_MAX + 3];
    char nk[16];
    int n = 0;
    int sha = use_sha && k->script->sha[0];
    av[n] = sha ? "EVALSHA" : "EVAL", al[n] = strlen(av[n]), n++;
    av[n] = sha ? k->script->sha : k->script->body, al[n] = strlen(av[n]), n++;
    snprintf(nk, sizeof nk, "%d", k->nkeys);
    av[n] = nk, al[n] = strlen(nk), n++;
    for (int i = 0; i < k->argc; i++)
        av[n] = k->argv[i], al[n] = k->argvlen[i], n++;
    if (!sha && c->ac) /* reload so the next call can use EVALSHA (fire and forget) */
        redisAsyncCommand(c->ac, on_script_loaded, k->script, "SCRIPT LOAD %s", k->script->body);
    return submit(c, k, 0, n, av, al);
}

int ov_rconn_eval(ov_rconn *c, ov_rscript *s, int nkeys, int argc, const char **argv, const size_t *argvlen,
                  ov_rconn_reply_cb cb, void *priv)
{
    if (c->state != RC_UP)
        return OV_ECLOSED;
    if (argc > RC_EVAL_ARGS_MAX || nkeys > argc || nkeys < 0)
        return OV_EINVAL;
    rc_cmd *k = calloc(1, sizeof *k);
    if (!k)
        return OV_ENOMEM;
    k->c = c;
    k->cb = cb;
    k->priv = priv;
    k->script = s;
    k->nkeys = nkeys;
    k->argc = argc;
    k->argv = calloc((size_t)argc + 1, sizeof *k->argv);
    k->argvlen = calloc((size_t)argc + 1, sizeof *k->argvlen);
    if (!k->argv || !k->argvlen)
        goto oom;
    for (int i = 0; i < argc; i++) {
        size_t l = argvlen ? argvlen[i] : strlen(argv[i]);
        k->argv[i] = malloc(l + 1);
        if (!k->argv[i])
            goto oom;
        memcpy(k->argv[i], argv[i], l);
        k->argv[i][l] = '\0';
        k->argvlen[i] = l;
    }
    int rc = send_script(c, k, 1);
    if (rc)
        cmd_free(k);
    return rc;
oom:
    cmd_free(k);
    return OV_ENOMEM;
}

int ov_rconn_up(const ov_rconn *c)
{
    return c->state == RC_UP;
}

int ov_rconn_inflight(const ov_rconn *c)
{
    return c->ninflight;
}

/* ---------- connection life ---------- */

static void start_connect(ov_rconn *c);
static void on_retry_timer(uv_timer_t *t)
{
    start_connect(t->data);
}

static void schedule_reconnect(ov_rconn *c)
{
    if (c->state == RC_CLOSED)
        return;
    c->state = RC_DOWN;
    int64_t d = c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > c->reconnect_max_ms ? c->reconnect_max_ms : c->backoff_ms * 2;
    /* jitter +-20 %, so several supervisors do not reconnect in lockstep */
    d = d * (80 + rand() % 41) / 100;
    uv_timer_start(&c->retry, on_retry_timer, (uint64_t)d, 0);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ov_rconn *c = ac->data;
    (void)status;
    if (!c)
        return;
    int was_up = c->state == RC_UP;
    c->ac = NULL; /* hiredis frees it after this callback */
    if (c->state != RC_CLOSED) {
        ov_log(OV_LOG_WARN, "redis_disconnected", "conn=%s error=\"%s\"", c->name,
               ac->errstr[0] ? ac->errstr : "closed");
        schedule_reconnect(c);
    }
    if (was_up && c->state_cb)
        c->state_cb(c, 0, c->ctx);
}

static void on_handshake_reply(ov_rconn *c, redisReply *r, void *priv)
{
    intptr_t last = (intptr_t)priv;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            ov_log(OV_LOG_ERR, "redis_handshake_failed", "conn=%s error=\"%s\"", c->name, r->str ? r->str : "");
        if (c->state == RC_HANDSHAKE)
            drop_connection(c, "handshake failed");
        return;
    }
    if (!last || c->state != RC_HANDSHAKE)
        return;
    c->state = RC_UP;
    c->backoff_ms = RC_BACKOFF_MIN_MS;
    c->connects++;
    ov_log(c->connects > 1 ? OV_LOG_NOTICE : OV_LOG_INFO, "redis_connected", "conn=%s connects=%lld", c->name,
           (long long)c->connects);
    if (c->state_cb)
        c->state_cb(c, 1, c->ctx);
}

/* The handshake runs from a timer: hiredis 0.14 is not safe with commands issued inside the
 * connect callback. */
static void do_handshake(uv_timer_t *t)
{
    ov_rconn *c = t->data;
    if (c->state != RC_HANDSHAKE || !c->ac)
        return;
    int n = 0, rc = 0;
    char db[16];
    snprintf(db, sizeof db, "%d", c->url.db);
    const char *auth[2] = {"AUTH", c->url.password};
    const char *sel[2] = {"SELECT", db};
    const char *ping[1] = {"PING"};
    rc_cmd *ks[3] = {0};
    const char **avs[3];
    int acs[3];
    if (c->url.password[0])
        avs[n] = auth, acs[n] = 2, n++;
    if (c->url.db)
        avs[n] = sel, acs[n] = 2, n++;
    avs[n] = ping, acs[n] = 1, n++;
    for (int i = 0; i < n && rc == 0; i++) {
        ks[i] = calloc(1, sizeof *ks[i]);
        if (!ks[i]) {
            rc = OV_ENOMEM;
            break;
        }
        ks[i]->c = c;
        ks[i]->cb = on_handshake_reply;
        ks[i]->priv = (void *)(intptr_t)(i == n - 1);
        rc = submit(c, ks[i], 0, acs[i], avs[i], NULL);
        if (rc) {
            free(ks[i]);
            ks[i] = NULL;
        }
    }
    if (rc)
        drop_connection(c, "handshake send failed");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ov_rconn *c = ac->data;
    if (!c)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context right after this callback. */
        ov_log(OV_LOG_WARN, "redis_connect_failed", "conn=%s error=\"%s\" retry_ms=%lld", c->name, ac->errstr,
               (long long)c->backoff_ms);
        c->ac = NULL;
        schedule_reconnect(c);
        return;
    }
    c->state = RC_HANDSHAKE;
    uv_timer_start(&c->retry, do_handshake, 0, 0);
}

static void start_connect(ov_rconn *c)
{
    if (c->state == RC_CLOSED || c->ac)
        return;
    redisAsyncContext *ac =
        c->url.is_unix ? redisAsyncConnectUnix(c->url.host) : redisAsyncConnect(c->url.host, c->url.port);
    if (!ac || ac->err) {
        ov_log(OV_LOG_WARN, "redis_connect_failed", "conn=%s error=\"%s\"", c->name, ac ? ac->errstr : "oom");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    if (!c->url.is_unix)
        redisEnableKeepAlive(&ac->c);
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    c->state = RC_CONNECTING;
    c->connect_started_ms = uv_now(c->loop);
}

/* Drop the connection from the loop (never from inside a hiredis callback chain that still uses
 * the context: callers are timers or reply callbacks, where hiredis tolerates a free). */
static void drop_connection(ov_rconn *c, const char *why)
{
    if (!c->ac)
        return;
    ov_log(OV_LOG_WARN, "redis_drop", "conn=%s reason=\"%s\"", c->name, why);
    redisAsyncContext *ac = c->ac;
    redisAsyncDisconnect(ac); /* pending replies fail with NULL; disconnect cb schedules the retry */
    (void)ac;
}

static void on_watch(uv_timer_t *t)
{
    ov_rconn *c = t->data;
    if (c->state == RC_CONNECTING && c->ac &&
        uv_now(c->loop) > c->connect_started_ms + (uint64_t)c->command_timeout_ms) {
        /* A connect that hangs (black-holed TCP): no disconnect callback will come. */
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL;
        ov_log(OV_LOG_WARN, "redis_connect_timeout", "conn=%s", c->name);
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    if (c->head && uv_now(c->loop) > c->head->deadline_ms && c->ac) {
        /* hiredis 0.14: no command timeouts. Free the context: every pending command fails. */
        ov_log(OV_LOG_WARN, "redis_timeout", "conn=%s inflight=%d", c->name, c->ninflight);
        redisAsyncContext *ac = c->ac;
        redisAsyncFree(ac);
    }
}

static void fail_orphans(ov_rconn *c)
{
    /* Commands whose callbacks hiredis could not call (context gone before they were sent). */
    while (c->head) {
        rc_cmd *k = c->head;
        cmd_unlink(c, k);
        if (k->cb)
            k->cb(c, NULL, k->priv);
        cmd_free(k);
    }
}

int ov_rconn_new(uv_loop_t *loop, const ov_redis_url *url, const char *name, int64_t command_timeout_ms,
                 int64_t reconnect_max_ms, ov_rconn_state_cb state_cb, void *ctx, ov_rconn **out)
{
    ov_rconn *c = calloc(1, sizeof *c);
    if (!c)
        return OV_ENOMEM;
    c->loop = loop;
    c->url = *url;
    ov_str_copy(c->name, sizeof c->name, name);
    c->command_timeout_ms = command_timeout_ms > 0 ? command_timeout_ms : 10000;
    c->reconnect_max_ms = reconnect_max_ms >= RC_BACKOFF_MIN_MS ? reconnect_max_ms : RC_BACKOFF_MIN_MS;
    c->backoff_ms = RC_BACKOFF_MIN_MS;
    c->state_cb = state_cb;
    c->ctx = ctx;
    if (uv_timer_init(loop, &c->retry) != 0 || uv_timer_init(loop, &c->watch) != 0) {
        free(c);
        return OV_EIO;
    }
    c->retry.data = c;
    c->watch.data = c;
    c->handles_open = 2;
    uv_timer_start(&c->watch, on_watch, RC_WATCH_MS, RC_WATCH_MS);
    start_connect(c);
    *out = c;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    ov_rconn *c = h->data;
    if (--c->handles_open == 0)
        free(c);
}

void ov_rconn_close(ov_rconn *c)
{
    if (!c || c->state == RC_CLOSED)
        return;
    c->state = RC_CLOSED;
    if (c->ac) {
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac); /* pending callbacks run with NULL replies */
    }
    fail_orphans(c);
    uv_timer_stop(&c->retry);
    uv_timer_stop(&c->watch);
    uv_close((uv_handle_t *)&c->retry, on_handle_closed);
    uv_close((uv_handle_t *)&c->watch, on_handle_closed);
}
