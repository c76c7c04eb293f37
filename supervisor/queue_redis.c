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
 * replicas), not meant for Redis Cluster. */

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "job_contract.h"
#include "queue_scripts.h"
#include "redis_conn.h"
#include "strcopy.h"

#define NQ 2 /* producer queues: 0 = sdxl, 1 = wan */
#define PAYLOAD_MAX (1u << 20)
#define RENEW_BATCH 200 /* claims per RENEW call */
#define MAINT_LIMIT "100"
#define KEY_MAX 256

enum rec_state {
    R_CLAIMING,   /* CLAIM to send / in flight */
    R_READY,      /* in a ready list, waiting for a worker */
    R_RUNNING,    /* at a worker */
    R_DELIVERING, /* ov_delivery_start called, done callback pending */
    R_FINISHING,  /* FINISH to send / in flight */
    R_RETRYING    /* RETRY to send / in flight */
};
static const char *const rec_state_names[] = {"claiming", "ready", "running", "delivering", "finishing",
                                              "retrying"};

typedef struct qsrc qsrc;

typedef struct qrec {
    ov_job job; /* first member: ov_job* <-> qrec* */
    qsrc *s;
    struct qrec *prev, *next;   /* all records */
    struct qrec *rnext;         /* ready list */
    int state;
    int qi;                     /* producer queue index */
    char cid[40], token[80];
    char *payload;
    size_t payload_len;
    ov_job_spec spec;
    int parse_rc;               /* 0, OV_EINVAL (id known), OV_EFORMAT (no id) */
    int stage;
    int op_inflight;            /* a CLAIM / FINISH / RETRY command awaits its reply */
    int lost;                   /* renewal found another token: drop silently */
    int64_t retry_delay_ms;
    char final_state[16];       /* FINISH: "completed" | "failed" | "dead" */
    int dead_letter;            /* FINISH pushes a dead-letter entry */
    char reason[512];
    uint64_t last_renew_ms;
} qrec;

struct qsrc {
    ov_job_source base;
    uv_loop_t *loop;
    ov_delivery *dlv;
    ov_redis_url url;
    ov_rconn *cmd, *blk[NQ];
    char prefix[64], sid[40];
    char queue[NQ][64];
    char k_proc[NQ][KEY_MAX], k_leases[KEY_MAX], k_delayed[KEY_MAX], k_procs[KEY_MAX], k_attempts[KEY_MAX],
        k_dead[KEY_MAX], k_alive[KEY_MAX];
    ov_rscript s_claim, s_renew, s_finish, s_retry, s_maint;
    const ov_job_types *types;
    ov_job_types own_types;
    int64_t lease_ms, block_ms, backoff_initial_ms, backoff_max_ms, dead_max, reap_ms;
    int max_attempts;
    int registered;      /* RENEW answered since the last connect: BLMOVE may run (I3) */
    int fetching[NQ];    /* BLMOVE in flight */
    int want[NQ];        /* a worker asked and found nothing (cleared when one gets a job) */
    int claiming[NQ];    /* claims popped and not answered yet */
    qrec *all;
    qrec *rhead[OV_KIND_COUNT], *rtail[OV_KIND_COUNT];
    int64_t nready[OV_KIND_COUNT];
    int64_t depth[NQ];
    uv_timer_t renew_t, maint_t;
    int renew_inflight, maint_inflight;
    int closing;
    uint64_t rng;
};

/* ---------- small helpers ---------- */

