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
 * The record / stage / delivery logic mirrors queue_redis.c (kept in step by hand: see the report
 * of issue 3; a shared queue core is the planned follow-up). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "job_contract.h"
#include "queue_redis.h"
#include "queue_upstash.h"
#include "strcopy.h"

#define NQ 2
#define PAYLOAD_MAX (1u << 20)

enum rec_state { R_READY, R_RUNNING, R_DELIVERING, R_FINISHING, R_RETRYING };
static const char *const rec_state_names[] = {"ready", "running", "delivering", "finishing", "retrying"};

typedef struct usrc usrc;

typedef struct urec {
    ov_job job; /* first member: ov_job* <-> urec* */
    usrc *s;
    struct urec *prev, *next;
    struct urec *rnext;
    int state;
    int qi;
    char cid[64], token[128];
    char *payload;
    size_t payload_len;
    ov_job_spec spec;
    int parse_rc;
    int stage;
    int op_inflight;
    int lost;
    int64_t retry_delay_ms;
    char final_state[16];
    int dead_letter;
    char reason[512];
    uint64_t last_renew_ms;
} urec;

struct usrc {
    ov_job_source base;
    uv_loop_t *loop;
    ov_delivery *dlv;
    ov_hc *hc;
    ov_upstash *u;
    ov_upstash_poller *poller[NQ];
    char prefix[64], sid[40];
    char queue[NQ][64];
    char k_proc[NQ][256];
    const ov_job_types *types;
    ov_job_types own_types;
    int64_t lease_ms, backoff_initial_ms, backoff_max_ms, dead_max, maint_ms, poll_min_ms, poll_max_ms;
    int max_attempts;
    int want[NQ];
    urec *all;
    urec *rhead[OV_KIND_COUNT], *rtail[OV_KIND_COUNT];
    int64_t nready[OV_KIND_COUNT];
    uv_timer_t renew_t, maint_t;
    int renew_inflight, maint_inflight;
    int closing;
    uint64_t rng;
};

/* ---------- helpers ---------- */

static uint64_t rng_next(usrc *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ULL;
}

static void rand_hex(usrc *s, char *out, size_t n)
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

static void rec_unlink_free(usrc *s, urec *r)
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

static void rec_link(usrc *s, urec *r)
{
    r->next = s->all;
    if (s->all)
        s->all->prev = r;
    s->all = r;
}

/* Claim only while a worker waits for the queue and nothing claimed is ready for it. */
static void demand(usrc *s, int qi)
{
    int kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
    if (s->poller[qi])
        ov_upstash_poller_want(s->poller[qi], !s->closing && s->want[qi] && s->nready[kind] == 0);
}

static void ready_push(usrc *s, urec *r)
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
    if (kind_queue(k) >= 0)
        demand(s, kind_queue(k));
}

static urec *ready_pop(usrc *s, int k)
{
    urec *r = s->rhead[k];
    if (!r)
        return NULL;
    s->rhead[k] = r->rnext;
    if (!s->rhead[k])
        s->rtail[k] = NULL;
    r->rnext = NULL;
    s->nready[k]--;
    return r;
}

static void ready_remove(usrc *s, urec *r)
{
    int k = r->job.kind;
    urec **pp = &s->rhead[k], *prev = NULL;
    while (*pp && *pp != r)
        prev = *pp, pp = &(*pp)->rnext;
    if (!*pp)
        return;
    *pp = r->rnext;
    if (s->rtail[k] == r)
        s->rtail[k] = prev;
    s->nready[k]--;
}

/* ---------- per-record operations (FINISH / RETRY) ---------- */

static void rec_send(urec *r);
static int retry_or_die(usrc *s, urec *r, const char *why);
static void enhancement_done(urec *r, const ov_msg *result, const char *why);

static int rec_stage_job(urec *r)
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

static void rec_start_finish(urec *r, const char *final_state, int dead_letter, const char *reason)
{
    ov_str_copy(r->final_state, sizeof r->final_state, final_state);
    r->dead_letter = dead_letter;
    ov_str_copy(r->reason, sizeof r->reason, reason ? reason : "");
    r->state = R_FINISHING;
    rec_send(r);
}

