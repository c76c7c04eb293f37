/* Redis job source: blocking claim into a leased record, token-checked finish/retry/renew, reaping. */
#include "queue_redis.h"

/* Design and invariants (keys in queue_redis.h; the scripts in queue_scripts.h).
 *
 * Claim. One blocking connection per producer queue runs BLMOVE <queue> P:proc:<sid>:<queue>
 * RIGHT LEFT <block_timeout>: the payload leaves the producer list and lands, atomically, in this
 * supervisor's processing list. The CLAIM script then removes it from there and creates
 * P:claim:<cid> with a random owner token, the attempt number (P:attempts, counted per job id, so
 * requeues keep the count) and a lease deadline in P:leases. Both steps are atomic on the
 * server; between them the payload is always in exactly one Redis list.
 *
 * I1  A payload is always in exactly one of: a producer queue, a processing list, a claim record
 *     (running, delayed, or dead-pending), the dead-letter list — or it was finished after its
 *     callback was delivered. Nothing is ever only in supervisor memory.
 * I2  Only the holder of a claim's token changes it (RENEW, FINISH, RETRY check it). MAINT takes
 *     a claim only when its lease has expired, and replaces the token when it does, so a late
 *     completion of the old owner fails its token check: a reaper and a completion never both win.
 * I3  A processing list is registered (P:procs) and the supervisor's liveness key exists before
 *     its first BLMOVE; when the liveness key expires (the supervisor died or hung past a lease),
 *     MAINT moves the list back onto the queue, and a late CLAIM for it finds nothing (returns 0).
 *     A live supervisor returns its own list whenever a pop connection (re)connects: a BLMOVE
 *     executed by the server but whose reply was lost would otherwise strand its payload there.
 * I4  A job is finished (claim deleted) only from the delivery's done callback, so a crash before
 *     that replays the job; the job id is the callback's idempotency key. At-least-once.
 * I5  Leases are renewed for every claim this process holds (every lease/3, and on progress),
 *     stages and deliveries included; a claim whose renewal reports it lost is dropped without a
 *     callback (its new owner delivers).
 * I6  Attempts count claims (deliveries to a supervisor), not failures: a job that kills its
 *     supervisor each time is reaped and dead-lettered after max_attempts.
 *
 * Queue end: producers LPUSH (July 2025 frontend) or RPUSH (since 2025-08-16). We pop the RIGHT
 * end, as the Python workers' RPOP did: FIFO for LPUSH producers, and for RPUSH producers the
 * same newest-first order the deployed workers had. Either way nothing is lost; retries go back
 * onto the right end, so they run next.
 *
 * Scripts derive claim/status keys from the prefix inside Lua: fine on one Redis (and its
 * replicas), not meant for Redis Cluster.
 *
 * The job records, stages, delivery and retry policy live in queue_core.c (shared with the
 * Upstash source); this file is the hiredis transport: BLMOVE claims, the scripts over EVALSHA,
 * renewal / maintenance timers and queue depth (LLEN). */

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "queue_core.h"
#include "queue_scripts.h"
#include "redis_conn.h"
#include "strcopy.h"

#define NQ OV_QCORE_NQ
#define PAYLOAD_MAX (1u << 20)
#define RENEW_BATCH 200 /* claims per RENEW call */
#define MAINT_LIMIT "100"
#define KEY_MAX OV_QCORE_KEY_MAX

typedef struct qsrc {
    ov_qcore c; /* first member: ov_job_source* <-> ov_qcore* <-> qsrc* */
    ov_redis_url url;
    ov_rconn *cmd, *blk[NQ];
    char k_leases[KEY_MAX], k_delayed[KEY_MAX], k_procs[KEY_MAX], k_attempts[KEY_MAX], k_dead[KEY_MAX],
        k_alive[KEY_MAX];
    ov_rscript s_claim, s_renew, s_finish, s_retry, s_maint;
    int64_t block_ms, reap_ms;
    int registered;   /* RENEW answered since the last connect: BLMOVE may run (I3) */
    int fetching[NQ]; /* BLMOVE in flight */
    int claiming[NQ]; /* claims popped and not answered yet */
    int64_t depth[NQ];
    int renew_inflight, maint_inflight;
} qsrc;