static uint64_t rng_next(qsrc *s)
{
    /* xorshift64*, seeded from /dev/urandom: tokens only need to be unguessable by accident. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ULL;
}

static void rand_hex(qsrc *s, char *out, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t i = 0;
    while (i + 1 < n) {
        uint64_t v = rng_next(s);
        for (int b = 0; b < 16 && i + 1 < n; b++, v >>= 4)
            out[i++] = hx[v & 15];
    }
    out[i] = '\0';
}

static int kind_queue(int kind)
{
    return kind == OV_KIND_SDXL ? 0 : kind == OV_KIND_WAN ? 1 : -1;
}

static size_t slen(const char *x)
{
    return strlen(x);
}

static void status_key(const qsrc *s, const qrec *r, char *out, size_t n)
{
    snprintf(out, n, "%s:status:%s", s->prefix, r->spec.id[0] ? r->spec.id : "-");
}

static void claim_key(const qsrc *s, const qrec *r, char *out, size_t n)
{
    snprintf(out, n, "%s:claim:%s", s->prefix, r->cid);
}

static void rec_unlink_free(qsrc *s, qrec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->all = r->next;
    if (r->next)
        r->next->prev = r->prev;
    ov_job_spec_free(&r->spec);
    ov_kvlist_free(&r->job.params);
    free(r->payload);
    free(r);
}

static void ready_push(qsrc *s, qrec *r)
{
    int k = r->job.kind;
    r->rnext = NULL;
    if (s->rtail[k])
        s->rtail[k]->rnext = r;
    else
        s->rhead[k] = r;
    s->rtail[k] = r;
    s->nready[k]++;
    r->state = R_READY;
}

static qrec *ready_pop(qsrc *s, int k)
{
    qrec *r = s->rhead[k];
    if (!r)
        return NULL;
    s->rhead[k] = r->rnext;
    if (!s->rhead[k])
        s->rtail[k] = NULL;
    r->rnext = NULL;
    s->nready[k]--;
    return r;
}

static void ready_remove(qsrc *s, qrec *r)
{
    int k = r->job.kind;
    qrec **pp = &s->rhead[k], *prev = NULL;
    while (*pp && *pp != r)
        prev = *pp, pp = &(*pp)->rnext;
    if (!*pp)
        return;
    *pp = r->rnext;
    if (s->rtail[k] == r)
        s->rtail[k] = prev;
    s->nready[k]--;
}

/* ---------- sending the per-record operations (CLAIM / FINISH / RETRY) ---------- */

static void rec_send(qrec *r);
static void fetch(qsrc *s, int qi);

/* Set up the worker-facing job for the record's current stage. 0 or <0 (logged). */
static int rec_stage_job(qrec *r)
{
    ov_kvlist_free(&r->job.params);
    if (r->stage < 0 || r->stage >= r->spec.nstages)
        return OV_EINTERNAL;
    const ov_job_stage *st = &r->spec.stages[r->stage];
    r->job.kind = st->kind;
    ov_str_copy(r->job.task, sizeof r->job.task, st->task);
    int rc = ov_kvlist_copy(&r->job.params, &st->params);
    r->job.dispatch_ack_us = -1;
    r->job.phase[0] = '\0';
    r->job.progress = 0;
    r->job.worker[0] = '\0';
    return rc;
}

static void rec_start_finish(qrec *r, const char *final_state, int dead_letter, const char *reason)
{
    ov_str_copy(r->final_state, sizeof r->final_state, final_state);
    r->dead_letter = dead_letter;
    ov_str_copy(r->reason, sizeof r->reason, reason ? reason : "");
    r->state = R_FINISHING;
    rec_send(r);
}

static void on_delivered(void *ctx, int status, const char *detail);

/* Hand a terminal outcome to delivery (a failed callback when !result). */
static void rec_deliver(qrec *r, const ov_msg *result, const char *error)
{
    qsrc *s = r->s;
    if (r->lost) {
        ov_log(OV_LOG_WARN, "job_lease_lost", "job=%s cid=%s action=drop", r->spec.id, r->cid);
        rec_unlink_free(s, r);
        return;
    }
    ov_buf meta;
    ov_buf_init(&meta, 64 * 1024);
    if (r->parse_rc == 0 && ov_job_spec_metadata_json(&r->spec, &meta) != 0)
        ov_buf_reset(&meta);
    /* An invalid job may lack a readable type or user: its failed callback still goes out. */
    ov_delivery_job dj = {.job_id = r->spec.id,
                          .job_type = ov_job_id_is_safe(r->spec.type) ? r->spec.type : "unknown",
                          .user_id = ov_job_id_is_safe(r->spec.user_id) ? r->spec.user_id : "unknown",
                          .video_id = r->spec.video_id[0] ? r->spec.video_id : NULL,
                          .completed = result != NULL,
                          .result = result,
                          .error_message = error,
                          .metadata_json = meta.len ? meta.data : NULL};
    if (!result)
        ov_str_copy(r->reason, sizeof r->reason, error ? error : "failed");
    r->final_state[0] = '\0';
    ov_str_copy(r->final_state, sizeof r->final_state, result ? "completed" : "failed");
    r->state = R_DELIVERING;
    int rc = ov_delivery_start(s->dlv, &dj, on_delivered, r);
    ov_buf_free(&meta);
    if (rc != 0) {
        /* Bad fields (should have been caught by validation) or out of memory: dead-letter. */
        char why[600];
        snprintf(why, sizeof why, "delivery refused the job (%s): %s", ov_errname(rc), r->reason);
        ov_log(OV_LOG_ERR, "job_delivery_refused", "job=%s error=%s", r->spec.id, ov_errname(rc));
        rec_start_finish(r, "dead", 1, why);
    }
}

static void on_delivered(void *ctx, int status, const char *detail)
{
    qrec *r = ctx;
    if (r->s->closing)
        return;
    if (status == 0) {
        /* Completed, or failed for good (dead-lettered when it was an error). */
        int failed = strcmp(r->final_state, "failed") == 0;
        rec_start_finish(r, r->final_state, failed, failed ? r->reason : "");
        return;
    }
    char why[600];
    if (status == OV_EIO)
        snprintf(why, sizeof why, "%s", detail ? detail : "upload failed");
    else
        snprintf(why, sizeof why, "callback not delivered: %s", detail ? detail : ov_errname(status));
    ov_log(OV_LOG_ERR, "job_delivery_gave_up", "job=%s status=%s detail=\"%s\"", r->spec.id, ov_errname(status),
           detail ? detail : "");
    rec_start_finish(r, status == OV_EIO ? "failed" : "dead", 1, why);
}

static void on_claim_reply(ov_rconn *c, redisReply *rep, void *priv);
static void claim_answered(qrec *r, long long attempt);
static int retry_or_die(qsrc *s, qrec *r, const char *why);
static void enhancement_done(qrec *r, const ov_msg *result, const char *why);
static void on_op_reply(ov_rconn *c, redisReply *rep, void *priv);

static void dead_entry(qrec *r, ov_buf *b)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    ov_buf_puts(b, "{");
    ov_json_key(b, "job_id"), ov_json_str(b, r->spec.id);
    ov_buf_puts(b, ","), ov_json_key(b, "queue"), ov_json_str(b, r->s->queue[r->qi]);
    ov_buf_puts(b, ","), ov_json_key(b, "reason"), ov_json_str(b, r->reason);
    ov_buf_puts(b, ","), ov_json_key(b, "attempts"), ov_json_int(b, r->job.attempts);
    ov_buf_puts(b, ","), ov_json_key(b, "at_ms"), ov_json_int(b, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    ov_buf_puts(b, ","), ov_json_key(b, "payload"), ov_json_strn(b, r->payload, r->payload_len);
    ov_buf_puts(b, "}");
}

static void rec_send(qrec *r)
{
    qsrc *s = r->s;
    if (r->op_inflight || s->closing || !ov_rconn_up(s->cmd))
        return; /* sent (again) after the next connect */
    char ck[KEY_MAX], sk[KEY_MAX], n1[32], n2[32], n3[32];
    claim_key(s, r, ck, sizeof ck);
    status_key(s, r, sk, sizeof sk);
    int has_status = r->spec.id[0] != '\0';
    snprintf(n3, sizeof n3, "%d", OV_QREDIS_STATUS_TTL_S);
    int rc;
    if (r->state == R_CLAIMING) {
        char akey[OV_JOB_ID_MAX + 8];
        snprintf(akey, sizeof akey, has_status ? "id:%s" : "cid:%s", has_status ? r->spec.id : r->cid);
        snprintf(n1, sizeof n1, "%lld", (long long)s->lease_ms);
        const char *av[] = {s->k_proc[r->qi], ck, s->k_leases, s->k_attempts, sk, r->payload, r->cid, r->token,
                            s->sid, s->queue[r->qi], n1, akey, r->spec.id, n3};
        size_t al[14];
        for (int i = 0; i < 14; i++)
            al[i] = i == 5 ? r->payload_len : slen(av[i]);
        rc = ov_rconn_eval(s->cmd, &s->s_claim, 5, 14, av, al, on_claim_reply, r);
    } else if (r->state == R_FINISHING) {
        ov_buf de;
        ov_buf_init(&de, PAYLOAD_MAX * 6 + 4096);
        if (r->dead_letter)
            dead_entry(r, &de);
        snprintf(n1, sizeof n1, "%lld", (long long)s->dead_max);
        const char *av[] = {ck,       s->k_leases, s->k_attempts, sk, s->k_dead, r->token, r->cid, r->final_state,
                            de.len ? de.data : "", n1, n3, r->reason, has_status ? "1" : "0"};
        rc = ov_rconn_eval(s->cmd, &s->s_finish, 5, 13, av, NULL, on_op_reply, r);
        ov_buf_free(&de);
    } else if (r->state == R_RETRYING) {
        snprintf(n2, sizeof n2, "%lld", (long long)r->retry_delay_ms);
        const char *av[] = {ck, s->k_leases, s->k_delayed, sk, r->token, r->cid, n2, r->reason, n3,
                            has_status ? "1" : "0"};
        rc = ov_rconn_eval(s->cmd, &s->s_retry, 4, 10, av, NULL, on_op_reply, r);
    } else
        return;
    if (rc == 0)
        r->op_inflight = 1;
}

static void on_claim_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qrec *r = priv;
    qsrc *s = r->s;
    r->op_inflight = 0;
    if (!rep || s->closing)
        return; /* resent after reconnect (the script is idempotent for our token) */
    if (rep->type == REDIS_REPLY_INTEGER) {
        s->claiming[r->qi]--;
        claim_answered(r, rep->integer);
        fetch(s, r->qi); /* an invalid job did not reach a worker: the next one may */
        return;
    }
    ov_log(OV_LOG_ERR, "redis_claim_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
}

/* CLAIM answered: 0 = lost to a reaper, else the attempt number. */
static void claim_answered(qrec *r, long long attempt)
{
    qsrc *s = r->s;
    if (attempt == 0) {
        ov_log(OV_LOG_WARN, "job_claim_lost", "cid=%s reason=\"processing list was reaped\"", r->cid);
        rec_unlink_free(s, r);
        return;
    }
    r->job.attempts = (int)attempt;
    r->last_renew_ms = uv_now(s->loop);
    if (r->parse_rc == OV_EFORMAT) {
        char esc[200];
        ov_log(OV_LOG_ERR, "job_malformed", "queue=%s cid=%s reason=\"%s\" action=dead_letter", s->queue[r->qi],
               r->cid, ov_log_escape(esc, sizeof esc, r->reason));
        rec_start_finish(r, "dead", 1, r->reason);
        return;
    }
    if (r->parse_rc == OV_ENOMEM) {
        retry_or_die(s, r, "out of memory while parsing the job");
        return;
    }
    if (r->parse_rc != 0) {
        char esc[200];
        ov_log(OV_LOG_WARN, "job_invalid", "job=%s reason=\"%s\" action=failed_callback", r->spec.id,
               ov_log_escape(esc, sizeof esc, r->reason));
        char why[sizeof r->reason];
        ov_str_copy(why, sizeof why, r->reason);
        rec_deliver(r, NULL, why);
        return;
    }
    r->stage = 0;
    if (rec_stage_job(r) != 0) {
        rec_deliver(r, NULL, "internal error: cannot build the job for its worker");
        return;
    }
    ov_log(OV_LOG_DEBUG, "job_claimed", "job=%s type=%s attempt=%d cid=%s", r->spec.id, r->spec.type,
           r->job.attempts, r->cid);
    ready_push(s, r);
    ov_job_source_wake(&s->base);
}

static void on_op_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qrec *r = priv;
    qsrc *s = r->s;
    r->op_inflight = 0;
    if (!rep || s->closing)
        return; /* resent after reconnect; a resend that finds the token gone means it was applied */
    if (rep->type == REDIS_REPLY_ERROR) {
        ov_log(OV_LOG_ERR, "redis_script_error", "op=%s error=\"%s\"", rec_state_names[r->state], rep->str);
        return;
    }
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0)
        ov_log(OV_LOG_DEBUG, "job_op_token_mismatch", "cid=%s op=%s", r->cid, rec_state_names[r->state]);
    else if (r->state == R_FINISHING)
        ov_log(OV_LOG_INFO, "job_finished", "job=%s state=%s attempts=%d", r->spec.id[0] ? r->spec.id : "-",
               r->final_state, r->job.attempts);
    rec_unlink_free(s, r);
}