static void on_delivered(void *ctx, int status, const char *detail);

static void rec_deliver(urec *r, const ov_msg *result, const char *error)
{
    usrc *s = r->s;
    if (r->lost) {
        ov_log(OV_LOG_WARN, "job_lease_lost", "job=%s cid=%s action=drop", r->spec.id, r->cid);
        rec_unlink_free(s, r);
        return;
    }
    ov_buf meta;
    ov_buf_init(&meta, 64 * 1024);
    if (r->parse_rc == 0 && ov_job_spec_metadata_json(&r->spec, &meta) != 0)
        ov_buf_reset(&meta);
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
    ov_str_copy(r->final_state, sizeof r->final_state, result ? "completed" : "failed");
    r->state = R_DELIVERING;
    int rc = ov_delivery_start(s->dlv, &dj, on_delivered, r);
    ov_buf_free(&meta);
    if (rc != 0) {
        char why[600];
        snprintf(why, sizeof why, "delivery refused the job (%s): %s", ov_errname(rc), r->reason);
        ov_log(OV_LOG_ERR, "job_delivery_refused", "job=%s error=%s", r->spec.id, ov_errname(rc));
        rec_start_finish(r, "dead", 1, why);
    }
}

static void on_delivered(void *ctx, int status, const char *detail)
{
    urec *r = ctx;
    if (r->s->closing)
        return;
    if (status == 0) {
        int failed = strcmp(r->final_state, "failed") == 0;
        rec_start_finish(r, r->final_state, failed, failed ? r->reason : "");
        return;
    }
    char why[600];
    if (status == OV_EIO)
        snprintf(why, sizeof why, "%s", detail ? detail : "upload failed");
    else
        snprintf(why, sizeof why, "callback not delivered: %s", detail ? detail : ov_errname(status));
    ov_log(OV_LOG_ERR, "job_delivery_gave_up", "job=%s status=%s detail=\"%s\"", r->spec.id,
           ov_errname(status), detail ? detail : "");
    rec_start_finish(r, status == OV_EIO ? "failed" : "dead", 1, why);
}

static void dead_entry(urec *r, ov_buf *b)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    ov_buf_puts(b, "{");
    ov_json_key(b, "job_id"), ov_json_str(b, r->spec.id);
    ov_buf_puts(b, ","), ov_json_key(b, "queue"), ov_json_str(b, r->s->queue[r->qi]);
    ov_buf_puts(b, ","), ov_json_key(b, "reason"), ov_json_str(b, r->reason);
    ov_buf_puts(b, ","), ov_json_key(b, "attempts"), ov_json_int(b, r->job.attempts);
    ov_buf_puts(b, ","), ov_json_key(b, "at_ms"),
        ov_json_int(b, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    ov_buf_puts(b, ","), ov_json_key(b, "payload"), ov_json_strn(b, r->payload, r->payload_len);
    ov_buf_puts(b, "}");
}

static void on_op_reply(void *ctx, int status, json_t *result, const char *error)
{
    urec *r = ctx;
    usrc *s = r->s;
    r->op_inflight = 0;
    if (s->closing)
        return;
    if (status != 0) {
        /* Re-sent by the renew timer (token-checked: a re-send of an applied op answers 0). */
        char esc[200];
        ov_log(status == OV_EPROTO ? OV_LOG_ERR : OV_LOG_WARN, "upstash_op_failed",
               "op=%s cid=%s status=%s error=\"%s\"", rec_state_names[r->state], r->cid, ov_errname(status),
               ov_log_escape(esc, sizeof esc, error));
        return;
    }
    if (json_is_integer(result) && json_integer_value(result) == 0)
        ov_log(OV_LOG_DEBUG, "job_op_token_mismatch", "cid=%s op=%s", r->cid, rec_state_names[r->state]);
    else if (r->state == R_FINISHING)
        ov_log(OV_LOG_INFO, "job_finished", "job=%s state=%s attempts=%d", r->spec.id[0] ? r->spec.id : "-",
               r->final_state, r->job.attempts);
    rec_unlink_free(s, r);
}