/* ---------- small helpers ---------- */

static size_t slen(const char *x)
{
    return strlen(x);
}

static void status_key(const qsrc *s, const ov_qrec *r, char *out, size_t n)
{
    snprintf(out, n, "%s:status:%s", s->c.prefix, r->spec.id[0] ? r->spec.id : "-");
}

static void claim_key(const qsrc *s, const ov_qrec *r, char *out, size_t n)
{
    snprintf(out, n, "%s:claim:%s", s->c.prefix, r->cid);
}

/* ---------- sending the per-record operations (CLAIM / FINISH / RETRY) ---------- */

static void fetch(qsrc *s, int qi);
static void on_claim_reply(ov_rconn *c, redisReply *rep, void *priv);
static void on_op_reply(ov_rconn *c, redisReply *rep, void *priv);

static void rec_send(ov_qrec *r)
{
    qsrc *s = (qsrc *)r->s;
    if (r->op_inflight || s->c.closing || !ov_rconn_up(s->cmd))
        return; /* sent (again) after the next connect */
    char ck[KEY_MAX], sk[KEY_MAX], n1[32], n2[32], n3[32];
    claim_key(s, r, ck, sizeof ck);
    status_key(s, r, sk, sizeof sk);
    int has_status = r->spec.id[0] != '\0';
    snprintf(n3, sizeof n3, "%d", OV_QREDIS_STATUS_TTL_S);
    int rc;
    if (r->state == OV_QREC_CLAIMING) {
        char akey[OV_JOB_ID_MAX + 8];
        snprintf(akey, sizeof akey, has_status ? "id:%s" : "cid:%s", has_status ? r->spec.id : r->cid);
        snprintf(n1, sizeof n1, "%lld", (long long)s->c.lease_ms);
        const char *av[] = {s->c.k_proc[r->qi], ck, s->k_leases, s->k_attempts, sk, r->payload, r->cid, r->token,
                            s->c.sid, s->c.queue[r->qi], n1, akey, r->spec.id, n3};
        size_t al[14];
        for (int i = 0; i < 14; i++)
            al[i] = i == 5 ? r->payload_len : slen(av[i]);
        rc = ov_rconn_eval(s->cmd, &s->s_claim, 5, 14, av, al, on_claim_reply, r);
    } else if (r->state == OV_QREC_FINISHING) {
        ov_buf de;
        ov_buf_init(&de, PAYLOAD_MAX * 6 + 4096);
        if (r->dead_letter)
            ov_qcore_dead_entry(r, &de);
        snprintf(n1, sizeof n1, "%lld", (long long)s->c.dead_max);
        const char *av[] = {ck,       s->k_leases, s->k_attempts, sk, s->k_dead, r->token, r->cid, r->final_state,
                            de.len ? de.data : "", n1, n3, r->reason, has_status ? "1" : "0"};
        rc = ov_rconn_eval(s->cmd, &s->s_finish, 5, 13, av, NULL, on_op_reply, r);
        ov_buf_free(&de);
    } else if (r->state == OV_QREC_RETRYING) {
        snprintf(n2, sizeof n2, "%lld", (long long)r->retry_delay_ms);
        const char *av[] = {ck, s->k_leases, s->k_delayed, sk, r->token, r->cid, n2, r->reason, n3,
                            has_status ? "1" : "0"};
        rc = ov_rconn_eval(s->cmd, &s->s_retry, 4, 10, av, NULL, on_op_reply, r);
    } else
        return;
    if (rc == 0)
        r->op_inflight = 1;
}