/* ---------- fetching ---------- */

static void on_blmove(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    int qi = c == s->blk[0] ? 0 : 1;
    s->fetching[qi] = 0;
    if (s->closing)
        return;
    if (!rep) /* disconnect: fetch again when it is back */
        return;
    if (rep->type == REDIS_REPLY_STRING) {
        qrec *r = calloc(1, sizeof *r);
        if (!r || !(r->payload = malloc((size_t)rep->len + 1))) {
            /* The payload stays in the processing list: reaped back after our lease. */
            free(r);
            ov_log(OV_LOG_ERR, "job_claim_oom", "queue=%s", s->queue[qi]);
            return;
        }
        memcpy(r->payload, rep->str, (size_t)rep->len);
        r->payload[rep->len] = '\0';
        r->payload_len = (size_t)rep->len;
        r->s = s;
        r->qi = qi;
        rand_hex(s, r->cid, 25);
        snprintf(r->token, sizeof r->token, "%s.", s->sid);
        rand_hex(s, r->token + strlen(r->token), 25);
        r->parse_rc = ov_job_parse(s->types, r->payload, r->payload_len, &r->spec, r->reason, sizeof r->reason);
        ov_str_copy(r->spec.queue, sizeof r->spec.queue, s->queue[qi]);
        if (r->parse_rc == 0 && kind_queue(r->spec.kind) != qi)
            ov_log(OV_LOG_NOTICE, "job_other_queue", "job=%s type=%s queue=%s", r->spec.id, r->spec.type,
                   s->queue[qi]);
        ov_str_copy(r->job.id, sizeof r->job.id, r->spec.id[0] ? r->spec.id : r->cid);
        ov_str_copy(r->job.type, sizeof r->job.type, r->spec.type[0] ? r->spec.type : "invalid");
        r->job.kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
        r->job.dispatch_ack_us = -1;
        r->state = R_CLAIMING;
        r->next = s->all;
        if (s->all)
            s->all->prev = r;
        s->all = r;
        s->claiming[qi]++;
        rec_send(r);
    }
    fetch(s, qi);
}