static void rec_send(urec *r)
{
    usrc *s = r->s;
    if (r->op_inflight || s->closing)
        return;
    int rc;
    if (r->state == R_FINISHING) {
        ov_buf de;
        ov_buf_init(&de, PAYLOAD_MAX * 6 + 4096);
        if (r->dead_letter)
            dead_entry(r, &de);
        rc = ov_upstash_finish(s->u, s->prefix, r->cid, r->token, r->spec.id, r->final_state,
                               de.len ? de.data : "", s->dead_max, r->reason, on_op_reply, r, NULL);
        ov_buf_free(&de);
    } else if (r->state == R_RETRYING) {
        rc = ov_upstash_retry(s->u, s->prefix, r->cid, r->token, r->spec.id, r->retry_delay_ms, r->reason,
                              on_op_reply, r, NULL);
    } else
        return;
    if (rc == 0)
        r->op_inflight = 1;
    else
        ov_log(OV_LOG_ERR, "upstash_op_not_sent", "op=%s cid=%s error=%s", rec_state_names[r->state], r->cid,
               ov_errname(rc));
}

/* ---------- claims from the pollers ---------- */

static void claim_answered(urec *r)
{
    usrc *s = r->s;
    r->last_renew_ms = uv_now(s->loop);
    if (r->parse_rc == OV_EFORMAT) {
        char esc[200];
        ov_log(OV_LOG_ERR, "job_malformed", "queue=%s cid=%s reason=\"%s\" action=dead_letter",
               s->queue[r->qi], r->cid, ov_log_escape(esc, sizeof esc, r->reason));
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

/* Fill a new record from a payload; NULL when out of memory. */
static urec *rec_new(usrc *s, int qi, const char *payload, size_t len, const char *cid, const char *token,
                     int attempts)
{
    urec *r = calloc(1, sizeof *r);
    if (!r || !(r->payload = malloc(len + 1))) {
        free(r);
        return NULL;
    }
    memcpy(r->payload, payload, len);
    r->payload[len] = '\0';
    r->payload_len = len;
    r->s = s;
    r->qi = qi;
    ov_str_copy(r->cid, sizeof r->cid, cid);
    ov_str_copy(r->token, sizeof r->token, token);
    r->job.attempts = attempts;
    r->parse_rc = ov_job_parse(s->types, r->payload, r->payload_len, &r->spec, r->reason, sizeof r->reason);
    ov_str_copy(r->spec.queue, sizeof r->spec.queue, s->queue[qi]);
    ov_str_copy(r->job.id, sizeof r->job.id, r->spec.id[0] ? r->spec.id : r->cid);
    ov_str_copy(r->job.type, sizeof r->job.type, r->spec.type[0] ? r->spec.type : "invalid");
    r->job.kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
    r->job.dispatch_ack_us = -1;
    rec_link(s, r);
    return r;
}

static void on_claim(usrc *s, int qi, const ov_upstash_claim *c)
{
    if (s->closing)
        return;
    urec *r = rec_new(s, qi, c->payload, c->payload_len, c->cid, c->token, c->attempts);
    if (!r) {
        ov_log(OV_LOG_ERR, "job_claim_oom", "queue=%s cid=%s", s->queue[qi],
               c->cid); /* reaped after the lease */
        return;
    }
    if (r->parse_rc == 0 && kind_queue(r->spec.kind) != qi)
        ov_log(OV_LOG_NOTICE, "job_other_queue", "job=%s type=%s queue=%s", r->spec.id, r->spec.type,
               s->queue[qi]);
    claim_answered(r);
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
    if (s->closing)
        return;
    if (status != 0 || !json_is_array(result)) {
        char esc[200];
        ov_log(OV_LOG_WARN, "upstash_renew_failed", "status=%s error=\"%s\"", ov_errname(status),
               ov_log_escape(esc, sizeof esc, error ? error : ""));
        return;
    }
    for (size_t i = 0; i < json_array_size(result); i++) {
        const char *cid = json_string_value(json_array_get(result, i));
        if (!cid)
            continue;
        for (urec *r = s->all; r; r = r->next) {
            if (strcmp(r->cid, cid) != 0)
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
}

static void renew_all(usrc *s)
{
    if (s->closing || s->renew_inflight)
        return;
    const char *cids[OV_UPSTASH_RENEW_MAX], *toks[OV_UPSTASH_RENEW_MAX];
    int n = 0, sent = 0;
    uint64_t now = uv_now(s->loop);
    for (urec *r = s->all;; r = r->next) {
        if (r && !r->lost) {
            cids[n] = r->cid, toks[n] = r->token, n++;
            r->last_renew_ms = now;
        }
        if ((!r && (n > 0 || !sent)) || n == OV_UPSTASH_RENEW_MAX) {
            const char *procs[NQ] = {s->k_proc[0], s->k_proc[1]}, *queues[NQ] = {s->queue[0], s->queue[1]};
            if (ov_upstash_renew(s->u, s->prefix, s->sid, s->lease_ms, NQ, procs, queues, n, cids, toks,
                                 on_renew_reply, s, NULL) == 0)
                s->renew_inflight++;
            n = 0, sent = 1;
        }
        if (!r)
            break;
    }
    for (urec *r = s->all; r; r = r->next)
        if (!r->op_inflight && (r->state == R_FINISHING || r->state == R_RETRYING))
            rec_send(r);
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
    int qi = strcmp(json_string_value(json_array_get(e, 5)), s->queue[0]) == 0 ? 0 : 1;
    urec *r =
        rec_new(s, qi, json_string_value(pl), json_string_length(pl), json_string_value(json_array_get(e, 0)),
                json_string_value(json_array_get(e, 1)), (int)json_integer_value(json_array_get(e, 4)));
    if (!r)
        return; /* the lease expires again; the next reap retries */
    char why[sizeof r->reason];
    ov_str_copy(why, sizeof why, json_string_value(json_array_get(e, 6)));
    ov_log(OV_LOG_WARN, "job_reaped_dead", "job=%s cid=%s reason=\"%s\"", r->spec.id[0] ? r->spec.id : "-",
           r->cid, why);
    if (r->spec.id[0])
        rec_deliver(r, NULL, why);
    else
        rec_start_finish(r, "dead", 1, why);
}

static void on_maint_reply(void *ctx, int status, json_t *result, const char *error)
{
    usrc *s = ctx;
    s->maint_inflight = 0;
    if (s->closing)
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
    if (promoted || requeued || orphans)
        ov_log(OV_LOG_NOTICE, "queue_maintenance",
               "retries_due=%lld leases_reaped=%lld orphans_returned=%lld", promoted, requeued, orphans);
    json_t *dead = json_array_get(result, 3);
    for (size_t i = 0; i < json_array_size(dead); i++)
        deliver_reaped(s, json_array_get(dead, i));
    if (promoted || requeued || orphans)
        for (int qi = 0; qi < NQ; qi++)
            if (s->poller[qi] && s->want[qi]) { /* jobs are back: look at once */
                ov_upstash_poller_want(s->poller[qi], 0);
                demand(s, qi);
            }
}

static void maint(usrc *s)
{
    if (s->closing || s->maint_inflight)
        return;
    char tokp[64];
    snprintf(tokp, sizeof tokp, "%s.r", s->sid);
    rand_hex(s, tokp + strlen(tokp), 9);
    ov_str_copy(tokp + strlen(tokp), 2, ".");
    if (ov_upstash_maint(s->u, s->prefix, s->sid, s->max_attempts, s->lease_ms, tokp, 100, on_maint_reply, s,
                         NULL) == 0)
        s->maint_inflight = 1;
}

static void on_maint_timer(uv_timer_t *t)
{
    maint(t->data);
}

/* ---------- ov_job_source ops ---------- */

static int q_next(ov_job_source *base, int kind, ov_job **out)
{
    usrc *s = (usrc *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return OV_EINVAL;
    urec *r = ready_pop(s, kind);
    int qi = kind_queue(kind);
    if (!r) {
        if (qi >= 0) {
            s->want[qi] = 1;
            demand(s, qi);
        }
        return 0;
    }
    r->state = R_RUNNING;
    if (qi >= 0) {
        s->want[qi] = 0;
        demand(s, qi);
    }
    *out = &r->job;
    return 1;
}

static void q_progress(ov_job_source *base, ov_job *job)
{
    usrc *s = (usrc *)base;
    urec *r = (urec *)job;
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
    usrc *s = (usrc *)base;
    urec *r = (urec *)job;
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
    rec_deliver(r, result, NULL);
}

static void enhancement_done(urec *r, const ov_msg *result, const char *why)
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

static int64_t backoff_ms(const usrc *s, int attempts)
{
    int64_t d = s->backoff_initial_ms;
    for (int i = 1; i < attempts && d < s->backoff_max_ms; i++)
        d *= 2;
    if (d > s->backoff_max_ms)
        d = s->backoff_max_ms;
    return d + (d > 4 ? rand() % (d / 4) : 0);
}

static int retry_or_die(usrc *s, urec *r, const char *why)
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
    usrc *s = (usrc *)base;
    urec *r = (urec *)job;
    char why[512];
    snprintf(why, sizeof why, "%s: %s", ov_errname(code), message ? message : "");
    if (r->stage + 1 < r->spec.nstages) {
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
    return retry_or_die((usrc *)base, (urec *)job, why);
}

static int64_t q_depth(ov_job_source *base, int kind)
{
    usrc *s = (usrc *)base;
    return kind < 0 || kind >= OV_KIND_COUNT ? 0 : s->nready[kind];
}

static const char *q_queue_name(ov_job_source *base, int kind)
{
    usrc *s = (usrc *)base;
    int qi = kind_queue(kind);
    return qi >= 0 ? s->queue[qi] : kind == OV_KIND_QWEN ? "enhance" : "unknown";
}

static int q_describe(ov_job_source *base, const char *id, ov_buf *out)
{
    usrc *s = (usrc *)base;
    urec *r = s->all;
    for (; r; r = r->next)
        if (strcmp(r->job.id, id) == 0)
            break;
    if (!r)
        return OV_ENOENT;
    int rc = 0;
    rc |= ov_buf_puts(out, "{");
    rc |= ov_json_key(out, "id"), rc |= ov_json_str(out, r->job.id);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "type"), rc |= ov_json_str(out, r->job.type);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "kind"),
        rc |= ov_json_str(out, ov_kind_name(r->job.kind));
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "task"), rc |= ov_json_str(out, r->job.task);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "state"),
        rc |= ov_json_str(out, rec_state_names[r->state]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "stage"), rc |= ov_json_int(out, r->stage);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "stages"), rc |= ov_json_int(out, r->spec.nstages);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "attempts"), rc |= ov_json_int(out, r->job.attempts);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "worker"), rc |= ov_json_str(out, r->job.worker);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "progress"),
        rc |= ov_json_double(out, r->job.progress);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "queue"), rc |= ov_json_str(out, s->queue[r->qi]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "cid"), rc |= ov_json_str(out, r->cid);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "transport"), rc |= ov_json_str(out, "upstash");
    rc |= ov_buf_puts(out, "}");
    return rc ? OV_ENOMEM : 0;
}