/* CLAIM answered: 0 = lost to a reaper, else the attempt number. */
static void claim_answered(ov_qrec *r, long long attempt)
{
    if (attempt == 0) {
        ov_log(OV_LOG_WARN, "job_claim_lost", "cid=%s reason=\"processing list was reaped\"", r->cid);
        ov_qcore_rec_free(r->s, r);
        return;
    }
    r->job.attempts = (int)attempt;
    ov_qcore_claimed(r);
}

static void on_claim_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    ov_qrec *r = priv;
    qsrc *s = (qsrc *)r->s;
    r->op_inflight = 0;
    if (!rep || s->c.closing)
        return; /* resent after reconnect (the script is idempotent for our token) */
    if (rep->type == REDIS_REPLY_INTEGER) {
        int qi = r->qi; /* r may be gone after claim_answered */
        s->claiming[qi]--;
        claim_answered(r, rep->integer);
        fetch(s, qi); /* an invalid job did not reach a worker: the next one may */
        return;
    }
    ov_log(OV_LOG_ERR, "redis_claim_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
}

static void on_op_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    ov_qrec *r = priv;
    r->op_inflight = 0;
    if (!rep || r->s->closing)
        return; /* resent after reconnect; a resend that finds the token gone means it was applied */
    if (rep->type == REDIS_REPLY_ERROR) {
        ov_log(OV_LOG_ERR, "redis_script_error", "op=%s error=\"%s\"", ov_qcore_state_name(r->state), rep->str);
        return;
    }
    ov_qcore_op_done(r, rep->type == REDIS_REPLY_INTEGER && rep->integer == 0);
}

/* ---------- fetching ---------- */

static void on_blmove(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    int qi = c == s->blk[0] ? 0 : 1;
    s->fetching[qi] = 0;
    if (s->c.closing)
        return;
    if (!rep) /* disconnect: fetch again when it is back */
        return;
    if (rep->type == REDIS_REPLY_STRING) {
        char cid[25], token[sizeof s->c.sid + 26];
        ov_qcore_rand_hex(&s->c, cid, sizeof cid);
        snprintf(token, sizeof token, "%s.", s->c.sid);
        ov_qcore_rand_hex(&s->c, token + strlen(token), 25);
        ov_qrec *r = ov_qcore_rec_new(&s->c, qi, rep->str, (size_t)rep->len, cid, token, 0, 0);
        if (!r) {
            /* The payload stays in the processing list: returned on the next reconnect, or by
             * MAINT once we are gone. */
            ov_log(OV_LOG_ERR, "job_claim_oom", "queue=%s", s->c.queue[qi]);
            return;
        }
        if (r->parse_rc == 0 && ov_qcore_kind_queue(r->spec.kind) != qi)
            ov_log(OV_LOG_NOTICE, "job_other_queue", "job=%s type=%s queue=%s", r->spec.id, r->spec.type,
                   s->c.queue[qi]);
        s->claiming[qi]++;
        rec_send(r);
    }
    fetch(s, qi);
}

/* Start a blocking pop on queue qi when a worker is waiting for one and none is running. */
static void fetch(qsrc *s, int qi)
{
    int kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
    if (s->c.closing || !s->c.want[qi] || s->fetching[qi] || s->claiming[qi] || s->c.nready[kind] ||
        !s->registered || !ov_rconn_up(s->blk[qi]))
        return;
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%.3f", (double)s->block_ms / 1000.0);
    const char *av[] = {"BLMOVE", s->c.queue[qi], s->c.k_proc[qi], "RIGHT", "LEFT", tmo};
    if (ov_rconn_cmd(s->blk[qi], s->block_ms, on_blmove, s, 6, av, NULL) == 0)
        s->fetching[qi] = 1;
}

/* ---------- renew / maintenance ---------- */

static void on_renew_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    s->renew_inflight--;
    if (!rep || s->c.closing)
        return;
    if (rep->type != REDIS_REPLY_ARRAY) {
        ov_log(OV_LOG_ERR, "redis_renew_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        return;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_STRING)
            ov_qcore_lease_lost(&s->c, e->str);
    }
    if (!s->registered) {
        s->registered = 1;
        for (int qi = 0; qi < NQ; qi++)
            fetch(s, qi);
    }
}