/* Start a blocking pop on queue qi when a worker is waiting for one and none is running. */
static void fetch(qsrc *s, int qi)
{
    int kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
    if (s->closing || !s->want[qi] || s->fetching[qi] || s->claiming[qi] || s->nready[kind] || !s->registered ||
        !ov_rconn_up(s->blk[qi]))
        return;
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%.3f", (double)s->block_ms / 1000.0);
    const char *av[] = {"BLMOVE", s->queue[qi], s->k_proc[qi], "RIGHT", "LEFT", tmo};
    if (ov_rconn_cmd(s->blk[qi], s->block_ms, on_blmove, s, 6, av, NULL) == 0)
        s->fetching[qi] = 1;
}

/* ---------- renew / maintenance ---------- */

static void on_renew_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    s->renew_inflight--;
    if (!rep || s->closing)
        return;
    if (rep->type != REDIS_REPLY_ARRAY) {
        ov_log(OV_LOG_ERR, "redis_renew_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        return;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        for (qrec *r = s->all; r; r = r->next) {
            if (strcmp(r->cid, e->str) != 0 || r->state == R_CLAIMING)
                continue;
            ov_log(OV_LOG_WARN, "job_lease_lost", "job=%s cid=%s state=%s", r->spec.id, r->cid,
                   rec_state_names[r->state]);
            r->lost = 1;
            if (r->state == R_READY) {
                ready_remove(s, r);
                rec_unlink_free(s, r);
            }
            break;
        }
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
    if (s->closing || !ov_rconn_up(s->cmd))
        return;
    const char *av[8 + 2 * NQ + 2 * RENEW_BATCH];
    char lease[32], np[8];
    snprintf(lease, sizeof lease, "%lld", (long long)s->lease_ms);
    snprintf(np, sizeof np, "%d", NQ);
    int base = 0;
    av[base++] = s->k_leases, av[base++] = s->k_alive, av[base++] = s->k_procs;
    av[base++] = s->prefix, av[base++] = lease, av[base++] = s->sid, av[base++] = np;
    for (int qi = 0; qi < NQ; qi++)
        av[base++] = s->k_proc[qi], av[base++] = s->queue[qi];
    int n = base, sent = 0;
    uint64_t now = uv_now(s->loop);
    for (qrec *r = s->all; r; r = r->next) {
        if (r->state == R_CLAIMING || r->lost)
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
    for (qrec *r = s->all; r; r = r->next)
        if (!r->op_inflight && (r->state == R_CLAIMING || r->state == R_FINISHING || r->state == R_RETRYING))
            rec_send(r);
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
    qrec *r = calloc(1, sizeof *r);
    if (!r || !(r->payload = malloc(e->element[2]->len + 1))) {
        free(r);
        return; /* the lease expires again; the next reap retries */
    }
    r->s = s;
    memcpy(r->payload, e->element[2]->str, e->element[2]->len);
    r->payload[e->element[2]->len] = '\0';
    r->payload_len = e->element[2]->len;
    ov_str_copy(r->cid, sizeof r->cid, e->element[0]->str);
    ov_str_copy(r->token, sizeof r->token, e->element[1]->str);
    r->job.attempts = e->element[4]->type == REDIS_REPLY_INTEGER ? (int)e->element[4]->integer : 0;
    r->qi = strcmp(e->element[5]->str, s->queue[0]) == 0 ? 0 : 1;
    char why[sizeof r->reason];
    ov_str_copy(why, sizeof why, e->element[6]->str);
    r->parse_rc = ov_job_parse(s->types, r->payload, r->payload_len, &r->spec, r->reason, sizeof r->reason);
    ov_str_copy(r->job.id, sizeof r->job.id, r->spec.id[0] ? r->spec.id : r->cid);
    r->next = s->all;
    if (s->all)
        s->all->prev = r;
    s->all = r;
    ov_log(OV_LOG_WARN, "job_reaped_dead", "job=%s cid=%s reason=\"%s\"", r->spec.id[0] ? r->spec.id : "-",
           r->cid, why);
    if (r->spec.id[0])
        rec_deliver(r, NULL, why);
    else
        rec_start_finish(r, "dead", 1, why);
}

static void on_maint_reply(ov_rconn *c, redisReply *rep, void *priv)
{
    (void)c;
    qsrc *s = priv;
    s->maint_inflight = 0;
    if (!rep || s->closing)
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
        ov_log(OV_LOG_ERR, "redis_maint_error", "error=\"%s\"", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        return;
    }
    long long promoted = rep->element[0]->integer, requeued = rep->element[1]->integer,
              orphans = rep->element[2]->integer;
    if (promoted || requeued || orphans)
        ov_log(OV_LOG_NOTICE, "queue_maintenance", "retries_due=%lld leases_reaped=%lld orphans_returned=%lld",
               promoted, requeued, orphans);
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
    if (s->closing || !ov_rconn_up(s->cmd) || s->maint_inflight)
        return;
    char maxa[16], lease[32], ttl[16], tokp[64];
    snprintf(maxa, sizeof maxa, "%d", s->max_attempts);
    snprintf(lease, sizeof lease, "%lld", (long long)s->lease_ms);
    snprintf(ttl, sizeof ttl, "%d", OV_QREDIS_STATUS_TTL_S);
    snprintf(tokp, sizeof tokp, "%s.r", s->sid);
    rand_hex(s, tokp + strlen(tokp), 9);
    ov_str_copy(tokp + strlen(tokp), 2, ".");
    const char *av[] = {s->k_leases, s->k_delayed, s->k_procs, s->prefix, maxa, s->sid, lease, tokp,
                        MAINT_LIMIT, ttl};
    if (ov_rconn_eval(s->cmd, &s->s_maint, 3, 10, av, NULL, on_maint_reply, s) == 0)
        s->maint_inflight = 1;
    const char *l0[] = {"LLEN", s->queue[0]}, *l1[] = {"LLEN", s->queue[1]};
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

static void on_blk_state(ov_rconn *c, int up, void *ctx)
{
    qsrc *s = ctx;
    int qi = c == s->blk[0] ? 0 : 1;
    if (!up) {
        s->fetching[qi] = 0;
        return;
    }
    fetch(s, qi);
}

/* ---------- ov_job_source ops ---------- */

static int q_next(ov_job_source *base, int kind, ov_job **out)
{
    qsrc *s = (qsrc *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return OV_EINVAL;
    qrec *r = ready_pop(s, kind);
    if (!r) {
        int qi = kind_queue(kind);
        if (qi >= 0) {
            s->want[qi] = 1;
            fetch(s, qi);
        }
        return 0;
    }
    r->state = R_RUNNING;
    if (kind_queue(kind) >= 0)
        s->want[kind_queue(kind)] = 0;
    *out = &r->job;
    return 1;
}

static void q_progress(ov_job_source *base, ov_job *job)
{
    qsrc *s = (qsrc *)base;
    qrec *r = (qrec *)job;
    uint64_t now = uv_now(s->loop);
    if (now - r->last_renew_ms > (uint64_t)s->lease_ms / 3)
        renew_all(s);
    if (r->stage == r->spec.nstages - 1 && r->spec.id[0]) {
        double p = r->spec.nstages > 1 ? 0.1 + 0.9 * job->progress : job->progress;
        ov_delivery_progress(s->dlv, r->spec.id, r->spec.type, p);
    }
}

static void q_complete(ov_job_source *base, ov_job *job, const ov_msg *result)
{
    qsrc *s = (qsrc *)base;
    qrec *r = (qrec *)job;
    if (r->stage + 1 < r->spec.nstages) {
        enhancement_done(r, result, NULL);
        r->stage++;
        if (rec_stage_job(r) != 0) {
            rec_deliver(r, NULL, "internal error: cannot build the next stage");
            return;
        }
        ready_push(s, r);
        ov_job_source_wake(&s->base);
        return;
    }
    ov_log(OV_LOG_DEBUG, "job_result", "job=%s outputs=%u", r->spec.id, result->u.result.noutputs);
    rec_deliver(r, result, NULL);
}

/* Stage 0 of an enhanced job ended: apply the enhanced prompt (result meta "enhanced_prompt") or
 * go on with the original one, saying why. */
static void enhancement_done(qrec *r, const ov_msg *result, const char *why)
{
    const char *text = NULL;
    if (result && result->type == OV_MSG_RESULT &&
        ov_kvlist_get_str(&result->u.result.meta, "enhanced_prompt", &text) == 0 && text && *text &&
        ov_job_spec_apply_enhanced(&r->spec, r->s->types, text) == 0) {
        ov_log(OV_LOG_INFO, "job_enhanced", "job=%s", r->spec.id);
        return;
    }
    const char *reason = why ? why : "the enhancer returned no usable enhanced_prompt";
    char esc[200];
    ov_log(OV_LOG_WARN, "job_enhancement_skipped", "job=%s reason=\"%s\"", r->spec.id,
           ov_log_escape(esc, sizeof esc, reason));
    ov_job_spec_skip_enhancement(&r->spec, reason);
}

static int64_t backoff_ms(const qsrc *s, int attempts)
{
    int64_t d = s->backoff_initial_ms;
    for (int i = 1; i < attempts && d < s->backoff_max_ms; i++)
        d *= 2;
    if (d > s->backoff_max_ms)
        d = s->backoff_max_ms;
    return d + (d > 4 ? rand() % (d / 4) : 0); /* up to +25 % jitter */
}

static int retry_or_die(qsrc *s, qrec *r, const char *why)
{
    if (r->job.attempts < s->max_attempts && !r->lost) {
        r->retry_delay_ms = backoff_ms(s, r->job.attempts);
        ov_str_copy(r->reason, sizeof r->reason, why);
        r->state = R_RETRYING;
        ov_log(OV_LOG_NOTICE, "job_retry", "job=%s attempt=%d delay_ms=%lld", r->spec.id, r->job.attempts,
               (long long)r->retry_delay_ms);
        rec_send(r);
        return OV_JOB_REQUEUED;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%s (after %d attempts)", why, r->job.attempts);
    rec_deliver(r, NULL, msg);
    return OV_JOB_DEAD;
}

static int q_fail(ov_job_source *base, ov_job *job, int code, const char *message, bool retriable)
{
    qsrc *s = (qsrc *)base;
    qrec *r = (qrec *)job;
    char why[512];
    snprintf(why, sizeof why, "%s: %s", ov_errname(code), message ? message : "");
    if (r->stage + 1 < r->spec.nstages) {
        /* Enhancement failed: carry on with the original prompt and say so. */
        enhancement_done(r, NULL, why);
        r->stage++;
        if (rec_stage_job(r) == 0) {
            ready_push(s, r);
            ov_job_source_wake(&s->base);
            return OV_JOB_REQUEUED;
        }
    }
    if (!retriable) {
        rec_deliver(r, NULL, why);
        return OV_JOB_DEAD;
    }
    return retry_or_die(s, r, why);
}

static int q_handback(ov_job_source *base, ov_job *job, const char *reason)
{
    char why[512];
    snprintf(why, sizeof why, "worker lost the job: %s", reason ? reason : "");
    return retry_or_die((qsrc *)base, (qrec *)job, why);
}

static int64_t q_depth(ov_job_source *base, int kind)
{
    qsrc *s = (qsrc *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return 0;
    int qi = kind_queue(kind);
    return s->nready[kind] + (qi >= 0 ? s->depth[qi] : 0);
}

static const char *q_queue_name(ov_job_source *base, int kind)
{
    qsrc *s = (qsrc *)base;
    int qi = kind_queue(kind);
    return qi >= 0 ? s->queue[qi] : kind == OV_KIND_QWEN ? "enhance" : "unknown";
}

static int q_describe(ov_job_source *base, const char *id, ov_buf *out)
{
    qsrc *s = (qsrc *)base;
    qrec *r = s->all;
    for (; r; r = r->next)
        if (strcmp(r->job.id, id) == 0)
            break;
    if (!r)
        return OV_ENOENT;
    int rc = 0;
    rc |= ov_buf_puts(out, "{");
    rc |= ov_json_key(out, "id"), rc |= ov_json_str(out, r->job.id);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "type"), rc |= ov_json_str(out, r->job.type);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "kind"), rc |= ov_json_str(out, ov_kind_name(r->job.kind));
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "task"), rc |= ov_json_str(out, r->job.task);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "state"), rc |= ov_json_str(out, rec_state_names[r->state]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "stage"), rc |= ov_json_int(out, r->stage);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "stages"), rc |= ov_json_int(out, r->spec.nstages);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "attempts"), rc |= ov_json_int(out, r->job.attempts);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "worker"), rc |= ov_json_str(out, r->job.worker);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "phase"), rc |= ov_json_str(out, r->job.phase);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "progress"), rc |= ov_json_double(out, r->job.progress);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "dispatch_ack_us");
    rc |= r->job.dispatch_ack_us >= 0 ? ov_json_int(out, r->job.dispatch_ack_us) : ov_buf_puts(out, "null");
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "queue"), rc |= ov_json_str(out, s->queue[r->qi]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "cid"), rc |= ov_json_str(out, r->cid);
    rc |= ov_buf_puts(out, "}");
    return rc ? OV_ENOMEM : 0;
}