static int q_pending(ov_job_source *base)
{
    usrc *s = (usrc *)base;
    int n = 0;
    for (urec *r = s->all; r; r = r->next)
        n += r->state == R_DELIVERING || r->state == R_FINISHING || r->state == R_RETRYING;
    return n;
}

static void q_close(ov_job_source *base)
{
    usrc *s = (usrc *)base;
    if (s->closing)
        return;
    /* Claims still held stay leased: reaped back onto the queue after the lease (I1, I4). */
    s->closing = 1;
    uv_timer_stop(&s->renew_t);
    uv_timer_stop(&s->maint_t);
    uv_close((uv_handle_t *)&s->renew_t, NULL);
    uv_close((uv_handle_t *)&s->maint_t, NULL);
    for (int qi = 0; qi < NQ; qi++) {
        ov_upstash_poller_stop(s->poller[qi]);
        s->poller[qi] = NULL;
    }
    ov_upstash_free(s->u); /* cancels every request: no callbacks */
    s->u = NULL;
    if (s->hc)
        ov_hc_close(s->hc);
    s->hc = NULL;
    if (s->dlv)
        ov_delivery_close(s->dlv);
    s->dlv = NULL;
}

static void q_destroy(ov_job_source *base)
{
    usrc *s = (usrc *)base;
    while (s->all)
        rec_unlink_free(s, s->all);
    free(s);
}