static int renew_send(qsrc *s, const char **av, int n)
{
    if (ov_rconn_eval(s->cmd, &s->s_renew, 3, n, av, NULL, on_renew_reply, s) != 0)
        return -1;
    s->renew_inflight++;
    return 0;
}

/* Refresh liveness, register processing lists, renew every claim we hold (I3, I5). */
static void renew_all(qsrc *s)
{
    if (s->c.closing || !ov_rconn_up(s->cmd))
        return;
    const char *av[8 + 2 * NQ + 2 * RENEW_BATCH];
    char lease[32], np[8];
    snprintf(lease, sizeof lease, "%lld", (long long)s->c.lease_ms);
    snprintf(np, sizeof np, "%d", NQ);
    int base = 0;
    av[base++] = s->k_leases, av[base++] = s->k_alive, av[base++] = s->k_procs;
    av[base++] = s->c.prefix, av[base++] = lease, av[base++] = s->c.sid, av[base++] = np;
    for (int qi = 0; qi < NQ; qi++)
        av[base++] = s->c.k_proc[qi], av[base++] = s->c.queue[qi];
    int n = base, sent = 0;
    uint64_t now = uv_now(s->c.loop);
    for (ov_qrec *r = s->c.all; r; r = r->next) {
        if (r->state == OV_QREC_CLAIMING || r->lost)
            continue;
        av[n++] = r->cid, av[n++] = r->token;
        r->last_renew_ms = now;
        if (n == base + 2 * RENEW_BATCH) {
            renew_send(s, av, n);
            n = base, sent = 1;
        }
    }
    if (n > base || !sent)
        renew_send(s, av, n);
    /* Stalled operations (a reply lost to an error reply) are retried here too. */
    ov_qcore_resend_stalled(&s->c);
}

static void on_renew_timer(uv_timer_t *t)
{
    renew_all(t->data);
}

static void deliver_reaped(qsrc *s, const redisReply *e)
{
    /* {cid, token, payload, job_id, attempts, queue, reason} */
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 7)
        return;
    for (size_t i = 0; i < 7; i++)
        if (i != 4 && e->element[i]->type != REDIS_REPLY_STRING)
            return;
    int attempts = e->element[4]->type == REDIS_REPLY_INTEGER ? (int)e->element[4]->integer : 0;
    int qi = strcmp(e->element[5]->str, s->c.queue[0]) == 0 ? 0 : 1;
    ov_qrec *r = ov_qcore_rec_new(&s->c, qi, e->element[2]->str, e->element[2]->len, e->element[0]->str,
                                  e->element[1]->str, attempts, 1);
    if (!r)
        return; /* the lease expires again; the next reap retries */
    char why[sizeof r->reason];
    ov_str_copy(why, sizeof why, e->element[6]->str);
    ov_qcore_reaped(r, why);
}

static void on_maint_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    s->maint_inflight = 0;
    if (!rep || s->c.closing)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
        ov_log(OV_LOG_ERR, "redis_maint_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        return;
    }
    long long promoted = rep->element[0]->integer, requeued = rep->element[1]->integer,
              orphans = rep->element[2]->integer;
    ov_qcore_maint_log(promoted, requeued, orphans);
    const redisReply *dead = rep->element[3];
    if (dead->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < dead->elements; i++)
            deliver_reaped(s, dead->element[i]);
    if (promoted || requeued || orphans)
        for (int qi = 0; qi < NQ; qi++)
            fetch(s, qi);
}

static void on_llen0(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        s->depth[0] = rep->integer;
}

static void on_llen1(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    if (rep && rep->type == REDIS_REPLY_INTEGER)
        s->depth[1] = rep->integer;
}

