/* Upstash REST transport: a real redis-server behind a tiny Upstash-compatible HTTP front (claims via
 * the shared Lua scripts, idle backoff, bad token). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "common/error.h"
#include "common/log.h"
#include "queue_scripts.h"
#include "queue_upstash.h"
#include "support/http_test_server.h"
#include "support/redis_server.h"
#include "test_supervisor_util.h"

/* ---------- a private redis-server on a Unix socket ---------- */

static char rdir[128], rsock[192];
static pid_t rpid;

static void redis_up(void)
{
    snprintf(rdir, sizeof rdir, "/tmp/ovu.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rdir));
    snprintf(rsock, sizeof rsock, "%s/r.sock", rdir);
    rpid = ov_test_redis_start(rdir, rsock, 0);
}

static void redis_down(void)
{
    ov_test_redis_stop(rpid);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", rdir);
    ck_assert_int_eq(system(cmd), 0);
}

static redisContext *rc_open(void)
{
    redisContext *c = redisConnectUnix(rsock);
    ck_assert(c && !c->err);
    return c;
}

static long long r_int(redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = redisCommand(c, fmt, a, b);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* ---------- the Upstash REST front: POST / with a JSON array -> {"result": ...} ---------- */

static struct MHD_Daemon *front;
static int front_port;
static const char *front_token = "right-token";
static pthread_mutex_t front_mu = PTHREAD_MUTEX_INITIALIZER;
static redisContext *front_rc;
static int front_requests, front_lmoves;

typedef struct fbody {
    char *p;
    size_t n;
} fbody;

static json_t *reply_json(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_NIL: return json_null();
    case REDIS_REPLY_INTEGER: return json_integer(r->integer);
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: return json_stringn(r->str, r->len);
    case REDIS_REPLY_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < r->elements; i++)
            json_array_append_new(a, reply_json(r->element[i]));
        return a;
    }
    default: return json_null();
    }
}

static char *execute(const char *body, size_t n, int *status)
{
    json_t *arr = json_loadb(body, n, 0, NULL);
    json_t *out = json_object();
    *status = 200;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 256) {
        *status = 400;
        json_object_set_new(out, "error", json_string("ERR bad command body"));
    } else {
        size_t argc = json_array_size(arr);
        const char *argv[256];
        size_t lens[256];
        for (size_t i = 0; i < argc; i++) {
            json_t *v = json_array_get(arr, i);
            argv[i] = json_is_string(v) ? json_string_value(v) : "";
            lens[i] = json_is_string(v) ? json_string_length(v) : 0;
        }
        if (strcasecmp(argv[0], "LMOVE") == 0)
            front_lmoves++;
        redisReply *rep = redisCommandArgv(front_rc, (int)argc, argv, lens);
        if (!rep) {
            *status = 500;
            json_object_set_new(out, "error", json_string("ERR redis gone"));
        } else if (rep->type == REDIS_REPLY_ERROR) {
            *status = 400;
            json_object_set_new(out, "error", json_stringn(rep->str, rep->len));
        } else {
            json_object_set_new(out, "result", reply_json(rep));
        }
        if (rep)
            freeReplyObject(rep);
    }
    json_decref(arr);
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return s;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)version;
    fbody *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        return b ? MHD_YES : MHD_NO;
    }
    if (*size) {
        char *np = realloc(b->p, b->n + *size + 1);
        if (!np)
            return MHD_NO;
        b->p = np;
        memcpy(b->p + b->n, data, *size);
        b->n += *size;
        *size = 0;
        return MHD_YES;
    }
    int status = 200;
    char *answer;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char want[128];
    snprintf(want, sizeof want, "Bearer %s", front_token);
    pthread_mutex_lock(&front_mu);
    front_requests++;
    if (strcmp(method, "POST") != 0) {
        status = 405;
        answer = strdup("{\"error\":\"only POST here\"}");
    } else if (!auth || strcmp(auth, want) != 0) {
        status = 401;
        answer = strdup("{\"error\":\"Unauthorized\"}");
    } else {
        answer = execute(b->p ? b->p : "", b->n, &status);
    }
    pthread_mutex_unlock(&front_mu);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(answer), answer, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    fbody *b = *con_cls;
    if (b) {
        free(b->p);
        free(b);
    }
    *con_cls = NULL;
}

static void front_up(void)
{
    front_rc = rc_open();
    front_requests = front_lmoves = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    front =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, NULL, MHD_OPTION_SOCK_ADDR,
                         &sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(front);
    front_port = MHD_get_daemon_info(front, MHD_DAEMON_INFO_BIND_PORT)->port;
    ck_assert_int_gt(front_port, 0);
}

static void front_down(void)
{
    MHD_stop_daemon(front);
    redisFree(front_rc);
}

