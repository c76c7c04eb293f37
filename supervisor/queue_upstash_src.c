/* Upstash job source: the Redis queue's claim/lease/ack semantics over the REST transport. */
#include "queue_upstash_src.h"

/* Same keys, scripts and invariants (I1..I6) as queue_redis.c; only the transport differs:
 *
 *  - claims come from one ov_upstash_poller per producer queue (LMOVE into this supervisor's
 *    processing list, then CLAIM), switched on only while a worker waits for that queue and no
 *    claimed job is ready (the demand gate), so one supervisor does not hoard a shared queue;
 *  - FINISH / RETRY / RENEW / MAINT go out as single REST requests; an operation whose answer is
 *    lost (HTTP error, timeout) is re-sent by the renew timer: the scripts are token-checked, so a
 *    re-sent FINISH that was already applied answers 0 and changes nothing;
 *  - request quota: no LLEN depth polling (depth = claimed jobs waiting for a worker), MAINT runs
 *    every max(reap_interval, poll_max).
 *
 * The record / stage / delivery / retry logic is queue_core.c, shared with queue_redis.c; this
 * file is the REST transport under it. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "queue_core.h"
#include "queue_redis.h"
#include "queue_upstash.h"
#include "strcopy.h"

#define NQ OV_QCORE_NQ
#define PAYLOAD_MAX (1u << 20)

typedef struct usrc {
    ov_qcore c; /* first member: ov_job_source* <-> ov_qcore* <-> usrc* */
    ov_hc *hc;
    ov_upstash *u;
    ov_upstash_poller *poller[NQ];
    int64_t maint_ms, poll_min_ms, poll_max_ms;
    int renew_inflight, maint_inflight;
} usrc;

/* Claim only while a worker waits for the queue and nothing claimed is ready for it. */
static void demand(usrc *s, int qi)
{
    int kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
    if (s->poller[qi])
        ov_upstash_poller_want(s->poller[qi], !s->c.closing && s->c.want[qi] && s->c.nready[kind] == 0);
}

/* ---------- per-record operations (FINISH / RETRY) ---------- */

static void on_op_reply(void *ctx, int status, json_t *result, const char *error)
{
    ov_qrec *r = ctx;
    r->op_inflight = 0;
    if (r->s->closing)
        return;
    if (status != 0) {
        /* Re-sent by the renew timer (token-checked: a re-send of an applied op answers 0). */
        char esc[200];
        ov_log(status == OV_EPROTO ? OV_LOG_ERR : OV_LOG_WARN, "upstash_op_failed",
               "op=%s cid=%s status=%s error=\"%s\"", ov_qcore_state_name(r->state), r->cid, ov_errname(status),
               ov_log_escape(esc, sizeof esc, error));
        return;
    }
    ov_qcore_op_done(r, json_is_integer(result) && json_integer_value(result) == 0);
}

static void rec_send(ov_qrec *r)
{
    usrc *s = (usrc *)r->s;
    if (r->op_inflight || s->c.closing)
        return;
    int rc;
    if (r->state == OV_QREC_FINISHING) {
        ov_buf de;
        ov_buf_init(&de, PAYLOAD_MAX * 6 + 4096);
        if (r->dead_letter)
            ov_qcore_dead_entry(r, &de);
        rc = ov_upstash_finish(s->u, s->c.prefix, r->cid, r->token, r->spec.id, r->final_state,
                               de.len ? de.data : "", s->c.dead_max, r->reason, on_op_reply, r, NULL);
        ov_buf_free(&de);
    } else if (r->state == OV_QREC_RETRYING) {
        rc = ov_upstash_retry(s->u, s->c.prefix, r->cid, r->token, r->spec.id, r->retry_delay_ms, r->reason,
                              on_op_reply, r, NULL);
    } else
        return;
    if (rc == 0)
        r->op_inflight = 1;
    else
        ov_log(OV_LOG_ERR, "upstash_op_not_sent", "op=%s cid=%s error=%s", ov_qcore_state_name(r->state), r->cid,
               ov_errname(rc));
}

/* ---------- claims from the pollers ---------- */

static void on_claim(usrc *s, int qi, const ov_upstash_claim *c)
{
    if (s->c.closing)
        return;
    ov_qrec *r = ov_qcore_rec_new(&s->c, qi, c->payload, c->payload_len, c->cid, c->token, c->attempts, 0);
    if (!r) {
        ov_log(OV_LOG_ERR, "job_claim_oom", "queue=%s cid=%s", s->c.queue[qi],
               c->cid); /* reaped after the lease */
        return;
    }
    if (r->parse_rc == 0 && ov_qcore_kind_queue(r->spec.kind) != qi)
        ov_log(OV_LOG_NOTICE, "job_other_queue", "job=%s type=%s queue=%s", r->spec.id, r->spec.type,
               s->c.queue[qi]);
    ov_qcore_claimed(r);
    demand(s, qi);
}

static void on_claim0(void *ctx, const ov_upstash_claim *c)
{
    on_claim(ctx, 0, c);
}