static int q_pending(ov_job_source *base)
{
    qsrc *s = (qsrc *)base;
    int n = 0;
    for (qrec *r = s->all; r; r = r->next)
        n += r->state == R_DELIVERING || r->state == R_FINISHING || r->state == R_RETRYING;
    return n;
}

static void q_close(ov_job_source *base)
{
    qsrc *s = (qsrc *)base;
    if (s->closing)
        return;
    /* Claims still held (ready, running, delivering) stay leased in Redis: they are reaped
     * back onto the queue after the lease (I1, I4). */
    s->closing = 1;
    uv_timer_stop(&s->renew_t);
    uv_timer_stop(&s->maint_t);
    uv_close((uv_handle_t *)&s->renew_t, NULL);
    uv_close((uv_handle_t *)&s->maint_t, NULL);
    for (int qi = 0; qi < NQ; qi++)
        ov_rconn_close(s->blk[qi]);
    ov_rconn_close(s->cmd);
    if (s->dlv)
        ov_delivery_close(s->dlv);
    s->dlv = NULL;
}

static void q_destroy(ov_job_source *base)
{
    qsrc *s = (qsrc *)base;
    while (s->all)
        rec_unlink_free(s, s->all);
    free(s);
}

static const ov_job_source_ops redis_ops = {
    .next = q_next,
    .progress = q_progress,
    .complete = q_complete,
    .fail = q_fail,
    .handback = q_handback,
    .depth = q_depth,
    .queue_name = q_queue_name,
    .describe = q_describe,
    .pending = q_pending,
    .close = q_close,
    .destroy = q_destroy,
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
    s->types = ov_job_types_default();
    if (cfg->jobs_types_file[0]) {
        if (ov_job_types_load(&s->own_types, cfg->jobs_types_file, err, errlen) != 0) {
            free(s);
            return OV_ECONFIG;
        }
        s->types = &s->own_types;
    }
    s->base.ops = &redis_ops;
    s->loop = loop;
    s->dlv = delivery;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s->rng, sizeof s->rng, 1, f) != 1)
        s->rng = (uint64_t)uv_hrtime() ^ ((uint64_t)getpid() << 32);
    if (f)
        fclose(f);
    s->rng |= 1;
    rand_hex(s, s->sid, 17);
    ov_str_copy(s->prefix, sizeof s->prefix, cfg->redis_key_prefix[0] ? cfg->redis_key_prefix : "ourvidz");
    ov_str_copy(s->queue[0], sizeof s->queue[0], cfg->redis_sdxl_queue);
    ov_str_copy(s->queue[1], sizeof s->queue[1], cfg->redis_wan_queue);
    for (int qi = 0; qi < NQ; qi++)
        snprintf(s->k_proc[qi], KEY_MAX, "%s:proc:%s:%s", s->prefix, s->sid, s->queue[qi]);
    snprintf(s->k_leases, KEY_MAX, "%s:leases", s->prefix);
    snprintf(s->k_delayed, KEY_MAX, "%s:delayed", s->prefix);
    snprintf(s->k_procs, KEY_MAX, "%s:procs", s->prefix);
    snprintf(s->k_attempts, KEY_MAX, "%s:attempts", s->prefix);
    snprintf(s->k_dead, KEY_MAX, "%s:dead", s->prefix);
    snprintf(s->k_alive, KEY_MAX, "%s:alive:%s", s->prefix, s->sid);
    s->s_claim = (ov_rscript){.name = "claim", .body = OV_LUA_CLAIM};
    s->s_renew = (ov_rscript){.name = "renew", .body = OV_LUA_RENEW};
    s->s_finish = (ov_rscript){.name = "finish", .body = OV_LUA_FINISH};
    s->s_retry = (ov_rscript){.name = "retry", .body = OV_LUA_RETRY};
    s->s_maint = (ov_rscript){.name = "maint", .body = OV_LUA_MAINT};
    s->lease_ms = cfg->redis_lease_ms > 0 ? cfg->redis_lease_ms : 60000;
    s->block_ms = cfg->redis_block_timeout_ms > 0 ? cfg->redis_block_timeout_ms : 2000;
    s->backoff_initial_ms = cfg->redis_retry_backoff_initial_ms > 0 ? cfg->redis_retry_backoff_initial_ms : 1;
    s->backoff_max_ms = cfg->redis_retry_backoff_max_ms >= s->backoff_initial_ms ? cfg->redis_retry_backoff_max_ms
                                                                                 : s->backoff_initial_ms;
    s->dead_max = cfg->redis_dead_letter_max > 0 ? cfg->redis_dead_letter_max : 10000;
    s->reap_ms = cfg->redis_reap_interval_ms > 0 ? cfg->redis_reap_interval_ms : 5000;
    s->max_attempts = cfg->redis_max_attempts > 0 ? cfg->redis_max_attempts : 3;
    int rc = 0;
    if (uv_timer_init(loop, &s->renew_t) != 0 || uv_timer_init(loop, &s->maint_t) != 0) {
        free(s);
        return OV_EIO;
    }
    s->renew_t.data = s->maint_t.data = s;
    rc = ov_rconn_new(loop, &s->url, "cmd", cfg->redis_command_timeout_ms, cfg->redis_reconnect_max_ms,
                      on_cmd_state, s, &s->cmd);
    for (int qi = 0; qi < NQ && rc == 0; qi++)
        rc = ov_rconn_new(loop, &s->url, qi == 0 ? "pop.sdxl" : "pop.wan", cfg->redis_command_timeout_ms,
                          cfg->redis_reconnect_max_ms, on_blk_state, s, &s->blk[qi]);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create redis connections: %s", ov_strerror(rc));
        q_close(&s->base);
        *out = &s->base; /* handles are closing: the caller destroys after running the loop */
        return rc;
    }
    uint64_t renew_every = (uint64_t)s->lease_ms / 3 > 0 ? (uint64_t)s->lease_ms / 3 : 1;
    uv_timer_start(&s->renew_t, on_renew_timer, renew_every, renew_every);
    uv_timer_start(&s->maint_t, on_maint_timer, (uint64_t)s->reap_ms, (uint64_t)s->reap_ms);
    ov_log(OV_LOG_INFO, "queue_redis_started", "sid=%s queues=%s,%s prefix=%s lease_ms=%lld max_attempts=%d",
           s->sid, s->queue[0], s->queue[1], s->prefix, (long long)s->lease_ms, s->max_attempts);
    *out = &s->base;
    return 0;
}