static int front_count(int *lmoves)
{
    pthread_mutex_lock(&front_mu);
    int n = front_requests;
    if (lmoves)
        *lmoves = front_lmoves;
    pthread_mutex_unlock(&front_mu);
    return n;
}

/* ---------- the client side on a uv loop ---------- */

typedef struct claimed {
    char payload[256], cid[40], token[112], job_id[64];
    int attempts;
    uint64_t at_ms;
} claimed;

typedef struct env {
    uv_loop_t loop;
    ov_hc *hc;
    ov_upstash *u;
    ov_upstash_poller *p;
    claimed got[16];
    int ngot;
    int64_t delay_after_claim;
    uv_timer_t stop_t;
    int stop_at; /* stop after this many claims (0 = only by time) */
} env;

static void on_claim(void *ctx, const ov_upstash_claim *c)
{
    env *e = ctx;
    ck_assert_int_lt(e->ngot, 16);
    claimed *g = &e->got[e->ngot++];
    snprintf(g->payload, sizeof g->payload, "%.*s", (int)c->payload_len, c->payload);
    snprintf(g->cid, sizeof g->cid, "%s", c->cid);
    snprintf(g->token, sizeof g->token, "%s", c->token);
    snprintf(g->job_id, sizeof g->job_id, "%s", c->job_id);
    g->attempts = c->attempts;
    g->at_ms = uv_now(&e->loop);
    if (e->stop_at && e->ngot >= e->stop_at)
        uv_stop(&e->loop);
}

static void on_claim_pause(void *ctx, const ov_upstash_claim *c)
{
    env *e = ctx;
    on_claim(ctx, c);
    ov_upstash_poller_want(e->p, 0); /* one job per demand */
}

static void on_stop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void env_up(env *e, const char *token, int64_t pmin, int64_t pmax)
{
    memset(e, 0, sizeof *e);
    ck_assert_int_eq(uv_loop_init(&e->loop), 0);
    ck_assert_int_eq(ov_hc_init(&e->hc, &e->loop), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", front_port);
    ck_assert_int_eq(ov_upstash_new(e->hc, url, token, 2000, &e->u), 0);
    ov_upstash_poll_opts o = {.prefix = "ovt",
                              .sid = "sidA",
                              .queue = "sdxl_queue",
                              .lease_ms = 30000,
                              .poll_min_ms = pmin,
                              .poll_max_ms = pmax};
    ck_assert_int_eq(ov_upstash_poller_start(&e->loop, e->u, &o, on_claim, e, &e->p), 0);
    uv_timer_init(&e->loop, &e->stop_t);
}

static void env_run(env *e, int ms)
{
    uv_timer_start(&e->stop_t, on_stop, (uint64_t)ms, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&e->stop_t);
}

static void env_down(env *e)
{
    ov_upstash_poller_stop(e->p);
    ov_upstash_free(e->u);
    ov_hc_close(e->hc);
    uv_close((uv_handle_t *)&e->stop_t, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&e->loop), 0);
}

/* A synchronous command through the REST client (runs the loop until the answer). */
typedef struct cmdres {
    int done, status;
    json_t *result;
    char error[256];
} cmdres;