static void on_claim1(void *ctx, const ov_upstash_claim *c)
{
    on_claim(ctx, 1, c);
}

/* ---------- renew / maintenance ---------- */

static void on_renew_reply(void *ctx, int status, json_t *result, const char *error)
{
    usrc *s = ctx;
    s->renew_inflight--;
    if (s->c.closing)
        return;
    if (status != 0 || !json_is_array(result)) {
        char esc[200];
        ov_log(OV_LOG_WARN, "upstash_renew_failed", "status=%s error=\"%s\"", ov_errname(status),
               ov_log_escape(esc, sizeof esc, error ? error : ""));
        return;
    }
    for (size_t i = 0; i < json_array_size(result); i++) {
        const char *cid = json_string_value(json_array_get(result, i));
        if (cid)
            ov_qcore_lease_lost(&s->c, cid);
    }
}

static void renew_all(usrc *s)
{
    if (s->c.closing || s->renew_inflight)
        return;
    const char *cids[OV_UPSTASH_RENEW_MAX], *toks[OV_UPSTASH_RENEW_MAX];
    int n = 0, sent = 0;
    uint64_t now = uv_now(s->c.loop);
    for (ov_qrec *r = s->c.all;; r = r->next) {
        if (r && !r->lost) {
            cids[n] = r->cid, toks[n] = r->token, n++;
            r->last_renew_ms = now;
        }
        if ((!r && (n > 0 || !sent)) || n == OV_UPSTASH_RENEW_MAX) {
            const char *procs[NQ] = {s->c.k_proc[0], s->c.k_proc[1]}, *queues[NQ] = {s->c.queue[0], s->c.queue[1]};
            if (ov_upstash_renew(s->u, s->c.prefix, s->c.sid, s->c.lease_ms, NQ, procs, queues, n, cids, toks,
                                 on_renew_reply, s, NULL) == 0)
                s->renew_inflight++;
            n = 0, sent = 1;
        }
        if (!r)
            break;
    }
    ov_qcore_resend_stalled(&s->c); /* no CLAIMING records here: FINISH / RETRY */
}

static void on_renew_timer(uv_timer_t *t)
{
    renew_all(t->data);
}

/* A claim MAINT took over (exhausted attempts, lease expired): failed callback, then dead letter. */
static void deliver_reaped(usrc *s, json_t *e)
{
    /* [cid, token, payload, job_id, attempts, queue, reason] */
    if (!json_is_array(e) || json_array_size(e) < 7)
        return;
    for (size_t i = 0; i < 7; i++)
        if (i != 4 && !json_is_string(json_array_get(e, i)))
            return;
    json_t *pl = json_array_get(e, 2);
    int qi = strcmp(json_string_value(json_array_get(e, 5)), s->c.queue[0]) == 0 ? 0 : 1;
    ov_qrec *r = ov_qcore_rec_new(&s->c, qi, json_string_value(pl), json_string_length(pl),
                                  json_string_value(json_array_get(e, 0)), json_string_value(json_array_get(e, 1)),
                                  (int)json_integer_value(json_array_get(e, 4)), 0);
    if (!r)
        return; /* the lease expires again; the next reap retries */
    char why[sizeof r->reason];
    ov_str_copy(why, sizeof why, json_string_value(json_array_get(e, 6)));
    ov_qcore_reaped(r, why);
}

static void on_maint_reply(void *ctx, int status, json_t *result, const char *error)
{
    usrc *s = ctx;
    s->maint_inflight = 0;
    if (s->c.closing)
        return;
    if (status != 0 || !json_is_array(result) || json_array_size(result) != 4) {
        char esc[200];
        ov_log(OV_LOG_WARN, "upstash_maint_failed", "status=%s error=\"%s\"", ov_errname(status),
               ov_log_escape(esc, sizeof esc, error ? error : ""));
        return;
    }
    long long promoted = json_integer_value(json_array_get(result, 0)),
              requeued = json_integer_value(json_array_get(result, 1)),
              orphans = json_integer_value(json_array_get(result, 2));
    ov_qcore_maint_log(promoted, requeued, orphans);
    json_t *dead = json_array_get(result, 3);
    for (size_t i = 0; i < json_array_size(dead); i++)
        deliver_reaped(s, json_array_get(dead, i));
    if (promoted || requeued || orphans)
        for (int qi = 0; qi < NQ; qi++)
            if (s->poller[qi] && s->c.want[qi]) { /* jobs are back: look at once */
                ov_upstash_poller_want(s->poller[qi], 0);
                demand(s, qi);
            }
}

static void maint(usrc *s)
{
    if (s->c.closing || s->maint_inflight)
        return;
    char tokp[64];
    snprintf(tokp, sizeof tokp, "%s.r", s->c.sid);
    ov_qcore_rand_hex(&s->c, tokp + strlen(tokp), 9);
    ov_str_copy(tokp + strlen(tokp), 2, ".");
    if (ov_upstash_maint(s->u, s->c.prefix, s->c.sid, s->c.max_attempts, s->c.lease_ms, tokp, 100, on_maint_reply,
                         s, NULL) == 0)
        s->maint_inflight = 1;
}