static void maint(qsrc *s)
{
    if (s->c.closing || !ov_rconn_up(s->cmd) || s->maint_inflight)
        return;
    char maxa[16], lease[32], ttl[16], tokp[64];
    snprintf(maxa, sizeof maxa, "%d", s->c.max_attempts);
    snprintf(lease, sizeof lease, "%lld", (long long)s->c.lease_ms);
    snprintf(ttl, sizeof ttl, "%d", OV_QREDIS_STATUS_TTL_S);
    snprintf(tokp, sizeof tokp, "%s.r", s->c.sid);
    ov_qcore_rand_hex(&s->c, tokp + strlen(tokp), 9);
    ov_str_copy(tokp + strlen(tokp), 2, ".");
    const char *av[] = {s->k_leases, s->k_delayed, s->k_procs, s->c.prefix, maxa, s->c.sid, lease, tokp,
                        MAINT_LIMIT, ttl};
    if (ov_rconn_eval(s->cmd, &s->s_maint, 3, 10, av, NULL, on_maint_reply, s) == 0)
        s->maint_inflight = 1;
    const char *l0[] = {"LLEN", s->c.queue[0]}, *l1[] = {"LLEN", s->c.queue[1]};
    ov_rconn_cmd(s->cmd, 0, on_llen0, s, 2, l0, NULL);
    ov_rconn_cmd(s->cmd, 0, on_llen1, s, 2, l1, NULL);
}

static void on_maint_timer(uv_timer_t *t)
{
    maint(t->data);
}

static void on_cmd_state(ov_rconn *c, int up, void *ctx)
{
    (void)c;
    qsrc *s = ctx;
    if (!up) {
        s->registered = 0;
        s->renew_inflight = 0;
        s->maint_inflight = 0;
        return;
    }
    /* The server may have restarted: its script cache is empty. */
    ov_rscript *all[] = {&s->s_claim, &s->s_renew, &s->s_finish, &s->s_retry, &s->s_maint};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        all[i]->sha[0] = '\0';
    renew_all(s); /* registers, then fetches (I3); resends pending operations */
    maint(s);
}

static void on_proc_returned(ov_rconn *c, redisReply *rep, void *priv)
{
    qsrc *s = priv;
    int qi = c == s->blk[0] ? 0 : 1;
    if (!rep || s->c.closing)
        return; /* dropped again: the next connect repeats it */
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
        ov_log(OV_LOG_NOTICE, "queue_proc_returned", "queue=%s payloads=%lld reason=\"pop reply lost\"",
               s->c.queue[qi], (long long)rep->integer);
    else if (rep->type == REDIS_REPLY_ERROR)
        ov_log(OV_LOG_ERR, "redis_script_error", "op=return_proc error=\"%s\"", rep->str);
}

static void on_blk_state(ov_rconn *c, int up, void *ctx)
{
    qsrc *s = ctx;
    int qi = c == s->blk[0] ? 0 : 1;
    if (!up) {
        s->fetching[qi] = 0;
        return;
    }
    /* A BLMOVE in flight when the connection went away may have moved a payload whose reply we
     * never saw: put our processing list back on the queue before popping again (same
     * connection, so it runs before the next BLMOVE). */
    const char *av[] = {"EVAL", OV_LUA_RETURN_PROC, "2", s->c.k_proc[qi], s->c.queue[qi]};
    if (ov_rconn_cmd(c, 0, on_proc_returned, s, 5, av, NULL) != 0)
        return; /* down again already */
    fetch(s, qi);
}

/* ---------- the core's transport ops ---------- */

static void t_renew(ov_qcore *c)
{
    renew_all((qsrc *)c);
}

static void t_kick(ov_qcore *c, int qi)
{
    fetch((qsrc *)c, qi);
}

static int64_t t_queued(ov_qcore *c, int qi)
{
    return ((qsrc *)c)->depth[qi];
}

static void t_close(ov_qcore *c)
{
    qsrc *s = (qsrc *)c;
    for (int qi = 0; qi < NQ; qi++)
        ov_rconn_close(s->blk[qi]);
    ov_rconn_close(s->cmd);
}