static void on_cmd(void *ctx, int status, json_t *result, const char *error)
{
    cmdres *r = ctx;
    r->done = 1;
    r->status = status;
    r->result = result ? json_incref(result) : NULL;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static void cmd_sync(env *e, int argc, const char *const *argv, cmdres *r)
{
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(ov_upstash_cmd(e->u, argc, argv, NULL, on_cmd, r, NULL), 0);
    for (int i = 0; i < 500 && !r->done; i++)
        uv_run(&e->loop, UV_RUN_ONCE);
    ck_assert(r->done);
}

static void wait_res(env *e, cmdres *r)
{
    for (int i = 0; i < 500 && !r->done; i++)
        uv_run(&e->loop, UV_RUN_ONCE);
    ck_assert(r->done);
    ck_assert_msg(r->status == 0, "status %d: %s", r->status, r->error);
}

static long long res_int(cmdres *r)
{
    ck_assert(json_is_integer(r->result));
    long long v = (long long)json_integer_value(r->result);
    json_decref(r->result);
    r->result = NULL;
    return v;
}

/* ---------- tests ---------- */

START_TEST(claims_lpush_jobs_fifo_with_leases)
{
    redis_up();
    front_up();
    redisContext *c = rc_open();
    for (int i = 0; i < 3; i++) {
        char p[96];
        snprintf(p, sizeof p, "{\"id\":\"job-%d\",\"type\":\"sdxl_image_fast\",\"prompt\":\"p%d\"}", i, i);
        freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", p));
    }
    env e;
    env_up(&e, "right-token", 100, 1000);
    e.stop_at = 3;
    env_run(&e, 5000);
    ck_assert_int_eq(e.ngot, 3);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "job-%d", i);
        ck_assert_str_eq(e.got[i].job_id, id); /* LPUSH producers: FIFO */
        ck_assert_int_eq(e.got[i].attempts, 1);
        char ck[128];
        snprintf(ck, sizeof ck, "ovt:claim:%s", e.got[i].cid);
        redisReply *rep = redisCommand(c, "HMGET %s token state owner payload", ck);
        ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
        ck_assert_str_eq(rep->element[0]->str, e.got[i].token);
        ck_assert_str_eq(rep->element[1]->str, "run");
        ck_assert_str_eq(rep->element[2]->str, "sidA");
        ck_assert_str_eq(rep->element[3]->str, e.got[i].payload);
        freeReplyObject(rep);
        snprintf(ck, sizeof ck, "ovt:status:%s", id);
        rep = redisCommand(c, "HGET %s state", ck);
        ck_assert_str_eq(rep->str, "running");
        freeReplyObject(rep);
    }
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ovt:leases", ""), 3);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ovt:proc:sidA:sdxl_queue", ""), 0);
    ck_assert_int_eq(r_int(c, "HEXISTS %s %s", "ovt:procs", "ovt:proc:sidA:sdxl_queue"), 1); /* I3 */
    ck_assert_int_eq(r_int(c, "EXISTS %s%s", "ovt:alive:sidA", ""), 1);

    /* FINISH with the shared script over REST: the owner's token wins once, a stale token never. */
    char k_claim[128], k_status[128];
    snprintf(k_claim, sizeof k_claim, "ovt:claim:%s", e.got[0].cid);
    snprintf(k_status, sizeof k_status, "ovt:status:%s", e.got[0].job_id);
    const char *fin[] = {"EVAL",   OV_LUA_FINISH, "5",        k_claim,      "ovt:leases", "ovt:attempts",
                         k_status, "ovt:dead",    "not-mine", e.got[0].cid, "completed",  "",
                         "100",    "60",          "",         "1"};
    cmdres r;
    cmd_sync(&e, 16, fin, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(json_integer_value(r.result), 0);
    json_decref(r.result);
    fin[8] = e.got[0].token;
    cmd_sync(&e, 16, fin, &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(json_integer_value(r.result), 1);
    json_decref(r.result);
    cmd_sync(&e, 16, fin, &r); /* a second completion: nothing left to win */
    ck_assert_int_eq(json_integer_value(r.result), 0);
    json_decref(r.result);
    ck_assert_int_eq(r_int(c, "EXISTS %s%s", k_claim, ""), 0);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ovt:leases", ""), 2);
    /* A Redis error comes back as OV_EPROTO with its text. */
    const char *bad[] = {"HGET", "only-one-arg"};
    cmd_sync(&e, 2, bad, &r);
    ck_assert_int_eq(r.status, OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(r.error, "wrong number of arguments"));

    /* A job pushed later (RPUSH producer) is claimed too, with the polling reset to poll_min.
     * Idle first, so the delay has grown; after the claim one immediate empty poll may already have
     * doubled poll_min (100 -> 200) before the loop stops, so "reset" is checked as <= 200. */
    e.stop_at = 0;
    env_run(&e, 1600);
    ck_assert_int_ge(ov_upstash_poller_delay_ms(e.p), 400);
    e.stop_at = 4;
    freeReplyObject(redisCommand(c, "RPUSH sdxl_queue %s", "{\"id\":\"job-late\"}"));
    env_run(&e, 3000);
    ck_assert_int_eq(e.ngot, 4);
    ck_assert_str_eq(e.got[3].job_id, "job-late");
    ck_assert_int_le(ov_upstash_poller_delay_ms(e.p), 200);
    env_down(&e);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(idle_polling_backs_off)
{
    redis_up();
    front_up();
    env e;
    env_up(&e, "right-token", 100, 1000);
    env_run(&e, 3000);
    int lmoves = 0;
    int n = front_count(&lmoves);
    /* Polls at 0, 100, 300, 700, 1500, 2500 ms: 6 (a fixed 100 ms poll would be 30, a fixed 2 s
     * poll 2); plus one RENEW and one look into the processing list. */
    ck_assert_int_ge(lmoves, 5);
    ck_assert_int_le(lmoves, 7);
    ck_assert_int_le(n, lmoves + 2);
    ck_assert_int_eq(ov_upstash_poller_polls(e.p), lmoves);
    ck_assert_int_eq(ov_upstash_poller_delay_ms(e.p), 1000);
    ck_assert_int_eq(ov_upstash_requests(e.u), n);
    /* Idle at poll_max, then a job: claimed within about poll_max, and the delay resets. */
    redisContext *c = rc_open();
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"j1\"}"));
    uint64_t t0 = uv_now(&e.loop);
    e.stop_at = 1;
    env_run(&e, 3000);
    ck_assert_int_eq(e.ngot, 1);
    ck_assert_int_le((int)(e.got[0].at_ms - t0), 1300);
    /* reset to poll_min by the claim; one empty poll after it (a loaded machine, ASan) may have
     * doubled it once before the run stopped */
    ck_assert_int_le(ov_upstash_poller_delay_ms(e.p), 200);
    env_down(&e);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(bad_token_is_logged_once_never_leaked)
{
    char logp[] = "/tmp/ovu_log.XXXXXX";
    int fd = mkstemp(logp);
    ck_assert_int_ge(fd, 0);
    ov_log_set_fd(fd);
    redis_up();
    front_up();
    redisContext *c = rc_open();
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"j1\"}"));
    env e;
    const char *secret = "wrong-SECRET-token-4242";
    env_up(&e, secret, 100, 500);
    env_run(&e, 2000);
    ck_assert_int_eq(e.ngot, 0);
    int n = front_count(NULL);
    ck_assert_int_ge(n, 2);
    ck_assert_int_le(n, 6);                                       /* backs off to poll_max: no hammering */
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 1); /* untouched */
    env_down(&e);
    ov_log_set_fd(2);
    char buf[8192];
    ssize_t len = pread(fd, buf, sizeof buf - 1, 0);
    ck_assert_int_gt(len, 0);
    buf[len] = '\0';
    close(fd);
    unlink(logp);
    const char *hit = strstr(buf, "upstash_auth_failed");
    ck_assert_ptr_nonnull(hit);
    ck_assert_ptr_null(strstr(hit + 1, "upstash_auth_failed")); /* once, not per poll */
    ck_assert_ptr_nonnull(strstr(buf, "401"));
    ck_assert_ptr_nonnull(strstr(buf, "UPSTASH_REDIS_REST_TOKEN"));
    ck_assert_ptr_null(strstr(buf, secret));
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(front_down_backs_off_with_jitter)
{
    redis_up();
    front_up();
    front_down();
    front_rc = NULL;
    env e;
    env_up(&e, "right-token", 50, 400);
    env_run(&e, 1500);
    ck_assert_int_eq(e.ngot, 0);
    /* Errors back off 50 .. 400 ms with jitter: a handful of tries, not one per 50 ms. */
    ck_assert_int_le(ov_upstash_requests(e.u), 10);
    ck_assert_int_ge(ov_upstash_requests(e.u), 3);
    env_down(&e);
    redis_down();
}
END_TEST

