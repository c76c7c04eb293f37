/* Shared job-record core of queue_redis and queue_upstash_src: stages, delivery, retry policy. */
#include "queue_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "strcopy.h"

static const char *const rec_state_names[] = {"claiming", "ready", "running", "delivering", "finishing",
                                              "retrying"};

const char *ov_qcore_state_name(int state)
{
    return state >= 0 && state <= OV_QREC_RETRYING ? rec_state_names[state] : "?";
}

/* ---------- small helpers ---------- */

static uint64_t rng_next(ov_qcore *s)
{
    /* xorshift64*, seeded from /dev/urandom: tokens only need to be unguessable by accident. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 2685821657736338717ULL;
}

void ov_qcore_rand_hex(ov_qcore *s, char *out, size_t n)
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

int ov_qcore_kind_queue(int kind)
{
    return kind == OV_KIND_SDXL ? 0 : kind == OV_KIND_WAN ? 1 : -1;
}

void ov_qcore_rec_free(ov_qcore *s, ov_qrec *r)
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

static void kick(ov_qcore *s, int qi)
{
    if (qi >= 0)
        s->tops->kick(s, qi);
}

static void ready_push(ov_qcore *s, ov_qrec *r)
{
    int k = r->job.kind;
    r->rnext = NULL;
    if (s->rtail[k])
        s->rtail[k]->rnext = r;
    else
        s->rhead[k] = r;
    s->rtail[k] = r;
    s->nready[k]++;
    r->state = OV_QREC_READY;
    kick(s, ov_qcore_kind_queue(k));
}

static ov_qrec *ready_pop(ov_qcore *s, int k)
{
    ov_qrec *r = s->rhead[k];
    if (!r)
        return NULL;
    s->rhead[k] = r->rnext;
    if (!s->rhead[k])
        s->rtail[k] = NULL;
    r->rnext = NULL;
    s->nready[k]--;
    return r;
}

static void ready_remove(ov_qcore *s, ov_qrec *r)
{
    int k = r->job.kind;
    ov_qrec **pp = &s->rhead[k], *prev = NULL;
    while (*pp && *pp != r)
        prev = *pp, pp = &(*pp)->rnext;
    if (!*pp)
        return;
    *pp = r->rnext;
    if (s->rtail[k] == r)
        s->rtail[k] = prev;
    s->nready[k]--;
}

ov_qrec *ov_qcore_rec_new(ov_qcore *s, int qi, const char *payload, size_t len, const char *cid,
                          const char *token, int attempts, int bare)
{
    ov_qrec *r = calloc(1, sizeof *r);
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
    if (!bare)
        ov_str_copy(r->spec.queue, sizeof r->spec.queue, s->queue[qi]);
    ov_str_copy(r->job.id, sizeof r->job.id, r->spec.id[0] ? r->spec.id : r->cid);
    if (!bare) {
        ov_str_copy(r->job.type, sizeof r->job.type, r->spec.type[0] ? r->spec.type : "invalid");
        r->job.kind = qi == 0 ? OV_KIND_SDXL : OV_KIND_WAN;
        r->job.dispatch_ack_us = -1;
    }
    r->state = OV_QREC_CLAIMING;
    r->next = s->all;
    if (s->all)
        s->all->prev = r;
    s->all = r;
    return r;
}

/* ---------- stages, delivery, finishing ---------- */

static int retry_or_die(ov_qcore *s, ov_qrec *r, const char *why);

/* Set up the worker-facing job for the record's current stage. 0 or <0 (logged). */
static int rec_stage_job(ov_qrec *r)
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

static void rec_start_finish(ov_qrec *r, const char *final_state, int dead_letter, const char *reason)
{
    ov_str_copy(r->final_state, sizeof r->final_state, final_state);
    r->dead_letter = dead_letter;
    ov_str_copy(r->reason, sizeof r->reason, reason ? reason : "");
    r->state = OV_QREC_FINISHING;
    r->s->tops->send(r);
}

static void on_delivered(void *ctx, int status, const char *detail);

/* Hand a terminal outcome to delivery (a failed callback when !result). */
static void rec_deliver(ov_qrec *r, const ov_msg *result, const char *error)
{
    ov_qcore *s = r->s;
    if (r->lost) {
        ov_log(OV_LOG_WARN, "job_lease_lost", "job=%s cid=%s action=drop", r->spec.id, r->cid);
        ov_qcore_rec_free(s, r);
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
    ov_str_copy(r->final_state, sizeof r->final_state, result ? "completed" : "failed");
    r->state = OV_QREC_DELIVERING;
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
    ov_qrec *r = ctx;
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

void ov_qcore_dead_entry(const ov_qrec *r, ov_buf *b)
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

void ov_qcore_claimed(ov_qrec *r)
{
    ov_qcore *s = r->s;
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

void ov_qcore_reaped(ov_qrec *r, const char *why)
{
    ov_log(OV_LOG_WARN, "job_reaped_dead", "job=%s cid=%s reason=\"%s\"", r->spec.id[0] ? r->spec.id : "-",
           r->cid, why);
    if (r->spec.id[0])
        rec_deliver(r, NULL, why);
    else
        rec_start_finish(r, "dead", 1, why);
}

void ov_qcore_op_done(ov_qrec *r, int token_mismatch)
{
    if (token_mismatch)
        ov_log(OV_LOG_DEBUG, "job_op_token_mismatch", "cid=%s op=%s", r->cid, rec_state_names[r->state]);
    else if (r->state == OV_QREC_FINISHING)
        ov_log(OV_LOG_INFO, "job_finished", "job=%s state=%s attempts=%d", r->spec.id[0] ? r->spec.id : "-",
               r->final_state, r->job.attempts);
    ov_qcore_rec_free(r->s, r);
}

void ov_qcore_lease_lost(ov_qcore *s, const char *cid)
{
    for (ov_qrec *r = s->all; r; r = r->next) {
        if (strcmp(r->cid, cid) != 0 || r->state == OV_QREC_CLAIMING)
            continue;
        ov_log(OV_LOG_WARN, "job_lease_lost", "job=%s cid=%s state=%s", r->spec.id, r->cid,
               rec_state_names[r->state]);
        r->lost = 1;
        if (r->state == OV_QREC_READY) {
            ready_remove(s, r);
            ov_qcore_rec_free(s, r);
        }
        break;
    }
}

void ov_qcore_resend_stalled(ov_qcore *s)
{
    for (ov_qrec *r = s->all; r; r = r->next)
        if (!r->op_inflight && (r->state == OV_QREC_CLAIMING || r->state == OV_QREC_FINISHING ||
                                r->state == OV_QREC_RETRYING))
            s->tops->send(r);
}

void ov_qcore_maint_log(long long promoted, long long requeued, long long orphans)
{
    if (promoted || requeued || orphans)
        ov_log(OV_LOG_NOTICE, "queue_maintenance", "retries_due=%lld leases_reaped=%lld orphans_returned=%lld",
               promoted, requeued, orphans);
}

/* Stage 0 of an enhanced job ended: apply the enhanced prompt (result meta "enhanced_prompt") or
 * go on with the original one, saying why. */
static void enhancement_done(ov_qrec *r, const ov_msg *result, const char *why)
{
    const char *text = NULL;
    if (result && result->type == OV_MSG_RESULT &&
        ov_kvlist_get_str(&result->u.result.meta, "enhanced_prompt", &text) == 0 && text && *text &&
        ov_job_spec_apply_enhanced(&r->spec, r->s->types, text) == 0) {
        ov_log(OV_LOG_INFO, "job_enhanced", "job=%s", r->spec.id);
        return;
    }
    const char *fb = NULL; /* the enhancer fell back to the original prompt and said why */
    if (!why && result && result->type == OV_MSG_RESULT)
        ov_kvlist_get_str(&result->u.result.meta, "fallback_reason", &fb);
    const char *reason = why ? why : fb && *fb ? fb : "the enhancer returned no usable enhanced_prompt";
    char esc[200];
    ov_log(OV_LOG_WARN, "job_enhancement_skipped", "job=%s reason=\"%s\"", r->spec.id,
           ov_log_escape(esc, sizeof esc, reason));
    ov_job_spec_skip_enhancement(&r->spec, reason);
}

static int64_t backoff_ms(const ov_qcore *s, int attempts)
{
    int64_t d = s->backoff_initial_ms;
    for (int i = 1; i < attempts && d < s->backoff_max_ms; i++)
        d *= 2;
    if (d > s->backoff_max_ms)
        d = s->backoff_max_ms;
    return d + (d > 4 ? rand() % (d / 4) : 0); /* up to +25 % jitter */
}

static int retry_or_die(ov_qcore *s, ov_qrec *r, const char *why)
{
    if (r->job.attempts < s->max_attempts && !r->lost) {
        r->retry_delay_ms = backoff_ms(s, r->job.attempts);
        ov_str_copy(r->reason, sizeof r->reason, why);
        r->state = OV_QREC_RETRYING;
        ov_log(OV_LOG_NOTICE, "job_retry", "job=%s attempt=%d delay_ms=%lld", r->spec.id, r->job.attempts,
               (long long)r->retry_delay_ms);
        s->tops->send(r);
        return OV_JOB_REQUEUED;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%s (after %d attempts)", why, r->job.attempts);
    rec_deliver(r, NULL, msg);
    return OV_JOB_DEAD;
}

/* ---------- ov_job_source ops ---------- */

static int q_next(ov_job_source *base, int kind, ov_job **out)
{
    ov_qcore *s = (ov_qcore *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return OV_EINVAL;
    ov_qrec *r = ready_pop(s, kind);
    int qi = ov_qcore_kind_queue(kind);
    if (!r) {
        if (qi >= 0) {
            s->want[qi] = 1;
            kick(s, qi);
        }
        return 0;
    }
    r->state = OV_QREC_RUNNING;
    if (qi >= 0) {
        s->want[qi] = 0;
        kick(s, qi);
    }
    *out = &r->job;
    return 1;
}

static void q_progress(ov_job_source *base, ov_job *job)
{
    ov_qcore *s = (ov_qcore *)base;
    ov_qrec *r = (ov_qrec *)job;
    uint64_t now = uv_now(s->loop);
    if (now - r->last_renew_ms > (uint64_t)s->lease_ms / 3)
        s->tops->renew(s);
    if (r->stage == r->spec.nstages - 1 && r->spec.id[0]) {
        double p = r->spec.nstages > 1 ? 0.1 + 0.9 * job->progress : job->progress;
        ov_delivery_progress(s->dlv, r->spec.id, r->spec.type, p);
    }
}

static void q_complete(ov_job_source *base, ov_job *job, const ov_msg *result)
{
    ov_qcore *s = (ov_qcore *)base;
    ov_qrec *r = (ov_qrec *)job;
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
    if (s->tops->log_result)
        ov_log(OV_LOG_DEBUG, "job_result", "job=%s outputs=%u", r->spec.id, result->u.result.noutputs);
    rec_deliver(r, result, NULL);
}

static int q_fail(ov_job_source *base, ov_job *job, int code, const char *message, bool retriable)
{
    ov_qcore *s = (ov_qcore *)base;
    ov_qrec *r = (ov_qrec *)job;
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
    return retry_or_die((ov_qcore *)base, (ov_qrec *)job, why);
}

static int64_t q_depth(ov_job_source *base, int kind)
{
    ov_qcore *s = (ov_qcore *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return 0;
    int qi = ov_qcore_kind_queue(kind);
    return s->nready[kind] + (qi >= 0 && s->tops->queued ? s->tops->queued(s, qi) : 0);
}

static const char *q_queue_name(ov_job_source *base, int kind)
{
    ov_qcore *s = (ov_qcore *)base;
    int qi = ov_qcore_kind_queue(kind);
    return qi >= 0 ? s->queue[qi] : kind == OV_KIND_QWEN ? "enhance" : "unknown";
}

static int q_describe(ov_job_source *base, const char *id, ov_buf *out)
{
    ov_qcore *s = (ov_qcore *)base;
    const char *transport = s->tops->describe_transport;
    ov_qrec *r = s->all;
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
    if (!transport)
        rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "phase"), rc |= ov_json_str(out, r->job.phase);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "progress"), rc |= ov_json_double(out, r->job.progress);
    if (!transport) {
        rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "dispatch_ack_us");
        rc |= r->job.dispatch_ack_us >= 0 ? ov_json_int(out, r->job.dispatch_ack_us) : ov_buf_puts(out, "null");
    }
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "queue"), rc |= ov_json_str(out, s->queue[r->qi]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "cid"), rc |= ov_json_str(out, r->cid);
    if (transport)
        rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "transport"), rc |= ov_json_str(out, transport);
    rc |= ov_buf_puts(out, "}");
    return rc ? OV_ENOMEM : 0;
}

static int q_pending(ov_job_source *base)
{
    ov_qcore *s = (ov_qcore *)base;
    int n = 0;
    for (ov_qrec *r = s->all; r; r = r->next)
        n += r->state == OV_QREC_DELIVERING || r->state == OV_QREC_FINISHING || r->state == OV_QREC_RETRYING;
    return n;
}

static void q_close(ov_job_source *base)
{
    ov_qcore *s = (ov_qcore *)base;
    if (s->closing)
        return;
    /* Claims still held (ready, running, delivering) stay leased in Redis: they are reaped
     * back onto the queue after the lease (I1, I4). */
    s->closing = 1;
    uv_timer_stop(&s->renew_t);
    uv_timer_stop(&s->maint_t);
    uv_close((uv_handle_t *)&s->renew_t, NULL);
    uv_close((uv_handle_t *)&s->maint_t, NULL);
    s->tops->close(s);
    if (s->dlv)
        ov_delivery_close(s->dlv);
    s->dlv = NULL;
}

static void q_destroy(ov_job_source *base)
{
    ov_qcore *s = (ov_qcore *)base;
    while (s->all)
        ov_qcore_rec_free(s, s->all);
    free(s); /* the transport's struct: ov_qcore is its first member */
}

static const ov_job_source_ops core_ops = {
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

int ov_qcore_init(ov_qcore *s, const ov_qcore_ops *ops, uv_loop_t *loop, const ov_config *cfg,
                  ov_delivery *dlv, char *err, size_t errlen)
{
    s->types = ov_job_types_default();
    if (cfg->jobs_types_file[0]) {
        if (ov_job_types_load(&s->own_types, cfg->jobs_types_file, err, errlen) != 0)
            return OV_ECONFIG;
        s->types = &s->own_types;
    }
    s->base.ops = &core_ops;
    s->tops = ops;
    s->loop = loop;
    s->dlv = dlv;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s->rng, sizeof s->rng, 1, f) != 1)
        s->rng = (uint64_t)uv_hrtime() ^ ((uint64_t)getpid() << 32);
    if (f)
        fclose(f);
    s->rng |= 1;
    ov_qcore_rand_hex(s, s->sid, 17);
    ov_str_copy(s->prefix, sizeof s->prefix, cfg->redis_key_prefix[0] ? cfg->redis_key_prefix : "ourvidz");
    ov_str_copy(s->queue[0], sizeof s->queue[0], cfg->redis_sdxl_queue);
    ov_str_copy(s->queue[1], sizeof s->queue[1], cfg->redis_wan_queue);
    for (int qi = 0; qi < OV_QCORE_NQ; qi++)
        snprintf(s->k_proc[qi], OV_QCORE_KEY_MAX, "%s:proc:%s:%s", s->prefix, s->sid, s->queue[qi]);
    s->lease_ms = cfg->redis_lease_ms > 0 ? cfg->redis_lease_ms : 60000;
    s->backoff_initial_ms = cfg->redis_retry_backoff_initial_ms > 0 ? cfg->redis_retry_backoff_initial_ms : 1;
    s->backoff_max_ms = cfg->redis_retry_backoff_max_ms >= s->backoff_initial_ms ? cfg->redis_retry_backoff_max_ms
                                                                                 : s->backoff_initial_ms;
    s->dead_max = cfg->redis_dead_letter_max > 0 ? cfg->redis_dead_letter_max : 10000;
    s->max_attempts = cfg->redis_max_attempts > 0 ? cfg->redis_max_attempts : 3;
    return 0;
}