static const ov_qcore_ops redis_transport = {
    .send = rec_send,
    .renew = t_renew,
    .kick = t_kick,
    .queued = t_queued,
    .close = t_close,
    .describe_transport = NULL,
    .log_result = 1,
};

int ov_queue_redis_new(uv_loop_t *loop, const ov_config *cfg, ov_delivery *delivery, ov_job_source **out,
                       char *err, size_t errlen)
{
    qsrc *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    if (ov_redis_url_parse(cfg->redis_url, &s->url, err, errlen) != 0) {
        free(s);
        return OV_ECONFIG;
    }
    if (ov_qcore_init(&s->c, &redis_transport, loop, cfg, delivery, err, errlen) != 0) {
        free(s);
        return OV_ECONFIG;
    }
    const char *prefix = s->c.prefix, *sid = s->c.sid;
    snprintf(s->k_leases, KEY_MAX, "%s:leases", prefix);
    snprintf(s->k_delayed, KEY_MAX, "%s:delayed", prefix);
    snprintf(s->k_procs, KEY_MAX, "%s:procs", prefix);
    snprintf(s->k_attempts, KEY_MAX, "%s:attempts", prefix);
    snprintf(s->k_dead, KEY_MAX, "%s:dead", prefix);
    snprintf(s->k_alive, KEY_MAX, "%s:alive:%s", prefix, sid);
    s->s_claim = (ov_rscript){.name = "claim", .body = OV_LUA_CLAIM};
    s->s_renew = (ov_rscript){.name = "renew", .body = OV_LUA_RENEW};
    s->s_finish = (ov_rscript){.name = "finish", .body = OV_LUA_FINISH};
    s->s_retry = (ov_rscript){.name = "retry", .body = OV_LUA_RETRY};
    s->s_maint = (ov_rscript){.name = "maint", .body = OV_LUA_MAINT};
    s->block_ms = cfg->redis_block_timeout_ms > 0 ? cfg->redis_block_timeout_ms : 2000;
    s->reap_ms = cfg->redis_reap_interval_ms > 0 ? cfg->redis_reap_interval_ms : 5000;
    int rc = 0;
    if (uv_timer_init(loop, &s->c.renew_t) != 0 || uv_timer_init(loop, &s->c.maint_t) != 0) {
        free(s);
        return OV_EIO;
    }
    s->c.renew_t.data = s->c.maint_t.data = s;
    rc = ov_rconn_new(loop, &s->url, "cmd", cfg->redis_command_timeout_ms, cfg->redis_reconnect_max_ms,
                      on_cmd_state, s, &s->cmd);
    for (int qi = 0; qi < NQ && rc == 0; qi++)
        rc = ov_rconn_new(loop, &s->url, qi == 0 ? "pop.sdxl" : "pop.wan", cfg->redis_command_timeout_ms,
                          cfg->redis_reconnect_max_ms, on_blk_state, s, &s->blk[qi]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create redis connections: %s", ov_strerror(rc));
        s->c.base.ops->close(&s->c.base);
        *out = &s->c.base; /* handles are closing: the caller destroys after running the loop */
        return rc;
    }
    uint64_t renew_every = (uint64_t)s->c.lease_ms / 3 > 0 ? (uint64_t)s->c.lease_ms / 3 : 1;
    uv_timer_start(&s->c.renew_t, on_renew_timer, renew_every, renew_every);
    uv_timer_start(&s->c.maint_t, on_maint_timer, (uint64_t)s->reap_ms, (uint64_t)s->reap_ms);
    ov_log(OV_LOG_INFO, "queue_redis_started", "sid=%s queues=%s,%s prefix=%s lease_ms=%lld max_attempts=%d",
           s->c.sid, s->c.queue[0], s->c.queue[1], s->c.prefix, (long long)s->c.lease_ms, s->c.max_attempts);
    *out = &s->c.base;
    return 0;
}