START_TEST(bad_arguments)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    ov_hc *hc;
    ck_assert_int_eq(ov_hc_init(&hc, &loop), 0);
    ov_upstash *u = NULL;
    ck_assert_int_eq(ov_upstash_new(hc, "ftp://x", "t", 1000, &u), OV_EINVAL);
    ck_assert_int_eq(ov_upstash_new(hc, "https://x.upstash.io", "", 1000, &u), OV_EINVAL);
    ck_assert_int_eq(ov_upstash_new(hc, "https://x.upstash.io", "tok", 1000, &u), 0);
    const char *bin[] = {"SET", "k", "\xff\xfe"};
    ck_assert_int_eq(ov_upstash_cmd(u, 3, bin, NULL, on_cmd, NULL, NULL), OV_EINVAL);
    ck_assert_int_eq(ov_upstash_cmd(u, 0, bin, NULL, on_cmd, NULL, NULL), OV_EINVAL);
    ov_upstash_poller *p = NULL;
    ov_upstash_poll_opts o = {
        .prefix = "p", .sid = "s", .queue = "q", .lease_ms = 1000, .poll_min_ms = 10, .poll_max_ms = 5};
    ck_assert_int_eq(ov_upstash_poller_start(&loop, u, &o, on_claim, NULL, &p), OV_EINVAL);
    ck_assert_int_eq(ov_upstash_requests(u), 0);
    ov_upstash_free(u);
    ov_hc_close(hc);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(claim_ops_retry_maint_renew_finish)
{
    redis_up();
    front_up();
    redisContext *c = rc_open();
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"r1\"}"));
    env e;
    env_up(&e, "right-token", 50, 200);
    e.stop_at = 1;
    env_run(&e, 3000);
    ck_assert_int_eq(e.ngot, 1);
    claimed *g = &e.got[0];
    cmdres r;
    /* RETRY: a stale token loses, the owner's wins; the claim waits ownerless in P:delayed. */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_retry(e.u, "ovt", g->cid, "stale", "r1", 0, "oom", on_cmd, &r, NULL), 0);
    wait_res(&e, &r);
    ck_assert_int_eq(res_int(&r), 0);
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_retry(e.u, "ovt", g->cid, g->token, "r1", 0, "oom", on_cmd, &r, NULL), 0);
    wait_res(&e, &r);
    ck_assert_int_eq(res_int(&r), 1);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ovt:delayed", ""), 1);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ovt:leases", ""), 0);
    /* MAINT promotes it back onto the queue; the poller claims it again as attempt 2. */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_maint(e.u, "ovt", "sidA", 3, 30000, "sidA.r1.", 100, on_cmd, &r, NULL), 0);
    wait_res(&e, &r);
    ck_assert(json_is_array(r.result));
    ck_assert_int_eq(json_integer_value(json_array_get(r.result, 0)), 1); /* promoted */
    ck_assert_int_eq(json_integer_value(json_array_get(r.result, 1)), 0);
    json_decref(r.result);
    e.stop_at = 2;
    env_run(&e, 3000);
    ck_assert_int_eq(e.ngot, 2);
    g = &e.got[1];
    ck_assert_str_eq(g->job_id, "r1");
    ck_assert_int_eq(g->attempts, 2);
    /* RENEW: the held claim is renewed, an unknown one reported lost. */
    const char *cids[] = {g->cid, "nosuchcid"}, *toks[] = {g->token, "x"};
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(
        ov_upstash_renew(e.u, "ovt", "sidA", 30000, 0, NULL, NULL, 2, cids, toks, on_cmd, &r, NULL), 0);
    wait_res(&e, &r);
    ck_assert(json_is_array(r.result));
    ck_assert_int_eq(json_array_size(r.result), 1);
    ck_assert_str_eq(json_string_value(json_array_get(r.result, 0)), "nosuchcid");
    json_decref(r.result);
    /* FINISH as failed with a dead letter: once. */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_finish(e.u, "ovt", g->cid, g->token, "r1", "failed", "{\"job_id\":\"r1\"}",
                                       10, "boom", on_cmd, &r, NULL),
                     0);
    wait_res(&e, &r);
    ck_assert_int_eq(res_int(&r), 1);
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(
        ov_upstash_finish(e.u, "ovt", g->cid, g->token, "r1", "failed", "x", 10, "boom", on_cmd, &r, NULL),
        0);
    wait_res(&e, &r);
    ck_assert_int_eq(res_int(&r), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ovt:dead", ""), 1);
    ck_assert_int_eq(r_int(c, "HEXISTS %s %s", "ovt:attempts", "id:r1"), 0);
    redisReply *rep = redisCommand(c, "HGET ovt:status:r1 state");
    ck_assert_str_eq(rep->str, "failed");
    freeReplyObject(rep);
    env_down(&e);

    /* An expired lease with no attempts left is taken over by MAINT (new token), once. */
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"r2\"}"));
    env e2;
    env_up(&e2, "right-token", 50, 200);
    e2.stop_at = 1;
    env_run(&e2, 3000);
    ck_assert_int_eq(e2.ngot, 1);
    freeReplyObject(redisCommand(c, "ZADD ovt:leases 1 %s", e2.got[0].cid)); /* lease long expired */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_maint(e2.u, "ovt", "sidB", 1, 30000, "sidB.r9.", 100, on_cmd, &r, NULL), 0);
    wait_res(&e2, &r);
    json_t *dead = json_array_get(r.result, 3);
    ck_assert_int_eq(json_array_size(dead), 1);
    json_t *d0 = json_array_get(dead, 0);
    ck_assert_str_eq(json_string_value(json_array_get(d0, 0)), e2.got[0].cid);
    char tok[160];
    snprintf(tok, sizeof tok, "sidB.r9.%s", e2.got[0].cid);
    ck_assert_str_eq(json_string_value(json_array_get(d0, 1)), tok);
    ck_assert_str_eq(json_string_value(json_array_get(d0, 3)), "r2");
    json_decref(r.result);
    /* The old owner's late completion loses (I2). */
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ov_upstash_finish(e2.u, "ovt", e2.got[0].cid, e2.got[0].token, "r2", "completed", "", 10,
                                       "", on_cmd, &r, NULL),
                     0);
    wait_res(&e2, &r);
    ck_assert_int_eq(res_int(&r), 0);
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(
        ov_upstash_finish(e2.u, "ovt", e2.got[0].cid, tok, "r2", "dead", "{}", 10, "lease", on_cmd, &r, NULL),
        0);
    wait_res(&e2, &r);
    ck_assert_int_eq(res_int(&r), 1);
    env_down(&e2);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(payload_left_in_processing_list_is_claimed)
{
    /* An LMOVE whose answer was lost leaves the payload in our processing list: the poller looks
     * there first (at start and after a failed LMOVE) and claims it. */
    redis_up();
    front_up();
    redisContext *c = rc_open();
    freeReplyObject(redisCommand(c, "RPUSH ovt:proc:sidA:sdxl_queue %s", "{\"id\":\"left\"}"));
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"next\"}"));
    env e;
    env_up(&e, "right-token", 50, 200);
    e.stop_at = 2;
    env_run(&e, 3000);
    ck_assert_int_eq(e.ngot, 2);
    ck_assert_str_eq(e.got[0].job_id, "left");
    ck_assert_str_eq(e.got[1].job_id, "next");
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ovt:proc:sidA:sdxl_queue", ""), 0);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ovt:leases", ""), 2);
    env_down(&e);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(demand_gate_claims_only_when_wanted)
{
    redis_up();
    front_up();
    redisContext *c = rc_open();
    for (int i = 0; i < 3; i++)
        freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"d\"}"));
    env e;
    env_up(&e, "right-token", 50, 200);
    ov_upstash_poller_stop(e.p); /* replace the default poller by one with the pausing callback */
    ov_upstash_poll_opts o = {.prefix = "ovt",
                              .sid = "sidD",
                              .queue = "sdxl_queue",
                              .lease_ms = 30000,
                              .poll_min_ms = 50,
                              .poll_max_ms = 200};
    ck_assert_int_eq(ov_upstash_poller_start(&e.loop, e.u, &o, on_claim_pause, &e, &e.p), 0);
    env_run(&e, 800);
    ck_assert_int_eq(e.ngot, 1); /* paused after the first claim */
    int64_t n0 = ov_upstash_requests(e.u);
    env_run(&e, 800);
    ck_assert_int_eq(ov_upstash_requests(e.u), n0); /* paused: no requests at all */
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 2);
    ov_upstash_poller_want(e.p, 1);
    e.stop_at = 2;
    env_run(&e, 2000);
    ck_assert_int_eq(e.ngot, 2);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 1);
    env_down(&e);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