static void on_maint_timer(uv_timer_t *t)
{
    maint(t->data);
}

/* ---------- the core's transport ops ---------- */

static void t_renew(ov_qcore *c)
{
    renew_all((usrc *)c);
}

static void t_kick(ov_qcore *c, int qi)
{
    demand((usrc *)c, qi);
}

static void t_close(ov_qcore *c)
{
    usrc *s = (usrc *)c;
    for (int qi = 0; qi < NQ; qi++) {
        ov_upstash_poller_stop(s->poller[qi]);
        s->poller[qi] = NULL;
    }
    ov_upstash_free(s->u); /* cancels every request: no callbacks */
    s->u = NULL;
    if (s->hc)
        ov_hc_close(s->hc);
    s->hc = NULL;
}

/* No LLEN polling (request quota): depth is the claimed jobs waiting for a worker. */
static const ov_qcore_ops upstash_transport = {
    .send = rec_send,
    .renew = t_renew,
    .kick = t_kick,
    .queued = NULL,
    .close = t_close,
    .describe_transport = "upstash",
    .log_result = 0,
};

int ov_queue_upstash_new(uv_loop_t *loop, const ov_config *cfg, const char *url, const char *token,
                         ov_delivery *delivery, ov_job_source **out, char *err, size_t errlen)
{
    *out = NULL;
    usrc *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    if (ov_qcore_init(&s->c, &upstash_transport, loop, cfg, delivery, err, errlen) != 0) {
        free(s);
        return OV_ECONFIG;
    }
    s->poll_min_ms = cfg->upstash_poll_min_ms > 0 ? cfg->upstash_poll_min_ms : 1000;
    s->poll_max_ms = cfg->upstash_poll_max_ms >= s->poll_min_ms ? cfg->upstash_poll_max_ms : s->poll_min_ms;
    int64_t reap = cfg->redis_reap_interval_ms > 0 ? cfg->redis_reap_interval_ms : 5000;
    s->maint_ms = reap > s->poll_max_ms ? reap : s->poll_max_ms;
    int rc = ov_hc_init(&s->hc, loop);
    if (rc == 0)
        rc = ov_upstash_new(s->hc, url, token,
                            cfg->redis_command_timeout_ms > 0 ? cfg->redis_command_timeout_ms : 10000, &s->u);
    if (rc != 0) {
        snprintf(err, errlen, "upstash: %s",
                 rc == OV_EINVAL ? "UPSTASH_REDIS_REST_URL must be http(s)://, token set" : ov_strerror(rc));
        if (s->hc)
            ov_hc_close(s->hc);
        free(s);
        return rc == OV_EINVAL ? OV_ECONFIG : rc;
    }
    if (uv_timer_init(loop, &s->c.renew_t) != 0 || uv_timer_init(loop, &s->c.maint_t) != 0) {
        ov_upstash_free(s->u);
        ov_hc_close(s->hc);
        free(s);
        return OV_EIO;
    }
    s->c.renew_t.data = s->c.maint_t.data = s;
    for (int qi = 0; qi < NQ && rc == 0; qi++) {
        ov_upstash_poll_opts o = {.prefix = s->c.prefix,
                                  .sid = s->c.sid,
                                  .queue = s->c.queue[qi],
                                  .lease_ms = s->c.lease_ms,
                                  .poll_min_ms = s->poll_min_ms,
                                  .poll_max_ms = s->poll_max_ms,
                                  .register_once = 1}; /* renew_all refreshes registration */
        rc = ov_upstash_poller_start(loop, s->u, &o, qi == 0 ? on_claim0 : on_claim1, s, &s->poller[qi]);
        if (rc == 0)
            ov_upstash_poller_want(s->poller[qi], 0); /* until a worker asks */
    }
    if (rc != 0) {
        snprintf(err, errlen, "upstash: cannot start polling: %s", ov_strerror(rc));
        s->c.base.ops->close(&s->c.base);
        *out = &s->c.base; /* handles are closing: the caller destroys after running the loop */
        return rc;
    }
    uint64_t renew_every = (uint64_t)s->c.lease_ms / 3 > 0 ? (uint64_t)s->c.lease_ms / 3 : 1;
    uv_timer_start(&s->c.renew_t, on_renew_timer, renew_every, renew_every);
    uv_timer_start(&s->c.maint_t, on_maint_timer, 0, (uint64_t)s->maint_ms);
    ov_log(OV_LOG_INFO, "queue_upstash_started",
           "sid=%s queues=%s,%s prefix=%s lease_ms=%lld max_attempts=%d poll_min_ms=%lld poll_max_ms=%lld",
           s->c.sid, s->c.queue[0], s->c.queue[1], s->c.prefix, (long long)s->c.lease_ms, s->c.max_attempts,
           (long long)s->poll_min_ms, (long long)s->poll_max_ms);
    *out = &s->c.base;
    return 0;
}