static const ov_job_source_ops upstash_ops = {
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

int ov_queue_upstash_new(uv_loop_t *loop, const ov_config *cfg, const char *url, const char *token,
                         ov_delivery *delivery, ov_job_source **out, char *err, size_t errlen)
{
    *out = NULL;
    usrc *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    s->types = ov_job_types_default();
    if (cfg->jobs_types_file[0]) {
        if (ov_job_types_load(&s->own_types, cfg->jobs_types_file, err, errlen) != 0) {
            free(s);
            return OV_ECONFIG;
        }
        s->types = &s->own_types;
    }
    s->base.ops = &upstash_ops;
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
        snprintf(s->k_proc[qi], sizeof s->k_proc[qi], "%s:proc:%s:%s", s->prefix, s->sid, s->queue[qi]);
    s->lease_ms = cfg->redis_lease_ms > 0 ? cfg->redis_lease_ms : 60000;
    s->backoff_initial_ms = cfg->redis_retry_backoff_initial_ms > 0 ? cfg->redis_retry_backoff_initial_ms : 1;
    s->backoff_max_ms = cfg->redis_retry_backoff_max_ms >= s->backoff_initial_ms
                            ? cfg->redis_retry_backoff_max_ms
                            : s->backoff_initial_ms;
    s->dead_max = cfg->redis_dead_letter_max > 0 ? cfg->redis_dead_letter_max : 10000;
    s->max_attempts = cfg->redis_max_attempts > 0 ? cfg->redis_max_attempts : 3;
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
    if (uv_timer_init(loop, &s->renew_t) != 0 || uv_timer_init(loop, &s->maint_t) != 0) {
        ov_upstash_free(s->u);
        ov_hc_close(s->hc);
        free(s);
        return OV_EIO;
    }
    s->renew_t.data = s->maint_t.data = s;
    for (int qi = 0; qi < NQ && rc == 0; qi++) {
        ov_upstash_poll_opts o = {.prefix = s->prefix,
                                  .sid = s->sid,
                                  .queue = s->queue[qi],
                                  .lease_ms = s->lease_ms,
                                  .poll_min_ms = s->poll_min_ms,
                                  .poll_max_ms = s->poll_max_ms,
                                  .register_once = 1}; /* renew_all refreshes registration */
        rc = ov_upstash_poller_start(loop, s->u, &o, qi == 0 ? on_claim0 : on_claim1, s, &s->poller[qi]);
        if (rc == 0)
            ov_upstash_poller_want(s->poller[qi], 0); /* until a worker asks */
    }
    if (rc != 0) {
        snprintf(err, errlen, "upstash: cannot start polling: %s", ov_strerror(rc));
        q_close(&s->base);
        *out = &s->base; /* handles are closing: the caller destroys after running the loop */
        return rc;
    }
    uint64_t renew_every = (uint64_t)s->lease_ms / 3 > 0 ? (uint64_t)s->lease_ms / 3 : 1;
    uv_timer_start(&s->renew_t, on_renew_timer, renew_every, renew_every);
    uv_timer_start(&s->maint_t, on_maint_timer, 0, (uint64_t)s->maint_ms);
    ov_log(OV_LOG_INFO, "queue_upstash_started",
           "sid=%s queues=%s,%s prefix=%s lease_ms=%lld max_attempts=%d poll_min_ms=%lld poll_max_ms=%lld",
           s->sid, s->queue[0], s->queue[1], s->prefix, (long long)s->lease_ms, s->max_attempts,
           (long long)s->poll_min_ms, (long long)s->poll_max_ms);
    *out = &s->base;
    return 0;
}