/* ---------- end to end: supervisor + test workers + front + redis + callback server ---------- */

static void e2e_start(tsup *t, ov_ts **ts, const char *token, const char *extra)
{
    if (!*ts)
        ck_assert_int_eq(ov_ts_start(ts), 0);
    const char *tw = tsup_test_bin("ourvidz-testworker");
    char body[4096];
    snprintf(
        body, sizeof body,
        "spawn_workers = true\nstop_timeout = 2s\ndrain_timeout = 5s\n"
        "[restart]\nbackoff_initial = 50ms\nbackoff_max = 200ms\ncrash_loop_max = 1000\n"
        "[heartbeat]\ninterval = 100ms\ntimeout_starting = 5s\ntimeout_loading = 5s\ntimeout_idle = 2s\n"
        "timeout_busy = 5s\n"
        "[worker.wan]\nbinary = %s\n[worker.sdxl]\nbinary = %s\n[worker.qwen]\nbinary = %s\nenabled = false\n"
        "[redis]\nlease = 2s\nreap_interval = 200ms\nretry_backoff_initial = 50ms\n"
        "retry_backoff_max = 200ms\nmax_attempts = 4\ncommand_timeout = 2s\n"
        "[upstash]\npoll_min = 50ms\npoll_max = 400ms\n"
        "[storage]\ndir = %s/store\n[callback]\nurl = %s/cb\ntimeout = 2s\n%s",
        tw, tw, tw, rdir, ov_ts_url(*ts), extra ? extra : "");
    tsup_prepare(t, body);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", front_port);
    setenv("UPSTASH_REDIS_REST_URL", url, 1);
    setenv("UPSTASH_REDIS_REST_TOKEN", token, 1);
    unsetenv("REDIS_URL");
    setenv("OV_TEST_OUTPUT_PNG", "1", 1);
    tsup_start(t, NULL);
}

/* Terminal callbacks per job "u-%03d". */
static int count_terminal(ov_ts *ts, int n, int *counts, int *completed)
{
    memset(counts, 0, sizeof(int) * (size_t)n);
    *completed = 0;
    int total = 0, nreq = ov_ts_count(ts);
    for (int k = 0; k < nreq; k++) {
        ov_ts_request q;
        if (ov_ts_get(ts, k, &q) != 0)
            continue;
        if (q.answered / 100 == 2 && q.body) {
            json_t *j = json_loadb(q.body, q.body_len, 0, NULL);
            const char *id = json_string_value(json_object_get(j, "job_id"));
            const char *st = json_string_value(json_object_get(j, "status"));
            int idx;
            if (id && st && sscanf(id, "u-%d", &idx) == 1 && idx >= 0 && idx < n &&
                (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0)) {
                counts[idx]++;
                total++;
                *completed += strcmp(st, "completed") == 0;
            }
            json_decref(j);
        }
        ov_ts_request_free(&q);
    }
    return total;
}

static void push_job(redisContext *c, int i, const char *type, const char *queue, const char *cmd)
{
    char pl[512];
    snprintf(pl, sizeof pl,
             "{\"id\":\"u-%03d\",\"type\":\"%s\",\"prompt\":\"test prompt %d\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1}}",
             i, type, i);
    redisReply *rep = redisCommand(c, "%s %s %s", cmd, queue, pl);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
}

START_TEST(e2e_jobs_run_once_through_the_supervisor)
{
    redis_up();
    front_up();
    tsup t;
    ov_ts *ts = NULL;
    setenv("OV_TEST_JOB_SLEEP_MS", "20", 1);
    e2e_start(&t, &ts, "right-token", NULL);
    redisContext *c = rc_open();
    enum { N = 30 };
    for (int i = 0; i < N; i++)
        push_job(c, i, i % 2 ? "sdxl_image_fast" : "image_fast", i % 2 ? "sdxl_queue" : "wan_queue",
                 i % 3 ? "LPUSH" : "RPUSH");
    /* A malformed payload: dead-lettered, no crash. */
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "not json"));
    int counts[N], completed = 0;
    int64_t end = tsup_now_ms() + 60000;
    while (tsup_now_ms() < end && count_terminal(ts, N, counts, &completed) < N)
        tsup_sleep_ms(50);
    tsup_sleep_ms(600); /* late duplicates would show up now */
    count_terminal(ts, N, counts, &completed);
    for (int i = 0; i < N; i++)
        ck_assert_msg(counts[i] == 1, "u-%03d got %d terminal callbacks", i, counts[i]);
    ck_assert_int_eq(completed, N);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ourvidz:leases", ""), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "wan_queue", ""), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ourvidz:dead", ""), 1);
    redisReply *rep = redisCommand(c, "HGET ourvidz:status:u-003 state");
    ck_assert_str_eq(rep->str, "completed");
    freeReplyObject(rep);
    ck_assert_int_eq(tsup_log_count(&t, "queue_upstash_started"), 1);
    ck_assert_int_eq(tsup_log_count(&t, "right-token"), 0);
    /* Idle now: polling backs off to poll_max (400 ms): a few requests a second, not 20+. */
    int n0 = front_count(NULL);
    tsup_sleep_ms(2000);
    int n1 = front_count(NULL);
    fprintf(stderr, "e2e upstash: %d requests in 2 s idle\n", n1 - n0);
    ck_assert_int_le(n1 - n0, 25); /* ~18: 2 pollers at 400 ms, MAINT at 400 ms, RENEW at 667 ms */
    /* A clean stop closes the source (requests cancelled, handles closed; leak-checked under ASan). */
    ck_assert_int_eq(kill(t.pid, SIGTERM), 0);
    int st = tsup_wait_exit(&t, 10000);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "supervisor exit status %d", st);
    tsup_kill_all(&t);
    ov_ts_stop(ts);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(e2e_supervisor_kill9_job_reclaimed)
{
    redis_up();
    front_up();
    tsup t;
    ov_ts *ts = NULL;
    setenv("OV_TEST_JOB_SLEEP_MS", "3000", 1);
    e2e_start(&t, &ts, "right-token", NULL);
    redisContext *c = rc_open();
    push_job(c, 0, "sdxl_image_fast", "sdxl_queue", "LPUSH");
    int64_t end = tsup_now_ms() + 10000;
    int running = 0;
    while (!running && tsup_now_ms() < end) {
        redisReply *rep = redisCommand(c, "HGET ourvidz:status:u-000 state");
        running = rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "running") == 0;
        freeReplyObject(rep);
        tsup_sleep_ms(20);
    }
    ck_assert(running);
    tsup_sleep_ms(300);
    kill(-t.pid, SIGKILL);
    waitpid(t.pid, NULL, 0);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ourvidz:leases", ""), 1);
    setenv("OV_TEST_JOB_SLEEP_MS", "100", 1);
    tsup_start(&t, NULL); /* new sid: reaps the expired lease and runs the job */
    int counts[1], completed = 0;
    end = tsup_now_ms() + 20000;
    while (tsup_now_ms() < end && count_terminal(ts, 1, counts, &completed) < 1)
        tsup_sleep_ms(50);
    tsup_sleep_ms(500);
    count_terminal(ts, 1, counts, &completed);
    ck_assert_int_eq(counts[0], 1);
    ck_assert_int_eq(completed, 1);
    redisReply *rep = redisCommand(c, "HGET ourvidz:status:u-000 attempts");
    ck_assert_str_eq(rep->str, "2");
    freeReplyObject(rep);
    tsup_kill_all(&t);
    ov_ts_stop(ts);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(e2e_two_supervisors_each_job_once)
{
    redis_up();
    front_up();
    tsup a, b;
    ov_ts *ts = NULL;
    setenv("OV_TEST_JOB_SLEEP_MS", "30", 1);
    e2e_start(&a, &ts, "right-token", NULL);
    e2e_start(&b, &ts, "right-token", NULL); /* same front, same callback server */
    redisContext *c = rc_open();
    enum { N = 40 };
    for (int i = 0; i < N; i++)
        push_job(c, i, i % 2 ? "sdxl_image_fast" : "image_fast", i % 2 ? "sdxl_queue" : "wan_queue", "RPUSH");
    int counts[N], completed = 0;
    int64_t end = tsup_now_ms() + 60000;
    while (tsup_now_ms() < end && count_terminal(ts, N, counts, &completed) < N)
        tsup_sleep_ms(50);
    tsup_sleep_ms(600);
    count_terminal(ts, N, counts, &completed);
    for (int i = 0; i < N; i++)
        ck_assert_msg(counts[i] == 1, "u-%03d got %d terminal callbacks", i, counts[i]);
    ck_assert_int_eq(completed, N);
    int fa = tsup_log_count(&a, "job_finished"), fb = tsup_log_count(&b, "job_finished");
    fprintf(stderr, "e2e upstash two supervisors: %d + %d jobs\n", fa, fb);
    ck_assert_int_eq(r_int(c, "ZCARD %s%s", "ourvidz:leases", ""), 0);
    tsup_kill_all(&a);
    tsup_kill_all(&b);
    ov_ts_stop(ts);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(e2e_bad_token_logged_no_crash)
{
    redis_up();
    front_up();
    tsup t;
    ov_ts *ts = NULL;
    const char *secret = "Sup3r-Secret-Wrong-Token";
    e2e_start(&t, &ts, secret, NULL);
    redisContext *c = rc_open();
    push_job(c, 0, "sdxl_image_fast", "sdxl_queue", "LPUSH");
    tsup_sleep_ms(2500);
    ck_assert_int_eq(kill(t.pid, 0), 0); /* still running */
    ck_assert_int_ge(tsup_log_count(&t, "upstash_auth_failed"), 1);
    ck_assert_int_eq(tsup_log_count(&t, secret), 0);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "sdxl_queue", ""), 1);
    ck_assert_int_eq(ov_ts_count(ts), 0); /* no callback */
    json_t *st = tsup_status(&t);         /* the status socket answers: the loop is not blocked */
    json_decref(st);
    tsup_kill_all(&t);
    ov_ts_stop(ts);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

START_TEST(oversized_payload_dead_lettered_queue_moves_on)
{
    redis_up();
    front_up();
    redisContext *c = rc_open();
    size_t big = 100000;
    char *pl = malloc(big + 1);
    memset(pl, 'x', big);
    memcpy(pl, "{\"id\":\"big\",\"p\":\"", 17);
    memcpy(pl + big - 2, "\"}", 2);
    pl[big] = '\0';
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", pl));
    freeReplyObject(redisCommand(c, "LPUSH sdxl_queue %s", "{\"id\":\"small\"}"));
    free(pl);
    env e;
    env_up(&e, "right-token", 50, 200);
    e.stop_at = 1;
    env_run(&e, 4000);
    ck_assert_int_eq(e.ngot, 1);
    ck_assert_str_eq(e.got[0].job_id, "small");
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ovt:dead", ""), 1);
    ck_assert_int_eq(r_int(c, "LLEN %s%s", "ovt:proc:sidA:sdxl_queue", ""), 0);
    redisReply *rep = redisCommand(c, "LINDEX ovt:dead 0");
    json_t *d = json_loadb(rep->str, rep->len, 0, NULL);
    ck_assert_uint_eq(json_string_length(json_object_get(d, "payload")), big);
    ck_assert_str_eq(json_string_value(json_object_get(d, "queue")), "sdxl_queue");
    json_decref(d);
    freeReplyObject(rep);
    env_down(&e);
    redisFree(c);
    front_down();
    redis_down();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("queue_upstash");
    TCase *tc = tcase_create("rest");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, claims_lpush_jobs_fifo_with_leases);
    tcase_add_test(tc, claim_ops_retry_maint_renew_finish);
    tcase_add_test(tc, payload_left_in_processing_list_is_claimed);
    tcase_add_test(tc, demand_gate_claims_only_when_wanted);
    tcase_add_test(tc, oversized_payload_dead_lettered_queue_moves_on);
    tcase_add_test(tc, idle_polling_backs_off);
    tcase_add_test(tc, bad_token_is_logged_once_never_leaked);
    tcase_add_test(tc, front_down_backs_off_with_jitter);
    suite_add_tcase(s, tc);
    TCase *e2e = tcase_create("e2e");
    tcase_set_timeout(e2e, 120);
    tcase_add_test(e2e, e2e_jobs_run_once_through_the_supervisor);
    tcase_add_test(e2e, e2e_supervisor_kill9_job_reclaimed);
    tcase_add_test(e2e, e2e_two_supervisors_each_job_once);
    tcase_add_test(e2e, e2e_bad_token_logged_no_crash);
    suite_add_tcase(s, e2e);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
